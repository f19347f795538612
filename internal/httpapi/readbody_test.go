package httpapi

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		body string
		cl   int64
	}{
		{"", 0}, {"{}", 2}, {"{}", -1}, {strings.Repeat("x", 1000), 1000},
		{strings.Repeat("y", 5000), 10}, // longer than announced: read whole, as io.ReadAll would
		{"short", 100},
	} {
		got, err := readBody(iotest.OneByteReader(strings.NewReader(tc.body)), tc.cl)
		require.NoError(t, err)
		assert.Equal(t, tc.body, string(got))
		got, err = readBody(strings.NewReader(tc.body), tc.cl)
		require.NoError(t, err)
		assert.Equal(t, tc.body, string(got))
	}
	_, err := readBody(iotest.ErrReader(io.ErrUnexpectedEOF), 10)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}
