package settlement

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Statement is what a platform is owed for the items of one business date
// (and late items of earlier dates).
type Statement struct {
	ID           uuid.UUID
	PlatformID   string
	BusinessDate time.Time
	Currency     string
	Status       string
	Totals       Amounts
	IssuedAt     time.Time
	PaidAt       *time.Time
	PaidBy       string
	// PaymentReference names the bank transfer that paid it.
	PaymentReference string
	Lines            []Line
}

// CSVHeader is the header of the CSV form: one row per line of each statement.
var CSVHeader = []string{
	"statement_id", "platform_id", "business_date", "status", "currency", "campaign_id", "merchant_id",
	"confirmed_count", "discount_fen", "paid_fen", "refund_count", "refunded_fen", "clawback_fen",
	"adjustment_count", "adjustment_fen", "net_fen",
}

// CSVRows renders a statement's lines in the order of CSVHeader.
func (s Statement) CSVRows() [][]string {
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	out := make([][]string, len(s.Lines))
	for n, l := range s.Lines {
		out[n] = []string{
			s.ID.String(), s.PlatformID, s.BusinessDate.Format(time.DateOnly), s.Status, s.Currency,
			l.CampaignID.String(), l.MerchantID, i(l.ConfirmedCount), i(l.DiscountFen), i(l.PaidFen),
			i(l.RefundCount), i(l.RefundedFen), i(l.ClawbackFen), i(l.AdjustmentCount), i(l.AdjustmentFen), i(l.NetFen),
		}
	}
	return out
}

// WriteCSV writes the header and every line of statements.
func WriteCSV(w io.Writer, statements []Statement) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, s := range statements {
		if err := cw.WriteAll(s.CSVRows()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
