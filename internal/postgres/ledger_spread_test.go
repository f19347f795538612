package postgres_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

// committedCampaign creates a consumption campaign and moves fen, spread
// evenly over every bucket, through funding, allocation and claim into
// committed.
func committedCampaign(t testing.TB, pool *pgxpool.Pool, fen int64) uuid.UUID {
	t.Helper()
	c := ledgerCampaign(t, pool, "consumption")
	for _, k := range []ledger.Kind{ledger.Funding, ledger.Allocation, ledger.Claim} {
		spreadLedger(t, pool, ledger.Transfer{CampaignID: c, Kind: k, AmountFen: fen, Ref: "setup:" + string(k)})
	}
	return c
}

// holdInto moves fen from committed into held bucket b, in a transaction of
// its own.
func holdInto(t testing.TB, pool *pgxpool.Pool, c uuid.UUID, b int16, fen int64) {
	t.Helper()
	_, err := postLedger(t, pool, ledger.Transfer{
		CampaignID: c, Kind: ledger.Hold, AmountFen: fen, Ref: fmt.Sprintf("setup:hold:%d", b), BucketKey: uint64(b)})
	require.NoError(t, err)
}

// bucketMap is every balance row of a campaign, by account and bucket.
type bucketMap map[ledger.Account][postgres.Buckets]int64

func bucketsOf(t testing.TB, q postgres.Querier, c uuid.UUID) bucketMap {
	t.Helper()
	rows, err := postgres.LoadBalances(t.Context(), q, &c)
	require.NoError(t, err)
	require.Len(t, rows, len(ledger.Accounts())*postgres.Buckets)
	m := bucketMap{}
	for _, r := range rows {
		a := m[r.Account]
		a[r.Bucket] = r.BalanceFen
		m[r.Account] = a
	}
	return m
}

// moved returns m with each part's Fen moved from one account to the other
// within the part's bucket.
func (m bucketMap) moved(from, to ledger.Account, parts []postgres.BucketAmount) bucketMap {
	out := bucketMap{}
	for a, bs := range m {
		out[a] = bs
	}
	f, tt := out[from], out[to]
	for _, p := range parts {
		f[p.Bucket] -= p.Fen
		tt[p.Bucket] += p.Fen
	}
	out[from], out[to] = f, tt
	return out
}

// spreadIn posts one spread transfer in a transaction of its own.
func spreadIn(t testing.TB, pool *pgxpool.Pool, tr ledger.Transfer, parts []postgres.BucketAmount) error {
	t.Helper()
	return postgres.InTx(t.Context(), pool, func(tx pgx.Tx) error {
		return postgres.PostSpreadTransfer(t.Context(), tx, tr, parts, time.Now())
	})
}

func sumParts(parts []postgres.BucketAmount) int64 {
	var sum int64
	for _, p := range parts {
		sum += p.Fen
	}
	return sum
}

// refTransfers groups a campaign's entries of ref by transfer, transfers in
// the order they were posted (entry ids are UUIDv7).
func refTransfers(t testing.TB, q postgres.Querier, c uuid.UUID, ref string) [][]ledger.Entry {
	t.Helper()
	return groupByTransfer(entriesOf(t, q, c))[ref]
}

func groupByTransfer(es []ledger.Entry) map[string][][]ledger.Entry {
	out := map[string][][]ledger.Entry{}
	index := map[uuid.UUID]int{}
	for _, e := range es {
		i, ok := index[e.TransferID]
		if !ok {
			i = len(out[e.Ref])
			index[e.TransferID] = i
			out[e.Ref] = append(out[e.Ref], nil)
		}
		out[e.Ref][i] = append(out[e.Ref][i], e)
	}
	return out
}

// leg is the part of an entry a test predicts.
type leg struct {
	Account ledger.Account
	Bucket  int
	Fen     int64
}

func legsOf(es []ledger.Entry) []leg {
	var out []leg
	for _, e := range es {
		out = append(out, leg{e.Account, e.Bucket, e.AmountFen})
	}
	return out
}

// sameLegs reports whether a and b hold the same legs, in any order.
func sameLegs(a, b []leg) bool {
	count := map[leg]int{}
	for _, l := range a {
		count[l]++
	}
	for _, l := range b {
		count[l]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

// netLegs sums the entries of transfers by account and bucket (Fen is zero
// in the keys).
func netLegs(transfers [][]ledger.Entry) map[leg]int64 {
	out := map[leg]int64{}
	for _, tr := range transfers {
		for _, e := range tr {
			out[leg{e.Account, e.Bucket, 0}] += e.AmountFen
		}
	}
	return out
}

// spreadLegs is what a spread transfer booked in one statement writes.
func spreadLegs(from, to ledger.Account, parts []postgres.BucketAmount) []leg {
	var out []leg
	for _, p := range parts {
		out = append(out, leg{from, int(p.Bucket), -p.Fen}, leg{to, int(p.Bucket), p.Fen})
	}
	return out
}

// TestSpreadTransferMovesEachBucket posts spread transfers whose every bucket
// holds enough: each is one transfer, two entries per bucket, and moves each
// part within its own bucket and nothing else.
func TestSpreadTransferMovesEachBucket(t *testing.T) {
	db := pgtest.New(t)
	c := committedCampaign(t, db.Pool, 160_000) // 10 000 in each committed bucket
	for b, fen := range map[int16]int64{2: 3000, 7: 5000, 11: 4000, 13: 1000} {
		holdInto(t, db.Pool, c, b, fen)
	}

	for _, tc := range []struct {
		name     string
		kind     ledger.Kind
		from, to ledger.Account
		parts    []postgres.BucketAmount
	}{
		// Not in bucket order, and bucket 7 emptied exactly.
		{"redemption", ledger.Redemption, ledger.Held, ledger.Payable,
			[]postgres.BucketAmount{{11, 300}, {2, 1200}, {7, 5000}}},
		// The credited account ranks first in lock order.
		{"release", ledger.Release, ledger.Held, ledger.Committed,
			[]postgres.BucketAmount{{13, 1000}, {2, 1800}}},
		{"one bucket", ledger.Redemption, ledger.Held, ledger.Payable,
			[]postgres.BucketAmount{{11, 3700}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := bucketsOf(t, db.Pool, c)
			beforeTotals := breakdownOf(t, db.Pool, c)
			ref := "spread:" + tc.name
			total := sumParts(tc.parts)
			require.NoError(t, spreadIn(t, db.Pool, ledger.Transfer{
				CampaignID: c, Kind: tc.kind, AmountFen: total, Ref: ref, BucketKey: 9}, tc.parts))

			assert.Equal(t, before.moved(tc.from, tc.to, tc.parts), bucketsOf(t, db.Pool, c),
				"each part moved within its bucket, every other row unchanged")
			want := beforeTotals
			require.NoError(t, want.Add(tc.from, -total))
			require.NoError(t, want.Add(tc.to, total))
			assert.Equal(t, want, breakdownOf(t, db.Pool, c))

			transfers := refTransfers(t, db.Pool, c, ref)
			require.Len(t, transfers, 1, "one transfer")
			es := transfers[0]
			require.Len(t, es, 2*len(tc.parts))
			var sum int64
			for _, e := range es {
				sum += e.AmountFen
				assert.Equal(t, c, e.CampaignID)
				assert.Equal(t, tc.kind, e.Kind)
			}
			assert.ElementsMatch(t, spreadLegs(tc.from, tc.to, tc.parts), legsOf(es))
			assert.Zero(t, sum)
			checkLedgerClean(t, db.Pool, &c)
		})
	}
	assert.Equal(t, [postgres.Buckets]int64{}, bucketsOf(t, db.Pool, c)[ledger.Held], "every hold was moved on")
}

// TestSpreadTransferShortBucketFallsBack posts spread transfers a bucket of
// which is short: each part becomes a transfer of its own that spills, or, when
// the account as a whole is short, the transaction fails with
// BUDGET_EXHAUSTED and rolls back.
func TestSpreadTransferShortBucketFallsBack(t *testing.T) {
	db := pgtest.New(t)
	c := committedCampaign(t, db.Pool, 160_000)
	for b, fen := range map[int16]int64{2: 3000, 7: 5000, 11: 4000, 13: 1000} {
		holdInto(t, db.Pool, c, b, fen)
	}
	before := bucketsOf(t, db.Pool, c)
	entriesBefore := len(entriesOf(t, db.Pool, c))

	// Bucket 2 is 1000 short: its part spills into 7, which leaves 7 short of
	// its own part, which spills into 11 (8, 9 and 10 are empty).
	parts := []postgres.BucketAmount{{2, 4000}, {7, 4500}}
	require.NoError(t, spreadIn(t, db.Pool, ledger.Transfer{
		CampaignID: c, Kind: ledger.Redemption, AmountFen: 8500, Ref: "spread:short"}, parts))

	want := before
	held, payable := want[ledger.Held], want[ledger.Payable]
	held[2], held[7], held[11] = 0, 0, 3500
	payable[2], payable[7] = 4000, 4500
	want[ledger.Held], want[ledger.Payable] = held, payable
	assert.Equal(t, want, bucketsOf(t, db.Pool, c))
	assert.Equal(t, ledger.Breakdown{Funded: 160_000, Committed: 147_000, Held: 4500, Payable: 8500}, breakdownOf(t, db.Pool, c))

	// Booked as one transfer per part or as one transfer that spills: either
	// way each part is credited to its own bucket and the held buckets are
	// debited as above.
	transfers := refTransfers(t, db.Pool, c, "spread:short")
	assert.Contains(t, []int{1, len(parts)}, len(transfers))
	assert.Equal(t, map[leg]int64{
		{ledger.Held, 2, 0}: -3000, {ledger.Held, 7, 0}: -5000, {ledger.Held, 11, 0}: -500,
		{ledger.Payable, 2, 0}: 4000, {ledger.Payable, 7, 0}: 4500,
	}, netLegs(transfers))
	var written int
	for _, tr := range transfers {
		written += len(tr)
	}
	assert.Len(t, entriesOf(t, db.Pool, c), entriesBefore+written, "no other entries")
	checkLedgerClean(t, db.Pool, &c)

	// 4500 is held: 3500 in bucket 11, 1000 in bucket 13.
	for _, parts := range [][]postgres.BucketAmount{
		{{13, 4501}},             // the first part is more than the whole account
		{{11, 3500}, {13, 1001}}, // the first part fits its bucket, the second then finds too little
		{{0, 1}, {13, 4500}},     // an empty bucket first
	} {
		t.Run(fmt.Sprint(parts), func(t *testing.T) {
			before := bucketsOf(t, db.Pool, c)
			entriesBefore := len(entriesOf(t, db.Pool, c))
			err := spreadIn(t, db.Pool, ledger.Transfer{
				CampaignID: c, Kind: ledger.Redemption, AmountFen: sumParts(parts), Ref: "spread:exhausted"}, parts)
			require.True(t, apperr.Is(err, ledger.CodeBudgetExhausted), "got %v", err)
			e, _ := apperr.As(err)
			assert.Equal(t, 409, e.Status())

			assert.Equal(t, before, bucketsOf(t, db.Pool, c), "rolled back")
			assert.Len(t, entriesOf(t, db.Pool, c), entriesBefore)
			assert.Empty(t, refTransfers(t, db.Pool, c, "spread:exhausted"))
			checkLedgerClean(t, db.Pool, &c)
		})
	}

	// What is left still moves, in one transfer.
	require.NoError(t, spreadIn(t, db.Pool, ledger.Transfer{
		CampaignID: c, Kind: ledger.Redemption, AmountFen: 4500, Ref: "spread:rest"},
		[]postgres.BucketAmount{{13, 1000}, {11, 3500}}))
	assert.Len(t, refTransfers(t, db.Pool, c, "spread:rest"), 1)
	assert.Equal(t, ledger.Breakdown{Funded: 160_000, Committed: 147_000, Payable: 13_000}, breakdownOf(t, db.Pool, c))
	checkLedgerClean(t, db.Pool, &c)
}

// TestSpreadTransferRejectsBadParts commits the transaction after each
// refused spread transfer: the refusal wrote nothing.
func TestSpreadTransferRejectsBadParts(t *testing.T) {
	db := pgtest.New(t)
	c := committedCampaign(t, db.Pool, 160_000)
	for b := range int16(postgres.Buckets) {
		holdInto(t, db.Pool, c, b, 1000)
	}
	before := bucketsOf(t, db.Pool, c)
	entriesBefore := len(entriesOf(t, db.Pool, c))
	redemption := func(fen int64) ledger.Transfer {
		return ledger.Transfer{CampaignID: c, Kind: ledger.Redemption, AmountFen: fen, Ref: "spread:bad"}
	}

	for _, tc := range []struct {
		name  string
		t     ledger.Transfer
		parts []postgres.BucketAmount
		want  string // in the error
	}{
		{"duplicate bucket", redemption(200), []postgres.BucketAmount{{3, 100}, {3, 100}}, "bad part"},
		{"duplicate bucket apart", redemption(300), []postgres.BucketAmount{{3, 100}, {4, 100}, {3, 100}}, "bad part"},
		{"bucket too high", redemption(100), []postgres.BucketAmount{{postgres.Buckets, 100}}, "bad part"},
		{"negative bucket", redemption(100), []postgres.BucketAmount{{-1, 100}}, "bad part"},
		{"zero part", redemption(100), []postgres.BucketAmount{{1, 100}, {2, 0}}, "bad part"},
		{"negative part", redemption(100), []postgres.BucketAmount{{1, 105}, {2, -5}}, "bad part"},
		{"sum too small", redemption(250), []postgres.BucketAmount{{1, 100}, {2, 100}}, "parts sum to 200, not 250"},
		{"sum too large", redemption(150), []postgres.BucketAmount{{1, 100}, {2, 100}}, "parts sum to 200, not 150"},
		{"no parts", redemption(100), nil, "parts sum to 0, not 100"},
		{"funding", ledger.Transfer{CampaignID: c, Kind: ledger.Funding, AmountFen: 100, Ref: "spread:bad"},
			[]postgres.BucketAmount{{1, 100}}, "the treasury is never spread"},
		{"defunding", ledger.Transfer{CampaignID: c, Kind: ledger.Defunding, AmountFen: 100, Ref: "spread:bad"},
			[]postgres.BucketAmount{{1, 100}}, "the treasury is never spread"},
		{"unknown kind", ledger.Transfer{CampaignID: c, Kind: "gift", AmountFen: 100, Ref: "spread:bad"},
			[]postgres.BucketAmount{{1, 100}}, "not a ledger transfer kind"},
		{"no ref", ledger.Transfer{CampaignID: c, Kind: ledger.Redemption, AmountFen: 100},
			[]postgres.BucketAmount{{1, 100}}, "ref"},
		{"campaign without ledger", ledger.Transfer{CampaignID: uuid.Must(uuid.NewV7()), Kind: ledger.Redemption, AmountFen: 100, Ref: "spread:bad"},
			[]postgres.BucketAmount{{1, 100}}, "call InitLedger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var spreadErr error
			require.NoError(t, postgres.InTx(t.Context(), db.Pool, func(tx pgx.Tx) error {
				spreadErr = postgres.PostSpreadTransfer(t.Context(), tx, tc.t, tc.parts, time.Now())
				return nil // commit whatever it wrote
			}))
			require.Error(t, spreadErr)
			assert.ErrorContains(t, spreadErr, tc.want)
			assert.False(t, apperr.Is(spreadErr, ledger.CodeBudgetExhausted), "got %v", spreadErr)
			assert.Equal(t, before, bucketsOf(t, db.Pool, c))
			assert.Len(t, entriesOf(t, db.Pool, c), entriesBefore)
		})
	}
	assert.True(t, apperr.Is(postgres.PostSpreadTransfer(t.Context(), nil,
		ledger.Transfer{CampaignID: c, Kind: ledger.Redemption, AmountFen: 0, Ref: "spread:bad"},
		[]postgres.BucketAmount{{1, 100}}, time.Now()), apperr.CodeValidationFailed),
		"the transfer itself is validated, before the database is asked")
	checkLedgerClean(t, db.Pool, &c)
}

// TestSpreadTransfersConcurrent races single holds and releases against
// spread redemptions, some of them short in a bucket so they spill (as one
// transfer or one per part), some short of the whole account. Every committed
// transfer shows exactly once, every refused one not at all.
func TestSpreadTransfersConcurrent(t *testing.T) {
	db := pgtest.New(t)
	cfg, err := pgxpool.ParseConfig(db.URL)
	require.NoError(t, err)
	cfg.MaxConns = 16
	cfg.AfterConnect = postgres.AfterConnect
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	// 2 000 000 in each committed bucket; 1 500 000 of it moved on into each
	// even held bucket. Odd held buckets get only what single holds put there
	// (at most 500 fen each), so a part of bigPart fen there is always short.
	const funded = 32_000_000
	c := committedCampaign(t, pool, funded)
	for b := int16(0); b < postgres.Buckets; b += 2 {
		holdInto(t, pool, c, b, 1_500_000)
	}
	const bigPart = 20_000

	type spread struct {
		parts []postgres.BucketAmount
		short bool // a part is more than its bucket can hold
	}
	var (
		mu        sync.Mutex
		moved     = map[ledger.Kind]int64{ledger.Funding: funded, ledger.Allocation: funded, ledger.Claim: funded, ledger.Hold: 8 * 1_500_000}
		spreads   = map[string]spread{} // committed, by ref
		refused   []string              // refs of spreads refused for lack of value
		gaveUp    int                   // transactions InTx stopped retrying
		lostRaces = map[string]int{}    // retried attempts by operation and SQLSTATE
	)

	const workers, iterations = 16, 120
	var wg sync.WaitGroup
	var ops atomic.Int64
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range iterations {
				ref := fmt.Sprintf("race:%d:%d", w, i)
				var (
					op       string
					single   *ledger.Transfer
					parts    []postgres.BucketAmount
					short    bool
					tooLarge bool
				)
				switch r := rng.IntN(20); {
				case r < 6:
					op = "hold"
					single = &ledger.Transfer{CampaignID: c, Kind: ledger.Hold, AmountFen: 1 + rng.Int64N(500), Ref: ref, BucketKey: rng.Uint64()}
				case r < 10:
					op = "release"
					single = &ledger.Transfer{CampaignID: c, Kind: ledger.Release, AmountFen: 1 + rng.Int64N(500), Ref: ref, BucketKey: rng.Uint64()}
				default:
					op = "spread"
					var first []postgres.BucketAmount
					switch {
					case r >= 19: // more than the whole account holds
						op, tooLarge = "spread exhausted", true
						first = []postgres.BucketAmount{{Bucket: int16(rng.IntN(postgres.Buckets)), Fen: 1 << 40}}
					case r >= 17: // more than an odd bucket can hold
						op, short = "spread short", true
						first = []postgres.BucketAmount{{Bucket: int16(2*rng.IntN(postgres.Buckets/2) + 1), Fen: bigPart}}
					}
					parts = first
					n := 1 + rng.IntN(5)
					for _, b := range rng.Perm(postgres.Buckets) {
						if len(parts) == n {
							break
						}
						if len(first) == 0 || int16(b) != first[0].Bucket {
							parts = append(parts, postgres.BucketAmount{Bucket: int16(b), Fen: 1 + rng.Int64N(200)})
						}
					}
					rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
				}
				err := postgres.InTx(t.Context(), pool, func(tx pgx.Tx) error {
					var err error
					if single != nil {
						_, err = postgres.PostTransfer(t.Context(), tx, *single, time.Now())
					} else {
						err = postgres.PostSpreadTransfer(t.Context(), tx,
							ledger.Transfer{CampaignID: c, Kind: ledger.Redemption, AmountFen: sumParts(parts), Ref: ref}, parts, time.Now())
					}
					if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && postgres.Retryable(err) {
						mu.Lock()
						lostRaces[op+" "+pgErr.Code]++
						mu.Unlock()
					}
					return err
				})
				ops.Add(1)
				mu.Lock()
				switch {
				case err == nil && tooLarge:
					t.Errorf("%s: spread of %v committed", ref, parts)
				case err == nil && single != nil:
					moved[single.Kind] += single.AmountFen
				case err == nil:
					moved[ledger.Redemption] += sumParts(parts)
					spreads[ref] = spread{parts, short}
				case tooLarge && apperr.Is(err, ledger.CodeBudgetExhausted):
					refused = append(refused, ref)
				case apperr.Is(err, apperr.CodeUnavailable) && postgres.Retryable(err):
					gaveUp++ // lost every race: not booked
				default:
					t.Errorf("%s %s: %v", op, ref, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(workers*iterations), ops.Load())
	t.Logf("%d spreads committed, %d refused, %d transactions gave up; retried attempts: %v", len(spreads), len(refused), gaveUp, lostRaces)

	// The totals: every committed transfer moved its amount exactly once.
	var want ledger.Breakdown
	for k, fen := range moved {
		from, to, _ := ledger.Route(k)
		require.NoError(t, want.Add(from, -fen))
		require.NoError(t, want.Add(to, fen))
	}
	got := breakdownOf(t, pool, c)
	assert.Equal(t, want, got)
	assert.NoError(t, got.Check(), "value is conserved")
	assert.Equal(t, int64(funded), got.Available+got.Allocated+got.Committed+got.Held+got.Payable+got.Settled)

	var negative int
	require.NoError(t, pool.QueryRow(t.Context(), `
		SELECT count(*) FROM ledger_balances WHERE account <> 'treasury' AND balance_fen < 0`).Scan(&negative))
	assert.Zero(t, negative)
	checkLedgerClean(t, pool, &c)

	// Each committed spread credited each part to its own bucket, as one
	// transfer or, having fallen back, as one transfer per part; refused ones
	// left nothing.
	byRef := groupByTransfer(entriesOf(t, pool, c))
	var fast, fellBack, short int
	for ref, s := range spreads {
		transfers := byRef[ref]
		credited := map[int16]int64{}
		var debited int64
		for _, tr := range transfers {
			for _, e := range tr {
				switch e.Account {
				case ledger.Payable:
					credited[int16(e.Bucket)] += e.AmountFen
				case ledger.Held:
					debited += e.AmountFen
				default:
					t.Errorf("%s: entry on %s", ref, e.Account)
				}
			}
		}
		wantCredited := map[int16]int64{}
		for _, p := range s.parts {
			wantCredited[p.Bucket] = p.Fen
		}
		assert.Equal(t, wantCredited, credited, ref)
		assert.Equal(t, -sumParts(s.parts), debited, ref)
		switch {
		case len(transfers) == 1 && sameLegs(spreadLegs(ledger.Held, ledger.Payable, s.parts), legsOf(transfers[0])):
			fast++
			assert.False(t, s.short, "%s: a short spread debited each part from its own bucket", ref)
		case len(transfers) == 1 || len(transfers) == len(s.parts):
			fellBack++ // spilled, as one transfer or one per part
		default:
			t.Errorf("%s: %d parts booked as %d transfers", ref, len(s.parts), len(transfers))
		}
		if s.short {
			short++
		}
	}
	for _, ref := range refused {
		assert.Empty(t, byRef[ref], ref)
	}
	t.Logf("%d spreads in one transfer, %d fell back (%d of them short by design)", fast, fellBack, short)
	assert.Positive(t, fast)
	assert.Positive(t, short)
	assert.Positive(t, len(refused))
}

// waitBlocked waits until some session waits on a lock held by the session
// with process id pid.
func waitBlocked(t testing.TB, pool *pgxpool.Pool, pid int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		require.NoError(t, pool.QueryRow(t.Context(),
			`SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, pid).Scan(&n))
		if n > 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "nothing waits on session %d", pid)
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSpreadTransferBucketChangesWhileWaiting holds a lock on one of a spread
// transfer's buckets while another transfer changes a second bucket of it,
// between the spread's snapshot and its locking that bucket: the spread must
// act on the bucket's value once locked, not on its snapshot.
func TestSpreadTransferBucketChangesWhileWaiting(t *testing.T) {
	for _, tc := range []struct {
		name    string
		held1   int64           // in held bucket 1 when the spread starts
		meddle  ledger.Transfer // commits while the spread waits on bucket 0
		held    [2]int64        // held buckets 0 and 1 at the end
		payable [2]int64
	}{
		// Short in the snapshot, enough once locked. A spread that checks the
		// locked value but lets its UPDATE compute from the snapshot row fails
		// the non-negative check (PostgreSQL checks constraints before it
		// notices the concurrent update).
		{"bucket filled", 0, ledger.Transfer{Kind: ledger.Hold, AmountFen: 352, BucketKey: 1},
			[2]int64{990, 317}, [2]int64{10, 35}},
		// Enough in the snapshot, short once locked: the spread spills (or is
		// retried and then spills), taking the shortfall from bucket 0.
		{"bucket drained", 100, ledger.Transfer{Kind: ledger.Redemption, AmountFen: 70, BucketKey: 1},
			[2]int64{985, 0}, [2]int64{10, 35 + 70}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := pgtest.New(t)
			c := committedCampaign(t, db.Pool, 160_000)
			holdInto(t, db.Pool, c, 0, 1000)
			if tc.held1 > 0 {
				holdInto(t, db.Pool, c, 1, tc.held1)
			}
			ctx := t.Context()

			// Another session locks held bucket 0, which the spread locks first.
			blocker, err := db.Pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = blocker.Rollback(ctx) }()
			var pid int32
			require.NoError(t, blocker.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
			_, err = blocker.Exec(ctx, `
				SELECT FROM ledger_balances WHERE campaign_id = $1 AND account = 'held' AND bucket = 0
				FOR NO KEY UPDATE`, c)
			require.NoError(t, err)

			done := make(chan error, 1)
			go func() {
				done <- spreadIn(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Redemption, AmountFen: 45, Ref: "spread:waiting"},
					[]postgres.BucketAmount{{0, 10}, {1, 35}})
			}()
			waitBlocked(t, db.Pool, pid)
			meddle := tc.meddle
			meddle.CampaignID, meddle.Ref = c, "meddle"
			_, err = postLedger(t, db.Pool, meddle) // bucket 1 is not locked yet
			require.NoError(t, err)
			require.NoError(t, blocker.Commit(ctx))

			require.NoError(t, <-done)
			got := bucketsOf(t, db.Pool, c)
			assert.Equal(t, tc.held, [2]int64{got[ledger.Held][0], got[ledger.Held][1]}, "held")
			assert.Equal(t, tc.payable, [2]int64{got[ledger.Payable][0], got[ledger.Payable][1]}, "payable")
			assert.Equal(t, map[leg]int64{
				{ledger.Held, 0, 0}: tc.held[0] - 1000, {ledger.Held, 1, 0}: -(45 - (1000 - tc.held[0])),
				{ledger.Payable, 0, 0}: 10, {ledger.Payable, 1, 0}: 35,
			}, netLegs(refTransfers(t, db.Pool, c, "spread:waiting")))
			checkLedgerClean(t, db.Pool, &c)
		})
	}
}
