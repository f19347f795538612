package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the real binaries: voucherd on its embedded PostgreSQL
// in a temporary folder, and voucherbench against it at small sizes.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func binaries(t *testing.T) (voucherd, voucherbench string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "voucherbench-bin-")
		if buildErr != nil {
			return
		}
		for _, pkg := range []string{"../voucherd", "."} {
			out, err := exec.Command("go", "build", "-o", binDir, pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(binDir, "voucherd"), filepath.Join(binDir, "voucherbench")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// dataDir is a folder the postgres user can enter (t.TempDir is 0700).
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "voucherbench-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "data")
}

type service struct {
	url, data, dsn string
}

// startVoucherd runs voucherd until the test ends.
func startVoucherd(t *testing.T) service {
	t.Helper()
	bin, _ := binaries(t)
	data := dataDir(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	v := &voucherd{bin: bin, data: data, addr: addr, logs: &tailBuffer{}}
	require.NoError(t, v.launch())
	t.Cleanup(v.stop)
	dsn, err := v.databaseURL()
	require.NoError(t, err)
	return service{url: "http://" + addr, data: data, dsn: dsn}
}

func runBench(t *testing.T, args ...string) (result, int, string) {
	t.Helper()
	_, bench := binaries(t)
	out := filepath.Join(t.TempDir(), "out.json")
	cmd := exec.Command(bench, append(args, "--json", out)...)
	output, _ := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	var res result
	if raw, err := os.ReadFile(out); err == nil {
		require.NoError(t, json.Unmarshal(raw, &res), "%s", raw)
	}
	return res, code, string(output)
}

func opOf(res result, name string) opResult {
	for _, o := range res.Ops {
		if o.Op == name {
			return o
		}
	}
	return opResult{}
}

func TestWorkloadsSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts voucherd and loads it")
	}
	s := startVoucherd(t)
	common := []string{"--url", s.url, "--data-dir", s.data, "--database-url", s.dsn, "--clients", "16",
		"--holders", "2000", "--stock", "500", "--duration", "2m", "--seal-wait", "60s", "--call-limit", "20s"}

	cases := []struct {
		workload string
		extra    []string
		check    func(t *testing.T, res result)
	}{
		{"claim-burst", nil, func(t *testing.T, res result) {
			claims := opOf(res, "claim")
			assert.GreaterOrEqual(t, claims.Count, int64(2000), "every holder claims once, some through two platforms")
			assert.Equal(t, claims.Count-500, claims.Errors["ROUND_SOLD_OUT"]+claims.Errors["HOLDER_LIMIT_REACHED"],
				"500 claims win the round; every other first claim is refused")
		}},
		{"redeem-mix", nil, func(t *testing.T, res result) {
			assert.Equal(t, int64(500), opOf(res, "reserve").Count)
			assert.Empty(t, opOf(res, "reserve").Errors)
			confirms := opOf(res, "confirm").Count
			assert.InDelta(t, 0.93*500, float64(confirms), 40, "confirm 90 %% + refund 3 %%")
			assert.Positive(t, opOf(res, "replay").Count)
		}},
		{"trade-in-hot-budget", []string{"--rate", "400"}, func(t *testing.T, res result) {
			assert.Equal(t, "open", res.Mode)
			reserves := opOf(res, "reserve")
			assert.Equal(t, int64(500), reserves.Count)
			assert.Equal(t, int64(250), reserves.Count-reserves.Errors["BUDGET_EXHAUSTED"], "the budget pays half the holders")
			assert.Equal(t, int64(250), opOf(res, "confirm").Count)
		}},
		{"bulk-grant", nil, func(t *testing.T, res result) {
			assert.Equal(t, int64(2000), opOf(res, "grant").Count)
		}},
		{"audit-query", []string{"--count", "60"}, func(t *testing.T, res result) {
			assert.Positive(t, opOf(res, "page").Count)
			assert.Equal(t, int64(3), opOf(res, "export").Count)
		}},
	}
	for _, c := range cases {
		t.Run(c.workload, func(t *testing.T) {
			res, code, output := runBench(t, append(append([]string{"run", "--workload", c.workload}, common...), c.extra...)...)
			require.Equal(t, c.workload, res.Workload, "%s", output)
			for _, inv := range res.Invariants {
				assert.True(t, inv.OK, "%s: %s", inv.Name, inv.Detail)
			}
			assert.True(t, res.OK, "%s", output)
			assert.Equal(t, 0, code, "%s", output)
			c.check(t, res)
		})
	}
}

// TestInvariantBreakIsNamed corrupts a ledger balance behind the service's
// back: the checks name the broken invariants.
func TestInvariantBreakIsNamed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts voucherd")
	}
	s := startVoucherd(t)
	ctx := context.Background()
	o := options{url: s.url, dataDir: s.data, databaseURL: s.dsn, clients: 8, duration: time.Minute,
		holders: 200, stock: 200, seed: 1, callLimit: time.Minute, sealWait: 30 * time.Second}
	b, err := newBench(ctx, o)
	require.NoError(t, err)
	defer b.db.close()
	require.NoError(t, bulkGrant(ctx, b))
	require.True(t, b.result(ctx, "bulk-grant").OK, "before the corruption every invariant holds")

	conn, err := pgx.Connect(ctx, s.dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `UPDATE ledger_balances SET balance_fen = balance_fen + 100
		WHERE (campaign_id, account, bucket) IN (SELECT campaign_id, account, bucket FROM ledger_balances WHERE account = 'available' LIMIT 1)`)
	require.NoError(t, err)

	failed := map[string]string{}
	for _, inv := range b.invariants(ctx) {
		if !inv.OK {
			failed[inv.Name] = inv.Detail
		}
	}
	assert.Contains(t, failed, "ledger balances (SQL)")
	assert.Contains(t, failed, "ledger balances")
	assert.Contains(t, failed, "budget identity of every campaign")
	assert.Contains(t, failed["ledger balances (SQL)"], "differ from the sum of their entries")

	// And the command says so with exit status 1.
	_, code, output := runBench(t, "run", "--workload", "bulk-grant", "--url", s.url, "--data-dir", s.data,
		"--database-url", s.dsn, "--holders", "50", "--seal-wait", "10s")
	assert.Equal(t, exitInvariant, code, "%s", output)
	assert.Contains(t, output, "FAIL  ledger balances (SQL)")
}

func TestUsageErrorsExitTwo(t *testing.T) {
	_, bench := binaries(t)
	for _, args := range [][]string{
		{},
		{"run", "--workload", "nope"},
		{"run", "--workload", "claim-burst", "--url", "http://10.1.2.3:8080"},
		{"run", "--workload", "claim-burst", "--procs", "0"},
		{"crash"},
	} {
		cmd := exec.Command(bench, args...)
		out, _ := cmd.CombinedOutput()
		assert.Equal(t, exitUsage, cmd.ProcessState.ExitCode(), "%v: %s", args, out)
	}
}

func TestCrashDrillSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("kills voucherd and PostgreSQL")
	}
	voucherd, _ := binaries(t)
	data := dataDir(t)
	_, bench := binaries(t)
	out := filepath.Join(t.TempDir(), "crash.json")
	cmd := exec.Command(bench, "crash", "--voucherd", voucherd, "--data-dir", data, "--kills", "2", "--holders", "300", "--json", out)
	output, _ := cmd.CombinedOutput()
	raw, err := os.ReadFile(out)
	require.NoError(t, err, "%s", output)
	var res crashResult
	require.NoError(t, json.Unmarshal(raw, &res))
	for _, inv := range res.Invariants {
		assert.True(t, inv.OK, "%s: %s", inv.Name, inv.Detail)
	}
	require.Len(t, res.Events, 3, "two kills and the database drill")
	assert.Equal(t, "pg_ctl stop -m immediate", res.Events[2].What)
	assert.Equal(t, int64(900), res.Acknowledged, "300 claims, reserves and confirms")
	assert.Zero(t, res.Lost)
	assert.Equal(t, 0, cmd.ProcessState.ExitCode(), "%s", output)
	assert.False(t, strings.Contains(string(output), "FAIL"), "%s", output)

	// No PostgreSQL is left running on the folder.
	_, err = os.Stat(filepath.Join(data, "pgdata", "postmaster.pid"))
	assert.True(t, os.IsNotExist(err), "postmaster.pid removed: PostgreSQL stopped")
}
