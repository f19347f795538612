package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/pgtest"
)

// exportHeapLimit bounds the Go heap in use while an export streams: far
// below the size of the export, so a handler that kept rows would cross it.
const exportHeapLimit = 64 << 20

// An export of a million redemptions (about 290 MiB of CSV, 580 MiB of
// NDJSON) streams through the real handler in bounded memory, every row in
// order and well formed. Under -race or -short it exports 100,000 (a
// million take about ten minutes there); TONGQUAN_EXPORT_ROWS sets the size.
func TestAuditRedemptionExportBoundedMemory(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceDetector {
		n = 100_000
	}
	if v := os.Getenv("TONGQUAN_EXPORT_ROWS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err, "TONGQUAN_EXPORT_ROWS")
	}
	db := pgtest.New(t)
	h := pgtest.DefaultHistory
	h.Rows, h.Merchants, h.Holders = n, 5_000, n/3+1
	start := time.Now()
	require.NoError(t, pgtest.SeedHistory(context.Background(), db.Pool, h))
	t.Logf("loaded %d redemptions in %s", n, time.Since(start).Round(time.Millisecond))
	srv, token := auditServer(t, db.Pool)

	for _, format := range []string{"csv", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			peak, stopSampling := sampleHeap()
			body, status := streamExport(t, srv, token, format)

			start := time.Now()
			counted := &lineCounter{}
			r := bufio.NewReaderSize(io.TeeReader(body, counted), 64<<10)
			var rows int
			var last api.AuditRedemption
			check := func(it api.AuditRedemption) {
				if rows > 0 && !(last.CreatedAt.Before(it.CreatedAt) || last.CreatedAt.Equal(it.CreatedAt) && last.Id.String() < it.Id.String()) {
					t.Fatalf("row %d is out of (created_at, id) order", rows)
				}
				last = it
				rows++
			}
			if format == "csv" {
				cr := csv.NewReader(r)
				cr.ReuseRecord = true
				header, err := cr.Read()
				require.NoError(t, err)
				require.Equal(t, redemptionCSVHeader, header)
				for {
					rec, err := cr.Read()
					if errors.Is(err, io.EOF) {
						break
					}
					require.NoError(t, err, "row %d", rows+1)
					id, err := uuid.Parse(rec[0])
					require.NoError(t, err, "row %d", rows+1)
					at, err := time.Parse(time.RFC3339Nano, rec[19])
					require.NoError(t, err, "row %d", rows+1)
					check(api.AuditRedemption{Id: id, CreatedAt: at})
				}
			} else {
				dec := json.NewDecoder(r)
				for {
					var it api.AuditRedemption
					err := dec.Decode(&it)
					if errors.Is(err, io.EOF) {
						break
					}
					require.NoError(t, err, "row %d", rows+1)
					require.NotEqual(t, uuid.Nil, it.Id, "row %d", rows+1)
					check(it)
				}
			}
			took := time.Since(start)
			stopSampling()
			require.Equal(t, http.StatusOK, <-status)

			t.Logf("%d rows, %.0f MiB in %s (%.0f rows/s); peak Go heap in use %.1f MiB",
				rows, float64(counted.bytes)/(1<<20), took.Round(time.Millisecond), float64(rows)/took.Seconds(),
				float64(peak.Load())/(1<<20))
			assert.Equal(t, n, rows, "every redemption is exported once")
			assert.Less(t, peak.Load(), uint64(exportHeapLimit), "the heap stays bounded whatever the export's size")
		})
	}
}

// streamExport serves the whole history's export in format on a goroutine
// and hands its body over as a stream; the status arrives when it is done.
func streamExport(t *testing.T, srv *Server, token, format string) (io.Reader, <-chan int) {
	req := httptest.NewRequest(http.MethodGet, "/v1/audit/redemptions/export?format="+format, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close() })
	status := make(chan int, 1)
	go func() {
		rw := &streamRecorder{header: http.Header{}, w: pw}
		srv.Handler().ServeHTTP(rw, req)
		pw.Close()
		status <- rw.status
	}()
	return pr, status
}

// sampleHeap records the peak of the Go heap in use every 10 ms until stopped.
func sampleHeap() (*atomic.Uint64, func()) {
	runtime.GC()
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return &peak, func() { close(stop); <-done }
}
