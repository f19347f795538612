package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

// Unreachable tells a database that is down, restarting or dropped the
// connection (a 503 the caller may retry) from a statement that failed.
func TestUnreachable(t *testing.T) {
	db := pgtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, refused := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5")
	require.Error(t, refused)
	assert.True(t, postgres.Unreachable(fmt.Errorf("wrapped: %w", refused)), "connection refused: %v", refused)

	// A connection the server terminates (as at a shutdown or crash).
	conn, err := pgx.Connect(ctx, db.URL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var pid uint32
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	_, err = db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT 1`)
	require.Error(t, err)
	assert.True(t, postgres.Unreachable(err), "terminated connection: %v", err)
	_, err = conn.Exec(ctx, `SELECT 1`)
	require.Error(t, err)
	assert.True(t, postgres.Unreachable(err), "the closed connection used again: %v", err)

	// A statement still running when the caller's deadline passes: the
	// database did not answer in time, and the caller may retry with the
	// same Idempotency-Key as after a restart (nothing was committed).
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	_, err = db.Pool.Exec(short, `SELECT pg_sleep(10)`)
	require.Error(t, err)
	assert.True(t, postgres.Unreachable(err), "deadline passed: %v", err)

	// Statement errors and the caller's own cancellation are not.
	_, err = db.Pool.Exec(ctx, `SELECT * FROM no_such_table`)
	require.Error(t, err)
	assert.False(t, postgres.Unreachable(err), "%v", err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO service_info (key, value) VALUES ('k', 'v'), ('k', 'v')`)
	require.Error(t, err)
	assert.False(t, postgres.Unreachable(err), "%v", err)
	assert.False(t, postgres.Unreachable(context.Canceled))
	assert.False(t, postgres.Unreachable(errors.New("some other failure")))
	assert.False(t, postgres.Unreachable(nil))
}
