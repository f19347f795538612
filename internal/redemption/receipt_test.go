package redemption

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testSigner(t *testing.T, seed byte, keyID string) *Signer {
	t.Helper()
	return NewSigner(ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune(seed)), ed25519.SeedSize))), keyID)
}

func testBody() ReceiptBody {
	return ReceiptBody{
		RedemptionID: uuid.MustParse("01975a3c-0000-7000-8000-0000000000aa"), PlatformID: "taobao", OrderNo: "TB-20250607-1",
		VoucherCode: "7K3M9QXW2HZ4RT8N", CampaignID: uuid.MustParse("01970000-0000-7000-8000-000000000001"), MerchantID: "m-1",
		AmountFen: 30000, DiscountFen: 5000, PaidFen: 25000, Currency: "CNY", PaymentChannel: "alipay",
		ChannelTransactionID: "2025060722001", ConfirmedAt: time.Date(2025, 6, 7, 15, 30, 0, 500_000_000, shanghai),
	}
}

func TestReceiptRoundTrip(t *testing.T) {
	s := testSigner(t, 1, "receipt-1")
	r, err := s.Sign(testBody())
	require.NoError(t, err)
	assert.Equal(t, "EdDSA", r.Algorithm)
	assert.Equal(t, "receipt-1", r.KeyID)
	assert.NotContains(t, r.Payload+r.Signature, "=", "base64url without padding")

	payload, err := base64.RawURLEncoding.DecodeString(r.Payload)
	require.NoError(t, err)
	assert.Equal(t, `{"redemption_id":"01975a3c-0000-7000-8000-0000000000aa","platform_id":"taobao","order_no":"TB-20250607-1",`+
		`"voucher_code":"7K3M9QXW2HZ4RT8N","campaign_id":"01970000-0000-7000-8000-000000000001","merchant_id":"m-1",`+
		`"amount_fen":30000,"discount_fen":5000,"paid_fen":25000,"currency":"CNY","payment_channel":"alipay",`+
		`"channel_transaction_id":"2025060722001","confirmed_at":"2025-06-07T07:30:00.5Z"}`, string(payload),
		"the canonical JSON: fixed field order, UTC, trailing zeros trimmed")

	other := testSigner(t, 2, "receipt-2")
	got, err := VerifyReceipt(r, []JWK{other.PublicJWK(), s.PublicJWK()})
	require.NoError(t, err)
	want := testBody()
	want.ConfirmedAt = want.ConfirmedAt.UTC()
	assert.Equal(t, want, got)
}

func TestPublicJWK(t *testing.T) {
	s := testSigner(t, 1, "receipt-1")
	k := s.PublicJWK()
	assert.Equal(t, JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(s.key.Public().(ed25519.PublicKey)),
		Kid: "receipt-1", Alg: "EdDSA", Use: "sig"}, k)
}

func TestVerifyReceiptRefuses(t *testing.T) {
	s := testSigner(t, 1, "receipt-1")
	good, err := s.Sign(testBody())
	require.NoError(t, err)
	keys := []JWK{s.PublicJWK()}
	signed := func(payload string) Receipt { // a genuine signature over any payload
		return Receipt{Payload: payload, Signature: base64.RawURLEncoding.EncodeToString(ed25519.Sign(s.key, []byte(payload))),
			KeyID: "receipt-1", Algorithm: "EdDSA"}
	}
	cases := []struct {
		name    string
		receipt func() Receipt
		keys    []JWK
		want    error
		message string
	}{
		{"tampered payload", func() Receipt {
			r := good
			body, _ := base64.RawURLEncoding.DecodeString(r.Payload)
			r.Payload = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(body), `"discount_fen":5000`, `"discount_fen":50000`, 1)))
			return r
		}, keys, ErrBadSignature, "bad receipt signature: it does not match the payload under key receipt-1"},
		{"tampered signature", func() Receipt {
			r := good
			sig, _ := base64.RawURLEncoding.DecodeString(r.Signature)
			sig[0] ^= 1
			r.Signature = base64.RawURLEncoding.EncodeToString(sig)
			return r
		}, keys, ErrBadSignature, ""},
		{"signature not base64url", func() Receipt { r := good; r.Signature += "=="; return r }, keys, ErrBadSignature, "not base64url"},
		{"wrong key under the same id", func() Receipt { return good }, []JWK{testSigner(t, 2, "receipt-1").PublicJWK()}, ErrBadSignature, ""},
		{"unknown key id", func() Receipt { return good }, []JWK{testSigner(t, 2, "receipt-2").PublicJWK(), testSigner(t, 3, "receipt-3").PublicJWK()},
			ErrUnknownKey, `unknown receipt key "receipt-1": the key set has receipt-2, receipt-3`},
		{"no keys", func() Receipt { return good }, nil, ErrUnknownKey, "the key set is empty"},
		{"another algorithm", func() Receipt { r := good; r.Algorithm = "none"; return r }, keys, ErrBadSignature, `algorithm "none"`},
		{"key of another type", func() Receipt { return good }, []JWK{{Kty: "EC", Crv: "P-256", X: keys[0].X, Kid: "receipt-1"}}, ErrBadKey, ""},
		{"key of the wrong size", func() Receipt { return good }, []JWK{{Kty: "OKP", Crv: "Ed25519", X: "AAAA", Kid: "receipt-1"}}, ErrBadKey, ""},
		{"signed payload not base64url", func() Receipt { return signed("not base64!") }, keys, ErrBadPayload, "not base64url"},
		{"signed payload not JSON", func() Receipt { return signed(base64.RawURLEncoding.EncodeToString([]byte("hello"))) }, keys, ErrBadPayload, "not a receipt body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyReceipt(tc.receipt(), tc.keys)
			require.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.message)
		})
	}
}

func TestSignRefusesATimeJSONCannotCarry(t *testing.T) {
	b := testBody()
	b.ConfirmedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := testSigner(t, 1, "receipt-1").Sign(b)
	assert.Error(t, err)
}
