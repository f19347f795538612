package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/audit"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/checkout"
	"github.com/tongquan/tongquan/internal/clearing"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/settlement"
)

type settlementEnv struct {
	*issuerEnv
	issuance *issuance.Service
	checkout *checkout.Service
	clearing *clearing.Service
	campaign string
}

// newSettlementEnv is a checkout env with settlement, platforms jd (the
// harness's) and taobao, each with a merchant m1, and a live campaign.
func newSettlementEnv(t *testing.T) *settlementEnv {
	db := pgtest.New(t)
	clk := newClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	hasher, err := holder.NewHasher([]byte(strings.Repeat("h", 32)))
	require.NoError(t, err)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	is := issuance.New(db.Pool, issuance.Options{Now: clk.Now, Hasher: hasher})
	t.Cleanup(is.Close)
	svc := issuer.New(db.Pool, clk.Now)
	co := checkout.New(db.Pool, checkout.Options{Now: clk.Now, Hasher: hasher, Signer: redemption.NewSigner(key, "t")})
	cl := clearing.New(db.Pool, clk.Now)
	h := newHarness(t, Config{Pool: db.Pool, Issuer: svc, Issuance: is, Audit: audit.New(db.Pool, hasher), Checkout: co, Clearing: cl})
	first := "91310104MA1FL5XX1"
	c, err := registry.USCCCheckChar(first)
	require.NoError(t, err)
	_, err = db.Pool.Exec(context.Background(), `INSERT INTO platforms (id, name) VALUES ('jd', 'JD'), ('taobao', 'Taobao');
		INSERT INTO merchants (platform_id, merchant_id, name, uscc, region, category, channel)
		VALUES ('jd', 'm1', 'Shop', '`+first+string(c)+`', '310104', 'appliances', 'online'),
		       ('taobao', 'm1', 'Shop', '`+first+string(c)+`', '310104', 'appliances', 'online')`)
	require.NoError(t, err)
	e := &settlementEnv{issuerEnv: &issuerEnv{harness: h, db: db, clock: clk, svc: svc}, issuance: is, checkout: co, clearing: cl}
	e.campaign = liveRoundCampaign(t, e.issuerEnv, is, 10) // the clock is now Friday 2026-12-04 10:00 in Shanghai
	return e
}

// redeem claims a voucher for holder n (over HTTP, as jd) and redeems it on
// jd over HTTP, or on another platform through the use case.
func (e *settlementEnv) redeem(t *testing.T, platform string, n int) string {
	claimed := e.claim(t, e.campaign, fmt.Sprintf("c-%d", n), claimBody(n, "200-50"))
	require.Equal(t, http.StatusCreated, claimed.Status, "%s", claimed.Body)
	code := decode[struct{ Code string }](t, claimed.Body).Code
	orderNo := fmt.Sprintf("o-%d", n)
	if platform != testPlatform {
		req := checkout.Request{PlatformID: platform, Idem: idempotency.Key{PlatformID: platform, Key: "r-" + orderNo}}
		var red postgres.Redemption
		_, err := e.checkout.Reserve(context.Background(), req, checkout.ReserveInput{VoucherCode: code, IDNumber: testIDNumber(n),
			Order: orderIn(decode[api.Order](t, []byte(orderJSON(orderNo, 30000)))), Channel: "wechat_pay"},
			func(r postgres.Redemption) (idempotency.Response, error) {
				red = r
				return idempotency.Response{Status: 201}, nil
			})
		require.NoError(t, err)
		req.Idem.Key = "cf-" + orderNo
		_, err = e.checkout.Confirm(context.Background(), req, red.ID, checkout.ConfirmInput{Channel: "wechat_pay",
			ChannelTxnID: "wx-" + orderNo, PaidFen: 25000}, func(postgres.Redemption) (idempotency.Response, error) {
			return idempotency.Response{Status: 200}, nil
		})
		require.NoError(t, err)
		return red.ID.String()
	}
	holderJSON := fmt.Sprintf(`{"id_number":%q}`, testIDNumber(n))
	res := e.post(t, "/v1/redemptions", "r-"+orderNo, `{"voucher_code":"`+code+`","holder":`+holderJSON+`,"order":`+orderJSON(orderNo, 30000)+`,"payment_channel":"wechat_pay"}`)
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	id := decode[struct{ ID string }](t, res.Body).ID
	conf := e.post(t, "/v1/redemptions/"+id+"/confirm", "cf-"+orderNo, `{"payment_channel":"wechat_pay","channel_transaction_id":"wx-`+orderNo+`","paid_fen":25000}`)
	require.Equal(t, http.StatusOK, conf.Status, "%s", conf.Body)
	return id
}

func (e *settlementEnv) get(t *testing.T, path, token string) response {
	return e.request(http.MethodGet, path, token, nil)
}

func (e *settlementEnv) pay(id, key, token, reference string) response {
	req := httptest.NewRequest(http.MethodPost, "/v1/settlements/"+id+"/pay", strings.NewReader(`{"payment_reference":"`+reference+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return e.do(req)
}

func TestSettlementsOverHTTP(t *testing.T) {
	e := newSettlementEnv(t)
	e.redeem(t, "jd", 1)
	e.redeem(t, "jd", 2)
	e.redeem(t, "taobao", 3)
	e.clock.Set(time.Date(2026, 12, 4, 16, 30, 0, 0, time.UTC)) // 00:30 the next day in Shanghai
	n, err := e.clearing.CloseDays(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, n)

	auditor := e.personToken("carol", time.Hour, auth.RoleAuditor)
	all := decode[api.SettlementPage](t, e.get(t, "/v1/settlements", auditor).Body)
	require.Len(t, all.Items, 2)
	var jdID, tbID string
	for _, s := range all.Items {
		assert.Equal(t, "2026-12-04", s.BusinessDate.Format(time.DateOnly))
		assert.Nil(t, s.Lines, "lists carry totals, not lines")
		if s.PlatformId == "jd" {
			jdID = s.Id.String()
			assert.Equal(t, int64(10000), s.Totals.NetFen)
		} else {
			tbID = s.Id.String()
		}
	}
	only := decode[api.SettlementPage](t, e.get(t, "/v1/settlements?platform_id=taobao&status=issued&from=2026-12-04&to=2026-12-04", auditor).Body)
	require.Len(t, only.Items, 1)
	assert.Equal(t, tbID, only.Items[0].Id.String())
	none := decode[api.SettlementPage](t, e.get(t, "/v1/settlements?from=2026-12-05", auditor).Body)
	assert.Empty(t, none.Items)
	page := decode[api.SettlementPage](t, e.get(t, "/v1/settlements?limit=1", auditor).Body)
	require.Len(t, page.Items, 1)
	require.NotNil(t, page.NextCursor)
	rest := decode[api.SettlementPage](t, e.get(t, "/v1/settlements?limit=1&cursor="+url.QueryEscape(*page.NextCursor), auditor).Body)
	require.Len(t, rest.Items, 1)
	assert.NotEqual(t, page.Items[0].Id, rest.Items[0].Id)

	// A platform sees its own statements only, whatever it asks for.
	own := decode[api.SettlementPage](t, e.get(t, "/v1/settlements?platform_id=taobao", e.platformToken()).Body)
	require.Len(t, own.Items, 1)
	assert.Equal(t, jdID, own.Items[0].Id.String())
	hidden := e.get(t, "/v1/settlements/"+tbID, e.platformToken())
	assert.Equal(t, http.StatusNotFound, hidden.Status)
	assert.Equal(t, "NOT_FOUND", hidden.errorCode(t))
	mine := decode[api.Settlement](t, e.get(t, "/v1/settlements/"+jdID, e.platformToken()).Body)
	require.NotNil(t, mine.Lines)
	require.Len(t, *mine.Lines, 1)
	assert.Equal(t, api.SettlementAmounts{ConfirmedCount: 2, DiscountFen: 10000, PaidFen: 50000, NetFen: 10000}, (*mine.Lines)[0].Amounts)

	// CSV: the lines of the selected statements.
	csvRes := e.get(t, "/v1/settlements?format=csv", e.platformToken())
	require.Equal(t, http.StatusOK, csvRes.Status)
	assert.Equal(t, "text/csv; charset=utf-8", csvRes.Header.Get("Content-Type"))
	rows, err := csv.NewReader(bytes.NewReader(csvRes.Body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, settlement.CSVHeader, rows[0])
	assert.Equal(t, []string{jdID, "jd", "2026-12-04", "issued", "CNY", e.campaign, "m1", "2", "10000", "50000", "0", "0", "0", "0", "0", "10000"}, rows[1])

	// Paying: approvers only, once, replayable.
	assert.Equal(t, http.StatusForbidden, e.pay(jdID, "p-1", auditor, "bank-1").Status, "an auditor cannot pay")
	assert.Equal(t, http.StatusForbidden, e.pay(jdID, "p-1", e.platformToken(), "bank-1").Status)
	noKey := e.pay(jdID, "", e.approver("bob"), "bank-1")
	assert.Equal(t, "IDEMPOTENCY_KEY_REQUIRED", noKey.errorCode(t))
	paid := e.pay(jdID, "p-1", e.approver("bob"), "bank-1")
	require.Equal(t, http.StatusOK, paid.Status, "%s", paid.Body)
	out := decode[api.Settlement](t, paid.Body)
	assert.Equal(t, api.SettlementStatus("paid"), out.Status)
	assert.Equal(t, "bob", *out.PaidBy)
	assert.Equal(t, "bank-1", *out.PaymentReference)
	replay := e.pay(jdID, "p-1", e.approver("bob"), "bank-1")
	assert.Equal(t, http.StatusOK, replay.Status)
	assert.True(t, bytes.Equal(paid.Body, replay.Body))
	assert.Equal(t, "true", replay.Header.Get("Idempotency-Replayed"))
	again := e.pay(jdID, "p-2", e.approver("bob"), "bank-2")
	assert.Equal(t, http.StatusConflict, again.Status)
	assert.Equal(t, "STATEMENT_ALREADY_PAID", again.errorCode(t))
	// Another approver's key of the same name is theirs, not bob's.
	dave := e.pay(jdID, "p-1", e.approver("dave"), "bank-1")
	assert.Equal(t, "STATEMENT_ALREADY_PAID", dave.errorCode(t))
	missing := e.pay(uuid.NewString(), "p-3", e.approver("bob"), "bank-3")
	assert.Equal(t, http.StatusNotFound, missing.Status)

	b, err := postgres.Breakdown(context.Background(), e.db.Pool, uuid.MustParse(e.campaign))
	require.NoError(t, err)
	assert.Equal(t, int64(10000), b.Settled)
	assert.Equal(t, int64(5000), b.Payable, "taobao's statement is not paid yet")
}

func (e *settlementEnv) reconcile(query, token, body string) response {
	req := httptest.NewRequest(http.MethodPost, "/v1/reconciliations?"+query, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+token)
	return e.do(req)
}

func TestReconciliationOverHTTP(t *testing.T) {
	e := newSettlementEnv(t)
	ids := make([]string, 5)
	for n := 1; n <= 4; n++ {
		ids[n] = e.redeem(t, "jd", n)
	}
	e.redeem(t, "taobao", 5) // another platform's: never in jd's record

	stranger := uuid.NewString()
	upload := "order_no,redemption_id,discount_fen,paid_fen,payment_channel,channel_txn_id\n" +
		"o-1," + ids[1] + ",5000,25000,wechat_pay,wx-o-1\n" + // matches
		"o-2," + ids[2] + ",5000,24000,wechat_pay,wx-o-2\n" + // paid differs
		"o-3," + ids[3] + ",5000,25000,alipay,wx-o-3\n" + // channel differs
		"o-9," + stranger + ",5000,25000,wechat_pay,wx-o-9\n" // not ours; o-4 is not uploaded
	before := e.count(t, "audit_events")

	res := e.reconcile("business_date=2026-12-04", e.platformToken(), upload)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	rep := decode[api.ReconciliationReport](t, res.Body)
	assert.Equal(t, "jd", rep.PlatformId)
	assert.Equal(t, 4, rep.UploadedRows)
	assert.Equal(t, int64(1), rep.Matched.Count)
	require.Equal(t, int64(1), rep.AmountMismatch.Count)
	am := rep.AmountMismatch.Rows[0]
	assert.Equal(t, ids[2], am.RedemptionId.String())
	assert.Equal(t, []string{"paid_fen"}, am.Fields)
	assert.Equal(t, int64(25000), am.Ours.PaidFen)
	assert.Equal(t, int64(24000), am.Theirs.PaidFen)
	require.Equal(t, int64(1), rep.ChannelMismatch.Count)
	assert.Equal(t, []string{"payment_channel"}, rep.ChannelMismatch.Rows[0].Fields)
	require.Equal(t, int64(1), rep.MissingHere.Count)
	assert.Equal(t, stranger, rep.MissingHere.Rows[0].RedemptionId.String())
	assert.Equal(t, 5, *rep.MissingHere.Rows[0].Line)
	require.Equal(t, int64(1), rep.MissingInUpload.Count)
	assert.Equal(t, ids[4], rep.MissingInUpload.Rows[0].RedemptionId.String())

	// An auditor names the platform and gets the same report.
	auditor := e.personToken("carol", time.Hour, auth.RoleAuditor)
	unnamed := e.reconcile("business_date=2026-12-04", auditor, upload)
	assert.Equal(t, http.StatusBadRequest, unnamed.Status)
	named := e.reconcile("business_date=2026-12-04&platform_id=jd", auditor, upload)
	require.Equal(t, http.StatusOK, named.Status, "%s", named.Body)
	assert.Equal(t, rep, decode[api.ReconciliationReport](t, named.Body))
	unknown := e.reconcile("business_date=2026-12-04&platform_id=nosuch", auditor, upload)
	assert.Equal(t, http.StatusNotFound, unknown.Status)
	// A platform reconciles only its own record.
	other := e.reconcile("business_date=2026-12-04&platform_id=taobao", e.platformToken(), upload)
	assert.Equal(t, http.StatusForbidden, other.Status)

	// Another day: nothing of ours, everything uploaded is missing here.
	otherDay := decode[api.ReconciliationReport](t, e.reconcile("business_date=2026-12-05", e.platformToken(), upload).Body)
	assert.Equal(t, int64(4), otherDay.MissingHere.Count)
	assert.Zero(t, otherDay.MissingInUpload.Count)

	// A malformed file is 400 naming the line.
	bad := e.reconcile("business_date=2026-12-04", e.platformToken(), upload+"o-5,not-a-uuid,1,2,alipay,x\n")
	require.Equal(t, http.StatusBadRequest, bad.Status)
	var body struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	}
	require.NoError(t, json.Unmarshal(bad.Body, &body))
	assert.Equal(t, "VALIDATION_FAILED", body.Code)
	assert.Contains(t, body.Message, "line 6")
	assert.EqualValues(t, 6, body.Details["line"])
	noDate := e.reconcile("", e.platformToken(), upload)
	assert.Equal(t, http.StatusBadRequest, noDate.Status)

	assert.Equal(t, before, e.count(t, "audit_events"), "a reconciliation writes nothing")
	assert.Zero(t, e.count(t, "settlement_statements"))
}
