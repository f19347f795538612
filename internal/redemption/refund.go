package redemption

import "github.com/tongquan/tongquan/internal/campaign"

// ClawbackTotal is the part of the discount clawed back once refunds total
// refundedTotalFen (this refund included), under the rule in the package
// documentation: with paid p = amountFen − discountFen, floor(d × R / p),
// or all of d when R reaches p or, for a consumption voucher, when the kept
// order value amountFen − floor(amountFen × R / p) falls below minSpendFen.
//
// It is a total, not this refund's share, and never decreases as R grows, so
// the caller books the difference to what earlier refunds clawed back: the
// fen lost to rounding down on one partial refund are recovered by the next.
// It never exceeds discountFen. The caller refuses R > p (REFUND_EXCEEDS_PAID)
// first; R ≤ 0 claws back nothing.
func ClawbackTotal(kind campaign.Kind, amountFen, discountFen, minSpendFen, refundedTotalFen int64) int64 {
	paid := amountFen - discountFen
	switch {
	case refundedTotalFen <= 0:
		return 0
	case refundedTotalFen >= paid:
		return discountFen
	case kind == campaign.KindConsumption && amountFen-campaign.ProRata(amountFen, refundedTotalFen, paid) < minSpendFen:
		return discountFen
	}
	return campaign.ProRata(discountFen, refundedTotalFen, paid)
}
