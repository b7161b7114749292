package service

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"licensehooks"
)

func tp(t time.Time) *time.Time { return &t }

// codesDue lists a view's reminders as code@offset-from-base.
func codesDue(v *ScheduleView, base time.Time) []string {
	var out []string
	for _, r := range v.Reminders {
		out = append(out, r.Code+"@"+r.DueAt.Sub(base).String())
	}
	return out
}

func TestPutScheduleDerivesReminders(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		name string
		in   func(now time.Time) ScheduleInput
		want func(now time.Time) []string
	}{
		{"all four ahead", func(now time.Time) ScheduleInput {
			return ScheduleInput{ResourceType: "entitlement", ExpiresAt: tp(now.Add(40 * day))}
		}, func(time.Time) []string {
			return []string{"entitlement.expires30days@240h0m0s", "entitlement.expires7days@792h0m0s",
				"entitlement.expires1day@936h0m0s", "entitlement.expired@960h0m0s"}
		}},
		{"passed ones are not sent", func(now time.Time) ScheduleInput {
			return ScheduleInput{ResourceType: "entitlement", ExpiresAt: tp(now.Add(3 * day))}
		}, func(time.Time) []string {
			return []string{"entitlement.expires1day@48h0m0s", "entitlement.expired@72h0m0s"}
		}},
		{"expired less than 24 h ago goes at once", func(now time.Time) ScheduleInput {
			return ScheduleInput{ResourceType: "entitlement", ExpiresAt: tp(now.Add(-23 * time.Hour))}
		}, func(time.Time) []string { return []string{"entitlement.expired@-23h0m0s"} }},
		{"expired more than 24 h ago is not sent", func(now time.Time) ScheduleInput {
			return ScheduleInput{ResourceType: "entitlement", ExpiresAt: tp(now.Add(-25 * time.Hour))}
		}, func(time.Time) []string { return nil }},
		{"maintenance twins", func(now time.Time) ScheduleInput {
			return ScheduleInput{ResourceType: "entitlement", MaintenanceExpiresAt: tp(now.Add(2 * day))}
		}, func(time.Time) []string {
			return []string{"entitlement.maintenance.expires1day@24h0m0s", "entitlement.maintenance.expired@48h0m0s"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			now := f.clock.Now()
			v, err := f.svc.PutSchedule(t.Context(), f.tenant, withID(tt.in(now), "ent_1"))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := codesDue(v, now), tt.want(now); !slices.Equal(got, want) {
				t.Errorf("reminders %v, want %v", got, want)
			}
			for _, r := range v.Reminders {
				if err := f.svc.Catalog.Validate(r.Code, r.Payload); err != nil {
					t.Errorf("%s payload %s invalid: %v", r.Code, r.Payload, err)
				}
				if r.EventID != licensehooks.ReminderEventID(f.tenant, "ent_1", r.Code, r.About) {
					t.Errorf("%s has event id %s, not the derived one", r.Code, r.EventID)
				}
			}
		})
	}
}

func withID(in ScheduleInput, id string) ScheduleInput { in.ResourceID = id; return in }

func TestReminderPayload(t *testing.T) {
	t.Parallel()
	f := setup(t)
	now := f.clock.Now()
	exp := now.Add(10 * 24 * time.Hour).Truncate(time.Second)
	v, err := f.svc.PutSchedule(t.Context(), f.tenant, ScheduleInput{ResourceID: "ent_p", ResourceType: "entitlement",
		ExpiresAt: &exp, Payload: json.RawMessage(`{"productId":"prod_1","seats":12345678901234567890,"daysToExpire":99}`)})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(v.Reminders[0].Payload, &got); err != nil {
		t.Fatal(err)
	}
	if v.Reminders[0].Code != "entitlement.expires7days" || got["entitlementId"] != "ent_p" || got["productId"] != "prod_1" ||
		got["daysToExpire"] != 7.0 || got["expiresAt"] != exp.UTC().Format(time.RFC3339Nano) {
		t.Errorf("payload %s", v.Reminders[0].Payload)
	}
	if !strings.Contains(string(v.Reminders[0].Payload), `"seats":12345678901234567890`) {
		t.Errorf("a big number was not kept as written: %s", v.Reminders[0].Payload)
	}
}

func TestPutScheduleValidation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	now := f.clock.Now()
	tests := []struct {
		name  string
		in    ScheduleInput
		field string
	}{
		{"no type", ScheduleInput{ResourceID: "e", ExpiresAt: tp(now.Add(time.Hour))}, "resourceType"},
		{"other type", ScheduleInput{ResourceID: "e", ResourceType: "customer", ExpiresAt: tp(now.Add(time.Hour))}, "resourceType"},
		{"no dates", ScheduleInput{ResourceID: "e", ResourceType: "entitlement"}, "expiresAt"},
		{"year typo", ScheduleInput{ResourceID: "e", ResourceType: "entitlement", ExpiresAt: tp(now.AddDate(300, 0, 0))}, "expiresAt"},
		{"payload array", ScheduleInput{ResourceID: "e", ResourceType: "entitlement", ExpiresAt: tp(now.Add(time.Hour)), Payload: json.RawMessage(`[1]`)}, "payload"},
		{"payload field of the wrong type", ScheduleInput{ResourceID: "e", ResourceType: "entitlement", ExpiresAt: tp(now.Add(time.Hour)),
			Payload: json.RawMessage(`{"activatedAt":5}`)}, "payload.activatedAt"},
		{"control character id", ScheduleInput{ResourceID: "e\x01", ResourceType: "entitlement", ExpiresAt: tp(now.Add(time.Hour))}, "resourceId"},
	}
	for _, tt := range tests {
		_, err := f.svc.PutSchedule(t.Context(), f.tenant, tt.in)
		var le *licensehooks.Error
		if !asError(err, &le) || le.Code != licensehooks.EINVALID || len(le.Fields) == 0 || le.Fields[0].Field != tt.field {
			t.Errorf("%s: %v, want EINVALID on %s", tt.name, err, tt.field)
		}
	}
}

func TestRenewalReplacesAndRepeatChangesNothing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	now := f.clock.Now()
	in := ScheduleInput{ResourceID: "ent_r", ResourceType: "entitlement", ExpiresAt: tp(now.Add(10 * 24 * time.Hour))}
	first, err := f.svc.PutSchedule(ctx, f.tenant, in)
	if err != nil || !first.Created {
		t.Fatalf("first put %+v, %v", first, err)
	}
	again, err := f.svc.PutSchedule(ctx, f.tenant, in)
	if err != nil || again.Created || !slices.Equal(reminderIDsOf(again), reminderIDsOf(first)) {
		t.Fatalf("repeat put %v, %v; want the same reminders %v", reminderIDsOf(again), err, reminderIDsOf(first))
	}
	in.ExpiresAt = tp(now.Add(400 * 24 * time.Hour))
	renewed, err := f.svc.PutSchedule(ctx, f.tenant, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range reminderIDsOf(renewed) {
		if slices.Contains(reminderIDsOf(first), id) {
			t.Errorf("renewal kept reminder %s of the old date", id)
		}
	}
	if len(renewed.Reminders) != 4 {
		t.Errorf("renewal has %d reminders, want 4", len(renewed.Reminders))
	}
}

func reminderIDsOf(v *ScheduleView) []string {
	var ids []string
	for _, r := range v.Reminders {
		ids = append(ids, r.EventID)
	}
	return ids
}

func TestScheduleSettingsOffsets(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	_, err := f.svc.PutScheduleSettings(ctx, f.tenant, ScheduleSettingsInput{ExpiryOffsets: []string{"7d", "14d", "7d"}})
	var le *licensehooks.Error
	if !asError(err, &le) || len(le.Fields) != 2 || le.Fields[0].Field != "expiryOffsets[1]" || le.Fields[1].Field != "expiryOffsets[2]" {
		t.Fatalf("bad offsets: %v %+v", err, le)
	}
	if !strings.Contains(le.Fields[0].Message, "30d, 7d, 1d, 0d") {
		t.Errorf("message %q does not say which offsets exist", le.Fields[0].Message)
	}
	if _, err := f.svc.PutScheduleSettings(ctx, f.tenant, ScheduleSettingsInput{ExpiryOffsets: []string{"0d"}, MaintenanceOffsets: []string{}}); err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	v, err := f.svc.PutSchedule(ctx, f.tenant, ScheduleInput{ResourceID: "ent_s", ResourceType: "entitlement",
		ExpiresAt: tp(now.Add(40 * 24 * time.Hour)), MaintenanceExpiresAt: tp(now.Add(40 * 24 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if got := codesDue(v, now); !slices.Equal(got, []string{"entitlement.expired@960h0m0s"}) {
		t.Errorf("with offsets [0d] and no maintenance offsets: %v", got)
	}
}

func TestPublishDeliverAt(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := t.Context()
	now := f.clock.Now()
	f.listener(t, ListenerInput{URI: "https://example.com/h", Subscriptions: []string{"entitlement.created"}})
	in := func(at time.Time) PublishInput {
		return PublishInput{EventCode: "entitlement.created", ResourceID: "ent_1",
			Payload: json.RawMessage(`{"entitlementId":"ent_1"}`), DeliverAt: &at}
	}
	for name, at := range map[string]time.Time{"past": now.Add(-time.Second), "now": now, "too far": now.Add(366 * 24 * time.Hour)} {
		res, err := f.svc.Publish(ctx, f.tenant, []PublishInput{in(at)})
		var le *licensehooks.Error
		if err != nil || !asError(res[0].Err, &le) || le.Fields[0].Field != "deliverAt" {
			t.Errorf("%s: %v %v, want EINVALID on deliverAt", name, err, res[0].Err)
		}
	}
	res, err := f.svc.Publish(ctx, f.tenant, []PublishInput{in(now.Add(time.Hour))})
	if err != nil || res[0].Err != nil || len(res[0].DeliveryIDs) != 1 {
		t.Fatalf("publish: %v %+v", err, res)
	}
	d, err := f.store.GetDelivery(ctx, f.tenant, res[0].DeliveryIDs[0])
	if err != nil || d.Status != licensehooks.StatusScheduled || !d.NextAttemptAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("delivery %+v, %v; want scheduled an hour ahead", d, err)
	}
	if _, err := f.svc.Resend(ctx, f.tenant, d.ID); licensehooks.ErrorCode(err) != licensehooks.ECONFLICT {
		t.Errorf("resending a scheduled delivery: %v, want ECONFLICT", err)
	}
	if n, err := f.svc.CancelEvent(ctx, f.tenant, res[0].EventID); err != nil || n != 1 {
		t.Errorf("CancelEvent = %d, %v", n, err)
	}
}

func asError(err error, le **licensehooks.Error) bool { return errors.As(err, le) }
