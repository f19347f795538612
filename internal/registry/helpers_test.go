package registry

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

// Real codes, commonly cited as valid; TestUSCCKnownCodes works their check
// characters out by hand.
const (
	usccFuzhou  = "91350100M000100Y43"
	usccBeijing = "91110000600037341L"
)

// makeUSCC completes a 17-character prefix with its check character.
func makeUSCC(t testing.TB, first17 string) string {
	t.Helper()
	c, err := USCCCheckChar(first17)
	require.NoError(t, err)
	return first17 + string(c)
}

// requireInvalid asserts err is VALIDATION_FAILED with exactly the given
// fields, each reason containing the matching fragment.
func requireInvalid(t *testing.T, err error, fieldAndFragment ...string) {
	t.Helper()
	e, ok := apperr.As(err)
	require.True(t, ok, "want an apperr, got %v", err)
	require.Equal(t, apperr.CodeValidationFailed, e.Code, e.Error())
	requireFields(t, e.Fields, fieldAndFragment...)
}

// requireFields asserts fields are exactly the given (field, reason fragment)
// pairs, in order.
func requireFields(t *testing.T, fields []apperr.FieldError, fieldAndFragment ...string) {
	t.Helper()
	require.Len(t, fields, len(fieldAndFragment)/2, "fields: %+v", fields)
	for i, f := range fields {
		require.Equal(t, fieldAndFragment[2*i], f.Field, "fields: %+v", fields)
		require.Contains(t, f.Reason, fieldAndFragment[2*i+1])
	}
}
