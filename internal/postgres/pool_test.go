package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

// A read-only pool (the audit role's) refuses writes even on a primary, so a
// write slipped into a read path fails in every test, not only on a replica.
func TestReadOnlyPoolRefusesWrites(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	pool, err := postgres.Open(ctx, db.URL, postgres.PoolOptions{MaxConns: 2, ApplicationName: "voucherd-audit", ReadOnly: true})
	require.NoError(t, err)
	defer pool.Close()

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM service_info`).Scan(&n), "reads work")
	_, err = pool.Exec(ctx, `INSERT INTO service_info (key, value) VALUES ('x', 'y')`)
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	require.True(t, ok, "got %v", err)
	assert.Equal(t, "25006", pgErr.Code, "read_only_sql_transaction")

	var name string
	require.NoError(t, pool.QueryRow(ctx, `SELECT current_setting('application_name')`).Scan(&name))
	assert.Equal(t, "voucherd-audit", name)

	// An application_name in the URL is the operator's choice and stays.
	sep := "?"
	if strings.Contains(db.URL, "?") {
		sep = "&"
	}
	named, err := postgres.Open(ctx, db.URL+sep+"application_name=audit-east", postgres.PoolOptions{ApplicationName: "voucherd-audit"})
	require.NoError(t, err)
	defer named.Close()
	require.NoError(t, named.QueryRow(ctx, `SELECT current_setting('application_name')`).Scan(&name))
	assert.Equal(t, "audit-east", name)
	_, err = named.Exec(ctx, `INSERT INTO service_info (key, value) VALUES ('x', 'y')`)
	assert.NoError(t, err, "a pool not asked to be read-only writes")
}
