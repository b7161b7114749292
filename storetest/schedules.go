package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"licensehooks"
)

const codeExpired = "entitlement.expired"

// delayed publishes an event of tenantID created at whose deliveries are
// scheduled for due.
func (f *Fixture) delayed(tenantID, code string, at, due time.Time) (*licensehooks.Event, licensehooks.PublishResult) {
	f.T.Helper()
	e := f.Event(tenantID, code, at)
	res := f.PublishParams(licensehooks.PublishParams{Event: e, NotBefore: due, Scheduled: true})
	return e, res[0]
}

// reminder returns an unsaved reminder of resource about expiry, due at due.
func reminder(tenantID, resource, code string, about, due time.Time) *licensehooks.Reminder {
	return &licensehooks.Reminder{
		TenantID: tenantID, ResourceID: resource, Code: code, About: about, DueAt: due,
		EventID: licensehooks.ReminderEventID(tenantID, resource, code, about),
		Payload: []byte(fmt.Sprintf(`{"entitlementId":%q,"code":%q}`, resource, code)),
	}
}

// putSchedule stores a schedule of resource expiring at exp with rs.
func (f *Fixture) putSchedule(tenantID, resource string, exp time.Time, rs ...*licensehooks.Reminder) licensehooks.PutScheduleResult {
	f.T.Helper()
	res, err := f.S.PutSchedules(f.Ctx, []licensehooks.PutScheduleParams{{
		Schedule: &licensehooks.Schedule{TenantID: tenantID, ResourceID: resource, ResourceType: "entitlement",
			ExpiresAt: &exp, Payload: []byte(`{}`), UpdatedAt: Base},
		Reminders: rs,
	}})
	must(f.T, err, "PutSchedules")
	if len(res) != 1 || res[0].Err != nil {
		f.T.Fatalf("PutSchedules = %+v", res)
	}
	return res[0]
}

// putOne stores one schedule and returns its result.
func (f *Fixture) putOne(p licensehooks.PutScheduleParams) (licensehooks.PutScheduleResult, error) {
	f.T.Helper()
	res, err := f.S.PutSchedules(f.Ctx, []licensehooks.PutScheduleParams{p})
	if err != nil {
		return licensehooks.PutScheduleResult{}, err
	}
	if len(res) != 1 {
		f.T.Fatalf("PutSchedules returned %d results for 1", len(res))
	}
	return res[0], res[0].Err
}

func (f *Fixture) claimReminders(owner string, now time.Time, limit int) []*licensehooks.Reminder {
	f.T.Helper()
	rs, err := f.S.ClaimReminders(f.Ctx, licensehooks.ClaimRemindersParams{Owner: owner, Now: now, Lease: time.Minute, Limit: limit})
	must(f.T, err, "ClaimReminders")
	return rs
}

// emit turns claimed reminders into events, as the scheduler does.
func (f *Fixture) emit(owner string, now time.Time, rs []*licensehooks.Reminder) []licensehooks.EmitResult {
	f.T.Helper()
	es := make([]licensehooks.Emission, len(rs))
	for i, r := range rs {
		es[i] = licensehooks.Emission{Reminder: r, Publish: licensehooks.PublishParams{Event: &licensehooks.Event{
			ID: r.EventID, TenantID: r.TenantID, Code: r.Code, ResourceID: r.ResourceID, Payload: r.Payload,
			OccurredAt: r.DueAt, CreatedAt: now, Hash: []byte(r.EventID),
		}}}
	}
	res, err := f.S.EmitReminders(f.Ctx, owner, now, es)
	must(f.T, err, "EmitReminders")
	if len(res) != len(es) {
		f.T.Fatalf("EmitReminders returned %d results for %d", len(res), len(es))
	}
	return res
}

func reminderIDs(rs []*licensehooks.Reminder) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.EventID
	}
	return ids
}

var scheduleTests = map[string]func(t *testing.T, f *Fixture){
	"RacingFirstPuts": testRacingFirstPuts,
	"DelayedDeliveriesWaitForPromotion": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		due := Base.Add(time.Hour)
		_, res := f.delayed(tn.ID, codeA, Base, due)
		if len(res.DeliveryIDs) != 1 {
			t.Fatalf("made %d deliveries, want 1", len(res.DeliveryIDs))
		}
		id := res.DeliveryIDs[0]
		if d := f.Delivery(tn.ID, id); d.Status != licensehooks.StatusScheduled || !d.NextAttemptAt.Equal(due) {
			t.Fatalf("delivery %s due %v, want scheduled due %v", d.Status, d.NextAttemptAt, due)
		}
		nd, err := f.S.NextDue(f.Ctx)
		must(t, err, "NextDue")
		if !nd.Scheduled.Equal(due) || !nd.Reminder.IsZero() {
			t.Errorf("NextDue = %+v, want the scheduled delivery at %v and no reminder", nd, due)
		}
		if cs := f.Claim("w", due.Add(time.Hour), 10); len(cs) != 0 {
			t.Fatalf("claimed a scheduled delivery: %v", claimIDs(cs))
		}
		if n, err := f.S.PromoteScheduled(f.Ctx, due.Add(-time.Microsecond), 10); err != nil || n != 0 {
			t.Fatalf("PromoteScheduled before due = %d, %v; want 0", n, err)
		}
		if n, err := f.S.PromoteScheduled(f.Ctx, due, 10); err != nil || n != 1 {
			t.Fatalf("PromoteScheduled at due = %d, %v; want 1", n, err)
		}
		if d := f.Delivery(tn.ID, id); d.Status != licensehooks.StatusPending {
			t.Fatalf("promoted delivery is %s, want pending", d.Status)
		}
		if cs := f.Claim("w", due, 10); !slices.Equal(claimIDs(cs), []string{id}) {
			t.Errorf("claimed %v after promotion, want %s", claimIDs(cs), id)
		}
		if nd, _ := f.S.NextDue(f.Ctx); !nd.Scheduled.IsZero() {
			t.Errorf("NextDue.Scheduled = %v after promotion, want zero", nd.Scheduled)
		}
	},
	"PromoteSoonestFirstWithinLimit": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		var ids []string
		for i := 3; i >= 1; i-- {
			_, res := f.delayed(tn.ID, codeA, Base, Base.Add(time.Duration(i)*time.Minute))
			ids = append([]string{res.DeliveryIDs[0]}, ids...)
		}
		if n, err := f.S.PromoteScheduled(f.Ctx, Base.Add(time.Hour), 2); err != nil || n != 2 {
			t.Fatalf("PromoteScheduled = %d, %v; want 2", n, err)
		}
		for i, id := range ids {
			want := licensehooks.StatusPending
			if i == 2 {
				want = licensehooks.StatusScheduled
			}
			if d := f.Delivery(tn.ID, id); d.Status != want {
				t.Errorf("delivery %d is %s, want %s", i, d.Status, want)
			}
		}
	},
	"CancelEvent": func(t *testing.T, f *Fixture) {
		tn, other := f.Tenant(), f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		f.Listener(tn.ID, []string{codeA})
		e, res := f.delayed(tn.ID, codeA, Base, Base.Add(time.Hour))
		_, err := f.S.CancelEvent(f.Ctx, other.ID, e.ID, Base)
		wantCode(t, err, licensehooks.ENOTFOUND, "CancelEvent of another tenant's event")
		_, err = f.S.CancelEvent(f.Ctx, tn.ID, "event_none", Base)
		wantCode(t, err, licensehooks.ENOTFOUND, "CancelEvent of no event")
		n, err := f.S.CancelEvent(f.Ctx, tn.ID, e.ID, Base.Add(time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("CancelEvent = %d, %v; want 2", n, err)
		}
		for _, id := range res.DeliveryIDs {
			if d := f.Delivery(tn.ID, id); d.Status != licensehooks.StatusCancelled || !d.UpdatedAt.Equal(Base.Add(time.Minute)) {
				t.Errorf("delivery %s updated %v, want cancelled at %v", d.Status, d.UpdatedAt, Base.Add(time.Minute))
			}
		}
		_, err = f.S.CancelEvent(f.Ctx, tn.ID, e.ID, Base)
		wantCode(t, err, licensehooks.ECONFLICT, "CancelEvent again")
		now, _ := f.Publish(tn.ID, codeA, Base)
		_, err = f.S.CancelEvent(f.Ctx, tn.ID, now.ID, Base)
		wantCode(t, err, licensehooks.ECONFLICT, "CancelEvent of an event already sending")
		if n, _ := f.S.PromoteScheduled(f.Ctx, Base.Add(2*time.Hour), 10); n != 0 {
			t.Errorf("promoted %d cancelled deliveries", n)
		}
	},
	"DisablingCancelsScheduled": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeA})
		_, res := f.delayed(tn.ID, codeA, Base, Base.Add(time.Hour))
		must(t, f.S.DisableListener(f.Ctx, tn.ID, l.ID, "gone", Base), "DisableListener")
		if d := f.Delivery(tn.ID, res.DeliveryIDs[0]); d.Status != licensehooks.StatusCancelled {
			t.Errorf("scheduled delivery of a disabled listener is %s, want cancelled", d.Status)
		}
	},
	"PurgeKeepsScheduled": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		_, res := f.delayed(tn.ID, codeA, Base, Base.Add(300*24*time.Hour))
		if _, err := f.S.PurgeFinished(f.Ctx, licensehooks.PurgeParams{Before: Base.Add(40 * 24 * time.Hour), Limit: 100}); err != nil {
			t.Fatal(err)
		}
		if d := f.Delivery(tn.ID, res.DeliveryIDs[0]); d.Status != licensehooks.StatusScheduled {
			t.Errorf("purge left the delivery %s", d.Status)
		}
	},
	"ReminderClaimAndLeaseExpiry": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		exp := Base.Add(10 * 24 * time.Hour)
		r7 := reminder(tn.ID, "ent_1", "entitlement.expires7days", exp, exp.Add(-7*24*time.Hour))
		r1 := reminder(tn.ID, "ent_1", "entitlement.expires1day", exp, exp.Add(-24*time.Hour))
		r0 := reminder(tn.ID, "ent_1", codeExpired, exp, exp)
		f.putSchedule(tn.ID, "ent_1", exp, r0, r7, r1)
		nd, err := f.S.NextDue(f.Ctx)
		must(t, err, "NextDue")
		if !nd.Reminder.Equal(r7.DueAt) {
			t.Errorf("NextDue.Reminder = %v, want %v", nd.Reminder, r7.DueAt)
		}
		if got := f.claimReminders("a", r7.DueAt.Add(-time.Microsecond), 10); len(got) != 0 {
			t.Fatalf("claimed %v before due", reminderIDs(got))
		}
		now := r1.DueAt
		got := f.claimReminders("a", now, 10)
		if !slices.Equal(reminderIDs(got), []string{r7.EventID, r1.EventID}) {
			t.Fatalf("claimed %v, want the two due, soonest first", reminderIDs(got))
		}
		for _, r := range got {
			if r.LeaseOwner != "a" || r.LeaseExpiresAt == nil || !r.LeaseExpiresAt.Equal(now.Add(time.Minute)) ||
				r.Status != licensehooks.ReminderScheduled || string(r.Payload) == "" {
				t.Errorf("claimed %+v", r)
			}
		}
		if again := f.claimReminders("b", now.Add(59*time.Second), 10); len(again) != 0 {
			t.Fatalf("b claimed %v under a's live lease", reminderIDs(again))
		}
		// a dies; its lease expires and b takes the reminders over.
		taken := f.claimReminders("b", now.Add(time.Minute), 10)
		if !slices.Equal(reminderIDs(taken), reminderIDs(got)) {
			t.Fatalf("after the lease expired b claimed %v, want %v", reminderIDs(taken), reminderIDs(got))
		}
		// a wakes and emits late: its lease is lost, nothing is stored.
		for _, r := range f.emit("a", now.Add(time.Minute), got) {
			if !r.Lost {
				t.Errorf("a's late emission of %s was not lost: %+v", r.EventID, r)
			}
		}
		if _, err := f.S.GetEvent(f.Ctx, tn.ID, r7.EventID); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
			t.Errorf("a lost emission stored its event (%v)", err)
		}
	},
	"ReminderEmitMakesEventAndDeliveries": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		l := f.Listener(tn.ID, []string{codeExpired})
		f.Listener(tn.ID, []string{codeA})
		exp := Base.Add(time.Hour)
		r0 := reminder(tn.ID, "ent_9", codeExpired, exp, exp)
		f.putSchedule(tn.ID, "ent_9", exp, r0)
		got := f.claimReminders("a", exp, 10)
		res := f.emit("a", exp.Add(time.Second), got)
		if len(res) != 1 || res[0].Lost || res[0].Err != nil || res[0].Duplicate || len(res[0].DeliveryIDs) != 1 {
			t.Fatalf("emit = %+v, want one event with one delivery", res)
		}
		e, err := f.S.GetEvent(f.Ctx, tn.ID, r0.EventID)
		must(t, err, "GetEvent")
		if e.Code != codeExpired || e.ResourceID != "ent_9" || string(e.Payload) != string(r0.Payload) || !e.OccurredAt.Equal(exp) {
			t.Errorf("event %+v", e)
		}
		d := f.Delivery(tn.ID, res[0].DeliveryIDs[0])
		if d.ListenerID != l.ID || d.Status != licensehooks.StatusPending {
			t.Errorf("delivery %+v", d)
		}
		_, rs, err := f.S.GetSchedule(f.Ctx, tn.ID, "ent_9")
		must(t, err, "GetSchedule")
		if len(rs) != 1 || rs[0].Status != licensehooks.ReminderSent || rs[0].SentAt == nil || !rs[0].SentAt.Equal(exp.Add(time.Second)) || rs[0].LeaseOwner != "" {
			t.Errorf("reminder after emission %+v", rs[0])
		}
		if again := f.claimReminders("b", exp.Add(time.Hour), 10); len(again) != 0 {
			t.Errorf("a sent reminder was claimed again: %v", reminderIDs(again))
		}
		if up, _, _ := f.S.ListReminders(f.Ctx, licensehooks.ReminderFilter{TenantID: tn.ID}); len(up) != 0 {
			t.Errorf("upcoming lists a sent reminder")
		}
	},
	"ReminderOfPublishedIDIsDuplicate": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeExpired})
		exp := Base.Add(time.Hour)
		r0 := reminder(tn.ID, "ent_d", codeExpired, exp, exp)
		// The event exists already (a crash after an emission that the
		// reminder's row does not show; or a repeat): no second one.
		f.PublishParams(licensehooks.PublishParams{Event: &licensehooks.Event{ID: r0.EventID, TenantID: tn.ID, Code: codeExpired,
			ResourceID: "ent_d", Payload: r0.Payload, OccurredAt: exp, CreatedAt: exp, Hash: []byte(r0.EventID)}})
		f.putSchedule(tn.ID, "ent_d", exp, r0)
		res := f.emit("a", exp, f.claimReminders("a", exp, 10))
		if len(res) != 1 || !res[0].Duplicate || res[0].Lost {
			t.Fatalf("emit = %+v, want a duplicate", res)
		}
		ds, _, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tn.ID, EventID: r0.EventID})
		must(t, err, "ListDeliveries")
		if len(ds) != 1 {
			t.Errorf("%d deliveries of the event, want 1 (none more)", len(ds))
		}
		if got := f.claimReminders("a", exp.Add(time.Hour), 10); len(got) != 0 {
			t.Errorf("the duplicate reminder is claimable again")
		}
	},
	"ReplaceOnRenewal": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		exp := Base.Add(10 * 24 * time.Hour)
		r7 := reminder(tn.ID, "ent_r", "entitlement.expires7days", exp, exp.Add(-7*24*time.Hour))
		r0 := reminder(tn.ID, "ent_r", codeExpired, exp, exp)
		if res := f.putSchedule(tn.ID, "ent_r", exp, r7, r0); !res.Created || !res.Changed {
			t.Errorf("first put = %+v, want created and changed", res)
		}
		if res := f.putSchedule(tn.ID, "ent_r", exp, r7, r0); res.Created || res.Changed {
			t.Errorf("same put again = %+v, want no change", res)
		}
		f.emit("a", r7.DueAt, f.claimReminders("a", r7.DueAt, 10)) // the 7-day notice goes out
		// Renewed a year on: the unsent expired notice is replaced; the
		// sent 7-day one stays sent.
		exp2 := exp.Add(365 * 24 * time.Hour)
		n7 := reminder(tn.ID, "ent_r", "entitlement.expires7days", exp2, exp2.Add(-7*24*time.Hour))
		n0 := reminder(tn.ID, "ent_r", codeExpired, exp2, exp2)
		if res := f.putSchedule(tn.ID, "ent_r", exp2, n7, n0); res.Created || !res.Changed {
			t.Errorf("renewal = %+v, want changed", res)
		}
		x, rs, err := f.S.GetSchedule(f.Ctx, tn.ID, "ent_r")
		must(t, err, "GetSchedule")
		if x.ExpiresAt == nil || !x.ExpiresAt.Equal(exp2) || !x.CreatedAt.Equal(Base) {
			t.Errorf("schedule %+v", x)
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.Code+"@"+r.Status)
		}
		want := []string{"entitlement.expires7days@sent", "entitlement.expires7days@scheduled", "entitlement.expired@scheduled"}
		if !slices.Equal(got, want) {
			t.Errorf("reminders after renewal %v, want %v", got, want)
		}
		if rs[1].EventID != n7.EventID || rs[2].EventID != n0.EventID || !rs[2].DueAt.Equal(exp2) {
			t.Errorf("renewed reminders %+v %+v", rs[1], rs[2])
		}
		// A late reminder is kept when stored, not added when new.
		if res, err := f.putOne(licensehooks.PutScheduleParams{
			Schedule: &licensehooks.Schedule{TenantID: tn.ID, ResourceID: "ent_r", ResourceType: "entitlement", ExpiresAt: &exp2,
				Payload: []byte(`{}`), UpdatedAt: Base},
			Reminders: []*licensehooks.Reminder{n0}, Late: []string{n7.EventID},
		}); err != nil || res.Changed {
			t.Errorf("put with the 7-day notice late = %+v, %v; want no change", res, err)
		}
		must(t, f.S.DeleteSchedule(f.Ctx, tn.ID, "ent_r"), "DeleteSchedule")
		if _, _, err := f.S.GetSchedule(f.Ctx, tn.ID, "ent_r"); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
			t.Errorf("GetSchedule after delete: %v, want ENOTFOUND", err)
		}
		if up, n, _ := f.S.ListReminders(f.Ctx, licensehooks.ReminderFilter{TenantID: tn.ID}); len(up) != 0 || n != 0 {
			t.Errorf("%d reminders upcoming after delete", n)
		}
		wantCode(t, f.S.DeleteSchedule(f.Ctx, tn.ID, "ent_r"), licensehooks.ENOTFOUND, "DeleteSchedule again")
	},
	"PutSchedulesBatchItemsStandAlone": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		exp := Base.Add(time.Hour)
		item := func(tenant, res string, at time.Time) licensehooks.PutScheduleParams {
			return licensehooks.PutScheduleParams{
				Schedule:  &licensehooks.Schedule{TenantID: tenant, ResourceID: res, ResourceType: "entitlement", ExpiresAt: &at, Payload: []byte(`{}`), UpdatedAt: Base},
				Reminders: []*licensehooks.Reminder{reminder(tenant, res, codeExpired, at, at)},
			}
		}
		later := exp.Add(time.Hour)
		res, err := f.S.PutSchedules(f.Ctx, []licensehooks.PutScheduleParams{
			item(tn.ID, "ent_a", exp), item("t_none", "ent_b", exp), item(tn.ID, "ent_c", exp), item(tn.ID, "ent_a", later),
		})
		must(t, err, "PutSchedules")
		if len(res) != 4 || res[0].Err != nil || !res[0].Created || res[2].Err != nil || res[3].Err != nil || res[3].Created || !res[3].Changed {
			t.Fatalf("results %+v", res)
		}
		wantCode(t, res[1].Err, licensehooks.ENOTFOUND, "the item of no tenant")
		_, rs, err := f.S.GetSchedule(f.Ctx, tn.ID, "ent_a")
		must(t, err, "GetSchedule")
		if len(rs) != 1 || !rs[0].DueAt.Equal(later) {
			t.Errorf("ent_a repeated in the batch: reminders %+v, want the later one alone", rs)
		}
		if _, n, _ := f.S.ListReminders(f.Ctx, licensehooks.ReminderFilter{TenantID: tn.ID}); n != 2 {
			t.Errorf("%d reminders upcoming, want 2", n)
		}
	},
	"ListSchedulesAndReminders": func(t *testing.T, f *Fixture) {
		tn, other := f.Tenant(), f.Tenant()
		for i := 1; i <= 3; i++ {
			exp := Base.Add(time.Duration(i) * 24 * time.Hour)
			res := fmt.Sprintf("ent_%d", i)
			f.putSchedule(tn.ID, res, exp, reminder(tn.ID, res, codeExpired, exp, exp))
		}
		exp := Base.Add(time.Hour)
		f.putSchedule(other.ID, "ent_1", exp, reminder(other.ID, "ent_1", codeExpired, exp, exp))
		xs, n, err := f.S.ListSchedules(f.Ctx, licensehooks.ScheduleFilter{TenantID: tn.ID, Page: licensehooks.Page{Number: 1, Size: 10}})
		must(t, err, "ListSchedules")
		if n != 3 || len(xs) != 3 {
			t.Fatalf("listed %d of %d, want 3", len(xs), n)
		}
		xs, n, err = f.S.ListSchedules(f.Ctx, licensehooks.ScheduleFilter{TenantID: tn.ID, DueBefore: Base.Add(50 * time.Hour),
			Page: licensehooks.Page{Number: 1, Size: 10}})
		must(t, err, "ListSchedules dueBefore")
		var got []string
		for _, x := range xs {
			got = append(got, x.ResourceID)
		}
		if n != 2 || !sameIDs(got, []string{"ent_1", "ent_2"}) {
			t.Errorf("due before 50h: %v of %d, want ent_1 and ent_2", got, n)
		}
		rs, n, err := f.S.ListReminders(f.Ctx, licensehooks.ReminderFilter{TenantID: tn.ID, Page: licensehooks.Page{Number: 1, Size: 2}})
		must(t, err, "ListReminders")
		if n != 3 || len(rs) != 2 || rs[0].ResourceID != "ent_1" || rs[1].ResourceID != "ent_2" {
			t.Errorf("upcoming page %v of %d, want ent_1, ent_2 of 3", reminderIDs(rs), n)
		}
		rs, n, _ = f.S.ListReminders(f.Ctx, licensehooks.ReminderFilter{TenantID: tn.ID, ResourceID: "ent_3", Page: licensehooks.Page{Number: 1, Size: 10}})
		if n != 1 || len(rs) != 1 || rs[0].ResourceID != "ent_3" {
			t.Errorf("upcoming of ent_3: %d", n)
		}
		if _, _, err := f.S.GetSchedule(f.Ctx, other.ID, "ent_2"); licensehooks.ErrorCode(err) != licensehooks.ENOTFOUND {
			t.Errorf("another tenant's schedule: %v, want ENOTFOUND", err)
		}
	},
	"SettingsRoundTrip": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		st, err := f.S.GetScheduleSettings(f.Ctx, tn.ID)
		must(t, err, "GetScheduleSettings")
		if st.ExpiryOffsets != nil || st.MaintenanceOffsets != nil {
			t.Errorf("default settings %+v, want none chosen", st)
		}
		must(t, f.S.PutScheduleSettings(f.Ctx, &licensehooks.ScheduleSettings{TenantID: tn.ID,
			ExpiryOffsets: []string{"7d", "0d"}, MaintenanceOffsets: []string{}, UpdatedAt: Base}), "PutScheduleSettings")
		st, err = f.S.GetScheduleSettings(f.Ctx, tn.ID)
		must(t, err, "GetScheduleSettings")
		if !slices.Equal(st.ExpiryOffsets, []string{"7d", "0d"}) || st.MaintenanceOffsets == nil || len(st.MaintenanceOffsets) != 0 {
			t.Errorf("settings %+v", st)
		}
		wantCode(t, f.S.PutScheduleSettings(f.Ctx, &licensehooks.ScheduleSettings{TenantID: "t_none", UpdatedAt: Base}),
			licensehooks.ENOTFOUND, "PutScheduleSettings of no tenant")
	},
	"DeletedTenantRemindersNotClaimed": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		exp := Base.Add(time.Hour)
		f.putSchedule(tn.ID, "ent_x", exp, reminder(tn.ID, "ent_x", codeExpired, exp, exp))
		must(t, f.S.DeleteTenant(f.Ctx, tn.ID, Base), "DeleteTenant")
		if got := f.claimReminders("a", exp, 10); len(got) != 0 {
			t.Errorf("claimed %v of a deleted tenant", reminderIDs(got))
		}
		_, err := f.putOne(licensehooks.PutScheduleParams{Schedule: &licensehooks.Schedule{TenantID: tn.ID,
			ResourceID: "ent_y", ResourceType: "entitlement", Payload: []byte(`{}`), UpdatedAt: Base}})
		wantCode(t, err, licensehooks.ENOTFOUND, "PutSchedule of a deleted tenant")
	},
	"TwoClaimersEmitEachOnce": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeExpired})
		const n = 60
		exp := Base.Add(time.Hour)
		for i := range n {
			res := fmt.Sprintf("ent_%02d", i)
			f.putSchedule(tn.ID, res, exp, reminder(tn.ID, res, codeExpired, exp, exp))
		}
		var mu sync.Mutex
		sent := map[string]int{}
		var wg sync.WaitGroup
		for _, owner := range []string{"a", "b"} {
			wg.Go(func() {
				for {
					rs, err := f.S.ClaimReminders(f.Ctx, licensehooks.ClaimRemindersParams{Owner: owner, Now: exp, Lease: time.Minute, Limit: 7})
					if err != nil {
						t.Errorf("%s: ClaimReminders: %v", owner, err)
						return
					}
					if len(rs) == 0 {
						return
					}
					es := make([]licensehooks.Emission, len(rs))
					for i, r := range rs {
						es[i] = licensehooks.Emission{Reminder: r, Publish: licensehooks.PublishParams{Event: &licensehooks.Event{
							ID: r.EventID, TenantID: r.TenantID, Code: r.Code, ResourceID: r.ResourceID, Payload: r.Payload,
							OccurredAt: r.DueAt, CreatedAt: exp, Hash: []byte(r.EventID)}}}
					}
					res, err := f.S.EmitReminders(f.Ctx, owner, exp, es)
					if err != nil {
						t.Errorf("%s: EmitReminders: %v", owner, err)
						return
					}
					mu.Lock()
					for _, r := range res {
						if !r.Lost && !r.Duplicate && r.Err == nil {
							sent[r.EventID] += len(r.DeliveryIDs)
						}
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(sent) != n {
			t.Errorf("%d reminders emitted, want %d", len(sent), n)
		}
		for id, c := range sent {
			if c != 1 {
				t.Errorf("reminder %s made %d deliveries, want 1", id, c)
			}
		}
		_, total, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{TenantID: tn.ID, Page: licensehooks.Page{Number: 1, Size: 1}})
		must(t, err, "ListDeliveries")
		if total != n {
			t.Errorf("%d deliveries stored, want %d", total, n)
		}
	},
}

// testRacingFirstPuts: first PUTs of one new resource with other dates, all
// at once, leave the reminders of one of them only, never a mix (which
// would send an "expired" for two dates).
func testRacingFirstPuts(t *testing.T, f *Fixture) {
	tn := f.Tenant()
	const racers = 8
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			exp := Base.Add(time.Duration(30+i) * 24 * time.Hour)
			_, err := f.S.PutSchedules(f.Ctx, []licensehooks.PutScheduleParams{{
				Schedule: &licensehooks.Schedule{TenantID: tn.ID, ResourceID: "ent_race", ResourceType: "entitlement",
					ExpiresAt: &exp, Payload: []byte(`{}`), UpdatedAt: Base},
				Reminders: []*licensehooks.Reminder{reminder(tn.ID, "ent_race", codeExpired, exp, exp)},
			}})
			if err != nil {
				t.Errorf("PutSchedules: %v", err)
			}
		})
	}
	wg.Wait()
	x, rs, err := f.S.GetSchedule(f.Ctx, tn.ID, "ent_race")
	must(t, err, "GetSchedule")
	if len(rs) != 1 || !rs[0].About.Equal(*x.ExpiresAt) {
		t.Errorf("after %d racing first PUTs: %d reminders for a schedule expiring %v; want 1, about that date", racers, len(rs), x.ExpiresAt)
	}
}
