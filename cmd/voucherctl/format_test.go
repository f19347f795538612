package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestYuan(t *testing.T) {
	for fen, want := range map[int64]string{
		0:             "¥0.00 (0 fen)",
		5:             "¥0.05 (5 fen)",
		-5:            "-¥0.05 (-5 fen)",
		99999:         "¥999.99 (99999 fen)",
		100000:        "¥1,000.00 (100000 fen)",
		200000:        "¥2,000.00 (200000 fen)",
		-50000000:     "-¥500,000.00 (-50000000 fen)",
		8100000000000: "¥81,000,000,000.00 (8100000000000 fen)",
		math.MaxInt64: "¥92,233,720,368,547,758.07 (9223372036854775807 fen)",
		math.MinInt64: "-¥92,233,720,368,547,758.08 (-9223372036854775808 fen)",
	} {
		assert.Equal(t, want, yuan(fen), "%d fen", fen)
	}
}

func TestPercent(t *testing.T) {
	for bp, want := range map[int]string{1: "0.01%", 10: "0.1%", 1250: "12.5%", 1500: "15%", 2000: "20%", 10000: "100%"} {
		assert.Equal(t, want, percent(bp), "%d bp", bp)
	}
}
