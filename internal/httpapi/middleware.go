package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
)

const headerRequestID = "Request-Id"

// A caller may pass its own Request-Id (to correlate logs across systems) if it
// looks like an id; anything else is replaced so logs stay clean.
const maxRequestID = 64

// isIDToken reports whether s is 1 to max characters of [A-Za-z0-9._:-],
// what the regular expression ^[A-Za-z0-9._:-]{1,max}$ matches, without
// running one on every request.
func isIDToken(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}

func requestIDMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(headerRequestID)
		if !isIDToken(id, maxRequestID) {
			id = uuid.Must(uuid.NewV7()).String()
		}
		requestStateOf(c).id = id
		c.Header(headerRequestID, id)
		c.Next()
	}
}

func requestID(c *gin.Context) string {
	if s := existingRequestState(c); s != nil {
		return s.id
	}
	return ""
}

// logMiddleware writes one structured line per request. It never logs bodies,
// query strings or headers: they may carry holders' personal data or tokens.
// It hands the record to the handler itself: slog.Logger would also capture
// the caller's program counter, which an access line has no use for.
func logMiddleware(log *slog.Logger) gin.HandlerFunc {
	h := log.Handler()
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		ctx := c.Request.Context()
		if !h.Enabled(ctx, level) {
			return
		}
		end := time.Now()
		attrs := [...]slog.Attr{
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", routeLabel(c)),
			slog.Int("status", status),
			slog.Float64("took_ms", float64(end.Sub(start).Microseconds())/1000),
			slog.Int("bytes", c.Writer.Size()),
			{}, // caller
		}
		n := len(attrs) - 1
		if p, ok := principalFrom(c); ok {
			attrs[n] = slog.String("caller", p.Kind+":"+p.Subject)
			n++
		}
		r := slog.NewRecord(end, level, "http request", 0)
		r.AddAttrs(attrs[:n]...) // at once: the record grows its overflow slice once
		_ = h.Handle(ctx, r)
	}
}

// recoverMiddleware turns a panic into a 500 in the error format and logs the stack.
func recoverMiddleware(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.Error("panic serving request", "request_id", requestID(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				if !c.Writer.Written() {
					renderError(c, apperr.New(apperr.CodeInternal, "internal error"))
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}

// bodyLimitMiddleware refuses bodies over the operation's limit: at once
// when Content-Length says so, or when a reader crosses it. File uploads
// (text/csv operations) get the bulk limit.
func (s *Server) bodyLimitMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := s.cfg.BodyLimit
		m := matchedRoute(c)
		if rb := m.route.Operation.RequestBody; rb != nil && rb.Value != nil && rb.Value.Content.Get("text/csv") != nil {
			limit = s.cfg.BulkBodyLimit
		}
		if c.Request.ContentLength > limit {
			renderError(c, apperr.New(apperr.CodePayloadTooLarge, "request body is larger than %d bytes", limit))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		c.Next()
	}
}

// routeLabel is the route template (never the raw path, whose ids would
// explode metric cardinality and could carry personal data).
func routeLabel(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// statusLabels holds the label of every valid status code, made once.
var statusLabels = func() (l [600]string) {
	for s := 100; s < len(l); s++ {
		l[s] = strconv.Itoa(s)
	}
	return l
}()

func statusLabel(status int) string {
	if status >= 100 && status < len(statusLabels) {
		return statusLabels[status]
	}
	return strconv.Itoa(status)
}

// admissionMiddleware bounds the requests in flight. A burst past the bound
// gets an immediate 429 with Retry-After instead of queueing into timeouts;
// health, metrics and docs are outside it.
func admissionMiddleware(max int) gin.HandlerFunc {
	slots := make(chan struct{}, max)
	return func(c *gin.Context) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			c.Next()
		default:
			renderError(c, apperr.New(apperr.CodeRateLimited, "the service is at capacity; retry after the Retry-After seconds"))
		}
	}
}
