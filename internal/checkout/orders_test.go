package checkout_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/voucher"
)

func liveRedemptions(t *testing.T, e *env) int {
	var n int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM redemptions WHERE status IN ('reserved', 'confirmed')`).Scan(&n))
	return n
}

// An order number names one order of its platform, and an order carries at
// most the campaign's vouchers per order; a refused reservation changes nothing.
func TestOrderNumberNamesOneOrder(t *testing.T) {
	e := newEnv(t)
	c := e.live(t, consumption(10))
	v1, v2 := e.claim(t, c, 1, "200-50"), e.claim(t, c, 2, "200-50")

	_, err := e.reserve(t, "jd", v1, 1, order("o-1", 25000))
	require.NoError(t, err)
	_, err = e.reserve(t, "jd", v2, 2, order("o-1", 30000))
	assert.Equal(t, redemption.CodeOrderNoReused, apperr.CodeOf(err), "another order under the same number")
	_, err = e.reserve(t, "jd", v2, 2, order("o-1", 25000))
	assert.Equal(t, redemption.CodeStackingNotAllowed, apperr.CodeOf(err), "a second voucher on the same order")
	assert.Equal(t, 1, liveRedemptions(t, e))
	assert.Equal(t, int64(5000), e.budget(t, c).Held)

	_, err = e.reserve(t, "taobao", v2, 2, order("o-1", 30000))
	require.NoError(t, err, "order numbers are per platform")
	assert.Equal(t, int64(10000), e.budget(t, c).Held)
	e.ledgerClean(t)
}

// Many checkouts bring the same new order number at once, half of them for
// another order: one reservation wins, every other is refused for the right
// reason and leaves nothing behind.
func TestOneNewOrderNumberFromManyCheckouts(t *testing.T) {
	e := newEnv(t)
	c := e.live(t, consumption(20))
	const n = 16
	vs := make([]voucher.Voucher, n)
	for i := range vs {
		vs[i] = e.claim(t, c, i+1, "200-50")
	}
	amount := func(i int) int64 { return 25000 + int64(i%2)*1000 }
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = e.reserve(t, "jd", vs[i], i+1, order("o-race", amount(i))) })
	}
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "one reservation per order")
			winner = i
		}
	}
	require.NotEqual(t, -1, winner)
	for i, err := range errs {
		switch {
		case i == winner:
		case amount(i) == amount(winner):
			assert.Equal(t, redemption.CodeStackingNotAllowed, apperr.CodeOf(err), "%v", err)
		default:
			assert.Equal(t, redemption.CodeOrderNoReused, apperr.CodeOf(err), "%v", err)
		}
	}
	assert.Equal(t, 1, liveRedemptions(t, e))
	assert.Equal(t, int64(5000), e.budget(t, c).Held)
	for i, v := range vs {
		got, err := postgres.VouchersByCode(context.Background(), e.db.Pool, []string{v.Code})
		require.NoError(t, err)
		want := voucher.Active
		if i == winner {
			want = voucher.Reserved
		}
		assert.Equal(t, want, got[0].Status)
	}
	e.ledgerClean(t)
}

// A reservation that waits for another transaction storing the same new
// order number decides on what that transaction stored, which its own
// statement's snapshot could not see.
func TestOrderStoredConcurrentlyIsReadAgain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.live(t, consumption(10))
	v1, v2, v3 := e.claim(t, c, 1, "200-50"), e.claim(t, c, 2, "200-50"), e.claim(t, c, 3, "200-50")
	_, err := e.reserve(t, "jd", v1, 1, order("o-a", 25000))
	require.NoError(t, err)
	var fingerprint []byte
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT fingerprint FROM checkout_orders WHERE order_no = 'o-a'`).Scan(&fingerprint))

	for _, tc := range []struct {
		orderNo     string
		fingerprint []byte
		v           voucher.Voucher
		holder      int
		want        apperr.Code
	}{
		{"o-b", fingerprint, v2, 2, redemption.CodeStackingNotAllowed},
		{"o-c", []byte("another order"), v3, 3, redemption.CodeOrderNoReused},
	} {
		other, err := e.db.Pool.Begin(ctx)
		require.NoError(t, err)
		_, err = other.Exec(ctx, `INSERT INTO checkout_orders (platform_id, order_no, fingerprint, vouchers) VALUES ('jd', $1, $2, 1)`,
			tc.orderNo, tc.fingerprint)
		require.NoError(t, err)
		done := make(chan error)
		go func() {
			_, err := e.reserve(t, "jd", tc.v, tc.holder, order(tc.orderNo, 25000))
			done <- err
		}()
		require.Eventually(t, func() bool {
			var waiting int
			err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
			return err == nil && waiting > 0
		}, 10*time.Second, 5*time.Millisecond, "the reservation waits for the order being stored")
		require.NoError(t, other.Commit(ctx))
		assert.Equal(t, tc.want, apperr.CodeOf(<-done), tc.orderNo)
	}
	assert.Equal(t, 1, liveRedemptions(t, e))
	assert.Equal(t, int64(5000), e.budget(t, c).Held)
	e.ledgerClean(t)
}
