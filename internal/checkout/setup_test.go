package checkout_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/checkout"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/testclock"
	"github.com/tongquan/tongquan/internal/voucher"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type clock = testclock.Clock

var start = time.Date(2027, 3, 5, 2, 0, 0, 0, time.UTC) // Friday 10:00 in Shanghai

type env struct {
	db       *pgtest.DB
	clock    *clock
	issuer   *issuer.Service
	issuance *issuance.Service
	svc      *checkout.Service
	signer   *redemption.Signer
}

func newEnv(t testing.TB) *env {
	db := pgtest.New(t)
	clk := testclock.New(start)
	h, err := holder.NewHasher([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer := redemption.NewSigner(key, "test-1")
	is := issuance.New(db.Pool, issuance.Options{Now: clk.Now, Hasher: h})
	t.Cleanup(is.Close)
	e := &env{db: db, clock: clk, issuer: issuer.New(db.Pool, clk.Now), issuance: is, signer: signer,
		svc: checkout.New(db.Pool, checkout.Options{Now: clk.Now, Hasher: h, Signer: signer})}
	for _, p := range []string{"jd", "taobao"} {
		e.platform(t, p)
	}
	return e
}

// platform registers a platform with one Shanghai merchant "m1" (appliances, online).
func (e *env) platform(t testing.TB, id string) {
	ctx := context.Background()
	now := e.clock.Now()
	require.NoError(t, postgres.InsertPlatform(ctx, e.db.Pool, registry.Platform{ID: id, Name: id, Status: registry.PlatformActive, CreatedAt: now, UpdatedAt: now}))
	first := "91310104MA1" + "FL5XX" + "1"
	c, err := registry.USCCCheckChar(first)
	require.NoError(t, err)
	_, _, err = postgres.InsertMerchant(ctx, e.db.Pool, registry.Merchant{PlatformID: id, MerchantID: "m1", Name: "Shop",
		USCC: first + string(c), Region: "310104", Category: "appliances", Channel: "online", Status: "active", CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
}

var (
	alice = issuer.Actor{Subject: "alice", Role: "campaign_manager"}
	bob   = issuer.Actor{Subject: "bob", Role: "approver"}
)

func (e *env) live(t testing.TB, c campaign.Campaign) campaign.Campaign {
	ctx := context.Background()
	c, err := e.issuer.CreateCampaign(ctx, alice, c)
	require.NoError(t, err)
	_, err = e.issuer.Transition(ctx, alice, c.ID, campaign.ActionSubmit, "")
	require.NoError(t, err)
	_, err = e.issuer.Transition(ctx, bob, c.ID, campaign.ActionApprove, "")
	require.NoError(t, err)
	c, err = e.issuer.Transition(ctx, alice, c.ID, campaign.ActionActivate, "")
	require.NoError(t, err)
	_, err = e.issuance.OpenDueRounds(ctx)
	require.NoError(t, err)
	return c
}

func consumption(qty int64) campaign.Campaign {
	at := start
	return campaign.Campaign{
		Kind: campaign.KindConsumption, Name: "vouchers", Authority: "bureau",
		StartsAt: start, EndsAt: start.Add(30 * 24 * time.Hour), BudgetFen: qty * 5000,
		Rules: campaign.Rules{
			Tiers:    []campaign.Tier{{ID: "200-50", MinSpendFen: 20000, DiscountFen: 5000, ValidityDays: 7}},
			Releases: []campaign.Release{{ID: "r", TierID: "200-50", Quantity: qty, OpensAt: &at}},
		},
	}
}

func tradeIn(budgetFen int64) campaign.Campaign {
	return campaign.Campaign{
		Kind: campaign.KindTradeIn, Name: "trade-in", Authority: "bureau",
		StartsAt: start, EndsAt: start.Add(30 * 24 * time.Hour), BudgetFen: budgetFen,
		Rules: campaign.Rules{Categories: []campaign.Category{
			{Code: "air_conditioner", RateBP: 1500, GradeRateBP: map[string]int{"1": 2000}, CapFen: 200000, PerHolderLimit: 3, ValidityDays: 30},
			{Code: "phone", RateBP: 1500, CapFen: 50000, MaxPriceFen: 600000, PerHolderLimit: 1, ValidityDays: 30},
		}},
	}
}

func idNumber(n int) string {
	first := fmt.Sprintf("310104%s%03d", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n/1000).Format("20060102"), n%1000)
	c, _ := holder.CheckChar(first)
	return first + string(c)
}

func renderJSON[T any](v T) (idempotency.Response, error) {
	b, err := json.Marshal(v)
	return idempotency.Response{Status: 200, Body: b}, err
}

// claim gives holder n a voucher of campaign c (tier or category).
func (e *env) claim(t testing.TB, c campaign.Campaign, n int, what string) voucher.Voucher {
	req := issuance.ClaimRequest{CampaignID: c.ID, PlatformID: "jd",
		Holder: issuance.HolderInput{IDNumber: idNumber(n), ResidenceRegion: "310104", RealNameVerified: true},
		Idem:   key("jd")}
	if c.Kind == campaign.KindTradeIn {
		req.Category = what
	} else {
		req.TierID = what
	}
	var got voucher.Voucher
	_, err := e.issuance.Claim(context.Background(), req, func(v voucher.Voucher) (idempotency.Response, error) {
		got = v
		return idempotency.Response{Status: 201, Body: []byte("{}")}, nil
	})
	require.NoError(t, err)
	return got
}

func key(platform string) idempotency.Key {
	k := uuid.NewString()
	return idempotency.Key{PlatformID: platform, Key: k, RequestHash: idempotency.HashRequest("POST", "/x", []byte(k))}
}

func order(no string, amount int64, items ...redemption.Item) redemption.Order {
	if len(items) == 0 {
		items = []redemption.Item{{SKU: "sku-1", Category: "appliances", UnitPriceFen: amount, Quantity: 1}}
	}
	return redemption.Order{OrderNo: no, MerchantID: "m1", AmountFen: amount, Currency: "CNY", Items: items}
}

func req(platform string) checkout.Request {
	return checkout.Request{PlatformID: platform, Idem: key(platform)}
}

func (e *env) reserve(t testing.TB, platform string, v voucher.Voucher, holderN int, o redemption.Order) (postgres.Redemption, error) {
	var r postgres.Redemption
	_, err := e.svc.Reserve(context.Background(), req(platform), checkout.ReserveInput{
		VoucherCode: v.Code, IDNumber: idNumber(holderN), Order: o, Channel: "alipay",
	}, func(x postgres.Redemption) (idempotency.Response, error) { r = x; return renderJSON(x) })
	return r, err
}

func (e *env) confirm(t testing.TB, platform string, r postgres.Redemption) (postgres.Redemption, error) {
	var out postgres.Redemption
	_, err := e.svc.Confirm(context.Background(), req(platform), r.ID, checkout.ConfirmInput{
		Channel: "alipay", ChannelTxnID: "txn-" + r.ID.String()[:8], PaidFen: r.AmountFen - r.DiscountFen,
	}, func(x postgres.Redemption) (idempotency.Response, error) { out = x; return renderJSON(x) })
	return out, err
}

func (e *env) budget(t testing.TB, c campaign.Campaign) (b struct{ Available, Allocated, Committed, Held, Payable int64 }) {
	br, err := postgres.Breakdown(context.Background(), e.db.Pool, c.ID)
	require.NoError(t, err)
	b.Available, b.Allocated, b.Committed, b.Held, b.Payable = br.Available, br.Allocated, br.Committed, br.Held, br.Payable
	return b
}

func (e *env) ledgerClean(t testing.TB) {
	faults, err := postgres.CheckLedger(context.Background(), e.db.Pool, nil)
	require.NoError(t, err)
	require.Empty(t, faults)
}
