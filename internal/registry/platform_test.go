package registry

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RSA keys are slow to generate, so the tests share them.
var (
	rsa2048 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	rsa1024 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(1024) }) // deliberately too short
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func newEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

func newECDSA(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	require.NoError(t, err)
	return k
}

func encodePEM(blockType string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}))
}

func publicPEM(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return encodePEM("PUBLIC KEY", der)
}

func TestParsePlatformKeyAccepts(t *testing.T) {
	tests := []struct {
		name string
		pub  crypto.PublicKey
		alg  string
	}{
		{"Ed25519", newEd25519(t).Public(), AlgEdDSA},
		{"ECDSA P-256", newECDSA(t, elliptic.P256()).Public(), AlgES256},
		{"RSA 2048", rsa2048().Public(), AlgRS256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := publicPEM(t, tt.pub)
			key, pub, err := ParsePlatformKey("key-2026.01_a", text)
			require.NoError(t, err)
			require.Equal(t, PlatformKey{KeyID: "key-2026.01_a", PublicKeyPEM: text, Algorithm: tt.alg}, key)
			require.True(t, pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.pub))
		})
	}
}

func TestParsePlatformKeyCanonicalises(t *testing.T) {
	pub := rsa2048().Public()
	canonical := publicPEM(t, pub)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)

	// 76-column base64, CRLF line ends and surrounding blank space, as a
	// Windows tool or a copy from a web page may produce.
	b64 := base64.StdEncoding.EncodeToString(der)
	var lines []string
	for len(b64) > 76 {
		lines, b64 = append(lines, b64[:76]), b64[76:]
	}
	lines = append(lines, b64)
	sloppy := "\r\n  -----BEGIN PUBLIC KEY-----\r\n" + strings.Join(lines, "\r\n") + "\r\n-----END PUBLIC KEY-----\r\n\r\n"

	key, _, err := ParsePlatformKey("k1", sloppy)
	require.NoError(t, err)
	require.Equal(t, canonical, key.PublicKeyPEM)
}

func TestParsePlatformKeyRejects(t *testing.T) {
	ed := newEd25519(t)
	edPEM := publicPEM(t, ed.Public())
	pkcs8 := func(k crypto.PrivateKey) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		return encodePEM("PRIVATE KEY", der)
	}
	ecPrivDER, err := x509.MarshalECPrivateKey(newECDSA(t, elliptic.P256()))
	require.NoError(t, err)
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	// RSA moduli above the cap are built rather than generated, which would take minutes.
	huge := &rsa.PublicKey{N: new(big.Int).SetBit(big.NewInt(1), 9000, 1), E: 65537}
	cert := func() string {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "platform"},
			NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1e9, 0)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ed.Public(), ed)
		require.NoError(t, err)
		return encodePEM("CERTIFICATE", der)
	}()

	tests := []struct {
		name, pem, reason string
	}{
		{"empty", "  \n", "is required"},
		{"garbage", "not a key at all", "is not PEM"},
		{"base64 without armour", base64.StdEncoding.EncodeToString([]byte(edPEM)), "is not PEM"},
		{"damaged base64", strings.Replace(edPEM, "MC", "!!", 1), "is not PEM"},
		{"text before", "my key:\n" + edPEM, "is not PEM"},
		{"text after", edPEM + "thanks", "has text after the -----END line"},
		{"two blocks", edPEM + publicPEM(t, newEd25519(t).Public()), "holds 2 PEM blocks"},
		{"damaged block then a good one", "-----BEGIN PUBLIC KEY-----\n%%%\n-----END PUBLIC KEY-----\n" + edPEM, "holds 2 PEM blocks"},
		{"PKCS#8 private key", pkcs8(ed), "is a private key (PRIVATE KEY)"},
		{"RSA private key", encodePEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048())), "is a private key (RSA PRIVATE KEY)"},
		{"EC private key", encodePEM("EC PRIVATE KEY", ecPrivDER), "generate a new key pair"},
		{"PKCS#1 public key", encodePEM("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsa2048().PublicKey)), "convert it to a PKIX PUBLIC KEY"},
		{"certificate", cert, "is a certificate"},
		{"other block type", strings.ReplaceAll(edPEM, "PUBLIC KEY", "SSH KEY"), `is a "SSH KEY" PEM block`},
		{"PEM headers", strings.Replace(edPEM, "-----\n", "-----\nComment: mine\n\n", 1), "has PEM headers"},
		{"not DER", encodePEM("PUBLIC KEY", []byte("hello")), "is not a valid PKIX public key"},
		{"ECDSA P-384", publicPEM(t, newECDSA(t, elliptic.P384()).Public()), "curve P-384; only P-256"},
		{"ECDSA P-521", publicPEM(t, newECDSA(t, elliptic.P521()).Public()), "curve P-521"},
		{"RSA 1024", publicPEM(t, rsa1024().Public()), "is a 1024-bit RSA key"},
		{"RSA 9001", publicPEM(t, huge), "is a 9001-bit RSA key"},
		{"X25519", publicPEM(t, x25519.PublicKey()), "is a *ecdh.PublicKey key, which cannot sign"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, pub, err := ParsePlatformKey("k1", tt.pem)
			requireInvalid(t, err, "public_key_pem", tt.reason)
			require.Zero(t, key)
			require.Nil(t, pub)
			require.NotContains(t, err.Error(), "MC", "the error must not quote the key")
		})
	}
}

func TestParsePlatformKeyID(t *testing.T) {
	good := publicPEM(t, newEd25519(t).Public())
	for _, id := range []string{"a", "2026-01", "k.v_2-A", strings.Repeat("k", 64)} {
		_, _, err := ParsePlatformKey(id, good)
		require.NoError(t, err, id)
	}
	for _, id := range []string{"", "key 1", "key/1", "ключ", strings.Repeat("k", 65), "k1\n"} {
		_, _, err := ParsePlatformKey(id, good)
		requireInvalid(t, err, "key_id", "must be 1 to 64 characters")
	}
	// Both problems are reported together.
	_, _, err := ParsePlatformKey("", "garbage")
	requireInvalid(t, err, "key_id", "1 to 64", "public_key_pem", "is not PEM")
}

func TestPlatformValidate(t *testing.T) {
	good := func() Platform { return Platform{ID: "jd", Name: "京东", Status: PlatformActive} }
	p := good()
	require.Empty(t, p.Validate())
	p.Status = PlatformSuspended
	require.Empty(t, p.Validate())

	tests := []struct {
		name          string
		edit          func(*Platform)
		field, reason string
	}{
		{"id too short", func(p *Platform) { p.ID = "j" }, "id", "2 to 32 characters"},
		{"id upper case", func(p *Platform) { p.ID = "JD" }, "id", "lower-case"},
		{"id starts with digit", func(p *Platform) { p.ID = "1jd" }, "id", "lower-case letter"},
		{"id too long", func(p *Platform) { p.ID = "j" + strings.Repeat("d", 32) }, "id", "2 to 32"},
		{"name empty", func(p *Platform) { p.Name = "" }, "name", "is required"},
		{"name blank", func(p *Platform) { p.Name = " \t" }, "name", "is required"},
		{"name too long", func(p *Platform) { p.Name = strings.Repeat("京", 201) }, "name", "at most 200 characters, got 201"},
		{"name with line break", func(p *Platform) { p.Name = "京东\n商城" }, "name", "control characters"},
		{"name with NUL", func(p *Platform) { p.Name = "jd\x00" }, "name", "control characters"},
		{"name not UTF-8", func(p *Platform) { p.Name = "jd\xff" }, "name", "not valid UTF-8"},
		{"status missing", func(p *Platform) { p.Status = "" }, "status", `is required: "active" or "suspended"`},
		{"status unknown", func(p *Platform) { p.Status = "paused" }, "status", `got "paused"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.edit(&p)
			requireFields(t, p.Validate(), tt.field, tt.reason)
		})
	}
	p = good()
	p.Name = strings.Repeat("京", 200) // characters, not bytes
	require.Empty(t, p.Validate())
}

func TestValidatePlatformID(t *testing.T) {
	for _, id := range []string{"jd", "tmall", "meituan-waimai", "pdd_2", "a" + strings.Repeat("0", 31)} {
		require.NoError(t, ValidatePlatformID(id), id)
	}
	for _, id := range []string{"", "a", "-jd", "_jd", "Jd", "jd.com", "jd ", "a" + strings.Repeat("0", 32)} {
		requireInvalid(t, ValidatePlatformID(id), "platform_id", "2 to 32 characters")
	}
}
