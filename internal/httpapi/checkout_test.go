package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/audit"
	"github.com/tongquan/tongquan/internal/checkout"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/registry"
)

// newCheckoutEnv is an issuance env with the checkout service and a merchant
// "m1" of the harness's platform in Shanghai.
func newCheckoutEnv(t *testing.T) (*issuerEnv, *issuance.Service, *redemption.Signer) {
	db := pgtest.New(t)
	clk := newClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	hasher, err := holder.NewHasher([]byte(strings.Repeat("h", 32)))
	require.NoError(t, err)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer := redemption.NewSigner(key, "test-receipts")
	is := issuance.New(db.Pool, issuance.Options{Now: clk.Now, Hasher: hasher})
	t.Cleanup(is.Close)
	svc := issuer.New(db.Pool, clk.Now)
	h := newHarness(t, Config{Pool: db.Pool, Issuer: svc, Issuance: is, Audit: audit.New(db.Pool, hasher),
		Checkout: checkout.New(db.Pool, checkout.Options{Now: clk.Now, Hasher: hasher, Signer: signer})})
	first := "91310104MA1FL5XX1"
	c, err := registry.USCCCheckChar(first)
	require.NoError(t, err)
	_, err = db.Pool.Exec(context.Background(), `INSERT INTO platforms (id, name) VALUES ('jd', 'JD');
		INSERT INTO merchants (platform_id, merchant_id, name, uscc, region, category, channel)
		VALUES ('jd', 'm1', 'Shop', '`+first+string(c)+`', '310104', 'appliances', 'online')`)
	require.NoError(t, err)
	return &issuerEnv{harness: h, db: db, clock: clk, svc: svc}, is, signer
}

func (e *issuerEnv) post(t *testing.T, path, key, body string) response {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.platformToken())
	req.Header.Set("Idempotency-Key", key)
	return e.do(req)
}

func orderJSON(no string, amount int64) string {
	return fmt.Sprintf(`{"order_no":%q,"merchant_id":"m1","amount_fen":%d,"currency":"CNY","items":[{"sku":"s1","category":"appliances","unit_price_fen":%d,"quantity":1}]}`, no, amount, amount)
}

func TestCheckoutOverHTTP(t *testing.T) {
	e, is, signer := newCheckoutEnv(t)
	id := liveRoundCampaign(t, e, is, 5)
	claimed := e.claim(t, id, "c-1", claimBody(1, "200-50"))
	require.Equal(t, http.StatusCreated, claimed.Status, "%s", claimed.Body)
	code := decode[struct{ Code string }](t, claimed.Body).Code

	holderJSON := fmt.Sprintf(`{"id_number":%q}`, testIDNumber(1))
	quote := e.post(t, "/v1/checkout/quote", "q-1", `{"holder":`+holderJSON+`,"order":`+orderJSON("o-1", 30000)+`,"payment_channel":"wechat_pay"}`)
	require.Equal(t, http.StatusOK, quote.Status, "%s", quote.Body)
	assert.Contains(t, string(quote.Body), `"payable_fen":25000`)

	reserveBody := `{"voucher_code":"` + code + `","holder":` + holderJSON + `,"order":` + orderJSON("o-1", 30000) + `,"payment_channel":"wechat_pay"}`
	res := e.post(t, "/v1/redemptions", "r-1", reserveBody)
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	red := decode[struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}](t, res.Body)
	assert.Equal(t, "reserved", red.Status)
	replay := e.post(t, "/v1/redemptions", "r-1", reserveBody)
	assert.True(t, bytes.Equal(res.Body, replay.Body))
	assert.Equal(t, "true", replay.Header.Get("Idempotency-Replayed"))
	// Reservations and confirmations are not looked up before their use
	// case (keyFirst): the key their transaction takes decides, and a key
	// reused for another request is still refused as such.
	reused := e.post(t, "/v1/redemptions", "r-1", strings.Replace(reserveBody, `"o-1"`, `"o-2"`, 1))
	assert.Equal(t, http.StatusUnprocessableEntity, reused.Status, "%s", reused.Body)
	assert.Equal(t, "IDEMPOTENCY_KEY_REUSED", reused.errorCode(t))
	reusedInvalid := e.post(t, "/v1/redemptions", "r-1", `{"voucher_code":"`+code+`","unknown":1}`)
	assert.Equal(t, http.StatusUnprocessableEntity, reusedInvalid.Status, "%s", reusedInvalid.Body)
	assert.Equal(t, "IDEMPOTENCY_KEY_REUSED", reusedInvalid.errorCode(t), "even when the other request is invalid")
	invalid := e.post(t, "/v1/redemptions", "r-9", `{"voucher_code":"`+code+`","unknown":1}`)
	assert.Equal(t, http.StatusBadRequest, invalid.Status, "%s", invalid.Body)

	bad := e.post(t, "/v1/redemptions/"+red.ID+"/confirm", "cf-0", `{"payment_channel":"wechat_pay","channel_transaction_id":"wx-1","paid_fen":30000}`)
	assert.Equal(t, http.StatusUnprocessableEntity, bad.Status)
	assert.Equal(t, "PAID_AMOUNT_MISMATCH", bad.errorCode(t))

	conf := e.post(t, "/v1/redemptions/"+red.ID+"/confirm", "cf-1", `{"payment_channel":"wechat_pay","channel_transaction_id":"wx-1","paid_fen":25000}`)
	require.Equal(t, http.StatusOK, conf.Status, "%s", conf.Body)
	var confirmed struct {
		Status  string             `json:"status"`
		Receipt redemption.Receipt `json:"receipt"`
	}
	require.NoError(t, json.Unmarshal(conf.Body, &confirmed))
	assert.Equal(t, "confirmed", confirmed.Status)

	var err error
	keys := e.request(http.MethodGet, "/.well-known/tongquan-receipt-keys", "", nil)
	require.Equal(t, http.StatusOK, keys.Status)
	var set struct{ Keys []redemption.JWK }
	require.NoError(t, json.Unmarshal(keys.Body, &set))
	_, err = redemption.VerifyReceipt(confirmed.Receipt, set.Keys)
	require.NoError(t, err, "the receipt verifies offline with the published key")
	assert.Equal(t, signer.PublicJWK().Kid, set.Keys[0].Kid)

	confReplay := e.post(t, "/v1/redemptions/"+red.ID+"/confirm", "cf-1", `{"payment_channel":"wechat_pay","channel_transaction_id":"wx-1","paid_fen":25000}`)
	assert.True(t, bytes.Equal(conf.Body, confReplay.Body), "a replayed confirm is the first answer, receipt included")
	assert.Equal(t, "true", confReplay.Header.Get("Idempotency-Replayed"))

	partial := e.post(t, "/v1/redemptions/"+red.ID+"/refunds", "rf-0", `{"refund_no":"rf-0","refund_fen":5000}`)
	require.Equal(t, http.StatusCreated, partial.Status, "%s", partial.Body)
	assert.Contains(t, string(partial.Body), `"clawback_fen":1000`, "floor(5000 × 5000 / 25000)")
	assert.Contains(t, string(partial.Body), `"redemption_status":"confirmed"`)
	partialReplay := e.post(t, "/v1/redemptions/"+red.ID+"/refunds", "rf-0", `{"refund_no":"rf-0","refund_fen":5000}`)
	assert.True(t, bytes.Equal(partial.Body, partialReplay.Body))

	refund := e.post(t, "/v1/redemptions/"+red.ID+"/refunds", "rf-1", `{"refund_no":"rf-1","refund_fen":20000}`)
	require.Equal(t, http.StatusCreated, refund.Status, "%s", refund.Body)
	assert.Contains(t, string(refund.Body), `"redemption_status":"refunded"`)
	assert.Contains(t, string(refund.Body), `"voucher_returned":true`)
	over := e.post(t, "/v1/redemptions/"+red.ID+"/refunds", "rf-2", `{"refund_no":"rf-2","refund_fen":1}`)
	assert.Equal(t, http.StatusConflict, over.Status, "%s", over.Body)

	got := e.request(http.MethodGet, "/v1/redemptions/"+red.ID, e.platformToken(), nil)
	require.Equal(t, http.StatusOK, got.Status)
	assert.Contains(t, string(got.Body), `"refunded_fen":25000`)
	faults, err := postgres.CheckLedger(context.Background(), e.db.Pool, nil)
	require.NoError(t, err)
	assert.Empty(t, faults, "the ledger is exact after reserve, confirm, partial and full refund")
	missing := e.request(http.MethodGet, "/v1/redemptions/0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d", e.platformToken(), nil)
	assert.Equal(t, http.StatusNotFound, missing.Status)
}

func TestCancelOverHTTPReplays(t *testing.T) {
	e, is, _ := newCheckoutEnv(t)
	id := liveRoundCampaign(t, e, is, 5)
	claimed := e.claim(t, id, "c-1", claimBody(1, "200-50"))
	require.Equal(t, http.StatusCreated, claimed.Status, "%s", claimed.Body)
	code := decode[struct{ Code string }](t, claimed.Body).Code
	holderJSON := fmt.Sprintf(`{"id_number":%q}`, testIDNumber(1))
	res := e.post(t, "/v1/redemptions", "r-1", `{"voucher_code":"`+code+`","holder":`+holderJSON+`,"order":`+orderJSON("o-1", 30000)+`,"payment_channel":"alipay"}`)
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	rid := decode[struct{ ID string }](t, res.Body).ID

	first := e.post(t, "/v1/redemptions/"+rid+"/cancel", "x-1", ``)
	require.Equal(t, http.StatusOK, first.Status, "%s", first.Body)
	assert.Contains(t, string(first.Body), `"status":"cancelled"`)
	again := e.post(t, "/v1/redemptions/"+rid+"/cancel", "x-1", ``)
	assert.True(t, bytes.Equal(first.Body, again.Body))
	other := e.post(t, "/v1/redemptions/"+rid+"/cancel", "x-2", ``)
	assert.Equal(t, http.StatusConflict, other.Status)
	assert.Equal(t, "REDEMPTION_STATE", other.errorCode(t))
}
