package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"licensehooks"
	"licensehooks/service"
)

const schedulesPath = "/api/v1/account/schedules"

// maxScheduleBatchBytes bounds a batch of schedules (1,000 items, each
// payload at most 16 KiB).
const maxScheduleBatchBytes = 17 << 20

// scheduleRequest is the body of PUT /api/v1/account/schedules/{resourceId}
// and one item of the batch (which names resourceId in the item).
type scheduleRequest struct {
	ResourceID           string          `json:"resourceId"`
	ResourceType         string          `json:"resourceType"`
	ExpiresAt            *string         `json:"expiresAt"`
	MaintenanceExpiresAt *string         `json:"maintenanceExpiresAt"`
	Payload              json.RawMessage `json:"payload"`
}

// reminderModel is one reminder of a schedule.
type reminderModel struct {
	EventID    string     `json:"eventId"`
	ResourceID string     `json:"resourceId"`
	EventCode  string     `json:"eventCode"`
	DueAt      time.Time  `json:"dueAt"`
	Status     string     `json:"status"`
	SentAt     *time.Time `json:"sentAt,omitempty"`
}

// scheduleModel is a schedule; the detail and the PUT answer add its
// reminders.
type scheduleModel struct {
	ResourceID           string           `json:"resourceId"`
	ResourceType         string           `json:"resourceType"`
	ExpiresAt            *time.Time       `json:"expiresAt,omitempty"`
	MaintenanceExpiresAt *time.Time       `json:"maintenanceExpiresAt,omitempty"`
	Payload              json.RawMessage  `json:"payload"`
	CreatedAt            time.Time        `json:"createdAt"`
	UpdatedAt            time.Time        `json:"updatedAt"`
	Reminders            *[]reminderModel `json:"reminders,omitempty"`
}

func toReminder(r *licensehooks.Reminder) reminderModel {
	return reminderModel{EventID: r.EventID, ResourceID: r.ResourceID, EventCode: r.Code, DueAt: r.DueAt, Status: r.Status, SentAt: r.SentAt}
}

func toSchedule(x *licensehooks.Schedule, rs []*licensehooks.Reminder, withReminders bool) scheduleModel {
	m := scheduleModel{ResourceID: x.ResourceID, ResourceType: x.ResourceType, ExpiresAt: x.ExpiresAt,
		MaintenanceExpiresAt: x.MaintenanceExpiresAt, Payload: x.Payload, CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt}
	if len(m.Payload) == 0 {
		m.Payload = json.RawMessage("{}")
	}
	if withReminders {
		list := make([]reminderModel, len(rs))
		for i, r := range rs {
			list[i] = toReminder(r)
		}
		m.Reminders = &list
	}
	return m
}

// decodeSchedule decodes one schedule; bad dates are EINVALID on their
// field, the service validates the rest.
func decodeSchedule(b []byte) (service.ScheduleInput, error) {
	var req scheduleRequest
	if err := unmarshal(b, &req); err != nil {
		return service.ScheduleInput{}, err
	}
	in := service.ScheduleInput{ResourceID: req.ResourceID, ResourceType: req.ResourceType, Payload: req.Payload}
	var errs []licensehooks.FieldError
	for _, d := range []struct {
		name string
		v    *string
		dst  **time.Time
	}{{"expiresAt", req.ExpiresAt, &in.ExpiresAt}, {"maintenanceExpiresAt", req.MaintenanceExpiresAt, &in.MaintenanceExpiresAt}} {
		if d.v == nil || *d.v == "" {
			continue
		}
		t, ferr := timeField(d.name, *d.v)
		if ferr != nil {
			errs = append(errs, *ferr)
			continue
		}
		*d.dst = &t
	}
	if len(errs) > 0 {
		return in, licensehooks.Invalid(errs...)
	}
	return in, nil
}

// putSchedule stores one entitlement's schedule: 200 with its reminders.
func (s *Server) putSchedule(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := readBody(w, r, maxBodyBytes)
	if err != nil {
		return err
	}
	in, err := decodeSchedule(b)
	if err != nil {
		return err
	}
	id := r.PathValue("resourceId")
	if in.ResourceID != "" && in.ResourceID != id {
		return licensehooks.Invalid(licensehooks.FieldError{Field: "resourceId", Code: "mismatch",
			Message: fmt.Sprintf("resourceId %q in the body differs from %q in the path; leave it out of the body.", in.ResourceID, id)})
	}
	in.ResourceID = id
	v, err := s.cfg.Service.PutSchedule(r.Context(), c.TenantID, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSchedule(v.Schedule, v.Reminders, true))
	return nil
}

// putSchedules stores up to 1,000 schedules in one call: 200 with one item
// per schedule, in order, either the schedule with the reminders it will
// send or its ApiError.
func (s *Server) putSchedules(w http.ResponseWriter, r *http.Request, c *call) error {
	list, err := readBatch(w, r, maxScheduleBatchBytes, "schedules", "schedule", service.MaxScheduleBatch)
	if err != nil {
		return err
	}
	items := make([]any, len(list))
	var inputs []service.ScheduleInput
	var index []int
	for i, raw := range list {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			items[i] = scheduleFailure("", itemError("schedules", i, licensehooks.Invalid(licensehooks.FieldError{Code: "invalid_type",
				Message: fmt.Sprintf("schedules[%d] must be a schedule object, not %s.", i, jsonType(t))})))
			continue
		}
		in, err := decodeSchedule(raw)
		if err != nil {
			items[i] = scheduleFailure(in.ResourceID, itemError("schedules", i, err))
			continue
		}
		inputs = append(inputs, in)
		index = append(index, i)
	}
	res, err := s.cfg.Service.PutSchedules(r.Context(), c.TenantID, inputs)
	if err != nil {
		return err
	}
	for j, sr := range res {
		i := index[j]
		if sr.Err != nil {
			items[i] = scheduleFailure(inputs[j].ResourceID, itemError("schedules", i, sr.Err))
			continue
		}
		items[i] = toSchedule(sr.View.Schedule, sr.View.Reminders, true)
	}
	writeJSON(w, http.StatusOK, struct {
		Items []any `json:"items"`
	}{items})
	return nil
}

type scheduleFailureModel struct {
	ResourceID string   `json:"resourceId,omitempty"`
	Error      apiError `json:"error"`
}

func scheduleFailure(resourceID string, err error) scheduleFailureModel {
	_, body := toAPIError(err)
	return scheduleFailureModel{ResourceID: resourceID, Error: body}
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request, c *call) error {
	v, err := s.cfg.Service.GetSchedule(r.Context(), c.TenantID, r.PathValue("resourceId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSchedule(v.Schedule, v.Reminders, true))
	return nil
}

// listSchedules answers a page of schedules, newest first; dueBefore keeps
// those with a reminder not yet sent due before it.
func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return err
	}
	f := licensehooks.ScheduleFilter{TenantID: c.TenantID, Page: p}
	var ferr *licensehooks.FieldError
	if f.DueBefore, ferr = timeField("dueBefore", q.Get("dueBefore")); ferr != nil {
		return licensehooks.Invalid(*ferr)
	}
	xs, total, err := s.cfg.Store.ListSchedules(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]scheduleModel, len(xs))
	for i, x := range xs {
		items[i] = toSchedule(x, nil, false)
	}
	writeJSON(w, http.StatusOK, newPage(items, p, total))
	return nil
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.cfg.Service.DeleteSchedule(r.Context(), c.TenantID, r.PathValue("resourceId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// scheduleSettingsModel is a tenant's reminder offsets.
type scheduleSettingsModel struct {
	ExpiryOffsets      []string `json:"expiryOffsets"`
	MaintenanceOffsets []string `json:"maintenanceOffsets"`
}

func (s *Server) getScheduleSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	st, err := s.cfg.Service.GetScheduleSettings(r.Context(), c.TenantID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, scheduleSettingsModel{ExpiryOffsets: st.ExpiryOffsets, MaintenanceOffsets: st.MaintenanceOffsets})
	return nil
}

func (s *Server) putScheduleSettings(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		ExpiryOffsets      []string `json:"expiryOffsets"`
		MaintenanceOffsets []string `json:"maintenanceOffsets"`
	}
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	if _, err := s.cfg.Service.PutScheduleSettings(r.Context(), c.TenantID, service.ScheduleSettingsInput{
		ExpiryOffsets: req.ExpiryOffsets, MaintenanceOffsets: req.MaintenanceOffsets}); err != nil {
		return err
	}
	return s.getScheduleSettings(w, r, c)
}

// cancelEvent cancels a delayed event whose deliveries are still
// scheduled: 200 with the event and its (cancelled) deliveries.
func (s *Server) cancelEvent(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, err := s.cfg.Service.CancelEvent(r.Context(), c.TenantID, r.PathValue("eventId")); err != nil {
		return err
	}
	return s.getEvent(w, r, c)
}
