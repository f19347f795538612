package postgres_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
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

// A batch statement over an array of ids, run under QueueIndexProbes, keeps
// probing the primary key after the table it first ran on small has grown;
// on a generic plan made by the planner's defaults, the same statement keeps
// the full scan its connection settled on. After QueueDefaultPlanner the
// transaction plans as usual again.
func TestIndexProbesOutliveTheSmallTable(t *testing.T) {
	db := pgtest.New(t)
	ctx := t.Context()
	// No autovacuum: its ANALYZE would replace a stale cached plan, and the
	// point is what runs before it does.
	_, err := db.Pool.Exec(ctx, `CREATE TABLE probed (id uuid PRIMARY KEY, n int NOT NULL) WITH (autovacuum_enabled = false);
		INSERT INTO probed SELECT gen_random_uuid(), g FROM generate_series(1, 100) g`) // a page: small, not empty
	require.NoError(t, err)
	pool, plans := explainingPool(t, db.URL)

	const lookup = `SELECT p.n FROM unnest($1::uuid[]) AS k(id) JOIN probed p ON p.id = k.id`
	var settings string
	run := func(probes bool) {
		ids := make([]uuid.UUID, 3)
		for i := range ids {
			ids[i] = uuid.New()
		}
		require.NoError(t, postgres.InPipelinedTx(ctx, pool, func(tx postgres.Batcher) error {
			b := &pgx.Batch{}
			sql := lookup + " -- probes"
			if probes {
				postgres.QueueIndexProbes(b)
			} else { // a generic plan too, by the planner's defaults
				b.Queue(`SET LOCAL plan_cache_mode = force_generic_plan`)
				sql = lookup + " -- defaults"
			}
			b.Queue(sql, ids)
			postgres.QueueDefaultPlanner(b)
			b.Queue(`SELECT current_setting('enable_seqscan') || current_setting('enable_hashjoin') ||
				current_setting('enable_mergejoin') || current_setting('plan_cache_mode')`).QueryRow(func(r pgx.Row) error {
				return r.Scan(&settings)
			})
			return tx.SendBatch(ctx, b).Close()
		}))
	}
	for range 8 { // past the five runs after which a cached statement may go generic
		run(true)
		run(false)
	}
	_, err = db.Pool.Exec(ctx, `INSERT INTO probed SELECT gen_random_uuid(), g FROM generate_series(1, 20000) g`)
	require.NoError(t, err)

	plans()
	run(true)
	run(false)
	var probes, defaults string
	for _, p := range plans() {
		switch {
		case strings.Contains(p, "-- probes"):
			probes = p
		case strings.Contains(p, "-- defaults"):
			defaults = p
		}
	}
	assert.Contains(t, probes, "Index Scan using probed_pkey")
	assert.NotContains(t, probes, "Seq Scan on probed")
	assert.Contains(t, defaults, "Seq Scan on probed", "the control: a generic plan by the defaults, made on the small table")
	assert.Equal(t, "ononon"+"auto", settings, "QueueDefaultPlanner restores the planner")
}
