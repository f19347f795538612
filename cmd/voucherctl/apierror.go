package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/tongquan/tongquan/internal/apperr"
)

// apiError is an error answer: the contract's {"code","message","details"}.
type apiError struct {
	status     int
	code       string
	message    string
	fields     []apperr.FieldError
	extra      map[string]json.RawMessage // details other than fields, e.g. current_status
	requestID  string
	retryAfter string
	body       []byte // the raw body when it is not in the error format
}

func newAPIError(resp *http.Response, body []byte) *apiError {
	e := &apiError{status: resp.StatusCode, requestID: resp.Header.Get("Request-Id"), retryAfter: resp.Header.Get("Retry-After")}
	var wire struct {
		Code    string                     `json:"code"`
		Message string                     `json:"message"`
		Details map[string]json.RawMessage `json:"details"`
	}
	if json.Unmarshal(body, &wire) != nil || wire.Code == "" {
		e.body = body
		return e
	}
	e.code, e.message, e.extra = wire.Code, wire.Message, wire.Details
	if f, ok := wire.Details["fields"]; ok && json.Unmarshal(f, &e.fields) == nil {
		delete(e.extra, "fields")
	}
	return e
}

// Error renders the answer for a person: code and message, then one line per
// field error and other detail, and the request id to quote.
func (e *apiError) Error() string {
	var b strings.Builder
	if e.code == "" {
		fmt.Fprintf(&b, "HTTP %d %s", e.status, http.StatusText(e.status))
		if text := strings.TrimSpace(string(e.body)); text != "" {
			if r := []rune(text); len(r) > 200 {
				text = string(r[:200]) + "…"
			}
			fmt.Fprintf(&b, ": %s", text)
		}
	} else {
		fmt.Fprintf(&b, "%s: %s", e.code, e.message)
	}
	for _, f := range e.fields {
		fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Reason)
	}
	for _, k := range slices.Sorted(maps.Keys(e.extra)) {
		v := string(e.extra[k])
		var s string
		if json.Unmarshal(e.extra[k], &s) == nil {
			v = s
		}
		fmt.Fprintf(&b, "\n  %s: %s", k, v)
	}
	if e.retryAfter != "" {
		fmt.Fprintf(&b, "\n  retry after %s seconds", e.retryAfter)
	}
	if e.requestID != "" {
		fmt.Fprintf(&b, "\n  request id: %s (quote it when you report a problem)", e.requestID)
	}
	return b.String()
}
