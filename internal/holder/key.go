package holder

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tongquan/tongquan/internal/keyfile"
)

// ParseKey reads a hash key given as hex or base64 (at least 32 bytes).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) >= 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) >= 32 {
		return b, nil
	}
	return nil, errors.New("must be at least 32 random bytes, hex or base64 encoded (e.g. openssl rand -hex 32)")
}

// DevKey returns the development hash key in dataDir/keys/holder.key,
// creating it on first use. Development data only: production sets the key.
func DevKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, "keys", "holder.key")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createDevKey(path); err != nil {
			return nil, fmt.Errorf("development holder key %s: %w", path, err)
		}
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("development holder key %s: %w", path, err)
	}
	return ParseKey(string(raw))
}

// createDevKey writes a fresh key to path unless another process did first.
func createDevKey(path string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	return keyfile.WriteOnce(path, []byte(hex.EncodeToString(key)+"\n"), 0o600)
}
