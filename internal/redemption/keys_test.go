package redemption

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDevSigningKeyIsCreatedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	key, id, err := DevSigningKey(dir)
	require.NoError(t, err)
	assert.Regexp(t, `^receipt-[0-9a-f]{8}$`, id)

	path := filepath.Join(dir, "keys", "receipt.key")
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	block, _ := pem.Decode(raw)
	require.NotNil(t, block)
	assert.Equal(t, "PRIVATE KEY", block.Type)

	again, againID, err := DevSigningKey(dir)
	require.NoError(t, err)
	assert.Equal(t, key, again)
	assert.Equal(t, id, againID)
}

// Several voucherd processes starting on one fresh data folder must end up
// signing with one key.
func TestDevSigningKeyRace(t *testing.T) {
	dir := t.TempDir()
	ids := make([]string, 16)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			_, id, err := DevSigningKey(dir)
			assert.NoError(t, err)
			ids[i] = id
		})
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, ids[0], id)
	}
	left, err := filepath.Glob(filepath.Join(dir, "keys", ".tmp-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "temporary files are removed")
}

func TestDevSigningKeyRefusesACorruptFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "keys"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys", "receipt.key"), []byte("garbage!"), 0o600))
	_, _, err := DevSigningKey(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "delete it and restart voucherd")
}

func TestParseSigningKey(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	key := ed25519.NewKeyFromSeed(seed)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	_, wantID, err := ParseSigningKey(base64.StdEncoding.EncodeToString(seed))
	require.NoError(t, err)
	assert.Regexp(t, `^receipt-[0-9a-f]{8}$`, wantID)

	for name, in := range map[string]string{
		"PKCS#8 PEM":             string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"PKCS#8 DER, base64":     base64.StdEncoding.EncodeToString(der),
		"seed, base64url":        base64.RawURLEncoding.EncodeToString(seed),
		"64-byte key, base64":    " " + base64.StdEncoding.EncodeToString(key) + "\n",
		"seed, padded base64url": base64.URLEncoding.EncodeToString(seed),
	} {
		got, id, err := ParseSigningKey(in)
		require.NoError(t, err, name)
		assert.Equal(t, key, got, name)
		assert.Equal(t, wantID, id, name)
	}

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalPKCS8PrivateKey(ec)
	require.NoError(t, err)
	mismatched := append(append([]byte{}, seed...), make([]byte, ed25519.PublicKeySize)...)
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	require.NoError(t, err)
	for name, in := range map[string]string{
		"not a key":         "correct horse battery staple",
		"a public key":      string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		"a P-256 key":       string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})),
		"halves mismatched": base64.StdEncoding.EncodeToString(mismatched),
		"16 bytes":          base64.StdEncoding.EncodeToString(seed[:16]),
	} {
		_, _, err := ParseSigningKey(in)
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), in, "%s: the key is never repeated", name)
	}
}
