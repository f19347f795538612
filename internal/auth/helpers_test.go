package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

// now is the fixed time every verifier in these tests reads.
var now = time.Date(2026, 3, 6, 10, 0, 0, 0, time.UTC)

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

const (
	testIssuer   = "https://idp.example.gov.cn"
	testAudience = "tongquan"
)

func newEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	return k
}

func newECDSA(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(t, err)
	return k
}

// RSA keys are slow to generate, so the tests share a few.
var rsaKeys = sync.OnceValues(func() (*rsa.PrivateKey, *rsa.PrivateKey) {
	a, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	b, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return a, b
})

func newRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, _ := rsaKeys()
	return k
}

func otherRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	_, k := rsaKeys()
	return k
}

func weakRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024) // deliberately too short
	require.NoError(t, err)
	return k
}

func publicDER(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return der
}

func publicPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicDER(t, pub)})
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// signed builds a token with arbitrary claims, for the cases the minting
// functions refuse to produce.
func signed(t testing.TB, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// handmade assembles a token without any JWT library, as an attacker would.
func handmade(t testing.TB, header, payload map[string]any, signature []byte) string {
	t.Helper()
	seg := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return seg(header) + "." + seg(payload) + "." + base64.RawURLEncoding.EncodeToString(signature)
}

// personClaims are valid claims for a person token at now.
func personClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   []string{testAudience},
		"sub":   "u-42",
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"roles": []string{"approver"},
	}
}

func with(c jwt.MapClaims, changes map[string]any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// requireCode asserts err is a domain error with code whose message contains
// msg, and that the message never quotes the token.
func requireCode(t testing.TB, err error, code apperr.Code, msg, token string) {
	t.Helper()
	require.Error(t, err)
	e, ok := apperr.As(err)
	require.True(t, ok, "not a domain error: %v", err)
	require.Equal(t, code, e.Code, "message: %s", e.Message)
	require.Contains(t, e.Message, msg)
	for _, part := range strings.Split(token, ".") {
		if len(part) > 8 {
			require.NotContains(t, e.Message, part, "message quotes the token")
		}
	}
}
