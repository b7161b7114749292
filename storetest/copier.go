package storetest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"licensehooks"
)

// copierTests check licensehooks.Copier. Each opens the stores it needs: a
// copy goes from one store to another.
var copierTests = map[string]func(t *testing.T, open func(t *testing.T) licensehooks.Store){
	"RoundTrip":         testCopyRoundTrip,
	"PagingSharedIDs":   testDumpPaging,
	"LoadSkipsExisting": testLoadSkipsExisting,
	"KeepsLineOrder":    testCopyKeepsLineOrder,
}

// runCopier runs copierTests. A store that is no Copier skips them, except
// in CI (LICENSEHOOKS_CI=1), where every adapter must be one.
func runCopier(t *testing.T, open func(t *testing.T) licensehooks.Store) {
	for _, name := range slices.Sorted(maps.Keys(copierTests)) {
		test := copierTests[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// openCopier opens a store that Run-style cleanup closes, and returns it
// with its Copier.
func openCopier(t *testing.T, open func(t *testing.T) licensehooks.Store) (*Fixture, licensehooks.Copier) {
	t.Helper()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	c, ok := s.(licensehooks.Copier)
	if !ok {
		if os.Getenv("LICENSEHOOKS_CI") == "1" {
			t.Fatalf("%T does not implement licensehooks.Copier, which CI requires of every store", s)
		}
		t.Skipf("%T does not implement licensehooks.Copier", s)
	}
	return &Fixture{T: t, S: s, Ctx: t.Context()}, c
}

// testCopyRoundTrip fills a store through the ordinary methods, copies it
// as migrate-store does, and checks that the copy holds the same rows, field
// for field, and behaves the same; a second copy adds nothing.
func testCopyRoundTrip(t *testing.T, open func(t *testing.T) licensehooks.Store) {
	src, _ := openCopier(t, open)
	dst, _ := openCopier(t, open)
	Populate(src)
	copyStore(t, src.Ctx, src.S, dst.S, 3, false)
	CompareStores(t, src.Ctx, src.S, dst.S)
	copyStore(t, src.Ctx, src.S, dst.S, 2, true)
	CompareStores(t, src.Ctx, src.S, dst.S)

	// Both stores hand out the same work: schedules and leases came along.
	at := Base.Add(10 * time.Hour)
	want := claimIDs(src.Claim("after-copy", at, 100))
	if got := claimIDs(dst.Claim("after-copy", at, 100)); len(want) == 0 || !sameIDs(got, want) {
		t.Errorf("the copy claims %v, the source %v", got, want)
	}
}

// copyStore copies src into dst the way `licensehooks migrate-store` does:
// tenants, credentials and listeners through the ordinary methods, the rest
// through Copier in pages of limit. again says every row is already there:
// each create must then answer ECONFLICT.
func copyStore(t *testing.T, ctx context.Context, src, dst licensehooks.Store, limit int, again bool) {
	t.Helper()
	created := func(err error, what string) {
		t.Helper()
		if again {
			wantCode(t, err, licensehooks.ECONFLICT, what+" of an id copied before")
		} else {
			must(t, err, what)
		}
	}
	tenants, err := src.ListTenants(ctx)
	must(t, err, "ListTenants")
	for _, tn := range tenants {
		created(dst.CreateTenant(ctx, tn), "CreateTenant")
		for _, l := range allListeners(t, ctx, src, tn.ID) {
			created(dst.CreateListener(ctx, l), "CreateListener")
		}
	}
	creds, err := src.ListCredentials(ctx, "")
	must(t, err, "ListCredentials")
	for _, c := range creds {
		created(dst.CreateCredential(ctx, c), "CreateCredential")
	}
	sc, dc := src.(licensehooks.Copier), dst.(licensehooks.Copier)
	copyRows(t, ctx, sc.DumpEvents, dc.LoadEvents, func(e *licensehooks.Event) string { return e.ID }, limit)
	copyRows(t, ctx, sc.DumpDeliveries, dc.LoadDeliveries, func(d *licensehooks.Delivery) string { return d.ID }, limit)
	copyRows(t, ctx, sc.DumpAttempts, dc.LoadAttempts, func(a *licensehooks.Attempt) string { return a.ID }, limit)
}

type dumpFunc[T any] func(ctx context.Context, after string, limit int) ([]T, error)

func copyRows[T any](t *testing.T, ctx context.Context, dump dumpFunc[T], load func(context.Context, []T) error, id func(T) string, limit int) {
	t.Helper()
	for after := ""; ; {
		rows, err := dump(ctx, after, limit)
		must(t, err, "Dump")
		if len(rows) == 0 {
			return
		}
		must(t, load(ctx, rows), "Load")
		after = id(rows[len(rows)-1])
	}
}

// dumpAll pages through a dump with limit and checks the paging rules: no
// row twice (key gives a row's identity), no page larger than limit but for
// rows sharing the page's last id, and progress on every page.
func dumpAll[T any](t *testing.T, ctx context.Context, dump dumpFunc[T], id, key func(T) string, limit int) map[string]T {
	t.Helper()
	out := map[string]T{}
	for after := ""; ; {
		rows, err := dump(ctx, after, limit)
		must(t, err, "Dump")
		if len(rows) == 0 {
			return out
		}
		last := id(rows[len(rows)-1])
		for i, r := range rows {
			if id(r) == after {
				t.Fatalf("a page after %q returned that id again", after)
			}
			if i >= limit && id(r) != last {
				t.Errorf("a page of limit %d has %d rows, and row %d (%s) does not share the last id %s", limit, len(rows), i, id(r), last)
			}
			if _, dup := out[key(r)]; dup {
				t.Errorf("row %s dumped twice", key(r))
			}
			out[key(r)] = r
		}
		after = last
	}
}

// allListeners lists every listener of a tenant, page by page.
func allListeners(t *testing.T, ctx context.Context, s licensehooks.Store, tenantID string) []*licensehooks.Listener {
	t.Helper()
	var out []*licensehooks.Listener
	for n := 1; ; n++ {
		ls, total, err := s.ListListeners(ctx, licensehooks.ListenerFilter{TenantID: tenantID,
			Page: licensehooks.Page{Number: n, Size: licensehooks.MaxPageSize}})
		must(t, err, "ListListeners")
		out = append(out, ls...)
		if len(out) >= total || len(ls) == 0 {
			return out
		}
	}
}

// Populate fills a store, through the ordinary methods, with a row of every
// shape a store keeps: two tenants, operator, tenant and revoked
// credentials, listeners with every optional field, one disabled by the
// service and one deleted, events of both tenants sharing an id, a Test-style
// delivery, and deliveries succeeded, failed then recovered, retrying, with a
// manual attempt, cancelled and leased.
func Populate(f *Fixture) {
	f.T.Helper()
	ctx := f.Ctx
	tA, tB := f.Tenant(), f.Tenant()
	populateCredentials(f, tA.ID)
	l1 := f.Listener(tA.ID, []string{codeA, codeB}, func(l *licensehooks.Listener) {
		l.Description = "every field"
		l.Headers = map[string]string{"X-Env": "prod", "X-Team": "licensing"}
		l.PrevSecret = []byte("old-sealed-secret")
		l.PrevSecretExpiresAt = ptr(Base.Add(24 * time.Hour))
	})
	l2 := f.Listener(tA.ID, []string{codeA})
	l3 := f.Listener(tA.ID, []string{codeA})
	l4 := f.Listener(tA.ID, []string{codeA})
	f.Listener(tA.ID, []string{codeC}, func(l *licensehooks.Listener) { l.Enabled = false })
	f.Listener(tB.ID, []string{codeA})

	e1, _ := f.Publish(tA.ID, codeA, Base)
	e2, _ := f.Publish(tA.ID, codeB, Base.Add(time.Second))
	shared := f.Event(tA.ID, codeA, Base.Add(2*time.Second))
	other := *shared
	other.TenantID, other.Hash = tB.ID, []byte("another tenant's hash")
	f.PublishParams(licensehooks.PublishParams{Event: shared}, licensehooks.PublishParams{Event: &other})
	f.PublishParams(licensehooks.PublishParams{Event: f.Event(tA.ID, licensehooks.TestEventCode, Base.Add(3*time.Second)),
		ListenerID: l2.ID, Once: true, NotBefore: Base.Add(time.Minute)})

	f.Finish(tA.ID, f.deliveryOf(tA.ID, e1.ID, l1.ID), licensehooks.StatusSucceeded, Base.Add(10*time.Second))
	failed := f.deliveryOf(tA.ID, e1.ID, l2.ID)
	f.Finish(tA.ID, failed, licensehooks.StatusFailed, Base.Add(11*time.Second))
	f.manualAttempt(tA.ID, failed, Base.Add(12*time.Second))
	f.Finish(tA.ID, f.deliveryOf(tA.ID, e2.ID, l1.ID), licensehooks.StatusPending, Base.Add(13*time.Second))
	_, err := f.S.RecoverDeliveries(ctx, licensehooks.RecoverParams{TenantID: tA.ID, ListenerID: l2.ID,
		Since: Base, Now: Base.Add(time.Hour)})
	must(f.T, err, "RecoverDeliveries")
	must(f.T, f.S.DisableListener(ctx, tA.ID, l3.ID, "410 Gone", Base.Add(2*time.Hour)), "DisableListener")
	must(f.T, f.S.DeleteListener(ctx, tA.ID, l4.ID), "DeleteListener")
	_, err = f.S.ClaimDelivery(ctx, licensehooks.ClaimOneParams{TenantID: tB.ID,
		DeliveryID: f.deliveryOf(tB.ID, other.ID, ""), Owner: "holder", Now: Base.Add(3 * time.Hour), Lease: time.Hour})
	must(f.T, err, "ClaimDelivery")
}

func populateCredentials(f *Fixture, tenantID string) {
	for i, c := range []*licensehooks.Credential{
		{TenantID: "", Name: "operator", Scopes: licensehooks.AllScopes},
		{TenantID: tenantID, Name: "admin", Scopes: []string{licensehooks.ScopeWebhooksAdmin}},
		{TenantID: tenantID, Name: "revoked", Scopes: []string{licensehooks.ScopeEventsPublish}},
	} {
		c.ClientID = licensehooks.NewID(licensehooks.PrefixCredential)
		c.SecretHash = []byte(fmt.Sprintf("hash-of-secret-%d", i))
		c.CreatedAt = Base.Add(time.Duration(i) * time.Second)
		must(f.T, f.S.CreateCredential(f.Ctx, c), "CreateCredential")
		if c.Name == "revoked" {
			must(f.T, f.S.RevokeCredential(f.Ctx, c.ClientID, Base.Add(time.Hour)), "RevokeCredential")
		}
		if c.Name == "admin" {
			must(f.T, f.S.EndSessions(f.Ctx, c.ClientID, Base.Add(2*time.Hour)), "EndSessions")
		}
	}
}

// deliveryOf returns the id of the delivery of an event to a listener (any
// listener when listenerID is "").
func (f *Fixture) deliveryOf(tenantID, eventID, listenerID string) string {
	f.T.Helper()
	ds, _, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tenantID, EventID: eventID,
		ListenerID: listenerID, Page: licensehooks.Page{Number: 1, Size: 10}})
	must(f.T, err, "ListDeliveries")
	if len(ds) != 1 {
		f.T.Fatalf("event %s has %d deliveries to listener %q, want 1", eventID, len(ds), listenerID)
	}
	return ds[0].ID
}

// manualAttempt records a failed manual attempt (a resend), which keeps the
// delivery's status and schedule.
func (f *Fixture) manualAttempt(tenantID, id string, at time.Time) {
	f.T.Helper()
	c, err := f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{
		TenantID: tenantID, DeliveryID: id, Owner: "resender", Now: at, Lease: time.Minute,
	})
	must(f.T, err, "ClaimDelivery")
	a := f.Attempt(c.Delivery, at, 0)
	a.Manual, a.ErrorKind, a.Error = true, licensehooks.KindTimeout, "no answer within 15s"
	a.RequestHeaders.Add("X-Repeated", "one")
	a.RequestHeaders.Add("X-Repeated", "two")
	must(f.T, f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{{Attempt: a, Owner: "resender"}}), "RecordOutcomes")
}

// CompareStores fails t unless got holds exactly the rows of want, field
// for field: tenants, credentials, listeners, events, deliveries (leases
// and counters included) and attempts, each delivery's attempts in the same
// order. Both stores must implement licensehooks.Copier.
func CompareStores(t *testing.T, ctx context.Context, want, got licensehooks.Store) {
	t.Helper()
	wantTenants, err := want.ListTenants(ctx)
	must(t, err, "ListTenants")
	gotTenants, err := got.ListTenants(ctx)
	must(t, err, "ListTenants")
	compareRows(t, "tenant", wantTenants, gotTenants, func(x *licensehooks.Tenant) string { return x.ID }, checkTenant)
	for _, tn := range wantTenants {
		compareRows(t, "listener", allListeners(t, ctx, want, tn.ID), allListeners(t, ctx, got, tn.ID),
			func(x *licensehooks.Listener) string { return x.ID }, checkListener)
	}
	wantCreds, err := want.ListCredentials(ctx, "")
	must(t, err, "ListCredentials")
	gotCreds, err := got.ListCredentials(ctx, "")
	must(t, err, "ListCredentials")
	compareRows(t, "credential", wantCreds, gotCreds, func(x *licensehooks.Credential) string { return x.ClientID }, checkCredential)

	wc, gc := want.(licensehooks.Copier), got.(licensehooks.Copier)
	eventID := func(x *licensehooks.Event) string { return x.ID }
	eventKey := func(x *licensehooks.Event) string { return x.TenantID + "/" + x.ID }
	compareMaps(t, "event", dumpAll(t, ctx, wc.DumpEvents, eventID, eventKey, 5),
		dumpAll(t, ctx, gc.DumpEvents, eventID, eventKey, 5), checkEvent)
	deliveryID := func(x *licensehooks.Delivery) string { return x.ID }
	wantDs := dumpAll(t, ctx, wc.DumpDeliveries, deliveryID, deliveryID, 5)
	compareMaps(t, "delivery", wantDs, dumpAll(t, ctx, gc.DumpDeliveries, deliveryID, deliveryID, 5), checkDelivery)
	attemptID := func(x *licensehooks.Attempt) string { return x.ID }
	compareMaps(t, "attempt", dumpAll(t, ctx, wc.DumpAttempts, attemptID, attemptID, 5),
		dumpAll(t, ctx, gc.DumpAttempts, attemptID, attemptID, 5), checkAttempt)
	for _, d := range wantDs {
		wa, err := want.ListAttempts(ctx, d.TenantID, d.ID)
		must(t, err, "ListAttempts")
		ga, err := got.ListAttempts(ctx, d.TenantID, d.ID)
		must(t, err, "ListAttempts of the copy")
		if len(wa) != len(ga) {
			t.Errorf("delivery %s has %d attempts in the copy, want %d", d.ID, len(ga), len(wa))
			continue
		}
		for i := range wa {
			checkAttempt(t, ga[i], wa[i])
		}
	}
}

// compareRows compares two lists as sets keyed by key.
func compareRows[T any](t *testing.T, what string, want, got []T, key func(T) string, check func(*testing.T, T, T)) {
	t.Helper()
	index := func(rows []T) map[string]T {
		m := make(map[string]T, len(rows))
		for _, r := range rows {
			m[key(r)] = r
		}
		return m
	}
	compareMaps(t, what, index(want), index(got), check)
}

func compareMaps[T any](t *testing.T, what string, want, got map[string]T, check func(*testing.T, T, T)) {
	t.Helper()
	if len(want) == 0 {
		t.Errorf("no %s to compare", what)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s %s is missing from the copy", what, k)
			continue
		}
		check(t, g, w)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("the copy has %s %s, which the source does not", what, k)
		}
	}
}

func checkDelivery(t *testing.T, got, want *licensehooks.Delivery) {
	t.Helper()
	same := got.ID == want.ID && got.TenantID == want.TenantID && got.EventID == want.EventID &&
		got.EventCode == want.EventCode && got.ListenerID == want.ListenerID && got.Status == want.Status &&
		got.Once == want.Once && got.Attempts == want.Attempts && got.Tries == want.Tries &&
		timeEq(got.NextAttemptAt, want.NextAttemptAt) && got.LeaseOwner == want.LeaseOwner &&
		timePtrEq(got.LeaseExpiresAt, want.LeaseExpiresAt) && got.LastStatusCode == want.LastStatusCode &&
		got.LastErrorKind == want.LastErrorKind && got.LastError == want.LastError &&
		timePtrEq(got.LastAttemptAt, want.LastAttemptAt) && timeEq(got.CreatedAt, want.CreatedAt) &&
		timeEq(got.UpdatedAt, want.UpdatedAt)
	if !same {
		t.Errorf("delivery:\n got %+v\nwant %+v", got, want)
	}
}

// testDumpPaging dumps events whose ids repeat across tenants, with page
// sizes smaller and larger than those groups, and checks every row comes
// once.
func testDumpPaging(t *testing.T, open func(t *testing.T) licensehooks.Store) {
	f, c := openCopier(t, open)
	var tenants []string
	for range 3 {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		tenants = append(tenants, tn.ID)
	}
	events := 0
	for i, tn := range tenants {
		for j := range 4 {
			e := f.Event(tn, codeA, Base.Add(time.Duration(i*10+j)*time.Second))
			if j < 3 {
				e.ID = fmt.Sprintf("shared-%d", j) // the same ids in every tenant
			}
			res := f.PublishParams(licensehooks.PublishParams{Event: e})
			f.Finish(tn, res[0].DeliveryIDs[0], licensehooks.StatusSucceeded, e.CreatedAt.Add(time.Second))
			events++
		}
	}
	eventID := func(x *licensehooks.Event) string { return x.ID }
	eventKey := func(x *licensehooks.Event) string { return x.TenantID + "/" + x.ID }
	deliveryID := func(x *licensehooks.Delivery) string { return x.ID }
	attemptID := func(x *licensehooks.Attempt) string { return x.ID }
	for _, limit := range []int{1, 2, 4, 1000} {
		if n := len(dumpAll(t, f.Ctx, c.DumpEvents, eventID, eventKey, limit)); n != events {
			t.Errorf("events dumped in pages of %d: %d, want %d", limit, n, events)
		}
		if n := len(dumpAll(t, f.Ctx, c.DumpDeliveries, deliveryID, deliveryID, limit)); n != events {
			t.Errorf("deliveries dumped in pages of %d: %d, want %d", limit, n, events)
		}
		if n := len(dumpAll(t, f.Ctx, c.DumpAttempts, attemptID, attemptID, limit)); n != events {
			t.Errorf("attempts dumped in pages of %d: %d, want %d", limit, n, events)
		}
	}
	if es, err := c.DumpEvents(f.Ctx, "", 0); err != nil || len(es) != 0 {
		t.Errorf("DumpEvents with limit 0: %d rows, %v", len(es), err)
	}
}

// testLoadSkipsExisting checks that loads insert rows as given, without
// fan-out, and leave rows whose id exists as they are.
func testLoadSkipsExisting(t *testing.T, open func(t *testing.T) licensehooks.Store) {
	src, _ := openCopier(t, open)
	dst, dc := openCopier(t, open)
	tn := src.Tenant()
	l := src.Listener(tn.ID, []string{codeA})
	e, res := src.Publish(tn.ID, codeA, Base)
	a := src.Finish(tn.ID, res.DeliveryIDs[0], licensehooks.StatusSucceeded, Base.Add(time.Second))
	d := src.Delivery(tn.ID, res.DeliveryIDs[0])
	must(t, dst.S.CreateTenant(dst.Ctx, tn), "CreateTenant")
	must(t, dst.S.CreateListener(dst.Ctx, l), "CreateListener")
	ctx := dst.Ctx

	must(t, dc.LoadEvents(ctx, []*licensehooks.Event{e}), "LoadEvents")
	if _, total, err := dst.S.ListDeliveries(ctx, licensehooks.DeliveryFilter{TenantID: tn.ID}); err != nil || total != 0 {
		t.Errorf("a loaded event was fanned out: %d deliveries, %v", total, err)
	}
	changedE, newE := *e, src.Event(tn.ID, codeA, Base.Add(time.Minute))
	changedE.Payload = []byte(`{"changed":true}`)
	must(t, dc.LoadEvents(ctx, []*licensehooks.Event{&changedE, newE, newE}), "LoadEvents again")
	for _, want := range []*licensehooks.Event{e, newE} {
		got, err := dst.S.GetEvent(ctx, tn.ID, want.ID)
		must(t, err, "GetEvent")
		checkEvent(t, got, want)
	}

	changedD := *d
	changedD.Status, changedD.Attempts = licensehooks.StatusFailed, 9
	must(t, dc.LoadDeliveries(ctx, []*licensehooks.Delivery{d}), "LoadDeliveries")
	must(t, dc.LoadDeliveries(ctx, []*licensehooks.Delivery{&changedD, d}), "LoadDeliveries again")
	checkDelivery(t, dst.Delivery(tn.ID, d.ID), d)

	changedA := *a
	changedA.StatusCode = 418
	must(t, dc.LoadAttempts(ctx, []*licensehooks.Attempt{a, a}), "LoadAttempts")
	must(t, dc.LoadAttempts(ctx, []*licensehooks.Attempt{&changedA}), "LoadAttempts again")
	atts, err := dst.S.ListAttempts(ctx, tn.ID, d.ID)
	must(t, err, "ListAttempts")
	if len(atts) != 1 {
		t.Fatalf("%d attempts after loading one three times, want 1", len(atts))
	}
	checkAttempt(t, atts[0], a)
}
