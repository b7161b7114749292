package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"licensehooks"
	"licensehooks/service"
)

// decodeEvent decodes one published event. A bad eventDate is EINVALID; the
// service validates the rest.
func decodeEvent(b []byte) (service.PublishInput, error) {
	var req publishRequest
	if err := unmarshal(b, &req); err != nil {
		return service.PublishInput{}, err
	}
	in := service.PublishInput{EventID: req.EventID, EventCode: req.EventCode, ResourceID: req.ResourceID, Payload: req.Payload}
	if req.EventDate != "" {
		t, ferr := timeField("eventDate", req.EventDate)
		if ferr != nil {
			return in, licensehooks.Invalid(*ferr)
		}
		in.EventDate = &t
	}
	if req.DeliverAt != "" {
		t, ferr := timeField("deliverAt", req.DeliverAt)
		if ferr != nil {
			return in, licensehooks.Invalid(*ferr)
		}
		in.DeliverAt = &t
	}
	return in, nil
}

func toPublishResponse(r licensehooks.PublishResult) publishResponse {
	ids := r.DeliveryIDs
	if ids == nil {
		ids = []string{}
	}
	return publishResponse{EventID: r.EventID, Deliveries: ids, Duplicate: r.Duplicate}
}

// publish accepts one event: 202 once it and its deliveries are durable.
func (s *Server) publish(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := readBody(w, r, maxEventBytes)
	if licensehooks.ErrorCode(err) == licensehooks.ETOOLARGE {
		return licensehooks.Errorf(licensehooks.ETOOLARGE,
			"The request body is larger than %d KiB: an event's payload may be at most %d KiB, and its other fields %d KiB more.",
			maxEventBytes>>10, service.MaxPayloadBytes>>10, (maxEventBytes-service.MaxPayloadBytes)>>10)
	} else if err != nil {
		return err
	}
	in, err := decodeEvent(b)
	if err != nil {
		return err
	}
	res, err := s.cfg.Service.Publish(r.Context(), c.TenantID, []service.PublishInput{in})
	if err != nil {
		return err
	}
	if res[0].Err != nil {
		return res[0].Err
	}
	writeJSON(w, http.StatusAccepted, toPublishResponse(res[0]))
	return nil
}

// publishBatch accepts up to 1,000 events in one call. Each event succeeds
// or fails on its own: the answer is 202 with one item per event, in order,
// either its result or its ApiError.
func (s *Server) publishBatch(w http.ResponseWriter, r *http.Request, c *call) error {
	list, err := readBatch(w, r, maxBatchBytes, "events", "event", service.MaxPublishBatch)
	if err != nil {
		return err
	}
	items := make([]any, len(list))
	var inputs []service.PublishInput
	var index []int
	for i, raw := range list {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			items[i] = failure("", itemError("events", i, licensehooks.Invalid(licensehooks.FieldError{Field: "", Code: "invalid_type",
				Message: fmt.Sprintf("events[%d] must be an event object, not %s.", i, jsonType(t))})))
			continue
		}
		in, err := decodeEvent(raw)
		if err != nil {
			items[i] = failure(in.EventID, itemError("events", i, err))
			continue
		}
		inputs = append(inputs, in)
		index = append(index, i)
	}
	res, err := s.cfg.Service.Publish(r.Context(), c.TenantID, inputs)
	if err != nil {
		return err
	}
	for j, pr := range res {
		if pr.Err != nil {
			if licensehooks.ErrorCode(pr.Err) == licensehooks.EINTERNAL {
				s.log.ErrorContext(r.Context(), "publish item failed", "index", index[j], "err", pr.Err)
			}
			items[index[j]] = failure(pr.EventID, itemError("events", index[j], pr.Err))
		} else {
			items[index[j]] = toPublishResponse(pr)
		}
	}
	writeJSON(w, http.StatusAccepted, struct {
		Items []any `json:"items"`
	}{items})
	return nil
}

// readBatch reads a batch request, {"<field>": [item, …]}, of 1 to limit
// items and returns them raw, for each to be decoded on its own.
func readBatch(w http.ResponseWriter, r *http.Request, maxBytes int64, field, noun string, limit int) ([]json.RawMessage, error) {
	b, err := readBody(w, r, maxBytes)
	if err != nil {
		return nil, err
	}
	var req map[string]json.RawMessage
	if err := unmarshal(b, &req); err != nil {
		return nil, err
	}
	var list []json.RawMessage
	if raw, ok := req[field]; ok {
		if t := bytes.TrimSpace(raw); !bytes.Equal(t, []byte("null")) {
			if len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &list) != nil {
				return nil, licensehooks.Invalid(licensehooks.FieldError{Field: field, Code: "invalid_type",
					Message: fmt.Sprintf("%s must be an array, not %s.", field, jsonType(t))})
			}
		}
	}
	switch {
	case len(list) == 0:
		return nil, licensehooks.Invalid(licensehooks.FieldError{Field: field, Code: "required",
			Message: fmt.Sprintf("%s must hold at least one %s.", field, noun)})
	case len(list) > limit:
		return nil, licensehooks.Invalid(licensehooks.FieldError{Field: field, Code: "too_many",
			Message: fmt.Sprintf("%s may hold at most %d %ss; split the batch.", field, limit, noun)})
	}
	return list, nil
}

// itemError names the fields of the problems of item i of a batch's list as
// the request spells them: list[i].field, or list[i] for the item itself.
func itemError(list string, i int, err error) error {
	var le *licensehooks.Error
	if !errors.As(err, &le) || len(le.Fields) == 0 {
		return err
	}
	out := *le
	out.Fields = make([]licensehooks.FieldError, len(le.Fields))
	prefix := fmt.Sprintf("%s[%d]", list, i)
	for j, f := range le.Fields {
		if f.Field == "" {
			f.Field = prefix
		} else {
			f.Field = prefix + "." + f.Field
		}
		out.Fields[j] = f
	}
	return &out
}

func failure(eventID string, err error) publishFailure {
	_, body := toAPIError(err)
	return publishFailure{EventID: eventID, Error: body}
}
