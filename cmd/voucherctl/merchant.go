package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/registry"
)

var merchantCommands = group{name: "voucherctl merchant", commands: map[string]command{
	"import": {"upsert a platform's merchants from a CSV file (as the platform)", runMerchantImport},
}}

// importReport is the contract's MerchantImportReport.
type importReport struct {
	Rows     int                 `json:"rows"`
	Imported int                 `json:"imported"`
	Rejected int                 `json:"rejected"`
	Errors   []registry.RowError `json:"errors"`
}

// runMerchantImport sends the file as is: the server parses it, so the report
// names rows exactly as the platform's own integration would see them. It
// fails when any row was rejected, so scripts notice a partial import.
func runMerchantImport(out io.Writer, args []string) error {
	fs, conn := newFlags("voucherctl merchant import", "FILE.csv", auth.RolePlatform)
	pos, err := parse(fs, out, args, "FILE.csv")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(pos[0]) // whole, so the request has a Content-Length
	if err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	raw, err := c.send(http.MethodPost, "/v1/merchants/import", nil, "text/csv", bytes.NewReader(data))
	if err != nil {
		return err
	}
	r, err := render(c, out, raw, func(w io.Writer, r *importReport) {
		fmt.Fprintf(w, "Rows:\t%d\nImported:\t%d\nRejected:\t%d\n", r.Rows, r.Imported, r.Rejected)
		if len(r.Errors) == 0 {
			return
		}
		fmt.Fprintln(w, "\nROW\tMERCHANT\tFIELD\tREASON")
		for _, e := range r.Errors {
			for _, fe := range e.Fields {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", e.Row, orDash(e.MerchantID), fe.Field, fe.Reason)
			}
		}
	})
	if err != nil {
		return err
	}
	if r.Rejected > 0 {
		return fmt.Errorf("%d of %d rows rejected (rows count from 1 after the header); fix them and import again: imported rows are upserted, so repeating them changes nothing", r.Rejected, r.Rows)
	}
	return nil
}
