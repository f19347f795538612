package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/redemption"
)

const redemptionID = "01975a3c-0000-7000-8000-0000000000aa"

// receiptFixture is a receipt signed by a key voucherd would publish.
type receiptFixture struct {
	signer  *redemption.Signer
	body    redemption.ReceiptBody
	receipt redemption.Receipt
}

func newReceiptFixture(t *testing.T) receiptFixture {
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	s := redemption.NewSigner(key, "receipt-0a1b2c3d")
	body := redemption.ReceiptBody{
		RedemptionID: uuid.MustParse(redemptionID), PlatformID: "taobao", OrderNo: "TB-20250607-1",
		VoucherCode: "7K3M9QXW2HZ4RT8N", CampaignID: uuid.MustParse(campaignID), MerchantID: "m-1",
		AmountFen: 30000, DiscountFen: 5000, PaidFen: 25000, Currency: "CNY", PaymentChannel: "alipay",
		ChannelTransactionID: "2025060722001", ConfirmedAt: time.Date(2025, 6, 7, 7, 30, 0, 0, time.UTC),
	}
	r, err := s.Sign(body)
	require.NoError(t, err)
	return receiptFixture{signer: s, body: body, receipt: r}
}

// keySet is the JSON of the well-known keys serving the given signers.
func keySet(t *testing.T, signers ...*redemption.Signer) string {
	var keys []redemption.JWK
	for _, s := range signers {
		keys = append(keys, s.PublicJWK())
	}
	return mustJSONString(t, map[string]any{"keys": keys})
}

// redemptionJSON is the confirmed Redemption voucherd answers, carrying r.
func (f receiptFixture) redemptionJSON(t *testing.T, r redemption.Receipt) map[string]any {
	return map[string]any{
		"id": redemptionID, "status": "confirmed", "voucher_code": f.body.VoucherCode, "campaign_id": campaignID,
		"kind": "consumption", "order_no": f.body.OrderNo, "merchant_id": "m-1", "amount_fen": 30000, "discount_fen": 5000,
		"payable_fen": 25000, "paid_fen": 25000, "payment_channel": "alipay", "channel_transaction_id": "2025060722001",
		"hold_expires_at": "2025-06-07T15:45:00+08:00", "confirmed_at": "2025-06-07T15:30:00+08:00",
		"refunded_fen": 0, "clawed_back_fen": 0, "receipt": r, "created_at": "2025-06-07T15:29:00+08:00",
	}
}

func writeJSON(t *testing.T, v any) string {
	path := filepath.Join(t.TempDir(), "file.json")
	require.NoError(t, os.WriteFile(path, []byte(mustJSONString(t, v)), 0o600))
	return path
}

// runCtl runs voucherctl without the fake's development-token flags: receipt
// verification needs none.
func runCtl(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestReceiptVerifyWithThePublishedKeys(t *testing.T) {
	fx := newReceiptFixture(t)
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, receiptKeysPath, http.StatusOK, keySet(t, fx.signer))

	out, errOut, code := runCtl("receipt", "verify", writeJSON(t, fx.receipt), "--server", f.url)

	require.Equal(t, 0, code, errOut)
	assert.Empty(t, f.only().authorization, "the keys are public: no token is sent")
	for _, want := range []string{
		`Result:\s+ok: signed by receipt-0a1b2c3d`, `Redemption:\s+` + redemptionID, `Platform:\s+taobao`,
		`Order:\s+TB-20250607-1`, `Voucher:\s+7K3M9QXW2HZ4RT8N`, `Campaign:\s+` + campaignID, `Merchant:\s+m-1`,
		`Amount:\s+¥300\.00 \(30000 fen\)`, `Discount:\s+¥50\.00 \(5000 fen\)`, `Paid:\s+¥250\.00 \(25000 fen\)`,
		`Currency:\s+CNY`, `Payment channel:\s+alipay`, `Channel transaction:\s+2025060722001`,
		`Confirmed at:\s+2025-06-07 07:30:00 \+00:00`,
	} {
		assert.Regexp(t, want, out)
	}
}

func TestReceiptVerifyOfARedemption(t *testing.T) {
	fx := newReceiptFixture(t)
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, receiptKeysPath, http.StatusOK, keySet(t, otherSigner(t, "receipt-old"), fx.signer))

	out, errOut, code := runCtl("receipt", "verify", writeJSON(t, fx.redemptionJSON(t, fx.receipt)), "--server", f.url, "-o", "json")

	require.Equal(t, 0, code, errOut)
	var got redemption.ReceiptBody
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, fx.body, got)
}

func otherSigner(t *testing.T, keyID string) *redemption.Signer {
	_, key, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	return redemption.NewSigner(key, keyID)
}

func TestReceiptVerifyOffline(t *testing.T) {
	fx := newReceiptFixture(t)
	keys := filepath.Join(t.TempDir(), "keys.json")
	require.NoError(t, os.WriteFile(keys, []byte(keySet(t, fx.signer)), 0o600))

	out, errOut, code := runCtl("receipt", "verify", writeJSON(t, fx.receipt), "--keys", keys, "--server", "http://127.0.0.1:1")

	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `Result:\s+ok: signed by receipt-0a1b2c3d`, out)
}

func TestReceiptVerifyFails(t *testing.T) {
	fx := newReceiptFixture(t)
	tampered := fx.receipt
	payload, err := base64.RawURLEncoding.DecodeString(tampered.Payload)
	require.NoError(t, err)
	tampered.Payload = base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"discount_fen":5000`), []byte(`"discount_fen":9000`), 1))
	altered := fx.redemptionJSON(t, fx.receipt)
	altered["discount_fen"] = 9000
	reserved := fx.redemptionJSON(t, fx.receipt)
	delete(reserved, "receipt")
	reserved["status"] = "reserved"

	cases := []struct {
		name string
		file any
		keys string // served at the well-known path
		want string
	}{
		{"tampered payload", tampered, keySet(t, fx.signer),
			"verification failed: bad receipt signature: it does not match the payload under key receipt-0a1b2c3d"},
		{"signed with another key", fx.receipt, keySet(t, otherSigner(t, fx.receipt.KeyID)), "verification failed: bad receipt signature"},
		{"unknown key id", fx.receipt, keySet(t, otherSigner(t, "receipt-other")),
			`verification failed: unknown receipt key "receipt-0a1b2c3d": the key set has receipt-other`},
		{"no published keys", fx.receipt, `{"keys": []}`, "the key set is empty"},
		{"redemption altered around a genuine receipt", altered, keySet(t, fx.signer),
			"the redemption around it was altered:\n  discount_fen: 9000 in the redemption, 5000 in the signed receipt"},
		{"reserved redemption", reserved, "", "redemption " + redemptionID + " is reserved and carries no receipt"},
		{"neither", map[string]any{"hello": "world"}, "", "is neither a receipt (payload, signature, key_id, algorithm) nor a redemption"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeVoucherd(t)
			if tc.keys != "" {
				f.on(http.MethodGet, receiptKeysPath, http.StatusOK, tc.keys)
			}

			out, errOut, code := runCtl("receipt", "verify", writeJSON(t, tc.file), "--server", f.url)

			assert.Equal(t, 1, code)
			assert.Empty(t, out)
			assert.True(t, strings.HasPrefix(errOut, "voucherctl receipt: "), errOut)
			assert.Contains(t, errOut, tc.want)
		})
	}
}

func TestReceiptVerifyReportsTheServersError(t *testing.T) {
	fx := newReceiptFixture(t)
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, receiptKeysPath, http.StatusServiceUnavailable, `{"code": "UNAVAILABLE", "message": "the service is starting"}`)

	_, errOut, code := runCtl("receipt", "verify", writeJSON(t, fx.receipt), "--server", f.url)

	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "UNAVAILABLE: the service is starting")
	assert.Contains(t, errOut, "request id: req-test-1")
}

func TestReceiptVerifyUsage(t *testing.T) {
	for name, args := range map[string][]string{
		"no file":       {"receipt", "verify"},
		"bad output":    {"receipt", "verify", "r.json", "-o", "yaml"},
		"unknown flag":  {"receipt", "verify", "r.json", "--token", "x"},
		"bad server":    {"receipt", "verify", writeJSON(t, newReceiptFixture(t).receipt), "--server", "localhost:8080"},
		"no subcommand": {"receipt"},
	} {
		_, errOut, code := runCtl(args...)
		assert.Equal(t, 2, code, "%s: %s", name, errOut)
	}

	out, _, code := runCtl("receipt", "verify", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "FILE.json is a receipt, or a redemption that carries one")
	assert.Contains(t, out, "-keys")
}

func TestReceiptVerifyBadKeysFile(t *testing.T) {
	fx := newReceiptFixture(t)
	keys := writeJSON(t, fx.receipt) // a receipt where the keys should be

	_, errOut, code := runCtl("receipt", "verify", writeJSON(t, fx.receipt), "--keys", keys)

	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "has no receipt keys: give it the JSON of /.well-known/tongquan-receipt-keys")
}
