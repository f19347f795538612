package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

const platformJSON = `{"id": "jd", "name": "JD.com", "status": "active", "keys": [
	{"key_id": "2026-11", "public_key_pem": "-----BEGIN PUBLIC KEY-----\n...", "algorithm": "EdDSA", "created_at": "2026-11-01T09:00:00+08:00"},
	{"key_id": "2026-05", "public_key_pem": "-----BEGIN PUBLIC KEY-----\n...", "algorithm": "EdDSA", "created_at": "2026-05-01T09:00:00+08:00",
	 "revoked_at": "2026-11-02T09:00:00+08:00"}],
	"created_at": "2026-05-01T09:00:00+08:00", "updated_at": "2026-11-02T09:00:00+08:00"}`

func publicKeyPEM(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestPlatformRegisterSendsThePEMFile(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/platforms", http.StatusCreated, platformJSON)
	key := publicKeyPEM(t)

	out, errOut, code := f.voucherctl("platform", "register", "--id", "jd", "--name", "JD.com",
		"--key-id", "2026-11", "--public-key", writeFile(t, "jd.pem", key))

	require.Equal(t, 0, code, errOut)
	req := f.only()
	want, err := json.Marshal(map[string]any{"id": "jd", "name": "JD.com",
		"keys": []map[string]string{{"key_id": "2026-11", "public_key_pem": key}}})
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(req.body))
	assert.Equal(t, []auth.Role{auth.RoleCampaignManager}, req.caller.Roles)
	assert.Regexp(t, `2026-11\s+EdDSA\s+2026-11-01 09:00:00 \+08:00\s+-`, out)
	assert.Regexp(t, `2026-05\s+EdDSA\s+2026-05-01 09:00:00 \+08:00\s+2026-11-02 09:00:00 \+08:00`, out)
}

func TestPlatformSuspendAndResumePatchTheStatus(t *testing.T) {
	for verb, status := range map[string]string{"suspend": "suspended", "resume": "active"} {
		t.Run(verb, func(t *testing.T) {
			f := newFakeVoucherd(t)
			f.on(http.MethodPatch, "/v1/platforms/jd", http.StatusOK, platformJSON)

			_, errOut, code := f.voucherctl("platform", verb, "jd")

			require.Equal(t, 0, code, errOut)
			assert.JSONEq(t, `{"status": "`+status+`"}`, string(f.only().body))
		})
	}
}

func TestPlatformKeys(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/platforms/jd/keys", http.StatusCreated, platformJSON)
	key := publicKeyPEM(t)

	_, errOut, code := f.voucherctl("platform", "add-key", "jd", "--key-id", "2026-11", "--public-key", writeFile(t, "k.pem", key))

	require.Equal(t, 0, code, errOut)
	want, err := json.Marshal(map[string]string{"key_id": "2026-11", "public_key_pem": key})
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(f.only().body))

	g := newFakeVoucherd(t)
	g.on(http.MethodPost, "/v1/platforms/jd/keys/2026-05/revoke", http.StatusOK, platformJSON)
	_, errOut, code = g.voucherctl("platform", "revoke-key", "jd", "2026-05")
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, g.only().body)
}

func TestPlatformListCountsActiveKeys(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/platforms", http.StatusOK, `{"items": [`+platformJSON+`]}`)

	out, errOut, code := f.voucherctl("platform", "list")

	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []auth.Role{auth.RoleAuditor}, f.only().caller.Roles)
	assert.Regexp(t, `jd\s+active\s+1 of 2\s+2026-05-01 09:00:00 \+08:00\s+JD.com`, out)
}
