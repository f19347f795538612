package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/postgres"
)

const (
	// maxLookupBatch bounds the keys read by one statement.
	maxLookupBatch = 256
	// maxLookupReaders bounds the statements in flight at once, so a burst
	// of retries or refusals holds a few pool connections, not one each.
	maxLookupReaders = 4
	// lookupTimeout bounds one read, which runs detached from the requests
	// it serves because each of them may give up on its own.
	lookupTimeout = 5 * time.Second
)

// keyLookups reads Idempotency-Keys for concurrent requests in batches:
// every request with a key asks before its operation runs (a retry must be
// replayed whatever the operation would answer now), so under a burst the
// reads are grouped. While a read runs the next batch fills up, so the batch
// size follows the load; an idle server reads each key alone, at once.
// Readers are goroutines that exist only while keys wait.
type keyLookups struct {
	pool *pgxpool.Pool

	mu      sync.Mutex
	queue   []*keyLookup
	readers int
}

type keyLookup struct {
	ref  postgres.IdempotencyRef
	done chan struct{}
	// Written once, before done is closed.
	stored postgres.StoredIdempotency
	found  bool
	err    error
}

func newKeyLookups(pool *pgxpool.Pool) *keyLookups { return &keyLookups{pool: pool} }

// lookup reads one key; found is false when it was never used.
func (l *keyLookups) lookup(ctx context.Context, platformID, key string) (postgres.StoredIdempotency, bool, error) {
	if err := ctx.Err(); err != nil { // the request is gone: read nothing for it
		return postgres.StoredIdempotency{}, false, err
	}
	r := &keyLookup{ref: postgres.IdempotencyRef{PlatformID: platformID, Key: key}, done: make(chan struct{})}
	l.mu.Lock()
	l.queue = append(l.queue, r)
	start := l.readers < maxLookupReaders
	if start {
		l.readers++
	}
	l.mu.Unlock()
	if start {
		go l.read()
	}
	select {
	case <-r.done:
		return r.stored, r.found, r.err
	case <-ctx.Done():
		return postgres.StoredIdempotency{}, false, ctx.Err()
	}
}

// read answers waiting lookups batch by batch until none wait.
func (l *keyLookups) read() {
	for {
		l.mu.Lock()
		n := min(len(l.queue), maxLookupBatch)
		if n == 0 {
			l.readers--
			l.queue = nil // let a burst's backing array go
			l.mu.Unlock()
			return
		}
		batch := make([]*keyLookup, n)
		copy(batch, l.queue)
		l.queue = l.queue[n:]
		l.mu.Unlock()

		refs := make([]postgres.IdempotencyRef, n)
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
}
