// Package idempotency makes a platform's retries safe: a request carries an
// Idempotency-Key; its first successful answer is stored in the same
// transaction as its effect and replayed byte for byte to any retry with the
// same key and body. Another body under the same key is refused.
package idempotency

import (
	"context"
	"crypto/sha256"
	"errors"

	"github.com/tongquan/tongquan/internal/apperr"
)

// Key identifies one platform request.
type Key struct {
	PlatformID  string
	Key         string
	RequestHash [32]byte
}

// Response is a stored answer.
type Response struct {
	Status int
	Body   []byte
}

// ErrDuplicate: a concurrent request with the same key committed its effect
// first; this one changed nothing and should replay that request's answer.
var ErrDuplicate = errors.New("idempotency key taken by a concurrent request")

// Reused is the answer to a key sent again with another request.
func Reused() error {
	return apperr.New(apperr.CodeIdempotencyKeyReused,
		"this Idempotency-Key was used with a different request; use a new key for a new request")
}

// HashRequest fingerprints a request: method, path and body, so the same key
// with another body is detected.
func HashRequest(method, path string, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(body)
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

type ctxKey struct{}

// With attaches the request's key to ctx for the use case.
func With(ctx context.Context, k Key) context.Context { return context.WithValue(ctx, ctxKey{}, k) }

// From returns the request's key, if the operation takes one.
func From(ctx context.Context) (Key, bool) {
	k, ok := ctx.Value(ctxKey{}).(Key)
	return k, ok
}

// Renderer renders a use case's result as the response to store and send.
type Renderer[T any] func(T) (Response, error)
