package auth

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/keyfile"
)

// DevKeys are the key pairs of development mode, kept in the data folder:
// one stands in for the identity provider, one for a platform, so that every
// API can be called before an identity provider or the platform registry is
// set up. Never trust them in production.
type DevKeys struct {
	Private  ed25519.PrivateKey
	Public   ed25519.PublicKey
	KeyID    string
	Issuer   string
	Audience string

	PlatformPrivate ed25519.PrivateKey
	PlatformPublic  ed25519.PublicKey
	PlatformID      string
	PlatformKeyID   string
}

const (
	devPeopleFile    = "dev-people"
	devPlatformFile  = "dev-platform"
	devKeyID         = "dev-1"
	devIssuer        = "tongquan-dev"
	devAudience      = "tongquan"
	devPlatformID    = "dev-platform"
	devPlatformKeyID = "dev-platform-1"
)

// EnsureDevKeys returns the development keys under dataDir/keys, creating
// them on first use.
func EnsureDevKeys(dataDir string) (*DevKeys, error) {
	dir := filepath.Join(dataDir, "keys")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, apperr.Wrap(err, apperr.CodeInternal, "cannot create the development key folder %s", dir)
	}
	people, err := ensureKeyPair(dir, devPeopleFile)
	if err != nil {
		return nil, err
	}
	platform, err := ensureKeyPair(dir, devPlatformFile)
	if err != nil {
		return nil, err
	}
	return newDevKeys(people, platform), nil
}

// LoadDevKeys reads the development keys without creating any, for tools
// that mint tokens for a running voucherd.
func LoadDevKeys(dataDir string) (*DevKeys, error) {
	dir := filepath.Join(dataDir, "keys")
	people, err := loadDevKey(dir, devPeopleFile)
	if err != nil {
		return nil, err
	}
	platform, err := loadDevKey(dir, devPlatformFile)
	if err != nil {
		return nil, err
	}
	return newDevKeys(people, platform), nil
}

func loadDevKey(dir, name string) (ed25519.PrivateKey, error) {
	priv, err := readPrivateKey(filepath.Join(dir, name+".key"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, apperr.Wrap(err, apperr.CodeNotFound,
			"no development keys in %s; start voucherd once to create them, or pass --data-dir with voucherd's data folder", dir)
	}
	return priv, err
}

func newDevKeys(people, platform ed25519.PrivateKey) *DevKeys {
	return &DevKeys{
		Private:         people,
		Public:          people.Public().(ed25519.PublicKey),
		KeyID:           devKeyID,
		Issuer:          devIssuer,
		Audience:        devAudience,
		PlatformPrivate: platform,
		PlatformPublic:  platform.Public().(ed25519.PublicKey),
		PlatformID:      devPlatformID,
		PlatformKeyID:   devPlatformKeyID,
	}
}

// PeopleConfig trusts the development identity provider.
func (d *DevKeys) PeopleConfig() PeopleConfig {
	return PeopleConfig{
		Issuer:   d.Issuer,
		Audience: d.Audience,
		Keys:     KeySet{{ID: d.KeyID, Public: d.Public}},
	}
}

// PlatformKeys registers the development platform, standing in for the
// platform registry.
func (d *DevKeys) PlatformKeys() StaticPlatformKeys {
	return StaticPlatformKeys{{
		PlatformID:     d.PlatformID,
		KeyID:          d.PlatformKeyID,
		PublicKey:      d.PlatformPublic,
		PlatformActive: true,
	}}
}

// ensureKeyPair returns the key in dir/name.key, creating it first if absent,
// and writes its public half to dir/name.pub for other tools to trust.
func ensureKeyPair(dir, name string) (ed25519.PrivateKey, error) {
	keyPath := filepath.Join(dir, name+".key")
	priv, err := readPrivateKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		if err = createPrivateKey(keyPath); err == nil {
			priv, err = readPrivateKey(keyPath)
		}
	}
	if err != nil {
		return nil, err
	}
	pubPath := filepath.Join(dir, name+".pub")
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, apperr.Wrap(err, apperr.CodeInternal, "cannot encode the public key for %s", pubPath)
	}
	if err := writeNew(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return priv, nil
}

func createPrivateKey(path string) error {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return apperr.Wrap(err, apperr.CodeInternal, "cannot generate a development key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return apperr.Wrap(err, apperr.CodeInternal, "cannot encode the development key")
	}
	return writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, apperr.Wrap(err, apperr.CodeInternal, "cannot read development key %s", path)
	}
	if block, _ := pem.Decode(data); block != nil && block.Type == "PRIVATE KEY" {
		if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
			if priv, ok := k.(ed25519.PrivateKey); ok {
				return priv, nil
			}
		}
	}
	return nil, apperr.New(apperr.CodeInternal,
		"development key %s is not an Ed25519 PKCS#8 PEM private key; delete it and restart voucherd for a new one", path)
}

// writeNew creates path with data and mode unless it already exists
// (keyfile.WriteOnce: the first of several starting processes wins).
func writeNew(path string, data []byte, mode fs.FileMode) error {
	if err := keyfile.WriteOnce(path, data, mode); err != nil {
		return apperr.Wrap(err, apperr.CodeInternal, "cannot write %s", path)
	}
	return nil
}
