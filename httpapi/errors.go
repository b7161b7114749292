package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"licensehooks"
)

// apiError is the Zentitle2 ApiError body every failure answers with.
type apiError struct {
	Error            string            `json:"error"`
	ErrorCode        string            `json:"errorCode"`
	Details          string            `json:"details,omitempty"`
	ValidationErrors []validationError `json:"validationErrors,omitempty"`
}

type validationError struct {
	PropertyName string `json:"propertyName"`
	Message      string `json:"message"`
	Code         string `json:"code"`
}

// statusOf maps the root's error codes to HTTP statuses.
var statusOf = map[string]int{
	licensehooks.EBADREQUEST:   http.StatusBadRequest,
	licensehooks.EINVALID:      http.StatusUnprocessableEntity,
	licensehooks.ENOTFOUND:     http.StatusNotFound,
	licensehooks.ECONFLICT:     http.StatusConflict,
	licensehooks.EUNAUTHORIZED: http.StatusUnauthorized,
	licensehooks.EFORBIDDEN:    http.StatusForbidden,
	licensehooks.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	licensehooks.EUNAVAILABLE:  http.StatusServiceUnavailable,
	licensehooks.EINTERNAL:     http.StatusInternalServerError,
}

// toAPIError converts any error to its status and ApiError body. Internal
// errors show only "Internal error.": their detail is for the log.
func toAPIError(err error) (int, apiError) {
	code := licensehooks.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status, code = http.StatusInternalServerError, licensehooks.EINTERNAL
	}
	body := apiError{Error: licensehooks.ErrorMessage(err), ErrorCode: code}
	var e *licensehooks.Error
	if errors.As(err, &e) {
		for _, f := range e.Fields {
			body.ValidationErrors = append(body.ValidationErrors, validationError{PropertyName: f.Field, Message: f.Message, Code: f.Code})
		}
	}
	return status, body
}

// writeError answers err as an ApiError and logs it when it is the
// service's fault.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := toAPIError(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeJSON(w, status, body)
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every model here marshals; a failure is a programming error.
		slog.Error("marshal response", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":"Internal error.","errorCode":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}
