package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// yuan formats an amount as yuan beside its fen, e.g. "¥2,000.00 (200000 fen)",
// in integer arithmetic only: money is never a float.
func yuan(fen int64) string {
	sign, mag := "", uint64(fen)
	if fen < 0 {
		sign, mag = "-", -mag // two's complement: exact even for math.MinInt64
	}
	digits := strconv.FormatUint(mag/100, 10)
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return fmt.Sprintf("%s¥%s.%02d (%d fen)", sign, b.String(), mag%100, fen)
}

// percent formats basis points as a percentage: 1500 → "15%", 1250 → "12.5%".
func percent(bp int) string {
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".") + "%"
}

// when formats a time for tables; the zero time (absent) is "-".
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("2006-01-02 15:04:05 -07:00")
}

// count is "1 block", "2 blocks".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// orDash shows an absent value as "-", so table columns stay aligned.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
