package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/tongquan/tongquan/migrations"
)

// migrator opens a goose provider over the embedded migrations. The session
// lock (a PostgreSQL advisory lock held for the run) lets several replicas
// start together: one migrates, the others wait and then find nothing to do.
// Correctness of the data never rests on it; it only serialises schema changes.
func migrator(databaseURL string) (*goose.Provider, *sql.DB, error) {
	cfg, err := parseConfig(databaseURL)
	if err != nil {
		return nil, nil, err
	}
	db := stdlib.OpenDB(*cfg)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	return p, db, nil
}

// Migrate applies every pending migration.
func Migrate(ctx context.Context, databaseURL string) error {
	p, db, err := migrator(databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	for _, r := range results {
		slog.Debug("migration applied", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// MigrateDown rolls back the newest applied migration.
func MigrateDown(ctx context.Context, databaseURL string) error {
	p, db, err := migrator(databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := p.Down(ctx); err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// MigrationStatus writes one line per migration: version, state, file.
func MigrationStatus(ctx context.Context, databaseURL string, w io.Writer) error {
	p, db, err := migrator(databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("migration status: %w", err)
	}
	for _, s := range st {
		applied := "pending"
		if s.State == goose.StateApplied {
			applied = "applied " + s.AppliedAt.Format("2006-01-02T15:04:05Z07:00")
		}
		fmt.Fprintf(w, "%05d  %-36s  %s\n", s.Source.Version, applied, s.Source.Path)
	}
	return nil
}

// LatestVersion is the newest migration embedded in this binary.
func LatestVersion() (int64, error) {
	p, db, err := migrator("postgres://unused@127.0.0.1/unused")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	src := p.ListSources()
	if len(src) == 0 {
		return 0, nil
	}
	return src[len(src)-1].Version, nil
}
