// Package issuer holds the use cases of the issuer role: the registry of
// platforms and merchants, campaigns and their four-eyes lifecycle, and
// budgets. Each use case owns its transaction and writes its audit event in
// it, so a change and its record commit together or not at all.
package issuer

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Actor is who performs a use case, as the audit log records it.
type Actor struct {
	Subject   string // person's subject or platform id
	Role      string // the role acted in (campaign_manager, approver, platform, scheduler…)
	RequestID string
}

// Service runs the issuer use cases against the database.
type Service struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New returns the issuer use cases; now is the clock (time.Now in production).
func New(pool *pgxpool.Pool, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{pool: pool, now: now}
}
