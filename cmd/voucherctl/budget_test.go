package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

const changeID = "0190f1b2-7c4e-7a1b-9c3d-000000000001"

func budgetChangeJSON(status, decidedBy string) string {
	decided := ""
	if decidedBy != "" {
		decided = `"decided_by": "` + decidedBy + `", "decided_at": "2026-11-22T10:00:00+08:00",`
	}
	return `{"id": "` + changeID + `", "campaign_id": "` + campaignID + `", "delta_fen": -50000000,
		"reason": "second district withdrew", "status": "` + status + `", "requested_by": "alice", ` + decided + `
		"requested_at": "2026-11-22T09:00:00+08:00"}`
}

func TestCampaignBudgetShowsEveryLineInYuan(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/campaigns/"+campaignID+"/budget", http.StatusOK, `{
		"campaign_id": "`+campaignID+`", "currency": "CNY", "funded_fen": 5000000000,
		"available_fen": 4000000000, "allocated_fen": 600000000, "committed_fen": 200000000,
		"held_fen": 100000000, "payable_fen": 60000000, "settled_fen": 40000000, "pending_change_fen": -50000000}`)

	out, errOut, code := f.voucherctl("campaign", "budget", campaignID)

	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []auth.Role{auth.RoleAuditor}, f.only().caller.Roles)
	assert.Regexp(t, `Funded:\s+¥50,000,000.00 \(5000000000 fen\)\n`, out)
	assert.Regexp(t, `available:\s+¥40,000,000.00 \(4000000000 fen\)`, out)
	assert.Regexp(t, `Pending changes:\s+-¥500,000.00 \(-50000000 fen\)`, out)
	assert.NotContains(t, out, "WARNING")
}

func TestCampaignBudgetWarnsWhenThePartsDoNotAddUp(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/campaigns/"+campaignID+"/budget", http.StatusOK, `{
		"campaign_id": "`+campaignID+`", "currency": "CNY", "funded_fen": 1000, "available_fen": 900,
		"allocated_fen": 0, "committed_fen": 0, "held_fen": 0, "payable_fen": 0, "settled_fen": 0, "pending_change_fen": 0}`)

	out, _, code := f.voucherctl("campaign", "budget", campaignID)

	require.Equal(t, 0, code)
	assert.Contains(t, out, "WARNING: the parts add up to ¥9.00 (900 fen), not the funded amount")
}

func TestBudgetChangeRequestAndDecision(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/campaigns/"+campaignID+"/budget-changes", http.StatusCreated, budgetChangeJSON("submitted", ""))

	out, errOut, code := f.voucherctl("campaign", "budget-change", campaignID,
		"--delta-fen", "-50000000", "--reason", "second district withdrew", "--sub", "alice")

	require.Equal(t, 0, code, errOut)
	req := f.only()
	assert.JSONEq(t, `{"delta_fen": -50000000, "reason": "second district withdrew"}`, string(req.body))
	assert.Equal(t, "alice", req.caller.Subject)
	assert.Equal(t, []auth.Role{auth.RoleCampaignManager}, req.caller.Roles)
	assert.Regexp(t, `Delta:\s+-¥500,000.00 \(-50000000 fen\)`, out)
	assert.Contains(t, out, "voucherctl budget-change approve "+changeID)

	g := newFakeVoucherd(t)
	g.on(http.MethodPost, "/v1/budget-changes/"+changeID+"/approve", http.StatusOK, budgetChangeJSON("approved", "bob"))

	out, errOut, code = g.voucherctl("budget-change", "approve", changeID, "--sub", "bob")

	require.Equal(t, 0, code, errOut)
	req = g.only()
	assert.Empty(t, req.body)
	assert.Equal(t, "bob", req.caller.Subject)
	assert.Equal(t, []auth.Role{auth.RoleApprover}, req.caller.Roles)
	assert.Regexp(t, `Status:\s+approved`, out)
	assert.Regexp(t, `Decided:\s+2026-11-22 10:00:00 \+08:00 by bob`, out)
}

func TestBudgetChangeNeedsADeltaAndAReason(t *testing.T) {
	f := newFakeVoucherd(t)
	_, errOut, code := f.voucherctl("campaign", "budget-change", campaignID, "--reason", "more")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--delta-fen (non-zero) and --reason are required")
}

func TestBudgetChangeList(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/campaigns/"+campaignID+"/budget-changes", http.StatusOK,
		`{"items": [`+budgetChangeJSON("rejected", "bob")+`]}`)

	out, errOut, code := f.voucherctl("campaign", "budget-changes", campaignID)

	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, changeID+`\s+rejected\s+-¥500,000.00 \(-50000000 fen\)\s+2026-11-22 09:00:00 \+08:00\s+alice\s+2026-11-22 10:00:00 \+08:00\s+bob\s+second district withdrew`, out)
}
