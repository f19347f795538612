package issuance_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/voucher"
)

func render(v voucher.Voucher) (idempotency.Response, error) {
	b, err := json.Marshal(map[string]any{"id": v.ID, "code": v.Code})
	return idempotency.Response{Status: 201, Body: b}, err
}

func claimReq(c campaign.Campaign, platform string, holderN int, key string) issuance.ClaimRequest {
	return issuance.ClaimRequest{
		CampaignID: c.ID, PlatformID: platform, TierID: "200-50",
		Holder: issuance.HolderInput{IDNumber: idNumber(holderN), ResidenceRegion: "310104", RealNameVerified: true},
		Idem:   idempotency.Key{PlatformID: platform, Key: key, RequestHash: idempotency.HashRequest("POST", "/claims", []byte(key))},
	}
}

func (e *env) count(t *testing.T, sql string, args ...any) int64 {
	var n int64
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestClaimAnswers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.live(t, consumption(2, 100))

	resp, err := e.svc.Claim(ctx, claimReq(c, "jd", 1, "k1"), render)
	require.NoError(t, err)
	assert.Equal(t, 201, resp.Status)

	_, err = e.svc.Claim(ctx, claimReq(c, "taobao", 1, "k2"), render)
	assert.Equal(t, voucher.CodeHolderLimitReached, apperr.CodeOf(err), "the same holder through another platform")

	_, err = e.svc.Claim(ctx, claimReq(c, "taobao", 1, "k2"), render)
	assert.Equal(t, voucher.CodeHolderLimitReached, apperr.CodeOf(err), "a refused claim's key is not left in progress: its retry is answered again")
	assert.Zero(t, e.count(t, `SELECT count(*) FROM idempotency_keys WHERE status IS NULL`), "no key left in progress")

	_, err = e.svc.Claim(ctx, claimReq(c, "jd", 1, "k1"), render)
	assert.ErrorIs(t, err, idempotency.ErrDuplicate, "a replayed key never takes effect twice")

	unverified := claimReq(c, "jd", 2, "k3")
	unverified.Holder.RealNameVerified = false
	_, err = e.svc.Claim(ctx, unverified, render)
	assert.Equal(t, apperr.Code("HOLDER_NOT_ELIGIBLE"), apperr.CodeOf(err))

	bad := claimReq(c, "jd", 2, "k4")
	bad.Holder.IDNumber = "310104199001011235"
	_, err = e.svc.Claim(ctx, bad, render)
	assert.Equal(t, apperr.CodeValidationFailed, apperr.CodeOf(err))

	_, err = e.svc.Claim(ctx, claimReq(c, "jd", 2, "k5"), render)
	require.NoError(t, err)
	_, err = e.svc.Claim(ctx, claimReq(c, "jd", 3, "k6"), render)
	assert.Equal(t, voucher.CodeRoundSoldOut, apperr.CodeOf(err))
	assert.Equal(t, int64(2), e.count(t, `SELECT count(*) FROM vouchers`))
	assert.Zero(t, e.count(t, `SELECT count(*) FROM idempotency_keys WHERE status IS NULL`), "no key left in progress")
}

func TestClaimBeforeTheRoundOpens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := consumption(10, 100)
	later := campaignStart.Add(48 * time.Hour)
	c.Rules.Releases[0].OpensAt = &later
	c = e.live(t, c)
	_, err := e.svc.Claim(ctx, claimReq(c, "jd", 1, "k1"), render)
	assert.Equal(t, voucher.CodeRoundNotOpen, apperr.CodeOf(err))

	e.clock.Set(later)
	_, err = e.svc.OpenDueRounds(ctx)
	require.NoError(t, err)
	_, err = e.svc.Claim(ctx, claimReq(c, "jd", 1, "k2"), render)
	require.NoError(t, err)
}

// TestClaimBurstNeverOversells hammers one round of 1,000 from 200
// goroutines: 5,000 distinct holders, 600 of whom also claim through a second
// platform at the same instant, plus retries of the same key. Exactly 1,000
// vouchers exist, nobody has two, stock + claims = initial, every
// acknowledged claim exists, and the ledger balances.
func TestClaimBurstNeverOversells(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const roundSize, holders, twins = 1000, 5000, 600
	c := e.live(t, consumption(roundSize, 2*roundSize))

	type attempt struct {
		req issuance.ClaimRequest
	}
	var attempts []attempt
	for n := 0; n < holders; n++ {
		attempts = append(attempts, attempt{claimReq(c, "jd", n, "jd-"+idNumber(n))})
		if n < twins {
			attempts = append(attempts, attempt{claimReq(c, "taobao", n, "tb-"+idNumber(n))})
			attempts = append(attempts, attempt{claimReq(c, "jd", n, "jd-"+idNumber(n))}) // a retry
		}
	}
	var ok, soldOut, limit, dup, other atomic.Int64
	acked := sync.Map{}
	work := make(chan attempt)
	var wg sync.WaitGroup
	for w := 0; w < 200; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				resp, err := e.svc.Claim(ctx, a.req, render)
				switch {
				case err == nil:
					ok.Add(1)
					var v struct{ ID string }
					require.NoError(t, json.Unmarshal(resp.Body, &v))
					acked.Store(v.ID, true)
				case apperr.CodeOf(err) == voucher.CodeRoundSoldOut:
					soldOut.Add(1)
				case apperr.CodeOf(err) == voucher.CodeHolderLimitReached:
					limit.Add(1)
				case err == idempotency.ErrDuplicate:
					dup.Add(1)
				default:
					other.Add(1)
					t.Errorf("unexpected: %v", err)
				}
			}
		}()
	}
	for _, a := range attempts {
		work <- a
	}
	close(work)
	wg.Wait()

	assert.Equal(t, int64(roundSize), ok.Load(), "sold out %d, limit %d, dup %d", soldOut.Load(), limit.Load(), dup.Load())
	assert.Zero(t, other.Load())
	assert.Equal(t, int64(roundSize), e.count(t, `SELECT count(*) FROM vouchers WHERE campaign_id = $1`, c.ID))
	assert.Zero(t, e.count(t, `SELECT count(*) FROM (SELECT holder_hash FROM vouchers GROUP BY holder_hash HAVING count(*) > 1) d`))
	acked.Range(func(k, _ any) bool {
		assert.Equal(t, int64(1), e.count(t, `SELECT count(*) FROM vouchers WHERE id = $1`, k), "acknowledged voucher %s exists", k)
		return true
	})
	rounds, err := postgres.ListRounds(ctx, e.db.Pool, c.ID)
	require.NoError(t, err)
	require.Len(t, rounds, 1)
	assert.Equal(t, rounds[0].Quantity, rounds[0].Remaining+roundSize, "stock + claims = initial")
	assert.Zero(t, e.count(t, `SELECT count(*) FROM holder_quota WHERE used > lim OR used < 0`))

	b, err := postgres.Breakdown(ctx, e.db.Pool, c.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(roundSize*5000), b.Committed)
	assert.Zero(t, b.Allocated, "the whole round was claimed")
	faults, err := postgres.CheckLedger(ctx, e.db.Pool, nil)
	require.NoError(t, err)
	assert.Empty(t, faults)
}

func TestRoundCloseReturnsUnclaimedValue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := consumption(10, 100)
	c.Rules.Releases[0].CloseAfterMinutes = 60
	c = e.live(t, c)
	for n := 0; n < 3; n++ {
		_, err := e.svc.Claim(ctx, claimReq(c, "jd", n, newKey()), render)
		require.NoError(t, err)
	}
	b, err := postgres.Breakdown(ctx, e.db.Pool, c.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(7*5000), b.Allocated)
	assert.Equal(t, int64(90*5000), b.Available)

	e.clock.Set(campaignStart.Add(61 * time.Minute))
	n, err := e.svc.CloseDueRounds(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = e.svc.CloseDueRounds(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "closing twice changes nothing")
	b, err = postgres.Breakdown(ctx, e.db.Pool, c.ID)
	require.NoError(t, err)
	assert.Zero(t, b.Allocated)
	assert.Equal(t, int64(97*5000), b.Available)
	assert.Equal(t, int64(3*5000), b.Committed)
	_, err = e.svc.Claim(ctx, claimReq(c, "jd", 50, newKey()), render)
	assert.Equal(t, voucher.CodeRoundNotOpen, apperr.CodeOf(err))
}

func TestWeeklyRoundsAndExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := consumption(5, 100)
	c.Rules.Releases[0].OpensAt = nil
	c.Rules.Releases[0].Cron = "0 0 10 * * FRI"
	c.Rules.Tiers[0].PerCampaignLimit = 4
	c = e.live(t, c)

	rounds, err := e.svc.Rounds(ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, rounds, 1, "the first Friday's round opened at the start")
	_, err = e.svc.Claim(ctx, claimReq(c, "jd", 1, newKey()), render)
	require.NoError(t, err)

	// A week later the next round opens and supersedes the first.
	e.clock.Set(campaignStart.Add(7 * 24 * time.Hour))
	_, err = e.svc.CloseDueRounds(ctx)
	require.NoError(t, err)
	opened, err := e.svc.OpenDueRounds(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, opened)
	closed, err := e.svc.CloseDueRounds(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, closed)
	_, err = e.svc.Claim(ctx, claimReq(c, "jd", 1, newKey()), render)
	require.NoError(t, err, "one per round, up to four per campaign")

	// The first voucher (7 days validity) has expired by now.
	n, err := e.svc.ExpireVouchers(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	b, err := postgres.Breakdown(ctx, e.db.Pool, c.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(5000), b.Committed, "only the second voucher is still committed")
	faults, err := postgres.CheckLedger(ctx, e.db.Pool, nil)
	require.NoError(t, err)
	assert.Empty(t, faults)
}

func TestTradeInQualificationLimits(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := campaign.Campaign{
		Kind: campaign.KindTradeIn, Name: "trade-in", Authority: "test bureau",
		StartsAt: campaignStart, EndsAt: campaignStart.Add(30 * 24 * time.Hour), BudgetFen: 100_000_000,
		Rules: campaign.Rules{Categories: []campaign.Category{
			{Code: "air_conditioner", RateBP: 1500, GradeRateBP: map[string]int{"1": 2000}, CapFen: 200000, PerHolderLimit: 3, ValidityDays: 30},
			{Code: "phone", RateBP: 1500, CapFen: 50000, MaxPriceFen: 600000, PerHolderLimit: 1, ValidityDays: 30},
		}},
	}
	c = e.live(t, c)
	req := func(cat string) issuance.ClaimRequest {
		r := claimReq(c, "jd", 7, newKey())
		r.TierID, r.Category = "", cat
		return r
	}
	for i := 0; i < 3; i++ {
		_, err := e.svc.Claim(ctx, req("air_conditioner"), render)
		require.NoError(t, err)
	}
	_, err := e.svc.Claim(ctx, req("air_conditioner"), render)
	assert.Equal(t, voucher.CodeHolderLimitReached, apperr.CodeOf(err))
	_, err = e.svc.Claim(ctx, req("phone"), render)
	require.NoError(t, err)
	_, err = e.svc.Claim(ctx, req("phone"), render)
	assert.Equal(t, voucher.CodeHolderLimitReached, apperr.CodeOf(err))

	wallet, err := e.svc.Wallet(ctx, idNumber(7), "")
	require.NoError(t, err)
	assert.Len(t, wallet, 4)
	b, err := postgres.Breakdown(ctx, e.db.Pool, c.ID)
	require.NoError(t, err)
	assert.Zero(t, b.Committed, "a qualification draws on the budget only at checkout")
}
