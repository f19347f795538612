package clearing_test

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
	"github.com/tongquan/tongquan/internal/clearing"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/settlement"
	"github.com/tongquan/tongquan/internal/testclock"
	"github.com/tongquan/tongquan/internal/voucher"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type clock = testclock.Clock

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

// local is a wall time in Shanghai, the campaigns' zone.
func local(day string, hour, minute int) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, day, shanghai)
	if err != nil {
		panic(err)
	}
	return d.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

type env struct {
	db       *pgtest.DB
	clock    *clock
	issuer   *issuer.Service
	issuance *issuance.Service
	checkout *checkout.Service
	svc      *clearing.Service
}

func newEnv(t testing.TB) *env {
	db := pgtest.New(t)
	clk := testclock.New(local("2027-03-05", 10, 0))
	h, err := holder.NewHasher([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	is := issuance.New(db.Pool, issuance.Options{Now: clk.Now, Hasher: h})
	t.Cleanup(is.Close)
	e := &env{db: db, clock: clk, issuer: issuer.New(db.Pool, clk.Now), issuance: is,
		checkout: checkout.New(db.Pool, checkout.Options{Now: clk.Now, Hasher: h, Signer: redemption.NewSigner(key, "t")}),
		svc:      clearing.New(db.Pool, clk.Now)}
	for _, p := range []string{"jd", "taobao"} {
		e.platform(t, p)
	}
	return e
}

func (e *env) platform(t testing.TB, id string) {
	ctx := context.Background()
	now := e.clock.Now()
	require.NoError(t, postgres.InsertPlatform(ctx, e.db.Pool, registry.Platform{ID: id, Name: id, Status: registry.PlatformActive, CreatedAt: now, UpdatedAt: now}))
	first := "91310104MA1FL5XX1"
	c, err := registry.USCCCheckChar(first)
	require.NoError(t, err)
	for _, m := range []string{"m1", "m2"} {
		_, _, err = postgres.InsertMerchant(ctx, e.db.Pool, registry.Merchant{PlatformID: id, MerchantID: m, Name: "Shop",
			USCC: first + string(c), Region: "310104", Category: "appliances", Channel: "online", Status: "active", CreatedAt: now, UpdatedAt: now})
		require.NoError(t, err)
	}
}

// consumptionCampaign is a live "spend ¥200, get ¥50 off" campaign with qty vouchers.
func (e *env) consumptionCampaign(t testing.TB, qty int64) campaign.Campaign {
	ctx := context.Background()
	start := e.clock.Now()
	alice := issuer.Actor{Subject: "alice", Role: "campaign_manager"}
	bob := issuer.Actor{Subject: "bob", Role: "approver"}
	c, err := e.issuer.CreateCampaign(ctx, alice, campaign.Campaign{
		Kind: campaign.KindConsumption, Name: "vouchers", Authority: "bureau",
		StartsAt: start, EndsAt: start.Add(30 * 24 * time.Hour), BudgetFen: qty * 5000,
		Rules: campaign.Rules{
			Tiers:    []campaign.Tier{{ID: "200-50", MinSpendFen: 20000, DiscountFen: 5000, ValidityDays: 7}},
			Releases: []campaign.Release{{ID: "r", TierID: "200-50", Quantity: qty, OpensAt: &start}},
		},
	})
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

func idNumber(n int) string {
	first := fmt.Sprintf("310104%s%03d", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n/1000).Format("20060102"), n%1000)
	c, _ := holder.CheckChar(first)
	return first + string(c)
}

func key(scope string) idempotency.Key {
	k := uuid.NewString()
	return idempotency.Key{PlatformID: scope, Key: k, RequestHash: idempotency.HashRequest("POST", "/x", []byte(k))}
}

func renderJSON[T any](v T) (idempotency.Response, error) {
	b, err := json.Marshal(v)
	return idempotency.Response{Status: 200, Body: b}, err
}

func (e *env) claim(t testing.TB, c campaign.Campaign, n int) voucher.Voucher {
	var got voucher.Voucher
	_, err := e.issuance.Claim(context.Background(), issuance.ClaimRequest{CampaignID: c.ID, PlatformID: "jd", TierID: "200-50",
		Holder: issuance.HolderInput{IDNumber: idNumber(n), ResidenceRegion: "310104", RealNameVerified: true},
		Idem:   key("jd")}, func(v voucher.Voucher) (idempotency.Response, error) { got = v; return renderJSON(v) })
	require.NoError(t, err)
	return got
}

// reserve holds holder n's voucher for a 300-yuan order at merchant m.
func (e *env) reserve(t testing.TB, platform string, v voucher.Voucher, n int, merchant string) postgres.Redemption {
	var r postgres.Redemption
	o := redemption.Order{OrderNo: fmt.Sprintf("o-%d", n), MerchantID: merchant, AmountFen: 30000, Currency: "CNY",
		Items: []redemption.Item{{SKU: "sku-1", Category: "appliances", UnitPriceFen: 30000, Quantity: 1}}}
	_, err := e.checkout.Reserve(context.Background(), checkout.Request{PlatformID: platform, Idem: key(platform)},
		checkout.ReserveInput{VoucherCode: v.Code, IDNumber: idNumber(n), Order: o, Channel: "alipay"},
		func(x postgres.Redemption) (idempotency.Response, error) { r = x; return renderJSON(x) })
	require.NoError(t, err)
	return r
}

func (e *env) confirm(t testing.TB, r postgres.Redemption) postgres.Redemption {
	var out postgres.Redemption
	_, err := e.checkout.Confirm(context.Background(), checkout.Request{PlatformID: r.PlatformID, Idem: key(r.PlatformID)}, r.ID,
		checkout.ConfirmInput{Channel: "alipay", ChannelTxnID: "txn-" + r.OrderNo, PaidFen: r.AmountFen - r.DiscountFen},
		func(x postgres.Redemption) (idempotency.Response, error) { out = x; return renderJSON(x) })
	require.NoError(t, err)
	return out
}

// redeem claims, reserves and confirms one voucher for holder n.
func (e *env) redeem(t testing.TB, c campaign.Campaign, platform string, n int, merchant string) postgres.Redemption {
	return e.confirm(t, e.reserve(t, platform, e.claim(t, c, n), n, merchant))
}

func (e *env) cancel(t testing.TB, r postgres.Redemption) {
	_, err := e.checkout.Cancel(context.Background(), checkout.Request{PlatformID: r.PlatformID, Idem: key(r.PlatformID)}, r.ID,
		func(x postgres.Redemption) (idempotency.Response, error) { return renderJSON(x) })
	require.NoError(t, err)
}

func (e *env) refund(t testing.TB, r postgres.Redemption, no string, fen int64) postgres.Refund {
	var out postgres.Refund
	_, err := e.checkout.Refund(context.Background(), checkout.Request{PlatformID: r.PlatformID, Idem: key(r.PlatformID)}, r.ID, no, fen,
		func(x checkout.RefundResult) (idempotency.Response, error) {
			out = x.Refund
			return renderJSON(x.Refund)
		})
	require.NoError(t, err)
	return out
}

var approver = clearing.Actor{Subject: "bob", Role: "approver"}

func (e *env) pay(t testing.TB, id uuid.UUID, reference string) (settlement.Statement, error) {
	var out settlement.Statement
	_, err := e.svc.Pay(context.Background(), approver, key("person:bob"), id, reference,
		func(s settlement.Statement) (idempotency.Response, error) { out = s; return renderJSON(s.ID) })
	return out, err
}

func (e *env) statements(t testing.TB, platform string) []settlement.Statement {
	var out []settlement.Statement
	require.NoError(t, e.svc.Export(context.Background(), clearing.Query{PlatformID: platform}, func(s settlement.Statement) error {
		out = append(out, s)
		return nil
	}))
	return out
}
