package pgtest_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tongquan/tongquan/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestParallelDatabasesAreIsolated runs two tests side by side: each must get
// its own migrated database, not see the other's write, and have it dropped
// afterwards.
func TestParallelDatabasesAreIsolated(t *testing.T) {
	var (
		mu    sync.Mutex
		names []string
		wrote sync.WaitGroup // both subtests have written their row
	)
	wrote.Add(2)
	t.Run("group", func(t *testing.T) {
		for _, key := range []string{"a", "b"} {
			t.Run(key, func(t *testing.T) {
				t.Parallel()
				done := sync.OnceFunc(wrote.Done)
				defer done() // even on failure, so the other does not wait forever

				db := pgtest.New(t)
				mu.Lock()
				names = append(names, db.Name)
				mu.Unlock()

				var schema string
				if err := db.Pool.QueryRow(t.Context(), "SELECT value FROM service_info WHERE key = 'schema'").Scan(&schema); err != nil {
					t.Fatalf("migrated table service_info: %v", err)
				}
				if _, err := db.Pool.Exec(t.Context(), "INSERT INTO service_info (key, value) VALUES ($1, 'x')", key); err != nil {
					t.Fatal(err)
				}
				done()
				wrote.Wait()

				rows, _ := db.Pool.Query(t.Context(), "SELECT key FROM service_info WHERE key <> 'schema' ORDER BY key")
				keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(keys, []string{key}) {
					t.Errorf("database %s holds rows %v, want only its own %q", db.Name, keys, key)
				}
			})
		}
	})

	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("the subtests got databases %v, want two distinct ones", names)
	}
	conn, err := pgx.Connect(t.Context(), pgtest.ServerURL(t, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = ANY($1)", names).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d of the databases %v remain after their tests ended", left, names)
	}
}

// TestReplicaStreamsAndRefusesWrites checks the replica helper: a row
// committed on the primary reaches the replica, writes there fail, and with
// replay paused a received row stays invisible until replay resumes.
func TestReplicaStreamsAndRefusesWrites(t *testing.T) {
	db := pgtest.New(t)
	rep := pgtest.StartReplica(t)
	ctx := t.Context()
	replica, err := pgx.Connect(ctx, rep.URL(db.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close(context.Background())
	has := func(key string) bool {
		t.Helper()
		var n int
		if err := replica.QueryRow(ctx, "SELECT count(*) FROM service_info WHERE key = $1", key).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	if _, err := db.Pool.Exec(ctx, "INSERT INTO service_info (key, value) VALUES ('before', 'x')"); err != nil {
		t.Fatal(err)
	}
	rep.WaitReplayed(t)
	if !has("before") {
		t.Fatal("a row committed on the primary is not on the replica after replay")
	}

	_, err = replica.Exec(ctx, "INSERT INTO service_info (key, value) VALUES ('on-replica', 'x')")
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); !ok || pgErr.Code != "25006" {
		t.Fatalf("a write on the replica: got %v, want read_only_sql_transaction (25006)", err)
	}

	rep.PauseReplay(t)
	if _, err := db.Pool.Exec(ctx, "INSERT INTO service_info (key, value) VALUES ('paused', 'x')"); err != nil {
		t.Fatal(err)
	}
	rep.WaitReceived(t)
	if has("paused") {
		t.Fatal("a row shows on the replica while its replay is paused")
	}
	rep.ResumeReplay(t)
	rep.WaitReplayed(t)
	if !has("paused") {
		t.Fatal("a row received while replay was paused is not there after replay resumed")
	}
}
