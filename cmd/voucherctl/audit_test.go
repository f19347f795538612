package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

func TestAuditVerifyOK(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/audit/verify", http.StatusOK,
		`{"ok": true, "audit_blocks": 1, "audit_events": 340, "unsealed_events": 2, "ledger_faults": []}`)

	out, errOut, code := f.voucherctl("audit", "verify")

	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []auth.Role{auth.RoleAuditor}, f.only().caller.Roles)
	assert.Regexp(t, `Result:\s+ok`, out)
	assert.Regexp(t, `Audit log:\s+1 block, 340 events \(2 not sealed yet\)`, out)
}

const failedVerify = `{"ok": false, "audit_blocks": 12, "audit_events": 340, "unsealed_events": 0,
	"first_fault": {"kind": "modified", "block_no": 0, "event_id": "0190f1b2-7c4e-7a1b-9c3d-00000000000e",
		"message": "event hash does not match its content"},
	"ledger_faults": [{"kind": "ledger", "campaign_id": "` + campaignID + `", "message": "available is 100 fen off its entries"}]}`

func TestAuditVerifyFailsOnTheFirstFault(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/audit/verify", http.StatusOK, failedVerify)

	out, errOut, code := f.voucherctl("audit", "verify")

	assert.Equal(t, 1, code)
	assert.Regexp(t, `Result:\s+FAILED`, out)
	assert.Contains(t, out, "ledger (campaign "+campaignID+"): available is 100 fen off its entries")
	assert.Equal(t, "voucherctl audit: verification failed: modified (block 0, event 0190f1b2-7c4e-7a1b-9c3d-00000000000e): event hash does not match its content\n", errOut)
}

func TestAuditVerifyFailsWithJSONOutputToo(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/audit/verify", http.StatusOK, failedVerify+"\n") // as encoding/json writes it

	out, _, code := f.voucherctl("audit", "verify", "-o", "json")

	assert.Equal(t, 1, code)
	assert.JSONEq(t, failedVerify, out)
	assert.True(t, strings.HasSuffix(out, "}\n"), "one newline after the JSON")
}

func TestAuditEvents(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/audit/events", http.StatusOK, `{"items": [
		{"id": "0190f1b2-7c4e-7a1b-9c3d-00000000000a", "at": "2026-11-20T09:00:00+08:00", "actor": "alice",
		 "actor_role": "campaign_manager", "action": "campaign.create", "entity_type": "campaign", "entity_id": "`+campaignID+`",
		 "after": {"status": "draft", "version": 1}, "request_id": "r1"},
		{"id": "0190f1b2-7c4e-7a1b-9c3d-00000000000b", "at": "2026-11-21T09:00:00+08:00", "actor": "alice",
		 "actor_role": "campaign_manager", "action": "campaign.submit", "entity_type": "campaign", "entity_id": "`+campaignID+`",
		 "before": {"status": "draft", "version": 1, "name": "n"}, "after": {"status": "submitted", "version": 2, "name": "n"}}]}`)

	out, errOut, code := f.voucherctl("audit", "events", "--entity-type", "campaign", "--entity-id", campaignID, "--limit", "2")

	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "entity_id="+campaignID+"&entity_type=campaign&limit=2", f.only().query)
	assert.Regexp(t, `2026-11-20 09:00:00 \+08:00\s+alice\s+campaign_manager\s+campaign.create\s+created\s+r1`, out)
	assert.Regexp(t, `campaign.submit\s+status,version\s+-\s+0190f1b2-7c4e-7a1b-9c3d-00000000000b`, out)
	assert.Contains(t, out, "There may be more: add --after 0190f1b2-7c4e-7a1b-9c3d-00000000000b")
}
