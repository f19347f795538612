package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/tongquan/tongquan/internal/apperr"
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
	// A domain error with no cause, the usual refusal, needs no search of
	// a chain (errors.As boxes its target on every call).
	e, plain := err.(*apperr.Error)
	if !plain || e.Unwrap() != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			err = apperr.New(apperr.CodePayloadTooLarge, "request body is larger than %d bytes", maxErr.Limit)
		}
		var ok bool
		if e, ok = apperr.As(err); !ok {
			e = apperr.Wrap(err, apperr.CodeInternal, "internal error")
		}
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
	if e.Code == apperr.CodeRateLimited {
		c.Header("Retry-After", "1")
	}
	c.Abort()
	writeErrorBody(c, status, body)
}

// jsonContentType is the Content-Type gin's JSON rendering sets; like gin,
// every response shares the one slice.
var jsonContentType = []string{"application/json; charset=utf-8"}

// writeErrorBody writes body as c.JSON(status, body) would, byte for byte,
// without boxing it for gin's renderer: a body of plain ASCII strings and
// no details, the usual refusal, is written straight into a pooled buffer;
// any other goes through encoding/json.
func writeErrorBody(c *gin.Context, status int, body errorBody) {
	c.Status(status)
	h := c.Writer.Header()
	if len(h["Content-Type"]) == 0 {
		h["Content-Type"] = jsonContentType
	}
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified {
		c.Writer.WriteHeaderNow() // no body, as gin's rendering does
		return
	}
	if body.Details != nil || !plainJSONString(string(body.Code)) || !plainJSONString(body.Message) {
		b, err := json.Marshal(body)
		if err == nil {
			_, err = c.Writer.Write(b)
		}
		if err != nil {
			_ = c.Error(err)
		}
		return
	}
	buf := errorBufs.Get().(*[]byte)
	b := append((*buf)[:0], `{"code":"`...)
	b = append(b, body.Code...)
	b = append(b, `","message":"`...)
	b = append(b, body.Message...)
	b = append(b, `"}`...)
	if _, err := c.Writer.Write(b); err != nil {
		_ = c.Error(err)
	}
	*buf = b
	errorBufs.Put(buf)
}

var errorBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// plainJSONString reports whether encoding/json writes s as it is between
// quotes: printable ASCII without the characters it escapes (", \, and
// <, >, & which it writes as \u003c and so on).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b < 0x20 || b > 0x7e, b == '"', b == '\\', b == '<', b == '>', b == '&':
			return false
		}
	}
	return true
}
