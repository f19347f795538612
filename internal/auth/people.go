package auth

import (
	"crypto"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tongquan/tongquan/internal/apperr"
)

// PeopleConfig names the identity provider whose tokens people present.
type PeopleConfig struct {
	Issuer   string // the token's iss must equal it
	Audience string // the token's aud must contain it
	Keys     KeySet
	Leeway   time.Duration // clock skew tolerated on exp, nbf and iat
}

// PeopleVerifier checks the bearer tokens of administrators, approvers and
// auditors.
type PeopleVerifier struct {
	keys []trustedKey
	want expectation
}

type trustedKey struct {
	id, alg string
	public  crypto.PublicKey
}

// NewPeopleVerifier checks cfg and reports every problem at once.
func NewPeopleVerifier(cfg PeopleConfig) (*PeopleVerifier, error) {
	var problems []string
	if cfg.Issuer == "" {
		problems = append(problems, "issuer is required")
	}
	if cfg.Audience == "" {
		problems = append(problems, "audience is required")
	}
	if len(cfg.Keys) == 0 {
		problems = append(problems, "at least one public key is required")
	}
	if cfg.Leeway < 0 {
		problems = append(problems, "leeway must not be negative")
	}
	keys := make([]trustedKey, 0, len(cfg.Keys))
	for i, k := range cfg.Keys {
		alg, err := algorithmFor(k.Public)
		if err != nil {
			problems = append(problems, fmt.Sprintf("key %d (kid %q): %v", i+1, k.ID, err))
			continue
		}
		keys = append(keys, trustedKey{id: k.ID, alg: alg, public: k.Public})
	}
	if len(problems) > 0 {
		return nil, apperr.New(apperr.CodeValidationFailed, "people authentication: %s", strings.Join(problems, "; "))
	}
	return &PeopleVerifier{
		keys: keys,
		want: expectation{
			issuer:   cfg.Issuer,
			audience: cfg.Audience,
			signer:   "the identity provider's keys",
			leeway:   cfg.Leeway,
			now:      time.Now,
		},
	}, nil
}

// WithClock returns a copy of v that reads the time from now, so tests and
// the service's injected clock agree with the tokens they mint.
func (v *PeopleVerifier) WithClock(now func() time.Time) *PeopleVerifier {
	c := *v
	c.want.now = now
	return &c
}

// Verify checks a person's token and returns the person it names, with the
// person roles it grants.
func (v *PeopleVerifier) Verify(token string) (Principal, error) {
	var c claims
	if err := parse(token, &c, v.key, v.want); err != nil {
		return Principal{}, err
	}
	if c.Subject == "" {
		return Principal{}, apperr.New(apperr.CodeTokenInvalid, "token has no sub claim; it must name the person")
	}
	return Principal{Kind: KindPerson, Subject: c.Subject, Roles: personRolesFrom(c.Roles), TokenID: c.ID}, nil
}

// key offers the keys that may verify t: those of the type its algorithm
// needs and, when t names a kid, with that kid (or without any, see Key).
func (v *PeopleVerifier) key(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, _ := t.Header["kid"].(string)
	var fits []jwt.VerificationKey
	var named *trustedKey
	for i, k := range v.keys {
		if kid != "" && k.id != "" && k.id != kid {
			continue
		}
		if kid != "" && k.id == kid {
			named = &v.keys[i]
		}
		if k.alg == alg {
			fits = append(fits, k.public)
		}
	}
	switch {
	case len(fits) > 0:
		return jwt.VerificationKeySet{Keys: fits}, nil
	case named != nil:
		return nil, apperr.New(apperr.CodeTokenInvalid, "key %q is an %s key and cannot verify %s tokens; sign with %s",
			kid, keyTypeFor(named.alg), alg, named.alg)
	case kid != "":
		return nil, apperr.New(apperr.CodeTokenInvalid, "no trusted %s key has kid %.64q", keyTypeFor(alg), kid)
	default:
		return nil, apperr.New(apperr.CodeTokenInvalid, "no trusted key verifies %s tokens", alg)
	}
}

// personRolesFrom keeps the person roles among claimed, once each; other
// strings are the identity provider's business and are ignored.
func personRolesFrom(claimed []string) []Role {
	var roles []Role
	for _, s := range claimed {
		if r := Role(s); isPersonRole(r) && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return roles
}
