package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/registry"
)

func TestHistogramQuantilesWithinOnePercent(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.99, 990}, {0.999, 999}} {
		got := h.quantile(c.q)
		assert.InEpsilon(t, c.want, got, 0.011, "q%.3f", c.q)
		assert.GreaterOrEqual(t, got, c.want, "a quantile is the upper edge of its bucket")
	}
	var empty histogram
	assert.Zero(t, empty.quantile(0.99))
}

func TestGeneratedIdentitiesAreValidAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, i := range []int{0, 1, 999, 1000, 123_456, 999_999, 1_000_000} {
		id := idNumber(i)
		norm, err := holder.NormalizeID(id)
		require.NoError(t, err, "holder %d: %s", i, id)
		assert.Equal(t, id, norm)
		assert.False(t, seen[id], "holder %d repeats an id", i)
		seen[id] = true
	}
	for seq := range 5 {
		assert.NoError(t, registry.ValidUSCC(uscc(seq)))
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"} {
		assert.True(t, loopback(u), u)
	}
	for _, u := range []string{"http://10.0.0.1:8080", "http://example.com", "127.0.0.1:8080", ""} {
		assert.False(t, loopback(u), u)
	}
}

func TestDriveBoundsCountAndTime(t *testing.T) {
	var ran atomic.Int64
	n, _ := drive(context.Background(), loadShape{clients: 4, count: 100, duration: time.Minute}, func(context.Context, int, time.Time) { ran.Add(1) })
	assert.Equal(t, 100, n)
	assert.Equal(t, int64(100), ran.Load())

	// Open loop: units start on schedule, each with its own index.
	seen := make([]atomic.Bool, 50)
	n, _ = drive(context.Background(), loadShape{rate: 1000, count: 50, duration: time.Minute}, func(_ context.Context, i int, _ time.Time) { seen[i].Store(true) })
	assert.Equal(t, 50, n)
	for i := range seen {
		assert.True(t, seen[i].Load(), "unit %d ran", i)
	}

	// The duration stops new units.
	n, _ = drive(context.Background(), loadShape{clients: 1, count: 1 << 30, duration: 50 * time.Millisecond}, func(context.Context, int, time.Time) { time.Sleep(10 * time.Millisecond) })
	assert.Less(t, n, 20)
}
