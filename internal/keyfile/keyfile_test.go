package keyfile

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteOnceFirstWriterWins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "k.key")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() { assert.NoError(t, WriteOnce(path, []byte{byte('a' + i)}, 0o600)) })
	}
	wg.Wait()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Len(t, got, 1, "one writer's whole file")

	require.NoError(t, WriteOnce(path, []byte("other"), 0o600))
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, got, again, "an existing file is never replaced")

	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".tmp-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file left behind")
}
