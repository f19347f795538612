package redemption

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
)

// Item is one line of an order.
type Item struct {
	SKU            string
	Category       string // product category; trade-in: the category code
	UnitPriceFen   int64
	Quantity       int
	EnergyGrade    string // "1".."5", picks a trade-in category's grade rate
	SerialNumber   string // device serial number or IMEI (trade-in)
	RecyclingProof string // reference of the old item's recycling certificate
}

// Order is what the platform's shopper is about to pay for.
type Order struct {
	OrderNo    string
	MerchantID string
	AmountFen  int64
	Currency   string
	Items      []Item
}

// Validate checks that the order is priced consistently: in CNY, positive
// prices and quantities, and an amount that is exactly Σ unit price ×
// quantity. The discount and every refund are computed from these numbers, so
// an amount the items do not explain is refused rather than trusted.
func (o Order) Validate() error {
	var fields []apperr.FieldError
	bad := func(field, format string, args ...any) {
		fields = append(fields, apperr.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if o.Currency != campaign.DefaultCurrency {
		bad("order.currency", "must be %s", campaign.DefaultCurrency)
	}
	if o.AmountFen < 1 || o.AmountFen > campaign.MaxAmountFen {
		bad("order.amount_fen", "must be 1 to %d fen", campaign.MaxAmountFen)
	}
	if len(o.Items) == 0 {
		bad("order.items", "must list at least one item")
	}
	for i, it := range o.Items {
		if it.UnitPriceFen < 1 {
			bad(fmt.Sprintf("order.items[%d].unit_price_fen", i), "must be at least 1 fen")
		}
		if it.Quantity < 1 {
			bad(fmt.Sprintf("order.items[%d].quantity", i), "must be at least 1")
		}
	}
	if len(fields) > 0 {
		return apperr.Invalid(fields...)
	}
	total, ok := o.itemsTotal()
	if !ok {
		return apperr.New(CodeOrderAmountMismatch,
			"amount_fen is %d but Σ unit_price_fen × quantity of the items is beyond any amount", o.AmountFen)
	}
	if total != o.AmountFen {
		return apperr.New(CodeOrderAmountMismatch,
			"amount_fen is %d but Σ unit_price_fen × quantity of the items is %d", o.AmountFen, total).
			With("items_total_fen", total)
	}
	return nil
}

// itemsTotal is Σ unit price × quantity for non-negative prices and
// quantities; ok is false when the sum does not fit an int64, so a huge
// quantity cannot wrap around to match the amount.
func (o Order) itemsTotal() (total int64, ok bool) {
	for _, it := range o.Items {
		hi, line := bits.Mul64(uint64(it.UnitPriceFen), uint64(it.Quantity))
		if hi != 0 || line > math.MaxInt64-uint64(total) {
			return 0, false
		}
		total += int64(line)
	}
	return total, true
}
