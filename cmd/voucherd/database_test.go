package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/config"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

func TestAuditPoolWiring(t *testing.T) {
	primary := pgtest.New(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	latest, err := postgres.LatestVersion()
	require.NoError(t, err)
	open := func(cfg config.Config) *database {
		t.Helper()
		cfg.DatabaseURL, cfg.DBMaxConns = primary.URL, 4
		db, err := openDatabase(ctx, cfg, log)
		require.NoError(t, err)
		t.Cleanup(db.Close)
		return db
	}
	appName := func(db *database, pool string) string {
		p := db.Pool
		if pool == "audit" {
			p = db.AuditPool
		}
		var name string
		require.NoError(t, p.QueryRow(ctx, `SELECT current_setting('application_name')`).Scan(&name))
		return name
	}

	db := open(config.Config{Roles: config.AllRoles})
	assert.Same(t, db.Pool, db.AuditPool, "without AUDIT_DATABASE_URL the audit role reads the primary pool")
	assert.Equal(t, "voucherd", appName(db, "main"))

	db = open(config.Config{Roles: []string{config.RoleIssuer}, AuditDatabaseURL: primary.URL})
	assert.Same(t, db.Pool, db.AuditPool, "a process without the audit role opens no audit pool")

	db = open(config.Config{Roles: config.AllRoles, AuditDatabaseURL: primary.URL})
	require.NotSame(t, db.Pool, db.AuditPool)
	assert.Equal(t, "voucherd-audit", appName(db, "audit"))
	_, err = db.AuditPool.Exec(ctx, `INSERT INTO service_info (key, value) VALUES ('audit-write', 'x')`)
	assert.ErrorContains(t, err, "read-only transaction", "the audit pool is read-only")
	_, err = db.Pool.Exec(ctx, `INSERT INTO service_info (key, value) VALUES ('main-write', 'x')`)
	assert.NoError(t, err, "the main pool writes")
	assert.NoError(t, db.Ready(ctx, latest))

	// An audit database without the schema (a replica that has not replayed
	// the latest migration, say) makes the process not ready.
	db = open(config.Config{Roles: []string{config.RoleAudit}, AuditDatabaseURL: pgtest.ServerURL(t, "postgres")})
	assert.ErrorContains(t, db.Ready(ctx, latest), "audit database")
}
