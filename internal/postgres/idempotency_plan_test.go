package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

// The statements that join a batch of keys to idempotency_keys outside a
// group commit must find each key by the primary key however the table grew
// since the connection first ran them. Run cached with the planner's
// defaults, a connection settles on the generic plan it made while the table
// was empty, a hash join over a full scan, and keeps it as the table grows;
// hence the lookup's index-probe settings and the writes' planning per run.
// auto_explain, sending each statement's plan to the client, shows which
// plan ran.
func TestKeyStatementsProbeThePrimaryKeyAsTheTableGrows(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	// No autovacuum: its ANALYZE would replace a stale cached plan, and the
	// point is what runs before it does.
	_, err := db.Pool.Exec(ctx, `ALTER TABLE idempotency_keys SET (autovacuum_enabled = false)`)
	require.NoError(t, err)

	pool, plans := explainingPool(t, db.URL)

	keys := func(n int, prefix string) []idempotency.Key {
		out := make([]idempotency.Key, n)
		for i := range out {
			out[i] = idempotency.Key{PlatformID: "jd", Key: fmt.Sprintf("%s-%d", prefix, i)}
		}
		return out
	}
	run := func(round int) {
		ks := keys(3, fmt.Sprint("r", round))
		refs := make([]postgres.IdempotencyRef, len(ks))
		for i, k := range ks {
			refs[i] = postgres.IdempotencyRef{PlatformID: k.PlatformID, Key: k.Key}
		}
		answers := make([]idempotency.Response, len(ks))
		for i := range answers {
			answers[i] = idempotency.Response{Status: 200, Body: []byte("{}")}
		}
		_, err := postgres.LookupIdempotencyKeys(ctx, pool, refs)
		require.NoError(t, err)
		require.NoError(t, postgres.CompleteIdempotencyKeys(ctx, pool, ks, answers))
		require.NoError(t, postgres.ReleaseIdempotencyKeys(ctx, pool, ks))
	}
	for round := range 8 { // past the five runs after which a cached statement may go generic
		run(round)
	}
	_, err = db.Pool.Exec(ctx, `INSERT INTO idempotency_keys (platform_id, key, request_hash)
		SELECT 'jd', 'k-' || g, '\x00' FROM generate_series(1, 20000) g`)
	require.NoError(t, err)

	plans() // those of the first runs
	run(8)
	var keyPlans []string // leaving out the lookup's settings statement
	all := plans()
	for _, p := range all {
		if strings.Contains(p, "idempotency_keys") {
			keyPlans = append(keyPlans, p)
		}
	}
	require.Len(t, keyPlans, 3, "one plan per statement:\n%s", strings.Join(all, "\n"))
	for _, p := range keyPlans {
		require.NotContains(t, p, "Seq Scan on idempotency_keys", p)
		require.True(t, strings.Contains(p, "idempotency_keys_pkey"), "the primary key is probed:\n%s", p)
	}
}

// explainingPool is a one-connection pool on url whose statements send their
// plans to the client (auto_explain); plans returns those sent since its
// last call.
func explainingPool(t *testing.T, url string) (*pgxpool.Pool, func() []string) {
	var mu sync.Mutex
	var plans []string
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = 1
	cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		defer mu.Unlock()
		plans = append(plans, n.Message)
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if err := postgres.AfterConnect(ctx, c); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_level = notice`)
		return err
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := plans
		plans = nil
		return out
	}
}
