package httpapi

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/batching"
	"github.com/tongquan/tongquan/internal/postgres"
)

const (
	// maxLookupBatch bounds the keys read by one statement.
	maxLookupBatch = 256
	// maxLookupReaders bounds the statements in flight at once, so a burst
	// of retries or refusals holds one pool connection, not one each. One
	// reader: while its statement runs the next batch gathers, so batches
	// grow with the load. With 4, BenchmarkSoldOutClaims read about 3 keys
	// a statement and spent its CPU (and PostgreSQL's, on the same cores) on
	// statements rather than keys; with 1 it answered a third more requests
	// (in-process 45,000/s instead of 33,000–38,000, p99 7–8 ms instead of
	// 10). An idle server still reads a key alone, at once.
	maxLookupReaders = 1
	// lookupTimeout bounds one read, which runs detached from the requests
	// it serves because each of them may give up on its own.
	lookupTimeout = 5 * time.Second
)

// keyLookups reads Idempotency-Keys for concurrent requests in batches:
// every request with a key asks before its operation runs (a retry must be
// replayed whatever the operation would answer now), so under a burst the
// reads are grouped (batching.Queue); an idle server reads each key alone,
// at once.
type keyLookups struct {
	pool  *pgxpool.Pool
	queue batching.Queue[*keyLookup]
}

type keyLookup struct {
	ref  postgres.IdempotencyRef
	done chan struct{}
	// Written once, before done is closed.
	stored postgres.StoredIdempotency
	found  bool
	err    error
}

func newKeyLookups(pool *pgxpool.Pool) *keyLookups {
	l := &keyLookups{pool: pool}
	l.queue = batching.Queue[*keyLookup]{Run: l.read, MaxBatch: maxLookupBatch, Workers: maxLookupReaders}
	return l
}

// lookup reads one key; found is false when it was never used.
func (l *keyLookups) lookup(ctx context.Context, platformID, key string) (postgres.StoredIdempotency, bool, error) {
	if err := ctx.Err(); err != nil { // the request is gone: read nothing for it
		return postgres.StoredIdempotency{}, false, err
	}
	r := &keyLookup{ref: postgres.IdempotencyRef{PlatformID: platformID, Key: key}, done: make(chan struct{})}
	if err := l.queue.Submit(r); err != nil { // unbounded: never refused
		return postgres.StoredIdempotency{}, false, err
	}
	select {
	case <-r.done:
		return r.stored, r.found, r.err
	case <-ctx.Done():
		return postgres.StoredIdempotency{}, false, ctx.Err()
	}
}

// read answers one batch of lookups with one statement.
func (l *keyLookups) read(batch []*keyLookup) {
	refs := make([]postgres.IdempotencyRef, len(batch))
	for i, r := range batch {
		refs[i] = r.ref
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	stored, err := postgres.LookupIdempotencyKeys(ctx, l.pool, refs)
	cancel()
	for _, r := range batch {
		r.stored, r.found = stored[r.ref]
		r.err = err
		close(r.done)
	}
}
