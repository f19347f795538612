package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/pgtest"
)

// TestAuditReadsFromReplica runs the real binary with DATABASE_URL on the test
// server and AUDIT_DATABASE_URL on a streaming replica of it. Redemptions are
// confirmed through the API (on the primary: a replica would refuse them);
// the audit history shows them only once the replica has replayed them, so it
// is the replica that answers. Verification and timelines work there too,
// although the replica refuses every write.
func TestAuditReadsFromReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary and a replica")
	}
	db := pgtest.New(t)
	rep := pgtest.StartReplica(t)
	bin := buildVoucherd(t)
	data := t.TempDir() // development keys only: no PostgreSQL runs in it

	addr := freeAddr(t)
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "serve", "--listen", addr, "--data-dir", data, "--shutdown-timeout", "5s")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+db.URL, "AUDIT_DATABASE_URL="+rep.URL(db.Name), "TONGQUAN_DEV=true")
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	exited := make(chan struct{}) // closed once voucherd has exited
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	defer func() {
		if t.Failed() {
			t.Logf("voucherd output (last 20000 bytes):\n%s", tail(logs.String(), 20000))
		}
	}()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("voucherd exited before it was ready (%v):\n%s", exitErr, logs)
		default:
		}
		require.True(t, time.Now().Before(deadline), "voucherd not ready within 60 s:\n%s", logs)
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
	}
	assert.Contains(t, logs.String(), "audit reads use their own database")

	keys, err := auth.LoadDevKeys(data)
	require.NoError(t, err)
	c := &crashClient{base: "http://" + addr, keys: keys, http: &http.Client{Timeout: 30 * time.Second}}
	alice, bob, carol := c.person("alice", auth.RoleCampaignManager), c.person("bob", auth.RoleApprover), c.person("carol", auth.RoleAuditor)
	platform := c.platform()

	// --- A campaign with an open round and two claimed vouchers. ---
	campaignID := c.liveCampaign(t, data, "Replica test", 1_000_000, 10, alice, bob, platform)
	var codes, ids [2]string
	for i := range codes {
		ids[i] = idNumber(t, i)
		r := c.mustCall(t, http.MethodPost, "/v1/campaigns/"+campaignID+"/claims", platform, "claim-"+ids[i], map[string]any{
			"holder":  map[string]any{"id_number": ids[i], "residence_region": "310104", "real_name_verified": true},
			"tier_id": "200-50",
		}, http.StatusCreated)
		var v struct{ Code string }
		require.NoError(t, json.Unmarshal(r.body, &v))
		codes[i] = v.Code
	}
	redeem := func(i int) string {
		t.Helper()
		r := c.mustCall(t, http.MethodPost, "/v1/redemptions", platform, "res-"+codes[i], reserveBody(codes[i], ids[i], 30000), http.StatusCreated)
		var red struct{ ID string }
		require.NoError(t, json.Unmarshal(r.body, &red))
		c.mustCall(t, http.MethodPost, "/v1/redemptions/"+red.ID+"/confirm", platform, "conf-"+codes[i], confirmBody(codes[i], 25000), http.StatusOK)
		return red.ID
	}
	audited := func() []string {
		t.Helper()
		r := c.mustCall(t, http.MethodGet, "/v1/audit/redemptions?status=confirmed&campaign_id="+campaignID, carol, "", nil, http.StatusOK)
		var page struct {
			Items  []struct{ ID string }
			Totals struct{ Count int64 }
		}
		require.NoError(t, json.Unmarshal(r.body, &page))
		var got []string
		for _, it := range page.Items {
			got = append(got, it.ID)
		}
		assert.Equal(t, int64(len(got)), page.Totals.Count, "the page's totals agree with its items")
		return got
	}

	// --- A confirm written on the primary reaches the audit history once
	// the replica has replayed it. ---
	first := redeem(0)
	rep.WaitReplayed(t)
	assert.Equal(t, []string{first}, audited())

	// --- With replay paused, a new confirm is on the primary (and on the
	// replica's disk) but not in the audit history. ---
	rep.PauseReplay(t)
	second := redeem(1)
	r := c.mustCall(t, http.MethodGet, "/v1/redemptions/"+second, platform, "", nil, http.StatusOK)
	assert.Contains(t, string(r.body), `"status":"confirmed"`, "the platform reads the confirm from the primary")
	var onPrimary int
	require.NoError(t, db.Pool.QueryRow(t.Context(),
		`SELECT count(*) FROM redemptions WHERE campaign_id::text = $1 AND status = 'confirmed'`, campaignID).Scan(&onPrimary))
	assert.Equal(t, 2, onPrimary)
	rep.WaitReceived(t)
	assert.Equal(t, []string{first}, audited(), "the audit history is served by the paused replica")
	r = c.mustCall(t, http.MethodGet, "/v1/audit/redemptions/export?format=ndjson&campaign_id="+campaignID, carol, "", nil, http.StatusOK)
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(string(r.body)), "\n")+1, "the export reads the replica too: %s", r.body)

	rep.ResumeReplay(t)
	rep.WaitReplayed(t)
	assert.ElementsMatch(t, []string{first, second}, audited(), "after replay resumes the second confirm appears")

	// --- Timelines and verification run on the replica, which refuses
	// every write: they only read. Sealing runs on the primary's issuer. ---
	r = c.mustCall(t, http.MethodGet, "/v1/audit/events?entity_type=redemption&entity_id="+second, carol, "", nil, http.StatusOK)
	var events struct{ Items []struct{ Action string } }
	require.NoError(t, json.Unmarshal(r.body, &events))
	assert.NotEmpty(t, events.Items, "the second redemption's timeline: %s", r.body)

	var report struct {
		OK             bool  `json:"ok"`
		AuditEvents    int64 `json:"audit_events"`
		UnsealedEvents int64 `json:"unsealed_events"`
	}
	require.Eventually(t, func() bool {
		r = c.mustCall(t, http.MethodGet, "/v1/audit/verify", carol, "", nil, http.StatusOK)
		require.NoError(t, json.Unmarshal(r.body, &report))
		require.True(t, report.OK, "verify on the replica: %s", r.body)
		return report.UnsealedEvents == 0 && report.AuditEvents > 0
	}, 30*time.Second, 200*time.Millisecond, "the primary seals every event and the replica verifies the chain")

	// --- pg_stat_activity: the audit pool is connected to the replica
	// only, the rest of voucherd to the primary only. ---
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sessions := func(url string) map[string]int {
		t.Helper()
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		rows, err := conn.Query(ctx, `SELECT application_name, count(*) FROM pg_stat_activity
			WHERE datname = $1 AND application_name LIKE 'voucherd%' GROUP BY 1`, db.Name)
		require.NoError(t, err)
		got := map[string]int{}
		for rows.Next() {
			var name string
			var n int
			require.NoError(t, rows.Scan(&name, &n))
			got[name] = n
		}
		require.NoError(t, rows.Err())
		return got
	}
	onReplica, onPrimaryConns := sessions(rep.URL(db.Name)), sessions(db.URL)
	assert.Positive(t, onReplica["voucherd-audit"], "audit sessions on the replica: %v", onReplica)
	assert.Zero(t, onReplica["voucherd"], "no other voucherd session on the replica: %v", onReplica)
	assert.Positive(t, onPrimaryConns["voucherd"], "voucherd sessions on the primary: %v", onPrimaryConns)
	assert.Zero(t, onPrimaryConns["voucherd-audit"], "no audit session on the primary: %v", onPrimaryConns)

	r = c.mustCall(t, http.MethodGet, "/readyz", nil, "", nil, http.StatusOK)
	assert.Contains(t, string(r.body), `"ok"`)
}
