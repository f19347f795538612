package main

import (
	"context"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// histogram counts latencies in logarithmic buckets 1 % wide (HDR-like):
// constant memory, lock-free recording, quantiles within 1 %.
type histogram struct {
	buckets [histBuckets]atomic.Int64
	n       atomic.Int64
}

const (
	histBase    = 1.01
	histBuckets = 2400 // 1 µs · 1.01^2400 ≈ 23 min
)

var logBase = math.Log(histBase)

func (h *histogram) record(d time.Duration) {
	us := float64(d) / float64(time.Microsecond)
	i := 0
	if us > 1 {
		i = min(int(math.Log(us)/logBase), histBuckets-1)
	}
	h.buckets[i].Add(1)
	h.n.Add(1)
}

// quantile in milliseconds: the upper edge of the bucket holding rank q·n.
func (h *histogram) quantile(q float64) float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(n)))
	var seen int64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			return math.Pow(histBase, float64(i+1)) / 1000
		}
	}
	return math.Pow(histBase, histBuckets) / 1000
}

// opStats is one named operation's count, latency and answers by code.
type opStats struct {
	name  string
	hist  histogram
	mu    sync.Mutex
	codes map[string]int64
}

// recorder collects every operation of a run.
type recorder struct {
	mu  sync.Mutex
	ops map[string]*opStats
	seq []string
}

func newRecorder() *recorder { return &recorder{ops: map[string]*opStats{}} }

func (r *recorder) op(name string) *opStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.ops[name]
	if !ok {
		s = &opStats{name: name, codes: map[string]int64{}}
		r.ops[name] = s
		r.seq = append(r.seq, name)
	}
	return s
}

// record files one answer: code "" is a 2xx, anything else an error code.
func (r *recorder) record(name string, started time.Time, code string) {
	s := r.op(name)
	s.hist.record(time.Since(started))
	if code != "" {
		s.mu.Lock()
		s.codes[code]++
		s.mu.Unlock()
	}
}

// recordN files a bulk operation that did n things in d (a grant job).
func (r *recorder) recordN(name string, d time.Duration, n int64) {
	s := r.op(name)
	s.hist.n.Add(n)
	i := 0
	if us := float64(d) / float64(time.Microsecond); us > 1 {
		i = min(int(math.Log(us)/logBase), histBuckets-1)
	}
	s.hist.buckets[i].Add(n)
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seq...)
}

// loadShape bounds a run: closed loop (clients) or open loop (rate units
// started per second), at most count units and at most duration.
type loadShape struct {
	clients  int
	rate     float64
	count    int
	duration time.Duration
}

func (s loadShape) mode() string {
	if s.rate > 0 {
		return "open"
	}
	return "closed"
}

// unit runs scenario unit i; scheduled is when it was due to start (open
// loop), so a late start counts in its first call's latency rather than
// hiding (coordinated omission).
type unit func(ctx context.Context, i int, scheduled time.Time)

// drive runs units 0..count-1 under the shape and returns how many started
// and how long they took to finish.
func drive(ctx context.Context, s loadShape, f unit) (started int, elapsed time.Duration) {
	dctx, cancel := context.WithTimeout(ctx, s.duration)
	defer cancel()
	begin := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	if s.rate <= 0 {
		for range max(s.clients, 1) {
			wg.Go(func() {
				for dctx.Err() == nil {
					i := int(next.Add(1) - 1)
					if i >= s.count {
						return
					}
					f(ctx, i, time.Now())
				}
			})
		}
		wg.Wait()
		return int(min(next.Load(), int64(s.count))), time.Since(begin)
	}
	// Open loop: units start on schedule whatever the answers' speed, up to
	// a bound on units in flight so a stalled server cannot exhaust memory.
	inflight := make(chan struct{}, max(int(s.rate*30), 1000))
	interval := time.Duration(float64(time.Second) / s.rate)
	n := 0
	for ; n < s.count; n++ {
		due := begin.Add(time.Duration(n) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-dctx.Done():
			case <-time.After(d):
			}
		}
		if dctx.Err() != nil {
			break
		}
		select {
		case inflight <- struct{}{}:
		case <-dctx.Done():
		}
		if dctx.Err() != nil {
			break
		}
		i := n
		wg.Go(func() {
			defer func() { <-inflight }()
			f(ctx, i, due)
		})
	}
	wg.Wait()
	return n, time.Since(begin)
}

// forEach runs f(0..n-1) on workers goroutines (setup, not measured).
func forEach(n, workers int, f func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

func sortedCodes(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
