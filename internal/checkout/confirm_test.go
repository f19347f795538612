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
)

// Confirms are group-committed. Many at once, mixing per redemption a
// right confirm, rival confirms under other keys, a wrong amount, another
// platform's and a twin under the same key, share transactions; each still
// gets its own answer: one confirm per redemption takes effect, every refusal
// changes nothing and releases its key, and the ledger moves exactly the
// confirmed holds.
func TestConcurrentConfirmsEachGetTheirOwnAnswer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const n = 60
	c := e.live(t, consumption(n+10))
	held := make([]postgres.Redemption, n)
	for i := range held {
		v := e.claim(t, c, i, "200-50")
		r, err := e.reserve(t, "jd", v, i, order(fmt.Sprint("o-", i), 25000))
		require.NoError(t, err)
		held[i] = r
	}

	type attempt struct {
		redemption int
		platform   string
		idem       idempotency.Key
		paidFen    int64
		// results
		resp idempotency.Response
		err  error
	}
	var attempts []*attempt
	for i, r := range held {
		right := r.AmountFen - r.DiscountFen
		twin := key("jd")
		attempts = append(attempts,
			&attempt{redemption: i, platform: "jd", idem: key("jd"), paidFen: right},
			&attempt{redemption: i, platform: "jd", idem: key("jd"), paidFen: right},
			&attempt{redemption: i, platform: "jd", idem: key("jd"), paidFen: right},
			&attempt{redemption: i, platform: "jd", idem: key("jd"), paidFen: right + 1},
			&attempt{redemption: i, platform: "taobao", idem: key("taobao"), paidFen: right},
			&attempt{redemption: i, platform: "jd", idem: twin, paidFen: right},
			&attempt{redemption: i, platform: "jd", idem: twin, paidFen: right},
		)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := held[a.redemption]
			a.resp, a.err = e.svc.Confirm(ctx, checkout.Request{PlatformID: a.platform, Idem: a.idem}, r.ID,
				checkout.ConfirmInput{Channel: "alipay", ChannelTxnID: "txn-1", PaidFen: a.paidFen}, renderJSON[postgres.Redemption])
		}()
	}
	close(start)
	wg.Wait()

	won := make([]int, n)
	for _, a := range attempts {
		var stored []byte
		err := e.db.Pool.QueryRow(ctx, `SELECT response FROM idempotency_keys WHERE platform_id = $1 AND key = $2`,
			a.idem.PlatformID, a.idem.Key).Scan(&stored)
		switch {
		case a.err == nil:
			won[a.redemption]++
			assert.Equal(t, 200, a.resp.Status)
			require.NoError(t, err, "a confirm that took effect stored its answer")
			assert.Equal(t, string(a.resp.Body), string(stored), "the stored answer is the one given")
		case errors.Is(a.err, idempotency.ErrDuplicate):
			// Its twin holds the key; the HTTP layer replays the twin's answer.
			assert.Equal(t, attempts[7*a.redemption+5].idem, a.idem, "only twins share a key")
		default:
			code := apperr.CodeOf(a.err)
			switch {
			case a.platform == "taobao":
				assert.Equal(t, apperr.CodeNotFound, code)
			case a.paidFen != held[a.redemption].AmountFen-held[a.redemption].DiscountFen:
				assert.Contains(t, []apperr.Code{redemption.CodePaidMismatch, redemption.CodeRedemptionState}, code)
			default:
				assert.Equal(t, redemption.CodeRedemptionState, code, "a rival confirm finds it confirmed")
			}
			if a.idem.Key != attempts[7*a.redemption+5].idem.Key { // a twin's key may hold its twin's answer
				assert.Error(t, err, "a refused confirm leaves no key behind")
			}
		}
	}
	for i, w := range won {
		assert.Equal(t, 1, w, "redemption %d is confirmed exactly once", i)
		first, second := attempts[7*i+5], attempts[7*i+6]
		for _, pair := range [][2]*attempt{{first, second}, {second, first}} {
			if errors.Is(pair[0].err, idempotency.ErrDuplicate) {
				assert.NoError(t, pair[1].err, "a twin is sent to its twin's answer only when that took effect")
			}
		}
	}

	var confirmed, redeemed, events int
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM redemptions WHERE status = 'confirmed' AND receipt IS NOT NULL`).Scan(&confirmed))
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM vouchers WHERE status = 'redeemed'`).Scan(&redeemed))
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'redemption.confirmed'`).Scan(&events))
	assert.Equal(t, n, confirmed)
	assert.Equal(t, n, redeemed)
	assert.Equal(t, n, events, "one audit event per confirm that took effect")
	b := e.budget(t, c)
	assert.Zero(t, b.Held)
	assert.Equal(t, int64(n*5000), b.Payable)
	e.ledgerClean(t)
}
