package campaign

import (
	"fmt"
	"math/bits"
)

// Amount limits. MaxBudgetFen is ¥100 billion, MaxAmountFen (any single
// threshold, discount, cap or price) ¥1 billion: far above any real program,
// low enough that sums of many amounts stay far from int64 overflow.
const (
	MaxBudgetFen int64 = 10_000_000_000_000
	MaxAmountFen int64 = 100_000_000_000
	MaxRateBP          = 10_000 // 100%
)

// ApplyRate is the platform's one rounding rule for percentages: bp basis
// points of amountFen, rounded down to the whole fen,
//
//	floor(amountFen × bp / 10000)
//
// so a subsidy never exceeds its percentage (15% of 1999 fen is 299 fen, not
// 299.85 → 300). The product is computed in 128 bits, so every int64 amount is
// exact. amountFen must be ≥ 0 and bp within 0..10000; anything else is a
// programming error (Validate and request validation rule it out) and panics
// rather than pricing money wrongly.
func ApplyRate(amountFen int64, bp int) int64 {
	if amountFen < 0 || bp < 0 || bp > MaxRateBP {
		panic(fmt.Sprintf("campaign.ApplyRate(%d, %d): amount must be ≥ 0 and rate within 0..%d", amountFen, bp, MaxRateBP))
	}
	return mulDiv(amountFen, int64(bp), MaxRateBP)
}

// ProRata is the share of totalFen that partFen is of wholeFen,
//
//	floor(totalFen × partFen / wholeFen)
//
// used to claw back a subsidy on a partial refund: refunding partFen of a
// wholeFen order claws back that share of the totalFen discount. It rounds
// down, so the holder keeps the remainder fen. Requires totalFen ≥ 0,
// 0 ≤ partFen ≤ wholeFen and wholeFen > 0; anything else panics.
func ProRata(totalFen, partFen, wholeFen int64) int64 {
	if totalFen < 0 || partFen < 0 || wholeFen <= 0 || partFen > wholeFen {
		panic(fmt.Sprintf("campaign.ProRata(%d, %d, %d): need total ≥ 0 and 0 ≤ part ≤ whole, whole > 0", totalFen, partFen, wholeFen))
	}
	return mulDiv(totalFen, partFen, wholeFen)
}

// mulDiv is floor(a × b / c) for a ≥ 0 and 0 ≤ b ≤ c, c > 0. The result is at
// most a, so it fits, and the 128-bit quotient cannot overflow Div64.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

// RateFor is the rate for an item of the given energy grade: the grade's
// override if the category has one, else the base rate. An empty or unknown
// grade gets the base rate.
func (c Category) RateFor(grade string) int {
	if r, ok := c.GradeRateBP[grade]; ok {
		return r
	}
	return c.RateBP
}

// Subsidy is the subsidy for one item: the grade's rate of the price under
// ApplyRate's rounding, capped at CapFen. Whether the price is allowed at all
// is AllowsPrice's question.
func (c Category) Subsidy(priceFen int64, grade string) int64 {
	return min(ApplyRate(priceFen, c.RateFor(grade)), c.CapFen)
}

// AllowsPrice reports whether an item at priceFen qualifies: not above
// MaxPriceFen, when the category has one.
func (c Category) AllowsPrice(priceFen int64) bool {
	return c.MaxPriceFen == 0 || priceFen <= c.MaxPriceFen
}
