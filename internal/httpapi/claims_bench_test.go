package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/benchlat"
	"github.com/tongquan/tongquan/internal/logsink"
)

// BenchmarkSoldOutClaims measures the HTTP edge alone: claims of distinct
// holders with distinct Idempotency-Keys against a sold-out round, which the
// issuance service answers from memory. It serves the production handler
// without the harness's contract check of the responses, so what it reports
// is routing, authentication, idempotency, validation, logging and
// rendering (in-process), plus net/http over loopback (tcp).
//
//	go test -run '^$' -bench SoldOutClaims -benchtime 3s -cpuprofile cpu.out ./internal/httpapi/
func BenchmarkSoldOutClaims(b *testing.B) {
	e, is := newIssuanceEnv(b)
	id := liveRoundCampaign(b, e, is, 1)
	require.Equal(b, http.StatusCreated, e.claim(b, id, "first", claimBody(0, "200-50")).Status)
	r := e.claim(b, id, "second", claimBody(1, "200-50"))
	require.Equal(b, http.StatusConflict, r.Status, "%s", r.Body)
	require.Equal(b, "ROUND_SOLD_OUT", r.errorCode(b))

	// The server under test logs as voucherd does: a JSON line per request
	// written to a file, as when voucherd's stderr is redirected, through
	// voucherd's buffered log writer.
	logFile, err := os.Create(filepath.Join(b.TempDir(), "voucherd.log"))
	require.NoError(b, err)
	b.Cleanup(func() { logFile.Close() })
	cfg := e.srv.cfg
	var logs *logsink.Writer
	cfg.Logger, logs = logsink.NewLogger(logFile, "json", nil)
	b.Cleanup(func() { logs.Close() }) // before the file's Close, registered earlier
	srv, err := New(cfg)
	require.NoError(b, err)

	// Platforms mint a token per request or reuse one for its few minutes
	// of life; a handful of live tokens stands for the latter.
	tokens := make([]string, 8)
	for i := range tokens {
		tokens[i] = e.platformToken()
	}
	path := "/v1/campaigns/" + id + "/claims"
	newRequest := func(base string, n int64) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(claimBody(int(n%998)+2, "200-50")))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokens[n%int64(len(tokens))])
		req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%s-%d", b.Name(), n))
		return req, nil
	}

	// in-process: the handler alone, no network.
	b.Run("in-process", func(b *testing.B) {
		h := srv.Handler()
		burst(b, func(n int64) (int, error) {
			req, err := newRequest("", n)
			if err != nil {
				return 0, err
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code, nil
		})
	})
	// tcp: net/http's server and client over loopback, keep-alive
	// connections, one per client, as voucherbench calls voucherd.
	b.Run("tcp", func(b *testing.B) {
		ts := httptest.NewServer(srv.Handler())
		defer ts.Close()
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
		defer client.CloseIdleConnections()
		burst(b, func(n int64) (int, error) {
			req, err := newRequest(ts.URL, n)
			if err != nil {
				return 0, err
			}
			res, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode, err
		})
	})
}

// burst calls do from 128 clients at once (on 2 cores, as scripts/bench.sh
// runs voucherbench) and reports answers/s and latency percentiles; every
// answer must be 409 ROUND_SOLD_OUT.
func burst(b *testing.B, do func(n int64) (int, error)) {
	var seq atomic.Int64
	lat := benchlat.New(b.N)
	b.SetParallelism(max(1, 128/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			start := time.Now()
			status, err := do(n)
			lat.Since(start)
			if err != nil || status != http.StatusConflict {
				b.Errorf("claim %d: %d %v", n, status, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "answers/s")
	lat.Report(b)
}
