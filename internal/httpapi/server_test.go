package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestReadyzReflectsTheDatabase(t *testing.T) {
	db := pgtest.New(t)
	latest, err := postgres.LatestVersion()
	require.NoError(t, err)
	h := newHarness(t, Config{Pool: db.Pool, Ready: func(ctx context.Context) error { return postgres.Ready(ctx, db.Pool, latest) }})
	res := h.request(http.MethodGet, "/readyz", "", nil)
	assert.Equal(t, http.StatusOK, res.Status, string(res.Body))

	// A database one migration behind is not ready.
	_, err = db.Pool.Exec(context.Background(), `DELETE FROM goose_db_version WHERE version_id = $1`, latest)
	require.NoError(t, err)
	res = h.request(http.MethodGet, "/readyz", "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, res.Status)
	assert.Equal(t, "UNAVAILABLE", res.errorCode(t))

	assert.Equal(t, http.StatusOK, h.request(http.MethodGet, "/healthz", "", nil).Status, "liveness does not depend on the database")
}

func TestReadyzWhenDatabaseIsDown(t *testing.T) {
	h := newHarness(t, Config{Ready: func(context.Context) error { return errors.New("dial tcp 127.0.0.1:1: connection refused") }})
	res := h.request(http.MethodGet, "/readyz", "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, res.Status)
	assert.Equal(t, "UNAVAILABLE", res.errorCode(t))
}

func TestMeForPeopleAndPlatforms(t *testing.T) {
	h := newHarness(t, Config{})
	res := h.request(http.MethodGet, "/v1/me", h.personToken("alice", time.Hour, auth.RoleApprover, auth.RoleAuditor), nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.JSONEq(t, `{"kind":"person","subject":"alice","roles":["approver","auditor"]}`, string(res.Body))

	res = h.request(http.MethodGet, "/v1/me", h.platformToken(), nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.JSONEq(t, `{"kind":"platform","subject":"jd","platform_id":"jd","roles":["platform"]}`, string(res.Body))
}

func TestUnknownRouteAndMethodUseTheErrorFormat(t *testing.T) {
	h := newHarness(t, Config{})
	res := h.request(http.MethodGet, "/v1/nothing-here", "", nil)
	assert.Equal(t, http.StatusNotFound, res.Status)
	assert.Equal(t, "ROUTE_NOT_FOUND", res.errorCode(t))

	res = h.request(http.MethodDelete, "/v1/me", "", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, res.Status)
	assert.Equal(t, "METHOD_NOT_ALLOWED", res.errorCode(t))
}

func TestRoleNotRunHereIsNotFound(t *testing.T) {
	c, err := LoadContract()
	require.NoError(t, err)
	var auditOp *operation
	for _, o := range operations(t, c) {
		if OperationServiceRole(o.op) == "audit" {
			auditOp = &o
			break
		}
	}
	if auditOp == nil {
		t.Skip("the contract has no audit-role operation yet")
	}
	h := newHarness(t, Config{ServiceRoles: []string{"redemption"}})
	res := h.request(auditOp.method, samplePath(*auditOp), h.tokenFor(auth.RoleAuditor), nil)
	assert.Equal(t, http.StatusNotFound, res.Status)
	assert.Equal(t, "ROUTE_NOT_FOUND", res.errorCode(t))
}

func TestPanicBecomesAnOpaque500(t *testing.T) {
	h := newHarness(t, Config{})
	h.srv.engine.GET("/test-panic", func(*gin.Context) { panic("secret internal detail") })
	res := h.request(http.MethodGet, "/test-panic", "", nil)
	assert.Equal(t, http.StatusInternalServerError, res.Status)
	assert.Equal(t, "INTERNAL", res.errorCode(t))
	assert.NotContains(t, string(res.Body), "secret")
}

func TestInternalErrorsNeverLeak(t *testing.T) {
	h := newHarness(t, Config{})
	h.srv.engine.GET("/test-error", func(c *gin.Context) {
		renderError(c, errors.New("pq: password authentication failed for user admin at 10.0.0.5"))
	})
	res := h.request(http.MethodGet, "/test-error", "", nil)
	assert.Equal(t, http.StatusInternalServerError, res.Status)
	assert.Equal(t, "INTERNAL", res.errorCode(t))
	assert.NotContains(t, string(res.Body), "password")
	assert.Contains(t, string(res.Body), "Request-Id")
}

// A database that is down or restarting is a 503 the caller may retry, not
// an opaque 500, and its address stays out of the answer.
func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:1/tongquan?sslmode=disable&connect_timeout=5")
	require.Error(t, err)
	h := newHarness(t, Config{})
	h.srv.engine.GET("/test-unreachable", func(c *gin.Context) { renderError(c, fmt.Errorf("reserve: %w", err)) })
	res := h.request(http.MethodGet, "/test-unreachable", "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, res.Status)
	assert.Equal(t, "UNAVAILABLE", res.errorCode(t))
	assert.Equal(t, "1", res.Header.Get("Retry-After"))
	assert.NotContains(t, string(res.Body), "127.0.0.1")
}

func TestRequestID(t *testing.T) {
	h := newHarness(t, Config{})
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("Request-Id", "order-42.retry-1")
	assert.Equal(t, "order-42.retry-1", h.do(req).Header.Get("Request-Id"), "a well-formed caller id is kept")

	req = httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("Request-Id", "bad id\nwith newline")
	got := h.do(req).Header.Get("Request-Id")
	assert.NotContains(t, got, " ")
	assert.Len(t, got, 36, "replaced by a UUID")
}

func TestOperationalEndpoints(t *testing.T) {
	db := pgtest.New(t)
	h := newHarness(t, Config{Pool: db.Pool})
	h.request(http.MethodGet, "/healthz", "", nil)

	res := h.request(http.MethodGet, "/metrics", "", nil)
	require.Equal(t, http.StatusOK, res.Status)
	for _, want := range []string{`tongquan_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		"tongquan_http_request_duration_seconds_bucket", "tongquan_db_pool_max_conns"} {
		assert.Contains(t, string(res.Body), want)
	}

	res = h.request(http.MethodGet, "/openapi.yaml", "", nil)
	require.Equal(t, http.StatusOK, res.Status)
	assert.True(t, strings.HasPrefix(string(res.Body), "openapi: 3.0"))

	res = h.request(http.MethodGet, "/docs", "", nil)
	require.Equal(t, http.StatusOK, res.Status)
	assert.Contains(t, string(res.Body), `spec-url="/openapi.yaml"`)
	res = h.request(http.MethodGet, "/docs/redoc.standalone.js", "", nil)
	require.Equal(t, http.StatusOK, res.Status)
	assert.Greater(t, len(res.Body), 100_000)
}

func TestOverloadIsRefusedWithRetryAfter(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, Config{MaxInFlight: 1, Ready: func(context.Context) error { <-release; return nil }})
	done := make(chan response)
	go func() { done <- h.request(http.MethodGet, "/readyz", "", nil) }()
	// Wait until the first request holds the only slot.
	require.Eventually(t, func() bool {
		res := h.request(http.MethodGet, "/v1/me", h.personToken("a", time.Hour, auth.RoleAuditor), nil)
		if res.Status == http.StatusTooManyRequests {
			assert.Equal(t, "RATE_LIMITED", res.errorCode(t))
			assert.Equal(t, "1", res.Header.Get("Retry-After"))
			return true
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "generous: the race detector on a loaded machine is slow")
	close(release)
	assert.Equal(t, http.StatusOK, (<-done).Status)
	assert.Equal(t, http.StatusOK, h.request(http.MethodGet, "/v1/me", h.personToken("a", time.Hour, auth.RoleAuditor), nil).Status)
}
