package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"licensehooks"
)

var claimTests = map[string]func(t *testing.T, f *Fixture){
	"DueOldestFirst": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeA}, func(l *licensehooks.Listener) {
			l.Headers = map[string]string{"X-Tenant": "one"}
		})
		// Published newest first, so insertion order is not due order.
		var ids []string
		var events []*licensehooks.Event
		for i := 4; i >= 0; i-- {
			e, res := f.Publish(tn.ID, codeA, Base.Add(time.Duration(i)*time.Second))
			ids = append([]string{res.DeliveryIDs[0]}, ids...)
			events = append([]*licensehooks.Event{e}, events...)
		}
		f.Publish(tn.ID, codeA, Base.Add(time.Hour)) // not due yet
		now := Base.Add(10 * time.Second)

		cs := f.Claim("w1", now, 3)
		if got := claimIDs(cs); !slices.Equal(got, ids[:3]) {
			t.Fatalf("claimed %v, want the three oldest due %v", got, ids[:3])
		}
		for i, c := range cs {
			d := c.Delivery
			if d.LeaseOwner != "w1" || d.LeaseExpiresAt == nil || !d.LeaseExpiresAt.Equal(now.Add(time.Minute)) {
				t.Errorf("claimed delivery lease %q until %v, want w1 until %v", d.LeaseOwner, d.LeaseExpiresAt, now.Add(time.Minute))
			}
			if d.Status != licensehooks.StatusPending || d.TenantID != tn.ID || d.ListenerID != l.ID {
				t.Errorf("claimed delivery %+v", d)
			}
			checkEvent(t, c.Event, events[i])
			checkListener(t, c.Listener, l)
		}
		if stored := f.Delivery(tn.ID, ids[0]); stored.LeaseOwner != "w1" || !timePtrEq(stored.LeaseExpiresAt, ptr(now.Add(time.Minute))) {
			t.Errorf("stored lease %q until %v", stored.LeaseOwner, stored.LeaseExpiresAt)
		}

		// A live lease keeps the claimed ones from another worker.
		if got := claimIDs(f.Claim("w2", now, 10)); !slices.Equal(got, ids[3:]) {
			t.Errorf("second claimer got %v, want %v", got, ids[3:])
		}
		if got := f.Claim("w3", now.Add(59*time.Second), 10); len(got) != 0 {
			t.Errorf("claimed %v under live leases", claimIDs(got))
		}
		// An expired lease is claimable again (lease end inclusive), plus the
		// event that fell due meanwhile.
		later := Base.Add(time.Hour)
		if got := f.Claim("w3", later, 10); len(got) != 6 || got[0].Delivery.ID != ids[0] {
			t.Errorf("after the leases expired got %v, want all 6, oldest first", claimIDs(got))
		}
	},
	"OnlyPending": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		_, ok := f.Publish(tn.ID, codeA, Base)
		_, done := f.Publish(tn.ID, codeA, Base)
		_, failed := f.Publish(tn.ID, codeA, Base)
		f.Finish(tn.ID, done.DeliveryIDs[0], licensehooks.StatusSucceeded, Base)
		f.Finish(tn.ID, failed.DeliveryIDs[0], licensehooks.StatusFailed, Base)
		if got := claimIDs(f.Claim("w", Base.Add(time.Hour), 10)); !slices.Equal(got, ok.DeliveryIDs) {
			t.Errorf("claimed %v, want only the pending %v", got, ok.DeliveryIDs)
		}
	},
	"ExcludeListeners": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		busy := f.Listener(tn.ID, []string{codeA})
		also := f.Listener(tn.ID, []string{codeA})
		free := f.Listener(tn.ID, []string{codeA})
		f.Publish(tn.ID, codeA, Base)
		f.Publish(tn.ID, codeA, Base.Add(time.Second))
		cs := f.Claim("w", Base.Add(time.Minute), 10, busy.ID, also.ID)
		if len(cs) != 2 {
			t.Fatalf("claimed %d, want the 2 of the listener not excluded", len(cs))
		}
		for _, c := range cs {
			if c.Delivery.ListenerID != free.ID {
				t.Errorf("claimed a delivery of excluded listener %s", c.Delivery.ListenerID)
			}
		}
	},
	"Limit": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		for range 4 {
			f.Listener(tn.ID, []string{codeA})
		}
		f.Publish(tn.ID, codeA, Base)
		f.Publish(tn.ID, codeA, Base)
		seen := map[string]bool{}
		for _, want := range []int{3, 3, 2, 0} {
			cs := f.Claim("w", Base, 3)
			if len(cs) != want {
				t.Fatalf("claim got %d, want %d", len(cs), want)
			}
			for _, c := range cs {
				if seen[c.Delivery.ID] {
					t.Errorf("delivery %s claimed twice", c.Delivery.ID)
				}
				seen[c.Delivery.ID] = true
			}
		}
	},
	"PerListener": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA}) // busy
		f.Listener(tn.ID, []string{codeB}) // quiet
		left := f.Listener(tn.ID, []string{codeC})
		var busyIDs, quietIDs []string
		for i := range 6 { // the busy listener's backlog comes first
			_, res := f.Publish(tn.ID, codeA, Base.Add(time.Duration(i)*time.Second))
			busyIDs = append(busyIDs, res.DeliveryIDs...)
		}
		for i := range 2 {
			_, res := f.Publish(tn.ID, codeB, Base.Add(time.Duration(10+i)*time.Second))
			quietIDs = append(quietIDs, res.DeliveryIDs...)
		}
		f.Publish(tn.ID, codeC, Base)
		now := Base.Add(time.Minute)
		claim := func(limit, per int, exclude ...string) []string {
			t.Helper()
			cs, err := f.S.ClaimDeliveries(f.Ctx, licensehooks.ClaimParams{
				Owner: "w", Now: now, Lease: time.Minute, Limit: limit, PerListener: per, ExcludeListeners: exclude,
			})
			must(t, err, "ClaimDeliveries")
			return claimIDs(cs)
		}
		// A claim that leaves a listener out, then a walk of every due row.
		want := append(slices.Clone(busyIDs[:2]), quietIDs...)
		if got := claim(10, 2, left.ID); !slices.Equal(got, want) {
			t.Errorf("claim of 10, 2 per listener, leaving one out: %v, want %v", got, want)
		}
		got := claim(10, 2)
		if len(got) != 3 || !slices.Equal(slices.DeleteFunc(slices.Clone(got), func(id string) bool { return !slices.Contains(busyIDs, id) }), busyIDs[2:4]) {
			t.Errorf("claim of 10, 2 per listener: %v, want %v and the left listener's one", got, busyIDs[2:4])
		}
		// No cap: the busy listener's backlog fills the claim.
		if got := claim(10, 0); !slices.Equal(got, busyIDs[4:]) {
			t.Errorf("claim without a cap: %v, want %v", got, busyIDs[4:])
		}
	},
	"ExcludeManyListeners": func(t *testing.T, f *Fixture) {
		// More listeners own pending work than a claim that leaves some out
		// visits one by one: it walks the due rows instead, and still leaves
		// those out and caps each listener's share.
		tn := f.Tenant()
		var ls []*licensehooks.Listener
		for range 520 {
			ls = append(ls, f.Listener(tn.ID, []string{codeA}))
		}
		_, first := f.Publish(tn.ID, codeA, Base)
		f.Publish(tn.ID, codeA, Base.Add(time.Second))
		left := map[string]bool{ls[0].ID: true, ls[1].ID: true}
		cs, err := f.S.ClaimDeliveries(f.Ctx, licensehooks.ClaimParams{
			Owner: "w", Now: Base.Add(time.Minute), Lease: time.Minute, Limit: 100, PerListener: 1,
			ExcludeListeners: []string{ls[0].ID, ls[1].ID},
		})
		must(t, err, "ClaimDeliveries")
		if len(cs) != 100 {
			t.Fatalf("claimed %d, want 100", len(cs))
		}
		seen := map[string]bool{}
		for _, c := range cs {
			d := c.Delivery
			switch {
			case left[d.ListenerID]:
				t.Errorf("claimed a delivery of a listener left out")
			case seen[d.ListenerID]:
				t.Errorf("claimed two deliveries of listener %s, past the cap of 1", d.ListenerID)
			case !slices.Contains(first.DeliveryIDs, d.ID):
				t.Errorf("claimed %s, not of the oldest event", d.ID)
			}
			seen[d.ListenerID] = true
		}
	},
	"ConcurrentClaimers": testConcurrentClaimers,
	"ClaimDelivery":      testClaimDelivery,
}

// testConcurrentClaimers has several goroutines claim until nothing is left
// and checks each delivery went to exactly one of them.
func testConcurrentClaimers(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	for range 4 {
		f.Listener(tn.ID, []string{codeA})
	}
	var ps []licensehooks.PublishParams
	for i := range 40 {
		ps = append(ps, licensehooks.PublishParams{Event: f.Event(tn.ID, codeA, Base.Add(time.Duration(i)*time.Millisecond))})
	}
	f.PublishParams(ps...)
	const workers = 6
	got := make([][]string, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				cs, err := f.S.ClaimDeliveries(f.Ctx, licensehooks.ClaimParams{
					Owner: fmt.Sprintf("w%d", w), Now: Base.Add(time.Second), Lease: time.Hour, Limit: 7,
				})
				if err != nil {
					errs[w] = err
					return
				}
				if len(cs) == 0 {
					return
				}
				got[w] = append(got[w], claimIDs(cs)...)
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for w := range workers {
		if errs[w] != nil {
			t.Errorf("worker %d: %v", w, errs[w])
		}
		for _, id := range got[w] {
			seen[id]++
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
	if len(seen) != 160 {
		t.Errorf("%d deliveries claimed, want 160", len(seen))
	}
}

// testClaimDelivery checks leasing one chosen delivery: any status, tenant
// checked, another's live lease refused.
func testClaimDelivery(t *testing.T, f *Fixture) {
	tn, other := f.Tenant(), f.Tenant()
	l := f.Listener(tn.ID, []string{codeA})
	e, res := f.Publish(tn.ID, codeA, Base)
	id := res.DeliveryIDs[0]
	f.Finish(tn.ID, id, licensehooks.StatusSucceeded, Base)

	claimOne := func(tenantID, owner string, now time.Time) (*licensehooks.Claim, error) {
		return f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{
			TenantID: tenantID, DeliveryID: id, Owner: owner, Now: now, Lease: time.Minute,
		})
	}
	c, err := claimOne(tn.ID, "manual", Base.Add(time.Hour))
	must(t, err, "ClaimDelivery of a succeeded delivery")
	if c.Delivery.ID != id || c.Delivery.Status != licensehooks.StatusSucceeded || c.Delivery.LeaseOwner != "manual" ||
		!timePtrEq(c.Delivery.LeaseExpiresAt, ptr(Base.Add(time.Hour+time.Minute))) {
		t.Errorf("claimed %+v", c.Delivery)
	}
	checkEvent(t, c.Event, e)
	l.LastSuccessAt = ptr(Base)
	checkListener(t, c.Listener, l)

	_, err = claimOne(tn.ID, "other", Base.Add(time.Hour+30*time.Second))
	wantCode(t, err, licensehooks.ECONFLICT, "ClaimDelivery under another owner's live lease")
	_, err = claimOne(tn.ID, "manual", Base.Add(time.Hour+30*time.Second))
	must(t, err, "ClaimDelivery by the lease's owner")
	_, err = claimOne(tn.ID, "other", Base.Add(2*time.Hour))
	must(t, err, "ClaimDelivery after the lease expired")
	_, err = claimOne(other.ID, "other", Base.Add(3*time.Hour))
	wantCode(t, err, licensehooks.ENOTFOUND, "ClaimDelivery by another tenant")
	_, err = f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{
		TenantID: tn.ID, DeliveryID: "dlv_missing", Owner: "x", Now: Base, Lease: time.Minute,
	})
	wantCode(t, err, licensehooks.ENOTFOUND, "ClaimDelivery of a missing id")
}
