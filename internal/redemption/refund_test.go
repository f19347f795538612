package redemption

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tongquan/tongquan/internal/campaign"
)

const (
	consumption = campaign.KindConsumption
	tradeIn     = campaign.KindTradeIn
)

func TestClawbackTotal(t *testing.T) {
	cases := []struct {
		name                       string
		kind                       campaign.Kind
		amount, discount, minSpend int64
		refunded                   int64
		want                       int64
	}{
		// "Spend ¥200, get ¥50 off" on a ¥300 order: paid ¥250.
		{"nothing refunded", consumption, 30000, 5000, 20000, 0, 0},
		{"a fifth refunded, threshold still met", consumption, 30000, 5000, 20000, 5000, 1000},
		{"kept value exactly at the threshold", consumption, 30000, 5000, 20000, 8334, 1666},
		{"one fen more drops below the threshold: all of it", consumption, 30000, 5000, 20000, 8335, 5000},
		{"full refund", consumption, 30000, 5000, 20000, 25000, 5000},
		// A ¥4,999 air conditioner with a ¥749.85 subsidy: paid ¥4,249.15.
		{"trade-in: about half refunded", tradeIn, 499900, 74985, 0, 212457, 37492},
		{"trade-in: one fen refunded rounds down to nothing", tradeIn, 499900, 74985, 0, 1, 0},
		{"trade-in: all but one fen", tradeIn, 499900, 74985, 0, 424914, 74984},
		{"trade-in: full refund", tradeIn, 499900, 74985, 0, 424915, 74985},
		{"trade-in ignores min spend", tradeIn, 30000, 5000, 20000, 10000, 2000},
		// One-fen edges.
		{"1 fen paid, 1 fen refunded", tradeIn, 2, 1, 0, 1, 1},
		{"half of 2 fen paid: floor(1 × 1 / 2) = 0", tradeIn, 3, 1, 0, 1, 0},
		{"kept 2 of a 2 fen threshold", consumption, 3, 1, 2, 1, 0},
		{"a zero subsidy claws back nothing", tradeIn, 1, 0, 0, 1, 0},
		{"1 fen paid after a ¥50 discount", consumption, 5001, 5000, 5001, 1, 5000},
		// Largest amounts: d × R needs more than 64 bits.
		{"¥1 billion order, all but 1 fen refunded", tradeIn, 100_000_000_000, 50_000_000_000, 0, 49_999_999_999, 49_999_999_999},
		{"over-refund (refused by the caller) never exceeds d", consumption, 30000, 5000, 20000, 99999, 5000},
	}
	for _, tc := range cases {
		got := ClawbackTotal(tc.kind, tc.amount, tc.discount, tc.minSpend, tc.refunded)
		assert.Equal(t, tc.want, got, tc.name)
	}
}

// Each refund books the difference between the totals before and after it,
// so partial refunds add up to exactly the total of one refund of their sum.
func TestClawbackAccumulatesOverPartialRefunds(t *testing.T) {
	const amount, discount, minSpend = 30000, 5000, 20000
	var refunded, booked int64
	var perRefund []int64
	for _, r := range []int64{3000, 3000, 2334, 1, 16665} {
		refunded += r
		total := ClawbackTotal(consumption, amount, discount, minSpend, refunded)
		perRefund = append(perRefund, total-booked)
		booked = total
	}
	assert.Equal(t, []int64{600, 600, 466, 3334, 0}, perRefund)
	assert.Equal(t, int64(discount), booked)
}

// Over every small order: the total never decreases as refunds grow, never
// exceeds the discount, and reaches it exactly at a full refund.
func TestClawbackTotalInvariants(t *testing.T) {
	for amount := int64(1); amount <= 30; amount++ {
		for discount := int64(0); discount < amount; discount++ {
			paid := amount - discount
			for minSpend := discount + 1; minSpend <= amount; minSpend++ {
				for _, kind := range []campaign.Kind{consumption, tradeIn} {
					prev := int64(0)
					for r := int64(1); r <= paid; r++ {
						got := ClawbackTotal(kind, amount, discount, minSpend, r)
						want := discount * r / paid
						if r == paid || (kind == consumption && amount-amount*r/paid < minSpend) {
							want = discount
						}
						if got != want || got < prev || got > discount {
							t.Fatalf("ClawbackTotal(%s, %d, %d, %d, %d) = %d, want %d (previous total %d)",
								kind, amount, discount, minSpend, r, got, want, prev)
						}
						prev = got
					}
					if prev != discount {
						t.Fatalf("a full refund of %s %d/%d clawed back %d", kind, amount, discount, prev)
					}
				}
			}
		}
	}
}
