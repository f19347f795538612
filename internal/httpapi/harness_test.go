package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

const (
	testIssuer   = "https://idp.test"
	testAudience = "tongquan"
	testPlatform = "jd"
)

// harness is a Server with throwaway keys for people and one platform, and a
// client that checks every response against the contract.
type harness struct {
	t        testing.TB
	srv      *Server
	people   ed25519.PrivateKey
	platform ed25519.PrivateKey
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	_, people, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, platform, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pv, err := auth.NewPeopleVerifier(auth.PeopleConfig{
		Issuer: testIssuer, Audience: testAudience,
		Keys: auth.KeySet{{ID: "idp-1", Public: people.Public()}},
	})
	require.NoError(t, err)
	plv, err := auth.NewPlatformVerifier(testAudience, auth.StaticPlatformKeys{{
		PlatformID: testPlatform, KeyID: "k1", PublicKey: platform.Public(), PlatformActive: true,
	}}, 0)
	require.NoError(t, err)
	a, err := auth.NewAuthenticator(pv, plv)
	require.NoError(t, err)
	cfg.Auth = a
	if cfg.ServiceRoles == nil {
		cfg.ServiceRoles = []string{"issuer", "redemption", "audit"}
	}
	srv, err := New(cfg)
	require.NoError(t, err)
	return &harness{t: t, srv: srv, people: people, platform: platform}
}

// personToken mints a token for sub with roles, valid for ttl from now.
func (h *harness) personToken(sub string, ttl time.Duration, roles ...auth.Role) string {
	tok, err := auth.MintPersonToken(h.people, "idp-1", testIssuer, testAudience, sub, roles, ttl, time.Now())
	require.NoError(h.t, err)
	return tok
}

func (h *harness) platformToken() string {
	tok, err := auth.MintPlatformToken(h.platform, "k1", testPlatform, testAudience, 2*time.Minute, time.Now())
	require.NoError(h.t, err)
	return tok
}

// tokenFor returns a valid token carrying role.
func (h *harness) tokenFor(role auth.Role) string {
	if role == auth.RolePlatform {
		return h.platformToken()
	}
	return h.personToken("alice", time.Hour, role)
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) errorCode(t testing.TB) string {
	t.Helper()
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &e), "error body: %s", r.Body)
	require.NotEmpty(t, e.Message, "error body without message: %s", r.Body)
	return e.Code
}

// do serves req and, for contract routes, validates the response against
// the contract (status declared, body matching its schema).
func (h *harness) do(req *http.Request) response {
	h.t.Helper()
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	res := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	require.NotEmpty(h.t, res.Header.Get("Request-Id"), "every response carries a Request-Id")

	check := req.Clone(context.Background())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := h.srv.contract.router.FindRoute(check)
	if err == nil {
		err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route},
			Status:                 res.Status,
			Header:                 res.Header,
			Body:                   io.NopCloser(bytes.NewReader(res.Body)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		})
		require.NoError(h.t, err, "response of %s %s breaks the contract: %s", req.Method, req.URL.Path, res.Body)
	}
	return res
}

func (h *harness) request(method, path, token string, body []byte) response {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return h.do(req)
}
