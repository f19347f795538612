// Package registry is the pure domain of who takes part in redemption: the
// platforms that call the checkout API and the keys they sign with, the
// merchants each platform sells for, and the sanctions administrators put on a
// merchant's legal entity. It validates and parses; it does no I/O.
package registry

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tongquan/tongquan/internal/apperr"
)

// maxNameLength matches the CHECK on platforms.name; merchants use it too.
const maxNameLength = 200

// problems collects field errors; the *Problem helpers return "" for a good
// value so validations read as one line per field.
type problems []apperr.FieldError

func (p *problems) add(field, reason string) {
	if reason != "" {
		*p = append(*p, apperr.FieldError{Field: field, Reason: reason})
	}
}

// invalid wraps one reason as a VALIDATION_FAILED error, or returns nil.
func invalid(field, reason string) error {
	if reason == "" {
		return nil
	}
	return apperr.Invalid(apperr.FieldError{Field: field, Reason: reason})
}

// textProblem checks free text of 1..max characters, counted in code points as
// PostgreSQL's length() counts them. Invalid UTF-8 and NUL would make the
// insert fail with a 5xx; other control characters have no place in a name
// printed on receipts and statements, so only multi-line text (reasons) may
// hold line breaks and tabs.
func textProblem(s string, max int, multiline bool) string {
	control := func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t'))
	}
	switch {
	case strings.TrimSpace(s) == "":
		return "is required"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.ContainsFunc(s, control):
		if multiline {
			return "must not contain control characters other than line breaks and tabs"
		}
		return "must not contain control characters such as line breaks or tabs"
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Sprintf("must be at most %d characters, got %d", max, n)
	}
	return ""
}

// oneOfProblem checks v against the allowed values.
func oneOfProblem(v string, allowed ...string) string {
	if slices.Contains(allowed, v) {
		return ""
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	want := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	if v == "" {
		return "is required: " + want
	}
	return fmt.Sprintf("must be %s, got %q", want, v)
}
