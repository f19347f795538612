// Command voucherbench drives a running voucherd through its public API
// with named workloads, prints throughput and latency, and checks the
// invariants afterwards (exit 1 when one breaks); `voucherbench crash`
// kills voucherd and its PostgreSQL under load and checks nothing
// acknowledged was lost.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/tongquan/tongquan/internal/auth"
)

const usage = `usage:
  voucherbench run --workload claim-burst|redeem-mix|trade-in-hot-budget|bulk-grant|audit-query
      [--url http://127.0.0.1:8080] [--data-dir .tongquan] [--database-url URL]
      [--clients 128 | --rate 2000] [--duration 60s] [--count N]
      [--holders 20000] [--stock 5000] [--procs 1] [--json out.json]
  voucherbench crash --voucherd PATH --data-dir DIR [--kills 3] [--duration 5m] [--json out.json]
`

// exit codes
const (
	exitOK        = 0
	exitInvariant = 1
	exitUsage     = 2
)

type options struct {
	url, dataDir, databaseURL, jsonPath string
	clients                             int
	rate                                float64
	duration                            time.Duration
	count, holders, stock, procs        int
	seed                                uint64
	callLimit, sealWait                 time.Duration
}

var workloads = map[string]func(context.Context, *bench) error{
	"claim-burst":         claimBurst,
	"redeem-mix":          redeemMix,
	"trade-in-hot-budget": tradeInHotBudget,
	"bulk-grant":          bulkGrant,
	"audit-query":         auditQuery,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(dispatch(ctx, os.Args[1:]))
}

func dispatch(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:])
	case "crash":
		return crashCommand(ctx, args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "unknown command %q\n%s", args[0], usage)
	return exitUsage
}

func runCommand(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("voucherbench run", flag.ContinueOnError)
	var o options
	workload := fs.String("workload", "", "claim-burst, redeem-mix, trade-in-hot-budget, bulk-grant or audit-query")
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "voucherd's base URL (loopback only)")
	fs.StringVar(&o.dataDir, "data-dir", envOr("TONGQUAN_DATA_DIR", ".tongquan"), "voucherd's data folder, for the development keys that mint the administrators' tokens")
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL for read-only invariant queries (optional)")
	fs.IntVar(&o.clients, "clients", 128, "closed loop: concurrent clients")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: units started per second (overrides --clients)")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "stop starting units after this long")
	fs.IntVar(&o.count, "count", 0, "at most this many units (default: the workload's population)")
	fs.IntVar(&o.holders, "holders", 20000, "holders (claim-burst, bulk-grant)")
	fs.IntVar(&o.stock, "stock", 5000, "round stock (claim-burst); vouchers (redeem-mix, trade-in-hot-budget)")
	fs.IntVar(&o.procs, "procs", 1, "CPU threads running the load generator's Go code at once (GOMAXPROCS)")
	fs.StringVar(&o.jsonPath, "json", "", "also write the result as JSON to this file")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "random seed (the mix of each unit)")
	fs.DurationVar(&o.callLimit, "call-limit", 60*time.Second, "give up a call (retries included) after this long")
	fs.DurationVar(&o.sealWait, "seal-wait", 30*time.Second, "wait this long for the audit sealer before verifying")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	o.seed = *seed
	f, ok := workloads[*workload]
	if !ok {
		fmt.Fprintf(os.Stderr, "--workload must be one of claim-burst, redeem-mix, trade-in-hot-budget, bulk-grant, audit-query\n")
		return exitUsage
	}
	if err := checkOptions(o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitUsage
	}
	// The load generator shares the machine with what it measures
	// (loopback only). On one P its goroutines take turns on one thread
	// instead of waking and spinning threads across every core: on 2
	// cores it spent a quarter less CPU per sold-out answer, and voucherd
	// answered 13-19 % more of them (BENCHMARKS.md).
	runtime.GOMAXPROCS(o.procs)
	res, err := runWorkload(ctx, o, *workload, f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "voucherbench: %v\n", err)
		return exitUsage
	}
	res.print(os.Stdout)
	if err := writeJSON(o.jsonPath, res); err != nil {
		fmt.Fprintf(os.Stderr, "voucherbench: %v\n", err)
		return exitUsage
	}
	if !res.OK {
		return exitInvariant
	}
	return exitOK
}

func checkOptions(o options) error {
	var problems []string
	if !loopback(o.url) {
		problems = append(problems, "--url must be a loopback address (127.0.0.1, ::1 or localhost)")
	}
	if o.procs < 1 {
		problems = append(problems, "--procs must be at least 1")
	}
	if o.clients < 1 {
		problems = append(problems, "--clients must be at least 1")
	}
	if o.rate < 0 || o.duration <= 0 || o.count < 0 || o.holders < 1 || o.stock < 1 {
		problems = append(problems, "--rate, --duration, --count, --holders and --stock must be positive")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// runWorkload sets up, drives the load and checks the invariants.
func runWorkload(ctx context.Context, o options, name string, f func(context.Context, *bench) error) (*result, error) {
	b, err := newBench(ctx, o)
	if err != nil {
		return nil, err
	}
	if b.db != nil {
		defer b.db.close()
	}
	if err := f(ctx, b); err != nil {
		return nil, err
	}
	return b.result(ctx, name), nil
}

// newBench connects (API keys, optional read-only SQL) and sets up the
// run's platforms and merchants.
func newBench(ctx context.Context, o options) (*bench, error) {
	keys, err := auth.LoadDevKeys(o.dataDir)
	if err != nil {
		return nil, err
	}
	conns := o.clients
	if o.rate > 0 {
		conns = 256
	}
	c := newClient(o.url, keys, conns, o.callLimit)
	b := &bench{opt: o, rec: newRecorder(), shape: loadShape{clients: o.clients, rate: o.rate, duration: o.duration, count: o.count}}
	if b.shape.count == 0 {
		b.shape.count = 1 << 40 // the workload caps it at its population
	}
	if o.databaseURL != "" {
		if b.db, err = openReadDB(ctx, o.databaseURL); err != nil {
			return nil, fmt.Errorf("--database-url: %w", err)
		}
	}
	if b.env, err = newEnv(ctx, c); err != nil {
		if b.db != nil {
			b.db.close()
		}
		return nil, fmt.Errorf("setup: %w", err)
	}
	return b, nil
}

// result checks the invariants and gathers what was measured.
func (b *bench) result(ctx context.Context, name string) *result {
	// Procs is read from the runtime, not from --procs: the crash drill and
	// the tests run workloads without that flag.
	res := &result{Workload: name, Mode: b.shape.mode(), Clients: b.opt.clients, Procs: runtime.GOMAXPROCS(0), Rate: b.opt.rate, DurationS: round3(b.elapsed.Seconds())}
	res.Invariants = b.invariants(ctx)
	res.Ops = opsOf(b.rec, b.elapsed) // after the checks: the export is measured there
	if b.db == nil {
		b.note("no --database-url: invariants checked through the API only")
	}
	if n := b.env.c.retries.Load(); n > 0 {
		b.note("%d attempts retried after a network error, 5xx or 429 (same Idempotency-Key)", n)
	}
	if n := b.env.c.unresolved.Load(); n > 0 {
		b.note("%d calls left without an answer", n)
	}
	res.Notes = b.notes
	res.finish()
	return res
}

// invariants are the workload's own checks, then those of the whole
// system: every budget, the ledger and the audit chain.
func (b *bench) invariants(ctx context.Context) []invariant {
	var out []invariant
	for _, check := range b.checks {
		out = append(out, check(ctx))
	}
	out = append(out, b.budgets(ctx))
	if b.db != nil {
		out = append(out, b.ledgerSQL(ctx))
	}
	return append(out, b.auditVerify(ctx)...)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
