package service

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"licensehooks"
)

// A PUT that changes a reminder's payload while an emitter holds it takes
// the lease away: the emission with the old payload is dropped (Lost), and
// no event goes out with the old payload.
func TestLeasedReminderPayloadChange(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	f.listener(t, ListenerInput{Subscriptions: []string{"entitlement.expired"}})
	now := f.clock.Now()
	exp := now.Add(time.Hour)
	in := ScheduleInput{ResourceID: "ent_1", ResourceType: "entitlement", ExpiresAt: &exp, Payload: json.RawMessage(`{"plan":"old"}`)}
	if _, err := f.svc.PutSchedule(ctx, f.tenant, in); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	rs, err := f.store.ClaimReminders(ctx, licensehooks.ClaimRemindersParams{Owner: "a", Now: f.clock.Now(), Lease: time.Minute, Limit: 10})
	if err != nil || len(rs) == 0 {
		t.Fatalf("claim %v %v", rs, err)
	}
	in.Payload = json.RawMessage(`{"plan":"new"}`)
	v, err := f.svc.PutSchedule(ctx, f.tenant, in)
	if err != nil {
		t.Fatal(err)
	}
	_ = v
	var es []licensehooks.Emission
	for _, r := range rs {
		es = append(es, licensehooks.Emission{Reminder: r, Publish: licensehooks.PublishParams{Event: ReminderEvent(r, f.clock.Now())}})
	}
	res, err := f.store.EmitReminders(ctx, "a", f.clock.Now(), es)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !r.Lost {
			t.Errorf("the emission of %s with the old payload was not dropped", r.EventID)
		}
		if e, err := f.store.GetEvent(ctx, f.tenant, r.EventID); err == nil && strings.Contains(string(e.Payload), `"old"`) {
			t.Errorf("event %s went out with the old payload %s after the PUT of the new one", e.Code, e.Payload)
		}
	}
}

// A retried publish of a delayed event with its own eventId, after its
// deliverAt passed, is answered as the duplicate it is, not a 422.
func TestDeliverAtRetryAfterDue(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	f.listener(t, ListenerInput{Subscriptions: []string{"entitlement.created"}})
	at := f.clock.Now().Add(30 * time.Second)
	in := PublishInput{EventID: "ev-retry-1", EventCode: "entitlement.created", ResourceID: "ent_1",
		Payload: json.RawMessage(`{"entitlementId":"ent_1"}`), DeliverAt: &at}
	res, err := f.svc.Publish(ctx, f.tenant, []PublishInput{in})
	if err != nil || res[0].Err != nil {
		t.Fatalf("first %v %+v", err, res)
	}
	f.clock.Add(time.Minute) // the client timed out and retries
	res, err = f.svc.Publish(ctx, f.tenant, []PublishInput{in})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || !res[0].Duplicate {
		t.Errorf("retry of the same publish after deliverAt: err=%v duplicate=%v; want the duplicate", res[0].Err, res[0].Duplicate)
	}
}

// A batch PUT answers an expired notice already sent as sent, as the single
// PUT does.
func TestBatchAnswerSentAsSent(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	f.listener(t, ListenerInput{Subscriptions: []string{"entitlement.expired"}})
	exp := f.clock.Now().Add(-time.Hour)
	in := ScheduleInput{ResourceID: "ent_1", ResourceType: "entitlement", ExpiresAt: &exp}
	if _, err := f.svc.PutSchedule(ctx, f.tenant, in); err != nil {
		t.Fatal(err)
	}
	rs, _ := f.store.ClaimReminders(ctx, licensehooks.ClaimRemindersParams{Owner: "a", Now: f.clock.Now(), Lease: time.Minute, Limit: 10})
	var es []licensehooks.Emission
	for _, r := range rs {
		es = append(es, licensehooks.Emission{Reminder: r, Publish: licensehooks.PublishParams{Event: ReminderEvent(r, f.clock.Now())}})
	}
	if _, err := f.store.EmitReminders(ctx, "a", f.clock.Now(), es); err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Fatalf("claimed %d reminders, want the expired one", len(es))
	}
	single, err := f.svc.PutSchedule(ctx, f.tenant, in)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := f.svc.PutSchedules(ctx, f.tenant, []ScheduleInput{in})
	if err != nil || batch[0].Err != nil {
		t.Fatal(err, batch[0].Err)
	}
	if single.Reminders[0].Status != licensehooks.ReminderSent || batch[0].View.Reminders[0].Status != single.Reminders[0].Status {
		t.Errorf("batch answers %s, single answers %s for the same sent reminder", batch[0].View.Reminders[0].Status, single.Reminders[0].Status)
	}
}
