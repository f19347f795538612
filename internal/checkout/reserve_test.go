package checkout_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/checkout"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/voucher"
)

// Reservations are group-committed. Many at once, mixing per voucher a
// right reservation, the same voucher again under another key, a twin under
// the same key, a stranger's id number, an order below the threshold and an
// order number already used for another order, share transactions; each
// still gets its own answer: every voucher is held once, every refusal
// changes nothing and releases its key, and the ledger holds exactly the
// reserved value.
func TestConcurrentReservationsEachGetTheirOwnAnswer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 60
	c := e.live(t, consumption(n+10))
	vs := make([]voucher.Voucher, n)
	for i := range vs {
		vs[i] = e.claim(t, c, i, "200-50")
	}
	// An order number already used for a different order.
	taken := e.claim(t, c, n, "200-50")
	_, err := e.reserve(t, "jd", taken, n, order("o-taken", 30000))
	require.NoError(t, err)
	before := e.budget(t, c)

	const (
		right = iota
		again
		twinA
		twinB
		stranger
		below
		reused
		perVoucher
	)
	type attempt struct {
		voucher, kind int
		idem          idempotency.Key
		in            checkout.ReserveInput
		resp          idempotency.Response
		err           error
	}
	var attempts []*attempt
	for i, v := range vs {
		twin := key("jd")
		for kind := range perVoucher {
			a := &attempt{voucher: i, kind: kind, idem: key("jd"), in: checkout.ReserveInput{
				VoucherCode: v.Code, IDNumber: idNumber(i), Order: order(fmt.Sprint("o-", i, "-", kind), 25000), Channel: "alipay"}}
			switch kind {
			case twinA, twinB:
				a.idem = twin
				a.in.Order = order(fmt.Sprint("o-", i, "-twin"), 25000)
			case stranger:
				a.in.IDNumber = idNumber(i + 1000)
			case below:
				a.in.Order = order(fmt.Sprint("o-", i, "-below"), 19000)
			case reused:
				a.in.Order = order("o-taken", 25000)
			}
			attempts = append(attempts, a)
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a.resp, a.err = e.svc.Reserve(ctx, checkout.Request{PlatformID: "jd", Idem: a.idem}, a.in, renderJSON[postgres.Redemption])
		}()
	}
	close(start)
	wg.Wait()

	held := make([]int, n)
	for _, a := range attempts {
		var stored []byte
		err := e.db.Pool.QueryRow(ctx, `SELECT response FROM idempotency_keys WHERE platform_id = 'jd' AND key = $1`, a.idem.Key).Scan(&stored)
		switch {
		case a.err == nil:
			held[a.voucher]++
			assert.Contains(t, []int{right, again, twinA, twinB}, a.kind, "only a valid reservation is taken")
			require.NoError(t, err, "a reservation that took effect stored its answer")
			assert.Equal(t, string(a.resp.Body), string(stored))
		case errors.Is(a.err, idempotency.ErrDuplicate):
			assert.Contains(t, []int{twinA, twinB}, a.kind, "only twins share a key")
		default:
			code := apperr.CodeOf(a.err)
			switch a.kind {
			case stranger:
				assert.Equal(t, redemption.CodeVoucherNotFound, code)
			case below:
				assert.Contains(t, []apperr.Code{redemption.CodeThresholdNotMet, redemption.CodeVoucherNotActive}, code)
			case reused:
				assert.Contains(t, []apperr.Code{redemption.CodeOrderNoReused, redemption.CodeVoucherNotActive}, code)
			default:
				assert.Equal(t, redemption.CodeVoucherNotActive, code, "another checkout holds the voucher")
			}
			if a.kind != twinA && a.kind != twinB {
				assert.Error(t, err, "a refused reservation leaves no key behind")
			}
		}
	}
	for i, h := range held {
		assert.Equal(t, 1, h, "voucher %d is held exactly once", i)
		first, second := attempts[perVoucher*i+twinA], attempts[perVoucher*i+twinB]
		for _, pair := range [][2]*attempt{{first, second}, {second, first}} {
			if errors.Is(pair[0].err, idempotency.ErrDuplicate) {
				assert.NoError(t, pair[1].err, "a twin is sent to its twin's answer only when that took effect")
			}
		}
	}

	var reservedRows, reservedVouchers, events, orders int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM redemptions WHERE status = 'reserved'`).Scan(&reservedRows))
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM vouchers WHERE status = 'reserved'`).Scan(&reservedVouchers))
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'redemption.reserved'`).Scan(&events))
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT coalesce(sum(vouchers), 0) FROM checkout_orders`).Scan(&orders))
	assert.Equal(t, n+1, reservedRows)
	assert.Equal(t, n+1, reservedVouchers)
	assert.Equal(t, n+1, events, "one audit event per reservation that took effect")
	assert.Equal(t, n+1, orders, "orders count only the reservations that took effect")
	after := e.budget(t, c)
	assert.Equal(t, before.Held+n*5000, after.Held)
	assert.Equal(t, before.Committed-n*5000, after.Committed)
	e.ledgerClean(t)
}
