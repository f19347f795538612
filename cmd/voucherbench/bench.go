package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// bench is one run of a workload: its environment, what it measured, what
// the clients were told, and the checks to make afterwards.
type bench struct {
	opt   options
	env   *env
	rec   *recorder
	shape loadShape
	db    *readDB // nil without --database-url

	elapsed time.Duration
	notes   []string
	checks  []func(context.Context) invariant

	replays        atomic.Int64
	replayMismatch atomic.Int64
	// replaysUnanswered are replays given up while the server shed load.
	replaysUnanswered atomic.Int64
	mu                sync.Mutex
	mismatchSample    string
}

// rng is unit i's own random source: the run is reproducible per --seed
// whatever the interleaving.
func (b *bench) rng(i int) *rand.Rand {
	return rand.New(rand.NewPCG(b.opt.seed, uint64(i)))
}

func (b *bench) note(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

// sameAnswer compares a replayed answer with the first one: a 2xx must come
// back byte for byte; a refusal with the same code. A replay left without an
// answer because its key stayed "in progress" is a difference too; one given
// up while the server shed load (429, 5xx, network) compared nothing and is
// counted apart (the run's errors by code show the overload).
func (b *bench) sameAnswer(what string, first, again reply, err error) {
	var u *unresolvedError
	if errors.As(err, &u) && !u.stuck {
		b.replaysUnanswered.Add(1)
		return
	}
	b.replays.Add(1)
	var problem string
	switch {
	case err != nil:
		problem = err.Error()
	case first.status != again.status:
		problem = fmt.Sprintf("status %d, first %d", again.status, first.status)
	case first.ok() && !bytes.Equal(first.body, again.body):
		problem = fmt.Sprintf("body %s, first %s", truncate(again.body, 200), truncate(first.body, 200))
	case !first.ok() && first.code != again.code:
		problem = fmt.Sprintf("code %s, first %s", again.code, first.code)
	}
	if problem == "" {
		return
	}
	b.replayMismatch.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mismatchSample == "" {
		b.mismatchSample = what + ": " + problem
	}
}

func (b *bench) replayInvariant(context.Context) invariant {
	n, bad := b.replays.Load(), b.replayMismatch.Load()
	inv := invariant{Name: "replays identical", OK: bad == 0}
	if bad == 0 {
		inv.Detail = fmt.Sprintf("%d replays answered what was first answered", n)
	} else {
		inv.Detail = fmt.Sprintf("%d of %d replays differ; first: %s", bad, n, b.mismatchSample)
	}
	if u := b.replaysUnanswered.Load(); u > 0 {
		inv.Detail += fmt.Sprintf("; %d more given up under load, not compared", u)
	}
	return inv
}

// call performs one measured request under op, starting the clock at
// started (the scheduled time of a unit's first call in open loop).
func (b *bench) call(ctx context.Context, op string, started time.Time, r request) (reply, error) {
	got, err := b.env.c.do(ctx, r)
	if err != nil {
		b.rec.record(op, started, "UNRESOLVED")
		return got, err
	}
	b.rec.record(op, started, got.outcome())
	return got, nil
}
