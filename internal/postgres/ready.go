package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Ready reports whether the database answers and carries every migration this
// binary embeds. It reads goose's version table directly: cheap enough for a probe.
func Ready(ctx context.Context, pool *pgxpool.Pool, want int64) error {
	var have int64
	err := pool.QueryRow(ctx,
		`SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&have)
	if err != nil {
		return fmt.Errorf("database not reachable or not migrated: %w", err)
	}
	if have < want {
		return fmt.Errorf("database schema at version %d, this binary needs %d", have, want)
	}
	return nil
}
