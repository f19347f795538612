package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
)

const (
	headerRequestID = "Request-Id"
	ctxRequestID    = "tongquan.request_id"
)

// A caller may pass its own Request-Id (to correlate logs across systems) if it
// looks like an id; anything else is replaced so logs stay clean.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

func requestIDMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(headerRequestID)
		if !requestIDPattern.MatchString(id) {
			id = uuid.Must(uuid.NewV7()).String()
		}
		c.Set(ctxRequestID, id)
		c.Header(headerRequestID, id)
		c.Next()
	}
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// logMiddleware writes one structured line per request. It never logs bodies,
// query strings or headers: they may carry holders' personal data or tokens.
func logMiddleware(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request.Method),
			slog.String("route", routeLabel(c)),
			slog.Int("status", status),
			slog.Float64("took_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("bytes", c.Writer.Size()),
		}
		if p, ok := principalFrom(c); ok {
			attrs = append(attrs, slog.String("caller", p.Kind+":"+p.Subject))
		}
		log.LogAttrs(c.Request.Context(), level, "http request", attrs...)
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
		m := c.MustGet(ctxRoute).(*matchedRoute)
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

func statusLabel(status int) string { return strconv.Itoa(status) }

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
