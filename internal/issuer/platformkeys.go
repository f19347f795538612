package issuer

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/registry"
)

// DefaultPlatformKeyTTL is how long PlatformKeys trusts what it read: a
// suspension or a key revocation takes effect on every replica within it,
// while each replica reads a (platform, key) at most once per TTL however
// many requests carry it.
const DefaultPlatformKeyTTL = 2 * time.Second

const (
	// maxCachedKeys bounds the cache against tokens naming made-up platforms
	// or keys; past it, expired entries are swept, and when none are, lookups
	// go uncached until some expire.
	maxCachedKeys = 10_000
	// keyLoadTimeout bounds one database read, which runs detached from the
	// request that started it because other requests wait for it too.
	keyLoadTimeout = 5 * time.Second
)

// PlatformKeys is the registry as an auth.PlatformKeyStore, for verifying
// platform tokens. It caches each answer for its TTL, unknown and revoked keys
// (NOT_FOUND) included, so that a platform still signing with a revoked key
// does not cost a query per request either. Concurrent lookups of one key
// share a single read. Database failures are not cached: they are
// UNAVAILABLE, and the next request tries again.
type PlatformKeys struct {
	pool *pgxpool.Pool
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	entries map[keyRef]*keyEntry
}

type keyRef struct{ platformID, keyID string }

// keyEntry is one cached answer; key, err and expires are written once,
// before ready is closed, and read only after.
type keyEntry struct {
	ready   chan struct{}
	key     auth.PlatformKey
	err     error
	expires time.Time
}

var _ auth.PlatformKeyStore = (*PlatformKeys)(nil)

// PlatformKeys returns a key store over the registry that caches answers for
// ttl (DefaultPlatformKeyTTL in production; 0 caches nothing) on the
// service's clock.
func (s *Service) PlatformKeys(ttl time.Duration) *PlatformKeys {
	return &PlatformKeys{pool: s.pool, ttl: ttl, now: s.now, entries: map[keyRef]*keyEntry{}}
}

// PlatformKey implements auth.PlatformKeyStore: NOT_FOUND for an unknown
// platform, an unknown key or a revoked key; PlatformActive false while the
// platform is suspended.
func (c *PlatformKeys) PlatformKey(ctx context.Context, platformID, keyID string) (auth.PlatformKey, error) {
	ref := keyRef{platformID, keyID}
	e, load := c.entry(ref)
	if load {
		c.fill(ctx, ref, e)
	}
	select {
	case <-e.ready:
		return e.key, e.err
	case <-ctx.Done():
		return auth.PlatformKey{}, ctx.Err()
	}
}

// entry returns the cached entry for ref, or a new one the caller must fill
// (load is true).
func (c *PlatformKeys) entry(ref keyRef) (e *keyEntry, load bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[ref]; ok && !c.expired(e) {
		return e, false
	}
	e = &keyEntry{ready: make(chan struct{})}
	if len(c.entries) >= maxCachedKeys {
		c.sweep()
	}
	if len(c.entries) < maxCachedKeys {
		c.entries[ref] = e
	}
	return e, true
}

// expired reports a filled entry past its TTL; an entry being filled is not.
func (c *PlatformKeys) expired(e *keyEntry) bool {
	select {
	case <-e.ready:
		return !c.now().Before(e.expires)
	default:
		return false
	}
}

// sweep drops expired entries; the caller holds mu.
func (c *PlatformKeys) sweep() {
	for ref, e := range c.entries {
		if c.expired(e) {
			delete(c.entries, ref)
		}
	}
}

// fill reads ref into e and releases the requests waiting for it.
func (c *PlatformKeys) fill(ctx context.Context, ref keyRef, e *keyEntry) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyLoadTimeout)
	defer cancel()
	e.key, e.err = c.load(ctx, ref)
	e.expires = c.now().Add(c.ttl)
	if e.err != nil && !apperr.Is(e.err, apperr.CodeNotFound) {
		c.mu.Lock()
		if c.entries[ref] == e {
			delete(c.entries, ref)
		}
		c.mu.Unlock()
	}
	close(e.ready)
}

func (c *PlatformKeys) load(ctx context.Context, ref keyRef) (auth.PlatformKey, error) {
	stored, status, err := postgres.ActivePlatformKey(ctx, c.pool, ref.platformID, ref.keyID)
	if apperr.Is(err, apperr.CodeNotFound) {
		return auth.PlatformKey{}, err
	}
	if err != nil {
		return auth.PlatformKey{}, apperr.Wrap(err, apperr.CodeUnavailable, "cannot check the platform's key right now; retry shortly")
	}
	_, pub, err := registry.ParsePlatformKey(stored.KeyID, stored.PublicKeyPEM)
	if err != nil {
		return auth.PlatformKey{}, apperr.Wrap(err, apperr.CodeInternal, "stored key %q of platform %q does not parse", ref.keyID, ref.platformID)
	}
	return auth.PlatformKey{
		PlatformID:     ref.platformID,
		KeyID:          ref.keyID,
		PublicKey:      pub,
		PlatformActive: status == registry.PlatformActive,
	}, nil
}

// ChainKeyStores asks stores in turn and answers with the first that knows
// the key (or fails otherwise than NOT_FOUND); earlier stores take precedence.
// Development mode puts its static development platform before the registry.
func ChainKeyStores(stores ...auth.PlatformKeyStore) auth.PlatformKeyStore {
	return keyStoreChain(stores)
}

type keyStoreChain []auth.PlatformKeyStore

func (c keyStoreChain) PlatformKey(ctx context.Context, platformID, keyID string) (auth.PlatformKey, error) {
	var err error = apperr.New(apperr.CodeNotFound, "platform %q has no key %q", platformID, keyID)
	for _, s := range c {
		var k auth.PlatformKey
		if k, err = s.PlatformKey(ctx, platformID, keyID); !apperr.Is(err, apperr.CodeNotFound) {
			return k, err
		}
	}
	return auth.PlatformKey{}, err
}
