package clearing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/clearing"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/settlement"
)

func (e *env) close(t testing.TB) int {
	n, err := e.svc.CloseDays(context.Background())
	require.NoError(t, err)
	return n
}

// movedThroughPayable is what the ledger moved into payable for a campaign's
// confirms minus what refunds took back out of payable or settled.
func (e *env) movedThroughPayable(t testing.TB, c campaign.Campaign) int64 {
	var fen int64
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `
		SELECT coalesce(sum(CASE WHEN kind = 'redemption' THEN amount_fen ELSE -amount_fen END), 0)::bigint
		FROM ledger_entries WHERE campaign_id = $1 AND amount_fen > 0
			AND kind IN ('redemption', 'refund', 'clawback', 'settled_refund', 'settled_clawback')`, c.ID).Scan(&fen))
	return fen
}

func (e *env) balances(t testing.TB, c campaign.Campaign) (payable, settled int64) {
	b, err := postgres.Breakdown(context.Background(), e.db.Pool, c.ID)
	require.NoError(t, err)
	require.NoError(t, b.Check(), "every balance stays >= 0 and the accounts add up")
	return b.Payable, b.Settled
}

func (e *env) ledgerClean(t testing.TB) {
	faults, err := postgres.CheckLedger(context.Background(), e.db.Pool, nil)
	require.NoError(t, err)
	require.Empty(t, faults)
}

func lineOf(t testing.TB, s settlement.Statement, merchant string) settlement.Line {
	for _, l := range s.Lines {
		if l.MerchantID == merchant {
			return l
		}
	}
	t.Fatalf("statement %s has no line for %s", s.ID, merchant)
	return settlement.Line{}
}

func netOf(ss ...[]settlement.Statement) int64 {
	var n int64
	for _, s := range ss {
		for _, st := range s {
			n += st.Totals.NetFen
		}
	}
	return n
}

// TestSettlementDay: confirms, cancels, partial refunds with and without
// clawback and a full refund on two platforms; the day closes; then late
// refunds of redemptions already stated, before and after their statement is
// paid, and a confirm that commits after its day was closed.
func TestSettlementDay(t *testing.T) {
	e := newEnv(t)
	c := e.consumptionCampaign(t, 20)
	day1, day2 := "2027-03-05", "2027-03-06"

	// Day 1 on jd: five confirms over two merchants, a cancel, refunds.
	r1 := e.redeem(t, c, "jd", 1, "m1")
	r2 := e.redeem(t, c, "jd", 2, "m1")
	r3 := e.reserve(t, "jd", e.claim(t, c, 3), 3, "m1")
	e.cancel(t, r3) // never reaches payable
	r4 := e.redeem(t, c, "jd", 4, "m2")
	assert.Equal(t, int64(1000), e.refund(t, r4, "rf-4", 5000).ClawbackFen, "a partial refund claws back pro rata")
	r5 := e.redeem(t, c, "jd", 5, "m2")
	assert.Zero(t, e.refund(t, r5, "rf-5", 3).ClawbackFen, "a tiny partial refund keeps the threshold and claws nothing")
	r6 := e.redeem(t, c, "jd", 6, "m2")
	assert.Equal(t, int64(5000), e.refund(t, r6, "rf-6", 25000).ClawbackFen, "a full refund returns the voucher")
	// Day 1 on taobao.
	r7 := e.redeem(t, c, "taobao", 7, "m1")
	e.redeem(t, c, "taobao", 8, "m1")

	e.clock.Set(local(day1, 23, 0))
	assert.Zero(t, e.close(t), "the day has not ended")

	e.clock.Set(local(day2, 0, 30))
	assert.Equal(t, 2, e.close(t), "one statement per platform")
	assert.Zero(t, e.close(t), "closing again issues nothing")

	jd := e.statements(t, "jd")
	require.Len(t, jd, 1)
	jd1 := jd[0]
	assert.Equal(t, day1, jd1.BusinessDate.Format(time.DateOnly))
	assert.Equal(t, settlement.StatusIssued, jd1.Status)
	assert.Equal(t, settlement.Amounts{ConfirmedCount: 5, DiscountFen: 25000, PaidFen: 125000, RefundCount: 3,
		RefundedFen: 30003, ClawbackFen: 6000, NetFen: 19000}, jd1.Totals)
	require.Len(t, jd1.Lines, 2)
	assert.Equal(t, settlement.Amounts{ConfirmedCount: 2, DiscountFen: 10000, PaidFen: 50000, NetFen: 10000}, lineOf(t, jd1, "m1").Amounts)
	assert.Equal(t, int64(9000), lineOf(t, jd1, "m2").NetFen)
	tb := e.statements(t, "taobao")
	require.Len(t, tb, 1)
	tb1 := tb[0]
	assert.Equal(t, int64(10000), tb1.Totals.NetFen)

	payable, settled := e.balances(t, c)
	assert.Equal(t, jd1.Totals.NetFen+tb1.Totals.NetFen, payable, "the statements owe exactly what is payable")
	assert.Zero(t, settled)

	// Day 2. A confirm of day 1 commits after day 1 was closed (its clock
	// reads 23:59 on day 1): it is late, and goes into the next statement.
	e.clock.Set(local(day1, 23, 50))
	late := e.reserve(t, "jd", e.claim(t, c, 9), 9, "m1")
	e.clock.Set(local(day1, 23, 59))
	e.confirm(t, late)

	// (a) a late refund of a stated redemption before its statement is paid.
	e.clock.Set(local(day2, 10, 0))
	e.refund(t, r1, "rf-1", 5000)  // clawback 1000, still payable
	e.refund(t, r7, "rf-7", 25000) // taobao: full refund, clawback 5000
	_, err := e.pay(t, jd1.ID, "bank-jd-1")
	require.NoError(t, err)
	_, err = e.pay(t, tb1.ID, "bank-tb-1")
	require.NoError(t, err)
	payable, settled = e.balances(t, c)
	assert.Equal(t, int64(18000+5000), settled, "paying moves each redemption's remaining payable share")
	assert.Equal(t, int64(5000), payable, "only the late confirm is still payable")

	// (b) a late refund after the statement was paid: the clawback comes out of settled.
	e.refund(t, r2, "rf-2", 5000)
	payable, settled = e.balances(t, c)
	assert.Equal(t, int64(5000), payable)
	assert.Equal(t, int64(22000), settled)
	// r4, settled after a partial clawback, is refunded in full: 4000 from settled.
	e.refund(t, r4, "rf-4b", 20000)
	payable, settled = e.balances(t, c)
	assert.Equal(t, int64(18000), settled)

	// A day-2 confirm on jd.
	e.redeem(t, c, "jd", 10, "m1")

	e.clock.Set(local("2027-03-07", 0, 5))
	assert.Equal(t, 2, e.close(t))
	jd = e.statements(t, "jd")
	require.Len(t, jd, 2)
	jd2 := jd[1]
	assert.Equal(t, day2, jd2.BusinessDate.Format(time.DateOnly))
	assert.Equal(t, settlement.Amounts{ConfirmedCount: 2, DiscountFen: 10000, PaidFen: 50000, AdjustmentCount: 3,
		RefundedFen: 30000, AdjustmentFen: 6000, NetFen: 4000}, jd2.Totals,
		"the late confirm and the day-2 confirm; three refunds of redemptions stated on day 1 are adjustments")
	tb = e.statements(t, "taobao")
	require.Len(t, tb, 2)
	tb2 := tb[1]
	assert.Equal(t, settlement.Amounts{AdjustmentCount: 1, RefundedFen: 25000, AdjustmentFen: 5000, NetFen: -5000}, tb2.Totals,
		"a statement may be negative: the platform owes the adjustment back")

	assert.Equal(t, e.movedThroughPayable(t, c), netOf(jd, tb),
		"the statements' nets add up to the ledger's payable movements")

	// Pay everything: nothing stays payable, settled is what the statements said.
	for _, st := range []settlement.Statement{jd2, tb2} {
		_, err := e.pay(t, st.ID, "bank-"+st.PlatformID+"-2")
		require.NoError(t, err)
	}
	payable, settled = e.balances(t, c)
	assert.Zero(t, payable, "after paying every statement nothing is payable")
	assert.Equal(t, netOf(jd, tb), settled)
	e.ledgerClean(t)

	// Statements are immutable once issued and paid once.
	_, err = e.pay(t, jd1.ID, "bank-jd-1-again")
	assert.True(t, apperr.Is(err, settlement.CodeStatementAlreadyPaid), "got %v", err)
	got, err := e.svc.Get(context.Background(), jd1.ID, "")
	require.NoError(t, err)
	assert.Equal(t, "bank-jd-1", got.PaymentReference)
	assert.Equal(t, jd1.Lines, got.Lines)
	_, err = e.db.Pool.Exec(context.Background(), `UPDATE settlement_lines SET net_fen = net_fen WHERE statement_id = $1`, jd1.ID)
	assert.Error(t, err, "lines cannot be changed")
	_, err = e.db.Pool.Exec(context.Background(), `UPDATE settlement_statements SET net_fen = 0, discount_fen = 0, clawback_fen = 0, adjustment_fen = 0 WHERE id = $1`, jd1.ID)
	assert.Error(t, err, "a statement's amounts cannot be changed")
	_, err = e.svc.Get(context.Background(), jd1.ID, "taobao")
	assert.True(t, apperr.Is(err, apperr.CodeNotFound), "another platform's statement is not found")

	// The audit log has every issue and payment.
	var events int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_events WHERE entity_type = 'settlement_statement'`).Scan(&events))
	assert.Equal(t, 4+4, events)
}

// TestCloseDaysConcurrently: the job run twice at once, and again, issues
// each statement once and states each item once.
func TestCloseDaysConcurrently(t *testing.T) {
	e := newEnv(t)
	c := e.consumptionCampaign(t, 20)
	for n := 1; n <= 6; n++ {
		p := "jd"
		if n%2 == 0 {
			p = "taobao"
		}
		e.redeem(t, c, p, n, "m1")
	}
	e.clock.Set(local("2027-03-06", 10, 0))
	for n := 7; n <= 10; n++ {
		e.redeem(t, c, "jd", n, "m2")
	}
	e.clock.Set(local("2027-03-08", 1, 0))

	var wg sync.WaitGroup
	counts := make([]int, 4)
	errs := make([]error, 4)
	for i := range counts {
		wg.Go(func() { counts[i], errs[i] = e.svc.CloseDays(context.Background()) })
	}
	wg.Wait()
	total := 0
	for i := range counts {
		require.NoError(t, errs[i])
		total += counts[i]
	}
	assert.Equal(t, 3, total, "jd 03-05, jd 03-06, taobao 03-05: each issued once")
	assert.Zero(t, e.close(t))

	var items, confirmed int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM settlement_items`).Scan(&items))
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM redemptions WHERE confirmed_at IS NOT NULL`).Scan(&confirmed))
	assert.Equal(t, confirmed, items)
	jd := e.statements(t, "jd")
	require.Len(t, jd, 2)
	assert.Equal(t, "2027-03-05", jd[0].BusinessDate.Format(time.DateOnly), "in date order")
	assert.Equal(t, int64(3), jd[0].Totals.ConfirmedCount)
	assert.Equal(t, int64(4), jd[1].Totals.ConfirmedCount)
}

// TestPayConcurrentlyOnce: two approvers paying the same statement at once:
// one pays, the other is STATEMENT_ALREADY_PAID, and settled moves once.
func TestPayConcurrentlyOnce(t *testing.T) {
	e := newEnv(t)
	c := e.consumptionCampaign(t, 4)
	e.redeem(t, c, "jd", 1, "m1")
	e.clock.Set(local("2027-03-06", 1, 0))
	require.Equal(t, 1, e.close(t))
	id := e.statements(t, "jd")[0].ID

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.pay(t, id, "ref") })
	}
	wg.Wait()
	paid := 0
	for _, err := range errs {
		if err == nil {
			paid++
		} else {
			assert.True(t, apperr.Is(err, settlement.CodeStatementAlreadyPaid), "got %v", err)
		}
	}
	assert.Equal(t, 1, paid)
	_, settled := e.balances(t, c)
	assert.Equal(t, int64(5000), settled)
	_, err := e.pay(t, uuid.New(), "ref")
	assert.True(t, apperr.Is(err, apperr.CodeNotFound))
	page, err := e.svc.List(context.Background(), clearing.Query{Status: settlement.StatusPaid}, "", 10)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, "bob", page.Items[0].PaidBy)
}
