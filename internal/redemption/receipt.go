package redemption

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Algorithm is the JOSE name of the receipts' signature algorithm (Ed25519).
const Algorithm = "EdDSA"

// ReceiptBody is what a receipt proves: a confirmed redemption, as the
// platform will settle it. Field order and names are part of the contract:
// the payload is this struct as encoding/json writes it.
type ReceiptBody struct {
	RedemptionID         uuid.UUID `json:"redemption_id"`
	PlatformID           string    `json:"platform_id"`
	OrderNo              string    `json:"order_no"`
	VoucherCode          string    `json:"voucher_code"`
	CampaignID           uuid.UUID `json:"campaign_id"`
	MerchantID           string    `json:"merchant_id"`
	AmountFen            int64     `json:"amount_fen"`
	DiscountFen          int64     `json:"discount_fen"`
	PaidFen              int64     `json:"paid_fen"`
	Currency             string    `json:"currency"`
	PaymentChannel       string    `json:"payment_channel"`
	ChannelTransactionID string    `json:"channel_transaction_id"`
	ConfirmedAt          time.Time `json:"confirmed_at"` // signed in UTC, RFC 3339 with trailing zeros of the fraction trimmed
}

// Receipt is the contract's Receipt: Signature is Ed25519 over the ASCII
// bytes of Payload, both base64url without padding. Signing the encoded
// payload rather than re-serialised JSON means a verifier never has to
// reproduce our JSON byte for byte.
type Receipt struct {
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
	KeyID     string `json:"key_id"`
	Algorithm string `json:"algorithm"`
}

// JWK is one public key of the receipt key set (RFC 8037 OKP key).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// Signer signs receipts with one key.
type Signer struct {
	key   ed25519.PrivateKey
	keyID string
}

// NewSigner signs with key, published as keyID.
func NewSigner(key ed25519.PrivateKey, keyID string) *Signer {
	return &Signer{key: key, keyID: keyID}
}

var b64 = base64.RawURLEncoding

// Sign makes the receipt of b. It fails only for a time JSON cannot carry
// (a year outside 0–9999).
func (s *Signer) Sign(b ReceiptBody) (Receipt, error) {
	b.ConfirmedAt = b.ConfirmedAt.UTC()
	body, err := json.Marshal(b)
	if err != nil {
		return Receipt{}, fmt.Errorf("receipt of redemption %s: %w", b.RedemptionID, err)
	}
	payload := b64.EncodeToString(body)
	return Receipt{
		Payload:   payload,
		Signature: b64.EncodeToString(ed25519.Sign(s.key, []byte(payload))),
		KeyID:     s.keyID,
		Algorithm: Algorithm,
	}, nil
}

// PublicJWK is the key to publish at /.well-known/tongquan-receipt-keys.
func (s *Signer) PublicJWK() JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(s.key.Public().(ed25519.PublicKey)),
		Kid: s.keyID, Alg: Algorithm, Use: "sig"}
}

// Why a receipt failed to verify; VerifyReceipt's errors wrap one of these.
var (
	ErrUnknownKey   = errors.New("unknown receipt key")
	ErrBadKey       = errors.New("bad receipt key")
	ErrBadSignature = errors.New("bad receipt signature")
	ErrBadPayload   = errors.New("bad receipt payload")
)

// VerifyReceipt checks r's signature with the key of keys it names and
// returns the body it proves. The payload is decoded only once the signature
// holds, so nothing unauthenticated is ever parsed.
func VerifyReceipt(r Receipt, keys []JWK) (ReceiptBody, error) {
	if r.Algorithm != Algorithm {
		return ReceiptBody{}, fmt.Errorf("%w: algorithm %q, but receipts are signed with %s", ErrBadSignature, r.Algorithm, Algorithm)
	}
	pub, err := findKey(r.KeyID, keys)
	if err != nil {
		return ReceiptBody{}, err
	}
	sig, err := b64.DecodeString(r.Signature)
	if err != nil {
		return ReceiptBody{}, fmt.Errorf("%w: not base64url without padding: %v", ErrBadSignature, err)
	}
	if !ed25519.Verify(pub, []byte(r.Payload), sig) {
		return ReceiptBody{}, fmt.Errorf("%w: it does not match the payload under key %s: the receipt was altered or signed with another key",
			ErrBadSignature, r.KeyID)
	}
	body, err := b64.DecodeString(r.Payload)
	if err != nil {
		return ReceiptBody{}, fmt.Errorf("%w: not base64url without padding: %v", ErrBadPayload, err)
	}
	var b ReceiptBody
	if err := json.Unmarshal(body, &b); err != nil {
		return ReceiptBody{}, fmt.Errorf("%w: not a receipt body: %v", ErrBadPayload, err)
	}
	return b, nil
}

// findKey is the Ed25519 public key kid of keys.
func findKey(kid string, keys []JWK) (ed25519.PublicKey, error) {
	kids := make([]string, 0, len(keys))
	for _, k := range keys {
		if k.Kid != kid {
			kids = append(kids, k.Kid)
			continue
		}
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Alg != "" && k.Alg != Algorithm) {
			return nil, fmt.Errorf("%w %s: kty %q, crv %q, alg %q is not an Ed25519 signing key", ErrBadKey, kid, k.Kty, k.Crv, k.Alg)
		}
		x, err := b64.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w %s: x must be the %d-byte public key in base64url without padding", ErrBadKey, kid, ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(x), nil
	}
	if len(kids) == 0 {
		return nil, fmt.Errorf("%w %q: the key set is empty", ErrUnknownKey, kid)
	}
	return nil, fmt.Errorf("%w %q: the key set has %s", ErrUnknownKey, kid, strings.Join(kids, ", "))
}
