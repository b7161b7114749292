//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite_test

import (
	"strings"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/sqlite"
	"licensehooks/storetest"
)

func openServing(t *testing.T, path string) (*sqlite.Store, error) {
	t.Helper()
	return sqlite.OpenWithOptions(path, sqlite.Options{Serving: true})
}

// TestServingLockRefusesSecondServer checks that one database has one
// serving process: a second serving open fails at once and names the
// database and its lock file, while plain opens (administration commands)
// still read and write beside it; closing the first lets another serve.
func TestServingLockRefusesSecondServer(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	first, err := openServing(t, path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := openServing(t, path)
	if err == nil {
		second.Close()
		first.Close()
		t.Fatal("a second serving open of the same database succeeded")
	}
	for _, want := range []string{path, path + ".lock", "already served by another licensehooks process"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second serving open: %q does not say %q", err, want)
		}
	}

	admin := open(t, path)
	f := &storetest.Fixture{T: t, S: admin, Ctx: t.Context()}
	tn := f.Tenant() // fails the test on error
	if _, err := first.GetTenant(t.Context(), tn.ID); err != nil {
		t.Errorf("the serving store does not see what a plain open wrote: %v", err)
	}
	if err := admin.Close(); err != nil {
		t.Fatal(err)
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := openServing(t, path)
	if err != nil {
		t.Fatalf("serving open after the first closed: %v", err)
	}
	again.Close()
}

// TestServingReleasesDeadLeases simulates kill -9 of the serving process:
// its store is closed without releasing the leases of what it had claimed
// and been handed. A plain open leaves those leases alone (the server may
// be alive), a serving open holds the lock, so their owner is dead: it
// releases them and another owner claims the work at once, not after the
// lease.
func TestServingReleasesDeadLeases(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	dead, err := openServing(t, path)
	if err != nil {
		t.Fatal(err)
	}
	f := &storetest.Fixture{T: t, S: dead, Ctx: t.Context()}
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{"entitlement.created"})
	now := time.Now()
	_, claimed := f.Publish(tn.ID, "entitlement.created", now.Add(-time.Second))
	handedEvent := f.Event(tn.ID, "entitlement.created", now.Add(-time.Second))
	var handed []*licensehooks.Claim
	res := f.PublishParams(licensehooks.PublishParams{Event: handedEvent, Handoff: &licensehooks.Handoff{
		Owner: "dead", Lease: time.Hour, Take: func(string) bool { return true },
		Claimed: func(cs []*licensehooks.Claim) { handed = cs }}})
	if len(handed) != 1 {
		t.Fatalf("the publish handed off %d claims, want 1", len(handed))
	}
	cs, err := dead.ClaimDeliveries(t.Context(), licensehooks.ClaimParams{Owner: "dead", Now: now, Lease: time.Hour, Limit: 10})
	if err != nil || len(cs) != 1 || cs[0].Delivery.ID != claimed.DeliveryIDs[0] {
		t.Fatalf("claim: %v, %v", cs, err)
	}
	if err := dead.Close(); err != nil { // no ReleaseClaims: the process died
		t.Fatal(err)
	}

	claim := func(s *sqlite.Store) []*licensehooks.Claim {
		t.Helper()
		cs, err := s.ClaimDeliveries(t.Context(), licensehooks.ClaimParams{Owner: "next", Now: now, Lease: time.Minute, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	plain := open(t, path)
	if cs := claim(plain); len(cs) != 0 {
		t.Errorf("a plain open released live leases: claimed %d", len(cs))
	}
	plain.Close()

	s, err := openServing(t, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := claim(s)
	want := []string{claimed.DeliveryIDs[0], res[0].DeliveryIDs[0]}
	if len(got) != 2 || !sameSet([]string{got[0].Delivery.ID, got[1].Delivery.ID}, want) {
		t.Fatalf("after a serving reopen, claimed %d deliveries, want the 2 the dead process held", len(got))
	}
	for _, c := range got {
		if c.Listener.ID != l.ID || c.Delivery.LeaseOwner != "next" {
			t.Errorf("claim %+v", c.Delivery)
		}
	}
}

func sameSet(a, b []string) bool {
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return len(a) == len(b)
}
