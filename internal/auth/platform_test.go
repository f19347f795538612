package auth

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

func newPlatformVerifier(t testing.TB, store PlatformKeyStore) *PlatformVerifier {
	t.Helper()
	v, err := NewPlatformVerifier(testAudience, store, 0)
	require.NoError(t, err)
	return v.WithClock(clockAt(now))
}

func platformClaims(platformID string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": platformID,
		"aud": testAudience,
		"iat": now.Unix(),
		"exp": now.Add(time.Minute).Unix(),
	}
}

func TestPlatformVerifier(t *testing.T) {
	jdOld, jdNew, tmall, banned := newEd25519(t), newECDSA(t, elliptic.P256()), newRSA(t), newEd25519(t)
	store := StaticPlatformKeys{
		{PlatformID: "jd", KeyID: "2025", PublicKey: jdOld.Public(), PlatformActive: true},
		{PlatformID: "jd", KeyID: "2026", PublicKey: jdNew.Public(), PlatformActive: true},
		{PlatformID: "tmall", KeyID: "r1", PublicKey: tmall.Public(), PlatformActive: true},
		{PlatformID: "banned", KeyID: "b1", PublicKey: banned.Public(), PlatformActive: false},
	}
	v := newPlatformVerifier(t, store)
	mint := func(key crypto.Signer, kid, platformID string, ttl time.Duration, at time.Time) string {
		t.Helper()
		tok, err := MintPlatformToken(key, kid, platformID, testAudience, ttl, at)
		require.NoError(t, err)
		return tok
	}

	t.Run("accepted", func(t *testing.T) {
		tests := []struct {
			name, platform, token string
		}{
			{"old key during rotation (EdDSA)", "jd", mint(jdOld, "2025", "jd", 5*time.Minute, now)},
			{"new key during rotation (ES256)", "jd", mint(jdNew, "2026", "jd", time.Minute, now)},
			{"RS256", "tmall", mint(tmall, "r1", "tmall", time.Minute, now.Add(-30*time.Second))},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p, err := v.Verify(context.Background(), tt.token)
				require.NoError(t, err)
				require.Equal(t, KindPlatform, p.Kind)
				require.Equal(t, tt.platform, p.Subject)
				require.Equal(t, tt.platform, p.PlatformID)
				require.Equal(t, []Role{RolePlatform}, p.Roles)
				require.NotEmpty(t, p.TokenID)
			})
		}
	})

	t.Run("refused", func(t *testing.T) {
		const unknown = "iss and kid do not name a registered platform key"
		tests := []struct {
			name  string
			token string
			code  apperr.Code
			msg   string
		}{
			{"lifetime over 5 minutes", signed(t, jwt.SigningMethodEdDSA, jdOld, "2025", with(platformClaims("jd"), map[string]any{"exp": now.Add(5*time.Minute + time.Second).Unix()})),
				apperr.CodeTokenInvalid, "token lives 5m1s (exp - iat); platform tokens may live at most 5 minutes"},
			{"lifetime of a day", signed(t, jwt.SigningMethodEdDSA, jdOld, "2025", with(platformClaims("jd"), map[string]any{"exp": now.Add(24 * time.Hour).Unix()})),
				apperr.CodeTokenInvalid, "at most 5 minutes"},
			{"missing iat", signed(t, jwt.SigningMethodEdDSA, jdOld, "2025", with(platformClaims("jd"), map[string]any{"iat": nil})),
				apperr.CodeTokenInvalid, "token has no iat claim"},
			{"missing exp", signed(t, jwt.SigningMethodEdDSA, jdOld, "2025", with(platformClaims("jd"), map[string]any{"exp": nil})),
				apperr.CodeTokenInvalid, "token has no exp claim"},
			{"expired", mint(jdOld, "2025", "jd", time.Minute, now.Add(-2*time.Minute)),
				apperr.CodeTokenExpired, "token expired at 2026-03-06T09:59:00Z"},
			{"unknown platform", mint(jdOld, "2025", "taobao", time.Minute, now),
				apperr.CodeTokenInvalid, unknown},
			{"unknown kid", mint(jdOld, "2024", "jd", time.Minute, now),
				apperr.CodeTokenInvalid, unknown},
			{"another platform's kid", mint(tmall, "r1", "jd", time.Minute, now),
				apperr.CodeTokenInvalid, unknown},
			{"no kid", signed(t, jwt.SigningMethodEdDSA, jdOld, "", platformClaims("jd")),
				apperr.CodeTokenInvalid, "token header has no kid"},
			{"no iss", signed(t, jwt.SigningMethodEdDSA, jdOld, "2025", with(platformClaims("jd"), map[string]any{"iss": nil})),
				apperr.CodeTokenInvalid, "token has no iss claim; set it to your platform id"},
			{"suspended platform", mint(banned, "b1", "banned", time.Minute, now),
				apperr.CodePlatformSuspended, `platform "banned" is suspended`},
			{"suspended platform, forged signature", mint(newEd25519(t), "b1", "banned", time.Minute, now),
				apperr.CodeTokenInvalid, "signature does not verify against the platform's registered key"},
			{"signed with the wrong key of the platform", mint(jdOld, "2026", "jd", time.Minute, now),
				apperr.CodeTokenInvalid, `key "2026" is an ECDSA P-256 key and cannot verify EdDSA tokens; sign with ES256`},
			{"RS256 header naming an Ed25519 key", signed(t, jwt.SigningMethodRS256, otherRSA(t), "2025", platformClaims("jd")),
				apperr.CodeTokenInvalid, `key "2025" is an Ed25519 key and cannot verify RS256 tokens`},
			{"forged signature", mint(newEd25519(t), "2025", "jd", time.Minute, now),
				apperr.CodeTokenInvalid, "signature does not verify"},
			{"wrong audience", signed(t, jwt.SigningMethodEdDSA, jdOld, "2025", with(platformClaims("jd"), map[string]any{"aud": "someone-else"})),
				apperr.CodeTokenInvalid, `audience must include "tongquan"`},
			{"HS256 keyed with the registered public key", signed(t, jwt.SigningMethodHS256, publicPEM(t, jdOld.Public()), "2025", platformClaims("jd")),
				apperr.CodeTokenInvalid, "algorithm HS256 is not allowed; use EdDSA, ES256 or RS256"},
			{"alg none", handmade(t, map[string]any{"alg": "none", "kid": "2025"}, platformClaims("jd"), nil),
				apperr.CodeTokenInvalid, "algorithm none is not allowed"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := v.Verify(context.Background(), tt.token)
				requireCode(t, err, tt.code, tt.msg, tt.token)
			})
		}
	})
}

// failingStore stands in for a registry that cannot answer.
type failingStore struct{ err error }

func (s failingStore) PlatformKey(context.Context, string, string) (PlatformKey, error) {
	return PlatformKey{}, s.err
}

func TestPlatformVerifierStoreFailures(t *testing.T) {
	key := newEd25519(t)
	tok, err := MintPlatformToken(key, "k1", "jd", testAudience, time.Minute, now)
	require.NoError(t, err)

	tests := []struct {
		name string
		err  error
		code apperr.Code
	}{
		{"domain error kept", apperr.New(apperr.CodeUnavailable, "registry is down"), apperr.CodeUnavailable},
		{"other error is internal", errors.New("connection reset"), apperr.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newPlatformVerifier(t, failingStore{tt.err}).Verify(context.Background(), tok)
			require.Equal(t, tt.code, apperr.CodeOf(err))
			require.ErrorIs(t, err, tt.err)
		})
	}
}

func TestNewPlatformVerifierValidatesConfig(t *testing.T) {
	_, err := NewPlatformVerifier("", nil, -time.Second)
	require.Equal(t, apperr.CodeValidationFailed, apperr.CodeOf(err))
	for _, msg := range []string{"audience is required", "a platform key store is required", "leeway must not be negative"} {
		require.ErrorContains(t, err, msg)
	}
}
