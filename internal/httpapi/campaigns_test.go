package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/audit"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/testclock"
)

// clock is a settable test clock.
type clock = testclock.Clock

func newClock(t time.Time) *clock { return testclock.New(t) }
func mustJSON(v any) []byte       { b, _ := json.Marshal(v); return b }
func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	return v
}

type issuerEnv struct {
	*harness
	db    *pgtest.DB
	clock *clock
	svc   *issuer.Service
}

func newIssuerEnv(t *testing.T) *issuerEnv {
	db := pgtest.New(t)
	clk := newClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	svc := issuer.New(db.Pool, clk.Now)
	h := newHarness(t, Config{Pool: db.Pool, Issuer: svc, Audit: audit.New(db.Pool, nil)})
	return &issuerEnv{harness: h, db: db, clock: clk, svc: svc}
}

func (e *issuerEnv) manager(sub string) string {
	return e.personToken(sub, time.Hour, auth.RoleCampaignManager)
}

func (e *issuerEnv) approver(sub string) string {
	return e.personToken(sub, time.Hour, auth.RoleApprover)
}

func (e *issuerEnv) count(t *testing.T, table string) int {
	var n int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// consumptionCampaign is a valid city voucher campaign: ¥200 − ¥50 and ¥100 − ¥25.
func consumptionCampaign() map[string]any {
	return map[string]any{
		"kind": "consumption", "name": "Shanghai spring vouchers", "authority": "Shanghai Commission of Commerce",
		"starts_at": "2026-12-04T10:00:00+08:00", "ends_at": "2027-01-31T22:00:00+08:00",
		"budget_fen": 10_000_000,
		"rules": map[string]any{
			"tiers": []any{
				map[string]any{"id": "200-50", "min_spend_fen": 20000, "discount_fen": 5000, "validity_days": 7},
				map[string]any{"id": "100-25", "min_spend_fen": 10000, "discount_fen": 2500, "validity_days": 7},
			},
			"eligibility": map[string]any{"merchant_region_prefixes": []string{"3101"}},
		},
	}
}

type budgetOut struct {
	Funded    int64 `json:"funded_fen"`
	Available int64 `json:"available_fen"`
	Pending   int64 `json:"pending_change_fen"`
}

type campaignOut struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Version     int    `json:"version"`
	CreatedBy   string `json:"created_by"`
	ApprovedBy  string `json:"approved_by"`
	StartsAt    string `json:"starts_at"`
	BudgetFen   int64  `json:"budget_fen"`
	HoldMinutes int    `json:"hold_minutes"`
	TimeZone    string `json:"time_zone"`
}

func (e *issuerEnv) create(t testing.TB, body map[string]any) campaignOut {
	res := e.request(http.MethodPost, "/v1/campaigns", e.manager("alice"), mustJSON(body))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	return decode[campaignOut](t, res.Body)
}

func (e *issuerEnv) act(t testing.TB, token, id, action string, want int) response {
	t.Helper()
	var body []byte
	if action == "reject" {
		body = []byte(`{"reason":"budget too high"}`)
	}
	res := e.request(http.MethodPost, "/v1/campaigns/"+id+"/"+action, token, body)
	require.Equal(t, want, res.Status, "%s %s: %s", action, id, res.Body)
	return res
}

func TestCampaignCreateDefaultsAndPresentation(t *testing.T) {
	e := newIssuerEnv(t)
	c := e.create(t, consumptionCampaign())
	assert.Equal(t, "draft", c.Status)
	assert.Equal(t, 1, c.Version)
	assert.Equal(t, "alice", c.CreatedBy)
	assert.Equal(t, 15, c.HoldMinutes)
	assert.Equal(t, "Asia/Shanghai", c.TimeZone)
	assert.Equal(t, "2026-12-04T10:00:00+08:00", c.StartsAt, "times shown in the campaign's zone")

	res := e.request(http.MethodGet, "/v1/campaigns/"+c.ID, e.personToken("ann", time.Hour, auth.RoleAuditor), nil)
	require.Equal(t, http.StatusOK, res.Status)
	res = e.request(http.MethodGet, "/v1/campaigns/0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d", e.manager("alice"), nil)
	assert.Equal(t, http.StatusNotFound, res.Status)
	assert.Equal(t, "NOT_FOUND", res.errorCode(t))
}

// TestCampaignBadInputChangesNothing: every kind of bad input is a 4xx with a
// stable code and leaves no campaign and no audit event behind.
func TestCampaignBadInputChangesNothing(t *testing.T) {
	e := newIssuerEnv(t)
	with := func(mut func(m map[string]any)) []byte {
		m := consumptionCampaign()
		mut(m)
		return mustJSON(m)
	}
	tier := func(m map[string]any) map[string]any {
		return m["rules"].(map[string]any)["tiers"].([]any)[0].(map[string]any)
	}
	cases := []struct {
		name  string
		body  []byte
		code  string
		field string
	}{
		{"malformed JSON", []byte(`{"kind": "consumption",`), "MALFORMED_JSON", ""},
		{"not an object", []byte(`[1,2,3]`), "VALIDATION_FAILED", ""},
		{"unknown field", with(func(m map[string]any) { m["discount_everything"] = true }), "VALIDATION_FAILED", ""},
		{"unknown nested field", with(func(m map[string]any) { tier(m)["bonus_fen"] = 1 }), "VALIDATION_FAILED", ""},
		{"wrong type", with(func(m map[string]any) { m["budget_fen"] = "lots" }), "VALIDATION_FAILED", "budget_fen"},
		{"negative budget", with(func(m map[string]any) { m["budget_fen"] = -5 }), "VALIDATION_FAILED", "budget_fen"},
		{"huge budget", with(func(m map[string]any) { m["budget_fen"] = int64(1) << 62 }), "VALIDATION_FAILED", "budget_fen"},
		{"fractional fen", with(func(m map[string]any) { m["budget_fen"] = 12.5 }), "VALIDATION_FAILED", "budget_fen"},
		{"missing name", with(func(m map[string]any) { delete(m, "name") }), "VALIDATION_FAILED", ""},
		{"bad time", with(func(m map[string]any) { m["starts_at"] = "next friday" }), "VALIDATION_FAILED", "starts_at"},
		{"unknown channel", with(func(m map[string]any) {
			m["rules"].(map[string]any)["eligibility"] = map[string]any{"payment_channels": []string{"paypal"}}
		}), "VALIDATION_FAILED", ""},
		{"discount not below threshold", with(func(m map[string]any) { tier(m)["discount_fen"] = 20000 }), "VALIDATION_FAILED", "rules.tiers[0].discount_fen"},
		{"ends before start", with(func(m map[string]any) { m["ends_at"] = "2026-12-01T00:00:00+08:00" }), "VALIDATION_FAILED", "ends_at"},
		{"unknown time zone", with(func(m map[string]any) { m["time_zone"] = "Mars/Olympus" }), "VALIDATION_FAILED", "time_zone"},
		{"trade-in without categories", with(func(m map[string]any) { m["kind"] = "trade_in" }), "VALIDATION_FAILED", ""},
	}
	for _, tc := range cases {
		res := e.request(http.MethodPost, "/v1/campaigns", e.manager("alice"), tc.body)
		assert.Equal(t, http.StatusBadRequest, res.Status, "%s: %s", tc.name, res.Body)
		assert.Equal(t, tc.code, res.errorCode(t), tc.name)
		if tc.field != "" {
			assert.Contains(t, string(res.Body), fmt.Sprintf("%q", tc.field), "%s names the field: %s", tc.name, res.Body)
		}
	}
	assert.Zero(t, e.count(t, "campaigns"))
	assert.Zero(t, e.count(t, "audit_events"))
}

func TestBodyLimit(t *testing.T) {
	db := pgtest.New(t)
	h := newHarness(t, Config{Pool: db.Pool, Issuer: issuer.New(db.Pool, nil), BodyLimit: 2048})
	big := consumptionCampaign()
	big["name"] = strings.Repeat("x", 4000)
	res := h.request(http.MethodPost, "/v1/campaigns", h.personToken("alice", time.Hour, auth.RoleCampaignManager), mustJSON(big))
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.Status)
	assert.Equal(t, "PAYLOAD_TOO_LARGE", res.errorCode(t))
}

func TestCampaignLifecycleWithFourEyes(t *testing.T) {
	e := newIssuerEnv(t)
	c := e.create(t, consumptionCampaign())
	id := c.ID

	// Illegal from draft.
	for _, a := range []string{"activate", "pause", "resume", "close"} {
		res := e.act(t, e.manager("alice"), id, a, http.StatusConflict)
		assert.Equal(t, "INVALID_STATE", res.errorCode(t), a)
		assert.Contains(t, string(res.Body), `"current_status":"draft"`)
	}
	for _, a := range []string{"approve", "reject"} {
		res := e.act(t, e.approver("bob"), id, a, http.StatusConflict)
		assert.Equal(t, "INVALID_STATE", res.errorCode(t), a)
	}
	// A manager cannot approve, an approver cannot submit.
	assert.Equal(t, "FORBIDDEN", e.act(t, e.manager("alice"), id, "approve", http.StatusForbidden).errorCode(t))
	assert.Equal(t, "FORBIDDEN", e.act(t, e.approver("bob"), id, "submit", http.StatusForbidden).errorCode(t))

	e.act(t, e.manager("alice"), id, "submit", http.StatusOK)
	// Edits only in draft.
	res := e.request(http.MethodPatch, "/v1/campaigns/"+id, e.manager("alice"), []byte(`{"version":2,"name":"renamed"}`))
	assert.Equal(t, http.StatusConflict, res.Status)
	assert.Equal(t, "INVALID_STATE", res.errorCode(t))

	// The author cannot approve their own campaign, even holding both roles.
	both := e.personToken("alice", time.Hour, auth.RoleCampaignManager, auth.RoleApprover)
	assert.Equal(t, "FOUR_EYES_REQUIRED", e.act(t, both, id, "approve", http.StatusForbidden).errorCode(t))

	// Reject sends it back to draft; resubmit; approve by another person funds it.
	e.act(t, e.approver("bob"), id, "reject", http.StatusOK)
	e.act(t, e.manager("alice"), id, "submit", http.StatusOK)
	approved := decode[campaignOut](t, e.act(t, e.approver("bob"), id, "approve", http.StatusOK).Body)
	assert.Equal(t, "approved", approved.Status)
	assert.Equal(t, "bob", approved.ApprovedBy)

	budget := decode[budgetOut](t, e.request(http.MethodGet, "/v1/campaigns/"+id+"/budget", e.approver("bob"), nil).Body)
	assert.Equal(t, int64(10_000_000), budget.Funded)
	assert.Equal(t, int64(10_000_000), budget.Available)

	// Activation waits for the start time (2026-12-04 10:00 +08:00).
	assert.Equal(t, "CAMPAIGN_NOT_STARTED", e.act(t, e.manager("alice"), id, "activate", http.StatusConflict).errorCode(t))
	e.clock.Set(time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC))
	e.act(t, e.manager("alice"), id, "activate", http.StatusOK)
	e.act(t, e.manager("alice"), id, "pause", http.StatusOK)
	e.act(t, e.manager("alice"), id, "pause", http.StatusConflict)
	e.act(t, e.manager("alice"), id, "resume", http.StatusOK)
	e.act(t, e.manager("alice"), id, "cancel", http.StatusConflict)
	ended := decode[campaignOut](t, e.act(t, e.manager("alice"), id, "close", http.StatusOK).Body)
	assert.Equal(t, "ended", ended.Status)
	for _, a := range []string{"activate", "pause", "resume", "close", "cancel", "submit"} {
		e.act(t, e.manager("alice"), id, a, http.StatusConflict)
	}

	// Every change is in the campaign's timeline, in order.
	res = e.request(http.MethodGet, "/v1/audit/events?entity_type=campaign&entity_id="+id, e.personToken("ann", time.Hour, auth.RoleAuditor), nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var timeline struct {
		Items []struct{ Action, Actor string } `json:"items"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &timeline))
	var actions []string
	for _, ev := range timeline.Items {
		actions = append(actions, ev.Action)
	}
	assert.Equal(t, []string{"campaign.created", "campaign.submit", "campaign.reject", "campaign.submit",
		"campaign.approve", "campaign.activate", "campaign.pause", "campaign.resume", "campaign.close"}, actions)
}

func TestCampaignEditsInDraftWithVersions(t *testing.T) {
	e := newIssuerEnv(t)
	c := e.create(t, consumptionCampaign())
	res := e.request(http.MethodPatch, "/v1/campaigns/"+c.ID, e.manager("alice"), []byte(`{"version":1,"budget_fen":20000000}`))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	got := decode[campaignOut](t, res.Body)
	assert.Equal(t, int64(20_000_000), got.BudgetFen)
	assert.Equal(t, 2, got.Version)

	res = e.request(http.MethodPatch, "/v1/campaigns/"+c.ID, e.manager("carol"), []byte(`{"version":1,"name":"stale edit"}`))
	assert.Equal(t, http.StatusConflict, res.Status)
	assert.Equal(t, "VERSION_MISMATCH", res.errorCode(t))

	res = e.request(http.MethodPatch, "/v1/campaigns/"+c.ID, e.manager("alice"), []byte(`{"version":2,"hold_minutes":0}`))
	assert.Equal(t, http.StatusBadRequest, res.Status)
}

func TestCancelReturnsFundsAndTickFollowsTheClock(t *testing.T) {
	e := newIssuerEnv(t)
	a, b := e.create(t, consumptionCampaign()), e.create(t, consumptionCampaign())
	for _, c := range []campaignOut{a, b} {
		e.act(t, e.manager("alice"), c.ID, "submit", http.StatusOK)
		e.act(t, e.approver("bob"), c.ID, "approve", http.StatusOK)
	}
	e.act(t, e.manager("alice"), b.ID, "cancel", http.StatusOK)
	budget := decode[budgetOut](t, e.request(http.MethodGet, "/v1/campaigns/"+b.ID+"/budget", e.approver("bob"), nil).Body)
	assert.Zero(t, budget.Funded, "a cancelled campaign's funds go back to the treasury")

	ctx := context.Background()
	n, err := e.svc.Tick(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing is due before the start")
	e.clock.Set(time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC))
	n, err = e.svc.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = e.svc.Tick(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "running the job twice changes nothing")
	got := decode[campaignOut](t, e.request(http.MethodGet, "/v1/campaigns/"+a.ID, e.manager("alice"), nil).Body)
	assert.Equal(t, "active", got.Status)

	e.clock.Set(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC))
	n, err = e.svc.Tick(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	got = decode[campaignOut](t, e.request(http.MethodGet, "/v1/campaigns/"+a.ID, e.manager("alice"), nil).Body)
	assert.Equal(t, "ended", got.Status)
}

func TestBudgetChangesNeedAnotherPerson(t *testing.T) {
	e := newIssuerEnv(t)
	c := e.create(t, consumptionCampaign())
	id := c.ID
	res := e.request(http.MethodPost, "/v1/campaigns/"+id+"/budget-changes", e.manager("alice"), []byte(`{"delta_fen":500000,"reason":"more demand"}`))
	assert.Equal(t, http.StatusConflict, res.Status, "a draft's budget is edited, not changed through review")

	e.act(t, e.manager("alice"), id, "submit", http.StatusOK)
	e.act(t, e.approver("bob"), id, "approve", http.StatusOK)

	type change struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	res = e.request(http.MethodPost, "/v1/campaigns/"+id+"/budget-changes", e.manager("carol"), []byte(`{"delta_fen":500000,"reason":"more demand"}`))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	up := decode[change](t, res.Body)

	budget := decode[budgetOut](t, e.request(http.MethodGet, "/v1/campaigns/"+id+"/budget", e.approver("bob"), nil).Body)
	assert.Equal(t, int64(500000), budget.Pending)
	assert.Equal(t, int64(10_000_000), budget.Funded, "nothing moves before approval")

	carolApprover := e.personToken("carol", time.Hour, auth.RoleApprover)
	res = e.request(http.MethodPost, "/v1/budget-changes/"+up.ID+"/approve", carolApprover, nil)
	assert.Equal(t, http.StatusForbidden, res.Status)
	assert.Equal(t, "FOUR_EYES_REQUIRED", res.errorCode(t))

	res = e.request(http.MethodPost, "/v1/budget-changes/"+up.ID+"/approve", e.approver("bob"), nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	assert.Equal(t, "approved", decode[change](t, res.Body).Status)
	res = e.request(http.MethodPost, "/v1/budget-changes/"+up.ID+"/reject", e.approver("dan"), nil)
	assert.Equal(t, http.StatusConflict, res.Status, "decided once")

	budget = decode[budgetOut](t, e.request(http.MethodGet, "/v1/campaigns/"+id+"/budget", e.approver("bob"), nil).Body)
	assert.Equal(t, int64(10_500_000), budget.Funded)
	assert.Equal(t, int64(10_500_000), budget.Available)
	assert.Zero(t, budget.Pending)

	// A decrease larger than what is available cannot be booked.
	res = e.request(http.MethodPost, "/v1/campaigns/"+id+"/budget-changes", e.manager("carol"), []byte(`{"delta_fen":-10400000,"reason":"cut"}`))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	down := decode[change](t, res.Body)
	_, err := e.db.Pool.Exec(context.Background(),
		`UPDATE ledger_balances SET balance_fen = 0 WHERE campaign_id = $1 AND account = 'available' AND bucket = 3`, id)
	require.NoError(t, err) // (simulates value drawn elsewhere; the checker below would flag it, which is the point of checking)
	res = e.request(http.MethodPost, "/v1/budget-changes/"+down.ID+"/approve", e.approver("bob"), nil)
	assert.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	assert.Equal(t, "BUDGET_EXHAUSTED", res.errorCode(t))

	faults, err := postgres.CheckLedger(context.Background(), e.db.Pool, nil)
	require.NoError(t, err)
	assert.NotEmpty(t, faults, "the balance edited behind the ledger's back is detected")
}

func TestPlatformsSeeOnlyLiveCampaignsOpenToThem(t *testing.T) {
	e := newIssuerEnv(t)
	open := e.create(t, consumptionCampaign())
	closedToJD := consumptionCampaign()
	closedToJD["rules"].(map[string]any)["eligibility"] = map[string]any{"platforms": []string{"taobao"}}
	other := e.create(t, closedToJD)
	draft := e.create(t, consumptionCampaign())
	e.clock.Set(time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC))
	for _, c := range []campaignOut{open, other} {
		e.act(t, e.manager("alice"), c.ID, "submit", http.StatusOK)
		e.act(t, e.approver("bob"), c.ID, "approve", http.StatusOK)
		e.act(t, e.manager("alice"), c.ID, "activate", http.StatusOK)
	}
	pt := e.platformToken()
	assert.Equal(t, http.StatusOK, e.request(http.MethodGet, "/v1/campaigns/"+open.ID, pt, nil).Status)
	assert.Equal(t, http.StatusNotFound, e.request(http.MethodGet, "/v1/campaigns/"+other.ID, pt, nil).Status)
	assert.Equal(t, http.StatusNotFound, e.request(http.MethodGet, "/v1/campaigns/"+draft.ID, pt, nil).Status)

	var list struct {
		Items []campaignOut `json:"items"`
	}
	res := e.request(http.MethodGet, "/v1/campaigns", pt, nil)
	require.Equal(t, http.StatusOK, res.Status)
	require.NoError(t, json.Unmarshal(res.Body, &list))
	require.Len(t, list.Items, 1)
	assert.Equal(t, open.ID, list.Items[0].ID)
}

func TestCampaignListPages(t *testing.T) {
	e := newIssuerEnv(t)
	ids := map[string]bool{}
	for i := 0; i < 5; i++ {
		ids[e.create(t, consumptionCampaign()).ID] = true
		e.clock.Set(e.clock.Now().Add(time.Second))
	}
	seen := map[string]bool{}
	cursor := ""
	for page := 0; page < 5; page++ {
		path := "/v1/campaigns?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		res := e.request(http.MethodGet, path, e.manager("alice"), nil)
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
		var list struct {
			Items      []campaignOut `json:"items"`
			NextCursor string        `json:"next_cursor"`
		}
		require.NoError(t, json.Unmarshal(res.Body, &list))
		for _, c := range list.Items {
			assert.False(t, seen[c.ID], "no campaign twice")
			seen[c.ID] = true
		}
		if cursor = list.NextCursor; cursor == "" {
			break
		}
	}
	assert.Equal(t, ids, seen)
	res := e.request(http.MethodGet, "/v1/campaigns?cursor=garbage", e.manager("alice"), nil)
	assert.Equal(t, http.StatusBadRequest, res.Status)
}

func TestAuditVerifyOverTheAPI(t *testing.T) {
	e := newIssuerEnv(t)
	c := e.create(t, consumptionCampaign())
	e.act(t, e.manager("alice"), c.ID, "submit", http.StatusOK)
	e.act(t, e.approver("bob"), c.ID, "approve", http.StatusOK)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		_, err := postgres.SealAudit(ctx, e.db.Pool)
		require.NoError(t, err)
		var unsealed int
		rep, err := postgres.VerifyAudit(ctx, e.db.Pool)
		require.NoError(t, err)
		unsealed = rep.UnsealedEvents
		return unsealed == 0
	}, time.Minute, 50*time.Millisecond)

	auditor := e.personToken("ann", time.Hour, auth.RoleAuditor)
	res := e.request(http.MethodGet, "/v1/audit/verify", auditor, nil)
	require.Equal(t, http.StatusOK, res.Status)
	rep := decode[map[string]any](t, res.Body)
	assert.Equal(t, true, rep["ok"], "%s", res.Body)
	assert.EqualValues(t, 3, rep["audit_events"])

	// Tamper with an event behind the application's back: verification names it.
	_, err := e.db.Pool.Exec(ctx, `SET session_replication_role = replica;
		UPDATE audit_events SET actor = 'mallory' WHERE action = 'campaign.approve';
		SET session_replication_role = origin;`)
	require.NoError(t, err)
	res = e.request(http.MethodGet, "/v1/audit/verify", auditor, nil)
	rep = decode[map[string]any](t, res.Body)
	assert.Equal(t, false, rep["ok"])
	fault := rep["first_fault"].(map[string]any)
	assert.Equal(t, "modified", fault["kind"])
	var approveID string
	require.NoError(t, e.db.Pool.QueryRow(ctx, `SELECT id::text FROM audit_events WHERE action = 'campaign.approve'`).Scan(&approveID))
	assert.Equal(t, approveID, fault["event_id"])
}

func TestSchemaErrorsNameTheNestedField(t *testing.T) {
	e := newIssuerEnv(t)
	m := consumptionCampaign()
	m["rules"].(map[string]any)["tiers"].([]any)[1].(map[string]any)["discount_fen"] = -1
	res := e.request(http.MethodPost, "/v1/campaigns", e.manager("alice"), mustJSON(m))
	require.Equal(t, http.StatusBadRequest, res.Status)
	assert.Contains(t, string(res.Body), `"field":"rules.tiers[1].discount_fen"`)
	assert.NotContains(t, string(res.Body), "Schema", "reasons do not dump the schema")
}
