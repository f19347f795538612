package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

const statementID = "0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c01"

const issuedStatement = `{"id": "` + statementID + `", "platform_id": "jd", "business_date": "2026-12-04", "currency": "CNY",
	"status": "issued", "issued_at": "2026-12-05T00:15:00+08:00",
	"totals": {"confirmed_count": 2, "discount_fen": 10000, "paid_fen": 50000, "refund_count": 1, "refunded_fen": 5000,
		"clawback_fen": 1000, "adjustment_count": 1, "adjustment_fen": 5000, "net_fen": 4000}`

func TestSettlementList(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/settlements", http.StatusOK, `{"items": [`+issuedStatement+`}], "next_cursor": "abc"}`)

	out, errOut, code := f.voucherctl("settlement", "list", "--platform", "jd", "--from", "2026-12-01", "--status", "issued")

	require.Equal(t, 0, code, errOut)
	s := f.only()
	assert.Equal(t, []auth.Role{auth.RoleAuditor}, s.caller.Roles)
	assert.Equal(t, "from=2026-12-01&platform_id=jd&status=issued", s.query)
	assert.Regexp(t, `2026-12-04\s+jd\s+issued\s+2\s+1\s+1\s+¥40\.00 \(4000 fen\)\s+`+statementID, out)
	assert.Contains(t, out, "--cursor abc")
}

func TestSettlementListCSV(t *testing.T) {
	f := newFakeVoucherd(t)
	body := "statement_id,platform_id\n" + statementID + ",jd\n"
	f.replies["GET /v1/settlements"] = reply{status: http.StatusOK, body: body, header: map[string]string{"Content-Type": "text/csv"}}

	out, errOut, code := f.voucherctl("settlement", "list", "--csv", "--to", "2026-12-31")

	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "format=csv&to=2026-12-31", f.only().query)
	assert.Equal(t, body, out, "the CSV as the server sent it")
}

func TestSettlementShow(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, "/v1/settlements/"+statementID, http.StatusOK, issuedStatement+`, "lines": [
		{"campaign_id": "`+campaignID+`", "merchant_id": "m1", "amounts": {"confirmed_count": 2, "discount_fen": 10000,
		 "paid_fen": 50000, "refund_count": 1, "refunded_fen": 5000, "clawback_fen": 1000, "adjustment_count": 1,
		 "adjustment_fen": 5000, "net_fen": 4000}}]}`)

	out, errOut, code := f.voucherctl("settlement", "show", statementID)

	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `Net owed:\s+¥40\.00 \(4000 fen\)`, out)
	assert.Regexp(t, campaignID+`\s+m1\s+2\s+10000\s+1\s+1000\s+1\s+5000\s+4000`, out)
}

func TestSettlementPay(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/settlements/"+statementID+"/pay", http.StatusOK,
		`{"id": "`+statementID+`", "platform_id": "jd", "business_date": "2026-12-04", "currency": "CNY",
		"status": "paid", "issued_at": "2026-12-05T00:15:00+08:00", "paid_at": "2026-12-06T10:00:00+08:00",
		"paid_by": "bob", "payment_reference": "ICBC-1",
		"totals": {"confirmed_count": 2, "discount_fen": 10000, "paid_fen": 50000, "refund_count": 0, "refunded_fen": 0,
			"clawback_fen": 0, "adjustment_count": 0, "adjustment_fen": 0, "net_fen": 10000}, "lines": []}`)

	_, _, code := f.voucherctl("settlement", "pay", statementID)
	assert.Equal(t, 2, code, "--reference is required")

	out, errOut, code := f.voucherctl("settlement", "pay", statementID, "--reference", "ICBC-1", "--sub", "bob")

	require.Equal(t, 0, code, errOut)
	s := f.only() // the fake refuses a request without the Idempotency-Key the contract requires
	assert.Equal(t, []auth.Role{auth.RoleApprover}, s.caller.Roles)
	assert.JSONEq(t, `{"payment_reference": "ICBC-1"}`, string(s.body))
	assert.Regexp(t, `Paid at:\s+2026-12-06 10:00:00 \+08:00 by bob, reference ICBC-1`, out)
}

func TestReconcileFailsOnDifferences(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/reconciliations", http.StatusOK, `{"platform_id": "jd", "business_date": "2026-12-04",
		"uploaded_rows": 2,
		"matched": {"count": 1, "truncated": false, "rows": [{"redemption_id": "`+statementID+`", "order_no": "o-1", "line": 2, "fields": []}]},
		"missing_here": {"count": 0, "truncated": false, "rows": []},
		"missing_in_upload": {"count": 0, "truncated": false, "rows": []},
		"amount_mismatch": {"count": 1, "truncated": false, "rows": [{"redemption_id": "`+campaignID+`", "order_no": "o-2", "line": 3,
			"fields": ["paid_fen"],
			"ours": {"order_no": "o-2", "discount_fen": 5000, "paid_fen": 25000, "payment_channel": "alipay", "channel_txn_id": "a-2"},
			"theirs": {"order_no": "o-2", "discount_fen": 5000, "paid_fen": 24000, "payment_channel": "alipay", "channel_txn_id": "a-2"}}]},
		"channel_mismatch": {"count": 0, "truncated": false, "rows": []}}`)
	file := filepath.Join(t.TempDir(), "day.csv")
	require.NoError(t, os.WriteFile(file, []byte("order_no,redemption_id,discount_fen,paid_fen,payment_channel,channel_txn_id\n"), 0o600))

	_, _, code := f.voucherctl("reconcile", file)
	assert.Equal(t, 2, code, "--platform and --date are required")

	out, errOut, code := f.voucherctl("reconcile", "--platform", "jd", "--date", "2026-12-04", file)

	assert.Equal(t, 1, code)
	s := f.only()
	assert.Equal(t, []auth.Role{auth.RoleAuditor}, s.caller.Roles)
	assert.Equal(t, "text/csv", s.contentType)
	assert.Equal(t, "business_date=2026-12-04&platform_id=jd", s.query)
	assert.Regexp(t, `Amount mismatch:\s+1`, out)
	assert.Regexp(t, campaignID+`\s+o-2\s+3\s+paid_fen\s+5000/25000 alipay a-2\s+5000/24000 alipay a-2`, out)
	assert.Contains(t, errOut, "the records differ: 0 missing here, 0 missing in the upload, 1 amount and 0 channel mismatches")
}
