package batching

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Many submitters at once: every item runs exactly once, no batch is larger
// than MaxBatch, no more than Workers batches run together, and the queue
// is idle again once all have run.
func TestEveryItemRunsOnceInBoundedBatches(t *testing.T) {
	const n, maxBatch, workers = 5000, 64, 3
	var (
		mu      sync.Mutex
		seen    = make([]int, n)
		running atomic.Int32
		most    atomic.Int32
		batches atomic.Int32
	)
	q := &Queue[int]{MaxBatch: maxBatch, Workers: workers, Run: func(batch []int) {
		now := running.Add(1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		assert.LessOrEqual(t, len(batch), maxBatch)
		time.Sleep(100 * time.Microsecond) // let others queue up behind
		mu.Lock()
		for _, i := range batch {
			seen[i]++
		}
		mu.Unlock()
		batches.Add(1)
		running.Add(-1)
	}}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { require.NoError(t, q.Submit(i)) })
	}
	wg.Wait()
	require.Eventually(t, q.Idle, 10*time.Second, time.Millisecond)
	for i, c := range seen {
		assert.Equal(t, 1, c, "item %d", i)
	}
	assert.LessOrEqual(t, most.Load(), int32(workers))
	assert.Less(t, batches.Load(), int32(n), "items were grouped")
}

// Past MaxWaiting, Submit refuses at once and queues nothing.
func TestFullQueueRefuses(t *testing.T) {
	release := make(chan struct{})
	var ran atomic.Int32
	q := &Queue[int]{MaxBatch: 1, Workers: 1, MaxWaiting: 2, Run: func(batch []int) {
		<-release
		ran.Add(int32(len(batch)))
	}}
	require.NoError(t, q.Submit(1)) // taken by the worker, which blocks
	require.Eventually(t, func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.waiting) == 0
	}, 5*time.Second, time.Millisecond)
	require.NoError(t, q.Submit(2))
	require.NoError(t, q.Submit(3))
	assert.ErrorIs(t, q.Submit(4), ErrFull)
	close(release)
	require.Eventually(t, q.Idle, 5*time.Second, time.Millisecond)
	assert.Equal(t, int32(3), ran.Load())
}
