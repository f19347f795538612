package redemption

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tongquan/tongquan/internal/keyfile"
)

// DevSigningKey returns the development receipt signing key kept in
// dataDir/keys/receipt.key (PKCS#8 PEM, mode 0600), creating it on first use,
// and its key id. Development data only: production configures its key
// (ParseSigningKey), since platforms keep receipts for years.
func DevSigningKey(dataDir string) (ed25519.PrivateKey, string, error) {
	path := filepath.Join(dataDir, "keys", "receipt.key")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err = createDevSigningKey(path); err == nil {
			raw, err = os.ReadFile(path)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("development receipt key %s: %w", path, err)
	}
	key, id, err := ParseSigningKey(string(raw))
	if err != nil {
		return nil, "", fmt.Errorf("development receipt key %s: %w; delete it and restart voucherd for a new one", path, err)
	}
	return key, id, nil
}

// createDevSigningKey writes a fresh key to path unless another process did
// first, so every process starting on one data folder reads the same key.
func createDevSigningKey(path string) error {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return keyfile.WriteOnce(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// ParseSigningKey reads a configured Ed25519 signing key: a PKCS#8 PEM
// private key (openssl genpkey -algorithm ed25519), or base64 of the 32-byte
// seed, the 64-byte private key or the PKCS#8 DER. Its key id is derived from
// the public key, so the same key always publishes under the same id. Errors
// never repeat the key.
func ParseSigningKey(pemOrBase64 string) (ed25519.PrivateKey, string, error) {
	s := strings.TrimSpace(pemOrBase64)
	var der []byte
	if block, _ := pem.Decode([]byte(s)); block != nil {
		if block.Type != "PRIVATE KEY" {
			return nil, "", fmt.Errorf("the receipt key is a PEM %q block; want an Ed25519 PKCS#8 \"PRIVATE KEY\"", block.Type)
		}
		der = block.Bytes
	} else {
		raw, ok := decodeBase64(s)
		if !ok {
			return nil, "", errors.New("the receipt key is neither a PKCS#8 PEM private key nor base64")
		}
		switch len(raw) {
		case ed25519.SeedSize:
			return withKeyID(ed25519.NewKeyFromSeed(raw))
		case ed25519.PrivateKeySize:
			key := ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
			if !bytes.Equal(key, raw) {
				return nil, "", errors.New("the 64-byte receipt key's public half does not belong to its seed")
			}
			return withKeyID(key)
		}
		der = raw
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, "", errors.New("the receipt key is not a valid PKCS#8 private key")
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, "", fmt.Errorf("the receipt key is a %T; receipts are signed with Ed25519", k)
	}
	return withKeyID(key)
}

func decodeBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// withKeyID pairs key with its id: "receipt-" and the first 8 hex digits of
// the SHA-256 of the public key.
func withKeyID(key ed25519.PrivateKey) (ed25519.PrivateKey, string, error) {
	sum := sha256.Sum256(key.Public().(ed25519.PublicKey))
	return key, "receipt-" + hex.EncodeToString(sum[:4]), nil
}
