package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

// writeErrorBody must write exactly what gin's c.JSON writes: status,
// Content-Type and body bytes.
func checkErrorBodyLikeGin(t *testing.T, status int, body errorBody) {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	want := httptest.NewRecorder()
	wc, _ := gin.CreateTestContext(want)
	wc.AbortWithStatusJSON(status, body)

	got := httptest.NewRecorder()
	gc, _ := gin.CreateTestContext(got)
	gc.Abort()
	writeErrorBody(gc, status, body)

	require.Equal(t, want.Code, got.Code)
	assert.Equal(t, want.Header(), got.Header())
	assert.Equal(t, want.Body.String(), got.Body.String())
	assert.True(t, gc.IsAborted())
}

func TestWriteErrorBodyMatchesGinJSON(t *testing.T) {
	for _, m := range []string{
		"", "the round is sold out", `quote " and backslash \`, "a <b> & c", "tab\there", "new\nline",
		"ünïcödé 通券", "\u2028 line separator", "invalid \xff utf-8", "~ and \x7f",
	} {
		checkErrorBodyLikeGin(t, http.StatusConflict, errorBody{Code: "ROUND_SOLD_OUT", Message: m})
	}
	checkErrorBodyLikeGin(t, http.StatusBadRequest, errorBody{Code: apperr.CodeValidationFailed, Message: "bad",
		Details: map[string]any{"fields": []apperr.FieldError{{Field: "holder.id_number", Reason: "must be <18> chars"}}}})
	checkErrorBodyLikeGin(t, http.StatusNotModified, errorBody{Code: "X", Message: "no body"})
}

func FuzzWriteErrorBody(f *testing.F) {
	f.Add("ROUND_SOLD_OUT", "the round is sold out")
	f.Add("A&B", "<script>\u2029\xfe")
	f.Fuzz(func(t *testing.T, code, message string) {
		checkErrorBodyLikeGin(t, http.StatusConflict, errorBody{Code: apperr.Code(code), Message: message})
	})
}

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
