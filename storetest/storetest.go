// Package storetest is the conformance suite every licensehooks.Store
// adapter passes. An adapter's test calls Run with a function that opens a
// fresh, empty store; each subtest opens its own, so subtests run in
// parallel and never see each other's rows.
//
// The suite pins down the behaviour the Store interface leaves to words:
// which rows a claim takes and in which order, what an outcome changes, what
// recover and purge touch, and how tenants are kept apart. Times are fixed
// (never the wall clock) and compared with time.Equal, at microsecond
// precision, so an adapter may return them in any location.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"licensehooks"
)

// Base is the fixed time the suite's data is dated from: in the past, so
// anything an adapter dates with the wall clock is later than every time the
// suite chooses, and with microseconds, to check they survive.
var Base = time.Date(2024, 3, 4, 5, 6, 7, 891011000, time.UTC)

// Run runs the conformance suite. open returns a new, empty store for one
// subtest; Run closes it when the subtest ends (open may register its own
// cleanup, which runs after the store is closed). The Copier subtests open
// two stores each, and run when the store implements licensehooks.Copier
// (always in CI, LICENSEHOOKS_CI=1).
func Run(t *testing.T, open func(t *testing.T) licensehooks.Store) {
	groups := []struct {
		name  string
		tests map[string]func(t *testing.T, f *Fixture)
	}{
		{"Tenants", tenantTests},
		{"TenantOps", tenantOpTests},
		{"Credentials", credentialTests},
		{"Listeners", listenerTests},
		{"Publish", publishTests},
		{"Claim", claimTests},
		{"Outcomes", outcomeTests},
		{"Log", logTests},
		{"Maintenance", maintenanceTests},
		{"Errors", errorTests},
		{"Health", healthTests},
		{"Pause", pauseTests},
		{"Ordering", orderingTests},
		{"Schedules", scheduleTests},
	}
	t.Run("Copier", func(t *testing.T) {
		t.Parallel()
		runCopier(t, open)
	})
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range slices.Sorted(maps.Keys(g.tests)) {
				test := g.tests[name]
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					test(t, &Fixture{T: t, S: s, Ctx: t.Context()})
				})
			}
		})
	}
}

// Fixture is one subtest's store with helpers that build data and fail the
// test on any unexpected error.
type Fixture struct {
	T   *testing.T
	S   licensehooks.Store
	Ctx context.Context
	seq int
}

// Tenant creates a tenant created at Base.
func (f *Fixture) Tenant() *licensehooks.Tenant {
	f.T.Helper()
	f.seq++
	tn := &licensehooks.Tenant{
		ID:         licensehooks.NewID(licensehooks.PrefixTenant),
		Name:       fmt.Sprintf("tenant %d", f.seq),
		PublicKey:  []byte{1, 2, 3, byte(f.seq)},
		PrivateKey: []byte{4, 5, 6, byte(f.seq)},
		CreatedAt:  Base,
	}
	must(f.T, f.S.CreateTenant(f.Ctx, tn), "CreateTenant")
	return tn
}

// Listener creates an enabled listener of tenantID subscribed to subs,
// created at Base plus a step per listener (so creation order is strict);
// mods adjust it before it is stored.
func (f *Fixture) Listener(tenantID string, subs []string, mods ...func(*licensehooks.Listener)) *licensehooks.Listener {
	f.T.Helper()
	f.seq++
	at := Base.Add(time.Duration(f.seq) * time.Millisecond)
	l := &licensehooks.Listener{
		ID:            licensehooks.NewID(licensehooks.PrefixListener),
		TenantID:      tenantID,
		URI:           fmt.Sprintf("https://example.com/hooks/%d", f.seq),
		Subscriptions: subs,
		Name:          fmt.Sprintf("listener %d", f.seq),
		Enabled:       true,
		Secret:        []byte(fmt.Sprintf("sealed-secret-%d", f.seq)),
		CreatedAt:     at,
		UpdatedAt:     at,
	}
	for _, m := range mods {
		m(l)
	}
	must(f.T, f.S.CreateListener(f.Ctx, l), "CreateListener")
	return l
}

// Event returns an unsaved event of tenantID with code, created at.
func (f *Fixture) Event(tenantID, code string, at time.Time) *licensehooks.Event {
	f.seq++
	return &licensehooks.Event{
		ID:         licensehooks.NewID(licensehooks.PrefixEvent),
		TenantID:   tenantID,
		Code:       code,
		ResourceID: fmt.Sprintf("res-%d", f.seq),
		Payload:    []byte(fmt.Sprintf(`{"n":%d,"s":"x\u00e9"}`, f.seq)),
		OccurredAt: at.Add(-time.Second),
		Hash:       []byte(fmt.Sprintf("hash-%d", f.seq)),
		CreatedAt:  at,
	}
}

// Publish publishes one event of tenantID with code at and returns its
// result, failing on any error.
func (f *Fixture) Publish(tenantID, code string, at time.Time) (*licensehooks.Event, licensehooks.PublishResult) {
	f.T.Helper()
	e := f.Event(tenantID, code, at)
	res := f.PublishParams(licensehooks.PublishParams{Event: e})
	return e, res[0]
}

// PublishParams publishes and fails on a call error or any per-event error.
func (f *Fixture) PublishParams(ps ...licensehooks.PublishParams) []licensehooks.PublishResult {
	f.T.Helper()
	res, err := f.S.PublishEvents(f.Ctx, ps)
	must(f.T, err, "PublishEvents")
	if len(res) != len(ps) {
		f.T.Fatalf("PublishEvents returned %d results for %d params", len(res), len(ps))
	}
	for i, r := range res {
		if r.Err != nil {
			f.T.Fatalf("PublishEvents result %d: %v", i, r.Err)
		}
	}
	return res
}

// Delivery reads a delivery, failing if it is missing.
func (f *Fixture) Delivery(tenantID, id string) *licensehooks.Delivery {
	f.T.Helper()
	d, err := f.S.GetDelivery(f.Ctx, tenantID, id)
	must(f.T, err, "GetDelivery")
	return d
}

// Claim claims with the given parameters, failing on error.
func (f *Fixture) Claim(owner string, now time.Time, limit int, exclude ...string) []*licensehooks.Claim {
	f.T.Helper()
	cs, err := f.S.ClaimDeliveries(f.Ctx, licensehooks.ClaimParams{
		Owner: owner, Now: now, Lease: time.Minute, Limit: limit, ExcludeListeners: exclude,
	})
	must(f.T, err, "ClaimDeliveries")
	return cs
}

// Attempt returns an attempt of d started at, answered with code (an error
// kind is set for a non-2xx code).
func (f *Fixture) Attempt(d *licensehooks.Delivery, at time.Time, code int) *licensehooks.Attempt {
	a := &licensehooks.Attempt{
		ID:             licensehooks.NewID(licensehooks.PrefixAttempt),
		DeliveryID:     d.ID,
		TenantID:       d.TenantID,
		ListenerID:     d.ListenerID,
		Number:         d.Attempts + 1,
		StartedAt:      at,
		Duration:       12 * time.Millisecond,
		URI:            "https://example.com/hook",
		RequestHeaders: http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {d.EventID}},
		StatusCode:     code,
	}
	if code < 200 || code >= 300 {
		a.ErrorKind = licensehooks.KindHTTPStatus
		a.Error = fmt.Sprintf("HTTP %d", code)
	}
	if code != 0 {
		a.ResponseHeaders = http.Header{"X-Answer": {"a", "b"}}
		a.ResponseBody = []byte("answer body")
	}
	return a
}

// Finish leases delivery id with ClaimDelivery at `at` and records one
// automatic attempt ending it in status (StatusSucceeded, StatusFailed, or
// StatusPending to retry an hour later).
func (f *Fixture) Finish(tenantID, id, status string, at time.Time) *licensehooks.Attempt {
	f.T.Helper()
	c, err := f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{
		TenantID: tenantID, DeliveryID: id, Owner: "finisher", Now: at, Lease: time.Minute,
	})
	must(f.T, err, "ClaimDelivery")
	code := 500
	if status == licensehooks.StatusSucceeded {
		code = 200
	}
	a := f.Attempt(c.Delivery, at, code)
	o := licensehooks.Outcome{Attempt: a, Owner: "finisher", Status: status, CountsAsTry: true, Line: c.Delivery.Line}
	if status == licensehooks.StatusPending {
		o.NextAttemptAt = at.Add(time.Hour)
	}
	must(f.T, f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{o}), "RecordOutcomes")
	return a
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantCode fails unless err is a *licensehooks.Error with code.
func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	var e *licensehooks.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("%s: got error %v, want code %q", what, err, code)
	}
}

func timeEq(a, b time.Time) bool { return a.Equal(b) }

func timePtrEq(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func ptr(t time.Time) *time.Time { return &t }

// headersEq compares headers, an empty header equal to nil.
func headersEq(a, b http.Header) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// sortedIDs returns a sorted copy of ids.
func sortedIDs(ids []string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	return out
}

func sameIDs(a, b []string) bool { return slices.Equal(sortedIDs(a), sortedIDs(b)) }

func checkTenant(t *testing.T, got, want *licensehooks.Tenant) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.ExternalID != want.ExternalID || !bytes.Equal(got.PublicKey, want.PublicKey) ||
		!bytes.Equal(got.PrivateKey, want.PrivateKey) || !timeEq(got.CreatedAt, want.CreatedAt) {
		t.Errorf("tenant:\n got %+v\nwant %+v", got, want)
	}
}

func checkCredential(t *testing.T, got, want *licensehooks.Credential) {
	t.Helper()
	if got.ClientID != want.ClientID || got.TenantID != want.TenantID || got.Name != want.Name ||
		!slices.Equal(got.Scopes, want.Scopes) || !bytes.Equal(got.SecretHash, want.SecretHash) ||
		!timeEq(got.CreatedAt, want.CreatedAt) || !timePtrEq(got.RevokedAt, want.RevokedAt) ||
		!timePtrEq(got.SessionsEndedAt, want.SessionsEndedAt) {
		t.Errorf("credential:\n got %+v\nwant %+v", got, want)
	}
}

func checkListener(t *testing.T, got, want *licensehooks.Listener) {
	t.Helper()
	same := got.ID == want.ID && got.TenantID == want.TenantID && got.URI == want.URI &&
		slices.Equal(got.Subscriptions, want.Subscriptions) && got.Name == want.Name &&
		got.Description == want.Description && got.Enabled == want.Enabled &&
		got.DisabledReason == want.DisabledReason && timePtrEq(got.DisabledAt, want.DisabledAt) &&
		maps.Equal(got.Headers, want.Headers) && bytes.Equal(got.Secret, want.Secret) &&
		bytes.Equal(got.PrevSecret, want.PrevSecret) &&
		timePtrEq(got.PrevSecretExpiresAt, want.PrevSecretExpiresAt) &&
		timePtrEq(got.LastSuccessAt, want.LastSuccessAt) &&
		timeEq(got.CreatedAt, want.CreatedAt) && timeEq(got.UpdatedAt, want.UpdatedAt) && got.Paused == want.Paused
	if !same {
		t.Errorf("listener:\n got %+v\nwant %+v", got, want)
	}
}

func checkEvent(t *testing.T, got, want *licensehooks.Event) {
	t.Helper()
	if got.ID != want.ID || got.TenantID != want.TenantID || got.Code != want.Code ||
		got.ResourceID != want.ResourceID || !bytes.Equal(got.Payload, want.Payload) ||
		!timeEq(got.OccurredAt, want.OccurredAt) || !bytes.Equal(got.Hash, want.Hash) ||
		!timeEq(got.CreatedAt, want.CreatedAt) {
		t.Errorf("event:\n got %+v\nwant %+v", got, want)
	}
}

func checkAttempt(t *testing.T, got, want *licensehooks.Attempt) {
	t.Helper()
	same := got.ID == want.ID && got.DeliveryID == want.DeliveryID && got.TenantID == want.TenantID &&
		got.ListenerID == want.ListenerID && got.Number == want.Number && got.Manual == want.Manual &&
		timeEq(got.StartedAt, want.StartedAt) && got.Duration == want.Duration && got.URI == want.URI &&
		headersEq(got.RequestHeaders, want.RequestHeaders) && got.StatusCode == want.StatusCode &&
		headersEq(got.ResponseHeaders, want.ResponseHeaders) && bytes.Equal(got.ResponseBody, want.ResponseBody) &&
		got.ErrorKind == want.ErrorKind && got.Error == want.Error
	if !same {
		t.Errorf("attempt:\n got %+v\nwant %+v", got, want)
	}
}

// deliveryIDs returns the ids of the claims' deliveries, in order.
func claimIDs(cs []*licensehooks.Claim) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Delivery.ID
	}
	return ids
}
