package campaign

import (
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApplyRate(t *testing.T) {
	cases := []struct {
		amount int64
		bp     int
		want   int64
	}{
		{1999, 1500, 299}, // 299.85 rounds down
		{2000, 1500, 300},
		{1, 9999, 0},
		{9999, 1, 0},
		{10000, 1, 1},
		{0, 1500, 0},
		{12345, 0, 0},
		{12345, 10000, 12345},
		{MaxBudgetFen, 9999, 9_999_000_000_000},
		{math.MaxInt64, 10000, math.MaxInt64},
		{math.MaxInt64, 1500, floorMulDiv(math.MaxInt64, 1500, 10000)}, // the product needs 128 bits
		{math.MaxInt64, 9999, floorMulDiv(math.MaxInt64, 9999, 10000)},
	}
	for _, tc := range cases {
		got := ApplyRate(tc.amount, tc.bp)
		require.Equal(t, tc.want, got, "ApplyRate(%d, %d)", tc.amount, tc.bp)
		require.LessOrEqual(t, got, tc.amount, "never more than the amount")
	}
}

func TestApplyRateRefusesOutOfContractInputs(t *testing.T) {
	require.Panics(t, func() { ApplyRate(-1, 1500) })
	require.Panics(t, func() { ApplyRate(100, -1) })
	require.Panics(t, func() { ApplyRate(100, 10001) })
}

func TestSubsidy(t *testing.T) {
	tr := tradeIn()
	tr.Normalize()
	ac, phone := tr.Rules.Categories[0], tr.Rules.Categories[4]
	cases := []struct {
		name  string
		cat   Category
		price int64
		grade string
		want  int64
	}{
		{"grade 2 gets the base 15%", ac, yuan(5000), "2", yuan(750)},
		{"grade 1 gets 20%", ac, yuan(5000), "1", yuan(1000)},
		{"no grade gets the base rate", ac, yuan(5000), "", yuan(750)},
		{"unknown grade gets the base rate", ac, yuan(5000), "A++", yuan(750)},
		{"grade 1 capped at ¥2,000", ac, yuan(20000), "1", yuan(2000)},
		{"exactly at the cap", ac, yuan(10000), "1", yuan(2000)},
		{"rounds down to the fen", ac, 1999, "2", 299},
		{"grade 1 rounds down", ac, 1999, "1", 399}, // 399.8
		{"phone at 15%", phone, yuan(3000), "", yuan(450)},
		{"phone just below the cap", phone, 333333, "", 49999}, // 49999.95
		{"phone capped at ¥500", phone, yuan(5999), "", yuan(500)},
		{"free item", phone, 0, "", 0},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, tc.cat.Subsidy(tc.price, tc.grade), tc.name)
	}
	require.Equal(t, 2000, ac.RateFor("1"))
	require.Equal(t, 1500, ac.RateFor("3"))
	require.Equal(t, 1500, phone.RateFor("1"), "no overrides at all")
	require.Equal(t, yuan(2000), ac.Subsidy(math.MaxInt64, "1"), "huge prices do not overflow")
}

func TestAllowsPrice(t *testing.T) {
	tr := tradeIn()
	ac, phone := tr.Rules.Categories[0], tr.Rules.Categories[4]
	require.True(t, phone.AllowsPrice(yuan(6000)), "the maximum itself qualifies")
	require.False(t, phone.AllowsPrice(yuan(6000)+1))
	require.True(t, ac.AllowsPrice(math.MaxInt64), "no maximum")
}

func TestProRata(t *testing.T) {
	cases := []struct {
		total, part, whole int64
		want               int64
	}{
		{5000, 10000, 20000, 2500}, // half the order refunded, half the discount back
		{5000, 1, 3, 1666},         // 1666.67: the holder keeps the remainder fen
		{50, 1999, 20000, 4},       // 4.9975
		{5000, 20000, 20000, 5000}, // full refund claws back everything
		{5000, 0, 20000, 0},
		{0, 100, 200, 0},
		{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64, math.MaxInt64 - 1},
		{MaxBudgetFen, MaxAmountFen - 1, MaxAmountFen, floorMulDiv(MaxBudgetFen, MaxAmountFen-1, MaxAmountFen)},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, ProRata(tc.total, tc.part, tc.whole), "ProRata(%d, %d, %d)", tc.total, tc.part, tc.whole)
	}
	require.Panics(t, func() { ProRata(100, 1, 0) })
	require.Panics(t, func() { ProRata(100, 3, 2) })
	require.Panics(t, func() { ProRata(100, -1, 2) })
	require.Panics(t, func() { ProRata(-100, 1, 2) })
}

// floorMulDiv is the reference: floor(a × b / c) in arbitrary precision.
func floorMulDiv(a, b, c int64) int64 {
	p := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	return p.Quo(p, big.NewInt(c)).Int64()
}
