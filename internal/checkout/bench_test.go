package checkout_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/benchlat"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/voucher"
)

// Redemption steps, measured beside the same SQL work done raw on the same
// server:
//
//	go test -run '^$' -bench 'Redemption' -benchtime 4000x ./internal/checkout/
//
// BenchmarkRedemptionSteps runs reserve and confirm through the use cases
// (every rule, idempotency answer, voucher and redemption rows, ledger
// transfer, audit event, a signed receipt at confirm); one op is one step.
// BenchmarkRawRedemptionSQL is the baseline the benchmark issue names: per
// transaction an idempotency insert, a voucher update, a budget bucket
// update and a ledger insert.

func BenchmarkRedemptionSteps(b *testing.B) {
	e := newEnv(b)
	pairs := b.N/2 + 100 // each goroutine may start one reservation more than it confirms
	c := e.live(b, consumption(int64(pairs)+100))
	vouchers := make([]voucher.Voucher, pairs)
	for i := range vouchers {
		vouchers[i] = e.claim(b, c, i, "200-50")
	}
	var next atomic.Int64
	lat := benchlat.New(b.N)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Each iteration is one step; a goroutine alternates reserve and
		// confirm on its own vouchers, as a platform's checkout would.
		var held postgres.Redemption
		reserved := false
		for pb.Next() {
			start := time.Now()
			if !reserved {
				i := int(next.Add(1)) - 1
				r, err := e.reserve(b, "jd", vouchers[i%pairs], i%pairs, order(fmt.Sprint("o-", i), 25000))
				if err != nil {
					b.Error(err)
				}
				held, reserved = r, err == nil
			} else {
				if _, err := e.confirm(b, "jd", held); err != nil {
					b.Error(err)
				}
				reserved = false
			}
			lat.Since(start)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
	lat.Report(b)
}

func BenchmarkRawRedemptionSQL(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	_, err := e.db.Pool.Exec(ctx, `CREATE TABLE raw_idem (k text PRIMARY KEY, body bytea);
		CREATE TABLE raw_vouchers (id bigint PRIMARY KEY, status text NOT NULL);
		INSERT INTO raw_vouchers SELECT g, 'active' FROM generate_series(0, 1000000) g;
		CREATE TABLE raw_budget (bucket int PRIMARY KEY, held bigint NOT NULL);
		INSERT INTO raw_budget SELECT b, 0 FROM generate_series(0, 15) b;
		CREATE TABLE raw_ledger (id uuid PRIMARY KEY, bucket int, amount bigint, at timestamptz DEFAULT now())`)
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	lat := benchlat.New(b.N)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			start := time.Now()
			err := pgx.BeginFunc(ctx, e.db.Pool, func(tx pgx.Tx) error {
				bucket := rand.IntN(16)
				if _, err := tx.Exec(ctx, `INSERT INTO raw_idem (k, body) VALUES ($1, '{}')`, fmt.Sprint("k", i)); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE raw_vouchers SET status = 'reserved' WHERE id = $1`, i); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE raw_budget SET held = held + 5000 WHERE bucket = $1`, bucket); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO raw_ledger (id, bucket, amount) VALUES ($1, $2, 5000)`, uuid.Must(uuid.NewV7()), bucket)
				return err
			})
			if err != nil {
				b.Error(err)
			}
			lat.Since(start)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
	lat.Report(b)
}

// BenchmarkReserveThenConfirm measures each step alone: b.N reservations by
// 32 callers, then their b.N confirmations by 32 callers.
func BenchmarkReserveThenConfirm(b *testing.B) {
	e := newEnv(b)
	n := b.N
	c := e.live(b, consumption(int64(n)+100))
	vouchers := make([]voucher.Voucher, n)
	for i := range vouchers {
		vouchers[i] = e.claim(b, c, i, "200-50")
	}
	held := make([]postgres.Redemption, n)
	var next atomic.Int64
	b.SetParallelism(16)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)) - 1
			r, err := e.reserve(b, "jd", vouchers[i], i, order(fmt.Sprint("o-", i), 25000))
			if err != nil {
				b.Error(err)
			}
			held[i] = r
		}
	})
	mid := time.Now()
	next.Store(0)
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if _, err := e.confirm(b, "jd", held[i]); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	b.ReportMetric(float64(n)/mid.Sub(start).Seconds(), "reserves/s")
	b.ReportMetric(float64(n)/end.Sub(mid).Seconds(), "confirms/s")
}
