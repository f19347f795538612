package auth

import (
	"errors"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tongquan/tongquan/internal/apperr"
)

// claims are the JWT claims of both kinds of token; roles only matter for people.
type claims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles,omitempty"`
}

// expectation is what a verifier demands of every token it accepts.
type expectation struct {
	issuer   string // "" accepts any issuer: a platform's iss is its id, checked by key lookup
	audience string
	signer   string // who must have signed, for the bad-signature message
	leeway   time.Duration
	now      func() time.Time
}

// parse verifies token's signature with the key(s) keyfunc returns, then its
// time, issuer and audience claims, decoding the claims into c. Failures come
// back as domain errors.
func parse(token string, c *claims, keyfunc jwt.Keyfunc, want expectation) error {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(allowedAlgorithms),
		jwt.WithAudience(want.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(want.leeway),
		jwt.WithTimeFunc(want.now),
	}
	if want.issuer != "" {
		opts = append(opts, jwt.WithIssuer(want.issuer))
	}
	tok, err := jwt.NewParser(opts...).ParseWithClaims(token, c, keyfunc)
	if err != nil {
		return tokenError(err, tok, c, want)
	}
	return nil
}

// tokenError explains why the parser refused a token without quoting it.
// Claim checks run only once the signature verified, so everything past the
// signature case is about a genuine token.
func tokenError(err error, tok *jwt.Token, c *claims, want expectation) error {
	if e, ok := apperr.As(err); ok { // raised by a key lookup, already explained
		return e
	}
	invalid := func(format string, args ...any) error {
		return apperr.Wrap(err, apperr.CodeTokenInvalid, format, args...)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed): // the cause may quote claim values, so it stays in the logs
		return invalid("token is malformed: expected base64url JSON header.payload.signature, " +
			"with numeric exp, iat and nbf, aud a string or an array, roles an array of strings")
	case tok.Method == nil:
		return invalid("token header names no supported algorithm; use %s", allowedAlgorithmsText)
	case !slices.Contains(allowedAlgorithms, tok.Method.Alg()):
		return invalid("algorithm %s is not allowed; use %s", tok.Method.Alg(), allowedAlgorithmsText)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid("token signature does not verify against %s", want.signer)
	case c.ExpiresAt == nil:
		return invalid("token has no exp claim; tokens must expire")
	case want.issuer != "" && c.Issuer != want.issuer:
		return invalid("issuer must be %q", want.issuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalid("audience must include %q", want.audience)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return invalid("token is not valid before %s", timeText(c.NotBefore))
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid("token's iat %s is in the future; check the signer's clock", timeText(c.IssuedAt))
	case errors.Is(err, jwt.ErrTokenExpired):
		return apperr.Wrap(err, apperr.CodeTokenExpired, "token expired at %s; get a new one", timeText(c.ExpiresAt))
	default:
		return invalid("token could not be verified")
	}
}

func timeText(d *jwt.NumericDate) string { return d.UTC().Format(time.RFC3339) }
