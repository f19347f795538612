package auth

import (
	"context"
	"crypto"
	"sync"
	"time"
)

const (
	// verifiedTokenMaxAge bounds how long a verified platform token is
	// trusted without checking its signature again.
	verifiedTokenMaxAge = 30 * time.Second
	// maxVerifiedTokens bounds the cache against a flood of distinct tokens:
	// past it, expired entries are swept, and when none are, new tokens go
	// uncached until some expire.
	maxVerifiedTokens = 10_000
)

// verifiedTokens remembers platform tokens whose signature and claims
// verified, keyed by the whole token string (signature included, so only the
// very same token hits). A platform reusing its token for its few minutes of
// life then costs one map lookup instead of a signature verification.
//
// A hit still asks the key store for the token's key on every request, so a
// revoked key or a suspended platform is refused exactly as soon as the store
// says so (its own cache window); the cache saves the cryptography only.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	principal Principal
	keyID     string
	publicKey crypto.PublicKey
	until     time.Time // the token's exp plus leeway, at most verifiedTokenMaxAge after verification
}

func newVerifiedTokens() *verifiedTokens {
	return &verifiedTokens{m: map[string]verifiedToken{}}
}

// lookup returns the principal of a token verified before, if it is still
// within its time and its key is still registered, unchanged, to an active
// platform. Anything else is a miss: the full verification then explains
// the refusal.
func (c *verifiedTokens) lookup(ctx context.Context, store PlatformKeyStore, token string, now time.Time) (Principal, bool) {
	c.mu.Lock()
	e, ok := c.m[token]
	if ok && !now.Before(e.until) {
		delete(c.m, token)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return Principal{}, false
	}
	key, err := store.PlatformKey(ctx, e.principal.PlatformID, e.keyID)
	if err != nil || !key.PlatformActive || !samePublicKey(key.PublicKey, e.publicKey) {
		c.mu.Lock()
		delete(c.m, token)
		c.mu.Unlock()
		return Principal{}, false
	}
	p := e.principal
	p.Roles = []Role{RolePlatform} // a fresh slice: callers own what they get
	return p, true
}

func (c *verifiedTokens) add(token string, e verifiedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxVerifiedTokens {
		for k, old := range c.m {
			if !now.Before(old.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxVerifiedTokens {
			return
		}
	}
	c.m[token] = e
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
