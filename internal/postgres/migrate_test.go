package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

// schemaSQL lists what the migrations make, one line each, so two schemas
// compare as two lists: columns, indexes (with their definitions, and
// whether each is valid), constraints, functions and triggers. A function's
// body is compared without its parentheses: 00014 writes the ledger route
// check's expression, as PostgreSQL prints it, into a function, and
// PostgreSQL prints the OR chain nested the first time (from the IN list of
// 00012) and flat after a way down and up; the same terms either way.
const schemaSQL = `
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'goose_db_version'
UNION ALL
SELECT 'index ' || c.relname || ' valid=' || i.indisvalid || ': ' || pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relnamespace = 'public'::regnamespace AND i.indrelid <> 'goose_db_version'::regclass
UNION ALL
SELECT 'constraint ' || conrelid::regclass || '.' || conname || ': ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid <> 'goose_db_version'::regclass
UNION ALL
SELECT 'function ' || oid::regprocedure || ': ' || md5(regexp_replace(prosrc, '[()[:space:]]', '', 'g'))
  FROM pg_proc WHERE pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'trigger ' || tgrelid::regclass || '.' || tgname || ': ' || pg_get_triggerdef(oid)
  FROM pg_trigger WHERE NOT tgisinternal
ORDER BY 1`

func schemaOf(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), schemaSQL)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		out = append(out, line)
	}
	require.NoError(t, rows.Err())
	return out
}

// assertSameSchema names each line one schema has and the other lacks.
func assertSameSchema(t *testing.T, want, got []string) {
	t.Helper()
	missing, extra := lineDiff(want, got), lineDiff(got, want)
	assert.Empty(t, missing, "in the schema of a plain run, not in this one")
	assert.Empty(t, extra, "in this schema, not in that of a plain run")
}

func lineDiff(a, b []string) []string {
	in := make(map[string]int, len(b))
	for _, l := range b {
		in[l]++
	}
	var out []string
	for _, l := range a {
		if in[l] == 0 {
			out = append(out, l)
			continue
		}
		in[l]--
	}
	return out
}

func migrateDown(t *testing.T, url string, steps int) {
	t.Helper()
	for range steps {
		require.NoError(t, postgres.MigrateDown(context.Background(), url))
	}
}

// Every migration's Down undoes its Up: from the latest schema down to
// nothing and up again gives the same schema, so `voucherd migrate down`
// is a way back an operator can rely on.
func TestMigrationsGoDownAndUpAgain(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	want := schemaOf(t, db.Pool)
	require.NotEmpty(t, want)

	latest, err := postgres.LatestVersion()
	require.NoError(t, err)
	migrateDown(t, db.URL, int(latest))
	var tables int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables
		WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`).Scan(&tables))
	assert.Zero(t, tables, "every table dropped at version 0")

	require.NoError(t, postgres.Migrate(ctx, db.URL))
	assertSameSchema(t, want, schemaOf(t, db.Pool))
}

// Migrations that build indexes CONCURRENTLY run outside a transaction: one
// interrupted part way (voucherd killed, the build cancelled or failed)
// leaves the statements before it done and an invalid index of the name it
// was building, and is not recorded as applied. Started again, it must
// finish and leave exactly the schema of an uninterrupted run.
func TestInterruptedIndexMigrationsRunAgain(t *testing.T) {
	cases := []struct {
		name string
		down int // migrations to undo, the interrupted one last
		// done is what the interrupted attempt got through, as SQL;
		// invalid names the index it was building when it stopped, and
		// invalidOn what that build covered.
		done               []string
		invalid, invalidOn string
	}{
		{
			name:      "00016 in its build",
			down:      1,
			invalid:   "vouchers_holder_v2",
			invalidOn: "vouchers (holder_hash)",
		},
		{
			name: "00016 after its build, one old index dropped",
			down: 1,
			done: []string{
				`CREATE UNIQUE INDEX CONCURRENTLY vouchers_holder_v2
				    ON vouchers (holder_hash, campaign_id, tier_id, (CASE WHEN source = 'grant' THEN true END))`,
				`DROP INDEX CONCURRENTLY vouchers_one_grant`,
			},
		},
		{
			name: "00013 in its second build",
			down: 4,
			done: []string{
				`CREATE INDEX CONCURRENTLY redemptions_audit_campaign_v2 ON redemptions (campaign_id, created_at, id)
				    INCLUDE (discount_fen, paid_fen)`,
				`DROP INDEX CONCURRENTLY redemptions_audit_campaign`,
				`ALTER INDEX redemptions_audit_campaign_v2 RENAME TO redemptions_audit_campaign`,
			},
			invalid:   "redemptions_audit_platform_v2",
			invalidOn: "redemptions (platform_id)",
		},
		{
			name:      "00013 meeting an invalid category index",
			down:      4,
			invalid:   "redemptions_audit_category",
			invalidOn: "redemptions (category)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := pgtest.New(t)
			ctx := context.Background()
			want := schemaOf(t, db.Pool)
			migrateDown(t, db.URL, tc.down)

			for _, stmt := range tc.done {
				_, err := db.Pool.Exec(ctx, stmt)
				require.NoError(t, err, stmt)
			}
			if tc.invalid != "" {
				_, err := db.Pool.Exec(ctx, "CREATE INDEX CONCURRENTLY "+tc.invalid+" ON "+tc.invalidOn)
				require.NoError(t, err)
				// What a failed or cancelled CONCURRENTLY build leaves in
				// the catalog: the index, marked not valid.
				_, err = db.Pool.Exec(ctx, `UPDATE pg_index SET indisvalid = false
					WHERE indexrelid = (SELECT oid FROM pg_class
						WHERE relnamespace = 'public'::regnamespace AND relname = $1)`, tc.invalid)
				require.NoError(t, err)
			}

			require.NoError(t, postgres.Migrate(ctx, db.URL))
			assertSameSchema(t, want, schemaOf(t, db.Pool))
		})
	}
}
