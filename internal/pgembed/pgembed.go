// Package pgembed runs a local PostgreSQL cluster as a child process, from the
// server binaries installed on the machine and in a data folder of its own.
// voucherd uses it when no DATABASE_URL is configured; tests use it through
// pgtest.
//
// The server is started directly rather than through pg_ctl so that it stays
// our child: the kernel SIGKILLs it when the process that started it dies
// (Pdeathsig), even if that process was itself SIGKILLed, so no server
// outlives its owner. It runs in its own process group so a Ctrl-C on the
// terminal reaches only the owner, which then stops the server in order.
//
// PostgreSQL refuses to run as root: when the owner is root, initdb and the
// server run as the "postgres" user, which must be able to enter every parent
// of the data folder.
package pgembed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Database is the application database Start creates.
const Database = "tongquan"

// Options configure Start.
type Options struct {
	// DataDir holds the cluster (DataDir/pgdata), the server log
	// (DataDir/postgres.log) and the port of the last run (DataDir/port).
	DataDir string
	// Port to listen on at 127.0.0.1. 0 reuses the port of the previous run
	// when it is free, so connection strings stay the same, else picks one.
	Port int
	// BinDir holds initdb and postgres; "" means FindBinaries.
	BinDir string
	// Fsync keeps committed data across a crash of the machine. Only tests
	// turn it off: a server killed without it may lose recent commits.
	Fsync bool
	// Settings are extra server settings, passed as -c name=value.
	Settings map[string]string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// Stdout and Stderr receive the server's output; nil means
	// DataDir/postgres.log. The server logs to Stderr.
	Stdout, Stderr io.Writer
}

// Cluster is a running server started by Start.
type Cluster struct {
	binDir, dataDir string
	port            int
	logger          *slog.Logger
	cmd             *exec.Cmd
	log             *tail // the end of the server's stderr, for error messages

	exited  chan struct{} // closed once the server process has exited
	exitErr error         // how it exited; set before exited is closed

	stopOnce sync.Once
	stopErr  error
}

// Start starts the cluster in opt.DataDir, creating it on first run, waits
// until it accepts connections and creates Database if missing. Stop it with
// Stop; if the caller dies first, the kernel kills it.
func Start(ctx context.Context, opt Options) (*Cluster, error) {
	if opt.DataDir == "" {
		return nil, errors.New("pgembed: Options.DataDir is required")
	}
	dataDir, err := filepath.Abs(opt.DataDir)
	if err != nil {
		return nil, err
	}
	binDir := opt.BinDir
	if binDir == "" {
		if binDir, err = FindBinaries(); err != nil {
			return nil, err
		}
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	owner, err := serverUser()
	if err != nil {
		return nil, err
	}
	if err := mkdirAll(dataDir); err != nil {
		return nil, fmt.Errorf("create PostgreSQL data folder: %w", err)
	}
	pgdata := filepath.Join(dataDir, "pgdata")
	if err := initCluster(ctx, binDir, pgdata, owner, opt.Fsync, logger); err != nil {
		return nil, err
	}
	if err := removeStalePIDFile(pgdata); err != nil {
		return nil, err
	}

	// A port found free may be taken before the server binds it (another
	// cluster starting at the same moment); then try another one.
	portFile := filepath.Join(dataDir, "port")
	var c *Cluster
	for attempt := 1; ; attempt++ {
		port := opt.Port
		if port == 0 {
			if port, err = freePort(lastPort(portFile)); err != nil {
				return nil, fmt.Errorf("find a free port for PostgreSQL: %w", err)
			}
		}
		c, err = launch(ctx, binDir, dataDir, port, owner, opt, logger)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || opt.Port != 0 || attempt == 3 {
			return nil, err
		}
		logger.Info("PostgreSQL port was taken meanwhile, trying another", "port", port)
	}
	if err := os.WriteFile(portFile, []byte(strconv.Itoa(c.port)+"\n"), 0o644); err != nil {
		logger.Warn("cannot remember the PostgreSQL port for the next start", "err", err)
	}
	if err := c.CreateDatabase(ctx, Database); err != nil {
		c.Kill()
		return nil, err
	}
	logger.Info("PostgreSQL is running", "data", pgdata, "port", c.port, "psql", c.PsqlCommand(Database))
	return c, nil
}

// serverUser returns the credentials to run initdb and postgres with: nil
// (our own) unless we are root, which PostgreSQL refuses.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, so PostgreSQL must run as the user \"postgres\", but it cannot be found (%w): "+
			"create it (useradd --system postgres), run as a non-root user, or set DATABASE_URL", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user postgres has uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user postgres has gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// mkdirAll is os.MkdirAll giving mode 0755 to the folders it creates whatever
// the umask, so that the postgres user can reach the cluster inside.
func mkdirAll(dir string) error {
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) || d == filepath.Dir(d) {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range created {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// initCluster runs initdb unless pgdata already holds a cluster. initdb writes
// into a scratch folder renamed into place once complete, so an initdb cut
// short is redone on the next start rather than leaving a broken cluster.
func initCluster(ctx context.Context, binDir, pgdata string, owner *syscall.Credential, fsync bool, logger *slog.Logger) error {
	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); err == nil {
		return nil
	}
	if _, err := os.Stat(pgdata); err == nil {
		return fmt.Errorf("%s exists but holds no PostgreSQL cluster (no PG_VERSION): move it away or choose another data folder", pgdata)
	}
	logger.Info("creating PostgreSQL cluster", "data", pgdata)
	scratch := pgdata + ".initdb"
	if err := os.RemoveAll(scratch); err != nil {
		return err
	}
	if err := os.Mkdir(scratch, 0o700); err != nil {
		return err
	}
	if owner != nil {
		if err := os.Chown(scratch, int(owner.Uid), int(owner.Gid)); err != nil {
			return err
		}
	}
	// Trust authentication: the server listens on 127.0.0.1 only and has no
	// Unix socket, so only processes on this machine reach it, as superuser.
	// That suits a developer machine or a single-tenant box, not a shared
	// host; there, configure DATABASE_URL with a real server instead.
	args := []string{"-D", scratch, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"}
	if !fsync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), args...)
	cmd.Dir = filepath.Dir(pgdata) // our own working folder may be closed to the postgres user
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: owner, Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		var detail string
		if out = bytes.TrimSpace(out); len(out) > 0 {
			detail = "\n" + string(out)
		}
		if owner != nil {
			detail += "\n(as root, initdb runs as user postgres: every parent folder of " + pgdata + " must be enterable by it, e.g. mode 0755)"
		}
		return fmt.Errorf("initdb failed: %w%s", err, detail)
	}
	return os.Rename(scratch, pgdata)
}

// removeStalePIDFile removes the postmaster.pid a killed server left behind.
// PostgreSQL copes with one whose PID is dead, but refuses to start when the
// PID has since been reused by an unrelated process. A live server still
// owning the folder is an error: we must not start a second one on it.
func removeStalePIDFile(pgdata string) error {
	pid, err := postmasterPID(pgdata)
	var unreadable *strconv.NumError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case errors.As(err, &unreadable): // stale too
	case err != nil:
		return err
	case servesFolder(pid, pgdata):
		return fmt.Errorf("another PostgreSQL server (pid %d) is running on %s: stop it, or give this one another data folder", pid, pgdata)
	}
	return os.Remove(filepath.Join(pgdata, "postmaster.pid"))
}

// postmasterPID is the PID in pgdata's postmaster.pid: the server running
// there, or the last one if it was killed.
func postmasterPID(pgdata string) (int, error) {
	b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// ServerPID returns the PID of the server of the cluster in dataDir (as
// Options.DataDir), from its postmaster.pid: the running server's, or the
// last one's if it was killed. A server this package did not start there
// (restarted by an owner's supervisor, say) counts too.
func ServerPID(dataDir string) (int, error) {
	return postmasterPID(filepath.Join(dataDir, "pgdata"))
}

// AwaitExit waits up to timeout for process pid to exit; a zombie, exited
// but not yet reaped by its parent, has exited.
func AwaitExit(pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for running(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d still running after %s", pid, timeout)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// running reports a process that exists and is not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// servesFolder reports whether process pid is a postgres working in pgdata.
func servesFolder(pid int, pgdata string) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		// Another user's process hides its folder: assume it is the server.
		// Any other failure means it is gone or a zombie.
		return errors.Is(err, fs.ErrPermission)
	}
	return cwd == pgdata
}

func lastPort(portFile string) int {
	b, err := os.ReadFile(portFile)
	if err != nil {
		return 0
	}
	port, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return port
}

// freePort returns preferred if it is free on 127.0.0.1, else any free port.
func freePort(preferred int) (int, error) {
	if preferred > 0 {
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(preferred))); err == nil {
			l.Close()
			return preferred, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var errPortTaken = errors.New("port already in use")

// launch starts the server on port and waits until it accepts connections.
func launch(ctx context.Context, binDir, dataDir string, port int, owner *syscall.Credential, opt Options, logger *slog.Logger) (*Cluster, error) {
	pgdata := filepath.Join(dataDir, "pgdata")
	args := []string{"-D", pgdata, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		// No Unix socket: its lock file in /var/run/postgresql or /tmp is
		// where root-versus-postgres permission trouble comes from.
		"-c", "unix_socket_directories=",
	}
	if !opt.Fsync {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, name := range slices.Sorted(maps.Keys(opt.Settings)) {
		args = append(args, "-c", name+"="+opt.Settings[name])
	}

	stdout, stderr := opt.Stdout, opt.Stderr
	var logFile *os.File
	if stdout == nil || stderr == nil {
		f, err := os.OpenFile(filepath.Join(dataDir, "postgres.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL log: %w", err)
		}
		logFile = f
		if stdout == nil {
			stdout = f
		}
		if stderr == nil {
			stderr = f
		}
	}
	log := &tail{}
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Dir = dataDir
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(stderr, log)
	// Backends outliving a killed server may hold the log pipe open a moment.
	cmd.WaitDelay = 2 * time.Second
	// Pdeathsig is sent when the thread that started the child exits, which
	// Go does only for a goroutine that locked its thread and returned.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: owner, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logger.Debug("starting PostgreSQL", "bin", cmd.Path, "args", args)
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return nil, fmt.Errorf("start PostgreSQL: %w", err)
	}
	c := &Cluster{binDir: binDir, dataDir: dataDir, port: port, logger: logger, cmd: cmd, log: log, exited: make(chan struct{})}
	go func() {
		c.exitErr = cmd.Wait()
		if logFile != nil {
			logFile.Close()
		}
		close(c.exited)
	}()
	if err := c.waitReady(ctx, pgdata); err != nil {
		c.Kill()
		return nil, err
	}
	return c, nil
}

// waitReady polls until the server accepts connections. It checks the
// answering server works in pgdata: if another one took the port first, ours
// will exit and report the port taken.
func (c *Cluster) waitReady(ctx context.Context, pgdata string) error {
	const timeout = 30 * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if dir, err := c.dataDirectory(ctx); err == nil && dir == pgdata {
			return nil
		}
		select {
		case <-c.exited:
			if strings.Contains(c.log.String(), "Address already in use") {
				return fmt.Errorf("PostgreSQL could not listen on 127.0.0.1:%d: %w", c.port, errPortTaken)
			}
			return fmt.Errorf("PostgreSQL exited before accepting connections (%v); the end of its log:\n%s", c.exitErr, c.log)
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL did not accept connections on 127.0.0.1:%d within %v (%w); the end of its log:\n%s",
				c.port, timeout, ctx.Err(), c.log)
		case <-tick.C:
		}
	}
}

func (c *Cluster) dataDirectory(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var dir string
	err = conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir)
	return dir, err
}

// CreateDatabase creates the database name unless it exists.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL on port %d: %w", c.port, err)
	}
	defer conn.Close(ctx)
	// Look first: a failed CREATE DATABASE would log an ERROR at every start.
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42P04" {
		return nil // created meanwhile by someone else
	}
	if err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

// ConnString returns the URL of database db on this server.
func (c *Cluster) ConnString(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, url.PathEscape(db))
}

// PsqlCommand returns a command line a person can paste to open database db.
func (c *Cluster) PsqlCommand(db string) string {
	psql := "psql"
	if _, err := exec.LookPath(psql); err != nil {
		psql = filepath.Join(c.binDir, "psql")
	}
	return fmt.Sprintf("%s %q", psql, c.ConnString(db))
}

// Port returns the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// DataDir returns Options.DataDir as an absolute path.
func (c *Cluster) DataDir() string { return c.dataDir }

// PID returns the process ID of the server (the postmaster).
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// Stop shuts the server down: a fast shutdown (SIGINT: open transactions are
// rolled back, data is checkpointed), waiting as long as ctx allows; then an
// immediate shutdown (SIGQUIT, crash recovery on the next start) and at last
// SIGKILL. It returns an error only if it had to go beyond the fast shutdown.
// Calling it again, or after Kill, does nothing more.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(ctx) })
	return c.stopErr
}

func (c *Cluster) stop(ctx context.Context) error {
	_ = c.cmd.Process.Signal(syscall.SIGINT) // fails only if it already exited
	select {
	case <-c.exited:
		return nil
	case <-ctx.Done():
	}
	c.logger.Warn("PostgreSQL is slow to stop; forcing an immediate shutdown", "pid", c.PID())
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
		return fmt.Errorf("PostgreSQL did not finish a fast shutdown in time (%w); it was shut down immediately and will recover on next start", ctx.Err())
	case <-time.After(5 * time.Second):
	}
	c.Kill()
	return fmt.Errorf("PostgreSQL did not stop in time (%w); it was killed and will recover on next start", ctx.Err())
}

// Kill SIGKILLs the server and every process it started, as a crash would,
// and waits for the server to exit. Committed data survives when
// Options.Fsync is set; the next Start runs crash recovery.
func (c *Cluster) Kill() {
	select {
	case <-c.exited:
		return // its process group may be gone and the ID reused
	default:
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL) // the group Setpgid gave it
	<-c.exited
}

// Wait waits for the server to exit and returns how it exited.
func (c *Cluster) Wait() error {
	<-c.exited
	return c.exitErr
}

// tail keeps the last few KiB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	const keep = 4 << 10
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > keep {
		t.buf = t.buf[len(t.buf)-keep:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
