package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/checkout"
	"github.com/tongquan/tongquan/internal/clearing"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/scheduler"
)

// issuerJobs are the periodic jobs of the issuer role.
func issuerJobs(s *issuer.Service, is *issuance.Service, pool *pgxpool.Pool) []scheduler.Job {
	return []scheduler.Job{
		{
			// Rounds open at their time (cron in the campaign's zone) and close.
			Name: "rounds", Spec: "* * * * * *", Timeout: time.Minute,
			Run: func(ctx context.Context) error {
				if _, err := is.CloseDueRounds(ctx); err != nil {
					return err
				}
				_, err := is.OpenDueRounds(ctx)
				return err
			},
		},
		{
			// Lotteries commit their seed, then draw at their time (once).
			Name: "lotteries", Spec: "@every 10s", Timeout: 10 * time.Minute,
			Run: is.RunLotteries,
		},
		{
			// Grant jobs left by a replica that stopped are taken over.
			Name: "grant-resume", Spec: "@every 30s", Timeout: time.Minute,
			Run: func(ctx context.Context) error { _, err := is.ResumeGrants(ctx); return err },
		},
		{
			// Expired vouchers give their value back to the budget.
			Name: "voucher-expiry", Spec: "@every 30s", Timeout: 5 * time.Minute,
			Run: func(ctx context.Context) error { _, err := is.ExpireVouchers(ctx); return err },
		},
		{
			// Idempotency keys are kept 48 h (the promise is at least 24 h).
			Name: "idempotency-cleanup", Spec: "@every 10m", Timeout: 5 * time.Minute,
			Run: func(ctx context.Context) error {
				_, err := postgres.DeleteIdempotencyKeysBefore(ctx, pool, time.Now().Add(-48*time.Hour))
				return err
			},
		},
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

// redemptionJobs are the periodic jobs of the redemption role.
func redemptionJobs(c *checkout.Service) []scheduler.Job {
	return []scheduler.Job{{
		// Holds expire by themselves: the voucher and its value go back.
		Name: "hold-expiry", Spec: "*/5 * * * * *", Timeout: time.Minute,
		Run: func(ctx context.Context) error {
			for {
				n, err := c.ExpireHolds(ctx)
				if err != nil || n == 0 {
					return err
				}
			}
		},
	}}
}

// settlementJobs are the issuer role's settlement jobs.
func settlementJobs(c *clearing.Service) []scheduler.Job {
	return []scheduler.Job{{
		// Each platform's ended days close into statements (campaign time
		// zones), in date order; a run that finds nothing new issues nothing.
		Name: "settlement", Spec: "0 */15 * * * *", Timeout: 10 * time.Minute,
		Run: func(ctx context.Context) error { _, err := c.CloseDays(ctx); return err },
	}}
}
