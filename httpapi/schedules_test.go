package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"licensehooks"
)

func fieldNames(a apiError) []string {
	var out []string
	for _, v := range a.ValidationErrors {
		out = append(out, v.PropertyName)
	}
	return out
}

func reminderCodes(m scheduleModel) []string {
	var out []string
	for _, r := range *m.Reminders {
		out = append(out, r.EventCode)
	}
	return out
}

func TestSchedulesAPI(t *testing.T) {
	t.Parallel()
	e := setup(t)
	now := time.Now().UTC()
	exp := now.Add(40 * 24 * time.Hour).Truncate(time.Second)
	path := schedulesPath + "/ent_1"
	body := map[string]any{"resourceType": "entitlement", "expiresAt": exp.Format(time.RFC3339), "payload": map[string]any{"productId": "p1"}}
	r := e.do("PUT", path, credPublish, e.tenant, body)
	wantStatus(t, r, http.StatusOK)
	var put scheduleModel
	r.decode(t, &put)
	want := []string{"entitlement.expires30days", "entitlement.expires7days", "entitlement.expires1day", "entitlement.expired"}
	if got := reminderCodes(put); !slices.Equal(got, want) || put.ExpiresAt == nil || !put.ExpiresAt.Equal(exp) {
		t.Fatalf("PUT answered %s", r.body)
	}
	for _, rm := range *put.Reminders {
		if rm.Status != "scheduled" || rm.EventID != licensehooks.ReminderEventID(e.tenant, "ent_1", rm.EventCode, exp) {
			t.Errorf("reminder %+v", rm)
		}
	}
	var again scheduleModel
	e.do("PUT", path, credWebhooks, e.tenant, body).decode(t, &again)
	if (*again.Reminders)[0].EventID != (*put.Reminders)[0].EventID || !again.UpdatedAt.Equal(put.UpdatedAt) {
		t.Errorf("the same PUT again changed the schedule: %+v", again)
	}
	var got scheduleModel
	e.do("GET", path, credWebhooks, e.tenant, nil).decode(t, &got)
	if !slices.Equal(reminderCodes(got), want) || string(got.Payload) != `{"productId":"p1"}` {
		t.Errorf("GET %+v", got)
	}
	wantStatus(t, e.do("GET", path, credOther, e.other, nil), http.StatusNotFound)
	var list page[scheduleModel]
	e.do("GET", schedulesPath+"?dueBefore="+now.Add(24*time.Hour).Format(time.RFC3339), credPublish, e.tenant, nil).decode(t, &list)
	if list.ElementsTotal != 0 {
		t.Errorf("dueBefore tomorrow: %d schedules, want 0", list.ElementsTotal)
	}
	e.do("GET", schedulesPath+"?dueBefore="+now.Add(11*24*time.Hour).Format(time.RFC3339), credPublish, e.tenant, nil).decode(t, &list)
	if list.ElementsTotal != 1 || list.Items[0].ResourceID != "ent_1" || list.Items[0].Reminders != nil {
		t.Errorf("dueBefore in 11 days: %+v", list)
	}
	wantStatus(t, e.do("GET", schedulesPath+"?dueBefore=soon", credPublish, e.tenant, nil), http.StatusUnprocessableEntity)

	for _, tt := range []struct {
		name  string
		body  any
		props []string
	}{
		{"no type", map[string]any{"expiresAt": exp.Format(time.RFC3339)}, []string{"resourceType"}},
		{"bad date", map[string]any{"resourceType": "entitlement", "expiresAt": "next month"}, []string{"expiresAt"}},
		{"no dates", map[string]any{"resourceType": "entitlement"}, []string{"expiresAt"}},
		{"payload not an object", map[string]any{"resourceType": "entitlement", "expiresAt": exp.Format(time.RFC3339), "payload": []int{1}}, []string{"payload"}},
		{"other resource in body", map[string]any{"resourceId": "ent_2", "resourceType": "entitlement", "expiresAt": exp.Format(time.RFC3339)}, []string{"resourceId"}},
	} {
		r := e.do("PUT", path, credPublish, e.tenant, tt.body)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if got := fieldNames(r.apiErr(t)); !slices.Equal(got, tt.props) {
			t.Errorf("%s: fields %v, want %v", tt.name, got, tt.props)
		}
	}
	wantStatus(t, e.do("DELETE", path, credPublish, e.tenant, nil), http.StatusNoContent)
	wantStatus(t, e.do("GET", path, credPublish, e.tenant, nil), http.StatusNotFound)
	wantStatus(t, e.do("DELETE", path, credPublish, e.tenant, nil), http.StatusNotFound)
}

func TestScheduleBatchAndSettings(t *testing.T) {
	t.Parallel()
	e := setup(t)
	exp := time.Now().UTC().Add(3 * 24 * time.Hour).Format(time.RFC3339)
	r := e.do("POST", schedulesPath+"/batch", credPublish, e.tenant, map[string]any{"schedules": []any{
		map[string]any{"resourceId": "ent_a", "resourceType": "entitlement", "expiresAt": exp},
		map[string]any{"resourceId": "ent_b", "expiresAt": exp},
		"nope",
		map[string]any{"resourceId": "ent_c", "resourceType": "entitlement", "maintenanceExpiresAt": exp},
	}})
	wantStatus(t, r, http.StatusOK)
	var res struct {
		Items []struct {
			ResourceID string           `json:"resourceId"`
			Reminders  *[]reminderModel `json:"reminders"`
			Error      *apiError        `json:"error"`
		} `json:"items"`
	}
	r.decode(t, &res)
	if len(res.Items) != 4 || res.Items[0].Error != nil || len(*res.Items[0].Reminders) != 2 || res.Items[3].Error != nil ||
		(*res.Items[3].Reminders)[0].EventCode != "entitlement.maintenance.expires1day" {
		t.Fatalf("batch %s", r.body)
	}
	if res.Items[1].Error == nil || !slices.Equal(fieldNames(*res.Items[1].Error), []string{"schedules[1].resourceType"}) || res.Items[1].ResourceID != "ent_b" {
		t.Errorf("item 1 %s", r.body)
	}
	if res.Items[2].Error == nil || !slices.Equal(fieldNames(*res.Items[2].Error), []string{"schedules[2]"}) {
		t.Errorf("item 2 %s", r.body)
	}
	wantStatus(t, e.do("POST", schedulesPath+"/batch", credPublish, e.tenant, map[string]any{"schedules": []any{}}), http.StatusUnprocessableEntity)

	r = e.do("PUT", "/api/v1/account/schedules-settings", credWebhooks, e.tenant, map[string]any{"expiryOffsets": []string{"14d"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if a := r.apiErr(t); !slices.Equal(fieldNames(a), []string{"expiryOffsets[0]"}) || !strings.Contains(a.Error, "30d, 7d, 1d, 0d") {
		t.Errorf("an offset with no code: %s", r.body)
	}
	r = e.do("PUT", "/api/v1/account/schedules-settings", credWebhooks, e.tenant, map[string]any{"expiryOffsets": []string{"0d"}})
	wantStatus(t, r, http.StatusOK)
	var st scheduleSettingsModel
	e.do("GET", "/api/v1/account/schedules-settings", credPublish, e.tenant, nil).decode(t, &st)
	if !slices.Equal(st.ExpiryOffsets, []string{"0d"}) || len(st.MaintenanceOffsets) != 4 {
		t.Errorf("settings %+v", st)
	}
	var one scheduleModel
	e.do("PUT", schedulesPath+"/ent_d", credPublish, e.tenant, map[string]any{"resourceType": "entitlement", "expiresAt": exp}).decode(t, &one)
	if got := reminderCodes(one); !slices.Equal(got, []string{"entitlement.expired"}) {
		t.Errorf("with offsets [0d]: %v", got)
	}
}

func TestDelayedEventAndCancel(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.createListener("customer.created")
	at := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	ev := func(deliverAt string) map[string]any {
		return map[string]any{"eventCode": "customer.created", "resourceId": "c", "payload": map[string]any{"customerId": "c", "name": "N"}, "deliverAt": deliverAt}
	}
	for _, bad := range []string{time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "tomorrow", time.Now().AddDate(2, 0, 0).UTC().Format(time.RFC3339)} {
		r := e.do("POST", "/api/v1/events", credPublish, e.tenant, ev(bad))
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if got := fieldNames(r.apiErr(t)); !slices.Equal(got, []string{"deliverAt"}) {
			t.Errorf("deliverAt %s: fields %v", bad, got)
		}
	}
	r := e.do("POST", "/api/v1/events", credPublish, e.tenant, ev(at.Format(time.RFC3339)))
	wantStatus(t, r, http.StatusAccepted)
	var pub publishResponse
	r.decode(t, &pub)
	var d deliveryModel
	e.as("GET", deliveriesDir+"/"+pub.Deliveries[0], nil).decode(t, &d)
	if d.Status != "scheduled" || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(at) {
		t.Fatalf("delivery %+v, want scheduled for %v", d, at)
	}
	var dp page[deliveryModel]
	e.as("GET", deliveriesDir+"?status=scheduled", nil).decode(t, &dp)
	if dp.ElementsTotal != 1 {
		t.Errorf("%d scheduled deliveries listed, want 1", dp.ElementsTotal)
	}
	r = e.do("POST", "/api/v1/account/events/"+pub.EventID+"/cancel", credPublish, e.tenant, nil)
	wantStatus(t, r, http.StatusOK)
	var cancelled eventModel
	r.decode(t, &cancelled)
	if cancelled.Deliveries == nil || len(*cancelled.Deliveries) != 1 || (*cancelled.Deliveries)[0].Status != "cancelled" {
		t.Errorf("cancel answered %s", r.body)
	}
	wantStatus(t, e.do("POST", "/api/v1/account/events/"+pub.EventID+"/cancel", credPublish, e.tenant, nil), http.StatusConflict)
	wantStatus(t, e.do("POST", "/api/v1/account/events/event_none/cancel", credPublish, e.tenant, nil), http.StatusNotFound)
	now := e.publish("")
	r = e.do("POST", "/api/v1/account/events/"+now.EventID+"/cancel", credWebhooks, e.tenant, nil)
	wantStatus(t, r, http.StatusConflict)
	if a := r.apiErr(t); !strings.Contains(a.Error, "no scheduled delivery") {
		t.Errorf("409 message %q", a.Error)
	}
}
