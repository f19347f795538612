package checkout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/checkout"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/voucher"
)

func TestReserveConfirmWithSignedReceipt(t *testing.T) {
	e := newEnv(t)
	c := e.live(t, consumption(10))
	v := e.claim(t, c, 1, "200-50")

	r, err := e.reserve(t, "jd", v, 1, order("o-1", 25000))
	require.NoError(t, err)
	assert.Equal(t, "reserved", r.Status)
	assert.Equal(t, int64(5000), r.DiscountFen)
	assert.Equal(t, int64(5000), e.budget(t, c).Held)

	got, err := e.confirm(t, "jd", r)
	require.NoError(t, err)
	assert.Equal(t, "confirmed", got.Status)
	b := e.budget(t, c)
	assert.Equal(t, int64(5000), b.Payable)
	assert.Zero(t, b.Held)

	var receipt redemption.Receipt
	require.NoError(t, json.Unmarshal(got.Receipt, &receipt))
	body, err := redemption.VerifyReceipt(receipt, []redemption.JWK{e.signer.PublicJWK()})
	require.NoError(t, err)
	assert.Equal(t, r.ID, body.RedemptionID)
	assert.Equal(t, int64(20000), body.PaidFen)

	// The voucher is spent: another order cannot use it.
	_, err = e.reserve(t, "jd", v, 1, order("o-2", 25000))
	assert.Equal(t, redemption.CodeVoucherNotActive, apperr.CodeOf(err))
	e.ledgerClean(t)
}

func TestReserveRulesChangeNothing(t *testing.T) {
	e := newEnv(t)
	c := e.live(t, consumption(10))
	v := e.claim(t, c, 1, "200-50")
	cases := []struct {
		name string
		run  func() error
		code apperr.Code
	}{
		{"threshold", func() error { _, err := e.reserve(t, "jd", v, 1, order("a", 19999)); return err }, redemption.CodeThresholdNotMet},
		{"other holder", func() error { _, err := e.reserve(t, "jd", v, 2, order("b", 25000)); return err }, redemption.CodeVoucherNotFound},
		{"unknown merchant", func() error {
			o := order("c", 25000)
			o.MerchantID = "nope"
			_, err := e.reserve(t, "jd", v, 1, o)
			return err
		}, redemption.CodeMerchantNotFound},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.code, apperr.CodeOf(tc.run()), tc.name)
	}
	var n int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM redemptions`).Scan(&n))
	assert.Zero(t, n)
	assert.Zero(t, e.budget(t, c).Held)
}

func TestCancelAndHoldExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.live(t, consumption(10))
	v := e.claim(t, c, 1, "200-50")

	r, err := e.reserve(t, "jd", v, 1, order("o-1", 25000))
	require.NoError(t, err)
	_, err = e.svc.Cancel(ctx, req("jd"), r.ID, renderJSON[postgres.Redemption])
	require.NoError(t, err)
	assert.Zero(t, e.budget(t, c).Held)
	assert.Equal(t, int64(5000), e.budget(t, c).Committed)

	// The same order may take the voucher again after a cancel; then the hold expires.
	r, err = e.reserve(t, "jd", v, 1, order("o-1", 25000))
	require.NoError(t, err)
	e.clock.Set(r.HoldExpiresAt.Add(time.Second))
	_, err = e.confirm(t, "jd", r)
	assert.Equal(t, redemption.CodeHoldExpired, apperr.CodeOf(err), "a late confirm changes nothing")
	assert.Equal(t, int64(5000), e.budget(t, c).Held)

	n, err := e.svc.ExpireHolds(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = e.svc.ExpireHolds(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	got, err := e.svc.Get(ctx, "jd", r.ID)
	require.NoError(t, err)
	assert.Equal(t, "expired", got.Status)
	assert.Zero(t, e.budget(t, c).Held)
	e.ledgerClean(t)
}

func TestRefundsClawBackAndReturnTheVoucher(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.live(t, consumption(10))
	v := e.claim(t, c, 1, "200-50")
	r, err := e.reserve(t, "jd", v, 1, order("o-1", 40000))
	require.NoError(t, err)
	r, err = e.confirm(t, "jd", r)
	require.NoError(t, err) // paid 35000

	refund := func(no string, fen int64) (checkout.RefundResult, error) {
		var out checkout.RefundResult
		_, err := e.svc.Refund(ctx, req("jd"), r.ID, no, fen, func(x checkout.RefundResult) (idempotency.Response, error) {
			out = x
			return renderJSON(map[string]any{"id": x.Refund.ID})
		})
		return out, err
	}
	// 10% refunded: kept order 36,000 ≥ 20,000, clawback floor(5000 × 3500 / 35000) = 500.
	res, err := refund("rf-1", 3500)
	require.NoError(t, err)
	assert.Equal(t, int64(500), res.Refund.ClawbackFen)
	assert.Equal(t, int64(4500), e.budget(t, c).Payable)

	same, err := refund("rf-1", 3500)
	require.NoError(t, err)
	assert.Equal(t, res.Refund.ID, same.Refund.ID, "a refund_no is applied once")
	_, err = refund("rf-1", 100)
	assert.Equal(t, redemption.CodeRefundNoReused, apperr.CodeOf(err))
	_, err = refund("rf-2", 40000)
	assert.Equal(t, redemption.CodeRefundExceedsPaid, apperr.CodeOf(err))

	// The rest: a full refund; the voucher is still valid, so it returns to its holder.
	res, err = refund("rf-2", 31500)
	require.NoError(t, err)
	assert.True(t, res.VoucherReturned)
	assert.Equal(t, "refunded", res.Redemption.Status)
	b := e.budget(t, c)
	assert.Zero(t, b.Payable)
	assert.Equal(t, int64(4500), b.Committed, "the holder has the voucher back (clawed-back 500 went to the budget)")
	wallet, err := e.issuance.Wallet(ctx, idNumber(1), string(voucher.Active))
	require.NoError(t, err)
	assert.Len(t, wallet, 1)
	e.ledgerClean(t)
}

// TestOneVoucherOneRedemption: 100 goroutines on two platforms reserve the
// same voucher at once (each with its own order): exactly one hold, and it
// confirms once.
func TestOneVoucherOneRedemption(t *testing.T) {
	e := newEnv(t)
	c := e.live(t, consumption(10))
	v := e.claim(t, c, 1, "200-50")
	var held []postgres.Redemption
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			platform := []string{"jd", "taobao"}[i%2]
			r, err := e.reserve(t, platform, v, 1, order(fmt.Sprintf("o-%d", i), 25000))
			if err != nil {
				assert.Equal(t, redemption.CodeVoucherNotActive, apperr.CodeOf(err))
				return
			}
			mu.Lock()
			held = append(held, r)
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Len(t, held, 1, "exactly one hold")
	assert.Equal(t, int64(5000), e.budget(t, c).Held)
	_, err := e.confirm(t, held[0].PlatformID, held[0])
	require.NoError(t, err)
	var n int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM redemptions WHERE status = 'confirmed'`).Scan(&n))
	assert.Equal(t, 1, n)
	e.ledgerClean(t)
}

// TestTradeInBudgetNeverOverspent: every reservation draws on one subsidy
// budget from many goroutines at once until it runs out.
func TestTradeInBudgetNeverOverspent(t *testing.T) {
	e := newEnv(t)
	budget := int64(20 * 74985)
	c := e.live(t, tradeIn(budget+1000))
	const holders = 60
	vs := make([]voucher.Voucher, holders)
	for i := range vs {
		vs[i] = e.claim(t, c, i, "air_conditioner")
	}
	var ok, exhausted atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < holders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := order(fmt.Sprintf("ac-%d", i), 499900, redemption.Item{SKU: "ac", Category: "air_conditioner",
				UnitPriceFen: 499900, Quantity: 1, EnergyGrade: "2", SerialNumber: fmt.Sprintf("SN%06d", i), RecyclingProof: "RC-1"})
			r, err := e.reserve(t, "jd", vs[i], i, o)
			switch {
			case err == nil:
				_, err = e.confirm(t, "jd", r)
				require.NoError(t, err)
				ok.Add(1)
			case apperr.CodeOf(err) == "BUDGET_EXHAUSTED":
				exhausted.Add(1)
			default:
				t.Errorf("reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(20), ok.Load(), "15%% of ¥4,999 = 74,985 fen each; the budget covers 20")
	assert.Equal(t, int64(holders-20), exhausted.Load())
	b := e.budget(t, c)
	assert.Equal(t, 20*int64(74985), b.Payable)
	assert.GreaterOrEqual(t, b.Available, int64(0))
	e.ledgerClean(t)
}

func TestSerialSubsidisedOnce(t *testing.T) {
	e := newEnv(t)
	c := e.live(t, tradeIn(10_000_000))
	item := redemption.Item{SKU: "p", Category: "phone", UnitPriceFen: 500000, Quantity: 1, SerialNumber: "IMEI350000000000001"}
	a := e.claim(t, c, 1, "phone")
	b := e.claim(t, c, 2, "phone")
	r, err := e.reserve(t, "jd", a, 1, order("p-1", 500000, item))
	require.NoError(t, err)
	assert.Equal(t, int64(50000), r.DiscountFen, "15% of ¥5,000 capped at ¥500")
	_, err = e.reserve(t, "taobao", b, 2, order("p-2", 500000, item))
	assert.Equal(t, redemption.CodeSerialAlreadyUsed, apperr.CodeOf(err), "the same IMEI on another platform")
}

func TestPlatformsSeeOnlyTheirOwnRedemptions(t *testing.T) {
	e := newEnv(t)
	c := e.live(t, consumption(10))
	v := e.claim(t, c, 1, "200-50")
	r, err := e.reserve(t, "jd", v, 1, order("o-1", 25000))
	require.NoError(t, err)
	_, err = e.svc.Get(context.Background(), "taobao", r.ID)
	assert.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err))
	_, err = e.confirm(t, "taobao", r)
	assert.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err))
}

func TestQuotePicksTheBestVoucherAndWritesNothing(t *testing.T) {
	e := newEnv(t)
	c := e.live(t, consumption(10))
	e.claim(t, c, 1, "200-50")
	q, err := e.svc.Quote(context.Background(), "jd", checkout.QuoteInput{IDNumber: idNumber(1), Order: order("q-1", 25000), Channel: "alipay"})
	require.NoError(t, err)
	require.Len(t, q.Options, 1)
	assert.True(t, q.Options[0].Applicable)
	assert.Equal(t, int64(5000), q.DiscountFen)
	assert.Equal(t, int64(20000), q.PayableFen)
	assert.Len(t, q.Best, 1)

	q, err = e.svc.Quote(context.Background(), "jd", checkout.QuoteInput{IDNumber: idNumber(1), Order: order("q-2", 15000), Channel: "alipay"})
	require.NoError(t, err)
	assert.False(t, q.Options[0].Applicable)
	assert.Equal(t, redemption.CodeThresholdNotMet, q.Options[0].ReasonCode)
	assert.Empty(t, q.Best)
	assert.Zero(t, e.budget(t, c).Held)
}
