package issuance_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/tongquan/tongquan/internal/apperr"
)

// BenchmarkClaimParallel measures group-committed claims of distinct
// holders on one round, many goroutines at once (as a burst of platforms'
// requests would arrive):
//
//	go test -run '^$' -bench ClaimParallel -benchtime 20000x ./internal/issuance/
func BenchmarkClaimParallel(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	c := e.live(b, consumption(int64(b.N)+1000, int64(b.N)+1000))
	var n, failed atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			if _, err := e.svc.Claim(ctx, claimReq(c, "jd", i, newKey()), render); err != nil {
				failed.Add(1)
				b.Errorf("claim %d: %v (%s)", i, err, apperr.CodeOf(err))
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}
