package auth

import (
	"crypto"
	"crypto/elliptic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

func TestMintPersonTokenClaims(t *testing.T) {
	key := newECDSA(t, elliptic.P256())
	tok, err := MintPersonToken(key, "ec-1", testIssuer, testAudience, "u-7", []Role{RoleCampaignManager}, 15*time.Minute, now)
	require.NoError(t, err)

	var c claims
	parsed, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return key.Public(), nil },
		jwt.WithTimeFunc(clockAt(now)))
	require.NoError(t, err)
	require.Equal(t, "ES256", parsed.Method.Alg())
	require.Equal(t, "ec-1", parsed.Header["kid"])
	require.Equal(t, testIssuer, c.Issuer)
	require.Equal(t, jwt.ClaimStrings{testAudience}, c.Audience)
	require.Equal(t, "u-7", c.Subject)
	require.Equal(t, []string{"campaign_manager"}, c.Roles)
	require.Equal(t, now, c.IssuedAt.Time.UTC())
	require.Equal(t, now.Add(15*time.Minute), c.ExpiresAt.Time.UTC())
	require.NotEmpty(t, c.ID)

	again, err := MintPersonToken(key, "ec-1", testIssuer, testAudience, "u-7", []Role{RoleCampaignManager}, 15*time.Minute, now)
	require.NoError(t, err)
	var c2 claims
	_, _, err = jwt.NewParser().ParseUnverified(again, &c2)
	require.NoError(t, err)
	require.NotEqual(t, c.ID, c2.ID, "jti must be random")
}

func TestMintRefuses(t *testing.T) {
	ed := newEd25519(t)
	tests := []struct {
		name string
		mint func() (string, error)
		msg  string
	}{
		{"person without issuer, audience, subject", func() (string, error) {
			return MintPersonToken(ed, "", "", "", "", nil, time.Hour, now)
		}, "issuer is required; audience is required; subject is required"},
		{"person with the platform role", func() (string, error) {
			return MintPersonToken(ed, "", testIssuer, testAudience, "u-1", []Role{RolePlatform}, time.Hour, now)
		}, `role "platform" is not one of campaign_manager, approver, auditor`},
		{"person with zero ttl", func() (string, error) {
			return MintPersonToken(ed, "", testIssuer, testAudience, "u-1", nil, 0, now)
		}, "ttl must be positive"},
		{"platform token over 5 minutes", func() (string, error) {
			return MintPlatformToken(ed, "k1", "jd", testAudience, 5*time.Minute+time.Second, now)
		}, "ttl is 5m1s; it must be positive and at most 5 minutes"},
		{"platform token without kid", func() (string, error) {
			return MintPlatformToken(ed, "", "jd", testAudience, time.Minute, now)
		}, "key id is required"},
		{"platform token without platform", func() (string, error) {
			return MintPlatformToken(ed, "k1", "", testAudience, time.Minute, now)
		}, "platform id is required"},
		{"P-384 signing key", func() (string, error) {
			return MintPlatformToken(newECDSA(t, elliptic.P384()), "k1", "jd", testAudience, time.Minute, now)
		}, "only P-256 (ES256) is accepted"},
		{"short RSA signing key", func() (string, error) {
			return MintPlatformToken(weakRSA(t), "k1", "jd", testAudience, time.Minute, now)
		}, "RSA key has 1024 bits"},
		{"no signing key", func() (string, error) {
			return MintPlatformToken(nil, "k1", "jd", testAudience, time.Minute, now)
		}, "signing key of type <nil> is not supported"},
		{"opaque signer", func() (string, error) {
			return MintPlatformToken(opaqueSigner{ed}, "k1", "jd", testAudience, time.Minute, now)
		}, "signing key of type auth.opaqueSigner is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := tt.mint()
			require.Empty(t, tok)
			require.Equal(t, apperr.CodeValidationFailed, apperr.CodeOf(err))
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

// opaqueSigner is a crypto.Signer whose key material is out of reach, as in
// an HSM; the JWT library cannot sign with it.
type opaqueSigner struct{ crypto.Signer }
