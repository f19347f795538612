// Package apperr is the one error type of the platform: a stable UPPER_SNAKE
// code that platforms program against, a message a person can act on, and
// optional field details. HTTP statuses are derived from the code in one table
// (see Status), so a use case never thinks about HTTP.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable, documented error code. Never rename one: platforms switch on them.
type Code string

const (
	// Input.
	CodeMalformedJSON          Code = "MALFORMED_JSON"
	CodeValidationFailed       Code = "VALIDATION_FAILED"
	CodeUnsupportedMediaType   Code = "UNSUPPORTED_MEDIA_TYPE"
	CodePayloadTooLarge        Code = "PAYLOAD_TOO_LARGE"
	CodeIdempotencyKeyRequired Code = "IDEMPOTENCY_KEY_REQUIRED"
	CodeIdempotencyKeyReused   Code = "IDEMPOTENCY_KEY_REUSED"

	// Authentication and authorisation.
	CodeUnauthenticated   Code = "UNAUTHENTICATED"
	CodeTokenInvalid      Code = "TOKEN_INVALID"
	CodeTokenExpired      Code = "TOKEN_EXPIRED"
	CodeForbidden         Code = "FORBIDDEN"
	CodePlatformSuspended Code = "PLATFORM_SUSPENDED"

	// Routing and state.
	CodeNotFound         Code = "NOT_FOUND"
	CodeRouteNotFound    Code = "ROUTE_NOT_FOUND"
	CodeMethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	CodeConflict         Code = "CONFLICT"
	CodeInvalidState     Code = "INVALID_STATE"

	// Capacity and failures.
	CodeRateLimited Code = "RATE_LIMITED"
	CodeUnavailable Code = "UNAVAILABLE"
	CodeInternal    Code = "INTERNAL"
)

// statuses is the single code → HTTP status table. Codes missing here are 500s,
// and a test checks every declared code has an entry.
var statuses = map[Code]int{
	CodeMalformedJSON:          http.StatusBadRequest,
	CodeValidationFailed:       http.StatusBadRequest,
	CodeUnsupportedMediaType:   http.StatusUnsupportedMediaType,
	CodePayloadTooLarge:        http.StatusRequestEntityTooLarge,
	CodeIdempotencyKeyRequired: http.StatusBadRequest,
	CodeIdempotencyKeyReused:   http.StatusUnprocessableEntity,
	CodeUnauthenticated:        http.StatusUnauthorized,
	CodeTokenInvalid:           http.StatusUnauthorized,
	CodeTokenExpired:           http.StatusUnauthorized,
	CodeForbidden:              http.StatusForbidden,
	CodePlatformSuspended:      http.StatusForbidden,
	CodeNotFound:               http.StatusNotFound,
	CodeRouteNotFound:          http.StatusNotFound,
	CodeMethodNotAllowed:       http.StatusMethodNotAllowed,
	CodeConflict:               http.StatusConflict,
	CodeInvalidState:           http.StatusConflict,
	CodeRateLimited:            http.StatusTooManyRequests,
	CodeUnavailable:            http.StatusServiceUnavailable,
	CodeInternal:               http.StatusInternalServerError,
}

// Register adds codes owned by a domain package to the status table. Call it
// from an init function; registering a code twice with another status panics.
func Register(code Code, status int) {
	if s, ok := statuses[code]; ok && s != status {
		panic(fmt.Sprintf("apperr: code %s registered with status %d and %d", code, s, status))
	}
	statuses[code] = status
}

// Codes returns every registered code (for documentation and tests).
func Codes() map[Code]int {
	out := make(map[Code]int, len(statuses))
	for c, s := range statuses {
		out[c] = s
	}
	return out
}

// FieldError names one bad input value and why it is bad.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error is the domain error. Details are field errors or extra facts
// (for example the current state on INVALID_STATE).
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Extra   map[string]any
	cause   error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.cause }

// Status is the HTTP status for the error's code.
func (e *Error) Status() int { return StatusOf(e.Code) }

// StatusOf maps a code to its HTTP status; unknown codes are 500.
func StatusOf(c Code) int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// New makes an error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap makes an error that keeps cause for logs; the cause is never rendered.
func Wrap(cause error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), cause: cause}
}

// Invalid is a VALIDATION_FAILED error listing every bad field.
func Invalid(fields ...FieldError) *Error {
	msg := "the request has invalid values"
	if len(fields) == 1 {
		msg = fmt.Sprintf("%s: %s", fields[0].Field, fields[0].Reason)
	}
	return &Error{Code: CodeValidationFailed, Message: msg, Fields: fields}
}

// With attaches an extra detail and returns the error.
func (e *Error) With(key string, value any) *Error {
	if e.Extra == nil {
		e.Extra = map[string]any{}
	}
	e.Extra[key] = value
	return e
}

// As finds the domain error in err's chain. Anything else is an internal error
// whose text must not reach the client.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf returns err's code, or INTERNAL for errors that are not domain errors.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return CodeInternal
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }
