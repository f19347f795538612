package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Batcher runs statements in a transaction one at a time (Querier) or
// several in one round trip (SendBatch). A pgx.Tx is one.
type Batcher interface {
	Querier
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// InPipelinedTx is InTx for a transaction written as batches: its BEGIN
// travels with the first batch instead of taking a round trip of its own.
// Retries, their bound and the commit are InTx's.
func InPipelinedTx(ctx context.Context, pool *pgxpool.Pool, fn func(Batcher) error) error {
	return retry(ctx, func() error { return pipelinedTx(ctx, pool, fn) })
}

func pipelinedTx(ctx context.Context, pool *pgxpool.Pool, fn func(Batcher) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection released inside a transaction (a failed rollback, a
	// panic in fn) is closed by the pool, which ends the transaction.
	defer conn.Release()
	tx := &lazyTx{conn: conn}
	if err := fn(tx); err != nil {
		if tx.begun {
			_, _ = conn.Exec(ctx, "rollback")
		}
		return err
	}
	if !tx.begun {
		return nil
	}
	tag, err := conn.Exec(ctx, "commit")
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// QueueIndexProbes queues on b settings for the rest of the transaction, or
// until QueueDefaultPlanner: statements run on their cached generic plan,
// made with index probes and nested loops only. Statements that find each
// of an array's ids or keys by an index (group commits, key lookups) need
// it. With the planner's defaults, the generic plan a connection settles on
// after five runs comes from the table's statistics, and while those are an
// empty table's it scans the whole table for every batch, as long as the
// connection lives; planned for their values at every run instead, the
// checkout batches spent a fifth of PostgreSQL's CPU planning. Here no
// scan or hash join is on offer, so the generic plan probes the index
// whatever the table's size when it was made, and it is made once per
// connection (voucherbench redeem-mix, 32 clients, five alternating pairs:
// 2,216-2,411 steps/s against 1,922-2,074, PostgreSQL's CPU per step
// 377-418 µs against 478-514). Queue the ledger's statements, which touch
// a campaign's few balance rows, after QueueDefaultPlanner.
func QueueIndexProbes(b *pgx.Batch) { b.Queue(indexProbesSQL) }

// QueueDefaultPlanner undoes QueueIndexProbes for the rest of the
// transaction.
func QueueDefaultPlanner(b *pgx.Batch) { b.Queue(defaultPlannerSQL) }

// plannerSettings are what QueueIndexProbes sets and QueueDefaultPlanner
// sets back, from one list so that the two cannot drift apart.
var plannerSettings = []struct{ name, probes, defaults string }{
	{"enable_seqscan", "off", "on"},
	{"enable_hashjoin", "off", "on"},
	{"enable_mergejoin", "off", "on"},
	{"plan_cache_mode", "force_generic_plan", "auto"},
}

var indexProbesSQL, defaultPlannerSQL = func() (string, string) {
	var probes, defaults []string
	for _, s := range plannerSettings {
		probes = append(probes, fmt.Sprintf("set_config('%s', '%s', true)", s.name, s.probes))
		defaults = append(defaults, fmt.Sprintf("set_config('%s', '%s', true)", s.name, s.defaults))
	}
	return "SELECT " + strings.Join(probes, ", "), "SELECT " + strings.Join(defaults, ", ")
}()

// planEachRun prefixes a statement's arguments so that it is planned for its
// values at every run. Statements that join an array of keys to a table
// that grows (idempotency keys, quotas), sent alone rather than in a batch
// that could queue QueueIndexProbes first, need it: the generic plan a
// connection settles on while the table is small hash-joins it with a full
// scan and keeps doing so as it grows. Seen end to end: 7,260 scans reading
// 105 million idempotency key rows in one 20-second checkout run, most of
// PostgreSQL's CPU.
func planEachRun(args ...any) []any {
	return append([]any{pgx.QueryExecModeExec}, args...)
}

// lazyTx begins its transaction with the first thing it sends.
type lazyTx struct {
	conn  *pgxpool.Conn
	begun bool
}

func (t *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if !t.begun {
		t.begun = true
		withBegin := &pgx.Batch{}
		withBegin.Queue("begin")
		withBegin.QueuedQueries = append(withBegin.QueuedQueries, b.QueuedQueries...)
		b = withBegin
	}
	return t.conn.SendBatch(ctx, b)
}

func (t *lazyTx) begin(ctx context.Context) error {
	if t.begun {
		return nil
	}
	t.begun = true
	_, err := t.conn.Exec(ctx, "begin")
	return err
}

func (t *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.begin(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.conn.Exec(ctx, sql, args...)
}

func (t *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.conn.Query(ctx, sql, args...)
}

func (t *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := t.begin(ctx); err != nil {
		return errRow{err}
	}
	return t.conn.QueryRow(ctx, sql, args...)
}

// errRow is a row that failed before it was asked for.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
