package licensehooks

import (
	"errors"
	"fmt"
)

// Error codes. Every layer speaks these; the HTTP layer maps them to statuses.
const (
	ECONFLICT     = "conflict"     // 409: the request conflicts with the current state
	EINTERNAL     = "internal"     // 500: a fault of the service, never shown in detail
	EINVALID      = "invalid"      // 422: the request parsed but failed validation
	EBADREQUEST   = "bad_request"  // 400: the request could not be parsed
	ENOTFOUND     = "not_found"    // 404
	EUNAUTHORIZED = "unauthorized" // 401: no or bad credentials
	EFORBIDDEN    = "forbidden"    // 403: authenticated, not allowed
	ETOOLARGE     = "too_large"    // 413
	EUNAVAILABLE  = "unavailable"  // 503: shutting down, overloaded
)

// FieldError is one validation problem of one field of a request.
type FieldError struct {
	Field   string // propertyName, as the client spelled it (e.g. "uri", "subscriptions[2]")
	Message string // what is wrong, in words a person can act on
	Code    string // a stable machine code, e.g. "required", "invalid_uri", "unknown_event"
}

// Error is the application error: a code, a message meant for the user and,
// for EINVALID, the problems field by field.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

func (e *Error) Error() string {
	return fmt.Sprintf("licensehooks error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error carrying the given field problems.
func Invalid(fields ...FieldError) *Error {
	msg := "The request is invalid."
	if len(fields) == 1 {
		msg = fields[0].Message
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fields}
}

// ErrorCode returns the code of an application error, EINTERNAL for any
// other error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of an application error, and
// a generic message for any other error (internal details are never shown).
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
