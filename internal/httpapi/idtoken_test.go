package httpapi

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// isIDToken replaces the regular expressions the Request-Id and
// Idempotency-Key headers were checked with; it must accept exactly what
// they accept.
var (
	requestIDPattern      = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	idempotencyKeyPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
)

func checkIDToken(t *testing.T, s string) {
	t.Helper()
	assert.Equal(t, requestIDPattern.MatchString(s), isIDToken(s, maxRequestID), "Request-Id %q", s)
	assert.Equal(t, idempotencyKeyPattern.MatchString(s), isIDToken(s, maxIdempotencyKey), "Idempotency-Key %q", s)
}

func TestIsIDToken(t *testing.T) {
	for _, s := range []string{
		"", "a", "bench-1", "0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d", "A.b_c:d-e", "with space", "new\nline",
		"trailing\n", "ünï", "slash/", "plus+", "@", strings.Repeat("k", 64), strings.Repeat("k", 65),
		strings.Repeat("k", 128), strings.Repeat("k", 129), "\x00", "[", "`", "{", "~",
	} {
		checkIDToken(t, s)
	}
	for b := 0; b < 256; b++ {
		checkIDToken(t, string([]byte{byte(b)}))
	}
}

func FuzzIsIDToken(f *testing.F) {
	f.Add("bench-1")
	f.Add("a b")
	f.Fuzz(checkIDToken)
}
