package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/pgembed"
)

// Replica is a streaming hot standby of the tests' local server: what an
// auditor's read replica is in production. Everything committed on the
// primary, in every database, reaches it after a short lag; it refuses
// writes.
type Replica struct {
	primary *testServer
	cluster *pgembed.Cluster
	admin   *pgxpool.Pool // on the standby's postgres database
}

// replicaWait bounds how long the helpers wait for the standby.
const replicaWait = 30 * time.Second

// StartReplica clones the tests' server with pg_basebackup -R, starts the
// clone as a hot standby streaming from it (on another port, as the postgres
// user when root) and waits until it accepts read-only connections. It is
// stopped and removed when t ends.
//
// The primary needs nothing beyond PostgreSQL's defaults: wal_level=replica,
// max_wal_senders=10, and initdb's pg_hba.conf lets local connections
// replicate. A test whose server comes from TEST_DATABASE_URL is skipped:
// that server is not ours to clone.
func StartReplica(t testing.TB) *Replica {
	t.Helper()
	s := server(t)
	if s.cluster == nil {
		t.Skip("pgtest: a replica is cloned from the local test cluster, and TEST_DATABASE_URL is set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var walLevel string
	if err := s.admin.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		t.Fatalf("pgtest: read wal_level: %v", err)
	}
	if walLevel == "minimal" {
		t.Fatalf("pgtest: the test cluster runs with wal_level=minimal and cannot feed a replica")
	}

	dir, err := os.MkdirTemp("", "pgtest-replica-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // registered first, so it runs last
	owner, err := serverUser()
	if err == nil {
		err = prepareDataDir(dir, owner)
	}
	if err == nil {
		err = baseBackup(ctx, s.cluster, filepath.Join(dir, "pgdata"), owner)
	}
	if err != nil {
		t.Fatalf("pgtest: clone the test cluster for a replica: %v", err)
	}

	// standby.signal, written by -R, makes the clone start as a hot standby
	// following primary_conninfo; pgembed finds the cluster there and only
	// starts it.
	cl, err := pgembed.Start(ctx, pgembed.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("pgtest: start the replica: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cl.Stop(ctx); err != nil {
			t.Errorf("pgtest: stop the replica: %v", err)
		}
	})
	r := &Replica{primary: s, cluster: cl}
	if r.admin, err = pgxpool.New(ctx, cl.ConnString("postgres")); err != nil {
		t.Fatalf("pgtest: connect to the replica: %v", err)
	}
	t.Cleanup(r.admin.Close)
	var standby bool
	if err := r.admin.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby); err != nil || !standby {
		t.Fatalf("pgtest: the replica is not a standby (in recovery: %v, %v)", standby, err)
	}
	return r
}

// URL returns the URL of database db on the replica.
func (r *Replica) URL(db string) string { return r.cluster.ConnString(db) }

// WaitReplayed waits until the replica has replayed everything written on
// the primary before the call: a read there then sees every transaction
// committed before it.
func (r *Replica) WaitReplayed(t testing.TB) {
	t.Helper()
	r.waitFor(t, "replayed", "pg_last_wal_replay_lsn()")
}

// WaitReceived waits until the replica has received (not necessarily
// replayed) everything written on the primary before the call. With replay
// paused, what was received is on the replica's disk but not yet visible.
func (r *Replica) WaitReceived(t testing.TB) {
	t.Helper()
	r.waitFor(t, "received", "pg_last_wal_receive_lsn()")
}

func (r *Replica) waitFor(t testing.TB, what, position string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaWait)
	defer cancel()
	// The insert position covers commits not yet flushed (the test cluster
	// commits asynchronously); the primary flushes and sends them shortly.
	var target string
	if err := r.primary.admin.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&target); err != nil {
		t.Fatalf("pgtest: read the primary's WAL position: %v", err)
	}
	var at *string
	for {
		var done bool
		err := r.admin.QueryRow(ctx, "SELECT "+position+"::text, coalesce("+position+" >= $1::pg_lsn, false)", target).Scan(&at, &done)
		if err == nil && done {
			return
		}
		select {
		case <-ctx.Done():
			where := "nothing"
			if at != nil {
				where = *at
			}
			t.Fatalf("pgtest: the replica has not %s the primary's WAL up to %s within %v (it is at %s; last error %v)",
				what, target, replicaWait, where, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// PauseReplay stops the replica applying WAL (it keeps receiving it) and
// waits until replay has stopped, so the replica's reads are frozen.
func (r *Replica) PauseReplay(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaWait)
	defer cancel()
	if _, err := r.admin.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
		t.Fatalf("pgtest: pause WAL replay: %v", err)
	}
	for {
		var state string
		err := r.admin.QueryRow(ctx, "SELECT pg_get_wal_replay_pause_state()").Scan(&state)
		if err == nil && state == "paused" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pgtest: WAL replay not paused within %v (state %q, %v)", replicaWait, state, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ResumeReplay lets the replica apply WAL again.
func (r *Replica) ResumeReplay(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaWait)
	defer cancel()
	if _, err := r.admin.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
		t.Fatalf("pgtest: resume WAL replay: %v", err)
	}
}

// prepareDataDir opens dir to the server user and creates its pgdata,
// owned by that user: pg_basebackup runs as it and writes there.
func prepareDataDir(dir string, owner *syscall.Credential) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	pgdata := filepath.Join(dir, "pgdata")
	if err := os.Mkdir(pgdata, 0o700); err != nil {
		return err
	}
	if owner != nil {
		return os.Chown(pgdata, int(owner.Uid), int(owner.Gid))
	}
	return nil
}

// baseBackup copies the running primary into pgdata, with the WAL needed to
// make the copy consistent and a standby configuration (-R) pointing back at
// the primary.
func baseBackup(ctx context.Context, primary *pgembed.Cluster, pgdata string, owner *syscall.Credential) error {
	binDir, err := pgembed.FindBinaries()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "pg_basebackup"),
		"--dbname", primary.ConnString("postgres"), "--pgdata", pgdata,
		"--write-recovery-conf", "--wal-method=stream", "--checkpoint=fast", "--no-sync")
	cmd.Dir = filepath.Dir(pgdata)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: owner, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_basebackup: %w\n%s", err, out)
	}
	return nil
}

// serverUser is who runs PostgreSQL's programs: ourselves, or the postgres
// user when we are root (the server refuses root).
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL's programs must run as user postgres: %w", err)
	}
	uid, errU := strconv.ParseUint(u.Uid, 10, 32)
	gid, errG := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(errU, errG); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
