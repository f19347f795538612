package postgres_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

func TestInPipelinedTxIsOneTransaction(t *testing.T) {
	db := pgtest.New(t)
	ctx := t.Context()
	_, err := db.Pool.Exec(ctx, `CREATE TABLE pipelined (n int PRIMARY KEY)`)
	require.NoError(t, err)
	insert := func(tx postgres.Batcher, ns ...int) error {
		b := &pgx.Batch{}
		for _, n := range ns {
			b.Queue(`INSERT INTO pipelined VALUES ($1)`, n)
		}
		return tx.SendBatch(ctx, b).Close()
	}
	boom := errors.New("boom")

	err = postgres.InPipelinedTx(ctx, db.Pool, func(tx postgres.Batcher) error {
		require.NoError(t, insert(tx, 1))
		return boom
	})
	assert.ErrorIs(t, err, boom, "an error after a batch rolls it back")

	attempts := 0
	err = postgres.InPipelinedTx(ctx, db.Pool, func(tx postgres.Batcher) error {
		attempts++
		if err := insert(tx, 2); err != nil {
			return err
		}
		if attempts == 1 {
			return &pgconn.PgError{Code: "40001", Message: "lost a race"}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, attempts, "a serialization failure is retried")

	err = postgres.InPipelinedTx(ctx, db.Pool, func(tx postgres.Batcher) error {
		if _, err := tx.Exec(ctx, `INSERT INTO pipelined VALUES (3)`); err != nil {
			return err
		}
		return boom
	})
	assert.ErrorIs(t, err, boom, "a statement before any batch is in the transaction too")

	err = postgres.InPipelinedTx(ctx, db.Pool, func(tx postgres.Batcher) error { return insert(tx, 4, 2, 5) })
	assert.True(t, postgres.IsUniqueViolation(err, ""), "got %v", err)

	var got []int32
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT array_agg(n ORDER BY n) FROM pipelined`).Scan(&got))
	assert.Equal(t, []int32{2}, got)
	assert.Zero(t, db.Pool.Stat().AcquiredConns(), "every connection went back to the pool")
}
