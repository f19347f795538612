package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

type grantJob struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	RowsTotal  int64  `json:"rows_total"`
	RowsDone   int64  `json:"rows_done"`
	Granted    int64  `json:"granted"`
	Duplicates int64  `json:"duplicates"`
	Rejected   int64  `json:"rejected"`
	Failure    string `json:"failure"`
}

// bulkGrant: one list of holders granted directly, then the same list
// uploaded again, which must grant nobody twice.
func bulkGrant(ctx context.Context, b *bench) error {
	n := min(b.opt.holders, b.shape.count)
	camp, err := b.env.newCampaign(ctx, campaignSpec{kind: "consumption", budgetFen: int64(n) * discountFen})
	if err != nil {
		return err
	}
	var csv bytes.Buffer
	csv.Grow(n * 27)
	csv.WriteString("id_number,residence_region\n")
	for i := range n {
		csv.WriteString(idNumber(i))
		csv.WriteString("," + holderRegion + "\n")
	}
	first, took, err := b.grant(ctx, camp.id, csv.Bytes(), "grant")
	if err != nil {
		return err
	}
	b.elapsed = took
	again, _, err := b.grant(ctx, camp.id, csv.Bytes(), "grant-again")
	if err != nil {
		return err
	}
	b.note("grant %s: %d rows in %s (%.0f vouchers/s, upload included)", first.ID, first.RowsTotal, took.Round(time.Millisecond), float64(first.Granted)/took.Seconds())
	b.checks = append(b.checks, func(ctx context.Context) invariant {
		const name = "grant gives each holder one voucher"
		if first.Status != "done" || first.Granted != int64(n) || first.Rejected != 0 {
			return fail(name, "first upload: %+v, want %d granted", first, n)
		}
		if again.Status != "done" || again.Granted != 0 || again.Duplicates != int64(n) {
			return fail(name, "second upload of the same list: %+v, want %d duplicates and none granted", again, n)
		}
		if b.db != nil {
			var vouchers, holders int64
			if err := b.db.read(ctx, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT count(*), count(DISTINCT holder_hash) FROM vouchers WHERE campaign_id = $1::uuid AND source = 'grant'`, camp.id).Scan(&vouchers, &holders)
			}); err != nil {
				return fail(name, "SQL: %v", err)
			}
			if vouchers != int64(n) || holders != int64(n) {
				return fail(name, "%d vouchers for %d holders stored, want %d each (SQL)", vouchers, holders, n)
			}
		}
		return pass(name, "%d granted once; the repeated upload found %d duplicates", first.Granted, again.Duplicates)
	})
	return nil
}

// grant uploads the list and waits for the job; the op's count is the
// vouchers granted and its latency the whole job.
func (b *bench) grant(ctx context.Context, campaignID string, csv []byte, op string) (grantJob, time.Duration, error) {
	start := time.Now()
	var job grantJob
	err := b.env.c.must(ctx, request{method: http.MethodPost, path: "/v1/campaigns/" + campaignID + "/grants?" + url.Values{"tier_id": {tierID}}.Encode(),
		token: b.env.manager, contentType: "text/csv", body: csv}, http.StatusAccepted, &job)
	if err != nil {
		return job, 0, fmt.Errorf("upload grant: %w", err)
	}
	for job.Status == "running" {
		time.Sleep(100 * time.Millisecond)
		r, err := b.env.c.do(ctx, jsonRequest(http.MethodGet, "/v1/grants/"+job.ID, b.env.aud, "", nil))
		if err != nil {
			return job, 0, err
		}
		if r.status != http.StatusOK {
			return job, 0, fmt.Errorf("grant %s: %d %s", job.ID, r.status, truncate(r.body, 300))
		}
		if err := json.Unmarshal(r.body, &job); err != nil {
			return job, 0, err
		}
	}
	took := time.Since(start)
	if job.Status != "done" {
		return job, took, fmt.Errorf("grant %s %s: %s", job.ID, job.Status, job.Failure)
	}
	b.rec.recordN(op, took, max(job.Granted, 1))
	return job, took, nil
}
