// Package redemption is the pure domain of checkout: which order a voucher
// may be redeemed on and for how much (Check), what a refund claws back
// (ClawbackTotal), and the signed receipt a platform keeps for settlement.
// It does no I/O except creating the development signing key; the checks
// that need the database (stacking, serial numbers already subsidised, hold
// expiry, idempotent order and refund numbers) belong to the use cases, which
// answer with the codes declared here.
//
// Refunds follow the contract's written rule (refundRedemption): with order
// amount A, discount d and paid p = A − d, after refunds totalling R the
// clawback is floor(d × R / p); for a consumption voucher, if the kept order
// value A − floor(A × R / p) falls below the tier's threshold, the whole
// discount is clawed back. A full refund returns the voucher to its holder
// while it is still valid (its value back to committed), else its value to
// the budget; a fully refunded trade-in frees the serial number.
package redemption

import (
	"net/http"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/voucher"
)

// Error codes of checkout. Never rename one: platforms switch on them.
const (
	CodeVoucherNotFound        apperr.Code = "VOUCHER_NOT_FOUND"  // unknown code, or not this holder's (never say which)
	CodeVoucherNotActive       apperr.Code = "VOUCHER_NOT_ACTIVE" // reserved elsewhere, redeemed, void (Extra current_status)
	CodeVoucherExpired         apperr.Code = "VOUCHER_EXPIRED"    // outside valid_from..valid_until
	CodeCampaignNotActive                  = voucher.CodeCampaignNotActive
	CodePlatformNotAllowed     apperr.Code = "PLATFORM_NOT_ALLOWED"
	CodeChannelNotAllowed      apperr.Code = "CHANNEL_NOT_ALLOWED"
	CodeMerchantNotFound       apperr.Code = "MERCHANT_NOT_FOUND"
	CodeMerchantNotEligible    apperr.Code = "MERCHANT_NOT_ELIGIBLE" // inactive, region, category, online/offline
	CodeMerchantSanctioned     apperr.Code = "MERCHANT_SANCTIONED"   // suspended or blacklisted
	CodeOutsideHours           apperr.Code = "OUTSIDE_HOURS"         // weekday/hour window
	CodeThresholdNotMet        apperr.Code = "THRESHOLD_NOT_MET"
	CodeStackingNotAllowed     apperr.Code = "STACKING_NOT_ALLOWED" // more vouchers on the order than the campaign allows
	CodeNoQualifyingItem       apperr.Code = "NO_QUALIFYING_ITEM"   // no order item of the qualification's category
	CodePriceAboveMax          apperr.Code = "PRICE_ABOVE_MAX"
	CodeSerialRequired         apperr.Code = "SERIAL_REQUIRED" // trade-in item without serial_number
	CodeSerialAlreadyUsed      apperr.Code = "SERIAL_ALREADY_SUBSIDISED"
	CodeRecyclingProofRequired apperr.Code = "RECYCLING_PROOF_REQUIRED"
	CodeOrderAmountMismatch    apperr.Code = "ORDER_AMOUNT_MISMATCH" // amount_fen ≠ Σ unit_price × quantity
	CodeHoldExpired            apperr.Code = "HOLD_EXPIRED"
	CodePaidMismatch           apperr.Code = "PAID_AMOUNT_MISMATCH" // paid ≠ amount − discount
	CodeChannelMismatch        apperr.Code = "CHANNEL_MISMATCH"     // confirm channel ≠ reserved channel
	CodeRedemptionState        apperr.Code = "REDEMPTION_STATE"     // e.g. confirm a cancelled one (Extra current_status)
	CodeRefundExceedsPaid      apperr.Code = "REFUND_EXCEEDS_PAID"
	CodeRefundNoReused         apperr.Code = "REFUND_NO_REUSED" // same refund_no, other amount
	CodeOrderNoReused          apperr.Code = "ORDER_NO_REUSED"  // order_no already used by this platform for another order
)

func init() {
	for code, status := range map[apperr.Code]int{
		CodeVoucherNotFound:        http.StatusNotFound,
		CodeVoucherNotActive:       http.StatusConflict,
		CodeVoucherExpired:         http.StatusConflict,
		CodePlatformNotAllowed:     http.StatusForbidden,
		CodeChannelNotAllowed:      http.StatusUnprocessableEntity,
		CodeMerchantNotFound:       http.StatusNotFound,
		CodeMerchantNotEligible:    http.StatusUnprocessableEntity,
		CodeMerchantSanctioned:     http.StatusForbidden,
		CodeOutsideHours:           http.StatusUnprocessableEntity,
		CodeThresholdNotMet:        http.StatusUnprocessableEntity,
		CodeStackingNotAllowed:     http.StatusConflict,
		CodeNoQualifyingItem:       http.StatusUnprocessableEntity,
		CodePriceAboveMax:          http.StatusUnprocessableEntity,
		CodeSerialRequired:         http.StatusUnprocessableEntity,
		CodeSerialAlreadyUsed:      http.StatusConflict,
		CodeRecyclingProofRequired: http.StatusUnprocessableEntity,
		CodeOrderAmountMismatch:    http.StatusBadRequest,
		CodeHoldExpired:            http.StatusConflict,
		CodePaidMismatch:           http.StatusUnprocessableEntity,
		CodeChannelMismatch:        http.StatusUnprocessableEntity,
		CodeRedemptionState:        http.StatusConflict,
		CodeRefundExceedsPaid:      http.StatusUnprocessableEntity,
		CodeRefundNoReused:         http.StatusConflict,
		CodeOrderNoReused:          http.StatusConflict,
	} {
		apperr.Register(code, status)
	}
}

// VoucherNotFound is the one answer for a code that does not exist and for a
// code that belongs to another holder: telling them apart would let anyone
// probe which codes are live. Use it for both.
func VoucherNotFound(code string) *apperr.Error {
	return apperr.New(CodeVoucherNotFound, "no voucher %s for this holder", code)
}
