package registry

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tongquan/tongquan/internal/apperr"
)

// RowError reports one rejected data row of a merchant CSV file.
type RowError struct {
	// Row counts CSV records, not lines: the header is row 0 and the first
	// data row is row 1, so in a spreadsheet it is on line Row+1 (unless a
	// quoted value spans lines).
	Row        int                 `json:"row"`
	MerchantID string              `json:"merchant_id,omitempty"`
	Fields     []apperr.FieldError `json:"fields"`
}

// csvColumns are the columns of a merchant import; the last is optional.
var csvColumns = []string{"merchant_id", "name", "uscc", "region", "category", "channel", "status"}

const csvOptionalColumn = "status"

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ParseMerchantCSV reads a merchant import for platformID. The header names
// the columns merchant_id, name, uscc, region, category, channel and
// optionally status (default active, also for an empty cell), in any order and
// any letter case. Values are trimmed of surrounding spaces; a leading UTF-8
// byte order mark, as spreadsheet programs write, is skipped.
//
// A bad row is reported in rowErrors and left out of merchants; so is a row
// whose merchant_id an earlier row already used, or whose number of values
// differs from the header's. A whole-file problem (no header, an unknown,
// missing or repeated column, more than maxRows data rows, broken quoting) is
// returned as err, VALIDATION_FAILED naming the field "header" or "file", with
// no merchants. A read error from r is wrapped, VALIDATION_FAILED, keeping the
// cause for errors.As (a handler can map *http.MaxBytesError to 413).
func ParseMerchantCSV(r io.Reader, platformID string, maxRows int) (merchants []Merchant, rowErrors []RowError, err error) {
	if err := ValidatePlatformID(platformID); err != nil {
		return nil, nil, err
	}
	if maxRows < 1 {
		return nil, nil, apperr.New(apperr.CodeInternal, "merchant import limit must be at least 1 row, got %d", maxRows)
	}
	br := bufio.NewReader(r)
	if head, err := br.Peek(len(utf8BOM)); bytes.Equal(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	} else if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, readError(err)
	}
	cr := csv.NewReader(br)
	// FieldsPerRecord stays 0: the reader then holds every row to the header's
	// width and reports a short or long row as ErrFieldCount, with the row.
	cr.ReuseRecord = true

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, invalid("header", "the file is empty; its first line must name the columns "+strings.Join(csvColumns, ","))
	}
	if err != nil {
		return nil, nil, readError(err)
	}
	width := len(header)
	cols, err := csvHeader(header)
	if err != nil {
		return nil, nil, err
	}
	cell := func(rec []string, name string) string {
		if i, ok := cols[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}

	firstRow := map[string]int{} // merchant id → the row that used it first
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return merchants, rowErrors, nil
		}
		if row > maxRows {
			return nil, nil, invalid("file", fmt.Sprintf("has more than %d data rows; split it into files of at most %d", maxRows, maxRows))
		}
		if errors.Is(err, csv.ErrFieldCount) {
			rowErrors = append(rowErrors, RowError{Row: row, MerchantID: cell(rec, "merchant_id"), Fields: []apperr.FieldError{{
				Field:  "row",
				Reason: fmt.Sprintf("has %d values but the header has %d columns", len(rec), width),
			}}})
			continue
		}
		if err != nil {
			return nil, nil, readError(err)
		}

		m := Merchant{
			PlatformID: platformID,
			MerchantID: cell(rec, "merchant_id"),
			Name:       cell(rec, "name"),
			USCC:       cell(rec, "uscc"),
			Region:     cell(rec, "region"),
			Category:   cell(rec, "category"),
			Channel:    cell(rec, "channel"),
			Status:     cell(rec, "status"),
		}
		if m.Status == "" {
			m.Status = MerchantActive
		}
		fields := m.Validate()
		if first, seen := firstRow[m.MerchantID]; seen {
			fields = append(fields, apperr.FieldError{
				Field:  "merchant_id",
				Reason: fmt.Sprintf("repeats row %d; each merchant may appear once per file", first),
			})
		} else {
			firstRow[m.MerchantID] = row
		}
		if len(fields) > 0 {
			rowErrors = append(rowErrors, RowError{Row: row, MerchantID: m.MerchantID, Fields: fields})
			continue
		}
		merchants = append(merchants, m)
	}
}

// csvHeader maps each column name to its index, or reports every problem
// with the header at once.
func csvHeader(header []string) (map[string]int, error) {
	cols := make(map[string]int, len(header))
	var ps problems
	for i, raw := range header {
		name := strings.ToLower(strings.TrimSpace(raw))
		switch first, dup := cols[name]; {
		case name == "":
			ps.add("header", fmt.Sprintf("column %d has no name", i+1))
		case !slices.Contains(csvColumns, name):
			ps.add("header", fmt.Sprintf("unknown column %q; the columns are %s", strings.TrimSpace(raw), strings.Join(csvColumns, ", ")))
		case dup:
			ps.add("header", fmt.Sprintf("column %q appears twice (columns %d and %d)", name, first+1, i+1))
		default:
			cols[name] = i
		}
	}
	for _, name := range csvColumns {
		if _, ok := cols[name]; !ok && name != csvOptionalColumn {
			ps.add("header", fmt.Sprintf("required column %q is missing", name))
		}
	}
	if len(ps) > 0 {
		return nil, apperr.Invalid(ps...)
	}
	return cols, nil
}

// readError turns a CSV syntax error into a message about the file, and keeps
// any other read error as the cause.
func readError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return invalid("file", fmt.Sprintf("is not valid CSV at line %d, column %d: %v; a value holding quotes must be quoted, with each quote inside doubled (\"\")",
			pe.Line, pe.Column, pe.Err))
	}
	return apperr.Wrap(err, apperr.CodeValidationFailed, "the file could not be read")
}
