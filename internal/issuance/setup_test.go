package issuance_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/testclock"
)

// testClock is a settable clock shared by the issuer and issuance services.
type testClock = testclock.Clock

// env is a database with both services on one clock, starting a day before
// the test campaigns begin.
type env struct {
	db     *pgtest.DB
	clock  *testClock
	issuer *issuer.Service
	svc    *issuance.Service
}

var campaignStart = time.Date(2027, 3, 5, 2, 0, 0, 0, time.UTC) // a Friday, 10:00 in Shanghai

func newEnv(t testing.TB) *env {
	db := pgtest.New(t)
	clk := testclock.New(campaignStart.Add(-24 * time.Hour))
	h, err := holder.NewHasher([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	svc := issuance.New(db.Pool, issuance.Options{Now: clk.Now, Hasher: h})
	t.Cleanup(svc.Close)
	return &env{db: db, clock: clk, issuer: issuer.New(db.Pool, clk.Now), svc: svc}
}

var (
	alice = issuer.Actor{Subject: "alice", Role: "campaign_manager"}
	bob   = issuer.Actor{Subject: "bob", Role: "approver"}
)

// consumption is a live-able campaign with one tier (¥200 − ¥50) released
// in rounds of qty at the start, budget for budgetUnits vouchers.
func consumption(qty, budgetUnits int64) campaign.Campaign {
	start := campaignStart
	return campaign.Campaign{
		Kind: campaign.KindConsumption, Name: "test vouchers", Authority: "test bureau",
		StartsAt: start, EndsAt: start.Add(60 * 24 * time.Hour), BudgetFen: budgetUnits * 5000,
		Rules: campaign.Rules{
			Tiers:    []campaign.Tier{{ID: "200-50", MinSpendFen: 20000, DiscountFen: 5000, ValidityDays: 7}},
			Releases: []campaign.Release{{ID: "launch", TierID: "200-50", Quantity: qty, OpensAt: &start}},
		},
	}
}

// live creates, approves and activates c at its start, and opens due rounds.
func (e *env) live(t testing.TB, c campaign.Campaign) campaign.Campaign {
	ctx := context.Background()
	c, err := e.issuer.CreateCampaign(ctx, alice, c)
	require.NoError(t, err)
	_, err = e.issuer.Transition(ctx, alice, c.ID, campaign.ActionSubmit, "")
	require.NoError(t, err)
	_, err = e.issuer.Transition(ctx, bob, c.ID, campaign.ActionApprove, "")
	require.NoError(t, err)
	if e.clock.Now().Before(c.StartsAt) {
		e.clock.Set(c.StartsAt)
	}
	c, err = e.issuer.Transition(ctx, alice, c.ID, campaign.ActionActivate, "")
	require.NoError(t, err)
	_, err = e.svc.OpenDueRounds(ctx)
	require.NoError(t, err)
	return c
}

// idNumber is the n-th valid resident ID number of the test population.
func idNumber(n int) string {
	first := fmt.Sprintf("310104%s%03d", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n/1000).Format("20060102"), n%1000)
	c, err := holder.CheckChar(first)
	if err != nil {
		panic(err)
	}
	return first + string(c)
}

func newKey() string { return uuid.NewString() }
