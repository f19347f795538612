package auth

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/tongquan/tongquan/internal/apperr"
)

// Key is a public key trusted to verify people's tokens. ID is the JWKS kid.
// Keys read from PEM files have no ID and are tried whatever kid a token
// names, since a PEM file cannot say which kid the identity provider uses.
type Key struct {
	ID     string
	Public crypto.PublicKey
}

// KeySet is the keys trusted for people's tokens.
type KeySet []Key

// LoadPeopleKeys reads the identity provider's public keys from files, each
// either PEM (one or more PUBLIC KEY blocks) or a JWKS document; the content
// decides which.
func LoadPeopleKeys(paths []string) (KeySet, error) {
	if len(paths) == 0 {
		return nil, apperr.New(apperr.CodeValidationFailed, "no people key files given; pass PEM public keys or a JWKS file")
	}
	var set KeySet
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, apperr.Wrap(err, apperr.CodeValidationFailed, "cannot read people key file %s", path)
		}
		var keys KeySet
		switch data = bytes.TrimSpace(data); {
		case bytes.HasPrefix(data, []byte("{")):
			keys, err = parseJWKS(data)
		case bytes.Contains(data, []byte("-----BEGIN ")):
			keys, err = parsePEM(data)
		default:
			err = errors.New(`it is neither PEM ("-----BEGIN PUBLIC KEY-----") nor a JWKS document ({"keys": [...]})`)
		}
		if err != nil {
			return nil, apperr.New(apperr.CodeValidationFailed, "people key file %s: %v", path, err)
		}
		set = append(set, keys...)
	}
	return set, nil
}

func parsePEM(data []byte) (KeySet, error) {
	var set KeySet
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %d is a %s; only PUBLIC KEY blocks belong here", n, block.Type)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		if _, err := algorithmFor(pub); err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		set = append(set, Key{Public: pub})
	}
	if len(set) == 0 {
		return nil, errors.New("no PEM block could be decoded")
	}
	return set, nil
}

// parseJWKS keeps the set's public signing keys of an accepted type. Keys are
// decoded one by one rather than as one jose.JSONWebKeySet because a single
// key of a type go-jose does not know would fail the whole set, while RFC 7517
// §5 says such keys are to be ignored.
func parseJWKS(data []byte) (KeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a valid JWKS document: %w", err)
	}
	var set KeySet
	var skipped []string
	for i, raw := range doc.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			if errors.Is(err, jose.ErrUnsupportedKeyType) {
				skipped = append(skipped, fmt.Sprintf("key %d: unsupported key type", i+1))
				continue
			}
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if reason := unusableJWK(jwk); reason != "" {
			skipped = append(skipped, fmt.Sprintf("key %d (kid %q): %s", i+1, jwk.KeyID, reason))
			continue
		}
		set = append(set, Key{ID: jwk.KeyID, Public: jwk.Key})
	}
	if len(set) == 0 {
		msg := "no usable key: it needs a public Ed25519, ECDSA P-256 or RSA (at least 2048 bits) signing key"
		if len(skipped) > 0 {
			msg += "; skipped " + strings.Join(skipped, ", ")
		}
		return nil, errors.New(msg)
	}
	return set, nil
}

// unusableJWK says why a decoded key cannot verify tokens, or "" if it can.
func unusableJWK(jwk jose.JSONWebKey) string {
	if jwk.Use == "enc" {
		return "it is an encryption key"
	}
	if !jwk.IsPublic() {
		return "only public keys are used (this one is private or symmetric)"
	}
	alg, err := algorithmFor(jwk.Key)
	if err != nil {
		return err.Error()
	}
	if jwk.Algorithm != "" && jwk.Algorithm != alg {
		return fmt.Sprintf("it is declared for %s; only %s is accepted for this key type", jwk.Algorithm, alg)
	}
	return ""
}
