package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/postgres"
)

// errorBody is the one error shape of the API: {"code","message","details"?}.
type errorBody struct {
	Code    apperr.Code    `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// renderError writes err in the error format and stops the chain. Errors that
// are not domain errors become a bare INTERNAL: their text goes to the log
// with the request id, never to the client.
func renderError(c *gin.Context, err error) {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		err = apperr.New(apperr.CodePayloadTooLarge, "request body is larger than %d bytes", maxErr.Limit)
	}
	e, ok := apperr.As(err)
	switch {
	case ok:
	case postgres.Unreachable(err):
		// Restarting, recovering or unreachable: nothing was done that a
		// retry with the same Idempotency-Key would not find.
		e = apperr.Wrap(err, apperr.CodeUnavailable, "the database is unreachable; retry shortly")
	default:
		e = apperr.Wrap(err, apperr.CodeInternal, "internal error")
	}
	status := e.Status()
	body := errorBody{Code: e.Code, Message: e.Message}
	if status >= 500 {
		slog.ErrorContext(c.Request.Context(), "request failed",
			"request_id", requestID(c), "code", e.Code, "error", err.Error())
		body.Message = "internal error; quote the Request-Id header when reporting it"
		if e.Code == apperr.CodeUnavailable {
			body.Message = e.Message
		}
	} else {
		if len(e.Fields) > 0 || len(e.Extra) > 0 {
			body.Details = map[string]any{}
			for k, v := range e.Extra {
				body.Details[k] = v
			}
			if len(e.Fields) > 0 {
				body.Details["fields"] = e.Fields
			}
		}
	}
	if e.Code == apperr.CodeRateLimited || e.Code == apperr.CodeUnavailable {
		c.Header("Retry-After", "1")
	}
	c.AbortWithStatusJSON(status, body)
}
