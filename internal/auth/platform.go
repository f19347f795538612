package auth

import (
	"context"
	"crypto"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tongquan/tongquan/internal/apperr"
)

// MaxPlatformTokenLifetime bounds exp - iat of a platform token, so that a
// leaked token is worthless within minutes.
const MaxPlatformTokenLifetime = 5 * time.Minute

// PlatformKey is a public key a platform registered to sign its requests.
type PlatformKey struct {
	PlatformID     string
	KeyID          string
	PublicKey      crypto.PublicKey
	PlatformActive bool // false while the platform is suspended
}

// PlatformKeyStore finds registered platform keys. It returns an apperr
// NOT_FOUND error when the platform or the key is unknown.
type PlatformKeyStore interface {
	PlatformKey(ctx context.Context, platformID, keyID string) (PlatformKey, error)
}

// StaticPlatformKeys is a fixed, in-memory PlatformKeyStore for development
// mode and tests.
type StaticPlatformKeys []PlatformKey

// PlatformKey implements PlatformKeyStore.
func (s StaticPlatformKeys) PlatformKey(_ context.Context, platformID, keyID string) (PlatformKey, error) {
	for _, k := range s {
		if k.PlatformID == platformID && k.KeyID == keyID {
			return k, nil
		}
	}
	return PlatformKey{}, apperr.New(apperr.CodeNotFound, "platform %q has no key %q", platformID, keyID)
}

// PlatformVerifier checks the per-request tokens of e-commerce platforms.
type PlatformVerifier struct {
	store    PlatformKeyStore
	want     expectation
	verified *verifiedTokens
}

// NewPlatformVerifier verifies tokens whose aud contains audience against the
// keys in store.
func NewPlatformVerifier(audience string, store PlatformKeyStore, leeway time.Duration) (*PlatformVerifier, error) {
	var problems []string
	if audience == "" {
		problems = append(problems, "audience is required")
	}
	if store == nil {
		problems = append(problems, "a platform key store is required")
	}
	if leeway < 0 {
		problems = append(problems, "leeway must not be negative")
	}
	if len(problems) > 0 {
		return nil, apperr.New(apperr.CodeValidationFailed, "platform authentication: %s", strings.Join(problems, "; "))
	}
	return &PlatformVerifier{
		store: store,
		want: expectation{
			audience: audience,
			signer:   "the platform's registered key",
			leeway:   leeway,
			now:      time.Now,
		},
		verified: newVerifiedTokens(),
	}, nil
}

// WithClock returns a copy of v that reads the time from now.
func (v *PlatformVerifier) WithClock(now func() time.Time) *PlatformVerifier {
	c := *v
	c.want.now = now
	c.verified = newVerifiedTokens()
	return &c
}

// Verify checks a platform's token and returns the platform it names.
func (v *PlatformVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	if p, ok := v.cached(ctx, token); ok {
		return p, nil
	}
	return v.verify(ctx, token)
}

// verify checks a token in full (signature, claims, key) and remembers it
// once accepted.
func (v *PlatformVerifier) verify(ctx context.Context, token string) (Principal, error) {
	var c claims
	var key PlatformKey
	var kid string
	keyfunc := func(t *jwt.Token) (any, error) {
		var err error
		kid, _ = t.Header["kid"].(string)
		key, err = v.key(ctx, t, c.Issuer)
		return key.PublicKey, err
	}
	if err := parse(token, &c, keyfunc, v.want); err != nil {
		return Principal{}, err
	}
	if c.IssuedAt == nil {
		return Principal{}, apperr.New(apperr.CodeTokenInvalid, "token has no iat claim; platform tokens must say when they were issued")
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life > MaxPlatformTokenLifetime {
		return Principal{}, apperr.New(apperr.CodeTokenInvalid,
			"token lives %s (exp - iat); platform tokens may live at most 5 minutes", life)
	}
	// Checked only now, so that only the platform itself learns it is suspended.
	if !key.PlatformActive {
		return Principal{}, apperr.New(apperr.CodePlatformSuspended,
			"platform %q is suspended; contact the program administrators", c.Issuer)
	}
	p := Principal{
		Kind:       KindPlatform,
		Subject:    c.Issuer,
		Roles:      []Role{RolePlatform},
		PlatformID: c.Issuer,
		TokenID:    c.ID,
	}
	now := v.want.now()
	until := c.ExpiresAt.Add(v.want.leeway)
	if max := now.Add(verifiedTokenMaxAge); max.Before(until) {
		until = max
	}
	v.verified.add(token, verifiedToken{principal: p, keyID: kid, publicKey: key.PublicKey, until: until}, now)
	return p, nil
}

// cached is the principal of a token this verifier accepted moments ago,
// checked again against the key store (see verifiedTokens).
func (v *PlatformVerifier) cached(ctx context.Context, token string) (Principal, bool) {
	return v.verified.lookup(ctx, v.store, token, v.want.now())
}

// key looks up the key t claims to be signed with. Whether the platform or
// only the key is unknown is not told apart, so as not to help a prober.
func (v *PlatformVerifier) key(ctx context.Context, t *jwt.Token, platformID string) (PlatformKey, error) {
	kid, _ := t.Header["kid"].(string)
	switch {
	case platformID == "":
		return PlatformKey{}, apperr.New(apperr.CodeTokenInvalid, "token has no iss claim; set it to your platform id")
	case kid == "":
		return PlatformKey{}, apperr.New(apperr.CodeTokenInvalid, "token header has no kid; set it to the id of the key you registered")
	}
	key, err := v.store.PlatformKey(ctx, platformID, kid)
	if err != nil {
		if apperr.Is(err, apperr.CodeNotFound) {
			return PlatformKey{}, apperr.New(apperr.CodeTokenInvalid, "iss and kid do not name a registered platform key")
		}
		if _, ok := apperr.As(err); ok {
			return PlatformKey{}, err
		}
		return PlatformKey{}, apperr.Wrap(err, apperr.CodeInternal, "cannot look up the platform key")
	}
	alg, err := algorithmFor(key.PublicKey)
	if err != nil {
		return PlatformKey{}, apperr.Wrap(err, apperr.CodeInternal, "registered key %q of platform %q is unusable", kid, platformID)
	}
	if got := t.Method.Alg(); got != alg {
		return PlatformKey{}, apperr.New(apperr.CodeTokenInvalid,
			"key %q is an %s key and cannot verify %s tokens; sign with %s", kid, keyTypeFor(alg), got, alg)
	}
	return key, nil
}
