package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tongquan/tongquan/internal/auth"
)

// client calls voucherd over its public API the way a platform's checkout
// would: a network error, a 5xx, a 429 or a 409 CONFLICT on an idempotent
// request (its key still in progress) is retried with the same bytes and
// the same Idempotency-Key until the call's limit, so every call ends with a
// definite answer or is counted as unresolved.
//
// Calls go through fasthttp rather than net/http: the load generator shares
// the machine's cores with voucherd and PostgreSQL, so whatever CPU it
// spends per call is taken from the server it measures. net/http's client
// hands every call between three goroutines (caller, connection writer and
// reader) and allocates a request and a response; fasthttp's reuses both
// and writes and reads on the caller's goroutine. Measured during sold-out
// bursts of 128 clients: 38-43 µs of CPU per call against 60-67 µs, and the
// bursts 23-39 % faster (BENCHMARKS.md, "Sold-out and duplicate answers").
type client struct {
	base   string
	fast   *fasthttp.Client
	stream *http.Client // answers read as a stream (the audit export)
	keys   *auth.DevKeys
	limit  time.Duration // per call, retries included

	retries    atomic.Int64 // attempts repeated after a network error, 5xx or 429
	unresolved atomic.Int64 // calls given up without an answer
}

// attemptTimeout bounds one attempt of a call.
const attemptTimeout = 30 * time.Second

func newClient(base string, keys *auth.DevKeys, conns int, limit time.Duration) *client {
	return &client{
		base:  strings.TrimRight(base, "/"),
		keys:  keys,
		limit: limit,
		fast: &fasthttp.Client{
			MaxConnsPerHost:     conns + 16,
			MaxConnWaitTimeout:  attemptTimeout, // wait for a connection rather than fail
			MaxIdleConnDuration: 90 * time.Second,
			ReadTimeout:         attemptTimeout,
			WriteTimeout:        attemptTimeout,
			// Retries are this client's own: counted, with the same key.
			MaxIdemponentCallAttempts: 1,
		},
		stream: &http.Client{Timeout: attemptTimeout},
	}
}

// tokenSource gives the bearer token of a request; nil means none.
type tokenSource func() (string, error)

// cachedToken re-mints a token once it is half way through its life, so a
// signature is not paid on every request.
func cachedToken(ttl time.Duration, mint func(time.Time) (string, error)) tokenSource {
	var (
		mu   sync.Mutex
		tok  string
		next time.Time
	)
	return func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if tok != "" && now.Before(next) {
			return tok, nil
		}
		t, err := mint(now)
		if err != nil {
			return "", err
		}
		tok, next = t, now.Add(ttl/2)
		return tok, nil
	}
}

func (c *client) person(sub string, role auth.Role) tokenSource {
	return cachedToken(time.Hour, func(now time.Time) (string, error) {
		return auth.MintPersonToken(c.keys.Private, c.keys.KeyID, c.keys.Issuer, c.keys.Audience, sub, []auth.Role{role}, time.Hour, now)
	})
}

// platform is a platform this tool registers, with a key pair of its own.
type platform struct {
	id, keyID string
	priv      ed25519.PrivateKey
	pubPEM    string
	token     tokenSource
}

func newPlatform(id, audience string) (*platform, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	p := &platform{id: id, keyID: id + "-1", priv: priv,
		pubPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
	p.token = cachedToken(2*time.Minute, func(now time.Time) (string, error) {
		return auth.MintPlatformToken(p.priv, p.keyID, p.id, audience, 2*time.Minute, now)
	})
	return p, nil
}

type reply struct {
	status   int
	body     []byte
	replayed bool
	code     string // the error code of a non-2xx answer
}

func (r reply) ok() bool { return r.status >= 200 && r.status < 300 }

// outcome is the code a statistic files the answer under: "" for a 2xx.
func (r reply) outcome() string {
	if r.ok() {
		return ""
	}
	if r.code != "" {
		return r.code
	}
	return fmt.Sprintf("HTTP_%d", r.status)
}

var errUnresolved = errors.New("no answer within the call limit")

// unresolvedError is a call given up after its retries; stuck says the last
// answer was 409 CONFLICT, i.e. its key was still "in progress" all along
// (a server fault), rather than the server being overloaded or unreachable.
type unresolvedError struct {
	method, path string
	attempts     int
	last         string
	stuck        bool
}

func (e *unresolvedError) Error() string {
	return fmt.Sprintf("%s %s: %v (%d attempts; last: %s)", e.method, e.path, errUnresolved, e.attempts, e.last)
}

func (e *unresolvedError) Unwrap() error { return errUnresolved }

type request struct {
	method, path string
	token        tokenSource
	key          string // Idempotency-Key
	contentType  string
	body         []byte
	header       map[string]string
}

// jsonRequest marshals body once: a retry sends the same bytes.
func jsonRequest(method, path string, token tokenSource, key string, body any) request {
	r := request{method: method, path: path, token: token, key: key}
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			panic(err) // only our own maps and structs are marshalled
		}
		r.body, r.contentType = raw, "application/json"
	}
	return r
}

func (c *client) do(ctx context.Context, r request) (reply, error) {
	deadline := time.Now().Add(c.limit)
	var last string
	stuck := false
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.retries.Add(1)
			if time.Now().After(deadline) {
				c.unresolved.Add(1)
				return reply{}, &unresolvedError{method: r.method, path: r.path, attempts: attempt, last: last, stuck: stuck}
			}
			select {
			case <-ctx.Done():
				c.unresolved.Add(1)
				return reply{}, ctx.Err()
			case <-time.After(time.Duration(20+30*min(attempt, 10)) * time.Millisecond):
			}
		}
		if err := ctx.Err(); err != nil {
			c.unresolved.Add(1)
			return reply{}, err
		}
		status, body, replayed, err := c.send(ctx, r)
		stuck = false
		if err != nil {
			last = err.Error()
			continue
		}
		if status >= 500 || status == http.StatusTooManyRequests {
			last = fmt.Sprintf("%d %s", status, truncate(body, 200))
			continue
		}
		out := reply{status: status, body: body, replayed: replayed}
		if !out.ok() {
			var e struct{ Code string }
			if json.Unmarshal(body, &e) == nil {
				out.code = e.Code
			}
		}
		if r.key != "" && out.status == http.StatusConflict && out.code == "CONFLICT" {
			// The same key is still in progress elsewhere: retry shortly, as told.
			last, stuck = fmt.Sprintf("%d %s", status, truncate(body, 200)), true
			continue
		}
		return out, nil
	}
}

// send makes one attempt of r. The body is copied out of fasthttp's
// response, which is reused. An attempt ends at attemptTimeout or at ctx's
// deadline, whichever comes first; fasthttp does not watch ctx otherwise.
func (c *client) send(ctx context.Context, r request) (status int, body []byte, replayed bool, err error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + r.path)
	req.Header.SetMethod(r.method)
	if r.contentType != "" {
		req.Header.SetContentType(r.contentType)
	}
	if r.key != "" {
		req.Header.Set("Idempotency-Key", r.key)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.token != nil {
		tok, err := r.token()
		if err != nil {
			return 0, nil, false, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if r.body != nil {
		req.SetBodyRaw(r.body) // not copied: a request's bytes are never changed
	}
	deadline := time.Now().Add(attemptTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.fast.DoDeadline(req, resp, deadline); err != nil {
		return 0, nil, false, err
	}
	return resp.StatusCode(), bytes.Clone(resp.Body()), string(resp.Header.Peek("Idempotency-Replayed")) == "true", nil
}

// must performs a setup call and insists on one status.
func (c *client) must(ctx context.Context, r request, want int, into any) error {
	got, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if got.status != want {
		return fmt.Errorf("%s %s: want %d, got %d %s", r.method, r.path, want, got.status, truncate(got.body, 500))
	}
	if into != nil {
		if err := json.Unmarshal(got.body, into); err != nil {
			return fmt.Errorf("%s %s: %w", r.method, r.path, err)
		}
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
