package redemption

import (
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

func item(price int64, qty int) Item {
	return Item{SKU: "sku", Category: "food", UnitPriceFen: price, Quantity: qty}
}

func TestOrderValidate(t *testing.T) {
	order := func(amount int64, items ...Item) Order {
		return Order{OrderNo: "o-1", MerchantID: "m-1", AmountFen: amount, Currency: "CNY", Items: items}
	}
	ok := []Order{
		order(30000, item(5000, 2), item(20000, 1)),
		order(1, item(1, 1)),
		order(100_000_000_000, item(100_000_000, 1000)),
	}
	for _, o := range ok {
		assert.NoError(t, o.Validate(), "%+v", o)
	}

	usd := order(100, item(100, 1))
	usd.Currency = "USD"
	cases := []struct {
		name   string
		order  Order
		code   apperr.Code
		fields []string
	}{
		{"one fen short", order(29999, item(5000, 2), item(20000, 1)), CodeOrderAmountMismatch, nil},
		{"quantity ignored", order(25000, item(5000, 2), item(20000, 1)), CodeOrderAmountMismatch, nil},
		// 2^62 × 4 is 2^64: 0 after a 64-bit wrap, so a naive sum would be 100.
		{"line overflows", order(100, item(1<<62, 4), item(100, 1)), CodeOrderAmountMismatch, nil},
		// MaxInt64 + MaxInt64 + 102 wraps to 100 in int64.
		{"sum overflows", order(100, item(math.MaxInt64, 1), item(math.MaxInt64, 1), item(102, 1)), CodeOrderAmountMismatch, nil},
		{"other currency", usd, apperr.CodeValidationFailed, []string{"order.currency"}},
		{"zero amount", order(0, item(1, 1)), apperr.CodeValidationFailed, []string{"order.amount_fen"}},
		{"amount above the contract's maximum", order(100_000_000_001, item(100_000_000_001, 1)), apperr.CodeValidationFailed, []string{"order.amount_fen"}},
		{"no items", order(100), apperr.CodeValidationFailed, []string{"order.items"}},
		{"negative price offsets another item", order(100, item(200, 1), item(-100, 1)), apperr.CodeValidationFailed,
			[]string{"order.items[1].unit_price_fen"}},
		{"zero quantity and free item", order(100, item(100, 0), item(0, 1)), apperr.CodeValidationFailed,
			[]string{"order.items[0].quantity", "order.items[1].unit_price_fen"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := requireCode(t, tc.order.Validate(), tc.code)
			var fields []string
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
			assert.Equal(t, tc.fields, fields)
		})
	}
}

func TestOrderAmountMismatchSaysTheItemsTotal(t *testing.T) {
	e := requireCode(t, Order{AmountFen: 29999, Currency: "CNY", Items: []Item{item(5000, 2), item(20000, 1)}}.Validate(),
		CodeOrderAmountMismatch)
	assert.Equal(t, "amount_fen is 29999 but Σ unit_price_fen × quantity of the items is 30000", e.Message)
	assert.Equal(t, int64(30000), e.Extra["items_total_fen"])
}

// FuzzOrderValidate checks Validate against exact big-integer arithmetic:
// it accepts an order exactly when the amount is in range, every price and
// quantity positive, and the amount the true Σ unit price × quantity.
func FuzzOrderValidate(f *testing.F) {
	f.Add(int64(30000), int64(5000), 2, int64(20000), 1, "CNY")
	f.Add(int64(100), int64(1<<62), 4, int64(100), 1, "CNY")
	f.Add(int64(100), int64(math.MaxInt64), 1, int64(math.MinInt64+101), 1, "CNY")
	f.Add(int64(100), int64(200), 1, int64(-100), 1, "CNY")
	f.Add(int64(-1), int64(-1), -1, int64(0), 0, "")
	f.Fuzz(func(t *testing.T, amount, p1 int64, q1 int, p2 int64, q2 int, currency string) {
		o := Order{AmountFen: amount, Currency: currency, Items: []Item{item(p1, q1), item(p2, q2)}}
		err := o.Validate()

		sum := new(big.Int).Mul(big.NewInt(p1), big.NewInt(int64(q1)))
		sum.Add(sum, new(big.Int).Mul(big.NewInt(p2), big.NewInt(int64(q2))))
		valid := currency == "CNY" && amount >= 1 && amount <= 100_000_000_000 && p1 >= 1 && p2 >= 1 && q1 >= 1 && q2 >= 1
		if want := valid && sum.Cmp(big.NewInt(amount)) == 0; want != (err == nil) {
			t.Fatalf("Validate(%+v) = %v; the items add up to %s", o, err, sum)
		}
		if err != nil {
			code := apperr.CodeOf(err)
			require.Contains(t, []apperr.Code{apperr.CodeValidationFailed, CodeOrderAmountMismatch}, code)
			require.Equal(t, valid, code == CodeOrderAmountMismatch, "mismatch only for an otherwise valid order: %v", err)
		}
	})
}
