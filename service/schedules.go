package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"licensehooks"
)

// Schedule limits.
const (
	MaxScheduleBatch   = 1000
	MaxSchedulePayload = 16 << 10
	// LateExpiredGrace is how long after expiresAt a schedule put late
	// still sends the expired notice (the platform learned late).
	LateExpiredGrace = 24 * time.Hour
	// maxExpiryAhead bounds the dates a schedule takes (a typo like year
	// 20300 would otherwise be stored).
	maxExpiryAhead = 100 * 365 * 24 * time.Hour
)

// ResourceEntitlement is the one resource type schedules take.
const ResourceEntitlement = "entitlement"

// offset is one reminder before an expiry: its name in settings, how long
// before, and the code it sends.
type offset struct {
	name string
	days int
}

// offsets are the reminder offsets the catalog has codes for, in the order
// they fall due.
var offsets = []offset{{"30d", 30}, {"7d", 7}, {"1d", 1}, {"0d", 0}}

// DefaultOffsets are the offsets of a tenant that chose none.
var DefaultOffsets = []string{"30d", "7d", "1d", "0d"}

// reminderCode is the event code of a reminder days before the expiry of
// the entitlement (maintenance false) or its maintenance.
func reminderCode(maintenance bool, days int) string {
	base := "entitlement."
	if maintenance {
		base = "entitlement.maintenance."
	}
	switch days {
	case 0:
		return base + "expired"
	case 1:
		return base + "expires1day"
	default:
		return fmt.Sprintf("%sexpires%ddays", base, days)
	}
}

// ScheduleInput is one PUT of a schedule.
type ScheduleInput struct {
	ResourceID           string
	ResourceType         string
	ExpiresAt            *time.Time
	MaintenanceExpiresAt *time.Time
	Payload              json.RawMessage
}

// ScheduleView is a schedule with its reminders, soonest due first.
type ScheduleView struct {
	Schedule  *licensehooks.Schedule
	Reminders []*licensehooks.Reminder
	Created   bool
}

// ScheduleResult is the outcome of one item of PutSchedules.
type ScheduleResult struct {
	View *ScheduleView
	Err  error
}

// PutSchedule stores the schedule of one entitlement and answers it with
// the reminders it will send.
func (s *Service) PutSchedule(ctx context.Context, tenantID string, in ScheduleInput) (*ScheduleView, error) {
	res, err := s.PutSchedules(ctx, tenantID, []ScheduleInput{in})
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, res[0].Err
	}
	// Read back: the answer shows the reminders already sent as sent.
	v, err := s.GetSchedule(ctx, tenantID, in.ResourceID)
	if err != nil {
		return nil, err
	}
	v.Created = res[0].View.Created
	return v, nil
}

// PutSchedules stores up to MaxScheduleBatch schedules in one transaction,
// each valid or refused on its own. A repeated PUT with the same dates
// changes nothing; other dates (a renewal) replace every reminder not yet
// sent.
func (s *Service) PutSchedules(ctx context.Context, tenantID string, in []ScheduleInput) ([]ScheduleResult, error) {
	results := make([]ScheduleResult, len(in))
	settings, err := s.Store.GetScheduleSettings(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var params []licensehooks.PutScheduleParams
	var index []int
	for i, item := range in {
		p, err := s.planSchedule(tenantID, item, settings, now)
		if err != nil {
			results[i].Err = err
			continue
		}
		params = append(params, p)
		index = append(index, i)
	}
	if len(params) == 0 {
		return results, nil
	}
	stored, err := s.Store.PutSchedules(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("put %d schedules: %w", len(params), err)
	}
	poke := false
	for j, r := range stored {
		i := index[j]
		if r.Err != nil {
			results[i].Err = r.Err
			continue
		}
		poke = poke || r.Changed
		results[i].View = &ScheduleView{Schedule: params[j].Schedule, Reminders: sentAndDue(params[j], r.Sent), Created: r.Created}
	}
	if poke && s.Scheduler != nil {
		s.Scheduler.Poke()
	}
	return results, nil
}

// sentAndDue is what a batch PUT answers, without a second read: the
// reminders the dates give, those already sent (sent, event ids) as sent
// and the others as scheduled.
func sentAndDue(p licensehooks.PutScheduleParams, sent []string) []*licensehooks.Reminder {
	out := make([]*licensehooks.Reminder, len(p.Reminders))
	for i, r := range p.Reminders {
		c := *r
		c.Status = licensehooks.ReminderScheduled
		if slices.Contains(sent, r.EventID) {
			c.Status = licensehooks.ReminderSent
		}
		out[i] = &c
	}
	return out
}

// planSchedule validates one input and derives its reminders.
func (s *Service) planSchedule(tenantID string, in ScheduleInput, settings *licensehooks.ScheduleSettings, now time.Time) (licensehooks.PutScheduleParams, error) {
	var errs []licensehooks.FieldError
	errs = append(errs, checkResourceID(in.ResourceID)...)
	switch {
	case in.ResourceType == "":
		errs = append(errs, field("resourceType", "required", `resourceType is required: "entitlement".`))
	case in.ResourceType != ResourceEntitlement:
		errs = append(errs, field("resourceType", "unknown_resource_type", `resourceType must be "entitlement", not %q.`, in.ResourceType))
	}
	if in.ExpiresAt == nil && in.MaintenanceExpiresAt == nil {
		errs = append(errs, field("expiresAt", "required", "Give expiresAt, maintenanceExpiresAt or both: the reminders derive from them."))
	}
	for _, d := range []struct {
		name string
		t    *time.Time
	}{{"expiresAt", in.ExpiresAt}, {"maintenanceExpiresAt", in.MaintenanceExpiresAt}} {
		if d.t != nil && d.t.Sub(now) > maxExpiryAhead {
			errs = append(errs, field(d.name, "too_far", "%s is more than 100 years ahead; check the year.", d.name))
		}
	}
	payload, perr := schedulePayload(in.Payload)
	if perr != nil {
		errs = append(errs, *perr)
	}
	if len(errs) > 0 {
		return licensehooks.PutScheduleParams{}, licensehooks.Invalid(errs...)
	}
	x := &licensehooks.Schedule{
		TenantID: tenantID, ResourceID: in.ResourceID, ResourceType: in.ResourceType,
		ExpiresAt: utcPtr(in.ExpiresAt), MaintenanceExpiresAt: utcPtr(in.MaintenanceExpiresAt),
		Payload: payload, UpdatedAt: now,
	}
	p := licensehooks.PutScheduleParams{Schedule: x}
	for _, kind := range []struct {
		maintenance bool
		at          *time.Time
		chosen      []string
	}{{false, x.ExpiresAt, settings.ExpiryOffsets}, {true, x.MaintenanceExpiresAt, settings.MaintenanceOffsets}} {
		if kind.at == nil {
			continue
		}
		chosen := kind.chosen
		if chosen == nil {
			chosen = DefaultOffsets
		}
		for _, o := range offsets {
			if !slices.Contains(chosen, o.name) {
				continue
			}
			r, err := s.reminder(x, kind.maintenance, *kind.at, o.days)
			if err != nil {
				return p, err
			}
			due := r.DueAt
			late := due.Before(now)
			if o.days == 0 && late && now.Sub(due) < LateExpiredGrace {
				late = false // the platform learned late: the expired notice goes at once
			}
			if late {
				p.Late = append(p.Late, r.EventID)
				continue
			}
			p.Reminders = append(p.Reminders, r)
		}
	}
	slices.SortStableFunc(p.Reminders, func(a, b *licensehooks.Reminder) int { return a.DueAt.Compare(b.DueAt) })
	return p, nil
}

// reminder builds one reminder of x, its payload checked against the
// catalog's schema for its code.
func (s *Service) reminder(x *licensehooks.Schedule, maintenance bool, at time.Time, days int) (*licensehooks.Reminder, error) {
	code := reminderCode(maintenance, days)
	var fields map[string]any
	d := json.NewDecoder(bytes.NewReader(x.Payload))
	d.UseNumber() // numbers pass through as written
	if err := d.Decode(&fields); err != nil {
		return nil, fmt.Errorf("schedule payload: %w", err)
	}
	fields["entitlementId"] = x.ResourceID
	fields["daysToExpire"] = days
	if x.ExpiresAt != nil {
		fields["expiresAt"] = x.ExpiresAt.Format(time.RFC3339Nano)
	}
	if x.MaintenanceExpiresAt != nil {
		fields["maintenanceExpiresAt"] = x.MaintenanceExpiresAt.Format(time.RFC3339Nano)
		if maintenance && days == 0 {
			fields["maintenanceExpiredAt"] = x.MaintenanceExpiresAt.Format(time.RFC3339Nano)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(fields); err != nil {
		return nil, fmt.Errorf("reminder payload: %w", err)
	}
	payload := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if err := s.Catalog.Validate(code, payload); err != nil {
		var le *licensehooks.Error
		if errors.As(err, &le) && len(le.Fields) > 0 {
			return nil, licensehooks.Invalid(le.Fields...)
		}
		return nil, licensehooks.Invalid(field("payload", "invalid_payload", "The %s notice's payload is invalid: %s", code, licensehooks.ErrorMessage(err)))
	}
	return &licensehooks.Reminder{
		TenantID: x.TenantID, ResourceID: x.ResourceID, Code: code, About: at,
		DueAt:   at.Add(-time.Duration(days) * 24 * time.Hour),
		EventID: licensehooks.ReminderEventID(x.TenantID, x.ResourceID, code, at),
		Payload: payload, Status: licensehooks.ReminderScheduled,
	}, nil
}

// schedulePayload checks the caller's payload: a JSON object (or nothing),
// compacted.
func schedulePayload(p json.RawMessage) ([]byte, *licensehooks.FieldError) {
	t := bytes.TrimSpace(p)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return []byte("{}"), nil
	}
	if len(t) > MaxSchedulePayload {
		f := field("payload", "too_large", "payload must be at most %d KiB.", MaxSchedulePayload>>10)
		return nil, &f
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, t); err != nil || buf.Bytes()[0] != '{' {
		f := field("payload", "invalid_type", "payload must be a JSON object; its fields are sent in every reminder.")
		return nil, &f
	}
	return buf.Bytes(), nil
}

// checkResourceID checks an entitlement id given in a path or a batch item.
func checkResourceID(id string) []licensehooks.FieldError {
	switch {
	case id == "":
		return []licensehooks.FieldError{field("resourceId", "required", "resourceId is required: the entitlement id.")}
	case !licensehooks.ValidText(id) || hasControl(id, false):
		return []licensehooks.FieldError{field("resourceId", "invalid_text", "resourceId must be UTF-8 text without control characters.")}
	case utf8.RuneCountInString(id) > MaxResourceIDLen:
		return []licensehooks.FieldError{field("resourceId", "too_long", "resourceId must be at most %d characters.", MaxResourceIDLen)}
	}
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC().Truncate(time.Microsecond)
	return &v
}

// GetSchedule returns a schedule with every reminder, sent ones too.
func (s *Service) GetSchedule(ctx context.Context, tenantID, resourceID string) (*ScheduleView, error) {
	x, rs, err := s.Store.GetSchedule(ctx, tenantID, resourceID)
	if err != nil {
		return nil, err
	}
	return &ScheduleView{Schedule: x, Reminders: rs}, nil
}

// DeleteSchedule cancels every reminder of a schedule not yet sent.
func (s *Service) DeleteSchedule(ctx context.Context, tenantID, resourceID string) error {
	return s.Store.DeleteSchedule(ctx, tenantID, resourceID)
}

// CancelEvent cancels a delayed event whose deliveries are still scheduled.
func (s *Service) CancelEvent(ctx context.Context, tenantID, eventID string) (int, error) {
	return s.Store.CancelEvent(ctx, tenantID, eventID, s.now())
}

// ScheduleSettingsInput is a PUT of a tenant's offsets; a nil list is the
// default.
type ScheduleSettingsInput struct {
	ExpiryOffsets      []string
	MaintenanceOffsets []string
}

// PutScheduleSettings stores a tenant's offsets: only offsets whose code is
// in the catalog, each once. They apply to the schedules put afterwards.
func (s *Service) PutScheduleSettings(ctx context.Context, tenantID string, in ScheduleSettingsInput) (*licensehooks.ScheduleSettings, error) {
	var errs []licensehooks.FieldError
	errs = append(errs, s.checkOffsets("expiryOffsets", false, in.ExpiryOffsets)...)
	errs = append(errs, s.checkOffsets("maintenanceOffsets", true, in.MaintenanceOffsets)...)
	if len(errs) > 0 {
		return nil, licensehooks.Invalid(errs...)
	}
	st := &licensehooks.ScheduleSettings{TenantID: tenantID, ExpiryOffsets: in.ExpiryOffsets,
		MaintenanceOffsets: in.MaintenanceOffsets, UpdatedAt: s.now()}
	if err := s.Store.PutScheduleSettings(ctx, st); err != nil {
		return nil, err
	}
	return st, nil
}

// GetScheduleSettings returns a tenant's offsets, defaults filled in.
func (s *Service) GetScheduleSettings(ctx context.Context, tenantID string) (*licensehooks.ScheduleSettings, error) {
	st, err := s.Store.GetScheduleSettings(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if st.ExpiryOffsets == nil {
		st.ExpiryOffsets = DefaultOffsets
	}
	if st.MaintenanceOffsets == nil {
		st.MaintenanceOffsets = DefaultOffsets
	}
	return st, nil
}

func (s *Service) checkOffsets(name string, maintenance bool, list []string) []licensehooks.FieldError {
	var errs []licensehooks.FieldError
	var names []string
	for _, o := range offsets {
		if s.Catalog.Known(reminderCode(maintenance, o.days)) {
			names = append(names, o.name)
		}
	}
	for i, v := range list {
		f := fmt.Sprintf("%s[%d]", name, i)
		switch {
		case !slices.Contains(names, v):
			errs = append(errs, field(f, "unknown_offset",
				"%q has no event code in the catalog; the offsets are %s.", v, strings.Join(names, ", ")))
		case slices.Index(list, v) < i:
			errs = append(errs, field(f, "duplicate", "%q is listed twice.", v))
		}
	}
	return errs
}

// ReminderEvent is the event a due reminder becomes: its derived id, code,
// entitlement and payload, dated when it fell due. Its hash depends on
// nothing but the reminder, so an emission repeated after a crash is a
// duplicate, never a conflict.
func ReminderEvent(r *licensehooks.Reminder, now time.Time) *licensehooks.Event {
	due := r.DueAt
	return &licensehooks.Event{
		ID: r.EventID, TenantID: r.TenantID, Code: r.Code, ResourceID: r.ResourceID,
		Payload: r.Payload, OccurredAt: due.UTC().Truncate(time.Microsecond), CreatedAt: now.UTC().Truncate(time.Microsecond),
		Hash: eventHash(r.Code, r.ResourceID, r.Payload, &due, nil),
	}
}
