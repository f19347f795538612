// Package audit holds the use cases of the audit role: read-only timelines
// and verification that the record was not altered.
package audit

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
)

// Service runs the audit use cases. Its pool may point at a read replica and
// be read-only (voucherd opens it so when AUDIT_DATABASE_URL is set): every
// use case here only reads, and sealing the audit log is the issuer's job.
type Service struct {
	pool   *pgxpool.Pool
	hasher *holder.Hasher
}

// New returns the audit use cases over pool. hasher must be the one the
// service issues with, so a holder's ID number finds their redemptions; nil
// leaves holder lookups unavailable.
func New(pool *pgxpool.Pool, hasher *holder.Hasher) *Service {
	return &Service{pool: pool, hasher: hasher}
}

// Verification is the outcome of checking the audit chain and the ledger.
type Verification struct {
	Audit        auditlog.Report
	LedgerFaults []ledger.Fault
}

// OK reports a clean record.
func (v Verification) OK() bool { return v.Audit.OK && len(v.LedgerFaults) == 0 }

// Verify checks the audit log's hash chain (naming the first bad event) and
// recomputes every ledger balance from its entries.
func (s *Service) Verify(ctx context.Context) (Verification, error) {
	report, err := postgres.VerifyAudit(ctx, s.pool)
	if err != nil {
		return Verification{}, err
	}
	faults, err := postgres.CheckLedger(ctx, s.pool, nil)
	if err != nil {
		return Verification{}, err
	}
	return Verification{Audit: report, LedgerFaults: faults}, nil
}

// Events is one entity's timeline, oldest first, a page at a time.
func (s *Service) Events(ctx context.Context, entityType, entityID string, after *uuid.UUID, limit int) ([]auditlog.Event, error) {
	return postgres.ListEvents(ctx, s.pool, entityType, entityID, after, limit)
}
