// Package postgres is the licensehooks.Store adapter for PostgreSQL
// (github.com/jackc/pgx/v5 with a pgxpool), for running any number of
// licensehooks nodes on one database.
//
// # Opening
//
// Open (or OpenWithOptions) connects, then applies the embedded migrations
// (migrations/NNNN_name.sql) in one transaction under a transaction-scoped
// advisory lock, recording each version in schema_migrations: nodes that
// start together apply every migration exactly once, and a node that dies
// half way leaves nothing applied. Options.Schema (or a single search_path
// in the URL, e.g. postgres://host/db?search_path=licensehooks) puts the
// tables in their own schema, created if missing; the tests use one schema
// per test, dropped afterwards.
//
// # Schema choices
//
//   - Times are timestamptz: microsecond precision, as the domain keeps
//     them, and read back in UTC whatever the session's time zone.
//   - An event's payload is bytea, not jsonb: jsonb would reorder keys and
//     drop duplicates and spacing, and the envelope must carry the payload
//     byte for byte as accepted. Keys, secrets and hashes are bytea too.
//   - Subscriptions and scopes are text[]: the fan-out matches a code with
//     "code = ANY (subscriptions)" inside the tenant's listeners. Headers
//     are jsonb; a nil map or slice is stored as NULL and comes back nil.
//   - Every table has a seq identity column that breaks ties between rows
//     stamped with the same time, so lists keep the order rows were written
//     in, and a repeated publish answers its deliveries in the order made.
//   - Deliveries keep their listener_id without a foreign key: a deleted
//     listener's deliveries stay in the log, cancelled. Nor do they have one
//     to their event: the check per row more than doubled the cost of a
//     fan-out, and the code keeps the rule (deliveries are made in their
//     event's transaction; purge deletes only events nothing refers to).
//     Attempts likewise: purge deletes them in the statement that deletes
//     their delivery.
//   - The partial index deliveries_due (next_attempt_at, seq) WHERE status
//     = 'pending' is what claiming reads: it holds only the backlog, however
//     long the log grows. deliveries has fillfactor 80 and no index on the
//     lease columns, so a claim updates its rows in place (HOT). A claim
//     that leaves listeners out (their lanes are full) reads
//     deliveries_listener_due (listener_id, next_attempt_at, seq) instead,
//     listener by listener, so a dead endpoint's backlog does not slow it.
//
// # Sharing the work
//
// PublishEvents writes a whole batch in one transaction of four round
// trips whatever its size (statements pipelined with pgx.Batch, rows passed
// as unnest arrays); each event stands alone (an id taken with another
// hash fails that event only), and rows go in key order so concurrent
// batches do not deadlock. With a Handoff it leases the deliveries the
// publishing node's dispatcher takes in the same INSERT (claim at insert),
// and only work left unleased sends a NOTIFY. ClaimDeliveries leases due
// rows with UPDATE ... WHERE id = ANY (ARRAY(SELECT ... FOR UPDATE SKIP
// LOCKED)): claimers on every node run at once without waiting on each
// other, and a lease that expires (its node died) makes the row claimable
// again. Leases commit without waiting for the WAL flush
// (synchronous_commit off for that transaction alone): a lease lost in a
// server crash only makes its delivery claimable again, which
// at-least-once delivery allows.
// RecordOutcomes applies a batch in one pipelined transaction guarded by
// lease_owner, so a worker that lost its lease changes nothing; it locks
// the listeners whose LastSuccessAt it moves first, in id order, so
// concurrent batches and listener updates queue instead of deadlocking.
//
// Work that becomes due (a publish, a recover, a released lease) is
// announced with NOTIFY on the channel licensehooks_work, the schema's name
// as payload. The NOTIFY is sent after the commit, by a goroutine that
// folds bursts into one, not by the writing transaction: PostgreSQL holds
// a database-wide lock from a notifying commit until its WAL flush ends,
// which would make concurrent publishers commit one fsync at a time. Each
// store LISTENs on one dedicated connection (started by the first Wakeups
// call, reconnected with backoff) and wakes its subscribers; the
// dispatcher still polls, so a lost notification delays work, never loses
// it.
//
// # Settings
//
// The pool's size is Options.MaxConns or pool_max_conns in the URL (pgx's
// default is the larger of 4 and the number of CPUs); give each node about
// as many connections as it runs concurrent claim/record loops, plus a few
// for the API. PostgreSQL's max_connections must cover every node's pool
// plus one wakeup connection per node.
package postgres
