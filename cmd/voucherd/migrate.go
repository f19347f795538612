package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/tongquan/tongquan/internal/config"
	"github.com/tongquan/tongquan/internal/postgres"
)

// migrate runs `voucherd migrate up|down|status` against DATABASE_URL or the
// embedded server in the data folder.
func migrate(args []string) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return fmt.Errorf("usage: voucherd migrate up|down|status [--database-url URL] [--data-dir DIR]")
	}
	action := args[0]
	fs := flag.NewFlagSet("voucherd migrate", flag.ContinueOnError)
	env := config.OSEnv
	dbURL := fs.String("database-url", lookup(env, "DATABASE_URL", ""), "PostgreSQL URL (env DATABASE_URL); empty uses the embedded server")
	dataDir := fs.String("data-dir", lookup(env, "TONGQUAN_DATA_DIR", "./.tongquan"), "data folder of the embedded server (env TONGQUAN_DATA_DIR)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	url := *dbURL
	if url == "" {
		e, err := startEmbedded(ctx, *dataDir, log)
		if err != nil {
			return err
		}
		defer e.Close()
		url = e.connString
	}
	switch action {
	case "up":
		if err := postgres.Migrate(ctx, url); err != nil {
			return err
		}
		return postgres.MigrationStatus(ctx, url, os.Stdout)
	case "down":
		if err := postgres.MigrateDown(ctx, url); err != nil {
			return err
		}
		return postgres.MigrationStatus(ctx, url, os.Stdout)
	case "status":
		return postgres.MigrationStatus(ctx, url, os.Stdout)
	}
	return fmt.Errorf("unknown migrate action %q: use up, down or status", action)
}

func lookup(env config.Env, name, def string) string {
	if v, ok := env(name); ok {
		return v
	}
	return def
}
