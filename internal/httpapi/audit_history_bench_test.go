package httpapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/audit"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/benchlat"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

// BenchmarkAuditHistory10M measures the redemption history over a generated
// history of TONGQUAN_BENCH_ROWS redemptions (default 10 million), loaded
// once with COPY and shared by every sub-benchmark. Loading takes minutes: set
// TONGQUAN_BENCH_DATABASE_URL to a database of your own to load it once and
// reuse it across runs (it is migrated, and seeded only while empty).
//
// Each query shape is measured through the HTTP handler (a page with its
// totals, as an auditor gets it) and at the storage level (the page query and
// the totals query alone); p50 and p99 are reported per shape. Exports report
// rows/s.
func BenchmarkAuditHistory10M(b *testing.B) {
	rows := 10_000_000
	if v := os.Getenv("TONGQUAN_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("TONGQUAN_BENCH_ROWS=%q is not a positive number", v)
		}
		rows = n
	}
	ctx := context.Background()
	pool := historyDatabase(b, rows)
	srv, token := auditServer(b, pool)

	h := pgtest.DefaultHistory
	day := func(d int) string { return h.Start.AddDate(0, 0, d).Format(time.RFC3339) }
	shapes := []struct {
		name string
		q    url.Values
		id   int // holder, or -1
	}{
		{"campaign", url.Values{"campaign_id": {pgtest.HistoryCampaign(5).String()}}, -1},
		{"platform+week", url.Values{"platform_id": {pgtest.HistoryPlatform(3)}, "from": {day(20)}, "to": {day(27)}}, -1},
		{"merchant", url.Values{"merchant_id": {pgtest.HistoryMerchant(123)}}, -1},
		{"region+category", url.Values{"merchant_region": {"3201"}, "category": {"phone"}}, -1},
		{"holder", url.Values{}, 4242},
		{"channel+status", url.Values{"payment_channel": {"ecny"}, "status": {"refunded"}}, -1},
		// Broad selections, whose totals add up millions of rows.
		{"region", url.Values{"merchant_region": {"3201"}}, -1},
		{"month", url.Values{"from": {day(15)}, "to": {day(45)}}, -1},
		{"channel", url.Values{"payment_channel": {"alipay"}}, -1},
	}
	for _, s := range shapes {
		holderID := ""
		if s.id >= 0 {
			holderID = pgtest.HistoryIDNumber(s.id)
		}
		q := historyQuery(b, s.q, holderID)
		f := historyFilter(b, q)
		// A cursor in the middle of the selection: after the first row on or
		// after the middle of its time window, found with a page of one.
		lo, hi := h.Start, h.Start.Add(h.Span)
		if f.From != nil && f.To != nil {
			lo, hi = *f.From, *f.To
		}
		mid := lo.Add(hi.Sub(lo) / 2)
		fm := f
		fm.From = &mid
		_, deep, err := postgres.ListAuditRedemptions(ctx, pool, fm, "", 1)
		if err != nil {
			b.Fatal(err)
		}
		get := func(cursor string) func() {
			v := cloneValues(s.q)
			v.Set("limit", "50")
			if cursor != "" {
				v.Set("cursor", cursor)
			}
			return func() { auditBenchGet(b, srv, token, "/v1/audit/redemptions", v, holderID, io.Discard) }
		}
		b.Run(s.name+"/http-first-page", func(b *testing.B) { latencies(b, get("")) })
		if deep != "" {
			b.Run(s.name+"/http-deep-page", func(b *testing.B) { latencies(b, get(deep)) })
			b.Run(s.name+"/page-query-deep", func(b *testing.B) {
				latencies(b, func() {
					if _, _, err := postgres.ListAuditRedemptions(ctx, pool, f, deep, 50); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
		b.Run(s.name+"/page-query-first", func(b *testing.B) {
			latencies(b, func() {
				if _, _, err := postgres.ListAuditRedemptions(ctx, pool, f, "", 50); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(s.name+"/totals-query", func(b *testing.B) {
			var t postgres.AuditRedemptionTotals
			latencies(b, func() {
				if t, err = postgres.SumAuditRedemptions(ctx, pool, f); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(t.Count), "matching-rows")
		})
	}

	// A broad export: every confirmed redemption of ten days (~1.4 million rows
	// at 10 million).
	broad := url.Values{"status": {"confirmed"}, "from": {day(30)}, "to": {day(40)}}
	for _, format := range []string{"csv", "ndjson"} {
		b.Run("export-"+format, func(b *testing.B) {
			v := cloneValues(broad)
			v.Set("format", format)
			var lines, size int64
			start := time.Now()
			for b.Loop() {
				c := &lineCounter{}
				auditBenchGet(b, srv, token, "/v1/audit/redemptions/export", v, "", c)
				if format == "csv" {
					c.lines-- // the header
				}
				lines, size = lines+c.lines, size+c.bytes
			}
			sec := time.Since(start).Seconds()
			b.ReportMetric(float64(lines)/sec, "rows/s")
			b.ReportMetric(float64(size)/sec/(1<<20), "MiB/s")
			b.ReportMetric(float64(lines)/float64(b.N), "rows/op")
		})
	}
}

// latencies runs fn b.N times and reports the p50 and p99 of one call.
func latencies(b *testing.B, fn func()) {
	lat := benchlat.New(0)
	for b.Loop() {
		start := time.Now()
		fn()
		lat.Since(start)
	}
	lat.Report(b)
	b.ReportMetric(float64(b.N), "samples")
}

// historyDatabase is a database holding a generated history of n rows.
func historyDatabase(b *testing.B, n int) *pgxpool.Pool {
	ctx := context.Background()
	dbURL := os.Getenv("TONGQUAN_BENCH_DATABASE_URL")
	if dbURL == "" {
		db := pgtest.New(b)
		b.Logf("loading %d redemptions (set TONGQUAN_BENCH_DATABASE_URL to keep them for the next run)", n)
		seedHistory(b, db.Pool, n)
		return db.Pool
	}
	if err := postgres.Migrate(ctx, dbURL); err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	var have int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM redemptions LIMIT 1) x").Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have == 0 {
		seedHistory(b, pool, n)
	} else if err := pool.QueryRow(ctx, "SELECT count(*) FROM redemptions").Scan(&have); err != nil || have != n {
		b.Fatalf("the database holds %d redemptions, not %d (%v): empty it or set TONGQUAN_BENCH_ROWS", have, n, err)
	}
	return pool
}

func seedHistory(b *testing.B, pool *pgxpool.Pool, n int) {
	start := time.Now()
	h := pgtest.DefaultHistory
	h.Rows = n
	if err := pgtest.SeedHistory(context.Background(), pool, h); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d redemptions in %s (COPY, index rebuild, VACUUM ANALYZE)", n, time.Since(start).Round(time.Second))
}

// auditServer serves the audit role only over a generated history, with an
// auditor's token. Its requests go straight to the handler: a body of
// millions of rows is not kept for the contract check of the harness.
func auditServer(b testing.TB, pool *pgxpool.Pool) (*Server, string) {
	_, people, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	pv, err := auth.NewPeopleVerifier(auth.PeopleConfig{
		Issuer: testIssuer, Audience: testAudience, Keys: auth.KeySet{{ID: "idp-1", Public: people.Public()}},
	})
	if err != nil {
		b.Fatal(err)
	}
	a, err := auth.NewAuthenticator(pv, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Config{Logger: slog.New(slog.DiscardHandler), Pool: pool, Auth: a, ServiceRoles: []string{"audit"}, Audit: audit.New(pool, pgtest.HistoryHasher)})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := auth.MintPersonToken(people, "idp-1", testIssuer, testAudience, "auditor", []auth.Role{auth.RoleAuditor}, 24*time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return srv, tok
}

// auditBenchGet serves one GET, streaming its body into w; anything but 200 fails.
func auditBenchGet(b testing.TB, srv *Server, token, path string, q url.Values, holderID string, w io.Writer) {
	req := httptest.NewRequest(http.MethodGet, path+"?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if holderID != "" {
		req.Header.Set("Holder-Id-Number", holderID)
	}
	rw := &streamRecorder{header: http.Header{}, w: w}
	srv.Handler().ServeHTTP(rw, req)
	if rw.status != http.StatusOK {
		b.Fatalf("GET %s: status %d", req.URL, rw.status)
	}
}

// historyQuery turns query parameters into the audit query they make.
func historyQuery(b *testing.B, q url.Values, holderID string) audit.RedemptionQuery {
	out := audit.RedemptionQuery{
		PlatformID: q.Get("platform_id"), MerchantID: q.Get("merchant_id"), MerchantRegion: q.Get("merchant_region"),
		Category: q.Get("category"), PaymentChannel: q.Get("payment_channel"), Status: q.Get("status"),
		HolderIDNumber: holderID,
	}
	parse := func(s string) *time.Time {
		if s == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			b.Fatal(err)
		}
		return &t
	}
	out.From, out.To = parse(q.Get("from")), parse(q.Get("to"))
	if c := q.Get("campaign_id"); c != "" {
		id := pgtest.HistoryCampaign(0)
		if err := id.UnmarshalText([]byte(c)); err != nil {
			b.Fatal(err)
		}
		out.CampaignID = &id
	}
	return out
}

// historyFilter is the storage filter of q, holder hashed as the service does.
func historyFilter(b *testing.B, q audit.RedemptionQuery) postgres.AuditRedemptionFilter {
	f := postgres.AuditRedemptionFilter{
		CampaignID: q.CampaignID, PlatformID: q.PlatformID, MerchantID: q.MerchantID, MerchantRegion: q.MerchantRegion,
		Category: q.Category, PaymentChannel: q.PaymentChannel, Status: q.Status, From: q.From, To: q.To,
	}
	if q.HolderIDNumber != "" {
		h := pgtest.HistoryHasher.Hash(q.HolderIDNumber)
		f.Holder = &h
	}
	return f
}

// streamRecorder is a ResponseWriter that passes the body on as it is
// written instead of keeping it, so an export of any size can be served.
type streamRecorder struct {
	header http.Header
	status int
	w      io.Writer
}

func (r *streamRecorder) Header() http.Header { return r.header }
func (r *streamRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *streamRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.w.Write(p)
}
func (r *streamRecorder) Flush() {}

// lineCounter counts the bytes and lines written to it.
type lineCounter struct{ lines, bytes int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.bytes += int64(len(p))
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}
