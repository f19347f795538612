// Package benchlat collects per-operation latencies in benchmarks and
// reports their percentiles beside the throughput.
package benchlat

import (
	"slices"
	"sync"
	"time"
)

// Sample is a concurrency-safe list of latencies.
type Sample struct {
	mu sync.Mutex
	d  []time.Duration
}

// New returns a sample with room for n latencies.
func New(n int) *Sample { return &Sample{d: make([]time.Duration, 0, n)} }

// Add records one latency.
func (s *Sample) Add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

// Since records the time elapsed since start.
func (s *Sample) Since(start time.Time) { s.Add(time.Since(start)) }

// Reporter is what *testing.B offers for custom metrics.
type Reporter interface {
	ReportMetric(n float64, unit string)
}

// Report sorts the sample and reports its p50 and p99 in milliseconds
// (units p50_ms, p99_ms); an empty sample reports nothing.
func (s *Sample) Report(r Reporter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.d) == 0 {
		return
	}
	slices.Sort(s.d)
	at := func(q float64) float64 { return float64(s.d[int(q*float64(len(s.d)-1))].Microseconds()) / 1000 }
	r.ReportMetric(at(0.5), "p50_ms")
	r.ReportMetric(at(0.99), "p99_ms")
}
