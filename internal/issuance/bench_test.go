package issuance_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/benchlat"
)

// Claims, measured beside the same SQL work done raw on the same server:
//
//	go test -run '^$' -bench 'Claim' -benchtime 20000x ./internal/issuance/
//
// BenchmarkClaimParallel drives the real claim path (validation, caches,
// group commit: quotas, bucketed stock, vouchers, ledger, audit events,
// idempotency answers). BenchmarkRawClaimSQL is the baseline the issue names:
// one transaction per claim doing a bucketed stock decrement and a unique
// holder insert, nothing else.

const benchClients = 128

func BenchmarkClaimParallel(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	c := e.live(b, consumption(int64(b.N)+1000, int64(b.N)+1000))
	var n atomic.Int64
	lat := benchlat.New(b.N)
	b.SetParallelism(benchClients / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			start := time.Now()
			if _, err := e.svc.Claim(ctx, claimReq(c, "jd", i, newKey()), render); err != nil {
				b.Errorf("claim %d: %v (%s)", i, err, apperr.CodeOf(err))
			}
			lat.Since(start)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
	lat.Report(b)
}

func BenchmarkRawClaimSQL(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	_, err := e.db.Pool.Exec(ctx, `CREATE TABLE raw_stock (bucket int PRIMARY KEY, remaining bigint NOT NULL CHECK (remaining >= 0));
		INSERT INTO raw_stock SELECT b, 1000000000 FROM generate_series(0, 15) b;
		CREATE TABLE raw_claims (holder text PRIMARY KEY, bucket int NOT NULL, at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	lat := benchlat.New(b.N)
	b.SetParallelism(benchClients / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			start := time.Now()
			err := pgx.BeginFunc(ctx, e.db.Pool, func(tx pgx.Tx) error {
				bucket := rand.IntN(16)
				if _, err := tx.Exec(ctx, `UPDATE raw_stock SET remaining = remaining - 1 WHERE bucket = $1 AND remaining > 0`, bucket); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO raw_claims (holder, bucket) VALUES ($1, $2)`, fmt.Sprint("h", i), bucket)
				return err
			})
			if err != nil {
				b.Error(err)
			}
			lat.Since(start)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
	lat.Report(b)
}
