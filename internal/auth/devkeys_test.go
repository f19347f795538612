package auth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

func TestEnsureDevKeysCreatesThenReuses(t *testing.T) {
	dataDir := t.TempDir()
	first, err := EnsureDevKeys(dataDir)
	require.NoError(t, err)
	require.Equal(t, "dev-1", first.KeyID)
	require.Equal(t, "tongquan-dev", first.Issuer)
	require.Equal(t, "tongquan", first.Audience)
	require.Equal(t, "dev-platform", first.PlatformID)
	require.Equal(t, "dev-platform-1", first.PlatformKeyID)
	require.Equal(t, first.Private.Public(), first.Public)
	require.Equal(t, first.PlatformPrivate.Public(), first.PlatformPublic)
	require.False(t, first.Public.Equal(first.PlatformPublic), "people and platform keys must differ")

	keysDir := filepath.Join(dataDir, "keys")
	modes := map[string]os.FileMode{
		"":                 0o700 | os.ModeDir,
		"dev-people.key":   0o600,
		"dev-people.pub":   0o644,
		"dev-platform.key": 0o600,
		"dev-platform.pub": 0o644,
	}
	for name, mode := range modes {
		info, err := os.Stat(filepath.Join(keysDir, name))
		require.NoError(t, err)
		require.Equal(t, mode, info.Mode(), name)
	}
	entries, err := os.ReadDir(keysDir)
	require.NoError(t, err)
	require.Len(t, entries, 4, "no temporary files left behind")

	for name, public := range map[string]any{"dev-people.pub": first.Public, "dev-platform.pub": first.PlatformPublic} {
		keys, err := LoadPeopleKeys([]string{filepath.Join(keysDir, name)})
		require.NoError(t, err)
		require.Equal(t, KeySet{{Public: public}}, keys, name)
	}

	second, err := EnsureDevKeys(dataDir)
	require.NoError(t, err)
	require.Equal(t, first, second)

	loaded, err := LoadDevKeys(dataDir)
	require.NoError(t, err)
	require.Equal(t, first, loaded)
}

func TestEnsureDevKeysConcurrentStartsAgree(t *testing.T) {
	dataDir := t.TempDir()
	const starts = 8
	got := make([]*DevKeys, starts)
	errs := make([]error, starts)
	var wg sync.WaitGroup
	for i := range starts {
		wg.Go(func() { got[i], errs[i] = EnsureDevKeys(dataDir) })
	}
	wg.Wait()
	for i := range starts {
		require.NoError(t, errs[i])
		require.Equal(t, got[0], got[i])
	}
}

func TestEnsureDevKeysRewritesAMissingPublicKey(t *testing.T) {
	dataDir := t.TempDir()
	keys, err := EnsureDevKeys(dataDir)
	require.NoError(t, err)
	pub := filepath.Join(dataDir, "keys", "dev-people.pub")
	require.NoError(t, os.Remove(pub))

	again, err := EnsureDevKeys(dataDir)
	require.NoError(t, err)
	require.Equal(t, keys, again)
	data, err := os.ReadFile(pub)
	require.NoError(t, err)
	block, _ := pem.Decode(data)
	require.NotNil(t, block)
	parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
	require.NoError(t, err)
	require.Equal(t, keys.Public, parsed)
}

func TestLoadDevKeysErrors(t *testing.T) {
	t.Run("never created", func(t *testing.T) {
		dataDir := t.TempDir()
		_, err := LoadDevKeys(dataDir)
		require.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err))
		require.ErrorContains(t, err, "no development keys in "+filepath.Join(dataDir, "keys"))
		require.ErrorContains(t, err, "start voucherd once to create them, or pass --data-dir")
		_, statErr := os.Stat(filepath.Join(dataDir, "keys"))
		require.True(t, os.IsNotExist(statErr), "loading must not create anything")
	})
	t.Run("corrupt key", func(t *testing.T) {
		dataDir := t.TempDir()
		_, err := EnsureDevKeys(dataDir)
		require.NoError(t, err)
		path := filepath.Join(dataDir, "keys", "dev-platform.key")
		require.NoError(t, os.WriteFile(path, []byte("not a key"), 0o600))
		for _, f := range []func(string) (*DevKeys, error){LoadDevKeys, EnsureDevKeys} {
			_, err = f(dataDir)
			require.Equal(t, apperr.CodeInternal, apperr.CodeOf(err))
			require.ErrorContains(t, err, "development key "+path+" is not an Ed25519 PKCS#8 PEM private key; delete it")
		}
	})
}

// TestDevKeysWorkEndToEnd is development mode: tokens minted with the dev
// keys, as voucherctl does, pass the authenticator voucherd builds from them.
func TestDevKeysWorkEndToEnd(t *testing.T) {
	dev, err := EnsureDevKeys(t.TempDir())
	require.NoError(t, err)
	people, err := NewPeopleVerifier(dev.PeopleConfig())
	require.NoError(t, err)
	platforms, err := NewPlatformVerifier(dev.Audience, dev.PlatformKeys(), 0)
	require.NoError(t, err)
	a, err := NewAuthenticator(people, platforms)
	require.NoError(t, err)

	person, err := MintPersonToken(dev.Private, dev.KeyID, dev.Issuer, dev.Audience, "dev-admin", []Role{RoleCampaignManager, RoleApprover}, time.Hour, time.Now())
	require.NoError(t, err)
	p, err := a.Authenticate(context.Background(), "Bearer "+person)
	require.NoError(t, err)
	require.Equal(t, "dev-admin", p.Subject)
	require.True(t, p.HasAny(RoleApprover))

	platform, err := MintPlatformToken(dev.PlatformPrivate, dev.PlatformKeyID, dev.PlatformID, dev.Audience, time.Minute, time.Now())
	require.NoError(t, err)
	p, err = a.Authenticate(context.Background(), "Bearer "+platform)
	require.NoError(t, err)
	require.Equal(t, "dev-platform", p.PlatformID)
}
