package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

const campaignID = "0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d"

// campaignJSON is a contract-shaped Campaign in the given status.
func campaignJSON(status string) string {
	return `{
	"id": "` + campaignID + `", "kind": "consumption", "name": "Spring vouchers",
	"authority": "Shanghai Municipal Commission of Commerce", "currency": "CNY",
	"time_zone": "Asia/Shanghai", "starts_at": "2027-04-02T02:00:00Z", "ends_at": "2027-06-30T16:00:00Z",
	"budget_fen": 5000000000, "hold_minutes": 15,
	"rules": {
		"tiers": [{"id": "200-50", "name": "spend 200 get 50", "min_spend_fen": 20000, "discount_fen": 5000,
			"validity_days": 7, "per_round_limit": 1, "per_campaign_limit": 13}],
		"eligibility": {"merchant_region_prefixes": ["3101"], "max_vouchers_per_order": 1}
	},
	"status": "` + status + `", "version": 2, "created_by": "alice",
	"created_at": "2026-11-20T09:00:00+08:00", "updated_at": "2026-11-21T09:00:00+08:00"
}`
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestCampaignCreateSendsTheYAMLFileAsJSON(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/campaigns", http.StatusCreated, campaignJSON("draft"))
	file := writeFile(t, "c.yaml", `
kind: consumption
name: Spring vouchers
authority: Shanghai Municipal Commission of Commerce
starts_at: 2027-04-02T10:00:00+08:00  # a YAML timestamp, kept as written
ends_at: "2027-07-01T00:00:00+08:00"
budget_fen: 5000000000
rules:
  tiers:
    - {id: "200-50", min_spend_fen: 20000, discount_fen: 5000, validity_days: 7}
  eligibility: {merchant_region_prefixes: ["3101"]}
`)

	out, errOut, code := f.voucherctl("campaign", "create", "-f", file)

	require.Equal(t, 0, code, errOut)
	req := f.only()
	assert.Equal(t, "application/json", req.contentType)
	assert.JSONEq(t, `{
		"kind": "consumption", "name": "Spring vouchers", "authority": "Shanghai Municipal Commission of Commerce",
		"starts_at": "2027-04-02T10:00:00+08:00", "ends_at": "2027-07-01T00:00:00+08:00", "budget_fen": 5000000000,
		"rules": {"tiers": [{"id": "200-50", "min_spend_fen": 20000, "discount_fen": 5000, "validity_days": 7}],
			"eligibility": {"merchant_region_prefixes": ["3101"]}}
	}`, string(req.body))
	assert.Equal(t, auth.KindPerson, req.caller.Kind)
	assert.Equal(t, "voucherctl", req.caller.Subject)
	assert.Equal(t, []auth.Role{auth.RoleCampaignManager}, req.caller.Roles)
	assert.Contains(t, out, "¥50,000,000.00 (5000000000 fen)")
	assert.Contains(t, out, "2027-04-02 10:00:00 +08:00 to 2027-07-01 00:00:00 +08:00 (Asia/Shanghai)")
	assert.Contains(t, out, "voucherctl campaign submit "+campaignID)
}

func TestCampaignCreateSendsAJSONFileAsIs(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/campaigns", http.StatusCreated, campaignJSON("draft"))
	doc := `{"kind":"consumption","name":"n","authority":"a","starts_at":"2027-04-02T10:00:00+08:00",` +
		`"ends_at":"2027-07-01T00:00:00+08:00","budget_fen":100,"rules":{}}`

	_, errOut, code := f.voucherctl("campaign", "create", "-f", writeFile(t, "c.json", doc), "-o", "json")

	require.Equal(t, 0, code, errOut)
	assert.Equal(t, doc, string(f.only().body))
}

func TestCampaignCreateRendersFieldErrors(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/campaigns", http.StatusBadRequest, `{
		"code": "VALIDATION_FAILED", "message": "the request has invalid values",
		"details": {"fields": [
			{"field": "rules.tiers[0].discount_fen", "reason": "must be less than min_spend_fen (20000)"},
			{"field": "ends_at", "reason": "must be after starts_at"}]}}`)
	file := writeFile(t, "c.json", `{"kind":"consumption","name":"n","authority":"a","starts_at":"2027-04-02T10:00:00+08:00",`+
		`"ends_at":"2027-01-01T00:00:00+08:00","budget_fen":100,"rules":{"tiers":[{"id":"a","min_spend_fen":20000,"discount_fen":30000}]}}`)

	out, errOut, code := f.voucherctl("campaign", "create", "-f", file)

	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, `voucherctl campaign: VALIDATION_FAILED: the request has invalid values
  rules.tiers[0].discount_fen: must be less than min_spend_fen (20000)
  ends_at: must be after starts_at
  request id: req-test-1 (quote it when you report a problem)
`, errOut)
}

func TestCampaignCreateRefusesAFileOfAnotherKind(t *testing.T) {
	f := newFakeVoucherd(t)
	_, errOut, code := f.voucherctl("campaign", "create", "-f", writeFile(t, "c.toml", "kind = 1"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "must end in .yaml, .yml or .json")
	_, errOut, code = f.voucherctl("campaign", "create")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "-f FILE is required")
}

func TestCampaignListPassesFiltersAndShowsTheNextPage(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/campaigns", http.StatusOK,
		`{"items": [`+campaignJSON("active")+`], "next_cursor": "c2"}`)

	out, errOut, code := f.voucherctl("campaign", "list", "--status", "active", "--kind", "consumption", "--limit", "10")

	require.Equal(t, 0, code, errOut)
	req := f.only()
	assert.Equal(t, "kind=consumption&limit=10&status=active", req.query)
	assert.Equal(t, []auth.Role{auth.RoleAuditor}, req.caller.Roles)
	lines := strings.Split(out, "\n")
	assert.Regexp(t, `^ID\s+STATUS\s+KIND\s+STARTS\s+ENDS\s+BUDGET\s+NAME$`, lines[0])
	assert.Regexp(t, campaignID+`\s+active\s+consumption\s+2027-04-02 10:00:00 \+08:00\s+2027-07-01 00:00:00 \+08:00\s+¥50,000,000.00 \(5000000000 fen\)\s+Spring vouchers`, lines[1])
	assert.Contains(t, out, "More: add --cursor c2")
}

func TestCampaignShowPrintsRulesInTheCampaignTimeZone(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/campaigns/"+campaignID, http.StatusOK, campaignJSON("draft"))

	out, errOut, code := f.voucherctl("campaign", "show", campaignID)

	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `Status:\s+draft \(version 2\)`, out)
	assert.Regexp(t, `Created:\s+2026-11-20 09:00:00 \+08:00 by alice`, out)
	assert.Regexp(t, `200-50\s+¥200.00 \(20000 fen\)\s+¥50.00 \(5000 fen\)\s+7 days after claim\s+1\s+13\s+spend 200 get 50`, out)
	assert.Contains(t, out, "merchant regions: 3101\n")
	assert.Contains(t, out, "vouchers per order: at most 1\n")
}

func TestCampaignTransitionsPostTheActionAsTheRoleItNeeds(t *testing.T) {
	for _, tc := range []struct {
		action string
		args   []string
		body   string
		role   auth.Role
		sub    string
	}{
		{"submit", nil, `{}`, auth.RoleCampaignManager, "voucherctl"},
		{"approve", []string{"--sub", "bob"}, `{}`, auth.RoleApprover, "bob"},
		{"reject", []string{"--reason", "budget too high"}, `{"reason":"budget too high"}`, auth.RoleApprover, "voucherctl"},
		{"pause", []string{"--as", "campaign_manager,approver"}, `{}`, "", "voucherctl"},
	} {
		t.Run(tc.action, func(t *testing.T) {
			f := newFakeVoucherd(t)
			f.on(http.MethodPost, "/v1/campaigns/"+campaignID+"/"+tc.action, http.StatusOK, campaignJSON("approved"))

			// Flags may follow the positional argument.
			out, errOut, code := f.voucherctl(append([]string{"campaign", tc.action, campaignID}, tc.args...)...)

			require.Equal(t, 0, code, errOut)
			req := f.only()
			assert.JSONEq(t, tc.body, string(req.body))
			assert.Equal(t, tc.sub, req.caller.Subject)
			if tc.role != "" {
				assert.Equal(t, []auth.Role{tc.role}, req.caller.Roles)
			} else {
				assert.Equal(t, []auth.Role{auth.RoleCampaignManager, auth.RoleApprover}, req.caller.Roles)
			}
			assert.Equal(t, "Campaign "+campaignID+" (Spring vouchers) is now approved.\n", out)
		})
	}
}

func TestCampaignTransitionShowsTheCurrentStatusOfAConflict(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/campaigns/"+campaignID+"/resume", http.StatusConflict,
		`{"code": "INVALID_STATE", "message": "cannot resume a campaign that is ended", "details": {"current_status": "ended"}}`)

	_, errOut, code := f.voucherctl("campaign", "resume", campaignID)

	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "INVALID_STATE: cannot resume a campaign that is ended\n  current_status: ended\n")
}
