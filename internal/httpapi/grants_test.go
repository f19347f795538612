package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/audit"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
)

// newGrantEnv is an issuer env with the issuance service, on one clock, and
// a bulk body limit of bulkLimit bytes (0 for the default).
func newGrantEnv(t *testing.T, bulkLimit int64) *issuerEnv {
	db := pgtest.New(t)
	clk := newClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	hasher, err := holder.NewHasher([]byte(strings.Repeat("g", 32)))
	require.NoError(t, err)
	is := issuance.New(db.Pool, issuance.Options{Now: clk.Now, Hasher: hasher})
	t.Cleanup(is.Close)
	svc := issuer.New(db.Pool, clk.Now)
	h := newHarness(t, Config{Pool: db.Pool, Issuer: svc, Issuance: is, Audit: audit.New(db.Pool, nil), BulkBodyLimit: bulkLimit})
	return &issuerEnv{harness: h, db: db, clock: clk, svc: svc}
}

// approvedGrantCampaign is an approved campaign (funded, so it grants) for
// holders of Shanghai (31…).
func approvedGrantCampaign(t *testing.T, e *issuerEnv) string {
	m := consumptionCampaign()
	m["rules"].(map[string]any)["eligibility"] = map[string]any{"holder_region_prefixes": []string{"31"}}
	c := e.create(t, m)
	e.act(t, e.manager("alice"), c.ID, "submit", http.StatusOK)
	e.act(t, e.approver("bob"), c.ID, "approve", http.StatusOK)
	return c.ID
}

func grantIDNumber(n int) string {
	first := fmt.Sprintf("31010419850101%03d", n)
	c, _ := holder.CheckChar(first)
	return first + string(c)
}

type grantOutput struct {
	ID         string `json:"id"`
	CampaignID string `json:"campaign_id"`
	TierID     string `json:"tier_id"`
	Status     string `json:"status"`
	RowsTotal  int64  `json:"rows_total"`
	RowsDone   int64  `json:"rows_done"`
	Granted    int64  `json:"granted"`
	Duplicates int64  `json:"duplicates"`
	Rejected   int64  `json:"rejected"`
	Errors     []struct {
		Row    int `json:"row"`
		Fields []struct {
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"fields"`
	} `json:"errors"`
	Failure string `json:"failure"`
}

func (e *issuerEnv) uploadGrant(campaignID, tier, token, contentType, file string) response {
	req := httptest.NewRequest(http.MethodPost, "/v1/campaigns/"+campaignID+"/grants?tier_id="+tier, strings.NewReader(file))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	return e.do(req)
}

// waitGrant follows the job, as an auditor, until it ends.
func (e *issuerEnv) waitGrant(t *testing.T, id string) grantOutput {
	t.Helper()
	auditor := e.personToken("carol", time.Hour, auth.RoleAuditor)
	deadline := time.Now().Add(time.Minute)
	for {
		res := e.request(http.MethodGet, "/v1/grants/"+id, auditor, nil)
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
		g := decode[grantOutput](t, res.Body)
		if g.Status != "running" {
			return g
		}
		require.True(t, time.Now().Before(deadline), "grant %s still running", id)
		time.Sleep(5 * time.Millisecond)
	}
}

func TestGrantOverHTTP(t *testing.T) {
	e := newGrantEnv(t, 0)
	id := approvedGrantCampaign(t, e)
	file := "id_number,residence_region\n" +
		grantIDNumber(1) + ",310104\n" +
		grantIDNumber(2)[:17] + "Z,310104\n" + // not a number
		grantIDNumber(3) + ",320102\n" + // Jiangsu: not admitted
		grantIDNumber(1) + ",310104\n" + // again
		grantIDNumber(4) + ",310115\n"

	res := e.uploadGrant(id, "200-50", e.manager("alice"), "text/csv", file)
	require.Equal(t, http.StatusAccepted, res.Status, "%s", res.Body)
	started := decode[grantOutput](t, res.Body)
	assert.Equal(t, id, started.CampaignID)
	assert.Equal(t, "200-50", started.TierID)
	assert.EqualValues(t, 5, started.RowsTotal)
	assert.EqualValues(t, 2, started.Rejected)

	g := e.waitGrant(t, started.ID)
	assert.Equal(t, "done", g.Status, g.Failure)
	assert.EqualValues(t, 5, g.RowsDone)
	assert.EqualValues(t, 2, g.Granted)
	assert.EqualValues(t, 1, g.Duplicates)
	require.Len(t, g.Errors, 2)
	assert.Equal(t, 2, g.Errors[0].Row)
	assert.Equal(t, "id_number", g.Errors[0].Fields[0].Field)
	assert.Equal(t, 3, g.Errors[1].Row)
	assert.Equal(t, "residence_region", g.Errors[1].Fields[0].Field)
	assert.NotContains(t, string(res.Body), grantIDNumber(2)[:17], "the answer never echoes an ID number")

	budget := decode[struct {
		Committed int64 `json:"committed_fen"`
	}](t, e.request(http.MethodGet, "/v1/campaigns/"+id+"/budget", e.approver("bob"), nil).Body)
	assert.EqualValues(t, 2*5000, budget.Committed)
}

func TestGrantRefusals(t *testing.T) {
	e := newGrantEnv(t, 256)
	id := approvedGrantCampaign(t, e)
	manager := e.manager("alice")
	file := "id_number,residence_region\n" + grantIDNumber(1) + ",310104\n"

	for _, tc := range []struct {
		name, campaign, tier, token, contentType, file string
		status                                         int
		code                                           string
	}{
		{"an approver may not grant", id, "200-50", e.approver("bob"), "text/csv", file, http.StatusForbidden, "FORBIDDEN"},
		{"unknown tier", id, "500-100", manager, "text/csv", file, http.StatusBadRequest, "VALIDATION_FAILED"},
		{"not CSV", id, "200-50", manager, "application/json", `{}`, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
		{"no data rows", id, "200-50", manager, "text/csv", "id_number,residence_region\n", http.StatusBadRequest, "VALIDATION_FAILED"},
		{"over the bulk limit", id, "200-50", manager, "text/csv", file + strings.Repeat(grantIDNumber(2)+",310104\n", 10),
			http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE"},
		{"unknown campaign", "0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d", "200-50", manager, "text/csv", file, http.StatusNotFound, "NOT_FOUND"},
	} {
		res := e.uploadGrant(tc.campaign, tc.tier, tc.token, tc.contentType, tc.file)
		assert.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Body)
		assert.Equal(t, tc.code, res.errorCode(t), tc.name)
	}

	draft := e.create(t, consumptionCampaign())
	res := e.uploadGrant(draft.ID, "200-50", manager, "text/csv", file)
	assert.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	assert.Equal(t, "INVALID_STATE", res.errorCode(t))
	assert.Contains(t, string(res.Body), `"current_status":"draft"`)

	assert.Zero(t, e.count(t, "grants"), "a refused upload stores nothing")
	res = e.request(http.MethodGet, "/v1/grants/0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d", manager, nil)
	assert.Equal(t, http.StatusNotFound, res.Status)
	assert.Equal(t, "NOT_FOUND", res.errorCode(t))
	res = e.request(http.MethodGet, "/v1/grants/0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d", e.platformToken(), nil)
	assert.Equal(t, http.StatusForbidden, res.Status, "platforms do not see grants")
}
