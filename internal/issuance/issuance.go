// Package issuance holds the use cases that put vouchers in holders' hands:
// release rounds, first-come claims (group-committed), trade-in
// qualifications, the lottery, direct grants, expiry and the wallet.
package issuance

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/batching"
	"github.com/tongquan/tongquan/internal/holder"
)

// Service runs the issuance use cases.
type Service struct {
	pool   *pgxpool.Pool
	now    func() time.Time
	hasher *holder.Hasher

	campaigns campaignCache
	rounds    roundCache
	claims    batching.Queue[*pendingClaim] // group commit: while one batch commits, the next fills up

	ctx    context.Context // cancelled by Close: stops background work
	cancel context.CancelFunc
}

// Options tune the service.
type Options struct {
	Now    func() time.Time // the clock; time.Now when nil
	Hasher *holder.Hasher   // keys holder ID hashes
}

// New returns the issuance use cases.
func New(pool *pgxpool.Pool, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{pool: pool, now: opt.Now, hasher: opt.Hasher, ctx: ctx, cancel: cancel}
	s.claims = batching.Queue[*pendingClaim]{Run: s.commitClaims, MaxBatch: maxClaimBatch, Workers: claimWorkers, MaxWaiting: claimQueue}
	return s
}

// Close stops the service's background work (jobs it started). Claims still
// waiting fail with their batch's cancelled transaction; a retry with the
// same key is safe.
func (s *Service) Close() { s.cancel() }
