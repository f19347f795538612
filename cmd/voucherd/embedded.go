package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tongquan/tongquan/internal/pgembed"
)

// embedded is the local PostgreSQL server of the embedded default, kept
// running: if it exits while voucherd runs (killed, stopped by hand, a crash)
// it is started again on the same data and port, so the pools reconnect to
// the same URL and the platform comes back on its own once crash recovery
// is done. Meanwhile requests fail with 503 and /readyz says not ready.
type embedded struct {
	opt        pgembed.Options
	connString string
	log        *slog.Logger
	cluster    *pgembed.Cluster // the supervisor's until done is closed

	stop context.CancelFunc // called by Close: supervising ends, a start in progress gives up
	done chan struct{}      // closed when the supervisor has returned
}

// The pause between attempts to start the server again doubles from the
// first to the last.
const firstRestartPause, lastRestartPause = 100 * time.Millisecond, 5 * time.Second

func startEmbedded(ctx context.Context, dataDir string, log *slog.Logger) (*embedded, error) {
	opt := pgembed.Options{DataDir: dataDir, Fsync: true, Logger: log, Settings: embeddedSettings(physicalMemory())}
	cl, err := pgembed.Start(ctx, opt)
	if err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	// pgembed has logged where the data lives and the psql line. Later
	// starts keep the port: it is in every pooled connection's URL.
	opt.Port = cl.Port()
	sctx, stop := context.WithCancel(context.Background())
	e := &embedded{opt: opt, connString: cl.ConnString(pgembed.Database), log: log, cluster: cl,
		stop: stop, done: make(chan struct{})}
	go e.supervise(sctx)
	return e, nil
}

// supervise waits for the server to exit and starts it again, until ctx
// ends (Close).
func (e *embedded) supervise(ctx context.Context) {
	defer close(e.done)
	for {
		exited := make(chan error, 1)
		go func(cl *pgembed.Cluster) { exited <- cl.Wait() }(e.cluster)
		select {
		case <-ctx.Done():
			return
		case err := <-exited:
			how := "it shut down" // pg_ctl stop, or a signal it handled
			if err != nil {
				how = err.Error()
			}
			e.log.Error("embedded PostgreSQL exited; starting it again", "exit", how, "data", e.opt.DataDir)
		}
		for pause := firstRestartPause; ; pause = min(2*pause, lastRestartPause) {
			next, err := pgembed.Start(ctx, e.opt)
			if err == nil {
				e.cluster = next
				break
			}
			e.log.Error("embedded PostgreSQL did not start; trying again", "error", err, "in", pause)
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
		}
	}
}

// Close stops supervising, then shuts the server down (pgembed.Cluster.Stop:
// fast shutdown, then harder).
func (e *embedded) Close() {
	e.stop()
	<-e.done
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.cluster.Stop(ctx); err != nil {
		e.log.Warn("stopping embedded PostgreSQL", "error", err)
	}
}

// embeddedSettings sizes the embedded server's buffers for the machine it
// runs on instead of PostgreSQL's 128 MB, with which a million-voucher
// grant has its backends write out every index page they evict (the
// random-key B-trees on vouchers, by code and by holder, outgrow the
// buffers). An eighth of the memory leaves the rest to voucherd and the
// page cache. max_wal_size stays at its 1 GB default: it bounds the WAL a
// crash recovery replays, and at 2 GB a SIGKILL right after a 1M grant took
// 6.0 s to answer again (4.7 s of redo over 1,045 MB). memBytes 0 (unknown)
// keeps the defaults.
func embeddedSettings(memBytes int64) map[string]string {
	if memBytes <= 0 {
		return nil
	}
	const mb = 1 << 20
	buffers := min(max(memBytes/8, 128*mb), 4096*mb)
	return map[string]string{
		"shared_buffers":       fmt.Sprintf("%dMB", buffers/mb),
		"effective_cache_size": fmt.Sprintf("%dMB", max(memBytes/2, buffers)/mb),
	}
}

// physicalMemory is the memory this process may use, in bytes: the
// machine's (MemTotal in /proc/meminfo), or its container's limit (cgroup
// v2 memory.max) when that is lower; 0 where neither can be read.
func physicalMemory() int64 {
	var total int64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
					total = kb << 10
				}
				break
			}
		}
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		// "max" when unlimited.
		if limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && limit > 0 && (total == 0 || limit < total) {
			total = limit
		}
	}
	return total
}
