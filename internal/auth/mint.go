package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tongquan/tongquan/internal/apperr"
)

// MintPersonToken signs a token for a person as an identity provider would.
// The CLI mints with the development keys; tests with their own. key is an
// ed25519.PrivateKey (EdDSA), *ecdsa.PrivateKey on P-256 (ES256) or
// *rsa.PrivateKey (RS256); keyID becomes the kid header unless empty.
func MintPersonToken(key crypto.Signer, keyID, issuer, audience, subject string, roles []Role, ttl time.Duration, now time.Time) (string, error) {
	var problems []string
	if issuer == "" {
		problems = append(problems, "issuer is required")
	}
	if audience == "" {
		problems = append(problems, "audience is required")
	}
	if subject == "" {
		problems = append(problems, "subject is required")
	}
	if ttl <= 0 {
		problems = append(problems, "ttl must be positive")
	}
	claimed := make([]string, 0, len(roles))
	for _, r := range roles {
		if !isPersonRole(r) {
			problems = append(problems, fmt.Sprintf("role %q is not one of campaign_manager, approver, auditor", r))
		}
		claimed = append(claimed, string(r))
	}
	if len(problems) > 0 {
		return "", apperr.New(apperr.CodeValidationFailed, "person token: %s", strings.Join(problems, "; "))
	}
	c := claims{RegisteredClaims: registered(issuer, audience, ttl, now), Roles: claimed}
	c.Subject = subject
	return sign(key, keyID, c)
}

// MintPlatformToken signs a platform's request token: iss is the platform id,
// kid names its registered key, and ttl may not exceed
// MaxPlatformTokenLifetime. Key types are as for MintPersonToken.
func MintPlatformToken(key crypto.Signer, keyID, platformID, audience string, ttl time.Duration, now time.Time) (string, error) {
	var problems []string
	if keyID == "" {
		problems = append(problems, "key id is required")
	}
	if platformID == "" {
		problems = append(problems, "platform id is required")
	}
	if audience == "" {
		problems = append(problems, "audience is required")
	}
	if ttl <= 0 || ttl > MaxPlatformTokenLifetime {
		problems = append(problems, fmt.Sprintf("ttl is %s; it must be positive and at most 5 minutes", ttl))
	}
	if len(problems) > 0 {
		return "", apperr.New(apperr.CodeValidationFailed, "platform token: %s", strings.Join(problems, "; "))
	}
	return sign(key, keyID, claims{RegisteredClaims: registered(platformID, audience, ttl, now)})
}

func registered(issuer, audience string, ttl time.Duration, now time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Issuer:    issuer,
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		ID:        rand.Text(),
	}
}

func sign(key crypto.Signer, keyID string, c claims) (string, error) {
	switch key.(type) {
	case ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey:
	default:
		return "", apperr.New(apperr.CodeValidationFailed,
			"signing key of type %T is not supported; use an Ed25519, ECDSA P-256 or RSA private key", key)
	}
	alg, err := algorithmFor(key.Public())
	if err != nil {
		return "", apperr.New(apperr.CodeValidationFailed, "signing key: %v", err)
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), c)
	if keyID != "" {
		tok.Header["kid"] = keyID
	}
	signed, err := tok.SignedString(key)
	if err != nil {
		return "", apperr.Wrap(err, apperr.CodeInternal, "cannot sign the token")
	}
	return signed, nil
}
