// Package issuance holds the use cases that put vouchers in holders' hands:
// release rounds, first-come claims (group-committed), trade-in
// qualifications, the lottery, direct grants, expiry and the wallet.
package issuance

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/holder"
)

// Service runs the issuance use cases.
type Service struct {
	pool   *pgxpool.Pool
	now    func() time.Time
	hasher *holder.Hasher

	campaigns campaignCache
	rounds    roundCache
	claims    batcher

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
	return &Service{pool: pool, now: opt.Now, hasher: opt.Hasher, ctx: ctx, cancel: cancel}
}

// Close stops the service's background work (claim batch workers, jobs it
// started). Claims still waiting are answered UNAVAILABLE by their callers'
// deadlines; a retry with the same key is safe.
func (s *Service) Close() { s.cancel() }
