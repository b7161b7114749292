package storetest

import (
	"errors"
	"testing"
	"time"

	"licensehooks"
)

// errorTests pin down what the adapters answer where they once disagreed:
// the same code and, for what reaches API clients, the same words (the
// root helpers' wording, whatever the store).
var errorTests = map[string]func(t *testing.T, f *Fixture){
	"ListenerOfUnknownTenant": func(t *testing.T, f *Fixture) {
		l := &licensehooks.Listener{
			ID: licensehooks.NewID(licensehooks.PrefixListener), TenantID: "t_missing", URI: "https://example.com/h",
			Subscriptions: []string{codeA}, Enabled: true, CreatedAt: Base, UpdatedAt: Base,
		}
		err := f.S.CreateListener(f.Ctx, l)
		wantMessage(t, err, licensehooks.NotFound("tenant of this listener"), "CreateListener for an unknown tenant")
		_, err = f.S.GetListener(f.Ctx, "t_missing", l.ID)
		wantCode(t, err, licensehooks.ENOTFOUND, "GetListener of the refused listener")
	},
	"PublishNilEvent": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		good := f.Event(tn.ID, codeA, Base)
		res, err := f.S.PublishEvents(f.Ctx, []licensehooks.PublishParams{{Event: good}, {Event: nil}})
		wantCode(t, err, licensehooks.EINVALID, "PublishEvents with a nil event")
		if res != nil {
			t.Errorf("PublishEvents with a nil event returned results %+v", res)
		}
		_, err = f.S.GetEvent(f.Ctx, tn.ID, good.ID)
		wantCode(t, err, licensehooks.ENOTFOUND, "the good event of a refused call (nothing is stored)")
	},
	"PublishUnstorableText": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		nul, bad, good := f.Event(tn.ID, codeA, Base), f.Event(tn.ID, codeA, Base), f.Event(tn.ID, codeA, Base)
		nul.ResourceID = "a\x00b"
		bad.ID = "event_\xff"
		res, err := f.S.PublishEvents(f.Ctx, []licensehooks.PublishParams{{Event: nul}, {Event: bad}, {Event: good}})
		must(t, err, "PublishEvents")
		for i, field := range []string{"resourceId", "eventId"} {
			var e *licensehooks.Error
			if !errors.As(res[i].Err, &e) || e.Code != licensehooks.EINVALID || len(e.Fields) != 1 || e.Fields[0].Field != field {
				t.Errorf("result %d: %v, want EINVALID on %s", i, res[i].Err, field)
			}
		}
		if res[2].Err != nil || len(res[2].DeliveryIDs) != 1 {
			t.Errorf("the good event beside them: %+v, want stored with 1 delivery", res[2])
		}
		_, err = f.S.GetEvent(f.Ctx, tn.ID, nul.ID)
		wantCode(t, err, licensehooks.ENOTFOUND, "the refused event")
	},
	"OutcomeWithoutAttempt": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		f.Publish(tn.ID, codeA, Base)
		cs := f.Claim("w", Base, 10)
		if len(cs) != 1 {
			t.Fatalf("claimed %d, want 1", len(cs))
		}
		d := cs[0].Delivery
		good := licensehooks.Outcome{Attempt: f.Attempt(d, Base, 200), Owner: "w",
			Status: licensehooks.StatusSucceeded, CountsAsTry: true}
		err := f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{good, {Owner: "w", Status: licensehooks.StatusFailed}})
		wantCode(t, err, licensehooks.EINVALID, "RecordOutcomes with an outcome without attempt")
		got := f.Delivery(tn.ID, d.ID)
		if got.Status != licensehooks.StatusPending || got.Attempts != 0 || got.LeaseOwner != "w" {
			t.Errorf("a refused RecordOutcomes changed the delivery: %+v", got)
		}
	},
	"Wording": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeA})
		e, res := f.Publish(tn.ID, codeA, Base)
		ctx := f.Ctx
		nf := licensehooks.NotFound

		_, err := f.S.GetTenant(ctx, "t_missing")
		wantMessage(t, err, nf("tenant"), "GetTenant")
		_, err = f.S.GetCredential(ctx, "lhc_missing")
		wantMessage(t, err, nf("credential"), "GetCredential")
		wantMessage(t, f.S.RevokeCredential(ctx, "lhc_missing", Base), nf("credential"), "RevokeCredential")
		wantMessage(t, f.S.EndSessions(ctx, "lhc_missing", Base), nf("credential"), "EndSessions")
		_, err = f.S.GetListener(ctx, tn.ID, "whl_missing")
		wantMessage(t, err, nf("listener"), "GetListener")
		missing := *l
		missing.ID = "whl_missing"
		wantMessage(t, f.S.UpdateListener(ctx, &missing), nf("listener"), "UpdateListener")
		wantMessage(t, f.S.DeleteListener(ctx, tn.ID, "whl_missing"), nf("listener"), "DeleteListener")
		wantMessage(t, f.S.DisableListener(ctx, tn.ID, "whl_missing", "r", Base), nf("listener"), "DisableListener")
		_, err = f.S.GetEvent(ctx, tn.ID, "event_missing")
		wantMessage(t, err, nf("event"), "GetEvent")
		_, err = f.S.GetDelivery(ctx, tn.ID, "dlv_missing")
		wantMessage(t, err, nf("delivery"), "GetDelivery")
		_, err = f.S.ListAttempts(ctx, tn.ID, "dlv_missing")
		wantMessage(t, err, nf("delivery"), "ListAttempts")
		_, err = f.S.ClaimDelivery(ctx, licensehooks.ClaimOneParams{TenantID: tn.ID, DeliveryID: "dlv_missing",
			Owner: "w", Now: Base, Lease: time.Minute})
		wantMessage(t, err, nf("delivery"), "ClaimDelivery")

		dup := *tn
		wantMessage(t, f.S.CreateTenant(ctx, &dup), licensehooks.AlreadyExists("tenant"), "CreateTenant with a taken id")
		dupL := *l
		wantMessage(t, f.S.CreateListener(ctx, &dupL), licensehooks.AlreadyExists("listener"), "CreateListener with a taken id")

		results, err := f.S.PublishEvents(ctx, []licensehooks.PublishParams{
			{Event: f.Event(tn.ID, licensehooks.TestEventCode, Base), ListenerID: "whl_missing", Once: true},
			{Event: &licensehooks.Event{ID: e.ID, TenantID: tn.ID, Code: codeA, ResourceID: "r", Payload: []byte(`{}`),
				Hash: []byte("another"), OccurredAt: Base, CreatedAt: Base}},
		})
		must(t, err, "PublishEvents")
		wantMessage(t, results[0].Err, nf("listener"), "PublishEvents to a missing listener")
		wantMessage(t, results[1].Err, licensehooks.EventConflict(e.ID), "PublishEvents of a taken id with another body")

		_, err = f.S.ClaimDelivery(ctx, licensehooks.ClaimOneParams{TenantID: tn.ID, DeliveryID: res.DeliveryIDs[0],
			Owner: "a", Now: Base, Lease: time.Minute})
		must(t, err, "ClaimDelivery")
		_, err = f.S.ClaimDelivery(ctx, licensehooks.ClaimOneParams{TenantID: tn.ID, DeliveryID: res.DeliveryIDs[0],
			Owner: "b", Now: Base, Lease: time.Minute})
		wantMessage(t, err, licensehooks.DeliveryBusy(), "ClaimDelivery of a delivery leased to another")

		must(t, f.S.DeleteListener(ctx, tn.ID, l.ID), "DeleteListener")
		_, err = f.S.ClaimDelivery(ctx, licensehooks.ClaimOneParams{TenantID: tn.ID, DeliveryID: res.DeliveryIDs[0],
			Owner: "a", Now: Base.Add(time.Hour), Lease: time.Minute})
		wantMessage(t, err, nf("listener of this delivery"), "ClaimDelivery of a deleted listener's delivery")
	},
}

// wantMessage fails unless err is an application error with want's code
// and message.
func wantMessage(t *testing.T, err error, want *licensehooks.Error, what string) {
	t.Helper()
	if licensehooks.ErrorCode(err) != want.Code || licensehooks.ErrorMessage(err) != want.Message {
		t.Errorf("%s: got %v, want code %q and message %q", what, err, want.Code, want.Message)
	}
}
