package storetest

import (
	"slices"
	"testing"
	"time"

	"licensehooks"
)

var logTests = map[string]func(t *testing.T, f *Fixture){
	"ListDeliveriesFilters": testListDeliveries,
	"ListDeliveriesPaging":  testListDeliveriesPaging,
	"GetDeliveryTenant": func(t *testing.T, f *Fixture) {
		tn, other := f.Tenant(), f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		_, res := f.Publish(tn.ID, codeA, Base)
		_, err := f.S.GetDelivery(f.Ctx, other.ID, res.DeliveryIDs[0])
		wantCode(t, err, licensehooks.ENOTFOUND, "GetDelivery by another tenant")
		_, err = f.S.GetDelivery(f.Ctx, tn.ID, "dlv_missing")
		wantCode(t, err, licensehooks.ENOTFOUND, "GetDelivery of a missing id")
		_, err = f.S.ListAttempts(f.Ctx, other.ID, res.DeliveryIDs[0])
		wantCode(t, err, licensehooks.ENOTFOUND, "ListAttempts by another tenant")
		atts, err := f.S.ListAttempts(f.Ctx, tn.ID, res.DeliveryIDs[0])
		if err != nil || len(atts) != 0 {
			t.Errorf("ListAttempts of a delivery never tried: %d, %v", len(atts), err)
		}
	},
	"AttemptsRoundTrip": func(t *testing.T, f *Fixture) {
		tn := f.Tenant()
		f.Listener(tn.ID, []string{codeA})
		_, res := f.Publish(tn.ID, codeA, Base)
		id := res.DeliveryIDs[0]
		// Recorded newest first, listed oldest first.
		c, err := f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{TenantID: tn.ID, DeliveryID: id, Owner: "w", Now: Base, Lease: time.Minute})
		must(t, err, "ClaimDelivery")
		late := f.Attempt(c.Delivery, Base.Add(time.Hour), 0)
		late.ErrorKind, late.Error = licensehooks.KindTimeout, "no answer within 15s"
		late.Duration = 15 * time.Second
		late.RequestHeaders = nil
		must(t, f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{{Attempt: late, Owner: "w"}}), "RecordOutcomes")
		c, err = f.S.ClaimDelivery(f.Ctx, licensehooks.ClaimOneParams{TenantID: tn.ID, DeliveryID: id, Owner: "w", Now: Base, Lease: time.Minute})
		must(t, err, "ClaimDelivery")
		early := f.Attempt(c.Delivery, Base.Add(time.Minute), 418)
		early.ResponseBody = make([]byte, licensehooks.ResponseBodyLimit)
		for i := range early.ResponseBody {
			early.ResponseBody[i] = byte(i)
		}
		early.RequestHeaders.Add("N-Signature", "abc==")
		must(t, f.S.RecordOutcomes(f.Ctx, []licensehooks.Outcome{{Attempt: early, Owner: "w"}}), "RecordOutcomes")
		atts, err := f.S.ListAttempts(f.Ctx, tn.ID, id)
		must(t, err, "ListAttempts")
		if len(atts) != 2 {
			t.Fatalf("%d attempts, want 2", len(atts))
		}
		checkAttempt(t, atts[0], early)
		checkAttempt(t, atts[1], late)
	},
	"ListEvents": testListEvents,
	"SampleAttempts": func(t *testing.T, f *Fixture) {
		tn, other := f.Tenant(), f.Tenant()
		l1 := f.Listener(tn.ID, []string{codeA})
		l2 := f.Listener(tn.ID, []string{codeA})
		f.Listener(other.ID, []string{codeA})
		_, r1 := f.Publish(tn.ID, codeA, Base)
		_, r2 := f.Publish(tn.ID, codeA, Base)
		_, ro := f.Publish(other.ID, codeA, Base)
		byListener := map[string][]string{}
		for _, id := range append(r1.DeliveryIDs, r2.DeliveryIDs...) {
			d := f.Delivery(tn.ID, id)
			byListener[d.ListenerID] = append(byListener[d.ListenerID], id)
		}
		f.Finish(tn.ID, byListener[l1.ID][0], licensehooks.StatusSucceeded, Base.Add(1*time.Minute))
		f.Finish(tn.ID, byListener[l1.ID][1], licensehooks.StatusFailed, Base.Add(3*time.Minute))
		f.Finish(tn.ID, byListener[l2.ID][0], licensehooks.StatusSucceeded, Base.Add(2*time.Minute))
		f.Finish(tn.ID, byListener[l2.ID][1], licensehooks.StatusSucceeded, Base.Add(-time.Hour))
		f.Finish(other.ID, ro.DeliveryIDs[0], licensehooks.StatusSucceeded, Base.Add(time.Minute))

		all, err := f.S.SampleAttempts(f.Ctx, licensehooks.SampleParams{TenantID: tn.ID, Since: Base, Limit: 100})
		must(t, err, "SampleAttempts")
		if len(all) != 3 {
			t.Fatalf("%d samples, want 3 (since Base, this tenant)", len(all))
		}
		if !all[0].StartedAt.Equal(Base.Add(3*time.Minute)) || all[0].Succeeded || all[0].StatusCode != 500 ||
			all[0].ErrorKind != licensehooks.KindHTTPStatus || all[0].ListenerID != l1.ID || all[0].Duration != 12*time.Millisecond {
			t.Errorf("newest sample: %+v", all[0])
		}
		if !all[1].StartedAt.Equal(Base.Add(2*time.Minute)) || !all[1].Succeeded || all[2].ListenerID != l1.ID {
			t.Errorf("samples not newest first: %+v", all)
		}
		one, err := f.S.SampleAttempts(f.Ctx, licensehooks.SampleParams{TenantID: tn.ID, ListenerID: l2.ID, Since: Base.Add(-2 * time.Hour), Limit: 100})
		must(t, err, "SampleAttempts")
		if len(one) != 2 || one[0].ListenerID != l2.ID || one[1].ListenerID != l2.ID {
			t.Errorf("listener samples: %+v", one)
		}
		few, err := f.S.SampleAttempts(f.Ctx, licensehooks.SampleParams{TenantID: tn.ID, Since: Base.Add(-2 * time.Hour), Limit: 2})
		must(t, err, "SampleAttempts")
		if len(few) != 2 || !few[0].StartedAt.Equal(Base.Add(3*time.Minute)) {
			t.Errorf("limited samples: %+v", few)
		}
	},
}

// deliveryLog is a small log: four events a minute apart (codes A, B, A,
// A) to listener la (subscribed to A and B, 4 deliveries) and lb (A only,
// 3), la's delivery of the newest event failed, and another tenant's
// delivery beside them.
type deliveryLog struct {
	tenant string
	la, lb string
	events []*licensehooks.Event
	failed string
}

func buildDeliveryLog(f *Fixture) deliveryLog {
	f.T.Helper()
	tn, other := f.Tenant(), f.Tenant()
	lg := deliveryLog{tenant: tn.ID}
	lg.la = f.Listener(tn.ID, []string{codeA, codeB}).ID
	lg.lb = f.Listener(tn.ID, []string{codeA}).ID
	f.Listener(other.ID, []string{codeA})
	f.Publish(other.ID, codeA, Base.Add(time.Minute))
	var newest []string
	for i, code := range []string{codeA, codeB, codeA, codeA} {
		e, res := f.Publish(tn.ID, code, Base.Add(time.Duration(i)*time.Minute))
		lg.events = append(lg.events, e)
		newest = res.DeliveryIDs
	}
	for _, id := range newest {
		if f.Delivery(tn.ID, id).ListenerID == lg.la {
			lg.failed = id
		}
	}
	f.Finish(tn.ID, lg.failed, licensehooks.StatusFailed, Base.Add(time.Hour))
	return lg
}

// testListDeliveries checks every filter of the delivery log, the totals
// and the newest-first order.
func testListDeliveries(t *testing.T, f *Fixture) {
	lg := buildDeliveryLog(f)
	type D = licensehooks.DeliveryFilter
	cases := []struct {
		name   string
		filter D
		want   int
		check  func(d *licensehooks.Delivery) bool
	}{
		{"tenant", D{}, 7, nil},
		{"listener", D{ListenerID: lg.lb}, 3, func(d *licensehooks.Delivery) bool { return d.ListenerID == lg.lb }},
		{"status", D{Status: licensehooks.StatusFailed}, 1, func(d *licensehooks.Delivery) bool { return d.ID == lg.failed }},
		{"status pending", D{Status: licensehooks.StatusPending}, 6, nil},
		{"code", D{EventCode: codeB}, 1, func(d *licensehooks.Delivery) bool { return d.ListenerID == lg.la }},
		{"event", D{EventID: lg.events[2].ID}, 2, func(d *licensehooks.Delivery) bool { return d.EventID == lg.events[2].ID }},
		{"since inclusive", D{Since: Base.Add(2 * time.Minute)}, 4, nil},
		{"until exclusive", D{Until: Base.Add(2 * time.Minute)}, 3, nil},
		{"range", D{Since: Base.Add(time.Minute), Until: Base.Add(3 * time.Minute)}, 3, nil},
		{"combined", D{ListenerID: lg.la, EventCode: codeA, Status: licensehooks.StatusPending}, 2, nil},
		{"none", D{ListenerID: "whl_missing"}, 0, nil},
	}
	for _, c := range cases {
		c.filter.TenantID, c.filter.Page = lg.tenant, licensehooks.Page{Number: 1, Size: 100}
		list, total, err := f.S.ListDeliveries(f.Ctx, c.filter)
		must(t, err, "ListDeliveries "+c.name)
		if total != c.want || len(list) != c.want {
			t.Errorf("%s: %d rows, total %d, want %d", c.name, len(list), total, c.want)
		}
		for i, d := range list {
			if d.TenantID != lg.tenant || (c.check != nil && !c.check(d)) {
				t.Errorf("%s: unexpected delivery %+v", c.name, d)
			}
			if i > 0 && d.CreatedAt.After(list[i-1].CreatedAt) {
				t.Errorf("%s: not newest first", c.name)
			}
		}
	}
}

// testListDeliveriesPaging pages over one listener's deliveries.
func testListDeliveriesPaging(t *testing.T, f *Fixture) {
	lg := buildDeliveryLog(f)
	var got []string
	for n := 1; n <= 3; n++ {
		list, total, err := f.S.ListDeliveries(f.Ctx, licensehooks.DeliveryFilter{
			TenantID: lg.tenant, ListenerID: lg.la, Page: licensehooks.Page{Number: n, Size: 3},
		})
		must(t, err, "ListDeliveries page")
		if total != 4 {
			t.Errorf("page %d total %d, want 4", n, total)
		}
		for _, d := range list {
			got = append(got, d.EventID)
		}
	}
	want := []string{lg.events[3].ID, lg.events[2].ID, lg.events[1].ID, lg.events[0].ID}
	if !slices.Equal(got, want) {
		t.Errorf("paged events %v, want newest first %v", got, want)
	}
}

// testListEvents checks the event log's filters, paging and order.
func testListEvents(t *testing.T, f *Fixture) {
	tn, other := f.Tenant(), f.Tenant()
	f.Publish(other.ID, codeA, Base)
	var ids []string
	for i, code := range []string{codeA, codeB, codeA, codeC, codeA} {
		e := f.Event(tn.ID, code, Base.Add(time.Duration(i)*time.Minute))
		if i%2 == 1 {
			e.ResourceID = "ent_about"
		}
		f.PublishParams(licensehooks.PublishParams{Event: e})
		ids = append(ids, e.ID)
	}
	ofOther := f.Event(other.ID, codeA, Base)
	ofOther.ResourceID = "ent_about"
	f.PublishParams(licensehooks.PublishParams{Event: ofOther})
	_, err := f.S.GetEvent(f.Ctx, other.ID, ids[0])
	wantCode(t, err, licensehooks.ENOTFOUND, "GetEvent by another tenant")

	cases := []struct {
		name   string
		filter licensehooks.EventFilter
		want   []string
		total  int
	}{
		{"all", licensehooks.EventFilter{Page: licensehooks.Page{Number: 1, Size: 10}}, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, 5},
		{"code", licensehooks.EventFilter{Code: codeA, Page: licensehooks.Page{Number: 1, Size: 10}}, []string{ids[4], ids[2], ids[0]}, 3},
		{"since until", licensehooks.EventFilter{Since: Base.Add(time.Minute), Until: Base.Add(3 * time.Minute), Page: licensehooks.Page{Number: 1, Size: 10}}, []string{ids[2], ids[1]}, 2},
		{"page 2", licensehooks.EventFilter{Page: licensehooks.Page{Number: 2, Size: 2}}, []string{ids[2], ids[1]}, 5},
		{"resource", licensehooks.EventFilter{ResourceID: "ent_about", Page: licensehooks.Page{Number: 1, Size: 10}}, []string{ids[3], ids[1]}, 2},
		{"resource and code", licensehooks.EventFilter{ResourceID: "ent_about", Code: codeB, Page: licensehooks.Page{Number: 1, Size: 10}}, []string{ids[1]}, 1},
		{"past the end", licensehooks.EventFilter{Page: licensehooks.Page{Number: 9, Size: 2}}, nil, 5},
	}
	for _, c := range cases {
		c.filter.TenantID = tn.ID
		list, total, err := f.S.ListEvents(f.Ctx, c.filter)
		must(t, err, "ListEvents "+c.name)
		var got []string
		for _, e := range list {
			got = append(got, e.ID)
		}
		if total != c.total || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v total %d, want %v total %d", c.name, got, total, c.want, c.total)
		}
	}
}
