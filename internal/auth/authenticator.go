package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/tongquan/tongquan/internal/apperr"
)

// Authenticator is the one entry point for bearer tokens: it routes each token
// to the people or the platform verifier and returns the caller it proves.
type Authenticator struct {
	people   *PeopleVerifier
	platform *PlatformVerifier
}

// NewAuthenticator takes the verifiers of the callers a role serves; either
// may be nil, not both.
func NewAuthenticator(people *PeopleVerifier, platform *PlatformVerifier) (*Authenticator, error) {
	if people == nil && platform == nil {
		return nil, apperr.New(apperr.CodeValidationFailed, "authentication needs a people verifier, a platform verifier, or both")
	}
	return &Authenticator{people: people, platform: platform}, nil
}

// Authenticate checks the Authorization header of a request. A token whose
// (still unverified) iss is the identity provider's goes to the people
// verifier, any other to the platform verifier; the verifier then checks
// everything, iss included.
func (a *Authenticator) Authenticate(ctx context.Context, authorizationHeader string) (Principal, error) {
	token, err := bearerToken(authorizationHeader)
	if err != nil {
		return Principal{}, err
	}
	// A platform token accepted moments ago is known without reading it;
	// the platform verifier then need not look it up again.
	if a.platform != nil {
		if p, ok := a.platform.cached(ctx, token); ok {
			return p, nil
		}
	}
	if a.platform == nil || (a.people != nil && unverifiedIssuer(token) == a.people.want.issuer) {
		return a.people.Verify(token)
	}
	return a.platform.verify(ctx, token)
}

func bearerToken(header string) (string, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", apperr.New(apperr.CodeUnauthenticated, `missing Authorization header; send "Authorization: Bearer <token>"`)
	}
	scheme, token, _ := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", apperr.New(apperr.CodeUnauthenticated, `Authorization header must be "Bearer <token>"`)
	}
	return token, nil
}

// unverifiedIssuer reads a token's iss without checking anything; it only
// picks the verifier. "" when the token is too garbled to say.
func unverifiedIssuer(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Issuer
}
