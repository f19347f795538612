package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/elliptic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

func newPeopleVerifier(t testing.TB, keys KeySet, leeway time.Duration) *PeopleVerifier {
	t.Helper()
	v, err := NewPeopleVerifier(PeopleConfig{Issuer: testIssuer, Audience: testAudience, Keys: keys, Leeway: leeway})
	require.NoError(t, err)
	return v.WithClock(clockAt(now))
}

func mintPerson(t testing.TB, key crypto.Signer, kid string, roles []Role, ttl time.Duration, at time.Time) string {
	t.Helper()
	tok, err := MintPersonToken(key, kid, testIssuer, testAudience, "u-42", roles, ttl, at)
	require.NoError(t, err)
	return tok
}

func TestPeopleVerifierAcceptsValidTokens(t *testing.T) {
	ed, ec, rs := newEd25519(t), newECDSA(t, elliptic.P256()), newRSA(t)
	v := newPeopleVerifier(t, KeySet{
		{ID: "ed-1", Public: ed.Public()},
		{ID: "ec-1", Public: ec.Public()},
		{ID: "rsa-1", Public: rs.Public()},
	}, 30*time.Second)
	roles := []Role{RoleApprover, RoleAuditor}

	tests := []struct {
		name  string
		token string
	}{
		{"EdDSA with kid", mintPerson(t, ed, "ed-1", roles, time.Hour, now)},
		{"ES256 with kid", mintPerson(t, ec, "ec-1", roles, time.Hour, now)},
		{"RS256 with kid", mintPerson(t, rs, "rsa-1", roles, time.Hour, now)},
		{"EdDSA without kid", mintPerson(t, ed, "", roles, time.Hour, now)},
		{"ES256 without kid", mintPerson(t, ec, "", roles, time.Hour, now)},
		{"RS256 without kid", mintPerson(t, rs, "", roles, time.Hour, now)},
		{"expired within leeway", mintPerson(t, ed, "ed-1", roles, time.Hour, now.Add(-time.Hour-10*time.Second))},
		{"issued slightly in the future within leeway", mintPerson(t, ed, "ed-1", roles, time.Hour, now.Add(10*time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(tt.token)
			require.NoError(t, err)
			require.Equal(t, KindPerson, p.Kind)
			require.Equal(t, "u-42", p.Subject)
			require.Equal(t, roles, p.Roles)
			require.Empty(t, p.PlatformID)
			require.NotEmpty(t, p.TokenID)
		})
	}
}

func TestPeopleVerifierRejects(t *testing.T) {
	ed, ec, rs := newEd25519(t), newECDSA(t, elliptic.P256()), newRSA(t)
	v := newPeopleVerifier(t, KeySet{
		{ID: "ed-1", Public: ed.Public()},
		{ID: "ec-1", Public: ec.Public()},
		{ID: "rsa-1", Public: rs.Public()},
	}, 0)
	valid := personClaims()
	edPEM, edDER := publicPEM(t, ed.Public()), publicDER(t, ed.Public())

	tests := []struct {
		name  string
		token string
		code  apperr.Code
		msg   string
	}{
		{"expired", mintPerson(t, ed, "ed-1", nil, time.Hour, now.Add(-2*time.Hour)),
			apperr.CodeTokenExpired, "token expired at 2026-03-06T09:00:00Z"},
		{"not yet valid", signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", with(valid, map[string]any{"nbf": now.Add(time.Minute).Unix()})),
			apperr.CodeTokenInvalid, "not valid before 2026-03-06T10:01:00Z"},
		{"issued in the future", signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", with(valid, map[string]any{"iat": now.Add(time.Minute).Unix()})),
			apperr.CodeTokenInvalid, "is in the future; check the signer's clock"},
		{"signed by another key", signed(t, jwt.SigningMethodEdDSA, newEd25519(t), "ed-1", valid),
			apperr.CodeTokenInvalid, "signature does not verify"},
		{"signed by another key, no kid", signed(t, jwt.SigningMethodEdDSA, newEd25519(t), "", valid),
			apperr.CodeTokenInvalid, "signature does not verify"},
		{"signed by another RSA key", signed(t, jwt.SigningMethodRS256, otherRSA(t), "rsa-1", valid),
			apperr.CodeTokenInvalid, "signature does not verify"},
		{"alg none", handmade(t, map[string]any{"alg": "none", "typ": "JWT"}, valid, nil),
			apperr.CodeTokenInvalid, "algorithm none is not allowed; use EdDSA, ES256 or RS256"},
		{"alg none with kid", handmade(t, map[string]any{"alg": "none", "kid": "ed-1"}, valid, nil),
			apperr.CodeTokenInvalid, "algorithm none is not allowed"},
		{"HS256 keyed with the public key PEM", signed(t, jwt.SigningMethodHS256, edPEM, "ed-1", valid),
			apperr.CodeTokenInvalid, "algorithm HS256 is not allowed; use EdDSA, ES256 or RS256"},
		{"HS256 keyed with the public key DER", signed(t, jwt.SigningMethodHS256, edDER, "", valid),
			apperr.CodeTokenInvalid, "algorithm HS256 is not allowed"},
		{"HS256 keyed with the raw Ed25519 public key", signed(t, jwt.SigningMethodHS256, []byte(ed.Public().(ed25519.PublicKey)), "", valid),
			apperr.CodeTokenInvalid, "algorithm HS256 is not allowed"},
		{"PS256 is not on the list", signed(t, jwt.SigningMethodPS256, rs, "rsa-1", valid),
			apperr.CodeTokenInvalid, "algorithm PS256 is not allowed"},
		{"unknown algorithm", handmade(t, map[string]any{"alg": "XX512"}, valid, []byte("sig")),
			apperr.CodeTokenInvalid, "no supported algorithm"},
		{"no algorithm", handmade(t, map[string]any{"typ": "JWT"}, valid, []byte("sig")),
			apperr.CodeTokenInvalid, "no supported algorithm"},
		{"RS256 header naming the Ed25519 key", signed(t, jwt.SigningMethodRS256, otherRSA(t), "ed-1", valid),
			apperr.CodeTokenInvalid, `key "ed-1" is an Ed25519 key and cannot verify RS256 tokens`},
		{"ES256 header naming the RSA key", signed(t, jwt.SigningMethodES256, newECDSA(t, elliptic.P256()), "rsa-1", valid),
			apperr.CodeTokenInvalid, `key "rsa-1" is an RSA key and cannot verify ES256 tokens`},
		{"unknown kid", signed(t, jwt.SigningMethodEdDSA, ed, "ed-9", valid),
			apperr.CodeTokenInvalid, `no trusted Ed25519 key has kid "ed-9"`},
		{"wrong issuer", signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", with(valid, map[string]any{"iss": "https://evil.example"})),
			apperr.CodeTokenInvalid, `issuer must be "https://idp.example.gov.cn"`},
		{"missing issuer", signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", with(valid, map[string]any{"iss": nil})),
			apperr.CodeTokenInvalid, `issuer must be "https://idp.example.gov.cn"`},
		{"wrong audience", signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", with(valid, map[string]any{"aud": []string{"other", "another"}})),
			apperr.CodeTokenInvalid, `audience must include "tongquan"`},
		{"missing audience", signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", with(valid, map[string]any{"aud": nil})),
			apperr.CodeTokenInvalid, `audience must include "tongquan"`},
		{"missing exp", signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", with(valid, map[string]any{"exp": nil})),
			apperr.CodeTokenInvalid, "token has no exp claim"},
		{"missing sub", signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", with(valid, map[string]any{"sub": nil})),
			apperr.CodeTokenInvalid, "token has no sub claim"},
		{"roles not an array", signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", with(valid, map[string]any{"roles": "approver"})),
			apperr.CodeTokenInvalid, "token is malformed"},
		{"exp not a number", signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", with(valid, map[string]any{"exp": "tomorrow"})),
			apperr.CodeTokenInvalid, "token is malformed"},
		{"empty", "", apperr.CodeTokenInvalid, "token is malformed"},
		{"one segment", "abc", apperr.CodeTokenInvalid, "token is malformed"},
		{"four segments", "a.b.c.d", apperr.CodeTokenInvalid, "token is malformed"},
		{"header not base64", "!!!.e30.", apperr.CodeTokenInvalid, "token is malformed"},
		{"header not JSON", "bm90LWpzb24.e30.", apperr.CodeTokenInvalid, "token is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token)
			requireCode(t, err, tt.code, tt.msg, tt.token)
		})
	}
}

func TestPeopleVerifierKeySelection(t *testing.T) {
	ed, ec := newEd25519(t), newECDSA(t, elliptic.P256())

	t.Run("keys without an id are tried whatever kid the token names", func(t *testing.T) {
		v := newPeopleVerifier(t, KeySet{{Public: ed.Public()}}, 0)
		_, err := v.Verify(mintPerson(t, ed, "idp-2026-03", nil, time.Hour, now))
		require.NoError(t, err)
	})
	t.Run("no key of the algorithm's type", func(t *testing.T) {
		v := newPeopleVerifier(t, KeySet{{ID: "ed-1", Public: ed.Public()}}, 0)
		tok := mintPerson(t, ec, "", nil, time.Hour, now)
		_, err := v.Verify(tok)
		requireCode(t, err, apperr.CodeTokenInvalid, "no trusted key verifies ES256 tokens", tok)
	})
	t.Run("a kid picks its key among several of one type", func(t *testing.T) {
		other := newEd25519(t)
		v := newPeopleVerifier(t, KeySet{{ID: "ed-1", Public: ed.Public()}, {ID: "ed-2", Public: other.Public()}}, 0)
		_, err := v.Verify(mintPerson(t, other, "ed-2", nil, time.Hour, now))
		require.NoError(t, err)
		tok := mintPerson(t, other, "ed-1", nil, time.Hour, now)
		_, err = v.Verify(tok)
		requireCode(t, err, apperr.CodeTokenInvalid, "signature does not verify", tok)
	})
}

func TestPeopleVerifierKeepsOnlyPersonRoles(t *testing.T) {
	ed := newEd25519(t)
	v := newPeopleVerifier(t, KeySet{{ID: "ed-1", Public: ed.Public()}}, 0)
	tests := []struct {
		name   string
		claim  any
		expect []Role
	}{
		{"all person roles", []string{"campaign_manager", "approver", "auditor"}, []Role{RoleCampaignManager, RoleApprover, RoleAuditor}},
		{"unknown strings dropped", []string{"admin", "auditor", "Approver"}, []Role{RoleAuditor}},
		{"platform is never granted to a person", []string{"platform", "approver"}, []Role{RoleApprover}},
		{"duplicates collapse", []string{"approver", "approver"}, []Role{RoleApprover}},
		{"no roles claim", nil, nil},
		{"empty roles", []string{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := personClaims()
			delete(c, "roles")
			if tt.claim != nil {
				c["roles"] = tt.claim
			}
			p, err := v.Verify(signed(t, jwt.SigningMethodEdDSA, ed, "ed-1", c))
			require.NoError(t, err)
			require.Equal(t, tt.expect, p.Roles)
		})
	}
}

func TestNewPeopleVerifierValidatesConfig(t *testing.T) {
	ed := newEd25519(t)
	keys := KeySet{{ID: "ed-1", Public: ed.Public()}}
	tests := []struct {
		name string
		cfg  PeopleConfig
		msg  []string
	}{
		{"empty", PeopleConfig{}, []string{"issuer is required", "audience is required", "at least one public key is required"}},
		{"no issuer", PeopleConfig{Audience: testAudience, Keys: keys}, []string{"issuer is required"}},
		{"no audience", PeopleConfig{Issuer: testIssuer, Keys: keys}, []string{"audience is required"}},
		{"negative leeway", PeopleConfig{Issuer: testIssuer, Audience: testAudience, Keys: keys, Leeway: -time.Second}, []string{"leeway must not be negative"}},
		{"short RSA key", PeopleConfig{Issuer: testIssuer, Audience: testAudience, Keys: KeySet{{ID: "old", Public: weakRSA(t).Public()}}},
			[]string{`key 1 (kid "old"): RSA key has 1024 bits; at least 2048 are required`}},
		{"P-384 key", PeopleConfig{Issuer: testIssuer, Audience: testAudience, Keys: KeySet{{Public: newECDSA(t, elliptic.P384()).Public()}}},
			[]string{"only P-256 (ES256) is accepted"}},
		{"private key instead of public", PeopleConfig{Issuer: testIssuer, Audience: testAudience, Keys: KeySet{{Public: ed}}},
			[]string{"key type ed25519.PrivateKey is not accepted"}},
		{"HMAC secret", PeopleConfig{Issuer: testIssuer, Audience: testAudience, Keys: KeySet{{Public: []byte("secret")}}},
			[]string{"key type []uint8 is not accepted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPeopleVerifier(tt.cfg)
			require.Equal(t, apperr.CodeValidationFailed, apperr.CodeOf(err))
			for _, m := range tt.msg {
				require.ErrorContains(t, err, m)
			}
		})
	}
}
