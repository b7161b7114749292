package storetest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"licensehooks"
)

const (
	codeA = "entitlement.created"
	codeB = "activation.created"
	codeC = "entitlement.expired"
)

var listenerTests = map[string]func(t *testing.T, f *Fixture){
	"RoundTrip": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeB, codeA}, func(l *licensehooks.Listener) {
			l.Description = "all the fields"
			l.Headers = map[string]string{"X-One": "1", "X-Two": "two"}
			l.PrevSecret = []byte("old")
			l.PrevSecretExpiresAt = ptr(Base.Add(24 * time.Hour))
			l.LastSuccessAt = ptr(Base.Add(-time.Hour))
			l.Enabled = false
			l.DisabledReason = "gone"
			l.DisabledAt = ptr(Base.Add(-time.Minute))
		})
		got, err := f.S.GetListener(f.Ctx, tn.ID, l.ID)
		must(t, err, "GetListener")
		checkListener(t, got, l)

		bare := f.Listener(tn.ID, nil)
		got, err = f.S.GetListener(f.Ctx, tn.ID, bare.ID)
		must(t, err, "GetListener")
		checkListener(t, got, bare)

		dup := *l
		wantCode(t, f.S.CreateListener(f.Ctx, &dup), licensehooks.ECONFLICT, "CreateListener with a taken id")
		_, err = f.S.GetListener(f.Ctx, tn.ID, "whl_missing")
		wantCode(t, err, licensehooks.ENOTFOUND, "GetListener of a missing id")
	},
	"TenantIsolation": func(t *testing.T, f *Fixture) {
		tn, other := f.Tenant(), f.Tenant()
		l := f.Listener(tn.ID, []string{codeA})
		_, err := f.S.GetListener(f.Ctx, other.ID, l.ID)
		wantCode(t, err, licensehooks.ENOTFOUND, "GetListener by another tenant")
		upd := *l
		upd.TenantID = other.ID
		upd.URI = "https://evil.example.com"
		wantCode(t, f.S.UpdateListener(f.Ctx, &upd), licensehooks.ENOTFOUND, "UpdateListener by another tenant")
		wantCode(t, f.S.DeleteListener(f.Ctx, other.ID, l.ID), licensehooks.ENOTFOUND, "DeleteListener by another tenant")
		wantCode(t, f.S.DisableListener(f.Ctx, other.ID, l.ID, "x", Base), licensehooks.ENOTFOUND, "DisableListener by another tenant")
		list, total, err := f.S.ListListeners(f.Ctx, licensehooks.ListenerFilter{TenantID: other.ID, Page: licensehooks.Page{Number: 1, Size: 10}})
		must(t, err, "ListListeners")
		if len(list) != 0 || total != 0 {
			t.Errorf("another tenant lists %d listeners (total %d), want none", len(list), total)
		}
		got, err := f.S.GetListener(f.Ctx, tn.ID, l.ID)
		must(t, err, "GetListener")
		checkListener(t, got, l)
	},
	"ListPagingOldestFirst": func(t *testing.T, f *Fixture) {
		tn, other := f.Tenant(), f.Tenant()
		f.Listener(other.ID, []string{codeA})
		var want []string
		for range 5 {
			want = append(want, licensehooks.NewID(licensehooks.PrefixListener))
		}
		// Created out of order: the list follows CreatedAt, not insertion.
		for _, i := range rand.Perm(5) {
			f.Listener(tn.ID, []string{codeA}, func(l *licensehooks.Listener) {
				l.ID = want[i]
				l.CreatedAt = Base.Add(time.Duration(i) * time.Hour)
			})
		}
		cases := []struct {
			page licensehooks.Page
			want []string
		}{
			{licensehooks.Page{Number: 1, Size: 2}, want[0:2]},
			{licensehooks.Page{Number: 2, Size: 2}, want[2:4]},
			{licensehooks.Page{Number: 3, Size: 2}, want[4:5]},
			{licensehooks.Page{Number: 4, Size: 2}, nil},
			{licensehooks.Page{Number: 1, Size: 100}, want},
		}
		for _, c := range cases {
			list, total, err := f.S.ListListeners(f.Ctx, licensehooks.ListenerFilter{TenantID: tn.ID, Page: c.page})
			must(t, err, "ListListeners")
			ids := make([]string, len(list))
			for i, l := range list {
				ids[i] = l.ID
			}
			if total != 5 || !slices.Equal(ids, c.want) {
				t.Errorf("page %+v: got %v total %d, want %v total 5", c.page, ids, total, c.want)
			}
		}
	},
	"Update": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeA})
		upd := *l
		upd.URI = "https://example.org/new"
		upd.Subscriptions = []string{codeC, codeB}
		upd.Name, upd.Description = "renamed", "described"
		upd.Headers = map[string]string{"X-New": "yes"}
		upd.Secret, upd.PrevSecret = []byte("new"), l.Secret
		upd.PrevSecretExpiresAt = ptr(Base.Add(48 * time.Hour))
		upd.LastSuccessAt = ptr(Base.Add(time.Minute))
		upd.UpdatedAt = Base.Add(time.Hour)
		upd.CreatedAt = Base.Add(99 * time.Hour) // ignored: CreatedAt never changes
		must(t, f.S.UpdateListener(f.Ctx, &upd), "UpdateListener")
		got, err := f.S.GetListener(f.Ctx, tn.ID, l.ID)
		must(t, err, "GetListener")
		upd.CreatedAt = l.CreatedAt
		checkListener(t, got, &upd)

		missing := upd
		missing.ID = "whl_missing"
		wantCode(t, f.S.UpdateListener(f.Ctx, &missing), licensehooks.ENOTFOUND, "UpdateListener of a missing id")
	},
	"Delete": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeA})
		keep := f.Listener(tn.ID, []string{codeA})
		must(t, f.S.DeleteListener(f.Ctx, tn.ID, l.ID), "DeleteListener")
		_, err := f.S.GetListener(f.Ctx, tn.ID, l.ID)
		wantCode(t, err, licensehooks.ENOTFOUND, "GetListener after delete")
		wantCode(t, f.S.DeleteListener(f.Ctx, tn.ID, l.ID), licensehooks.ENOTFOUND, "DeleteListener twice")
		_, err = f.S.GetListener(f.Ctx, tn.ID, keep.ID)
		must(t, err, "GetListener of another listener")
	},
	"DeleteCancelsPending": func(t *testing.T, f *Fixture) {
		testCancelsPending(t, f, func(l *licensehooks.Listener) {
			must(t, f.S.DeleteListener(f.Ctx, l.TenantID, l.ID), "DeleteListener")
		})
	},
	"DisableKeepsFirst": testDisableKeepsFirst,
	"DisableCancelsPending": func(t *testing.T, f *Fixture) {
		at := Base.Add(3 * time.Hour)
		l := testCancelsPending(t, f, func(l *licensehooks.Listener) {
			must(t, f.S.DisableListener(f.Ctx, l.TenantID, l.ID, "410 Gone", at), "DisableListener")
		})
		got, err := f.S.GetListener(f.Ctx, l.TenantID, l.ID)
		must(t, err, "GetListener")
		if got.Enabled || got.DisabledReason != "410 Gone" || !timePtrEq(got.DisabledAt, &at) {
			t.Errorf("after DisableListener: Enabled=%v DisabledReason=%q DisabledAt=%v", got.Enabled, got.DisabledReason, got.DisabledAt)
		}
		wantCode(t, f.S.DisableListener(f.Ctx, l.TenantID, "whl_missing", "x", at), licensehooks.ENOTFOUND, "DisableListener of a missing id")
	},
	"UpdateToDisabledCancelsPending": func(t *testing.T, f *Fixture) {
		testCancelsPending(t, f, func(l *licensehooks.Listener) {
			upd := *l
			upd.Enabled = false
			upd.UpdatedAt = Base.Add(3 * time.Hour)
			must(t, f.S.UpdateListener(f.Ctx, &upd), "UpdateListener")
		})
	},
	"UpdateEnabledKeepsPending": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeA})
		_, res := f.Publish(tn.ID, codeA, Base)
		upd := *l
		upd.Name = "still enabled"
		must(t, f.S.UpdateListener(f.Ctx, &upd), "UpdateListener")
		if d := f.Delivery(tn.ID, res.DeliveryIDs[0]); d.Status != licensehooks.StatusPending {
			t.Errorf("status after an update that keeps the listener enabled = %q, want pending", d.Status)
		}
	},
}

// testCancelsPending publishes to a listener, finishes one delivery, calls
// act on the listener, and checks that its pending deliveries (leased or
// not) are cancelled and kept in the log while its finished one and another
// listener's pending one are untouched. It returns the listener.
func testCancelsPending(t *testing.T, f *Fixture, act func(*licensehooks.Listener)) *licensehooks.Listener {
	t.Helper()
	tn := f.Tenant()
	l := f.Listener(tn.ID, []string{codeA})
	f.Listener(tn.ID, []string{codeB})
	_, done := f.Publish(tn.ID, codeA, Base)
	_, leased := f.Publish(tn.ID, codeA, Base.Add(time.Second))
	_, idle := f.Publish(tn.ID, codeA, Base.Add(2*time.Second))
	_, others := f.Publish(tn.ID, codeB, Base)
	f.Finish(tn.ID, done.DeliveryIDs[0], licensehooks.StatusSucceeded, Base.Add(time.Minute))
	_, err := f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{
		TenantID: tn.ID, DeliveryID: leased.DeliveryIDs[0], Owner: "w", Now: Base.Add(time.Minute), Lease: time.Hour,
	})
	must(t, err, "ClaimDelivery")

	act(l)

	want := map[string]string{
		done.DeliveryIDs[0]:   licensehooks.StatusSucceeded,
		leased.DeliveryIDs[0]: licensehooks.StatusCancelled,
		idle.DeliveryIDs[0]:   licensehooks.StatusCancelled,
		others.DeliveryIDs[0]: licensehooks.StatusPending,
	}
	for id, status := range want {
		if d := f.Delivery(tn.ID, id); d.Status != status {
			t.Errorf("delivery of %s: status %q, want %q", d.ListenerID, d.Status, status)
		}
	}
	// A cancelled delivery is never claimed again, even once its lease ends.
	cs := f.Claim("w2", Base.Add(10*time.Hour), 10)
	if ids := claimIDs(cs); len(ids) != 1 || ids[0] != others.DeliveryIDs[0] {
		t.Errorf("claim after cancel got %v, want only the other listener's delivery", ids)
	}
	return l
}
