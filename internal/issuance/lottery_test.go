package issuance_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/lottery"
	"github.com/tongquan/tongquan/internal/postgres"
)

// The test lottery: registration for two days from the campaign's start,
// the draw a day later.
var (
	registrationCloses = campaignStart.Add(48 * time.Hour)
	drawAt             = campaignStart.Add(72 * time.Hour)
)

// lotteryCampaign is a campaign issuing its ¥200 − ¥50 tier to winners of a
// lottery, with budget for budgetUnits vouchers.
func lotteryCampaign(winners, budgetUnits int64) campaign.Campaign {
	c := consumption(1, budgetUnits)
	c.Rules.Releases = nil
	c.Rules.Eligibility.HolderRegionPrefixes = []string{"31"}
	c.Rules.Lottery = &campaign.LotteryRules{TierID: "200-50", Winners: winners,
		RegistrationOpensAt: campaignStart, RegistrationClosesAt: registrationCloses, DrawAt: drawAt}
	return c
}

func renderRegistration(r lottery.Registration) (idempotency.Response, error) {
	b, err := json.Marshal(map[string]any{"id": r.ID, "ticket": r.Ticket, "status": r.Status})
	return idempotency.Response{Status: 201, Body: b}, err
}

func registration(c campaign.Campaign, platform string, holderN int, key string) issuance.RegistrationRequest {
	return issuance.RegistrationRequest{
		CampaignID: c.ID, PlatformID: platform,
		Holder: issuance.HolderInput{IDNumber: idNumber(holderN), ResidenceRegion: "310104", RealNameVerified: true},
		Idem:   idempotency.Key{PlatformID: platform, Key: key, RequestHash: idempotency.HashRequest("POST", "/registrations", []byte(key))},
	}
}

func (e *env) register(t *testing.T, req issuance.RegistrationRequest) error {
	t.Helper()
	_, err := e.svc.Register(context.Background(), req, renderRegistration)
	return err
}

func TestRegister(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.live(t, lotteryCampaign(5, 100))

	resp, err := e.svc.Register(ctx, registration(c, "jd", 1, "k1"), renderRegistration)
	require.NoError(t, err)
	assert.Equal(t, 201, resp.Status)
	var out struct{ ID, Ticket, Status string }
	require.NoError(t, json.Unmarshal(resp.Body, &out))
	assert.Equal(t, "registered", out.Status)
	assert.Regexp(t, "^[0-9a-f]{64}$", out.Ticket)

	_, err = e.svc.Register(ctx, registration(c, "jd", 1, "k1"), renderRegistration)
	assert.ErrorIs(t, err, idempotency.ErrDuplicate, "a replayed key never takes effect twice")
	err = e.register(t, registration(c, "taobao", 1, "k2"))
	assert.Equal(t, lottery.CodeAlreadyRegistered, apperr.CodeOf(err), "the same holder through another platform")

	unverified := registration(c, "jd", 2, "k3")
	unverified.Holder.RealNameVerified = false
	assert.Equal(t, holder.CodeHolderNotEligible, apperr.CodeOf(e.register(t, unverified)))
	elsewhere := registration(c, "jd", 2, "k4")
	elsewhere.Holder.ResidenceRegion = "110101"
	assert.Equal(t, holder.CodeHolderNotEligible, apperr.CodeOf(e.register(t, elsewhere)))

	assert.Equal(t, int64(1), e.count(t, `SELECT count(*) FROM lottery_registrations`))
	assert.Equal(t, int64(1), e.count(t, `SELECT count(*) FROM audit_events WHERE action = 'lottery.committed'`),
		"the first registration commits the seed when the job has not yet")
	assert.Equal(t, int64(1), e.count(t, `SELECT count(*) FROM audit_events
		WHERE action = 'lottery.registered' AND entity_type = 'lottery_registration' AND entity_id = $1`, out.ID))
	assert.Zero(t, e.count(t, `SELECT count(*) FROM audit_events WHERE after::text LIKE '%' || $1 || '%'`, idNumber(1)),
		"the raw ID number is never stored")
}

func TestRegisterOnlyWhileOpen(t *testing.T) {
	e := newEnv(t)
	c := lotteryCampaign(5, 100)
	c.Rules.Lottery.RegistrationOpensAt = campaignStart.Add(time.Hour)
	c.Rules.Eligibility.Platforms = []string{"jd", "taobao"}
	c = e.live(t, c)

	closed := func(key string) {
		t.Helper()
		assert.Equal(t, lottery.CodeRegistrationClosed, apperr.CodeOf(e.register(t, registration(c, "jd", 1, key))))
	}
	closed("before")
	e.clock.Set(registrationCloses)
	closed("after")
	e.clock.Set(campaignStart.Add(time.Hour))
	require.NoError(t, e.register(t, registration(c, "jd", 1, "open")))

	err := e.register(t, registration(c, "pdd", 2, "k"))
	assert.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err), "a platform the campaign does not admit does not see it")

	_, err = e.issuer.Transition(context.Background(), alice, c.ID, campaign.ActionPause, "")
	require.NoError(t, err)
	closed("paused")

	plain := consumption(1, 10)
	plain.Name = "no lottery"
	plain = e.live(t, plain)
	assert.Equal(t, lottery.CodeRegistrationClosed, apperr.CodeOf(e.register(t, registration(plain, "jd", 1, "none"))))
}

// TestRegisterConcurrently: one holder hammering through two platforms at
// once gets exactly one registration.
func TestRegisterConcurrently(t *testing.T) {
	e := newEnv(t)
	c := e.live(t, lotteryCampaign(5, 100))
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			platform := []string{"jd", "taobao"}[i%2]
			errs[i] = e.register(t, registration(c, platform, 7, newKey()))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		assert.Equal(t, lottery.CodeAlreadyRegistered, apperr.CodeOf(err), "%v", err)
	}
	assert.Equal(t, 1, ok)
	assert.Equal(t, int64(1), e.count(t, `SELECT count(*) FROM lottery_registrations`))
}

// drawnLottery registers n holders, then runs the job at the draw time.
func (e *env) drawnLottery(t *testing.T, winners, budgetUnits int64, n int) campaign.Campaign {
	ctx := context.Background()
	c := e.live(t, lotteryCampaign(winners, budgetUnits))
	require.NoError(t, e.svc.RunLotteries(ctx))
	for i := range n {
		require.NoError(t, e.register(t, registration(c, []string{"jd", "taobao"}[i%2], 1000+i, newKey())))
	}
	e.clock.Set(drawAt.Add(-time.Second))
	require.NoError(t, e.svc.RunLotteries(ctx))
	v, err := e.svc.Lottery(ctx, c.ID, "")
	require.NoError(t, err)
	require.Equal(t, lottery.Closed, v.Status, "not drawn before draw_at")

	e.clock.Set(drawAt)
	require.NoError(t, e.svc.RunLotteries(ctx))
	return c
}

func TestDraw(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.live(t, lotteryCampaign(50, 1000))

	require.NoError(t, e.svc.RunLotteries(ctx))
	before, err := e.svc.Lottery(ctx, c.ID, "jd")
	require.NoError(t, err)
	assert.Equal(t, lottery.Registering, before.Status)
	assert.Empty(t, before.Seed, "the seed stays secret until the draw")
	assert.Regexp(t, "^[0-9a-f]{64}$", before.SeedHash)
	require.NoError(t, e.svc.RunLotteries(ctx))
	assert.Equal(t, int64(1), e.count(t, `SELECT count(*) FROM audit_events WHERE action = 'lottery.committed'`), "one commitment")

	for i := range 200 {
		require.NoError(t, e.register(t, registration(c, []string{"jd", "taobao"}[i%2], 1000+i, newKey())))
	}
	e.clock.Set(drawAt)
	var wg sync.WaitGroup
	for range 3 { // replicas racing
		wg.Add(1)
		go func() { defer wg.Done(); assert.NoError(t, e.svc.RunLotteries(ctx)) }()
	}
	wg.Wait()

	v, err := e.svc.Lottery(ctx, c.ID, "jd")
	require.NoError(t, err)
	assert.Equal(t, lottery.Drawn, v.Status)
	assert.Equal(t, int64(200), v.Registrations)
	assert.Equal(t, int64(50), v.Winners)
	assert.Equal(t, before.SeedHash, v.SeedHash)
	seed, err := hex.DecodeString(v.Seed)
	require.NoError(t, err)
	sum := sha256.Sum256(seed)
	assert.Equal(t, before.SeedHash, hex.EncodeToString(sum[:]), "the revealed seed is the committed one")

	assert.Equal(t, int64(50), e.count(t, `SELECT count(*) FROM vouchers WHERE source = 'lottery' AND tier_id = '200-50' AND discount_fen = 5000`))
	assert.Equal(t, int64(50), e.count(t, `SELECT count(*) FROM lottery_registrations r JOIN vouchers v ON v.id = r.voucher_id
		WHERE r.status = 'won' AND v.holder_hash = r.holder_hash AND v.platform_id = r.platform_id`))
	assert.Equal(t, int64(150), e.count(t, `SELECT count(*) FROM lottery_registrations WHERE status = 'lost'`))
	e.assertLedger(t, c, 50*5000, 1000*5000-50*5000)

	// An auditor's recomputation from what is published.
	require.NoError(t, lottery.Verify(e.published(t, c, v)))

	// Running again draws nothing more.
	require.NoError(t, e.svc.RunLotteries(ctx))
	assert.Equal(t, int64(50), e.count(t, `SELECT count(*) FROM vouchers`))
	assert.Equal(t, int64(1), e.count(t, `SELECT count(*) FROM audit_events WHERE action = 'lottery.drawn'`))
	e.assertLedger(t, c, 50*5000, 1000*5000-50*5000)

	err = e.register(t, registration(c, "jd", 5, newKey()))
	assert.Equal(t, lottery.CodeRegistrationClosed, apperr.CodeOf(err))
}

func TestDrawLimitedByBudget(t *testing.T) {
	e := newEnv(t)
	c := e.drawnLottery(t, 50, 30, 200)

	v, err := e.svc.Lottery(context.Background(), c.ID, "")
	require.NoError(t, err)
	assert.Equal(t, int64(30), v.Winners, "the published count is what was drawn")
	assert.Equal(t, int64(30), e.count(t, `SELECT count(*) FROM vouchers`))
	assert.Equal(t, int64(1), e.count(t, `SELECT count(*) FROM lotteries WHERE budget_limited AND winners_wanted = 50 AND winners = 30`))
	assert.Equal(t, int64(1), e.count(t, `SELECT count(*) FROM audit_events
		WHERE action = 'lottery.drawn' AND (after->>'budget_limited')::boolean AND (after->>'winners')::int = 30`))
	e.assertLedger(t, c, 30*5000, 0)
	require.NoError(t, lottery.Verify(e.published(t, c, v)))
}

func TestDrawFewerRegistrationsThanWinners(t *testing.T) {
	e := newEnv(t)
	c := e.drawnLottery(t, 50, 100, 3)

	v, err := e.svc.Lottery(context.Background(), c.ID, "")
	require.NoError(t, err)
	assert.Equal(t, int64(3), v.Winners, "everyone wins")
	assert.Equal(t, int64(0), e.count(t, `SELECT count(*) FROM lotteries WHERE budget_limited`))
	e.assertLedger(t, c, 3*5000, 97*5000)
}

func (e *env) assertLedger(t *testing.T, c campaign.Campaign, committed, available int64) {
	t.Helper()
	b, err := postgres.Breakdown(context.Background(), e.db.Pool, c.ID)
	require.NoError(t, err)
	assert.Equal(t, committed, b.Committed)
	assert.Equal(t, available, b.Available)
	assert.Zero(t, b.Allocated)
	faults, err := postgres.CheckLedger(context.Background(), e.db.Pool, &c.ID)
	require.NoError(t, err)
	assert.Empty(t, faults)
}

// published collects the lottery's published data, page by page.
func (e *env) published(t *testing.T, c campaign.Campaign, v issuance.LotteryView) lottery.Published {
	p := lottery.Published{Algorithm: v.Algorithm, SeedHash: v.SeedHash, Seed: v.Seed, TicketsDigest: v.TicketsDigest, Winners: v.Winners}
	after := ""
	for {
		page, drawn, err := e.svc.LotteryTickets(context.Background(), c.ID, "jd", after, 64)
		require.NoError(t, err)
		require.True(t, drawn)
		if len(page) == 0 {
			return p
		}
		p.Tickets = append(p.Tickets, page...)
		after = page[len(page)-1].Ticket
	}
}
