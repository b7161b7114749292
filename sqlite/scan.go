package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"licensehooks"
	"licensehooks/internal/headerjson"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// micros stores a time: unix microseconds (UTC by definition).
func micros(t time.Time) int64 { return t.UnixMicro() }

// microsPtr stores an optional time as NULL when absent.
func microsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// jsonText encodes v for a TEXT column; nil slices and maps become empty
// JSON values, so reads never meet null.
func jsonText(v any) string {
	switch x := v.(type) {
	case []string:
		if x == nil {
			return "[]"
		}
	case map[string]string:
		if x == nil {
			return "{}"
		}
	case http.Header:
		if x == nil {
			return "{}"
		}
		return headerjson.Encode(x)
	}
	b, err := json.Marshal(v)
	if err != nil { // strings, maps of strings: cannot fail
		panic(fmt.Sprintf("sqlite: encode %T: %v", v, err))
	}
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mapErr turns driver errors into the domain's codes at the adapter's edge:
// a missing row is ENOTFOUND, a taken unique key ECONFLICT, a missing parent
// (foreign key) ENOTFOUND. what names the thing in lower case, for the
// message; errors that are already the domain's pass through.
func mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var le *licensehooks.Error
	if errors.As(err, &le) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(what)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return licensehooks.AlreadyExists(what)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: // every foreign key points at a tenant
			return licensehooks.NotFound("tenant of this " + what)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

// notFound is the ENOTFOUND of a thing named in lower case.
func notFound(what string) error { return licensehooks.NotFound(what) }

const tenantCols = `id, name, public_key, private_key, created_at, coalesce(external_id, '')`

func scanTenant(sc scanner) (*licensehooks.Tenant, error) {
	var t licensehooks.Tenant
	var created int64
	if err := sc.Scan(&t.ID, &t.Name, &t.PublicKey, &t.PrivateKey, &created, &t.ExternalID); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

const credentialCols = `client_id, tenant_id, name, scopes, secret_hash, created_at, revoked_at, sessions_ended_at`

func scanCredential(sc scanner) (*licensehooks.Credential, error) {
	var c licensehooks.Credential
	var scopes string
	var created int64
	var revoked, ended sql.NullInt64
	if err := sc.Scan(&c.ClientID, &c.TenantID, &c.Name, &scopes, &c.SecretHash, &created, &revoked, &ended); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return nil, fmt.Errorf("credential %s scopes: %w", c.ClientID, err)
	}
	c.CreatedAt, c.RevokedAt, c.SessionsEndedAt = fromMicros(created), fromNullMicros(revoked), fromNullMicros(ended)
	return &c, nil
}

const listenerCols = `id, tenant_id, uri, subscriptions, name, description, enabled, disabled_reason,
	disabled_at, headers, secret, prev_secret, prev_secret_expires_at, last_success_at, created_at, updated_at, paused, ordering, rate_limit`

func scanListener(sc scanner) (*licensehooks.Listener, error) {
	var l licensehooks.Listener
	var subs, headers string
	var disabledAt, prevExp, lastSuccess sql.NullInt64
	var created, updated int64
	err := sc.Scan(&l.ID, &l.TenantID, &l.URI, &subs, &l.Name, &l.Description, &l.Enabled, &l.DisabledReason,
		&disabledAt, &headers, &l.Secret, &l.PrevSecret, &prevExp, &lastSuccess, &created, &updated, &l.Paused, &l.Ordering, &l.RateLimit)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(subs), &l.Subscriptions); err != nil {
		return nil, fmt.Errorf("listener %s subscriptions: %w", l.ID, err)
	}
	if err := json.Unmarshal([]byte(headers), &l.Headers); err != nil {
		return nil, fmt.Errorf("listener %s headers: %w", l.ID, err)
	}
	if len(l.Headers) == 0 {
		l.Headers = nil
	}
	l.DisabledAt, l.PrevSecretExpiresAt = fromNullMicros(disabledAt), fromNullMicros(prevExp)
	l.LastSuccessAt = fromNullMicros(lastSuccess)
	l.CreatedAt, l.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &l, nil
}

const eventCols = `tenant_id, id, code, resource_id, payload, occurred_at, hash, created_at`

func scanEvent(sc scanner) (*licensehooks.Event, error) {
	var e licensehooks.Event
	var payload []byte
	var occurred, created int64
	if err := sc.Scan(&e.TenantID, &e.ID, &e.Code, &e.ResourceID, &payload, &occurred, &e.Hash, &created); err != nil {
		return nil, err
	}
	e.Payload = payload
	e.OccurredAt, e.CreatedAt = fromMicros(occurred), fromMicros(created)
	return &e, nil
}

const deliveryCols = `id, tenant_id, event_id, event_code, listener_id, status, once, attempts, tries,
	next_attempt_at, lease_owner, lease_expires_at, last_status_code, last_error_kind, last_error,
	last_attempt_at, created_at, updated_at, line, line_seq`

func scanDelivery(sc scanner) (*licensehooks.Delivery, error) {
	var d licensehooks.Delivery
	var next, lease, created, updated int64
	var last sql.NullInt64
	err := sc.Scan(&d.ID, &d.TenantID, &d.EventID, &d.EventCode, &d.ListenerID, &d.Status, &d.Once,
		&d.Attempts, &d.Tries, &next, &d.LeaseOwner, &lease, &d.LastStatusCode, &d.LastErrorKind,
		&d.LastError, &last, &created, &updated, &d.Line, &d.LineSeq)
	if err != nil {
		return nil, err
	}
	d.NextAttemptAt = fromMicros(next)
	if lease != 0 {
		t := fromMicros(lease)
		d.LeaseExpiresAt = &t
	}
	d.LastAttemptAt = fromNullMicros(last)
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &d, nil
}

const attemptCols = `id, delivery_id, tenant_id, listener_id, number, manual, started_at, duration_ns, uri,
	request_headers, status_code, response_headers, response_body, error_kind, error`

func scanAttempt(sc scanner) (*licensehooks.Attempt, error) {
	var a licensehooks.Attempt
	var started, dur int64
	var reqH, respH string
	err := sc.Scan(&a.ID, &a.DeliveryID, &a.TenantID, &a.ListenerID, &a.Number, &a.Manual, &started, &dur,
		&a.URI, &reqH, &a.StatusCode, &respH, &a.ResponseBody, &a.ErrorKind, &a.Error)
	if err != nil {
		return nil, err
	}
	a.StartedAt, a.Duration = fromMicros(started), time.Duration(dur)
	if err := json.Unmarshal([]byte(reqH), &a.RequestHeaders); err != nil {
		return nil, fmt.Errorf("attempt %s request headers: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(respH), &a.ResponseHeaders); err != nil {
		return nil, fmt.Errorf("attempt %s response headers: %w", a.ID, err)
	}
	return &a, nil
}

// collect scans every row with scan.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// page normalises a page: a zero size is DefaultPageSize, numbers count
// from 1. The API validates sizes; internal callers may ask for more.
func page(p licensehooks.Page) (limit, offset int) {
	if p.Size <= 0 {
		p.Size = licensehooks.DefaultPageSize
	}
	p.Number = max(p.Number, 1)
	return p.Size, p.Offset()
}
