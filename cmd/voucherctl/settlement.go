package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tongquan/tongquan/internal/auth"
)

const settlementGroup = "voucherctl settlement"

var settlementCommands = group{name: settlementGroup, commands: map[string]command{
	"list": {"list settlement statements by business date (--csv: every line as CSV)", runSettlementList},
	"show": {"show one statement with its per-merchant lines", runSettlementShow},
	"pay":  {"mark a statement paid (approvers): moves what it owes from payable to settled", runSettlementPay},
}}

// settlementAmounts is the contract's SettlementAmounts.
type settlementAmounts struct {
	ConfirmedCount  int64 `json:"confirmed_count"`
	DiscountFen     int64 `json:"discount_fen"`
	PaidFen         int64 `json:"paid_fen"`
	RefundCount     int64 `json:"refund_count"`
	RefundedFen     int64 `json:"refunded_fen"`
	ClawbackFen     int64 `json:"clawback_fen"`
	AdjustmentCount int64 `json:"adjustment_count"`
	AdjustmentFen   int64 `json:"adjustment_fen"`
	NetFen          int64 `json:"net_fen"`
}

// statement is the contract's Settlement.
type statement struct {
	ID               string            `json:"id"`
	PlatformID       string            `json:"platform_id"`
	BusinessDate     string            `json:"business_date"`
	Status           string            `json:"status"`
	Totals           settlementAmounts `json:"totals"`
	IssuedAt         time.Time         `json:"issued_at"`
	PaidAt           time.Time         `json:"paid_at"`
	PaidBy           string            `json:"paid_by"`
	PaymentReference string            `json:"payment_reference"`
	Lines            []struct {
		CampaignID string            `json:"campaign_id"`
		MerchantID string            `json:"merchant_id"`
		Amounts    settlementAmounts `json:"amounts"`
	} `json:"lines"`
}

func runSettlementList(out io.Writer, args []string) error {
	fs, conn := newFlags(settlementGroup+" list", "", auth.RoleAuditor)
	platform := fs.String("platform", "", "only this platform's statements")
	from := fs.String("from", "", "business dates on or after (YYYY-MM-DD)")
	to := fs.String("to", "", "business dates on or before (YYYY-MM-DD)")
	status := fs.String("status", "", "issued or paid")
	limit := fs.Int("limit", 0, "page size, 1..500 (server default 50)")
	cursor := fs.String("cursor", "", "the next page, as a previous list printed it")
	asCSV := fs.Bool("csv", false, "print every line of every selected statement as CSV (all pages)")
	if _, err := parse(fs, out, args); err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	q := query("platform_id", *platform, "from", *from, "to", *to, "status", *status)
	if *asCSV {
		q.Set("format", "csv")
		raw, err := c.send(http.MethodGet, "/v1/settlements", q, "", nil)
		if err != nil {
			return err
		}
		_, err = out.Write(raw)
		return err
	}
	q = query("platform_id", *platform, "from", *from, "to", *to, "status", *status, "limit", intParam(*limit), "cursor", *cursor)
	raw, err := c.sendJSON(http.MethodGet, "/v1/settlements", q, nil)
	if err != nil {
		return err
	}
	type page struct {
		Items      []statement `json:"items"`
		NextCursor string      `json:"next_cursor"`
	}
	_, err = render(c, out, raw, func(w io.Writer, p *page) {
		fmt.Fprintln(w, "DATE\tPLATFORM\tSTATUS\tCONFIRMED\tREFUNDS\tADJUSTMENTS\tNET\tID")
		for _, s := range p.Items {
			t := s.Totals
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", s.BusinessDate, s.PlatformID, s.Status, t.ConfirmedCount,
				t.RefundCount, t.AdjustmentCount, yuan(t.NetFen), s.ID)
		}
		if p.NextCursor != "" {
			fmt.Fprintf(w, "\nMore: add --cursor %s\n", p.NextCursor)
		}
	})
	return err
}

func runSettlementShow(out io.Writer, args []string) error {
	return showOne(out, args, settlementGroup+" show", "STATEMENT_ID", auth.RoleAuditor,
		func(id string) string { return apiPath("v1", "settlements", id) }, showStatement)
}

func showStatement(w io.Writer, s *statement) {
	t := s.Totals
	fmt.Fprintf(w, "Statement:\t%s\n", s.ID)
	fmt.Fprintf(w, "Platform:\t%s\n", s.PlatformID)
	fmt.Fprintf(w, "Business date:\t%s\n", s.BusinessDate)
	fmt.Fprintf(w, "Status:\t%s\n", s.Status)
	fmt.Fprintf(w, "Issued at:\t%s\n", when(s.IssuedAt))
	if s.Status == "paid" {
		fmt.Fprintf(w, "Paid at:\t%s by %s, reference %s\n", when(s.PaidAt), s.PaidBy, s.PaymentReference)
	}
	fmt.Fprintf(w, "Confirmed:\t%d, discounts %s\n", t.ConfirmedCount, yuan(t.DiscountFen))
	fmt.Fprintf(w, "Refunds:\t%d, clawed back %s\n", t.RefundCount, yuan(t.ClawbackFen))
	fmt.Fprintf(w, "Adjustments:\t%d, clawed back %s\n", t.AdjustmentCount, yuan(t.AdjustmentFen))
	fmt.Fprintf(w, "Net owed:\t%s\n", yuan(t.NetFen))
	if len(s.Lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nCAMPAIGN\tMERCHANT\tCONFIRMED\tDISCOUNT FEN\tREFUNDS\tCLAWBACK FEN\tADJUSTMENTS\tADJUSTMENT FEN\tNET FEN")
	for _, l := range s.Lines {
		a := l.Amounts
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", l.CampaignID, l.MerchantID, a.ConfirmedCount, a.DiscountFen,
			a.RefundCount, a.ClawbackFen, a.AdjustmentCount, a.AdjustmentFen, a.NetFen)
	}
}

// runSettlementPay uses an Idempotency-Key derived from the statement, so
// running the same command again (after a timeout, say) replays the payment
// instead of failing; another reference for a paid statement is refused.
func runSettlementPay(out io.Writer, args []string) error {
	fs, conn := newFlags(settlementGroup+" pay", "STATEMENT_ID --reference REF", auth.RoleApprover)
	reference := fs.String("reference", "", "the bank transfer (or other payment) that paid it")
	pos, err := parse(fs, out, args, "STATEMENT_ID")
	if err != nil {
		return err
	}
	if *reference == "" {
		return usageError("--reference is required: name the payment, e.g. --reference ICBC-20261205-0001")
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	c.idempotencyKey = "settlement-pay-" + pos[0]
	raw, err := c.sendJSON(http.MethodPost, apiPath("v1", "settlements", pos[0], "pay"), nil,
		map[string]string{"payment_reference": *reference})
	if err != nil {
		return err
	}
	_, err = render(c, out, raw, showStatement)
	return err
}

const reconcileUsage = "voucherctl reconcile"

// reconciliationReport is the contract's ReconciliationReport.
type reconciliationReport struct {
	PlatformID      string                 `json:"platform_id"`
	BusinessDate    string                 `json:"business_date"`
	UploadedRows    int                    `json:"uploaded_rows"`
	Matched         reconciliationCategory `json:"matched"`
	MissingHere     reconciliationCategory `json:"missing_here"`
	MissingInUpload reconciliationCategory `json:"missing_in_upload"`
	AmountMismatch  reconciliationCategory `json:"amount_mismatch"`
	ChannelMismatch reconciliationCategory `json:"channel_mismatch"`
}

type reconciliationCategory struct {
	Count     int64 `json:"count"`
	Truncated bool  `json:"truncated"`
	Rows      []struct {
		RedemptionID string   `json:"redemption_id"`
		OrderNo      string   `json:"order_no"`
		Line         int      `json:"line"`
		Fields       []string `json:"fields"`
		Ours         *struct {
			DiscountFen    int64  `json:"discount_fen"`
			PaidFen        int64  `json:"paid_fen"`
			PaymentChannel string `json:"payment_channel"`
			ChannelTxnID   string `json:"channel_txn_id"`
		} `json:"ours"`
		Theirs *struct {
			DiscountFen    int64  `json:"discount_fen"`
			PaidFen        int64  `json:"paid_fen"`
			PaymentChannel string `json:"payment_channel"`
			ChannelTxnID   string `json:"channel_txn_id"`
		} `json:"theirs"`
	} `json:"rows"`
}

// runReconcile fails when anything differs, so a nightly script notices.
func runReconcile(out io.Writer, args []string) error {
	fs, conn := newFlags(reconcileUsage, "--platform P --date YYYY-MM-DD FILE.csv", auth.RoleAuditor)
	platform := fs.String("platform", "", "the platform whose record this is")
	date := fs.String("date", "", "the business date the file covers (campaign time zone)")
	pos, err := parse(fs, out, args, "FILE.csv")
	if err != nil {
		return err
	}
	if *platform == "" || *date == "" {
		return usageError("--platform and --date are required, e.g. --platform jd --date 2026-12-04")
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	raw, err := c.send(http.MethodPost, "/v1/reconciliations", query("platform_id", *platform, "business_date", *date),
		"text/csv", bytes.NewReader(data))
	if err != nil {
		return err
	}
	r, err := render(c, out, raw, func(w io.Writer, r *reconciliationReport) {
		fmt.Fprintf(w, "Platform:\t%s\nBusiness date:\t%s\nUploaded rows:\t%d\n", r.PlatformID, r.BusinessDate, r.UploadedRows)
		for _, k := range r.kinds() {
			fmt.Fprintf(w, "%s:\t%d\n", k.name, k.c.Count)
		}
		for _, k := range r.kinds()[1:] {
			if k.c.Count == 0 {
				continue
			}
			fmt.Fprintf(w, "\n%s\nREDEMPTION\tORDER\tLINE\tDIFFERS\tOURS\tTHEIRS\n", strings.ToUpper(k.name))
			for _, row := range k.c.Rows {
				line := "-"
				if row.Line > 0 {
					line = fmt.Sprint(row.Line)
				}
				ours, theirs := "-", "-"
				if row.Ours != nil {
					ours = fmt.Sprintf("%d/%d %s %s", row.Ours.DiscountFen, row.Ours.PaidFen, row.Ours.PaymentChannel, orDash(row.Ours.ChannelTxnID))
				}
				if row.Theirs != nil {
					theirs = fmt.Sprintf("%d/%d %s %s", row.Theirs.DiscountFen, row.Theirs.PaidFen, row.Theirs.PaymentChannel, orDash(row.Theirs.ChannelTxnID))
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", row.RedemptionID, row.OrderNo, line, orDash(strings.Join(row.Fields, ",")), ours, theirs)
			}
			if k.c.Truncated {
				fmt.Fprintf(w, "(first %d of %d; -o json for the report as is)\n", len(k.c.Rows), k.c.Count)
			}
		}
	})
	if err != nil {
		return err
	}
	if r.MissingHere.Count+r.MissingInUpload.Count+r.AmountMismatch.Count+r.ChannelMismatch.Count > 0 {
		return fmt.Errorf("the records differ: %d missing here, %d missing in the upload, %d amount and %d channel mismatches",
			r.MissingHere.Count, r.MissingInUpload.Count, r.AmountMismatch.Count, r.ChannelMismatch.Count)
	}
	return nil
}

type reconciliationKind struct {
	name string
	c    reconciliationCategory
}

// kinds lists the report's categories, matched first.
func (r *reconciliationReport) kinds() []reconciliationKind {
	return []reconciliationKind{
		{"Matched", r.Matched}, {"Missing here", r.MissingHere}, {"Missing in upload", r.MissingInUpload},
		{"Amount mismatch", r.AmountMismatch}, {"Channel mismatch", r.ChannelMismatch},
	}
}
