package licensehooks_test

import (
	"strings"
	"testing"
	"time"

	"licensehooks"
)

func TestStoreRules(t *testing.T) {
	now := time.Date(2024, 1, 2, 3, 4, 5, 6789, time.UTC)
	e := &licensehooks.Event{TenantID: "t_1", Code: "c"}
	e.SetDefaults(now)
	if !strings.HasPrefix(e.ID, licensehooks.PrefixEvent) || !e.CreatedAt.Equal(now) {
		t.Errorf("SetDefaults: %+v", e)
	}
	kept := &licensehooks.Event{ID: "mine", CreatedAt: now.Add(-time.Hour)}
	if kept.SetDefaults(now); kept.ID != "mine" || !kept.CreatedAt.Equal(now.Add(-time.Hour)) {
		t.Errorf("SetDefaults replaced what was given: %+v", kept)
	}

	for _, tc := range []struct {
		p    licensehooks.ClaimParams
		want int
	}{{licensehooks.ClaimParams{Limit: 10}, 10}, {licensehooks.ClaimParams{Limit: 10, PerListener: 3}, 3},
		{licensehooks.ClaimParams{Limit: 2, PerListener: 3}, 2}} {
		if got := tc.p.ListenerCap(); got != tc.want {
			t.Errorf("ListenerCap(%+v) = %d, want %d", tc.p, got, tc.want)
		}
	}

	h := &licensehooks.Handoff{Owner: "w", Lease: time.Minute}
	for _, tc := range []struct {
		p    licensehooks.PublishParams
		want bool
	}{{licensehooks.PublishParams{Handoff: h}, true}, {licensehooks.PublishParams{}, false},
		{licensehooks.PublishParams{Handoff: h, ListenerID: "whl_1"}, false},
		{licensehooks.PublishParams{Handoff: h, NotBefore: now}, false}} {
		if got := tc.p.HandsOff(); got != tc.want {
			t.Errorf("HandsOff(%+v) = %v", tc.p, got)
		}
	}
	l := &licensehooks.Listener{ID: "whl_1", TenantID: "t_1"}
	c := licensehooks.HandoffClaim(licensehooks.PublishParams{Event: e, Handoff: h, Once: true}, "dlv_1", l, "", now, now.Add(time.Minute))
	d := c.Delivery
	if d.ID != "dlv_1" || d.ListenerID != l.ID || d.EventID != e.ID || d.LeaseOwner != "w" || !d.Once ||
		d.Status != licensehooks.StatusPending || d.NextAttemptAt.Nanosecond()%1000 != 0 || c.Listener != l || c.Event != e {
		t.Errorf("HandoffClaim: %+v", d)
	}

	dl := &licensehooks.Delivery{TenantID: "t_1"}
	if licensehooks.ClaimOf(dl, e, l) == nil || licensehooks.ClaimOf(dl, nil, l) != nil || licensehooks.ClaimOf(dl, e, nil) != nil ||
		licensehooks.ClaimOf(dl, e, &licensehooks.Listener{ID: "whl_2", TenantID: "t_2"}) != nil {
		t.Error("ClaimOf does not tell orphans apart")
	}

	a := &licensehooks.Attempt{}
	if err := licensehooks.PrepareOutcomes([]licensehooks.Outcome{{Attempt: a}}); err != nil || !strings.HasPrefix(a.ID, licensehooks.PrefixAttempt) {
		t.Errorf("PrepareOutcomes: %v, id %q", err, a.ID)
	}
	b := &licensehooks.Attempt{}
	if err := licensehooks.PrepareOutcomes([]licensehooks.Outcome{{Attempt: b}, {}}); licensehooks.ErrorCode(err) != licensehooks.EINVALID || b.ID != "" {
		t.Errorf("PrepareOutcomes with a missing attempt: %v, and it changed the others (id %q)", err, b.ID)
	}
	if err := (&licensehooks.Event{ID: "a\x00"}).CheckText(); licensehooks.ErrorCode(err) != licensehooks.EINVALID {
		t.Errorf("CheckText of NUL: %v", err)
	}
}
