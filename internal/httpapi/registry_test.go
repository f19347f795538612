package httpapi

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/testclock"
)

// registryHarness is a harness over a fresh database whose platform tokens
// are checked against the registry through the issuer's key cache, on a
// clock the test moves. Its own platform key (h.platform) is registered by
// nobody: tests register "jd" with it when they need h.platformToken.
type registryHarness struct {
	*harness
	db    *pgtest.DB
	clock *manualClock
}

type manualClock = testclock.Clock

// newRegistryHarness builds the harness; cfg may set body limits.
func newRegistryHarness(t *testing.T, cfg Config) *registryHarness {
	t.Helper()
	db := pgtest.New(t)
	clock := testclock.New(time.Now())
	svc := issuer.New(db.Pool, clock.Now)
	_, people, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, platform, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pv, err := auth.NewPeopleVerifier(auth.PeopleConfig{
		Issuer: testIssuer, Audience: testAudience, Keys: auth.KeySet{{ID: "idp-1", Public: people.Public()}},
	})
	require.NoError(t, err)
	plv, err := auth.NewPlatformVerifier(testAudience, svc.PlatformKeys(issuer.DefaultPlatformKeyTTL), 0)
	require.NoError(t, err)
	cfg.Auth, err = auth.NewAuthenticator(pv, plv)
	require.NoError(t, err)
	cfg.Pool, cfg.Issuer = db.Pool, svc
	cfg.ServiceRoles = []string{"issuer", "redemption", "audit"}
	srv, err := New(cfg)
	require.NoError(t, err)
	return &registryHarness{harness: &harness{t: t, srv: srv, people: people, platform: platform}, db: db, clock: clock}
}

func (h *registryHarness) admin() string {
	return h.personToken("alice", time.Hour, auth.RoleCampaignManager)
}

// tokenOf signs a platform token with key, registered as keyID.
func (h *registryHarness) tokenOf(key ed25519.PrivateKey, platformID, keyID string) string {
	tok, err := auth.MintPlatformToken(key, keyID, platformID, testAudience, 2*time.Minute, time.Now())
	require.NoError(h.t, err)
	return tok
}

func pemOf(t testing.TB, key ed25519.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return key
}

func jsonBody(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// register creates a platform whose keys are k1, k2, … in order.
func (h *registryHarness) register(id string, keys ...ed25519.PrivateKey) {
	h.t.Helper()
	var in []map[string]string
	for i, k := range keys {
		in = append(in, map[string]string{"key_id": fmt.Sprintf("k%d", i+1), "public_key_pem": pemOf(h.t, k)})
	}
	res := h.request(http.MethodPost, "/v1/platforms", h.admin(), jsonBody(h.t, map[string]any{"id": id, "name": strings.ToUpper(id), "keys": in}))
	require.Equal(h.t, http.StatusCreated, res.Status, string(res.Body))
}

func (h *registryHarness) count(sql string, args ...any) int {
	h.t.Helper()
	var n int
	require.NoError(h.t, h.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// auditActions are the actions audited on an entity, oldest first.
func (h *registryHarness) auditActions(entityType, entityID string) []string {
	h.t.Helper()
	rows, err := h.db.Pool.Query(context.Background(),
		`SELECT action FROM audit_events WHERE entity_type = $1 AND entity_id = $2 ORDER BY id`, entityType, entityID)
	require.NoError(h.t, err)
	var out []string
	for rows.Next() {
		var a string
		require.NoError(h.t, rows.Scan(&a))
		out = append(out, a)
	}
	require.NoError(h.t, rows.Err())
	return out
}

func (h *registryHarness) csv(token, body string) response {
	h.t.Helper()
	return h.csvFrom(token, strings.NewReader(body))
}

func (h *registryHarness) csvFrom(token string, body io.Reader) response {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/merchants/import", body)
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+token)
	return h.do(req)
}

// errorFields returns an error response's code and the fields it names.
func errorFields(t *testing.T, res response) (string, []string) {
	t.Helper()
	var e struct {
		Code    string `json:"code"`
		Details struct {
			Fields []struct{ Field, Reason string } `json:"fields"`
		} `json:"details"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &e), string(res.Body))
	var fields []string
	for _, f := range e.Details.Fields {
		fields = append(fields, f.Field)
	}
	return e.Code, fields
}

// usccN is a valid unified social credit code whose sequence part is n.
func usccN(t *testing.T, n int) string {
	t.Helper()
	first17 := fmt.Sprintf("91310115%09d", n)
	c, err := registry.USCCCheckChar(first17)
	require.NoError(t, err)
	return first17 + string(c)
}

func merchantBody(t *testing.T, uscc string) []byte {
	return jsonBody(t, map[string]any{
		"name": "Haier flagship", "uscc": uscc, "region": "310115", "category": "household_appliances", "channel": "online",
	})
}

func TestCreatePlatform(t *testing.T) {
	h := newRegistryHarness(t, Config{})
	key := newKey(t)
	body := jsonBody(t, map[string]any{"id": "jd", "name": "JD.com", "keys": []map[string]string{{"key_id": "2026-11", "public_key_pem": pemOf(t, key)}}})

	res := h.request(http.MethodPost, "/v1/platforms", h.admin(), body)
	require.Equal(t, http.StatusCreated, res.Status, string(res.Body))
	var p struct {
		ID, Name, Status string
		Keys             []struct{ KeyID, Algorithm, PublicKeyPEM string } `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &p))
	assert.Equal(t, "jd", p.ID)
	assert.Equal(t, "active", p.Status)
	require.Len(t, p.Keys, 1)
	assert.Equal(t, "EdDSA", p.Keys[0].Algorithm)

	res = h.request(http.MethodPost, "/v1/platforms", h.admin(), body)
	assert.Equal(t, http.StatusConflict, res.Status)
	assert.Equal(t, "CONFLICT", res.errorCode(t))

	res = h.request(http.MethodPost, "/v1/platforms", h.admin(), jsonBody(t, map[string]any{
		"id": "tmall", "name": "Tmall", "keys": []map[string]string{
			{"key_id": "k1", "public_key_pem": pemOf(t, key)},
			{"key_id": "k2", "public_key_pem": "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----"},
		},
	}))
	assert.Equal(t, http.StatusBadRequest, res.Status)
	code, fields := errorFields(t, res)
	assert.Equal(t, "VALIDATION_FAILED", code)
	assert.Equal(t, []string{"keys[1].public_key_pem"}, fields)

	for name, tc := range map[string]struct{ body, code string }{
		"unknown field":  {`{"id":"tmall","name":"Tmall","keys":[{"key_id":"k1","public_key_pem":"x"}],"owner":"me"}`, "VALIDATION_FAILED"},
		"wrong type":     {`{"id":"tmall","name":5,"keys":[{"key_id":"k1","public_key_pem":"x"}]}`, "VALIDATION_FAILED"},
		"no keys":        {`{"id":"tmall","name":"Tmall","keys":[]}`, "VALIDATION_FAILED"},
		"malformed JSON": {`{"id":"tmall",`, "MALFORMED_JSON"},
	} {
		res := h.request(http.MethodPost, "/v1/platforms", h.admin(), []byte(tc.body))
		assert.Equal(t, http.StatusBadRequest, res.Status, name)
		assert.Equal(t, tc.code, res.errorCode(t), name)
	}

	res = h.request(http.MethodPost, "/v1/platforms", h.personToken("bob", time.Hour, auth.RoleAuditor), body)
	assert.Equal(t, http.StatusForbidden, res.Status, "auditors read the registry but do not change it")

	assert.Equal(t, 1, h.count(`SELECT count(*) FROM platforms`), "refused requests write nothing")
	assert.Equal(t, 1, h.count(`SELECT count(*) FROM platform_keys`))
	assert.Equal(t, []string{"platform.created"}, h.auditActions("platform", "jd"))
	assert.Zero(t, h.count(`SELECT count(*) FROM audit_events WHERE entity_id = 'tmall'`))
}

func TestReadPlatforms(t *testing.T) {
	h := newRegistryHarness(t, Config{})
	h.register("jd", newKey(t))
	h.register("tmall", newKey(t), newKey(t))
	auditor := h.personToken("bob", time.Hour, auth.RoleAuditor)

	res := h.request(http.MethodGet, "/v1/platforms", auditor, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	var list struct {
		Items []struct {
			ID   string `json:"id"`
			Keys []any  `json:"keys"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &list))
	require.Len(t, list.Items, 2)
	assert.Equal(t, "jd", list.Items[0].ID)
	assert.Len(t, list.Items[1].Keys, 2)

	res = h.request(http.MethodGet, "/v1/platforms/tmall", auditor, nil)
	assert.Equal(t, http.StatusOK, res.Status, string(res.Body))
	res = h.request(http.MethodGet, "/v1/platforms/pdd", auditor, nil)
	assert.Equal(t, http.StatusNotFound, res.Status)
	assert.Equal(t, "NOT_FOUND", res.errorCode(t))
}

// TestKeyRotationSuspensionAndRevocation follows a platform's tokens through
// the key cache: changes show once its TTL has passed on the clock.
func TestKeyRotationSuspensionAndRevocation(t *testing.T) {
	h := newRegistryHarness(t, Config{})
	k1, k2 := newKey(t), newKey(t)
	h.register("tmall", k1)
	me := func(token string) response { return h.request(http.MethodGet, "/v1/me", token, nil) }
	require.Equal(t, http.StatusOK, me(h.tokenOf(k1, "tmall", "k1")).Status)

	// Rotation: add k2, sign with it; k1 stays valid until revoked.
	res := h.request(http.MethodPost, "/v1/platforms/tmall/keys", h.admin(), jsonBody(t, map[string]string{"key_id": "k2", "public_key_pem": pemOf(t, k2)}))
	require.Equal(t, http.StatusCreated, res.Status, string(res.Body))
	assert.Equal(t, http.StatusOK, me(h.tokenOf(k2, "tmall", "k2")).Status)
	assert.Equal(t, http.StatusOK, me(h.tokenOf(k1, "tmall", "k1")).Status)
	res = h.request(http.MethodPost, "/v1/platforms/tmall/keys", h.admin(), jsonBody(t, map[string]string{"key_id": "k2", "public_key_pem": pemOf(t, newKey(t))}))
	assert.Equal(t, http.StatusConflict, res.Status)
	res = h.request(http.MethodPost, "/v1/platforms/tmall/keys", h.admin(), jsonBody(t, map[string]string{"key_id": "k3", "public_key_pem": "nope"}))
	code, fields := errorFields(t, res)
	assert.Equal(t, "VALIDATION_FAILED", code)
	assert.Equal(t, []string{"public_key_pem"}, fields)

	// Suspension: refused everywhere once the cache has expired.
	res = h.request(http.MethodPatch, "/v1/platforms/tmall", h.admin(), []byte(`{"status":"suspended"}`))
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.Equal(t, http.StatusOK, me(h.tokenOf(k2, "tmall", "k2")).Status, "still cached")
	h.clock.Advance(issuer.DefaultPlatformKeyTTL)
	res = me(h.tokenOf(k2, "tmall", "k2"))
	assert.Equal(t, http.StatusForbidden, res.Status)
	assert.Equal(t, "PLATFORM_SUSPENDED", res.errorCode(t))
	res = h.request(http.MethodGet, "/v1/merchants/m-1", h.tokenOf(k1, "tmall", "k1"), nil)
	assert.Equal(t, "PLATFORM_SUSPENDED", res.errorCode(t))

	res = h.request(http.MethodPatch, "/v1/platforms/tmall", h.admin(), []byte(`{"status":"active","name":"Tmall"}`))
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	h.clock.Advance(issuer.DefaultPlatformKeyTTL)
	assert.Equal(t, http.StatusOK, me(h.tokenOf(k1, "tmall", "k1")).Status)

	// Revocation: k1's tokens are refused, k2's still work.
	res = h.request(http.MethodPost, "/v1/platforms/tmall/keys/k1/revoke", h.admin(), nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.Contains(t, string(res.Body), `"revoked_at"`)
	h.clock.Advance(issuer.DefaultPlatformKeyTTL)
	res = me(h.tokenOf(k1, "tmall", "k1"))
	assert.Equal(t, http.StatusUnauthorized, res.Status)
	assert.Equal(t, "TOKEN_INVALID", res.errorCode(t))
	assert.Equal(t, http.StatusOK, me(h.tokenOf(k2, "tmall", "k2")).Status)

	res = h.request(http.MethodPost, "/v1/platforms/tmall/keys/k1/revoke", h.admin(), nil)
	assert.Equal(t, http.StatusConflict, res.Status)
	assert.Equal(t, "INVALID_STATE", res.errorCode(t))
	res = h.request(http.MethodPost, "/v1/platforms/tmall/keys/k9/revoke", h.admin(), nil)
	assert.Equal(t, http.StatusNotFound, res.Status)
	res = h.request(http.MethodPatch, "/v1/platforms/pdd", h.admin(), []byte(`{"status":"suspended"}`))
	assert.Equal(t, http.StatusNotFound, res.Status)

	assert.Equal(t, []string{"platform.created", "platform.key_added", "platform.suspended", "platform.reactivated", "platform.key_revoked"},
		h.auditActions("platform", "tmall"))
}

func TestMerchants(t *testing.T) {
	h := newRegistryHarness(t, Config{})
	tmallKey := newKey(t)
	h.register("jd", h.platform)
	h.register("tmall", tmallKey)
	jd, tmall := h.platformToken(), h.tokenOf(tmallKey, "tmall", "k1")
	uscc := usccN(t, 1)

	res := h.request(http.MethodPut, "/v1/merchants/m-1", jd, merchantBody(t, uscc))
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	var m struct {
		PlatformID string  `json:"platform_id"`
		Status     string  `json:"status"`
		Sanction   *string `json:"sanction"`
		UpdatedAt  string  `json:"updated_at"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &m))
	assert.Equal(t, "jd", m.PlatformID, "the platform is the token's")
	assert.Equal(t, "active", m.Status)
	assert.Nil(t, m.Sanction)

	again := h.request(http.MethodPut, "/v1/merchants/m-1", jd, merchantBody(t, uscc))
	require.Equal(t, http.StatusOK, again.Status)
	assert.JSONEq(t, string(res.Body), string(again.Body), "the same body again changes nothing")

	res = h.request(http.MethodGet, "/v1/merchants/m-1", jd, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.JSONEq(t, string(again.Body), string(res.Body))

	res = h.request(http.MethodGet, "/v1/merchants/m-1", tmall, nil)
	assert.Equal(t, http.StatusNotFound, res.Status, "a platform never sees another's merchants")
	assert.Equal(t, "NOT_FOUND", res.errorCode(t))
	res = h.request(http.MethodPut, "/v1/merchants/m-1", tmall, merchantBody(t, usccN(t, 2)))
	require.Equal(t, http.StatusOK, res.Status, "merchant ids are per platform")

	for name, bad := range map[string]string{"check character": uscc[:17] + "0", "pattern": "not-a-uscc"} {
		res = h.request(http.MethodPut, "/v1/merchants/m-2", jd, merchantBody(t, bad))
		assert.Equal(t, http.StatusBadRequest, res.Status, name)
		code, fields := errorFields(t, res)
		assert.Equal(t, "VALIDATION_FAILED", code, name)
		assert.Equal(t, []string{"uscc"}, fields, name)
	}
	res = h.request(http.MethodPut, "/v1/merchants/m-1", h.admin(), merchantBody(t, uscc))
	assert.Equal(t, http.StatusForbidden, res.Status, "only platforms keep merchants")

	assert.Equal(t, 2, h.count(`SELECT count(*) FROM merchants`))
	assert.Equal(t, []string{"merchant.created"}, h.auditActions("merchant", "jd/m-1"))
	assert.Equal(t, []string{"merchant.created"}, h.auditActions("merchant", "tmall/m-1"))
}

func TestMerchantImport(t *testing.T) {
	h := newRegistryHarness(t, Config{})
	h.register("jd", h.platform)
	file := "merchant_id,name,uscc,region,category,channel,status\n" +
		"m-1,Shop 1," + usccN(t, 1) + ",310115,household_appliances,online,\n" +
		"m-2,Shop 2," + usccN(t, 2)[:17] + "0,999999,household_appliances,online,active\n" +
		"m-3,Shop 3," + usccN(t, 3) + ",310115\n" +
		"m-4,Shop 4," + usccN(t, 4) + ",310115,household_appliances,offline,inactive\n"

	res := h.csv(h.platformToken(), file)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.JSONEq(t, `{"rows":4,"imported":2,"rejected":2,"errors":[
		{"row":2,"merchant_id":"m-2","fields":[
			{"field":"uscc","reason":"check character should be `+usccN(t, 2)[17:]+`, not 0; if the code was copied correctly, one of the first 17 characters is mistyped"},
			{"field":"region","reason":"starts with 99, which is not a province-level division (11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81 or 82)"}]},
		{"row":3,"merchant_id":"m-3","fields":[{"field":"row","reason":"has 4 values but the header has 7 columns"}]}]}`, string(res.Body))

	res = h.request(http.MethodGet, "/v1/merchants/m-4", h.platformToken(), nil)
	require.Equal(t, http.StatusOK, res.Status, "good rows are stored")
	assert.Contains(t, string(res.Body), `"status":"inactive"`)
	stored := string(res.Body)
	res = h.request(http.MethodGet, "/v1/merchants/m-2", h.platformToken(), nil)
	assert.Equal(t, http.StatusNotFound, res.Status, "bad rows are not")

	h.clock.Advance(time.Hour)
	res = h.csv(h.platformToken(), file)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	res = h.request(http.MethodGet, "/v1/merchants/m-4", h.platformToken(), nil)
	assert.JSONEq(t, stored, string(res.Body), "a re-import changes nothing")
	assert.Equal(t, []string{"platform.created", "merchant.imported"}, h.auditActions("platform", "jd"))

	for name, tc := range map[string]struct{ body, field string }{
		"unknown column": {"merchant_id,name,uscc,region,category,channel,colour\n", "header"},
		"broken quoting": {"merchant_id,name,uscc,region,category,channel\nm-9,\"Shop \"9\"," + usccN(t, 9) + ",310115,food,online\n", "file"},
	} {
		res = h.csv(h.platformToken(), tc.body)
		assert.Equal(t, http.StatusBadRequest, res.Status, name)
		code, fields := errorFields(t, res)
		assert.Equal(t, "VALIDATION_FAILED", code, name)
		assert.Equal(t, []string{tc.field}, fields, name)
	}
	res = h.csv(h.personToken("alice", time.Hour, auth.RoleCampaignManager), file)
	assert.Equal(t, http.StatusForbidden, res.Status)
	assert.Equal(t, 2, h.count(`SELECT count(*) FROM merchants`))
}

func TestMerchantImportTooLarge(t *testing.T) {
	h := newRegistryHarness(t, Config{BulkBodyLimit: 1024})
	h.register("jd", h.platform)
	file := "merchant_id,name,uscc,region,category,channel\n" + strings.Repeat("m-1,Shop 1,"+usccN(t, 1)+",310115,food,online\n", 40)

	res := h.csv(h.platformToken(), file)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.Status, string(res.Body))
	assert.Equal(t, "PAYLOAD_TOO_LARGE", res.errorCode(t))

	// Without a Content-Length, reading crosses the limit instead.
	res = h.csvFrom(h.platformToken(), io.MultiReader(strings.NewReader(file)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.Status, string(res.Body))
	assert.Equal(t, "PAYLOAD_TOO_LARGE", res.errorCode(t))
	assert.Zero(t, h.count(`SELECT count(*) FROM merchants`))
}

// TestOversizedImportReadByTheHandler covers the path where the handler is
// the first to read the body (the validator reads it first today).
func TestOversizedImportReadByTheHandler(t *testing.T) {
	h := newRegistryHarness(t, Config{})
	h.register("jd", h.platform)
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest(http.MethodPost, "/v1/merchants/import", nil)
	setPrincipal(c, auth.Principal{Kind: auth.KindPlatform, Subject: "jd", PlatformID: "jd", Roles: []auth.Role{auth.RolePlatform}})
	file := "merchant_id,name,uscc,region,category,channel\n" + strings.Repeat("m-1,Shop 1,"+usccN(t, 1)+",310115,food,online\n", 40)
	body := http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(file)), 1024)

	_, err := (&handlers{s: h.srv}).ImportMerchants(c, api.ImportMerchantsRequestObject{Body: body})
	require.Error(t, err)
	renderError(c, err)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "PAYLOAD_TOO_LARGE")
}

func TestSanctions(t *testing.T) {
	h := newRegistryHarness(t, Config{})
	h.register("jd", h.platform)
	uscc := usccN(t, 1)
	require.Equal(t, http.StatusOK, h.request(http.MethodPut, "/v1/merchants/m-1", h.platformToken(), merchantBody(t, uscc)).Status)
	set := func(uscc, body string) response {
		return h.request(http.MethodPut, "/v1/merchant-sanctions/"+uscc, h.admin(), []byte(body))
	}
	merchantSanction := func() *string {
		res := h.request(http.MethodGet, "/v1/merchants/m-1", h.platformToken(), nil)
		require.Equal(t, http.StatusOK, res.Status)
		var m struct {
			Sanction *string `json:"sanction"`
		}
		require.NoError(t, json.Unmarshal(res.Body, &m))
		return m.Sanction
	}

	res := set(uscc, `{"sanction":"suspended"}`)
	_, fields := errorFields(t, res)
	assert.Equal(t, []string{"reason"}, fields, "a sanction needs a reason")
	res = set(uscc[:17]+"0", `{"sanction":"suspended","reason":"x"}`)
	assert.Equal(t, http.StatusBadRequest, res.Status)
	_, fields = errorFields(t, res)
	assert.Equal(t, []string{"uscc"}, fields)

	res = set(uscc, `{"sanction":"blacklisted","reason":"voucher fraud"}`)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	var s struct{ Sanction, Reason, DecidedBy string }
	require.NoError(t, json.Unmarshal(res.Body, &s))
	assert.Equal(t, "blacklisted", s.Sanction)
	assert.Contains(t, string(res.Body), `"decided_by":"alice"`)
	require.NotNil(t, merchantSanction())
	assert.Equal(t, "blacklisted", *merchantSanction())

	res = h.request(http.MethodGet, "/v1/merchant-sanctions", h.personToken("bob", time.Hour, auth.RoleAuditor), nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.Contains(t, string(res.Body), `"reason":"voucher fraud"`)
	res = h.request(http.MethodGet, "/v1/merchant-sanctions", h.platformToken(), nil)
	assert.Equal(t, http.StatusForbidden, res.Status)

	res = set(uscc, `{"sanction":"none","reason":"appeal upheld"}`)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	assert.Contains(t, string(res.Body), `"sanction":"none"`)
	assert.Nil(t, merchantSanction())
	res = h.request(http.MethodGet, "/v1/merchant-sanctions", h.admin(), nil)
	assert.JSONEq(t, `{"items":[]}`, string(res.Body))

	assert.Equal(t, []string{"merchant_sanction.blacklisted", "merchant_sanction.lifted"}, h.auditActions("merchant_sanction", uscc))
}
