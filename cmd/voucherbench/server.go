package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tongquan/tongquan/internal/pgembed"
)

// voucherd is the service under the crash drill: one binary, one data
// folder, one listen address, across kills and restarts.
type voucherd struct {
	bin, data, addr string
	logs            *tailBuffer

	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{}
	runs int
}

// launch starts voucherd and waits until /readyz answers 200, starting it
// again if it exits first (the address may not be free yet after a kill).
func (v *voucherd) launch() error {
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		cmd := exec.Command(v.bin, "serve", "--listen", v.addr, "--data-dir", v.data, "--shutdown-timeout", "5s")
		cmd.Env = append(os.Environ(), "DATABASE_URL=")
		cmd.Stdout, cmd.Stderr = v.logs, v.logs
		if err := cmd.Start(); err != nil {
			return err
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		v.mu.Lock()
		v.proc, v.done = cmd, done
		v.runs++
		v.mu.Unlock()
		if last = v.waitReady(done, deadline); last == nil {
			return nil
		}
		_ = cmd.Process.Kill()
		<-done
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("voucherd not ready within 90 s: %w; its output ends:\n%s", last, v.logs)
}

func (v *voucherd) waitReady(done chan struct{}, deadline time.Time) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if done != nil {
			select {
			case <-done:
				return errors.New("voucherd exited before it was ready")
			default:
			}
		}
		resp, err := client.Get("http://" + v.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("timed out waiting for /readyz")
}

// kill SIGKILLs voucherd and waits until it and its PostgreSQL are gone.
func (v *voucherd) kill() error {
	pg, err := pgembed.ServerPID(v.data)
	if err != nil {
		return err
	}
	v.mu.Lock()
	cmd, done := v.proc, v.done
	v.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-done
	return awaitGone(pg, "voucherd was killed")
}

// stopPostgres is the database drill: pg_ctl stop -m immediate under a
// running voucherd (no checkpoint: recovery replays the WAL). voucherd
// starts its PostgreSQL again by itself on the same port and its pool
// reconnects; the caller waits for /readyz. pg_ctl does not wait (-W): it
// would take the restarted server's postmaster.pid for the old one's.
func (v *voucherd) stopPostgres() error {
	pg, err := pgembed.ServerPID(v.data)
	if err != nil {
		return err
	}
	if err := v.pgctl("stop", "-D", filepath.Join(v.data, "pgdata"), "-m", "immediate", "-W"); err != nil {
		return err
	}
	return awaitGone(pg, "pg_ctl stop -m immediate")
}

// awaitGone waits until the PostgreSQL server pg has exited after what.
func awaitGone(pg int, what string) error {
	if err := pgembed.AwaitExit(pg, 15*time.Second); err != nil {
		return fmt.Errorf("PostgreSQL after %s: %w", what, err)
	}
	return nil
}

// pgctl runs pg_ctl, as the postgres user when we are root.
func (v *voucherd) pgctl(args ...string) error {
	bin, err := pgembed.FindBinaries()
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(bin, "pg_ctl"), args...)
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, pg_ctl must run as postgres: %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Dir = os.TempDir()
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w: %s", args[0], err, bytes.TrimSpace(out))
	}
	return nil
}

// stop ends the drill: SIGINT to voucherd, which stops its PostgreSQL.
func (v *voucherd) stop() {
	v.mu.Lock()
	cmd, done := v.proc, v.done
	v.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (v *voucherd) databaseURL() (string, error) {
	port, err := os.ReadFile(filepath.Join(v.data, "port"))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%s/tongquan?sslmode=disable", strings.TrimSpace(string(port))), nil
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tailBuffer keeps the last 64 KiB of voucherd's output, for errors.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 64<<10 {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-64<<10:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
