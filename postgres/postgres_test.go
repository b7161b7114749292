package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"licensehooks"
)

var base = time.Date(2024, 3, 4, 5, 6, 7, 891011000, time.UTC)

// fixture is a small bundle for the adapter's own tests: a store, a tenant
// and one enabled listener subscribed to "a.code".
type fixture struct {
	t        *testing.T
	s        *Store
	ctx      context.Context
	tenant   string
	listener *licensehooks.Listener
}

func setup(t *testing.T) *fixture {
	t.Helper()
	t.Parallel()
	f := &fixture{t: t, s: openTest(t), ctx: t.Context(), tenant: licensehooks.NewID(licensehooks.PrefixTenant)}
	f.listener = f.addListener("a.code")
	return f
}

func (f *fixture) addListener(subs ...string) *licensehooks.Listener {
	f.t.Helper()
	if err := ensureTenant(f.ctx, f.s, f.tenant); err != nil {
		f.t.Fatalf("CreateTenant: %v", err)
	}
	l := &licensehooks.Listener{
		ID: licensehooks.NewID(licensehooks.PrefixListener), TenantID: f.tenant, URI: "https://example.com/h",
		Subscriptions: subs, Enabled: true, Secret: []byte("s"), CreatedAt: base, UpdatedAt: base,
	}
	if err := f.s.CreateListener(f.ctx, l); err != nil {
		f.t.Fatalf("CreateListener: %v", err)
	}
	return l
}

// ensureTenant creates the tenant id unless it exists (a listener's tenant
// must exist).
func ensureTenant(ctx context.Context, s *Store, id string) error {
	err := s.CreateTenant(ctx, &licensehooks.Tenant{ID: id, Name: id, CreatedAt: base})
	if licensehooks.ErrorCode(err) == licensehooks.ECONFLICT {
		return nil
	}
	return err
}

func (f *fixture) event(payload string) *licensehooks.Event {
	return &licensehooks.Event{
		ID: licensehooks.NewID(licensehooks.PrefixEvent), TenantID: f.tenant, Code: "a.code",
		ResourceID: "r", Payload: []byte(payload), OccurredAt: base, Hash: []byte(payload), CreatedAt: base,
	}
}

func (f *fixture) publish(ps ...licensehooks.PublishParams) []licensehooks.PublishResult {
	f.t.Helper()
	res, err := f.s.PublishEvents(f.ctx, ps)
	if err != nil {
		f.t.Fatalf("PublishEvents: %v", err)
	}
	return res
}

func TestOpenRejectsBadSchema(t *testing.T) {
	t.Parallel()
	for _, schema := range []string{"a-b", "1abc", `x"; DROP TABLE y; --`, strings.Repeat("a", 64)} {
		_, err := OpenWithOptions(t.Context(), testURL(t), Options{Schema: schema})
		if err == nil || !strings.Contains(err.Error(), "plain identifier") {
			t.Errorf("schema %q: err %v, want a refusal", schema, err)
		}
	}
}

// TestMigrateConcurrently starts several stores on one new schema at once,
// as nodes starting together do: the advisory lock lets each migration run
// once, and reopening applies nothing.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() {
			stores[i], errs[i] = OpenWithOptions(t.Context(), testURL(t), Options{Schema: schema, MaxConns: 2})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	again := openSchema(t, schema)
	var n int
	if err := again.pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
}

// TestSearchPathFromURL checks that a schema named in the URL is used (and
// created) when the options name none.
func TestSearchPathFromURL(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	url := testURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s, err := Open(t.Context(), url+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.schema != schema {
		t.Errorf("store schema %q, want %q", s.schema, schema)
	}
}

// TestMustExist checks that MustExist refuses a schema that holds no
// store, without creating the schema, and opens one that does.
func TestMustExist(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ctx := t.Context()
	if _, err := OpenWithOptions(ctx, testURL(t), Options{Schema: schema, MustExist: true}); !errors.Is(err, ErrNoStore) {
		t.Fatalf("open an absent store: %v, want ErrNoStore", err)
	}
	conn, err := pgx.Connect(ctx, testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("schema %s after a refused open: count %d, err %v; want it absent", schema, n, err)
	}
	openSchema(t, schema)
	s, err := OpenWithOptions(ctx, testURL(t), Options{Schema: schema, MustExist: true})
	if err != nil {
		t.Fatalf("open an existing store: %v", err)
	}
	s.Close()
}

// TestTimesComeBackUTC reads times through a session in another time zone.
func TestTimesComeBackUTC(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	url := testURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s, err := OpenWithOptions(t.Context(), url+sep+"timezone=America/New_York", Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tn := &licensehooks.Tenant{ID: "t_tz", Name: "tz", CreatedAt: base.In(time.FixedZone("X", 3600))}
	if err := s.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTenant(t.Context(), "t_tz")
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt != base.Truncate(time.Microsecond) {
		t.Errorf("CreatedAt %v (%v), want %v in UTC", got.CreatedAt, got.CreatedAt.Location(), base)
	}
}

// TestPayloadBytesKept checks the payload comes back byte for byte: key
// order, spacing and escapes that jsonb would rewrite.
func TestPayloadBytesKept(t *testing.T) {
	f := setup(t)
	payloads := []string{
		`{"z":1,"a":{"y":[3,2,1],"b":null}}`,
		`{"dup":1,"dup":2}`,
		`{"s":"\u00e9\u2028<&>","n":1.50}`,
		`{ "spaced" : true }`,
	}
	for _, p := range payloads {
		e := f.event(p)
		f.publish(licensehooks.PublishParams{Event: e})
		got, err := f.s.GetEvent(f.ctx, f.tenant, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Payload) != p {
			t.Errorf("payload %s came back as %s", p, got.Payload)
		}
	}
}

// TestPublishRejectsUnstorableText checks an event PostgreSQL text cannot
// hold fails alone, without failing its batch. (A nil event fails the
// whole call, on every store: storetest's Errors/PublishNilEvent.)
func TestPublishRejectsUnstorableText(t *testing.T) {
	f := setup(t)
	nul, bad, good := f.event(`{}`), f.event(`{}`), f.event(`{}`)
	nul.ResourceID = "a\x00b"
	bad.Code = "\xff"
	res := f.publish(licensehooks.PublishParams{Event: nul}, licensehooks.PublishParams{Event: bad},
		licensehooks.PublishParams{Event: good})
	for i, code := range []string{licensehooks.EINVALID, licensehooks.EINVALID, ""} {
		if got := licensehooks.ErrorCode(res[i].Err); got != code {
			t.Errorf("result %d: code %q, want %q (%v)", i, got, code, res[i].Err)
		}
	}
	if len(res[2].DeliveryIDs) != 1 {
		t.Errorf("the valid event made %d deliveries, want 1", len(res[2].DeliveryIDs))
	}
}

// TestDuplicateKeepsDeliveryOrder checks a repeated publish answers the
// first deliveries in the order they were made.
func TestDuplicateKeepsDeliveryOrder(t *testing.T) {
	f := setup(t)
	for range 5 {
		f.addListener("a.code")
	}
	e := f.event(`{"k":1}`)
	first := f.publish(licensehooks.PublishParams{Event: e})[0]
	again := *e
	dup := f.publish(licensehooks.PublishParams{Event: &again})[0]
	if !dup.Duplicate || strings.Join(dup.DeliveryIDs, ",") != strings.Join(first.DeliveryIDs, ",") {
		t.Errorf("duplicate %v, want %v in the same order", dup.DeliveryIDs, first.DeliveryIDs)
	}
}

// TestClaimCancelsOrphans covers the race the fan-out can lose: a delivery
// made for a listener deleted meanwhile is cancelled, never handed out.
func TestClaimCancelsOrphans(t *testing.T) {
	f := setup(t)
	other := f.addListener("a.code")
	res := f.publish(licensehooks.PublishParams{Event: f.event(`{}`)})[0]
	if _, err := f.s.pool.Exec(f.ctx, `DELETE FROM listeners WHERE id = $1`, other.ID); err != nil {
		t.Fatal(err)
	}
	cs, err := f.s.ClaimDeliveries(f.ctx, licensehooks.ClaimParams{Owner: "w", Now: base, Lease: time.Minute, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Listener.ID != f.listener.ID {
		t.Fatalf("claimed %d, want only the live listener's delivery", len(cs))
	}
	for _, id := range res.DeliveryIDs {
		d, err := f.s.GetDelivery(f.ctx, f.tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.ListenerID == other.ID && (d.Status != licensehooks.StatusCancelled || d.LeaseOwner != "") {
			t.Errorf("orphaned delivery: %+v", d)
		}
	}
	_, err = f.s.ClaimDelivery(f.ctx, licensehooks.ClaimOneParams{TenantID: f.tenant, DeliveryID: res.DeliveryIDs[1], Owner: "m", Now: base, Lease: time.Minute})
	if licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("ClaimDelivery of an orphan: %v, want ENOTFOUND", err)
	}
}

// TestOutcomesForOneDeliveryInOneCall checks two outcomes of one delivery
// in a call apply as if recorded one by one: the first wins, and the second
// finds the lease gone.
func TestOutcomesForOneDeliveryInOneCall(t *testing.T) {
	f := setup(t)
	f.publish(licensehooks.PublishParams{Event: f.event(`{}`)})
	cs, err := f.s.ClaimDeliveries(f.ctx, licensehooks.ClaimParams{Owner: "w", Now: base, Lease: time.Minute, Limit: 10})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim: %d, %v", len(cs), err)
	}
	d := cs[0].Delivery
	ok := &licensehooks.Attempt{DeliveryID: d.ID, Number: 1, StartedAt: base, StatusCode: 200}
	late := &licensehooks.Attempt{DeliveryID: d.ID, Number: 1, StartedAt: base, StatusCode: 500, ErrorKind: licensehooks.KindHTTPStatus}
	err = f.s.RecordOutcomes(f.ctx, []licensehooks.Outcome{
		{Attempt: ok, Owner: "w", Status: licensehooks.StatusSucceeded, CountsAsTry: true},
		{Attempt: late, Owner: "w", Status: licensehooks.StatusFailed, CountsAsTry: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.s.GetDelivery(f.ctx, f.tenant, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	atts, err := f.s.ListAttempts(f.ctx, f.tenant, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != licensehooks.StatusSucceeded || got.Attempts != 1 || len(atts) != 1 || atts[0].ID != ok.ID {
		t.Errorf("delivery %+v with %d attempts, want succeeded by the first outcome alone", got, len(atts))
	}
}

func TestErrorsMapped(t *testing.T) {
	f := setup(t)
	l := *f.listener
	err := f.s.CreateListener(f.ctx, &l)
	var e *licensehooks.Error
	if !errors.As(err, &e) || e.Code != licensehooks.ECONFLICT {
		t.Errorf("taken id: %v", err)
	}
	if _, err := f.s.GetEvent(f.ctx, f.tenant, "nope"); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("missing event: %v", err)
	}
	if _, err := f.s.RecoverDeliveries(f.ctx, licensehooks.RecoverParams{TenantID: f.tenant, ListenerID: "whl_x", Now: base}); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("recover of a missing listener: %v", err)
	}
}

// TestAsyncCommitIsLocal checks the claim's batch runs as one transaction
// whose synchronous_commit is off, and that the setting ends with it.
func TestAsyncCommitIsLocal(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	conn, err := s.pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var inBatch, after string
	batch := &pgx.Batch{}
	batch.Queue(asyncCommit)
	batch.Queue(`SELECT current_setting('synchronous_commit')`).QueryRow(func(row pgx.Row) error { return row.Scan(&inBatch) })
	if err := conn.SendBatch(t.Context(), batch).Close(); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(t.Context(), `SELECT current_setting('synchronous_commit')`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if inBatch != "off" || after != "on" {
		t.Errorf("synchronous_commit %q in the batch and %q after, want off then on", inBatch, after)
	}
}

// TestConcurrentWorkersNoDeadlock runs workers that claim and record
// successes for deliveries spread over a few listeners, while listeners are
// disabled and updated, as two nodes under load would: no statement may
// fail (a deadlock would), and every delivery ends succeeded or cancelled.
func TestConcurrentWorkersNoDeadlock(t *testing.T) {
	f := setup(t)
	var ls []*licensehooks.Listener
	for range 3 {
		ls = append(ls, f.addListener("a.code"))
	}
	var ps []licensehooks.PublishParams
	for i := range 100 {
		e := f.event(`{}`)
		e.CreatedAt = base.Add(time.Duration(i) * time.Millisecond)
		ps = append(ps, licensehooks.PublishParams{Event: e})
	}
	f.publish(ps...)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 4 {
		wg.Go(func() {
			owner := fmt.Sprintf("w%d", w)
			for {
				cs, err := f.s.ClaimDeliveries(f.ctx, licensehooks.ClaimParams{Owner: owner, Now: base.Add(time.Second), Lease: time.Hour, Limit: 7})
				if err != nil || len(cs) == 0 {
					errs <- err
					return
				}
				var os []licensehooks.Outcome
				for _, c := range cs {
					os = append(os, licensehooks.Outcome{Owner: owner, Status: licensehooks.StatusSucceeded, CountsAsTry: true,
						Attempt: &licensehooks.Attempt{DeliveryID: c.Delivery.ID, Number: 1, StartedAt: base.Add(time.Second), StatusCode: 200}})
				}
				if err := f.s.RecordOutcomes(f.ctx, os); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		upd := *ls[0]
		upd.Enabled = false
		errs <- f.s.UpdateListener(f.ctx, &upd)
		errs <- f.s.DisableListener(f.ctx, f.tenant, ls[1].ID, "gone", base)
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent work: %v", err)
		}
	}
	list, _, err := f.s.ListDeliveries(f.ctx, licensehooks.DeliveryFilter{TenantID: f.tenant, Status: licensehooks.StatusPending})
	if err != nil || len(list) != 0 {
		t.Errorf("%d deliveries left pending (%v)", len(list), err)
	}
}

// publishTo publishes n events to listener alone, in batches.
func (f *fixture) publishTo(listener string, n int) {
	f.t.Helper()
	for n > 0 {
		ps := make([]licensehooks.PublishParams, min(n, 1000))
		for i := range ps {
			ps[i] = licensehooks.PublishParams{Event: f.event(`{}`), ListenerID: listener}
		}
		f.publish(ps...)
		n -= len(ps)
	}
}

// A claim that leaves out a listener with a large due backlog still finds
// the other listeners' work, which is due after that backlog.
func TestClaimExcludingBacklog(t *testing.T) {
	f := setup(t)
	dead, live := f.listener, f.addListener("a.code")
	f.publishTo(dead.ID, 5000)
	f.publishTo(live.ID, 10)
	cs, err := f.s.ClaimDeliveries(f.ctx, licensehooks.ClaimParams{
		Owner: "w", Now: base.Add(time.Hour), Lease: time.Minute, Limit: 100,
		ExcludeListeners: []string{dead.ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 10 {
		t.Fatalf("claimed %d deliveries, want the live listener's 10", len(cs))
	}
	for i, c := range cs {
		if c.Delivery.ListenerID != live.ID || c.Delivery.LeaseOwner != "w" {
			t.Fatalf("claim %d: listener %s owner %q", i, c.Delivery.ListenerID, c.Delivery.LeaseOwner)
		}
		if i > 0 && c.Delivery.NextAttemptAt.Before(cs[i-1].Delivery.NextAttemptAt) {
			t.Fatalf("claims out of due order at %d", i)
		}
	}
	again, err := f.s.ClaimDeliveries(f.ctx, licensehooks.ClaimParams{
		Owner: "w2", Now: base.Add(time.Hour), Lease: time.Minute, Limit: 100,
		ExcludeListeners: []string{dead.ID},
	})
	if err != nil || len(again) != 0 {
		t.Fatalf("second claim: %d deliveries, %v; want none (all leased)", len(again), err)
	}
}

// TestListenerTenantKeyOnOldData applies the migration that adds the
// listeners' foreign key to a database that holds a listener whose tenant
// is gone (made by an older version, which had no key): the migration
// succeeds and keeps the row, and new listeners are checked.
func TestListenerTenantKeyOnOldData(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	s := openSchema(t, schema)
	ctx := t.Context()
	for _, q := range []string{
		`ALTER TABLE listeners DROP CONSTRAINT listeners_tenant_fk`,
		`DELETE FROM schema_migrations WHERE name = '0005_listener_tenant_fk.sql'`,
		`INSERT INTO listeners (id, tenant_id, uri, subscriptions, name, description, enabled,
			disabled_reason, headers, created_at, updated_at)
			VALUES ('whl_orphan', 't_gone', 'https://example.com/h', '{a.code}', '', '', true, '', '{}', now(), now())`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	s = openSchema(t, schema) // applies the migration again
	if _, err := s.GetListener(ctx, "t_gone", "whl_orphan"); err != nil {
		t.Errorf("the old listener after the migration: %v", err)
	}
	var valid bool
	if err := s.pool.QueryRow(ctx, `SELECT convalidated FROM pg_constraint WHERE conname = 'listeners_tenant_fk'
		AND conrelid = 'listeners'::regclass`).Scan(&valid); err != nil || valid {
		t.Errorf("key validated = %v (%v), want added NOT VALID beside the old row", valid, err)
	}
	l := &licensehooks.Listener{ID: "whl_new", TenantID: "t_gone", URI: "https://example.com/h",
		Subscriptions: []string{"a.code"}, Enabled: true, CreatedAt: base, UpdatedAt: base}
	if err := s.CreateListener(ctx, l); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
		t.Errorf("a new listener for the missing tenant: %v, want not found", err)
	}
}

// TestCheckSchema: Check fails, naming the migration, when the database
// holds one this binary does not know.
func TestCheckSchema(t *testing.T) {
	f := setup(t)
	if err := f.s.Check(f.ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if _, err := f.s.pool.Exec(f.ctx, `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Check(f.ctx); err == nil || !strings.Contains(err.Error(), "9999") {
		t.Fatalf("Check with a migration from a newer binary = %v, want it named", err)
	}
}
