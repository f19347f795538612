package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/openapi"
)

// contract is openapi.yaml parsed once, with a router over its operations.
var contract = sync.OnceValues(func() (*openapi3.T, error) {
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // paths are matched without the server prefix
	return doc, doc.Validate(context.Background())
})

// reply is a canned answer of the fake server.
type reply struct {
	status int
	body   string
	header map[string]string
}

// sent is one request voucherctl sent, with the caller its token proves.
type sent struct {
	method, path, query, contentType, authorization string
	body                                            []byte
	caller                                          auth.Principal
}

// fakeVoucherd stands in for voucherd on the contract's terms. It checks
// every request voucherctl sends against openapi.yaml and records it, then
// answers with the reply registered for the route, checking that reply
// against the contract too: a test cannot pass on a request the server would
// refuse or an answer it could never give. It is not a model of the server's
// behaviour; each test says what the server answers.
type fakeVoucherd struct {
	t       *testing.T
	url     string
	dataDir string
	authn   *auth.Authenticator
	router  routers.Router
	replies map[string]reply // "METHOD /path" → reply

	mu   sync.Mutex
	sent []sent
}

func newFakeVoucherd(t *testing.T) *fakeVoucherd {
	t.Helper()
	for _, env := range []string{"TONGQUAN_URL", "TONGQUAN_TOKEN", "TONGQUAN_PLATFORM_TOKEN", "TONGQUAN_DATA_DIR"} {
		t.Setenv(env, "") // the tests say everything on the command line
	}
	doc, err := contract()
	require.NoError(t, err)
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	f := &fakeVoucherd{t: t, dataDir: t.TempDir(), router: router, replies: map[string]reply{}}
	keys, err := auth.EnsureDevKeys(f.dataDir)
	require.NoError(t, err)
	people, err := auth.NewPeopleVerifier(keys.PeopleConfig())
	require.NoError(t, err)
	platforms, err := auth.NewPlatformVerifier(keys.Audience, keys.PlatformKeys(), 0)
	require.NoError(t, err)
	f.authn, err = auth.NewAuthenticator(people, platforms)
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// on registers the answer to method and path (as sent, escaped).
func (f *fakeVoucherd) on(method, path string, status int, body string) {
	f.replies[method+" "+path] = reply{status: status, body: body}
}

// voucherctl runs a command line against the fake server with development
// tokens from its data folder, returning stdout, stderr and the exit status.
func (f *fakeVoucherd) voucherctl(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	args = append(args, "--server", f.url)
	if args[0] != "token" {
		args = append(args, "--data-dir", f.dataDir)
	}
	code := run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// only returns the one request sent.
func (f *fakeVoucherd) only() sent {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Len(f.t, f.sent, 1, "requests sent")
	return f.sent[0]
}

var validation = &openapi3filter.Options{
	AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, // checked by serve, with the real verifier
	MultiError:         true,
	SchemaValidationOptions: []openapi3.SchemaValidationOption{
		openapi3.EnableFormatValidation(),
	},
}

func (f *fakeVoucherd) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("reading the request: %v", err)
		return
	}
	s := sent{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery,
		contentType: r.Header.Get("Content-Type"), authorization: r.Header.Get("Authorization"), body: body}
	if p, err := f.authn.Authenticate(r.Context(), s.authorization); err == nil {
		s.caller = p
	}
	f.mu.Lock()
	f.sent = append(f.sent, s)
	f.mu.Unlock()

	route, params, err := f.router.FindRoute(r)
	if err != nil {
		t.Errorf("voucherctl sent %s %s, which is not an operation of the contract: %v", r.Method, s.path, err)
		http.Error(w, "no such operation", http.StatusNotFound)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: validation}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		t.Errorf("voucherctl sent %s %s against the contract: %v", r.Method, s.path, err)
	}

	rep, ok := f.replies[r.Method+" "+s.path]
	if !ok {
		t.Errorf("the test has no reply for %s %s", r.Method, s.path)
		http.Error(w, "no reply", http.StatusNotFound)
		return
	}
	header := http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req-test-1"}}
	for k, v := range rep.header {
		header.Set(k, v)
	}
	err = openapi3filter.ValidateResponse(r.Context(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rep.status, Header: header,
		Body: io.NopCloser(strings.NewReader(rep.body)), Options: validation,
	})
	if err != nil {
		t.Errorf("the test's reply to %s %s is not what the contract allows: %v", r.Method, s.path, err)
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}
