package checkout

import (
	"slices"
	"sync"

	"github.com/tongquan/tongquan/internal/apperr"
)

const (
	// maxStepBatch bounds the steps one shared transaction commits.
	maxStepBatch = 128
	// stepCommitters bounds the shared transactions in flight at once: while
	// they commit, the next batch fills up, so the batch size follows the load.
	stepCommitters = 2
	// maxStepsWaiting bounds the steps waiting for a transaction; past it a
	// step is refused with 429 at once instead of piling up into timeouts.
	maxStepsWaiting = 4096
)

// groupCommit runs concurrent checkout steps of one kind in shared
// transactions: a committer takes whatever steps are waiting (up to
// maxStepBatch) and commits them together. An idle server runs a step alone,
// at once. Committers are goroutines that exist only while steps wait, so the
// service needs no lifecycle of its own.
type groupCommit[T any] struct {
	commit func(batch []T)

	mu         sync.Mutex
	queue      []T
	committers int
}

// submit queues a step; commit answers it.
func (g *groupCommit[T]) submit(step T) error {
	g.mu.Lock()
	if len(g.queue) >= maxStepsWaiting {
		g.mu.Unlock()
		return apperr.New(apperr.CodeRateLimited, "too many checkout steps are waiting; retry in a second")
	}
	g.queue = append(g.queue, step)
	start := g.committers < stepCommitters
	if start {
		g.committers++
	}
	g.mu.Unlock()
	if start {
		go g.run()
	}
	return nil
}

func (g *groupCommit[T]) run() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxStepBatch)
		if n == 0 {
			g.committers--
			g.queue = nil // let a burst's backing array go
			g.mu.Unlock()
			return
		}
		batch := slices.Clone(g.queue[:n])
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.commit(batch)
	}
}
