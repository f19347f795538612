package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/idempotency"
)

const (
	extIdempotent           = "x-idempotent"
	headerIdempotencyKey    = "Idempotency-Key"
	headerIdempotencyReplay = "Idempotency-Replayed"
)

// An Idempotency-Key is 1 to 128 of [A-Za-z0-9._:-] (see isIDToken).
const maxIdempotencyKey = 128

// idempotencyMiddleware guards operations marked x-idempotent: the key is
// required; a key already answered replays that answer (same request) or is
// refused (another request); a fresh key travels to the use case, which
// stores the answer in the transaction of its effect. The keyFirst
// operations' keys are read only when the use case finds them taken or
// refuses the request.
func (s *Server) idempotencyMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		m := matchedRoute(c)
		if on, _ := m.route.Operation.Extensions[extIdempotent].(bool); !on {
			c.Next()
			return
		}
		raw := c.GetHeader(headerIdempotencyKey)
		if raw == "" {
			renderError(c, apperr.New(apperr.CodeIdempotencyKeyRequired,
				"this operation needs an Idempotency-Key header (e.g. a UUID), reused only to retry the same request"))
			return
		}
		if !isIDToken(raw, maxIdempotencyKey) {
			renderError(c, apperr.Invalid(apperr.FieldError{Field: headerIdempotencyKey, Reason: "must be 1 to 128 letters, digits or ._:-"}))
			return
		}
		p, _ := principalFrom(c)
		body, err := readBody(c.Request.Body, c.Request.ContentLength)
		if err != nil {
			renderError(c, err)
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		// Keys are the caller's own: a platform's, or one person's.
		scope := p.PlatformID
		if p.Kind == auth.KindPerson {
			scope = "person:" + p.Subject
		}
		key := idempotency.Key{PlatformID: scope, Key: raw,
			RequestHash: idempotency.HashRequest(c.Request.Method, c.Request.URL.Path, body)}
		st := requestStateOf(c)
		if keyFirst[m.route.Operation.OperationID] {
			st.keyUnread = true
		} else if s.replay(c, key, false) {
			return
		}
		st.idem, st.hasIdem = key, true
		c.Request = c.Request.WithContext(idempotency.With(c.Request.Context(), key))
		c.Next()
	}
}

// keyFirst are the operations whose key is not read before their use
// case. Each takes its key in its own transaction before anything there
// decides, so a retry finds it taken (idempotency.ErrDuplicate) and is
// replayed from the stored answer; and any refusal, including those a
// claim gets from memory (sold out, not open) before any transaction and
// a body the contract refuses, reads the key before it is rendered
// (refuse). Every answer but a success is therefore the one reading the key
// first would give, and a success, the common case, costs no database round
// trip for the read.
var keyFirst = map[string]bool{"createClaim": true, "reserveRedemption": true, "confirmRedemption": true}

// replayWait bounds how long a retry waits for a concurrent first request
// with the same key to finish.
const replayWait = 10 * time.Second

// replay answers from a stored key. It reports whether it answered. With
// wait, it waits for a concurrent request holding the key to commit.
func (s *Server) replay(c *gin.Context, key idempotency.Key, wait bool) bool {
	if s.keys == nil {
		return false
	}
	deadline := time.Now().Add(replayWait)
	for {
		stored, found, err := s.keys.lookup(c.Request.Context(), key.PlatformID, key.Key)
		switch {
		case err != nil:
			renderError(c, err)
			return true
		case !found && !wait:
			return false
		case found && stored.RequestHash != key.RequestHash:
			renderError(c, idempotency.Reused())
			return true
		case found && stored.Answer != nil:
			c.Header(headerIdempotencyReplay, "true")
			c.Data(stored.Answer.Status, "application/json", stored.Answer.Body)
			c.Abort()
			return true
		}
		if time.Now().After(deadline) {
			renderError(c, apperr.New(apperr.CodeConflict, "a request with this Idempotency-Key is still in progress; retry shortly"))
			return true
		}
		select {
		case <-c.Request.Context().Done():
			renderError(c, c.Request.Context().Err())
			return true
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// refuse renders err, the refusal of a request, unless the request's key
// answers it: a key its use case found taken by a concurrent twin
// (idempotency.ErrDuplicate) answers with the twin's answer once
// committed; the key of a keyFirst operation, not read before its handler,
// answers as reading it first would have (a stored answer, or a key that
// belongs to another request).
func (s *Server) refuse(c *gin.Context, err error) {
	st := existingRequestState(c)
	switch {
	case st == nil || !st.hasIdem:
	case errors.Is(err, idempotency.ErrDuplicate):
		if s.replay(c, st.idem, true) {
			return
		}
	case st.keyUnread:
		if s.replay(c, st.idem, false) {
			return
		}
	}
	renderError(c, err)
}

// rawResponse sends an answer rendered (and stored) inside the use case's
// transaction, byte for byte. It satisfies the strict server's response
// interfaces of the idempotent operations.
type rawResponse idempotency.Response

func (r rawResponse) write(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.Status)
	_, err := w.Write(r.Body)
	return err
}

func (r rawResponse) VisitCreateClaimResponse(w http.ResponseWriter) error        { return r.write(w) }
func (r rawResponse) VisitCreateRegistrationResponse(w http.ResponseWriter) error { return r.write(w) }
func (r rawResponse) VisitReserveRedemptionResponse(w http.ResponseWriter) error  { return r.write(w) }
func (r rawResponse) VisitConfirmRedemptionResponse(w http.ResponseWriter) error  { return r.write(w) }
func (r rawResponse) VisitCancelRedemptionResponse(w http.ResponseWriter) error   { return r.write(w) }
func (r rawResponse) VisitRefundRedemptionResponse(w http.ResponseWriter) error   { return r.write(w) }

// readBody reads the body into a buffer sized by its Content-Length
// (bodyLimit has refused one over the limit), so a body arrives in one
// allocation of its size instead of io.ReadAll's growing ones.
func readBody(r io.Reader, contentLength int64) ([]byte, error) {
	size := int64(bytes.MinRead) // ReadFrom wants MinRead spare bytes to meet EOF without growing
	if contentLength > 0 && contentLength <= 1<<20 {
		size += contentLength
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}
