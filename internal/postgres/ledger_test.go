package postgres_test

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

// ledgerCampaign inserts a minimal active campaign of kind ("consumption" or
// "trade_in") and creates its ledger.
func ledgerCampaign(t testing.TB, pool *pgxpool.Pool, kind string) uuid.UUID {
	t.Helper()
	id := uuid.Must(uuid.NewV7())
	_, err := pool.Exec(t.Context(), `
		INSERT INTO campaigns (id, kind, name, authority, currency, time_zone, starts_at, ends_at,
			budget_fen, hold_minutes, rules, status, version, created_by, created_at, updated_at)
		VALUES ($1, $2, 'ledger test', 'test bureau', 'CNY', 'Asia/Shanghai', now(), now() + interval '30 days',
			1000000, 15, '{}'::jsonb, 'active', 1, 'tester', now(), now())`, id, kind)
	require.NoError(t, err)
	require.NoError(t, postgres.InitLedger(t.Context(), pool, id))
	return id
}

// postLedger posts one transfer in a transaction of its own.
func postLedger(t testing.TB, pool *pgxpool.Pool, tr ledger.Transfer) (uuid.UUID, error) {
	t.Helper()
	var id uuid.UUID
	err := postgres.InTx(t.Context(), pool, func(tx pgx.Tx) error {
		var err error
		id, err = postgres.PostTransfer(t.Context(), tx, tr, time.Now())
		return err
	})
	return id, err
}

// spreadLedger posts tr spread over every bucket, in one transaction.
func spreadLedger(t testing.TB, pool *pgxpool.Pool, tr ledger.Transfer) {
	t.Helper()
	err := postgres.InTx(t.Context(), pool, func(tx pgx.Tx) error {
		for _, part := range tr.Spread(postgres.Buckets) {
			if _, err := postgres.PostTransfer(t.Context(), tx, part, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
}

func breakdownOf(t testing.TB, q postgres.Querier, campaign uuid.UUID) ledger.Breakdown {
	t.Helper()
	b, err := postgres.Breakdown(t.Context(), q, campaign)
	require.NoError(t, err)
	return b
}

func entriesOf(t testing.TB, q postgres.Querier, campaign uuid.UUID) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	require.NoError(t, postgres.LoadEntries(t.Context(), q, &campaign, func(e ledger.Entry) error {
		out = append(out, e)
		return nil
	}))
	return out
}

func transferEntries(t testing.TB, q postgres.Querier, campaign, transfer uuid.UUID) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	for _, e := range entriesOf(t, q, campaign) {
		if e.TransferID == transfer {
			out = append(out, e)
		}
	}
	return out
}

func bucketBalance(t testing.TB, q postgres.Querier, campaign uuid.UUID, account ledger.Account, bucket int) int64 {
	t.Helper()
	var fen int64
	require.NoError(t, q.QueryRow(t.Context(), `
		SELECT balance_fen FROM ledger_balances WHERE campaign_id = $1 AND account = $2 AND bucket = $3`,
		campaign, account, bucket).Scan(&fen))
	return fen
}

func checkLedgerClean(t testing.TB, q postgres.Querier, campaign *uuid.UUID) {
	t.Helper()
	faults, err := postgres.CheckLedger(t.Context(), q, campaign)
	require.NoError(t, err)
	assert.Empty(t, faults)
}

func TestLedgerEveryKindMovesAlongItsRoute(t *testing.T) {
	db := pgtest.New(t)
	c := ledgerCampaign(t, db.Pool, "consumption")
	spreadLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Funding, AmountFen: 160_000, Ref: "budget:initial"})
	assert.Equal(t, ledger.Breakdown{Funded: 160_000, Available: 160_000}, breakdownOf(t, db.Pool, c))

	// Every kind in turn, all in bucket 5, each from-account holding enough.
	steps := []struct {
		kind   ledger.Kind
		amount int64
	}{
		{ledger.Funding, 1000}, {ledger.Allocation, 5000}, {ledger.Claim, 4000}, {ledger.Hold, 3000},
		{ledger.Redemption, 2000}, {ledger.Settlement, 500}, {ledger.Redemption, 600}, {ledger.Refund, 300},
		{ledger.Hold, 200}, {ledger.Release, 100}, {ledger.Expiry, 150}, {ledger.Deallocation, 250},
		{ledger.SubsidyHold, 700}, {ledger.SubsidyRelease, 350}, {ledger.Clawback, 450}, {ledger.Defunding, 800},
		{ledger.SettledRefund, 100}, {ledger.SettledClawback, 150},
	}
	seen := map[ledger.Kind]bool{}
	for _, step := range steps {
		const key = 16*7 + 5
		kind, amount := step.kind, step.amount
		before := breakdownOf(t, db.Pool, c)
		id, err := postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: kind, AmountFen: amount, Ref: "test:" + string(kind), BucketKey: key})
		require.NoError(t, err, kind)
		seen[kind] = true

		from, to, _ := ledger.Route(kind)
		want := before
		require.NoError(t, want.Add(from, -amount))
		require.NoError(t, want.Add(to, amount))
		got := breakdownOf(t, db.Pool, c)
		assert.Equal(t, want, got, "%s moves %d fen from %s to %s", kind, amount, from, to)
		assert.NoError(t, got.Check(), kind)

		es := transferEntries(t, db.Pool, c, id)
		require.Len(t, es, 2, kind)
		bucket := func(a ledger.Account) int {
			if a == ledger.Treasury {
				return 0
			}
			return 5
		}
		assert.Equal(t, []ledger.Entry{
			{ID: es[0].ID, TransferID: id, CampaignID: c, Account: from, Bucket: bucket(from), AmountFen: -amount, Kind: kind, Ref: "test:" + string(kind), At: es[0].At},
			{ID: es[1].ID, TransferID: id, CampaignID: c, Account: to, Bucket: bucket(to), AmountFen: amount, Kind: kind, Ref: "test:" + string(kind), At: es[1].At},
		}, es, kind)
	}
	for _, k := range ledger.Kinds() {
		assert.True(t, seen[k], "kind %s not exercised", k)
	}
	checkLedgerClean(t, db.Pool, &c)
}

func TestLedgerExhaustionWritesNothing(t *testing.T) {
	db := pgtest.New(t)
	c := ledgerCampaign(t, db.Pool, "trade_in")
	spreadLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Funding, AmountFen: 16_000, Ref: "budget:initial"})
	entriesBefore := len(entriesOf(t, db.Pool, c))

	var ids []uuid.UUID
	err := postgres.InTx(t.Context(), db.Pool, func(tx pgx.Tx) error {
		// More than the whole budget: debited first, so it spills, then gives up.
		_, err := postgres.PostTransfer(t.Context(), tx, ledger.Transfer{CampaignID: c, Kind: ledger.SubsidyHold, AmountFen: 16_001, Ref: "redemption:big", BucketKey: 3}, time.Now())
		require.True(t, apperr.Is(err, ledger.CodeBudgetExhausted), "got %v", err)
		e, _ := apperr.As(err)
		assert.Equal(t, "campaign "+c.String()+" has 16000 fen available, the subsidy_hold needs 16001 fen", e.Message)
		assert.Equal(t, 409, e.Status())

		// Nothing is held: this release locks its credit row first (available
		// comes before held in lock order), then finds nothing to debit.
		_, err = postgres.PostTransfer(t.Context(), tx, ledger.Transfer{CampaignID: c, Kind: ledger.SubsidyRelease, AmountFen: 1, Ref: "redemption:none", BucketKey: 3}, time.Now())
		require.True(t, apperr.Is(err, ledger.CodeBudgetExhausted), "got %v", err)

		// The transaction is still usable.
		for _, amount := range []int64{1000, 15_000} {
			id, err := postgres.PostTransfer(t.Context(), tx, ledger.Transfer{CampaignID: c, Kind: ledger.SubsidyHold, AmountFen: amount, Ref: "redemption:ok", BucketKey: 3}, time.Now())
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, ledger.Breakdown{Funded: 16_000, Held: 16_000}, breakdownOf(t, db.Pool, c))
	assert.Len(t, entriesOf(t, db.Pool, c), entriesBefore+2+16, "one hold from its own bucket, one drawing on the other 15")

	_, err = postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.SubsidyHold, AmountFen: 1, Ref: "redemption:late", BucketKey: 9})
	assert.True(t, apperr.Is(err, ledger.CodeBudgetExhausted), "got %v", err)
	checkLedgerClean(t, db.Pool, &c)
}

func TestLedgerSpillsAcrossBuckets(t *testing.T) {
	db := pgtest.New(t)
	c := ledgerCampaign(t, db.Pool, "consumption")
	// Fund bucket 3 only, then allocate from a key of bucket 14.
	_, err := postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Funding, AmountFen: 5000, Ref: "budget:1", BucketKey: 3})
	require.NoError(t, err)
	_, err = postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Funding, AmountFen: 700, Ref: "budget:2", BucketKey: 0})
	require.NoError(t, err)

	id, err := postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Allocation, AmountFen: 5500, Ref: "round:1", BucketKey: 16*1000 + 14})
	require.NoError(t, err)

	// Buckets are tried from the chosen one on, wrapping around: 14, 15, 0, …, 3.
	es := transferEntries(t, db.Pool, c, id)
	require.Len(t, es, 3)
	assert.Equal(t, []int{0, 3, 14}, []int{es[0].Bucket, es[1].Bucket, es[2].Bucket})
	assert.Equal(t, []int64{-700, -4800, 5500}, []int64{es[0].AmountFen, es[1].AmountFen, es[2].AmountFen})
	assert.Equal(t, []ledger.Account{ledger.Available, ledger.Available, ledger.Allocated}, []ledger.Account{es[0].Account, es[1].Account, es[2].Account})
	assert.Equal(t, int64(200), bucketBalance(t, db.Pool, c, ledger.Available, 3))
	assert.Equal(t, int64(0), bucketBalance(t, db.Pool, c, ledger.Available, 0))
	assert.Equal(t, int64(5500), bucketBalance(t, db.Pool, c, ledger.Allocated, 14))
	checkLedgerClean(t, db.Pool, &c)
}

func TestLedgerRefusesBadInput(t *testing.T) {
	db := pgtest.New(t)
	c := ledgerCampaign(t, db.Pool, "consumption")
	require.NoError(t, postgres.InitLedger(t.Context(), db.Pool, c), "InitLedger is idempotent")
	var rows int
	require.NoError(t, db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM ledger_balances WHERE campaign_id = $1`, c).Scan(&rows))
	assert.Equal(t, len(ledger.Accounts())*postgres.Buckets, rows)

	err := postgres.InitLedger(t.Context(), db.Pool, uuid.Must(uuid.NewV7()))
	assert.True(t, apperr.Is(err, apperr.CodeNotFound), "got %v", err)

	_, err = postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Claim, AmountFen: 0, Ref: "voucher:1"})
	assert.True(t, apperr.Is(err, apperr.CodeValidationFailed), "got %v", err)

	_, err = postLedger(t, db.Pool, ledger.Transfer{CampaignID: uuid.Must(uuid.NewV7()), Kind: ledger.Funding, AmountFen: 1, Ref: "budget:1"})
	assert.ErrorContains(t, err, "call InitLedger")

	_, err = postgres.Breakdown(t.Context(), db.Pool, uuid.Must(uuid.NewV7()))
	assert.True(t, apperr.Is(err, apperr.CodeNotFound), "got %v", err)

	// The schema refuses an entry off its kind's route.
	_, err = db.Pool.Exec(t.Context(), `
		INSERT INTO ledger_entries (id, transfer_id, campaign_id, account, bucket, amount_fen, kind, ref, created_at)
		VALUES ($1, $2, $3, 'available', 0, 100, 'claim', 'voucher:1', now())`, uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), c)
	assert.True(t, postgres.IsCheckViolation(err, "ledger_entries_route"), "got %v", err)
}

func TestCheckLedgerFindsTampering(t *testing.T) {
	db := pgtest.New(t)
	c := ledgerCampaign(t, db.Pool, "consumption")
	other := ledgerCampaign(t, db.Pool, "trade_in")
	for _, id := range []uuid.UUID{c, other} {
		spreadLedger(t, db.Pool, ledger.Transfer{CampaignID: id, Kind: ledger.Funding, AmountFen: 32_000, Ref: "budget:initial"})
	}
	alloc, err := postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Allocation, AmountFen: 500, Ref: "round:1", BucketKey: 6})
	require.NoError(t, err)
	checkLedgerClean(t, db.Pool, nil)

	t.Run("altered balance", func(t *testing.T) {
		_, err := db.Pool.Exec(t.Context(), `
			UPDATE ledger_balances SET balance_fen = balance_fen + 100
			WHERE campaign_id = $1 AND account = 'available' AND bucket = 9`, c)
		require.NoError(t, err)
		faults, err := postgres.CheckLedger(t.Context(), db.Pool, nil)
		require.NoError(t, err)
		require.Len(t, faults, 2, "%v", faults)
		assert.Equal(t, c, faults[0].CampaignID)
		assert.Equal(t, ledger.Available, faults[0].Account)
		require.NotNil(t, faults[0].Bucket)
		assert.Equal(t, 9, *faults[0].Bucket)
		assert.Equal(t, "stored balance is 2100 fen, the entries give 2000 fen", faults[0].Message)
		assert.Contains(t, faults[1].Message, "stored balances: available+allocated+committed+held+payable+settled is 32100 fen, but 32000 fen were funded")

		_, err = db.Pool.Exec(t.Context(), `
			UPDATE ledger_balances SET balance_fen = balance_fen - 100
			WHERE campaign_id = $1 AND account = 'available' AND bucket = 9`, c)
		require.NoError(t, err)
		checkLedgerClean(t, db.Pool, &c)
	})

	t.Run("deleted entry", func(t *testing.T) {
		_, err := db.Pool.Exec(t.Context(), `
			DELETE FROM ledger_entries WHERE transfer_id = $1 AND amount_fen > 0`, alloc)
		require.NoError(t, err)
		faults, err := postgres.CheckLedger(t.Context(), db.Pool, &c)
		require.NoError(t, err)
		require.NotEmpty(t, faults)
		assert.Equal(t, alloc, faults[0].TransferID)
		assert.Equal(t, "the allocation's entries sum to -500 fen, not 0: an entry is missing, extra or altered", faults[0].Message)
		var named bool
		for _, f := range faults {
			named = named || (f.Account == ledger.Allocated && f.Bucket != nil && *f.Bucket == 6)
		}
		assert.True(t, named, "a fault names allocated bucket 6: %v", faults)

		checkLedgerClean(t, db.Pool, &other)
	})
}

// TestLedgerConcurrentTransfersKeepInvariants races 50 goroutines, each posting
// transfers in transactions of their own, over two consumption campaigns and a
// trade-in campaign whose subsidy holds run its budget dry. Every transfer that
// committed must show in the balances exactly once, none that failed at all.
func TestLedgerConcurrentTransfersKeepInvariants(t *testing.T) {
	db := pgtest.New(t)
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.MaxConns = 50
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	type campaign struct {
		id    uuid.UUID
		kinds []ledger.Kind // drawn at random; repeats weight them

		mu        sync.Mutex
		moved     map[ledger.Kind]int64 // committed fen by kind
		exhausted int
	}
	consumption := []ledger.Kind{
		ledger.Allocation, ledger.Claim, ledger.Claim, ledger.Claim, ledger.Hold, ledger.Hold, ledger.Release,
		ledger.Redemption, ledger.Redemption, ledger.Refund, ledger.Clawback, ledger.Settlement, ledger.Expiry,
		ledger.Deallocation, ledger.Defunding, ledger.Funding,
	}
	tradeIn := []ledger.Kind{
		ledger.SubsidyHold, ledger.SubsidyHold, ledger.SubsidyHold, ledger.SubsidyHold, ledger.SubsidyRelease,
		ledger.Redemption, ledger.Settlement, ledger.Clawback, ledger.Funding,
	}
	campaigns := []*campaign{
		{id: ledgerCampaign(t, pool, "consumption"), kinds: consumption},
		{id: ledgerCampaign(t, pool, "consumption"), kinds: consumption},
		{id: ledgerCampaign(t, pool, "trade_in"), kinds: tradeIn},
	}
	trade := campaigns[2]
	for _, c := range campaigns {
		c.moved = map[ledger.Kind]int64{ledger.Funding: 200_000}
		spreadLedger(t, pool, ledger.Transfer{CampaignID: c.id, Kind: ledger.Funding, AmountFen: 200_000, Ref: "budget:initial"})
	}

	// An observer reads breakdowns throughout: the identity holds at every
	// moment, and the trade-in subsidy held never exceeds what was funded.
	done := make(chan struct{})
	var observed atomic.Int64
	var observer sync.WaitGroup
	observer.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			for _, c := range campaigns {
				b, err := postgres.Breakdown(t.Context(), pool, c.id)
				if !assert.NoError(t, err) || !assert.NoError(t, b.Check()) || !assert.LessOrEqual(t, b.Held, b.Funded) {
					return
				}
			}
			observed.Add(1)
			time.Sleep(time.Millisecond)
		}
	})

	const workers, opsPerWorker = 50, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for range opsPerWorker {
				c := campaigns[rng.IntN(len(campaigns))]
				if rng.IntN(5) < 2 {
					c = trade // the trade-in race gets the most traffic
				}
				// Mostly single transfers; sometimes a checkout (hold then
				// redemption) in one transaction, as the redemption path will.
				kinds := []ledger.Kind{c.kinds[rng.IntN(len(c.kinds))]}
				if c != trade && rng.IntN(8) == 0 {
					kinds = []ledger.Kind{ledger.Hold, ledger.Redemption}
				}
				amount, key := 100+rng.Int64N(4900), rng.Uint64()
				err := postgres.InTx(t.Context(), pool, func(tx pgx.Tx) error {
					for _, k := range kinds {
						tr := ledger.Transfer{CampaignID: c.id, Kind: k, AmountFen: amount, Ref: "race:" + string(k), BucketKey: key}
						if _, err := postgres.PostTransfer(t.Context(), tx, tr, time.Now()); err != nil {
							return err
						}
					}
					return nil
				})
				c.mu.Lock()
				switch {
				case err == nil:
					for _, k := range kinds {
						c.moved[k] += amount
					}
				case apperr.Is(err, ledger.CodeBudgetExhausted):
					c.exhausted++
				default:
					t.Errorf("%v on campaign %s: %v", kinds, c.id, err)
				}
				c.mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(done)
	observer.Wait()
	assert.Positive(t, observed.Load(), "the observer saw the race")

	for _, c := range campaigns {
		var want ledger.Breakdown
		for k, fen := range c.moved {
			from, to, _ := ledger.Route(k)
			require.NoError(t, want.Add(from, -fen))
			require.NoError(t, want.Add(to, fen))
		}
		got := breakdownOf(t, pool, c.id)
		assert.Equal(t, want, got, "campaign %s: committed transfers booked exactly once", c.id)
		assert.NoError(t, got.Check())
		t.Logf("campaign %s: %+v, %d transfers refused for lack of value", c.id, got, c.exhausted)
	}
	assert.Positive(t, trade.exhausted, "the trade-in budget ran dry")
	// Trade-in value leaves the budget by subsidy holds and comes back by
	// releases and clawbacks; what is out never exceeds what was funded.
	out := trade.moved[ledger.SubsidyHold] - trade.moved[ledger.SubsidyRelease] - trade.moved[ledger.Clawback]
	funded := trade.moved[ledger.Funding] - trade.moved[ledger.Defunding]
	assert.LessOrEqual(t, out, funded, "subsidy drawn never exceeds what was funded")
	b := breakdownOf(t, pool, trade.id)
	assert.Equal(t, out, b.Held+b.Payable+b.Settled)

	var negative int
	require.NoError(t, pool.QueryRow(t.Context(), `
		SELECT count(*) FROM ledger_balances WHERE account <> 'treasury' AND balance_fen < 0`).Scan(&negative))
	assert.Zero(t, negative)
	checkLedgerClean(t, pool, nil)
}

// BenchmarkPostTransferParallel measures claims on one campaign, each in a
// transaction of its own, spread over the buckets by random keys.
//
//	go test -run '^$' -bench PostTransferParallel -benchtime 20000x ./internal/postgres/
func BenchmarkPostTransferParallel(b *testing.B) {
	db := pgtest.New(b)
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(b, err)
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(b.Context(), cfg)
	require.NoError(b, err)
	b.Cleanup(pool.Close)

	c := ledgerCampaign(b, pool, "consumption")
	const stock = 1 << 50
	spreadLedger(b, pool, ledger.Transfer{CampaignID: c, Kind: ledger.Funding, AmountFen: stock, Ref: "budget:initial"})
	spreadLedger(b, pool, ledger.Transfer{CampaignID: c, Kind: ledger.Allocation, AmountFen: stock, Ref: "round:1"})

	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		for pb.Next() {
			err := postgres.InTx(b.Context(), pool, func(tx pgx.Tx) error {
				_, err := postgres.PostTransfer(b.Context(), tx,
					ledger.Transfer{CampaignID: c, Kind: ledger.Claim, AmountFen: 5000, Ref: "voucher:bench", BucketKey: rng.Uint64()}, time.Now())
				return err
			})
			if err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "claims/s")
	b.StopTimer()
	checkLedgerClean(b, pool, &c)
}
