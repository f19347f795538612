package pgembed_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/pgembed"
)

// dataDir returns a folder for a cluster. Not t.TempDir: that is mode 0700,
// closed to the postgres user the server runs as when the tests run as root.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgembed-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "data") // also exercises creating the folder
}

func start(t *testing.T, opt pgembed.Options) *pgembed.Cluster {
	t.Helper()
	c, err := pgembed.Start(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return c
}

func connect(t *testing.T, c *pgembed.Cluster) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.ConnString(pgembed.Database))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec1(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, conn *pgx.Conn, sql string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestRestartKeepsDataAndPort(t *testing.T) {
	t.Parallel()
	opt := pgembed.Options{DataDir: dataDir(t)}
	c := start(t, opt)
	if want := fmt.Sprintf("psql %q", c.ConnString(pgembed.Database)); !strings.HasSuffix(c.PsqlCommand(pgembed.Database), want) {
		t.Errorf("PsqlCommand = %s, want it to end in %s", c.PsqlCommand(pgembed.Database), want)
	}
	conn := connect(t, c)
	exec1(t, conn, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)")

	// A second server on the same folder must be refused, not started.
	if _, err := pgembed.Start(t.Context(), opt); err == nil || !strings.Contains(err.Error(), "another PostgreSQL server") {
		t.Fatalf("second Start on a folder in use: err = %v, want one naming the running server", err)
	}

	if err := c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(t.Context()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	again := start(t, opt)
	if again.Port() != c.Port() {
		t.Errorf("restarted on port %d, want the previous port %d (free unless something took it meanwhile)", again.Port(), c.Port())
	}
	if n := count(t, connect(t, again), "SELECT count(*) FROM kept"); n != 1 {
		t.Errorf("after restart the table holds %d rows, want 1", n)
	}
}

func TestStartAfterKill(t *testing.T) {
	t.Parallel()
	opt := pgembed.Options{DataDir: dataDir(t), Fsync: true}
	c := start(t, opt)
	exec1(t, connect(t, c), "CREATE TABLE committed (n int); INSERT INTO committed VALUES (1)")
	if pid, err := pgembed.ServerPID(opt.DataDir); err != nil || pid != c.PID() {
		t.Errorf("ServerPID = %d, %v; want the server's %d", pid, err, c.PID())
	}
	if err := pgembed.AwaitExit(c.PID(), 50*time.Millisecond); err == nil {
		t.Error("AwaitExit of the running server returned nil")
	}
	c.Kill()
	if err := c.Wait(); err == nil {
		t.Error("Wait after Kill returned nil, want the signal")
	}
	if err := pgembed.AwaitExit(c.PID(), time.Second); err != nil {
		t.Errorf("AwaitExit after Kill: %v", err)
	}

	// The killed server left its postmaster.pid behind; make its PID belong
	// to a live process that is not postgres, as after PID reuse, which
	// PostgreSQL alone would refuse to start over. It must be one the server
	// may signal, or PostgreSQL takes it for someone else's and ignores it.
	other := exec.Command("sleep", "60")
	other.SysProcAttr = &syscall.SysProcAttr{Credential: serverUser(t)}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	pidFile := filepath.Join(c.DataDir(), "pgdata", "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the killed server left no postmaster.pid: %v", err)
	}
	_, rest, _ := strings.Cut(string(b), "\n")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(other.Process.Pid)+"\n"+rest), 0o600); err != nil {
		t.Fatal(err)
	}

	again, err := pgembed.Start(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(again.Kill)
	if n := count(t, connect(t, again), "SELECT count(*) FROM committed"); n != 1 {
		t.Errorf("after a crash with fsync on the table holds %d rows, want the committed 1", n)
	}

	// With no time left, Stop forces the server down and says so.
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	if err := again.Stop(expired); err == nil {
		t.Error("Stop with an expired context returned nil, want an error saying it forced the shutdown")
	}
}

// serverUser returns the credentials the server runs with: postgres when
// root, else nil for our own.
func serverUser(t *testing.T) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// TestKilledOwnerLeavesNoServer SIGKILLs a process running a cluster and
// checks the kernel takes the server (and its children) down with it.
func TestKilledOwnerLeavesNoServer(t *testing.T) {
	t.Parallel()
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	helper.Env = append(os.Environ(), "PGEMBED_HELPER_DATADIR="+dataDir(t))
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper printed no server PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "pid "))
	if err != nil {
		t.Fatalf("helper printed %q, want \"pid N\"", line)
	}
	if !groupAlive(pid) {
		t.Fatalf("server %d is not running before its owner is killed", pid)
	}

	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for groupAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("server %d (or one of its processes) still runs 10s after its owner was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHelperProcess is the owner TestKilledOwnerLeavesNoServer kills: it
// starts a cluster, prints its PID and waits to be killed.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("PGEMBED_HELPER_DATADIR")
	if dir == "" {
		t.Skip("run by TestKilledOwnerLeavesNoServer")
	}
	c, err := pgembed.Start(context.Background(), pgembed.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("pid %d\n", c.PID())
	c.Wait()
	t.Fatal("server exited before its owner was killed")
}

// groupAlive reports whether a process of group pgid (the server and the
// processes it started) still runs. Zombies count as gone: orphans are reaped
// by PID 1, which in a container may take its time.
func groupAlive(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (name) state ppid pgrp …"; the name may hold spaces and ")".
		_, rest, _ := bytes.Cut(stat[bytes.LastIndexByte(stat, ')'):], []byte(" "))
		if f := strings.Fields(string(rest)); len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

func TestFindBinaries(t *testing.T) {
	dir, err := pgembed.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("FindBinaries returned %s: %v", dir, err)
		}
	}
}
