package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tongquan/tongquan/internal/redemption"
)

const receiptGroup = "voucherctl receipt"

var receiptCommands = group{name: receiptGroup, commands: map[string]command{
	"verify": {"check a checkout receipt's signature with voucherd's published keys and show what it proves", runReceiptVerify},
}}

// receiptKeysPath is where voucherd publishes the receipt keys, without a token.
const receiptKeysPath = "/.well-known/tongquan-receipt-keys"

// receiptKeySet is the contract's ReceiptKeys.
type receiptKeySet struct {
	Keys []redemption.JWK `json:"keys"`
}

// redemptionDoc is the part of the contract's Redemption that its receipt signs.
type redemptionDoc struct {
	ID                   string              `json:"id"`
	Status               string              `json:"status"`
	VoucherCode          string              `json:"voucher_code"`
	CampaignID           string              `json:"campaign_id"`
	OrderNo              string              `json:"order_no"`
	MerchantID           string              `json:"merchant_id"`
	AmountFen            int64               `json:"amount_fen"`
	DiscountFen          int64               `json:"discount_fen"`
	PaidFen              int64               `json:"paid_fen"`
	PaymentChannel       string              `json:"payment_channel"`
	ChannelTransactionID string              `json:"channel_transaction_id"`
	ConfirmedAt          time.Time           `json:"confirmed_at"`
	Receipt              *redemption.Receipt `json:"receipt"`
}

// runReceiptVerify needs no token: a receipt is proof for anyone holding the
// public keys, and with --keys it runs offline, say at a settlement bank.
// It exits non-zero, naming the problem, unless the receipt verifies.
func runReceiptVerify(out io.Writer, args []string) error {
	fs := flag.NewFlagSet(receiptGroup+" verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports problems itself, to the right stream
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s verify FILE.json [flags]\n\n"+
			"FILE.json is a receipt, or a redemption that carries one (as voucherd answers a confirm).\n\nflags:\n", receiptGroup)
		fs.PrintDefaults()
	}
	server := fs.String("server", envOr("TONGQUAN_URL", "http://localhost:8080"), "voucherd's URL, whose published keys verify (env TONGQUAN_URL)")
	keysFile := fs.String("keys", "", "verify offline with this copy of "+receiptKeysPath+" instead of asking --server")
	output := fs.String("o", "table", "output format: table, or json for the signed body")
	pos, err := parse(fs, out, args, "FILE.json")
	if err != nil {
		return err
	}
	if *output != "table" && *output != "json" {
		return usageError(fmt.Sprintf("-o must be table or json, got %q", *output))
	}
	r, doc, err := readReceipt(pos[0])
	if err != nil {
		return err
	}
	var keys []redemption.JWK
	if *keysFile != "" {
		keys, err = readReceiptKeys(*keysFile)
	} else {
		keys, err = fetchReceiptKeys(*server)
	}
	if err != nil {
		return err
	}
	body, err := redemption.VerifyReceipt(r, keys)
	if err != nil {
		return fmt.Errorf("verification failed: %w", err)
	}
	if doc != nil {
		if diffs := doc.disagreements(body); len(diffs) > 0 {
			return fmt.Errorf("verification failed: the receipt is genuine, but the redemption around it was altered:\n  %s",
				strings.Join(diffs, "\n  "))
		}
	}
	if *output == "json" {
		b, err := json.MarshalIndent(body, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "Result:\tok: signed by %s\n", r.KeyID)
	fmt.Fprintf(w, "Redemption:\t%s\n", body.RedemptionID)
	fmt.Fprintf(w, "Platform:\t%s\n", body.PlatformID)
	fmt.Fprintf(w, "Order:\t%s\n", body.OrderNo)
	fmt.Fprintf(w, "Voucher:\t%s\n", body.VoucherCode)
	fmt.Fprintf(w, "Campaign:\t%s\n", body.CampaignID)
	fmt.Fprintf(w, "Merchant:\t%s\n", body.MerchantID)
	fmt.Fprintf(w, "Amount:\t%s\n", yuan(body.AmountFen))
	fmt.Fprintf(w, "Discount:\t%s\n", yuan(body.DiscountFen))
	fmt.Fprintf(w, "Paid:\t%s\n", yuan(body.PaidFen))
	fmt.Fprintf(w, "Currency:\t%s\n", body.Currency)
	fmt.Fprintf(w, "Payment channel:\t%s\n", body.PaymentChannel)
	fmt.Fprintf(w, "Channel transaction:\t%s\n", body.ChannelTransactionID)
	fmt.Fprintf(w, "Confirmed at:\t%s\n", when(body.ConfirmedAt))
	return w.Flush()
}

// readReceipt reads a Receipt, or a Redemption and the receipt it carries.
func readReceipt(path string) (redemption.Receipt, *redemptionDoc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return redemption.Receipt{}, nil, err
	}
	var r redemption.Receipt
	if err := json.Unmarshal(data, &r); err != nil {
		return redemption.Receipt{}, nil, fmt.Errorf("%s is not a JSON receipt or redemption: %w", path, err)
	}
	if r.Payload != "" {
		return r, nil, nil
	}
	var doc redemptionDoc
	if err := json.Unmarshal(data, &doc); err != nil || doc.ID == "" {
		return redemption.Receipt{}, nil, fmt.Errorf("%s is neither a receipt (payload, signature, key_id, algorithm) nor a redemption", path)
	}
	if doc.Receipt == nil {
		return redemption.Receipt{}, nil, fmt.Errorf("redemption %s is %s and carries no receipt: only a confirmed redemption has one", doc.ID, doc.Status)
	}
	return *doc.Receipt, &doc, nil
}

// disagreements lists the fields where the redemption says other than its
// signed receipt: the signature covers the receipt only, so an edited
// redemption beside a genuine receipt would otherwise pass.
func (d *redemptionDoc) disagreements(b redemption.ReceiptBody) []string {
	var out []string
	check := func(field string, doc, signed any) {
		if fmt.Sprint(doc) != fmt.Sprint(signed) {
			out = append(out, fmt.Sprintf("%s: %v in the redemption, %v in the signed receipt", field, doc, signed))
		}
	}
	check("id", d.ID, b.RedemptionID)
	check("voucher_code", d.VoucherCode, b.VoucherCode)
	check("campaign_id", d.CampaignID, b.CampaignID)
	check("order_no", d.OrderNo, b.OrderNo)
	check("merchant_id", d.MerchantID, b.MerchantID)
	check("amount_fen", d.AmountFen, b.AmountFen)
	check("discount_fen", d.DiscountFen, b.DiscountFen)
	check("paid_fen", d.PaidFen, b.PaidFen)
	check("payment_channel", d.PaymentChannel, b.PaymentChannel)
	check("channel_transaction_id", d.ChannelTransactionID, b.ChannelTransactionID)
	if !d.ConfirmedAt.Equal(b.ConfirmedAt) { // the same instant may be written in another zone
		check("confirmed_at", d.ConfirmedAt.Format(time.RFC3339Nano), b.ConfirmedAt.Format(time.RFC3339Nano))
	}
	return out
}

func readReceiptKeys(path string) ([]redemption.JWK, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set receiptKeySet
	if err := json.Unmarshal(data, &set); err != nil || len(set.Keys) == 0 {
		return nil, fmt.Errorf("%s has no receipt keys: give it the JSON of %s", path, receiptKeysPath)
	}
	return set.Keys, nil
}

// fetchReceiptKeys asks voucherd for its published keys. No token is sent:
// the keys are public, and a verifier may have no account.
func fetchReceiptKeys(server string) ([]redemption.JWK, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError(fmt.Sprintf("--server must be an http(s) URL such as http://localhost:8080, got %q", server))
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(server, "/")+receiptKeysPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Timeout: requestTimeout}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w (is voucherd running there? set --server or TONGQUAN_URL, or verify offline with --keys)", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the receipt keys: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newAPIError(resp, data)
	}
	var set receiptKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("unexpected answer from voucherd: %w", err)
	}
	return set.Keys, nil
}
