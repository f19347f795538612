package registry

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tongquan/tongquan/internal/apperr"
)

// PlatformStatus says whether a platform may call the checkout API.
type PlatformStatus string

const (
	PlatformActive    PlatformStatus = "active"
	PlatformSuspended PlatformStatus = "suspended"
)

// Platform is an e-commerce platform that redeems vouchers. Its ID is the `iss`
// of the tokens it signs with one of its Keys.
type Platform struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Status    PlatformStatus `json:"status"`
	Keys      []PlatformKey  `json:"keys"`
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
}

// Validate checks the fields an administrator supplies (id, name, status).
// Keys are checked one by one when registered, by ParsePlatformKey.
func (p *Platform) Validate() []apperr.FieldError {
	var ps problems
	ps.add("id", platformIDProblem(p.ID))
	ps.add("name", textProblem(p.Name, maxNameLength, false))
	ps.add("status", oneOfProblem(string(p.Status), string(PlatformActive), string(PlatformSuspended)))
	return ps
}

var platformIDPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,31}$`)

// ValidatePlatformID checks a platform id given on its own (a path parameter,
// the platform of an import); the error names the field platform_id.
func ValidatePlatformID(id string) error {
	return invalid("platform_id", platformIDProblem(id))
}

func platformIDProblem(id string) string {
	if !platformIDPattern.MatchString(id) {
		return "must be 2 to 32 characters: a lower-case letter, then lower-case letters, digits, '_' or '-'"
	}
	return ""
}

// PlatformKey is a public key a platform signs its tokens with. A platform has
// several so it can rotate: add the new key, switch signing, revoke the old.
type PlatformKey struct {
	KeyID        string     `json:"key_id"`
	PublicKeyPEM string     `json:"public_key_pem"`
	Algorithm    string     `json:"algorithm"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
}

// The JWS algorithms a platform key verifies. Each key type is bound to exactly
// one, so a token's alg header cannot choose how a key is interpreted.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

const (
	minRSABits = 2048
	// maxRSABits bounds the cost of verifying every checkout call; no platform
	// needs more, and a larger modulus is an easy way to burn our CPU.
	maxRSABits = 8192
)

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ParsePlatformKey checks a key a platform registers: keyID must match
// ^[A-Za-z0-9._-]{1,64}$ and pemText must be exactly one PKIX "PUBLIC KEY"
// PEM block holding an Ed25519 (EdDSA), ECDSA P-256 (ES256) or RSA 2048-8192
// bit (RS256) key. The returned key's PEM is re-encoded canonically, so what is
// stored does not depend on the sender's line lengths or surrounding text.
// CreatedAt is left for the caller to set from its clock. Errors are
// VALIDATION_FAILED naming key_id and/or public_key_pem; they never quote the
// PEM text, which might be a private key sent by mistake.
func ParsePlatformKey(keyID, pemText string) (PlatformKey, crypto.PublicKey, error) {
	var ps problems
	if !keyIDPattern.MatchString(keyID) {
		ps.add("key_id", "must be 1 to 64 characters: letters, digits, '.', '_' or '-'")
	}
	pub, alg, reason := parsePublicKeyPEM(pemText)
	ps.add("public_key_pem", reason)
	if len(ps) > 0 {
		return PlatformKey{}, nil, apperr.Invalid(ps...)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return PlatformKey{}, nil, apperr.Wrap(err, apperr.CodeInternal, "cannot re-encode the public key")
	}
	return PlatformKey{
		KeyID:        keyID,
		PublicKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		Algorithm:    alg,
	}, pub, nil
}

// parsePublicKeyPEM returns the key and its algorithm, or why text is not an
// acceptable public key.
func parsePublicKeyPEM(text string) (crypto.PublicKey, string, string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, "", "is required: the PEM text starting with -----BEGIN PUBLIC KEY-----"
	}
	// Counted rather than decoded in a loop: pem.Decode silently skips
	// anything it cannot decode, including a damaged first block.
	if n := strings.Count(text, "-----BEGIN "); n > 1 {
		return nil, "", fmt.Sprintf("holds %d PEM blocks; send exactly one public key, and register each key under its own key_id", n)
	}
	block, rest := pem.Decode([]byte(text))
	if block == nil || !strings.HasPrefix(text, "-----BEGIN ") {
		return nil, "", "is not PEM: expected one block from -----BEGIN PUBLIC KEY----- to -----END PUBLIC KEY-----"
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, "", "has text after the -----END line; send the PEM block alone"
	}
	switch {
	case strings.Contains(block.Type, "PRIVATE KEY"):
		return nil, "", fmt.Sprintf("is a private key (%s), which must never leave the platform: "+
			"treat it as exposed, generate a new key pair and send only its public half (openssl pkey -in key.pem -pubout)", block.Type)
	case block.Type == "RSA PUBLIC KEY":
		return nil, "", "is a PKCS#1 RSA PUBLIC KEY; convert it to a PKIX PUBLIC KEY (openssl rsa -RSAPublicKey_in -in key.pem -pubout)"
	case block.Type == "CERTIFICATE":
		return nil, "", "is a certificate; send its public key instead (openssl x509 -in cert.pem -pubkey -noout)"
	case block.Type != "PUBLIC KEY":
		return nil, "", fmt.Sprintf("is a %q PEM block; expected PUBLIC KEY", block.Type)
	case len(block.Headers) > 0:
		return nil, "", "has PEM headers; a PUBLIC KEY block has none"
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, "", fmt.Sprintf("is not a valid PKIX public key (%v)", err)
	}
	alg, reason := algorithmFor(pub)
	if reason != "" {
		return nil, "", reason
	}
	return pub, alg, ""
}

// algorithmFor is the one algorithm pub verifies, or why pub is refused.
func algorithmFor(pub crypto.PublicKey) (string, string) {
	const accepted = "use Ed25519, ECDSA P-256 or RSA of 2048 to 8192 bits"
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return AlgEdDSA, ""
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Sprintf("is an ECDSA key on curve %s; only P-256 (ES256) is accepted", k.Curve.Params().Name)
		}
		return AlgES256, ""
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return "", fmt.Sprintf("is a %d-bit RSA key; %s", bits, accepted)
		}
		return AlgRS256, ""
	default:
		return "", fmt.Sprintf("is a %T key, which cannot sign tokens here; %s", pub, accepted)
	}
}
