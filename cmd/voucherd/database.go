package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/config"
	"github.com/tongquan/tongquan/internal/postgres"
)

// database is the migrated pool and, in the embedded default, the local
// PostgreSQL server behind it.
type database struct {
	Pool *pgxpool.Pool
	// AuditPool serves the audit role's reads: a read-only pool on
	// AUDIT_DATABASE_URL (a read replica) when that is set, else Pool.
	AuditPool *pgxpool.Pool
	embedded  *embedded
	log       *slog.Logger
}

func openDatabase(ctx context.Context, cfg config.Config, log *slog.Logger) (*database, error) {
	db := &database{log: log}
	url := cfg.DatabaseURL
	if cfg.Embedded() {
		e, err := startEmbedded(ctx, cfg.DataDir, log)
		if err != nil {
			return nil, err
		}
		db.embedded = e
		url = e.connString
	}
	if err := postgres.Migrate(ctx, url); err != nil {
		db.Close()
		return nil, err
	}
	pool, err := postgres.Open(ctx, url, postgres.PoolOptions{MaxConns: int32(cfg.DBMaxConns), ApplicationName: "voucherd"})
	if err != nil {
		db.Close()
		return nil, err
	}
	db.Pool, db.AuditPool = pool, pool
	switch {
	case cfg.AuditDatabaseURL == "":
	case !cfg.Serves(config.RoleAudit):
		log.Info("AUDIT_DATABASE_URL is not used: this process does not run the audit role", "roles", cfg.Roles)
	default:
		// Never migrated: a replica follows the primary's schema by itself.
		audit, err := postgres.Open(ctx, cfg.AuditDatabaseURL, postgres.PoolOptions{
			MaxConns: int32(cfg.DBMaxConns), ApplicationName: "voucherd-audit", ReadOnly: true,
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("AUDIT_DATABASE_URL: %w", err)
		}
		db.AuditPool = audit
		cc := audit.Config().ConnConfig
		log.Info("audit reads use their own database", "host", cc.Host, "port", cc.Port, "database", cc.Database)
	}
	return db, nil
}

// Ready reports whether every database answers and carries the schema this
// binary needs; a replica that has not replayed the latest migration yet is
// not ready.
func (db *database) Ready(ctx context.Context, want int64) error {
	if err := postgres.Ready(ctx, db.Pool, want); err != nil {
		return err
	}
	if db.AuditPool != db.Pool {
		if err := postgres.Ready(ctx, db.AuditPool, want); err != nil {
			return fmt.Errorf("audit database: %w", err)
		}
	}
	return nil
}

// Close closes the pools, then stops the embedded server if there is one.
func (db *database) Close() {
	if db.AuditPool != nil && db.AuditPool != db.Pool {
		db.AuditPool.Close()
	}
	db.AuditPool = nil
	if db.Pool != nil {
		db.Pool.Close()
		db.Pool = nil
	}
	if db.embedded != nil {
		db.embedded.Close()
		db.embedded = nil
	}
}
