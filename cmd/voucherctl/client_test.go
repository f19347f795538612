package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenFromTheEnvironment(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/platforms", http.StatusOK, `{"items": []}`)
	t.Setenv("TONGQUAN_TOKEN", "from-the-idp")

	_, errOut, code := f.voucherctl("platform", "list")

	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Bearer from-the-idp", f.only().authorization)
}

func TestNoTokenAndNoDevelopmentKeys(t *testing.T) {
	var out, errOut bytes.Buffer
	t.Setenv("TONGQUAN_TOKEN", "")
	code := run([]string{"platform", "list", "--data-dir", t.TempDir()}, &out, &errOut)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut.String(), "no token given, and no development token either")
	assert.Contains(t, errOut.String(), "start voucherd once")
}

func TestJSONOutputIsTheServersAnswer(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/platforms/jd", http.StatusOK, platformJSON)

	out, errOut, code := f.voucherctl("platform", "show", "jd", "-o", "json")

	require.Equal(t, 0, code, errOut)
	assert.JSONEq(t, platformJSON, out)
}

func TestPathArgumentsAreEscaped(t *testing.T) {
	// Not the fake voucherd: the contract has no path such an id could take.
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.EscapedPath()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"code": "NOT_FOUND", "message": "no platform a/../b"}`))
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer

	code := run([]string{"platform", "show", "a/../b", "--server", srv.URL, "--token", "t"}, &out, &errOut)

	assert.Equal(t, 1, code)
	assert.Equal(t, "/v1/platforms/a%2F..%2Fb", path)
	assert.Equal(t, "voucherctl platform: NOT_FOUND: no platform a/../b\n", errOut.String())
}

func TestErrorsOutsideTheErrorFormat(t *testing.T) {
	// A proxy in front of voucherd answers in its own format.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "<html>upstream unavailable</html>", http.StatusBadGateway)
	}))
	defer proxy.Close()
	var out, errOut bytes.Buffer

	code := run([]string{"audit", "verify", "--server", proxy.URL, "--token", "t"}, &out, &errOut)

	assert.Equal(t, 1, code)
	assert.Equal(t, "voucherctl audit: HTTP 502 Bad Gateway: <html>upstream unavailable</html>\n  retry after 30 seconds\n", errOut.String())
}

func TestUnreachableServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	var out, errOut bytes.Buffer

	code := run([]string{"audit", "verify", "--server", srv.URL, "--token", "t"}, &out, &errOut)

	assert.Equal(t, 1, code)
	assert.Contains(t, errOut.String(), "is voucherd running there? set --server or TONGQUAN_URL")
}

func TestCommandLineMistakesExitTwo(t *testing.T) {
	for name, args := range map[string][]string{
		"no command":         {},
		"unknown command":    {"campagin"},
		"unknown subcommand": {"campaign", "delete", campaignID},
		"missing argument":   {"campaign", "show"},
		"extra argument":     {"campaign", "show", campaignID, "again"},
		"unknown flag":       {"audit", "verify", "--everything"},
		"unknown output":     {"audit", "verify", "-o", "yaml", "--token", "t"},
		"not a URL":          {"audit", "verify", "--server", "localhost:8080", "--token", "t"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			assert.Equal(t, 2, run(args, &out, &errOut))
			assert.Empty(t, out.String())
			assert.NotEmpty(t, errOut.String())
		})
	}
}

func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"campaign", "--help"}, &out, &errOut))
	assert.Contains(t, out.String(), "usage: voucherctl campaign <command> [flags]")
	assert.Regexp(t, `\n  budget-change\s+ask to raise or lower`, out.String())

	out.Reset()
	require.Equal(t, 0, run([]string{"help"}, &out, &errOut))
	assert.Regexp(t, `\n  audit\s+verify the audit log`, out.String())

	out.Reset()
	require.Equal(t, 0, run([]string{"campaign", "show", "-h"}, &out, &errOut))
	assert.Contains(t, out.String(), "usage: voucherctl campaign show ID [flags]\n")
	assert.Contains(t, out.String(), "-sub string")
	assert.Empty(t, errOut.String())
}
