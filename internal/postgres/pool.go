// Package postgres is the only package that speaks SQL. It owns the pool,
// migrations, transactions with bounded retry, and the mapping of PostgreSQL
// errors to domain errors.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

func parseConfig(databaseURL string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL is not a valid PostgreSQL connection string: %w", err)
	}
	return cfg, nil
}

// AfterConnect prepares a new connection for this package's Go types:
// google/uuid values are encoded as PostgreSQL uuids directly, not through
// their database/sql Valuer (a text round trip and a failed encode plan for
// every argument, several percent of the checkout's CPU). Every pool on the
// application's schema sets it.
func AfterConnect(_ context.Context, conn *pgx.Conn) error {
	tm := conn.TypeMap()
	pgxuuid.Register(tm)
	// Statements planned at every run (planEachRun) send their arguments
	// without asking the server for their types first; these name them.
	tm.RegisterDefaultPgType(uuid.UUID{}, "uuid")
	tm.RegisterDefaultPgType([]uuid.UUID{}, "_uuid")
	return nil
}

// PoolOptions tune the connection pool.
type PoolOptions struct {
	MaxConns int32
	// ApplicationName names the pool's sessions in pg_stat_activity, unless
	// the URL sets application_name itself.
	ApplicationName string
	// ReadOnly makes every transaction of the pool read-only
	// (default_transaction_read_only), so a write sent to a pool meant for
	// reads fails at once, on a primary as on a replica.
	ReadOnly bool
}

// Open connects a pool and checks the server answers.
func Open(ctx context.Context, databaseURL string, opt PoolOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL is not a valid PostgreSQL connection string: %w", err)
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.AfterConnect = AfterConnect
	params := cfg.ConnConfig.RuntimeParams
	if _, set := params["application_name"]; !set && opt.ApplicationName != "" {
		params["application_name"] = opt.ApplicationName
	}
	if opt.ReadOnly {
		params["default_transaction_read_only"] = "on"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("PostgreSQL at %s:%d does not answer: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return pool, nil
}
