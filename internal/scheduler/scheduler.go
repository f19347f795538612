// Package scheduler runs the issuer role's periodic jobs with robfig/cron.
// With several replicas, a lease row makes exactly one run each job at a
// time; every job is also written to be safe when run twice.
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"

	"github.com/tongquan/tongquan/internal/postgres"
)

// Job is one periodic task calling a use case.
type Job struct {
	Name    string
	Spec    string        // cron spec with seconds, or "@every 15s"
	Timeout time.Duration // the run is cancelled after it
	Run     func(ctx context.Context) error
}

// The lease is short and renewed while a job runs, so a replica that dies
// mid-job (SIGKILL, a lost machine) holds it up for seconds, not for the
// job's whole timeout.
const (
	leaseTTL   = 10 * time.Second
	leaseRenew = 3 * time.Second
)

// Scheduler runs jobs until stopped.
type Scheduler struct {
	cron   *cron.Cron
	pool   *pgxpool.Pool
	log    *slog.Logger
	holder string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New prepares a scheduler; loc is the time zone cron specs are read in.
func New(pool *pgxpool.Pool, log *slog.Logger, loc *time.Location, jobs ...Job) (*Scheduler, error) {
	host, _ := os.Hostname()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{
		cron:   cron.New(cron.WithSeconds(), cron.WithLocation(loc)),
		pool:   pool,
		log:    log,
		holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8]),
		ctx:    ctx,
		cancel: cancel,
	}
	for _, j := range jobs {
		if _, err := s.cron.AddFunc(j.Spec, s.wrap(j)); err != nil {
			cancel()
			return nil, fmt.Errorf("job %s: bad schedule %q: %w", j.Name, j.Spec, err)
		}
	}
	return s, nil
}

// wrap runs j under its lease, skipping a run while the previous one is busy.
func (s *Scheduler) wrap(j Job) func() {
	var running sync.Mutex
	return func() {
		if !running.TryLock() {
			return
		}
		defer running.Unlock()
		s.wg.Add(1)
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, j.Timeout)
		defer cancel()
		ok, err := postgres.AcquireLease(ctx, s.pool, j.Name, s.holder, leaseTTL)
		if err != nil {
			s.log.Warn("job lease", "job", j.Name, "error", err)
			return
		}
		if !ok {
			return // another replica runs it
		}
		stopRenew := s.renew(ctx, cancel, j.Name)
		defer stopRenew()
		start := time.Now()
		if err := j.Run(ctx); err != nil {
			s.log.Error("job failed", "job", j.Name, "error", err, "took_ms", time.Since(start).Milliseconds())
		}
		if err := postgres.ReleaseLease(context.Background(), s.pool, j.Name, s.holder); err != nil {
			s.log.Warn("job lease release", "job", j.Name, "error", err)
		}
	}
}

// renew keeps the lease while the job runs; losing it (the database says
// another replica holds it) cancels the run.
func (s *Scheduler) renew(ctx context.Context, cancel context.CancelFunc, job string) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(leaseRenew)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				ok, err := postgres.AcquireLease(ctx, s.pool, job, s.holder, leaseTTL)
				if err == nil && !ok {
					s.log.Warn("job lease lost; stopping the run", "job", job)
					cancel()
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// Start begins running jobs.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling, cancels running jobs and waits for them (or ctx).
func (s *Scheduler) Stop(ctx context.Context) {
	stopped := s.cron.Stop()
	s.cancel()
	done := make(chan struct{})
	go func() { <-stopped.Done(); s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
