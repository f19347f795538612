package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// allowedAlgorithms is the allow-list handed to the JWT parser. Each algorithm
// is bound to one key type (see algorithmFor), so "none", HMAC and key
// confusion (an RS256 header checked against an Ed25519 key) cannot pass.
var allowedAlgorithms = []string{
	jwt.SigningMethodEdDSA.Alg(),
	jwt.SigningMethodES256.Alg(),
	jwt.SigningMethodRS256.Alg(),
}

const allowedAlgorithmsText = "EdDSA, ES256 or RS256"

const minRSABits = 2048

// algorithmFor is the one algorithm pub may verify. It refuses every key
// outside the allow-list: other curves, short RSA moduli, symmetric secrets.
func algorithmFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("Ed25519 public key has %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		return jwt.SigningMethodEdDSA.Alg(), nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("ECDSA key is on curve %s; only P-256 (ES256) is accepted", k.Curve.Params().Name)
		}
		return jwt.SigningMethodES256.Alg(), nil
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return "", fmt.Errorf("RSA key has %d bits; at least %d are required", bits, minRSABits)
		}
		return jwt.SigningMethodRS256.Alg(), nil
	default:
		return "", fmt.Errorf("key type %T is not accepted; use Ed25519, ECDSA P-256 or RSA of at least %d bits", pub, minRSABits)
	}
}

// keyTypeFor names the key type an algorithm needs, for messages.
func keyTypeFor(alg string) string {
	switch alg {
	case jwt.SigningMethodEdDSA.Alg():
		return "Ed25519"
	case jwt.SigningMethodES256.Alg():
		return "ECDSA P-256"
	default:
		return "RSA"
	}
}
