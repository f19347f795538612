package postgres_test

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/voucher"
)

// The grant benchmarks compare a direct grant end to end with the fastest
// way to put the same vouchers in the same table: one raw COPY, with every
// index of vouchers in place. Run both, on one database server:
//
//	go test ./internal/postgres/ -run '^$' -bench 'Grant' -benchtime 1x [-grant.rows 100000]
//
// The tests' own server runs with fsync off; set TEST_DATABASE_URL to measure
// a server configured as in production.
var grantBenchRows = flag.Int("grant.rows", 1_000_000, "holders in the list of the grant benchmarks")

// BenchmarkGrant1M grants one voucher to each of -grant.rows holders: the
// upload (CSV parsing, ID validation, keyed hashing, COPY into staging) and
// the job to its end (vouchers, ledger, progress and audit, chunk by chunk).
func BenchmarkGrant1M(b *testing.B) {
	n := *grantBenchRows
	file := grantBenchFile(n)
	var upload, total time.Duration
	for range b.N {
		b.StopTimer()
		_, svc, c := grantBenchCampaign(b, int64(n))
		b.StartTimer()

		start := time.Now()
		g, err := svc.CreateGrant(context.Background(), issuer.Actor{Subject: "bench", Role: "campaign_manager"},
			c.ID, "200-50", strings.NewReader(file))
		require.NoError(b, err)
		upload += time.Since(start)
		for g.Status == issuance.GrantRunning {
			time.Sleep(50 * time.Millisecond)
			g, err = svc.GetGrant(context.Background(), g.ID)
			require.NoError(b, err)
		}
		total += time.Since(start)
		require.Equal(b, issuance.GrantDone, g.Status, g.Failure)
		require.EqualValues(b, n, g.Granted)
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "vouchers/s")
	b.ReportMetric(upload.Seconds()/float64(b.N), "upload-s")
	b.ReportMetric((total-upload).Seconds()/float64(b.N), "job-s")
}

// BenchmarkGrantRawCopy COPYs -grant.rows ready-made granted vouchers into
// vouchers: the ceiling BenchmarkGrant1M is measured against. streams=1 is
// one COPY statement; streams=2 splits the rows over two connections, as
// the grant job splits its chunks over two workers.
func BenchmarkGrantRawCopy(b *testing.B) {
	n := *grantBenchRows
	hashes := make([][]byte, n)
	for i := range hashes {
		hashes[i] = make([]byte, 32)
		_, _ = rand.Read(hashes[i])
	}
	for _, streams := range []int{1, 2} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				db, _, c := grantBenchCampaign(b, int64(n))
				b.StartTimer()
				errs := make([]error, streams)
				var wg sync.WaitGroup
				for s := range streams {
					wg.Go(func() { errs[s] = rawCopyVouchers(db.Pool, c, hashes[s*n/streams:(s+1)*n/streams]) })
				}
				wg.Wait()
				require.NoError(b, errors.Join(errs...))
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "vouchers/s")
		})
	}
}

// rawCopyVouchers COPYs a granted voucher of campaign c's tier 200-50 for
// each holder hash.
func rawCopyVouchers(pool *pgxpool.Pool, c campaign.Campaign, hashes [][]byte) error {
	tier, _ := c.Tier("200-50")
	now := time.Now()
	tmpl := voucher.OfTier(&c, tier, holder.Hash{}, now, voucher.FromGrant, "", nil)
	i := 0
	_, err := pool.CopyFrom(context.Background(), pgx.Identifier{"vouchers"},
		[]string{"id", "code", "campaign_id", "holder_hash", "kind", "tier_id", "min_spend_fen", "discount_fen",
			"valid_from", "valid_until", "status", "source", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(hashes) {
				return nil, nil
			}
			i++
			return []any{pgtype.UUID{Bytes: uuid.Must(uuid.NewV7()), Valid: true}, voucher.NewCode(),
				pgtype.UUID{Bytes: c.ID, Valid: true}, hashes[i-1], string(tmpl.Kind), tmpl.TierID,
				tmpl.MinSpendFen, tmpl.DiscountFen, tmpl.ValidFrom, tmpl.ValidUntil, string(tmpl.Status),
				string(tmpl.Source), now, now}, nil
		}))
	return err
}

// grantBenchCampaign is an approved campaign with budget for units vouchers
// of tier 200-50, in a fresh database, with the issuance service on it.
func grantBenchCampaign(b testing.TB, units int64) (*pgtest.DB, *issuance.Service, campaign.Campaign) {
	b.Helper()
	db := pgtest.New(b)
	ctx := context.Background()
	now := time.Now()
	iss := issuer.New(db.Pool, nil)
	c, err := iss.CreateCampaign(ctx, issuer.Actor{Subject: "alice", Role: "campaign_manager"}, campaign.Campaign{
		Kind: campaign.KindConsumption, Name: "bench", Authority: "bench bureau",
		StartsAt: now.Add(time.Hour), EndsAt: now.Add(60 * 24 * time.Hour), BudgetFen: units * 5000,
		Rules: campaign.Rules{Tiers: []campaign.Tier{{ID: "200-50", MinSpendFen: 20000, DiscountFen: 5000, ValidityDays: 7}}},
	})
	require.NoError(b, err)
	_, err = iss.Transition(ctx, issuer.Actor{Subject: "alice", Role: "campaign_manager"}, c.ID, campaign.ActionSubmit, "")
	require.NoError(b, err)
	c, err = iss.Transition(ctx, issuer.Actor{Subject: "bob", Role: "approver"}, c.ID, campaign.ActionApprove, "")
	require.NoError(b, err)
	h, err := holder.NewHasher([]byte(strings.Repeat("b", 32)))
	require.NoError(b, err)
	svc := issuance.New(db.Pool, issuance.Options{Hasher: h})
	b.Cleanup(svc.Close)
	return db, svc, c
}

// grantBenchFile is a list of n distinct valid holders.
func grantBenchFile(n int) string {
	var sb strings.Builder
	sb.Grow(n * 27)
	sb.WriteString("id_number,residence_region\n")
	born := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		first := fmt.Sprintf("310104%s%03d", born.AddDate(0, 0, i/1000).Format("20060102"), i%1000)
		check, err := holder.CheckChar(first)
		if err != nil {
			panic(err)
		}
		sb.WriteString(first)
		sb.WriteByte(check)
		sb.WriteString(",310104\n")
	}
	return sb.String()
}
