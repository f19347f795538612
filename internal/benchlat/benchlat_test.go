package benchlat

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

type metrics map[string]float64

func (m metrics) ReportMetric(n float64, unit string) { m[unit] = n }

func TestReportPercentiles(t *testing.T) {
	s := New(0)
	for i := 100; i >= 1; i-- { // out of order: Report sorts
		s.Add(time.Duration(i) * time.Millisecond)
	}
	m := metrics{}
	s.Report(m)
	assert.Equal(t, metrics{"p50_ms": 50, "p99_ms": 99}, m)

	empty := metrics{}
	New(0).Report(empty)
	assert.Empty(t, empty, "nothing to report")
}
