package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

// TestAccessLogLine: one JSON line per request with the request id, method,
// route template, status, duration, size and the caller when known; never
// the raw path.
func TestAccessLogLine(t *testing.T) {
	logs := &lockedBuffer{}
	h := newHarness(t, Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))})

	req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+h.personToken("alice", time.Hour, auth.RoleAuditor))
	req.Header.Set("Request-Id", "trace-1")
	ok := h.do(req)
	require.Equal(t, http.StatusOK, ok.Status)
	refused := h.request(http.MethodGet, "/v1/campaigns/0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d", "", nil)
	require.Equal(t, http.StatusUnauthorized, refused.Status)

	lines := logs.lines(t)
	require.Len(t, lines, 2)
	first := lines[0]
	assert.ElementsMatch(t, []string{"time", "level", "msg", "request_id", "method", "route", "status", "took_ms", "bytes", "caller"}, keys(first))
	assert.Equal(t, "INFO", first["level"])
	assert.Equal(t, "http request", first["msg"])
	assert.Equal(t, "trace-1", first["request_id"])
	assert.Equal(t, "GET", first["method"])
	assert.Equal(t, "/v1/me", first["route"])
	assert.EqualValues(t, 200, first["status"])
	assert.IsType(t, float64(0), first["took_ms"])
	assert.EqualValues(t, len(ok.Body), first["bytes"])
	assert.Equal(t, "person:alice", first["caller"])
	_, err := time.Parse(time.RFC3339Nano, first["time"].(string))
	assert.NoError(t, err)

	second := lines[1]
	assert.NotContains(t, second, "caller", "no caller before authentication")
	assert.Equal(t, refused.Header.Get("Request-Id"), second["request_id"])
	assert.Equal(t, "/v1/campaigns/:campaign_id", second["route"], "the template, not the path")
	assert.EqualValues(t, 401, second["status"])
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
