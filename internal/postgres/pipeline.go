package postgres

import (
	"context"

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

// QueuePlanEachRun queues on b a setting for the rest of the transaction,
// or until QueuePlanCached: statements are planned for their values at every
// run. Statements over arrays of ids (group commits) need it: the generic
// plan a prepared statement settles on after five runs is made from the
// table's statistics, and while those are still an empty table's, it scans
// the whole table. Planning each run costs little when one statement serves
// a whole batch, except for the ledger's large statements, which touch only
// a campaign's few balance rows: queue those after QueuePlanCached.
func QueuePlanEachRun(b *pgx.Batch) {
	b.Queue("SET LOCAL plan_cache_mode = force_custom_plan")
}

// planEachRun prefixes a statement's arguments so that it is planned for its
// values at every run, as QueuePlanEachRun does for a batch. Statements that
// join an array of keys to a table that grows (idempotency keys, quotas) run
// alone need it: the generic plan a connection settles on while the table is
// small hash-joins it with a full scan and keeps doing so as it grows. Seen
// end to end: 7,260 scans reading 105 million idempotency key rows in one
// 20-second checkout run, most of PostgreSQL's CPU.
func planEachRun(args ...any) []any {
	return append([]any{pgx.QueryExecModeExec}, args...)
}

// queueIndexProbesOnly queues on b, inside a transaction, settings for the
// rest of it that leave the planner only index probes and nested loops. A
// statement that finds each of an array's keys by a unique index can then run
// cached: the generic plan it settles on probes the index even when made
// while the table was empty, and no planning is paid per run.
func queueIndexProbesOnly(b *pgx.Batch) {
	b.Queue(`SELECT set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
		set_config('enable_mergejoin', 'off', true)`)
}

// QueuePlanCached undoes QueuePlanEachRun for the rest of the transaction.
func QueuePlanCached(b *pgx.Batch) {
	b.Queue("SET LOCAL plan_cache_mode = auto")
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
