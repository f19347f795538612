package settlement

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
)

// Record is one confirmed redemption as one side of a reconciliation sees it.
type Record struct {
	RedemptionID uuid.UUID
	OrderNo      string
	DiscountFen  int64
	PaidFen      int64
	Channel      string
	ChannelTxnID string
}

// UploadHeader names the columns of a platform's record of a day, in any order.
var UploadHeader = []string{"order_no", "redemption_id", "discount_fen", "paid_fen", "payment_channel", "channel_txn_id"}

// Upload is a parsed platform record, keyed by redemption id.
type Upload struct {
	rows map[uuid.UUID]uploadRow
}

type uploadRow struct {
	Record
	line int
}

// Len is the number of data rows.
func (u *Upload) Len() int { return len(u.rows) }

// malformed is the 400 of a bad upload, naming the line (1 is the header).
func malformed(line int, format string, args ...any) error {
	return apperr.Invalid(apperr.FieldError{Field: fmt.Sprintf("line %d", line), Reason: fmt.Sprintf(format, args...)}).
		With("line", line)
}

// ParseUpload reads a platform's CSV record of a day: a header row naming the
// columns of UploadHeader, then one row per redemption. The first bad line
// refuses the whole file (VALIDATION_FAILED naming the line): a
// reconciliation of half a file would report phantom differences.
func ParseUpload(r io.Reader) (*Upload, error) {
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, malformed(1, "the file is empty; the first line must be the header %s", strings.Join(UploadHeader, ","))
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := map[string]int{}
	for i, name := range header {
		name = strings.TrimSpace(name)
		if !slices.Contains(UploadHeader, name) {
			return nil, malformed(1, "unknown column %q; the columns are %s", name, strings.Join(UploadHeader, ","))
		}
		if _, dup := col[name]; dup {
			return nil, malformed(1, "column %q appears twice", name)
		}
		col[name] = i
	}
	for _, name := range UploadHeader {
		if _, ok := col[name]; !ok {
			return nil, malformed(1, "column %q is missing; the columns are %s", name, strings.Join(UploadHeader, ","))
		}
	}
	u := &Upload{rows: map[uuid.UUID]uploadRow{}}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return u, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		get := func(name string) string { return strings.TrimSpace(rec[col[name]]) }
		row := uploadRow{line: line}
		if row.RedemptionID, err = uuid.Parse(get("redemption_id")); err != nil || len(get("redemption_id")) != 36 {
			return nil, malformed(line, "redemption_id must be a UUID")
		}
		if prior, dup := u.rows[row.RedemptionID]; dup {
			return nil, malformed(line, "redemption %s is listed twice (first on line %d)", row.RedemptionID, prior.line)
		}
		if row.OrderNo = get("order_no"); row.OrderNo == "" {
			return nil, malformed(line, "order_no is empty")
		}
		for _, f := range []struct {
			name string
			to   *int64
		}{{"discount_fen", &row.DiscountFen}, {"paid_fen", &row.PaidFen}} {
			v, err := strconv.ParseInt(get(f.name), 10, 64)
			if err != nil || v < 0 {
				return nil, malformed(line, "%s must be a whole number of fen, 0 or more", f.name)
			}
			*f.to = v
		}
		if row.Channel = get("payment_channel"); row.Channel == "" {
			return nil, malformed(line, "payment_channel is empty")
		}
		row.ChannelTxnID = get("channel_txn_id")
		u.rows[row.RedemptionID] = row
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return malformed(pe.Line, "%v", pe.Err)
	}
	return err
}

// Finding is one row of a reconciliation report. Ours or Theirs is nil when
// that side has no such redemption; Fields names what differs.
type Finding struct {
	RedemptionID uuid.UUID
	OrderNo      string
	Line         int // of the upload, 0 when it is not there
	Ours, Theirs *Record
	Fields       []string
}

// Category is one kind of finding: the full count and the first rows.
type Category struct {
	Count     int64
	Rows      []Finding
	Truncated bool // more rows than the report lists
}

func (c *Category) add(f Finding, max int) {
	c.Count++
	if len(c.Rows) < max {
		c.Rows = append(c.Rows, f)
	} else {
		c.Truncated = true
	}
}

// Report compares a platform's record of a day with ours.
type Report struct {
	Matched Category
	// MissingHere is in the upload but not in our record of the day.
	MissingHere Category
	// MissingInUpload is in our record but not in the upload.
	MissingInUpload Category
	// AmountMismatch: discount or paid differ (other differences are named too).
	AmountMismatch Category
	// ChannelMismatch: payment channel, channel transaction id or order number
	// differ while the amounts agree.
	ChannelMismatch Category
}

// Reconciler compares our records, streamed one at a time, with an upload.
type Reconciler struct {
	upload  *Upload
	seen    map[uuid.UUID]bool
	maxRows int
	report  Report
}

// NewReconciler starts a comparison listing at most maxRows rows per category.
func NewReconciler(u *Upload, maxRows int) *Reconciler {
	return &Reconciler{upload: u, seen: map[uuid.UUID]bool{}, maxRows: maxRows}
}

// Ours compares one of our records with the upload.
func (c *Reconciler) Ours(ours Record) {
	theirs, ok := c.upload.rows[ours.RedemptionID]
	f := Finding{RedemptionID: ours.RedemptionID, OrderNo: ours.OrderNo, Ours: &ours}
	if !ok {
		c.report.MissingInUpload.add(f, c.maxRows)
		return
	}
	c.seen[ours.RedemptionID] = true
	f.Line, f.Theirs = theirs.line, &theirs.Record
	amounts := false
	if ours.DiscountFen != theirs.DiscountFen {
		f.Fields, amounts = append(f.Fields, "discount_fen"), true
	}
	if ours.PaidFen != theirs.PaidFen {
		f.Fields, amounts = append(f.Fields, "paid_fen"), true
	}
	if ours.Channel != theirs.Channel {
		f.Fields = append(f.Fields, "payment_channel")
	}
	if ours.ChannelTxnID != theirs.ChannelTxnID {
		f.Fields = append(f.Fields, "channel_txn_id")
	}
	if ours.OrderNo != theirs.OrderNo {
		f.Fields = append(f.Fields, "order_no")
	}
	switch {
	case amounts:
		c.report.AmountMismatch.add(f, c.maxRows)
	case len(f.Fields) > 0:
		c.report.ChannelMismatch.add(f, c.maxRows)
	default:
		c.report.Matched.add(f, c.maxRows)
	}
}

// Report finishes the comparison: uploaded rows we never saw are missing
// here, in the order of the upload.
func (c *Reconciler) Report() Report {
	var rest []uploadRow
	for id, row := range c.upload.rows {
		if !c.seen[id] {
			rest = append(rest, row)
		}
	}
	slices.SortFunc(rest, func(a, b uploadRow) int { return a.line - b.line })
	r := c.report
	for _, row := range rest {
		theirs := row.Record
		r.MissingHere.add(Finding{RedemptionID: row.RedemptionID, OrderNo: row.OrderNo, Line: row.line, Theirs: &theirs}, c.maxRows)
	}
	return r
}
