package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"licensehooks"
)

var publishTests = map[string]func(t *testing.T, f *Fixture){
	"FanOut": func(t *testing.T, f *Fixture) {
		tn, other := f.Tenant(), f.Tenant()
		l1 := f.Listener(tn.ID, []string{codeA})
		f.Listener(tn.ID, []string{codeA}, func(l *licensehooks.Listener) { l.Enabled = false })
		f.Listener(tn.ID, []string{codeB})
		l4 := f.Listener(tn.ID, []string{codeB, codeA})
		f.Listener(other.ID, []string{codeA})

		e, res := f.Publish(tn.ID, codeA, Base)
		if res.EventID != e.ID || res.Duplicate || len(res.DeliveryIDs) != 2 {
			t.Fatalf("result %+v, want event %s with 2 deliveries", res, e.ID)
		}
		got, err := f.S.GetEvent(f.Ctx, tn.ID, e.ID)
		must(t, err, "GetEvent")
		checkEvent(t, got, e)

		listeners := map[string]bool{}
		for _, id := range res.DeliveryIDs {
			d := f.Delivery(tn.ID, id)
			listeners[d.ListenerID] = true
			if d.TenantID != tn.ID || d.EventID != e.ID || d.EventCode != codeA ||
				d.Status != licensehooks.StatusPending || d.Once || d.Attempts != 0 || d.Tries != 0 ||
				!d.NextAttemptAt.Equal(e.CreatedAt) || !d.CreatedAt.Equal(e.CreatedAt) ||
				d.LeaseOwner != "" || d.LeaseExpiresAt != nil || d.LastAttemptAt != nil ||
				d.LastStatusCode != 0 || d.LastErrorKind != "" || d.LastError != "" {
				t.Errorf("new delivery: %+v", d)
			}
		}
		if !listeners[l1.ID] || !listeners[l4.ID] {
			t.Errorf("deliveries went to %v, want %s and %s", listeners, l1.ID, l4.ID)
		}
		list, total, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: other.ID, Page: licensehooks.Page{Number: 1, Size: 10}})
		must(t, err, "ListDeliveries")
		if total != 0 || len(list) != 0 {
			t.Errorf("another tenant's listener got %d deliveries", total)
		}
	},
	"NoListeners": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		e, res := f.Publish(tn.ID, codeA, Base)
		if len(res.DeliveryIDs) != 0 {
			t.Errorf("deliveries %v without listeners", res.DeliveryIDs)
		}
		_, err := f.S.GetEvent(f.Ctx, tn.ID, e.ID)
		must(t, err, "GetEvent")
	},
	"TargetedOnce": func(t *testing.T, f *Fixture) {
		tn, other := f.Tenant(), f.Tenant()
		f.Listener(tn.ID, []string{licensehooks.TestEventCode})
		target := f.Listener(tn.ID, []string{codeA}) // not subscribed: targeting ignores subscriptions
		e := f.Event(tn.ID, licensehooks.TestEventCode, Base)
		notBefore := Base.Add(time.Minute)
		res := f.PublishParams(licensehooks.PublishParams{Event: e, ListenerID: target.ID, Once: true, NotBefore: notBefore})
		if len(res[0].DeliveryIDs) != 1 {
			t.Fatalf("targeted publish made %d deliveries, want 1", len(res[0].DeliveryIDs))
		}
		d := f.Delivery(tn.ID, res[0].DeliveryIDs[0])
		if d.ListenerID != target.ID || !d.Once || !d.NextAttemptAt.Equal(notBefore) {
			t.Errorf("targeted delivery %+v, want listener %s, Once, due %v", d, target.ID, notBefore)
		}
		if cs := f.Claim("w", Base, 10); len(cs) != 0 {
			t.Errorf("a delivery held until NotBefore was claimed early")
		}
		if cs := f.Claim("w", notBefore, 10); len(cs) != 1 {
			t.Errorf("a delivery due at NotBefore was not claimed then")
		}

		// Another tenant's listener cannot be targeted; nothing is stored.
		stray := f.Event(other.ID, licensehooks.TestEventCode, Base)
		rs, err := f.S.PublishEvents(f.Ctx, []licensehooks.PublishParams{{Event: stray, ListenerID: target.ID, Once: true}})
		must(t, err, "PublishEvents")
		wantCode(t, rs[0].Err, licensehooks.ENOTFOUND, "publish targeting another tenant's listener")
		_, err = f.S.GetEvent(f.Ctx, other.ID, stray.ID)
		wantCode(t, err, licensehooks.ENOTFOUND, "GetEvent of a refused event")
	},
	"NotBefore": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		e := f.Event(tn.ID, codeA, Base)
		res := f.PublishParams(licensehooks.PublishParams{Event: e, NotBefore: Base.Add(time.Hour)})
		if d := f.Delivery(tn.ID, res[0].DeliveryIDs[0]); !d.NextAttemptAt.Equal(Base.Add(time.Hour)) {
			t.Errorf("NextAttemptAt %v, want NotBefore", d.NextAttemptAt)
		}
	},
	"Idempotency": testIdempotency,
	"SameIDInOneBatch": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		e := f.Event(tn.ID, codeA, Base)
		again := *e
		res := f.PublishParams(licensehooks.PublishParams{Event: e}, licensehooks.PublishParams{Event: &again})
		if res[0].Duplicate || !res[1].Duplicate || len(res[0].DeliveryIDs) != 1 || !sameIDs(res[0].DeliveryIDs, res[1].DeliveryIDs) {
			t.Errorf("same event twice in a batch: %+v", res)
		}
	},
	"SameIDOtherTenant": func(t *testing.T, f *Fixture) {
		tn, other := f.Tenant(), f.Tenant()
		e := f.Event(tn.ID, codeA, Base)
		e.ID = "evt-caller-chosen"
		f.PublishParams(licensehooks.PublishParams{Event: e})
		e2 := *e
		e2.TenantID = other.ID
		e2.Hash = []byte("another")
		res := f.PublishParams(licensehooks.PublishParams{Event: &e2})
		if res[0].Duplicate {
			t.Errorf("an event id of another tenant was taken for a duplicate")
		}
		got, err := f.S.GetEvent(f.Ctx, other.ID, e.ID)
		must(t, err, "GetEvent")
		checkEvent(t, got, &e2)
		got, err = f.S.GetEvent(f.Ctx, tn.ID, e.ID)
		must(t, err, "GetEvent")
		checkEvent(t, got, e)
	},
	"ExcludeListener":      testExcludeListener,
	"Handoff":              testHandoff,
	"ConcurrentPublishers": testConcurrentPublishers,
	"RacingSameID":         testRacingSameID,
}

// testHandoff checks claim at insert: what a publish hands off is leased to
// the handoff's owner, returned with its event and listener, and kept from
// other workers; the rest is left for them. Duplicates, the Test action and
// deliveries due later are never handed off. An adapter may hand off
// nothing, but never what Take refused.
func testHandoff(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	taken := f.Listener(tn.ID, []string{codeA}, func(l *licensehooks.Listener) { l.Headers = map[string]string{"X-A": "1"} })
	refused := f.Listener(tn.ID, []string{codeA})
	asked := map[string]int{}
	var calls int
	var claims []*licensehooks.Claim
	h := &licensehooks.Handoff{Owner: "w1", Lease: time.Minute, Take: func(id string) bool {
		asked[id]++
		return id == taken.ID
	}, Claimed: func(cs []*licensehooks.Claim) {
		calls++
		claims = append(claims, cs...)
	}}
	events := []*licensehooks.Event{f.Event(tn.ID, codeA, Base), f.Event(tn.ID, codeA, Base.Add(time.Second))}
	res := f.PublishParams(licensehooks.PublishParams{Event: events[0], Handoff: h}, licensehooks.PublishParams{Event: events[1], Handoff: h})
	if calls != 1 || len(claims) > 2 {
		t.Fatalf("Claimed called %d times with %d claims for one call of 2 events; want once, at most 2", calls, len(claims))
	}
	for id := range asked {
		if id != taken.ID && id != refused.ID {
			t.Errorf("Take asked about %s, not a listener of the event", id)
		}
	}
	handed := map[string]bool{}
	var all []string
	for i, r := range res {
		if len(r.DeliveryIDs) != 2 {
			t.Fatalf("event %d: %d deliveries, want 2", i, len(r.DeliveryIDs))
		}
		all = append(all, r.DeliveryIDs...)
		for _, c := range claims {
			if c.Event == nil || c.Event.ID != events[i].ID {
				continue
			}
			d := c.Delivery
			if d.ListenerID != taken.ID || !slices.Contains(r.DeliveryIDs, d.ID) {
				t.Errorf("event %d handed off delivery %s to listener %s; Take admitted only %s", i, d.ID, d.ListenerID, taken.ID)
			}
			checkEvent(t, c.Event, events[i])
			checkListener(t, c.Listener, taken)
			stored := f.Delivery(tn.ID, d.ID)
			if d.LeaseOwner != "w1" || d.LeaseExpiresAt == nil || d.Status != licensehooks.StatusPending ||
				!d.NextAttemptAt.Equal(events[i].CreatedAt) || d.Tries != 0 || d.Attempts != 0 {
				t.Errorf("handed-off delivery %+v", d)
			}
			if stored.LeaseOwner != "w1" || !timePtrEq(stored.LeaseExpiresAt, d.LeaseExpiresAt) {
				t.Errorf("stored lease %q until %v, the claim says %q until %v", stored.LeaseOwner, stored.LeaseExpiresAt, d.LeaseOwner, d.LeaseExpiresAt)
			}
			handed[d.ID] = true
		}
	}
	var rest []string
	for _, id := range all {
		if !handed[id] {
			rest = append(rest, id)
		}
	}
	// The leases run on the store's clock, later than Base: another worker
	// gets exactly what was not handed off.
	if got := claimIDs(f.Claim("w2", Base.Add(time.Hour), 10)); !sameIDs(got, rest) {
		t.Errorf("another worker claimed %v, want what was not handed off %v", got, rest)
	}

	clear(asked)
	calls, claims = 0, nil
	again := *events[0]
	dup := f.PublishParams(licensehooks.PublishParams{Event: &again, Handoff: h})
	later := f.Event(tn.ID, codeA, Base)
	held := f.PublishParams(licensehooks.PublishParams{Event: later, Handoff: h, NotBefore: Base.Add(time.Hour)})
	probe := f.Event(tn.ID, licensehooks.TestEventCode, Base)
	test := f.PublishParams(licensehooks.PublishParams{Event: probe, ListenerID: taken.ID, Once: true, Handoff: h})
	if !dup[0].Duplicate || len(claims) != 0 || len(asked) != 0 {
		t.Errorf("a duplicate, a delivery due later or a targeted one was handed off (Take asked %v, claims %d)", asked, len(claims))
	}
	if len(held[0].DeliveryIDs) != 2 || len(test[0].DeliveryIDs) != 1 {
		t.Errorf("deliveries made: %d due later, %d targeted; want 2 and 1", len(held[0].DeliveryIDs), len(test[0].DeliveryIDs))
	}
}

// testIdempotency checks that a repeated event answers the first result, a
// conflicting one fails alone, and the rest of its batch commits.
func testIdempotency(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	f.Listener(tn.ID, []string{codeA})
	f.Listener(tn.ID, []string{codeA})
	e1, first := f.Publish(tn.ID, codeA, Base)

	same := *e1
	same.CreatedAt = Base.Add(time.Hour)
	fresh := f.Event(tn.ID, codeA, Base.Add(time.Hour))
	clash := *e1
	clash.Hash = []byte("another body")
	clash.Payload = []byte(`{"other":true}`)
	res, err := f.S.PublishEvents(f.Ctx, []licensehooks.PublishParams{{Event: &same}, {Event: fresh}, {Event: &clash}})
	must(t, err, "PublishEvents")
	if len(res) != 3 {
		t.Fatalf("%d results for 3 params", len(res))
	}
	if res[0].Err != nil || !res[0].Duplicate || res[0].EventID != e1.ID || !sameIDs(res[0].DeliveryIDs, first.DeliveryIDs) {
		t.Errorf("repeat: %+v, want Duplicate with deliveries %v", res[0], first.DeliveryIDs)
	}
	if res[1].Err != nil || res[1].Duplicate || len(res[1].DeliveryIDs) != 2 {
		t.Errorf("fresh event beside a conflict: %+v", res[1])
	}
	wantCode(t, res[2].Err, licensehooks.ECONFLICT, "same event id, another hash")

	got, err := f.S.GetEvent(f.Ctx, tn.ID, e1.ID)
	must(t, err, "GetEvent")
	checkEvent(t, got, e1) // neither the repeat nor the conflict changed it
	_, err = f.S.GetEvent(f.Ctx, tn.ID, fresh.ID)
	must(t, err, "GetEvent of the fresh event")
	_, total, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tn.ID, Page: licensehooks.Page{Number: 1, Size: 10}})
	must(t, err, "ListDeliveries")
	if total != 4 {
		t.Errorf("%d deliveries, want 4 (2 per accepted event)", total)
	}
}

// testConcurrentPublishers publishes from many goroutines at once (the
// adapter may merge them into shared commits): every event gets its
// deliveries, none is lost.
func testConcurrentPublishers(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	for range 3 {
		f.Listener(tn.ID, []string{codeA})
	}
	const goroutines, each = 8, 10
	events := make([][]*licensehooks.Event, goroutines)
	for g := range events {
		for i := range each {
			events[g] = append(events[g], f.Event(tn.ID, codeA, Base.Add(time.Duration(g*each+i)*time.Millisecond)))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for _, e := range events[g] {
				res, err := f.S.PublishEvents(f.Ctx, []licensehooks.PublishParams{{Event: e}})
				if err == nil {
					err = res[0].Err
				}
				if err == nil && len(res[0].DeliveryIDs) != 3 {
					err = fmt.Errorf("%d deliveries, want 3", len(res[0].DeliveryIDs))
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent publish: %v", err)
	}
	_, total, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tn.ID, Page: licensehooks.Page{Number: 1, Size: 1}})
	must(t, err, "ListDeliveries")
	if want := 3 * goroutines * each; total != want {
		t.Errorf("%d deliveries, want %d", total, want)
	}
}

// testRacingSameID races publishers of one event id: exactly one makes the
// deliveries, the others answer Duplicate with the same ids.
func testRacingSameID(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	for range 3 {
		f.Listener(tn.ID, []string{codeA})
	}
	shared := f.Event(tn.ID, codeA, Base)
	const racers = 8
	results := make([]licensehooks.PublishResult, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			cp := *shared
			res, err := f.S.PublishEvents(f.Ctx, []licensehooks.PublishParams{{Event: &cp}})
			if err == nil {
				results[i], err = res[0], res[0].Err
			}
			errs[i] = err
		})
	}
	wg.Wait()
	winners := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Errorf("racing publisher: %v", errs[i])
			continue
		}
		if !r.Duplicate {
			winners++
		}
		if len(r.DeliveryIDs) != 3 || !sameIDs(r.DeliveryIDs, results[0].DeliveryIDs) {
			t.Errorf("racing publishers saw different deliveries: %v and %v", results[0].DeliveryIDs, r.DeliveryIDs)
		}
	}
	if winners != 1 {
		t.Errorf("%d publishers of one id were not duplicates, want 1", winners)
	}
}
