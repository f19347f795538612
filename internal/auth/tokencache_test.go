package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

// mutableKeys is a key store whose answers a test changes, as an
// administrator would suspend a platform or rotate a key.
type mutableKeys struct {
	mu   sync.Mutex
	keys StaticPlatformKeys
}

func (m *mutableKeys) PlatformKey(ctx context.Context, platformID, keyID string) (PlatformKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys.PlatformKey(ctx, platformID, keyID)
}

func (m *mutableKeys) set(keys ...PlatformKey) {
	m.mu.Lock()
	m.keys = keys
	m.mu.Unlock()
}

// A remembered token is still refused as soon as the key store says its
// platform is suspended or its key revoked or replaced, and once it expires.
func TestVerifiedTokensFollowTheKeyStoreAndTheClock(t *testing.T) {
	jd, other := newEd25519(t), newEd25519(t)
	active := PlatformKey{PlatformID: "jd", KeyID: "k1", PublicKey: jd.Public(), PlatformActive: true}
	store := &mutableKeys{}
	clock := now
	var clockMu sync.Mutex
	base, err := NewPlatformVerifier(testAudience, store, 0)
	require.NoError(t, err)
	v := base.WithClock(func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock })
	a, err := NewAuthenticator(nil, v)
	require.NoError(t, err)
	tok, err := MintPlatformToken(jd, "k1", "jd", testAudience, time.Minute, now)
	require.NoError(t, err)
	ctx := context.Background()
	authenticate := func() (Principal, error) { return a.Authenticate(ctx, "Bearer "+tok) }

	store.set(active)
	for range 2 { // verified, then remembered
		p, err := authenticate()
		require.NoError(t, err)
		require.Equal(t, Principal{Kind: KindPlatform, Subject: "jd", Roles: []Role{RolePlatform}, PlatformID: "jd", TokenID: p.TokenID}, p)
	}
	_, cached := v.cached(ctx, tok)
	require.True(t, cached)

	suspended := active
	suspended.PlatformActive = false
	store.set(suspended)
	_, err = authenticate()
	require.True(t, apperr.Is(err, apperr.CodePlatformSuspended), "%v", err)

	store.set() // key revoked
	_, err = authenticate()
	require.True(t, apperr.Is(err, apperr.CodeTokenInvalid), "%v", err)

	replaced := active
	replaced.PublicKey = other.Public()
	store.set(replaced)
	_, err = authenticate()
	require.True(t, apperr.Is(err, apperr.CodeTokenInvalid), "%v", err)

	store.set(active)
	_, err = authenticate()
	require.NoError(t, err)
	clockMu.Lock()
	clock = now.Add(time.Minute)
	clockMu.Unlock()
	_, err = authenticate()
	require.True(t, apperr.Is(err, apperr.CodeTokenExpired), "%v", err)
}

// Past its bound the cache keeps no new token, and nothing breaks.
func TestVerifiedTokensBounded(t *testing.T) {
	c := newVerifiedTokens()
	live := verifiedToken{until: now.Add(time.Minute)}
	for i := range maxVerifiedTokens {
		c.add(string(rune(i))+"tok", live, now)
	}
	c.add("one more", live, now)
	require.Len(t, c.m, maxVerifiedTokens)
	_, ok := c.m["one more"]
	require.False(t, ok)
	// Once entries expire, a new token sweeps them out.
	c.add("later", live, now.Add(2*time.Minute))
	require.Len(t, c.m, 1)
}
