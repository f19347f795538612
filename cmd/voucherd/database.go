package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/config"
	"github.com/tongquan/tongquan/internal/pgembed"
	"github.com/tongquan/tongquan/internal/postgres"
)

// database is the migrated pool and, in the embedded default, the local
// PostgreSQL server behind it.
type database struct {
	Pool    *pgxpool.Pool
	cluster *pgembed.Cluster
	log     *slog.Logger
}

func openDatabase(ctx context.Context, cfg config.Config, log *slog.Logger) (*database, error) {
	db := &database{log: log}
	url := cfg.DatabaseURL
	if cfg.Embedded() {
		cl, err := startEmbedded(ctx, cfg.DataDir, log)
		if err != nil {
			return nil, err
		}
		db.cluster = cl
		url = cl.ConnString("tongquan")
	}
	if err := postgres.Migrate(ctx, url); err != nil {
		db.Close()
		return nil, err
	}
	pool, err := postgres.Open(ctx, url, postgres.PoolOptions{MaxConns: int32(cfg.DBMaxConns)})
	if err != nil {
		db.Close()
		return nil, err
	}
	db.Pool = pool
	return db, nil
}

func startEmbedded(ctx context.Context, dataDir string, log *slog.Logger) (*pgembed.Cluster, error) {
	cl, err := pgembed.Start(ctx, pgembed.Options{DataDir: dataDir, Fsync: true, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	return cl, nil // pgembed has logged where the data lives and the psql line
}

// Close closes the pool, then stops the embedded server if there is one.
func (db *database) Close() {
	if db.Pool != nil {
		db.Pool.Close()
		db.Pool = nil
	}
	if db.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.cluster.Stop(ctx); err != nil {
			db.log.Warn("stopping embedded PostgreSQL", "error", err)
		}
		db.cluster = nil
	}
}
