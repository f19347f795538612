package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/scheduler"
)

// issuerJobs are the periodic jobs of the issuer role.
func issuerJobs(s *issuer.Service, pool *pgxpool.Pool) []scheduler.Job {
	return []scheduler.Job{
		{
			// Campaigns start and end on time without a person pressing a button.
			Name: "campaign-lifecycle", Spec: "@every 10s", Timeout: time.Minute,
			Run: func(ctx context.Context) error { _, err := s.Tick(ctx); return err },
		},
		{
			// Seal new audit events into the hash chain, a block at a time,
			// until caught up.
			Name: "audit-seal", Spec: "@every 2s", Timeout: time.Minute,
			Run: func(ctx context.Context) error {
				for {
					n, err := postgres.SealAudit(ctx, pool)
					if err != nil || n == 0 {
						return err
					}
				}
			},
		},
	}
}
