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
	dir := filepath.Join(dataDir, "keys")
	path := filepath.Join(dir, "holder.key")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createDevKey(dir, path); err != nil {
			return nil, fmt.Errorf("development holder key %s: %w", path, err)
		}
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("development holder key %s: %w", path, err)
	}
	return ParseKey(string(raw))
}

// createDevKey writes a fresh key to path unless another process did first
// (a hard link fails on an existing file, so both then read the same key).
func createDevKey(dir, path string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "holder.key.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
