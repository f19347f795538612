package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

var allRoles = []auth.Role{auth.RoleCampaignManager, auth.RoleApprover, auth.RoleAuditor, auth.RolePlatform}

type operation struct {
	method, path string
	op           *openapi3.Operation
}

func operations(t *testing.T, c *Contract) []operation {
	var ops []operation
	for path, item := range c.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, operation{method, path, op})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	require.NotEmpty(t, ops)
	return ops
}

// TestContractDeclaresAccess: every operation says which voucherd role serves
// it and which caller roles it admits (or that it is public).
func TestContractDeclaresAccess(t *testing.T) {
	c, err := LoadContract()
	require.NoError(t, err)
	for _, o := range operations(t, c) {
		name := o.method + " " + o.path
		assert.NotEmpty(t, o.op.OperationID, name)
		assert.Contains(t, []string{"any", "issuer", "redemption", "audit"}, OperationServiceRole(o.op), "%s: x-service-role", name)
		roles, public := OperationRoles(o.op)
		if public {
			assert.Empty(t, o.op.Extensions[extRoles], "%s is public and must not list roles", name)
			continue
		}
		assert.NotEmpty(t, roles, "%s must list x-roles", name)
		for _, r := range roles {
			assert.Contains(t, allRoles, r, "%s: unknown role", name)
		}
		assert.NotNil(t, o.op.Responses.Default(), "%s must declare a default error response", name)
	}
}

// TestContractRefusesUnknownFields: every object a client sends is closed
// (additionalProperties: false), so unknown fields are refused, not ignored.
func TestContractRefusesUnknownFields(t *testing.T) {
	c, err := LoadContract()
	require.NoError(t, err)
	seen := map[*openapi3.Schema]bool{}
	var walk func(path string, s *openapi3.SchemaRef)
	walk = func(path string, s *openapi3.SchemaRef) {
		if s == nil || s.Value == nil || seen[s.Value] {
			return
		}
		v := s.Value
		seen[v] = true
		if v.Type.Is("object") && len(v.Properties) > 0 {
			closed := v.AdditionalProperties.Has != nil && !*v.AdditionalProperties.Has
			assert.True(t, closed, "%s: request object must set additionalProperties: false", path)
		}
		for name, p := range v.Properties {
			walk(path+"."+name, p)
		}
		walk(path+"[]", v.Items)
	}
	for _, o := range operations(t, c) {
		if rb := o.op.RequestBody; rb != nil && rb.Value != nil {
			for ct, mt := range rb.Value.Content {
				walk(fmt.Sprintf("%s %s (%s)", o.method, o.path, ct), mt.Schema)
			}
		}
	}
}

// samplePath fills path parameters with values that pass their schema.
func samplePath(o operation) string {
	re := regexp.MustCompile(`\{([a-z_]+)\}`)
	return re.ReplaceAllStringFunc(o.path, func(m string) string {
		name := strings.Trim(m, "{}")
		for _, p := range o.op.Parameters {
			if p.Value.Name == name && p.Value.Schema != nil {
				s := p.Value.Schema.Value
				if s.Format == "uuid" {
					return "0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d"
				}
				if len(s.Enum) > 0 {
					return fmt.Sprint(s.Enum[0])
				}
			}
		}
		if name == "uscc" {
			return "91350100M000100Y43"
		}
		return "sample-1"
	})
}

// TestEveryOperationRefusesBadCallers walks every protected operation of the
// contract: no token, a forged, an expired and an alg:none token are 401; a
// valid token without an admitted role is 403; each with the error body.
func TestEveryOperationRefusesBadCallers(t *testing.T) {
	h := newHarness(t, Config{})
	stranger := newHarness(t, Config{}) // same issuer, other keys: its tokens are forgeries here
	noneToken := unsignedToken(t)
	protected := 0
	for _, o := range operations(t, h.srv.Contract()) {
		roles, public := OperationRoles(o.op)
		if public {
			continue
		}
		protected++
		path := samplePath(o)
		// Forged and expired tokens claim every person role the operation admits.
		claimed := []auth.Role{auth.RoleCampaignManager, auth.RoleApprover, auth.RoleAuditor}
		t.Run(o.method+" "+o.path, func(t *testing.T) {
			cases := []struct {
				name, token, code string
				status            int
			}{
				{"no token", "", "UNAUTHENTICATED", http.StatusUnauthorized},
				{"forged", stranger.personToken("mallory", time.Hour, claimed...), "TOKEN_INVALID", http.StatusUnauthorized},
				{"expired", h.personTokenAt("alice", time.Now().Add(-2*time.Hour), claimed...), "TOKEN_EXPIRED", http.StatusUnauthorized},
				{"alg none", noneToken, "TOKEN_INVALID", http.StatusUnauthorized},
			}
			for _, r := range allRoles {
				if !slices.Contains(roles, r) {
					cases = append(cases, struct {
						name, token, code string
						status            int
					}{"role " + string(r), h.tokenFor(r), "FORBIDDEN", http.StatusForbidden})
				}
			}
			for _, tc := range cases {
				res := h.request(o.method, path, tc.token, nil)
				assert.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Body)
				assert.Equal(t, tc.code, res.errorCode(t), tc.name)
			}
		})
	}
	require.Positive(t, protected)
}

// personTokenAt mints a token issued at iat that lives just under an hour.
func (h *harness) personTokenAt(sub string, iat time.Time, roles ...auth.Role) string {
	tok, err := auth.MintPersonToken(h.people, "idp-1", testIssuer, testAudience, sub, roles, time.Hour-time.Minute, iat)
	require.NoError(h.t, err)
	return tok
}

// unsignedToken is a well-formed JWT with alg "none" and an empty signature,
// claiming every role.
func unsignedToken(t *testing.T) string {
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"none","typ":"JWT"}`))
	now := time.Now().Unix()
	claims := enc(fmt.Appendf(nil, `{"iss":%q,"aud":%q,"sub":"mallory","iat":%d,"exp":%d,"roles":["campaign_manager","approver","auditor"]}`,
		testIssuer, testAudience, now, now+3600))
	return header + "." + claims + "."
}

func TestLoadContractIsValid(t *testing.T) {
	c, err := LoadContract()
	require.NoError(t, err)
	require.NoError(t, c.Doc.Validate(context.Background()))
	assert.Equal(t, "3.0.3", c.Doc.OpenAPI)
}

// TestEveryBodyIsValidatedBeforeItsHandler sends malformed JSON, an unknown
// field and a wrong type to every operation that takes a JSON body, as a
// caller holding every role: each is a 400 with a stable code, and nothing is
// written (every state change writes an audit event, so none may appear).
func TestEveryBodyIsValidatedBeforeItsHandler(t *testing.T) {
	e := newIssuerEnv(t)
	tokens := map[auth.Role]string{
		auth.RolePlatform: e.platformToken(),
	}
	person := e.personToken("alice", time.Hour, auth.RoleCampaignManager, auth.RoleApprover, auth.RoleAuditor)
	bodies := []struct{ name, body, code string }{
		{"malformed", `{"name": "x",`, "MALFORMED_JSON"},
		{"unknown field", `{"no_such_field_anywhere": 1}`, "VALIDATION_FAILED"},
		{"wrong type", `"a string where an object belongs"`, "VALIDATION_FAILED"},
		{"empty", ``, "VALIDATION_FAILED"},
	}
	checked := 0
	for _, o := range operations(t, e.srv.Contract()) {
		rb := o.op.RequestBody
		if rb == nil || rb.Value == nil || rb.Value.Content.Get("application/json") == nil || !rb.Value.Required {
			continue
		}
		roles, _ := OperationRoles(o.op)
		token := person
		if len(roles) == 1 && roles[0] == auth.RolePlatform {
			token = tokens[auth.RolePlatform]
		}
		checked++
		for _, b := range bodies {
			req := httptest.NewRequest(o.method, samplePath(o), strings.NewReader(b.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Idempotency-Key", "bad-body-"+b.name[:3])
			res := e.do(req)
			assert.Equal(t, http.StatusBadRequest, res.Status, "%s %s %s: %s", o.method, o.path, b.name, res.Body)
			assert.Equal(t, b.code, res.errorCode(t), "%s %s %s", o.method, o.path, b.name)
		}
		req := httptest.NewRequest(o.method, samplePath(o), strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", "bad-content-type")
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Authorization", "Bearer "+token)
		res := e.do(req)
		assert.Equal(t, http.StatusUnsupportedMediaType, res.Status, "%s %s: %s", o.method, o.path, res.Body)
	}
	assert.Positive(t, checked)
	assert.Zero(t, e.count(t, "audit_events"))
	assert.Zero(t, e.count(t, "campaigns"))
	assert.Zero(t, e.count(t, "platforms"))
}
