package checkout

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/batching"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/voucher"
)

// steps group-commits checkout steps of one kind: concurrent steps share a
// transaction (commitShared). One transaction of a kind runs at a time, and
// the next batch fills up while it commits: a batch's cost in PostgreSQL is
// mostly per statement, not per step, so fewer and larger batches leave
// more of the CPU for steps. End to end with 32 clients, two at a time gave
// 1,400-1,540 steps/s and one 1,660-1,800 (BENCHMARKS.md). Past 4,096
// waiting steps a step is refused with 429 at once instead of piling up
// into timeouts.
type steps[T any] struct{ q batching.Queue[T] }

func newSteps[T any](commit func(batch []T)) *steps[T] {
	return &steps[T]{q: batching.Queue[T]{Run: commit, MaxBatch: 128, Workers: 1, MaxWaiting: 4096}}
}

// submit queues a step; its batch answers it.
func (s *steps[T]) submit(step T) error {
	if err := s.q.Submit(step); err != nil {
		return apperr.Wrap(err, apperr.CodeRateLimited, "too many checkout steps are waiting; retry in a second")
	}
	return nil
}

// stepResult is one step's answer, or why it was refused.
type stepResult struct {
	resp idempotency.Response
	err  error
}

// pending is where a queued step's result goes.
type pending struct{ done chan stepResult }

func newPending() pending { return pending{done: make(chan stepResult, 1)} }

func (p pending) answer(r stepResult) { p.done <- r }

// wait returns the step's result, or gives up when ctx ends. A step given
// up on may still commit with its batch; a retry with the same key replays it.
func (p pending) wait(ctx context.Context, what string) stepResult {
	select {
	case r := <-p.done:
		return r
	case <-ctx.Done():
		return stepResult{err: apperr.Wrap(ctx.Err(), apperr.CodeUnavailable,
			"the %s did not finish in time; retry with the same Idempotency-Key", what)}
	}
}

// batchTimeout bounds one shared transaction. It runs detached from the
// requests it serves, since each of them may give up on its own.
const batchTimeout = 30 * time.Second

// commitShared runs body, the batch's transaction, and answers each step:
// with its own result, or with the transaction's error when it failed.
func commitShared[T interface{ answer(stepResult) }](pool *pgxpool.Pool, batch []T,
	body func(context.Context, postgres.Batcher) ([]stepResult, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var out []stepResult
	err := postgres.InPipelinedTx(ctx, pool, func(tx postgres.Batcher) error {
		var err error
		out, err = body(ctx, tx)
		return err
	})
	for i, step := range batch {
		if err != nil {
			step.answer(stepResult{err: err})
			continue
		}
		step.answer(out[i])
	}
}

// stepWrites gathers what the steps of a batch that took effect write
// besides their redemption row, and the keys of those refused.
type stepWrites struct {
	redemptions []postgres.Redemption
	events      []auditlog.Event
	keys        []idempotency.Key
	answers     []idempotency.Response
	released    []idempotency.Key
}

// took records a step that takes effect.
func (w *stepWrites) took(r postgres.Redemption, e auditlog.Event, key idempotency.Key, answer idempotency.Response) {
	w.redemptions, w.events = append(w.redemptions, r), append(w.events, e)
	w.keys, w.answers = append(w.keys, key), append(w.answers, answer)
}

// send queues on b, after the redemptions' own write, their vouchers' new
// status, the audit events, the answers and the released keys, then last
// (its bucket rows stay locked until commit) the ledger transfers of each
// redemption's kind; it sends b and finishes the transfers.
func (w *stepWrites) send(ctx context.Context, tx postgres.Batcher, b *pgx.Batch, status voucher.Status,
	kind func(postgres.Redemption) ledger.Kind, now time.Time) error {
	vouchers := make([]uuid.UUID, len(w.redemptions))
	for i, r := range w.redemptions {
		vouchers[i] = r.VoucherID
	}
	postgres.QueueSetVouchersStatus(b, vouchers, status, now)
	if err := postgres.QueueEvents(b, w.events); err != nil {
		return err
	}
	postgres.QueueCompleteIdempotencyKeys(b, w.keys, w.answers)
	postgres.QueueReleaseIdempotencyKeys(b, w.released)
	postgres.QueueDefaultPlanner(b)
	moves, err := queueSpreadMoves(b, w.redemptions, kind, now)
	if err != nil {
		return err
	}
	if len(b.QueuedQueries) > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
	}
	for _, m := range moves {
		if err := m.Finish(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// answerTwins gives a step whose key its batch found taken by an earlier
// step of the same batch, with the same request, that step's refusal. A
// twin whose first took effect keeps idempotency.ErrDuplicate, and the HTTP
// layer replays the first's answer once committed; but a refused first
// releases the key and stores no answer, so its twin would wait for one in
// vain. Twins in different batches need none of this: the later batch waits
// for the earlier one's key and, released, takes it and is judged itself.
// A twin of a step sent to run alone runs alone as well.
func answerTwins(keys []idempotency.Key, out []stepResult) {
	type ref struct{ platform, key string }
	first := make(map[ref]int, len(keys))
	for i, k := range keys {
		r := ref{k.PlatformID, k.Key}
		j, seen := first[r]
		if !seen {
			first[r] = i
			continue
		}
		switch {
		case errors.Is(out[j].err, errReserveAlone):
			out[i] = stepResult{err: errReserveAlone} // alone too, where the key decides between them
		case out[j].err != nil && !errors.Is(out[j].err, idempotency.ErrDuplicate) && keys[j].RequestHash == k.RequestHash:
			out[i] = stepResult{err: out[j].err}
		}
	}
}
