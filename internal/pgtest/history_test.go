package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/pgtest"
)

// A generated history keeps the schema it was loaded into (the indexes
// dropped for the load come back), and its rows are what SeedHistory says:
// in created_at order, each referring to a merchant and a campaign that
// exist, holders findable by their ID number's hash.
func TestSeedHistory(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	indexes := func() []string {
		rows, err := db.Pool.Query(ctx, `SELECT pg_get_indexdef(indexrelid) FROM pg_index
			WHERE indrelid = 'redemptions'::regclass ORDER BY 1`)
		require.NoError(t, err)
		defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return defs
	}
	before := indexes()

	h := pgtest.DefaultHistory
	h.Rows, h.Merchants, h.Holders = 5_000, 200, 1_000
	require.NoError(t, pgtest.SeedHistory(ctx, db.Pool, h))
	assert.Equal(t, before, indexes(), "the same indexes after the load")

	var n, orphans, outOfOrder, trade, tradeWithoutCategory int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*),
		count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM merchants m WHERE m.platform_id = r.platform_id AND m.merchant_id = r.merchant_id)
			OR NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = r.campaign_id AND c.kind = r.kind)),
		count(*) FILTER (WHERE kind = 'trade_in'),
		count(*) FILTER (WHERE kind = 'trade_in' AND category IS NULL)
		FROM redemptions r`).Scan(&n, &orphans, &trade, &tradeWithoutCategory))
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT date_trunc('milliseconds', created_at) <
		date_trunc('milliseconds', lag(created_at) OVER (ORDER BY id)) AS back FROM redemptions) x WHERE back`).Scan(&outOfOrder))
	assert.Equal(t, h.Rows, n)
	assert.Zero(t, orphans, "every redemption refers to a seeded merchant and campaign of its kind")
	assert.Zero(t, outOfOrder, "ids follow created_at to the millisecond, as UUIDv7 keys written live do")
	assert.Positive(t, trade)
	assert.Zero(t, tradeWithoutCategory)

	var holderRows int
	hash := pgtest.HistoryHasher.Hash(pgtest.HistoryIDNumber(7))
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM redemptions WHERE holder_hash = $1`, hash[:]).Scan(&holderRows))
	assert.Positive(t, holderRows, "holder 7 is found by the hash of their ID number")
}
