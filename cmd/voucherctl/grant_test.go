package main

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

const (
	grantCampaign = "0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d"
	grantJobID    = "0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0e"
	grantCSV      = "id_number,residence_region\n110101199003074514,310104\n11010119900307451X,310104\n"

	grantRunning = `{"id": "` + grantJobID + `", "campaign_id": "` + grantCampaign + `", "tier_id": "200-50",
		"status": "running", "rows_total": 2000, "rows_done": 500, "granted": 499, "duplicates": 0, "rejected": 1,
		"errors": [{"row": 2, "fields": [{"field": "id_number", "reason": "the check character does not match"}]}],
		"rate_per_second": 250, "eta_seconds": 6, "created_at": "2026-12-01T09:00:00Z"}`
	grantDone = `{"id": "` + grantJobID + `", "campaign_id": "` + grantCampaign + `", "tier_id": "200-50",
		"status": "done", "rows_total": 2000, "rows_done": 2000, "granted": 1998, "duplicates": 1, "rejected": 1,
		"errors": [{"row": 2, "fields": [{"field": "id_number", "reason": "the check character does not match"}]}],
		"rate_per_second": 1000, "created_at": "2026-12-01T09:00:00Z", "finished_at": "2026-12-01T09:00:02Z"}`
	grantFailed = `{"id": "` + grantJobID + `", "campaign_id": "` + grantCampaign + `", "tier_id": "200-50",
		"status": "failed", "rows_total": 2000, "rows_done": 1200, "granted": 1200, "duplicates": 0, "rejected": 0,
		"errors": [], "failure": "the budget ran out after granting 1200 vouchers", "created_at": "2026-12-01T09:00:00Z",
		"finished_at": "2026-12-01T09:00:02Z"}`
)

// grantArgs is a voucherctl grant command line against f.
func grantArgs(t *testing.T, f *fakeVoucherd, extra ...string) []string {
	return append([]string{grantCampaign, writeFile(t, "holders.csv", grantCSV), "--tier", "200-50", "--poll", "1ms",
		"--server", f.url, "--data-dir", f.dataDir}, extra...)
}

func TestGrantUploadsTheListAndFollowsTheJob(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/campaigns/"+grantCampaign+"/grants", http.StatusAccepted, grantRunning)
	f.on(http.MethodGet, "/v1/grants/"+grantJobID, http.StatusOK, grantDone)

	var out, progress bytes.Buffer
	require.NoError(t, runGrant(&out, &progress, grantArgs(t, f)))

	require.Len(t, f.sent, 2)
	upload := f.sent[0]
	assert.Equal(t, "tier_id=200-50", upload.query)
	assert.Equal(t, "text/csv", upload.contentType)
	assert.Equal(t, grantCSV, string(upload.body))
	assert.True(t, upload.caller.HasAny(auth.RoleCampaignManager))

	assert.Equal(t, "[#######.......................]  25%  500/2,000 rows  250 rows/s  ETA 6s\n"+
		"[##############################] 100%  2,000/2,000 rows  1,000 rows/s  done\n", progress.String())
	assert.Regexp(t, `Status:\s+done\n`, out.String())
	assert.Regexp(t, `Granted:\s+1998\n`, out.String())
	assert.Regexp(t, `ROW\s+FIELD\s+REASON\n2\s+id_number\s+the check character does not match\n`, out.String())
}

func TestGrantFailsWhenTheJobFails(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/campaigns/"+grantCampaign+"/grants", http.StatusAccepted, grantFailed)

	out, errOut, code := f.voucherctl(append([]string{"grant"}, grantArgs(t, f)[:6]...)...)

	assert.Equal(t, 1, code)
	assert.Regexp(t, `Failure:\s+the budget ran out after granting 1200 vouchers\n`, out)
	assert.Contains(t, errOut, "grant "+grantJobID+" failed: the budget ran out")
}

func TestGrantNeedsATier(t *testing.T) {
	f := newFakeVoucherd(t)
	_, errOut, code := f.voucherctl("grant", grantCampaign, writeFile(t, "holders.csv", grantCSV))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--tier is required")
	assert.Empty(t, f.sent)
}

func TestProgressLine(t *testing.T) {
	assert.Equal(t, "[..............................]   0%  0/1,234,567 rows", progressLine(grant{Status: "running", RowsTotal: 1_234_567}))
	assert.Equal(t, "[###############...............]  50%  617,284/1,234,567 rows  48,210 rows/s  ETA 12s",
		progressLine(grant{Status: "running", RowsTotal: 1_234_567, RowsDone: 617_284, RatePerSecond: 48_210.7, ETASeconds: 12.4}))
	assert.Equal(t, "-1,000", thousands(-1000))
}
