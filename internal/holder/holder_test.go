package holder

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

// valid builds a valid ID number from region, birth date and sequence.
func valid(t testing.TB, region, birth string, seq int) string {
	first := fmt.Sprintf("%s%s%03d", region, birth, seq)
	c, err := CheckChar(first)
	require.NoError(t, err)
	return first + string(c)
}

func TestCheckCharKnownValue(t *testing.T) {
	// The sample number in GB 11643-1999: 11010519491231002X.
	c, err := CheckChar("11010519491231002")
	require.NoError(t, err)
	assert.Equal(t, byte('X'), c)
}

func TestNormalizeID(t *testing.T) {
	good := valid(t, "310104", "19900307", 123)
	got, err := NormalizeID(" " + good + " ")
	require.NoError(t, err)
	assert.Equal(t, good, got)
	x, err := NormalizeID("11010519491231002x")
	require.NoError(t, err)
	assert.Equal(t, "11010519491231002X", x, "lower-case x is normalised")

	bad := map[string]string{
		"short":           good[:17],
		"letters":         "3101041990030712A" + "1",
		"wrong check":     good[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", good[17])+1)%11]),
		"no province":     valid(t, "990104", "19900307", 1),
		"impossible date": valid(t, "310104", "19900231", 1),
		"empty":           "",
	}
	for name, id := range bad {
		_, err := NormalizeID(id)
		require.Error(t, err, name)
		e, ok := apperr.As(err)
		require.True(t, ok)
		assert.Equal(t, apperr.CodeValidationFailed, e.Code, name)
		assert.Equal(t, "holder.id_number", e.Fields[0].Field, name)
		if id != "" {
			assert.NotContains(t, e.Error(), id, "%s: the number is never echoed", name)
		}
	}
}

func TestHasherIsKeyed(t *testing.T) {
	_, err := NewHasher([]byte("short"))
	assert.Error(t, err)
	a, err := NewHasher([]byte(strings.Repeat("a", 32)))
	require.NoError(t, err)
	b, err := NewHasher([]byte(strings.Repeat("b", 32)))
	require.NoError(t, err)
	id := valid(t, "310104", "19900307", 123)
	assert.Equal(t, a.Hash(id), a.Hash(id))
	assert.NotEqual(t, a.Hash(id), b.Hash(id), "another key, another hash")
	assert.NotContains(t, a.Hash(id).String(), id[:6])
}

func FuzzNormalizeID(f *testing.F) {
	f.Add("11010519491231002X")
	f.Add("")
	f.Add("31010419900307123\u00e9")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeID(s)
		if err == nil {
			c, cerr := CheckChar(n[:17])
			if cerr != nil || c != n[17] {
				t.Fatalf("accepted %q with a wrong check character", n)
			}
		}
	})
}

// The hash is HMAC-SHA256 of the ID number under the key, whichever pooled
// MAC computes it and however many goroutines hash at once: a change here
// would make every stored holder a stranger to their limits.
func TestHashIsHMACSHA256UnderConcurrency(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	h, err := NewHasher(key)
	require.NoError(t, err)
	want := func(id string) Hash {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id))
		return Hash(m.Sum(nil))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := valid(t, "310104", "19900101", (g*500+i)%1000)
				if got := h.Hash(id); got != want(id) {
					t.Errorf("Hash(%s) = %s, want %s", id, got, want(id))
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkHash(b *testing.B) {
	h, err := NewHasher([]byte(strings.Repeat("k", 32)))
	require.NoError(b, err)
	id := valid(b, "310104", "19900101", 1)
	b.ReportAllocs()
	for b.Loop() {
		h.Hash(id)
	}
}

func TestDevKeyIsCreatedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	a, err := DevKey(dir)
	require.NoError(t, err)
	assert.Len(t, a, 32)
	b, err := DevKey(dir)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	_, err = ParseKey("tooshort")
	assert.Error(t, err)
}
