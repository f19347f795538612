package scheduler_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/scheduler"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Three replicas schedule the same job every second: runs never overlap, and
// the job does run.
func TestOneReplicaRunsEachJobAtATime(t *testing.T) {
	db := pgtest.New(t)
	var running, maxRunning, runs atomic.Int32
	job := scheduler.Job{
		Name: "exclusive", Spec: "* * * * * *", Timeout: 5 * time.Second,
		Run: func(ctx context.Context) error {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				m := maxRunning.Load()
				if n <= m || maxRunning.CompareAndSwap(m, n) {
					break
				}
			}
			runs.Add(1)
			time.Sleep(300 * time.Millisecond)
			return nil
		},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var replicas []*scheduler.Scheduler
	for i := 0; i < 3; i++ {
		s, err := scheduler.New(db.Pool, log, time.UTC, job)
		require.NoError(t, err)
		replicas = append(replicas, s)
		s.Start()
	}
	require.Eventually(t, func() bool { return runs.Load() >= 3 }, 15*time.Second, 50*time.Millisecond)
	var wg sync.WaitGroup
	for _, s := range replicas {
		wg.Add(1)
		go func() { defer wg.Done(); s.Stop(context.Background()) }()
	}
	wg.Wait()
	assert.Equal(t, int32(1), maxRunning.Load(), "never two runs at once")
}

func TestBadScheduleIsRefused(t *testing.T) {
	_, err := scheduler.New(nil, slog.Default(), time.UTC, scheduler.Job{Name: "x", Spec: "every tuesday", Run: func(context.Context) error { return nil }})
	assert.ErrorContains(t, err, "bad schedule")
}
