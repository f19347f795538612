// Package pgtest gives each test a fresh, migrated PostgreSQL database of its
// own, so tests can run in parallel and never see each other's rows.
//
// One server serves a whole test binary: the one at TEST_DATABASE_URL when it
// is set (a postgres:// URL whose user may create databases), otherwise a
// local cluster started through pgembed on first use, in a fresh temp folder,
// with fsync off. The schema is migrated once into a template database; each
// New copies it with CREATE DATABASE … TEMPLATE (about 0.16 s).
//
// Call Main from TestMain so the template, the cluster and its folder go away
// when the tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// A test binary that is killed cleans nothing up but leaves no server
// running: the kernel kills the cluster with the process that started it
// (see pgembed). What remains is its temp folder (pgtest-*), or on a shared
// server its databases (tq_tmpl_*, tq_t_*).
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/pgembed"
	"github.com/tongquan/tongquan/internal/postgres"
)

// DB is a database of one test, dropped when the test ends.
type DB struct {
	URL  string
	Pool *pgxpool.Pool
	Name string
}

// New creates a fresh migrated database for t, with a pool on it. Both are
// closed and dropped when t ends.
func New(t testing.TB) *DB {
	t.Helper()
	name, dbURL := newDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(dbURL)
	var pool *pgxpool.Pool
	if err == nil {
		cfg.AfterConnect = postgres.AfterConnect
		pool, err = pgxpool.NewWithConfig(ctx, cfg)
	}
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		t.Fatalf("pgtest: connect to test database %s: %v", name, err)
	}
	t.Cleanup(pool.Close) // runs before the drop, registered earlier
	return &DB{URL: dbURL, Pool: pool, Name: name}
}

// ServerURL returns the URL of database db on the server the tests use.
func ServerURL(t testing.TB, db string) string {
	t.Helper()
	return server(t).url(db)
}

// Main runs the tests, then drops the template, stops the cluster, removes its
// folder and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: cleaning up:", err)
		}
	}
	os.Exit(code)
}

func newDatabase(t testing.TB) (name, dbURL string) {
	t.Helper()
	s := server(t)
	name = "tq_t_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(s.template)); err != nil {
		t.Fatalf("pgtest: create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.Exec(ctx, "DROP DATABASE "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop test database: %v", err)
		}
	})
	return name, s.url(name)
}

var (
	startOnce sync.Once
	shared    *testServer
	startErr  error
)

// testServer is the server of this test binary and its template database.
type testServer struct {
	base     *url.URL      // the server; each database replaces its path
	admin    *pgxpool.Pool // on the base URL's database, for CREATE and DROP DATABASE
	template string        // unique per test binary: several may share a server
	cluster  *pgembed.Cluster
	dir      string // the cluster's temp folder
}

func server(t testing.TB) *testServer {
	t.Helper()
	startOnce.Do(func() { shared, startErr = start() })
	if startErr != nil {
		t.Fatalf("pgtest: %v", startErr)
	}
	return shared
}

func start() (*testServer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := &testServer{template: "tq_tmpl_" + randomSuffix()}
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		dir, err := os.MkdirTemp("", "pgtest-")
		if err != nil {
			return nil, err
		}
		s.dir = dir
		// MkdirTemp gives 0700; as root the server runs as postgres and must enter it.
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, errors.Join(err, s.close())
		}
		if s.cluster, err = pgembed.Start(ctx, pgembed.Options{DataDir: dir}); err != nil {
			return nil, errors.Join(fmt.Errorf("start a PostgreSQL for the tests (or set TEST_DATABASE_URL): %w", err), s.close())
		}
		raw = s.cluster.ConnString("postgres")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.Join(fmt.Errorf("TEST_DATABASE_URL must be a postgres://user@host:port/db URL, got %q", raw), s.close())
	}
	s.base = u
	if s.admin, err = pgxpool.New(ctx, raw); err != nil {
		return nil, errors.Join(err, s.close())
	}
	if err := s.migrateTemplate(ctx); err != nil {
		return nil, errors.Join(err, s.close())
	}
	return s, nil
}

func (s *testServer) migrateTemplate(ctx context.Context) error {
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+ident(s.template)); err != nil {
		return fmt.Errorf("create template database on %s: %w", s.base.Redacted(), err)
	}
	if err := postgres.Migrate(ctx, s.url(s.template)); err != nil {
		return fmt.Errorf("migrate template database: %w", err)
	}
	// CREATE DATABASE … TEMPLATE fails while anyone is connected to the
	// template: keep everyone out from now on.
	if _, err := s.admin.Exec(ctx, "ALTER DATABASE "+ident(s.template)+" ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("close template database to connections: %w", err)
	}
	return nil
}

// close undoes what start did, as far as it got.
func (s *testServer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	if s.admin != nil {
		// A local cluster goes away whole; a shared server keeps what we leave.
		if s.cluster == nil {
			if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(s.template)+" WITH (FORCE)"); err != nil {
				errs = append(errs, fmt.Errorf("drop template database %s: %w", s.template, err))
			}
		}
		s.admin.Close()
	}
	if s.cluster != nil {
		errs = append(errs, s.cluster.Stop(ctx))
	}
	if s.dir != "" {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

func (s *testServer) url(db string) string {
	u := *s.base
	u.Path, u.RawPath = "/"+db, ""
	return u.String()
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// randomSuffix is 26 lowercase letters and digits: a valid unquoted identifier
// tail, and unique enough for binaries sharing a server.
func randomSuffix() string { return strings.ToLower(rand.Text()) }
