package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/pgembed"
)

// These tests run the real binary on its embedded PostgreSQL, as a person
// would: first start, reuse of the data, Ctrl-C and SIGKILL leaving nothing.

func buildVoucherd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "voucherd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// dataDir is a folder the postgres user can enter (t.TempDir is 0700).
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "voucherd-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "data")
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

type run struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	addr string
}

// syncBuffer collects the child's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func start(t *testing.T, bin, data string) *run {
	t.Helper()
	r := &run{logs: &syncBuffer{}, addr: freeAddr(t)}
	r.cmd = exec.Command(bin, "serve", "--listen", r.addr, "--data-dir", data, "--shutdown-timeout", "5s")
	r.cmd.Env = append(os.Environ(), "DATABASE_URL=")
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	require.NoError(t, r.cmd.Start())
	t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("voucherd not ready within 60 s:\n%s", r.logs)
	return nil
}

func postmasterPID(t *testing.T, data string) int {
	pid, err := pgembed.ServerPID(data)
	require.NoError(t, err)
	return pid
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	require.NoError(t, pgembed.AwaitExit(pid, 15*time.Second), "PostgreSQL still running")
}

func TestEmbeddedFirstRunReuseAndShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	bin, data := buildVoucherd(t), dataDir(t)

	r := start(t, bin, data)
	assert.Contains(t, r.logs.String(), "creating PostgreSQL cluster")
	assert.Contains(t, r.logs.String(), "psql", "prints a psql line to look inside")

	// A token minted with the development keys is accepted.
	keys, err := auth.LoadDevKeys(data)
	require.NoError(t, err)
	tok, err := auth.MintPersonToken(keys.Private, keys.KeyID, keys.Issuer, keys.Audience, "alice", []auth.Role{auth.RoleAuditor}, time.Hour, time.Now())
	require.NoError(t, err)
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.addr+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// Ctrl-C: exit 0 and no PostgreSQL left behind.
	pg := postmasterPID(t, data)
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, r.cmd.Wait(), "exit status after SIGINT:\n%s", r.logs)
	waitGone(t, pg)

	// Second run reuses the cluster.
	r = start(t, bin, data)
	assert.NotContains(t, r.logs.String(), "creating PostgreSQL cluster")

	// SIGKILL of voucherd takes its PostgreSQL with it.
	pg = postmasterPID(t, data)
	require.NoError(t, r.cmd.Process.Kill())
	_ = r.cmd.Wait()
	waitGone(t, pg)

	// And the next start recovers from the stale lock file.
	r = start(t, bin, data)
	pg = postmasterPID(t, data)
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, r.cmd.Wait())
	waitGone(t, pg)

	out, err := exec.Command(bin, "migrate", "status", "--data-dir", data).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "applied")
}

func TestRefusesExternalDatabaseWithoutKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	bin := buildVoucherd(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL=postgres://u@127.0.0.1:1/x", "TONGQUAN_AUTH_KEYS=", "TONGQUAN_DEV=")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "--dev")
	assert.Contains(t, string(out), "TONGQUAN_AUTH_KEYS")
}
