package checkout

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/voucher"
)

// ConfirmInput is phase two, after the payment succeeded.
type ConfirmInput struct {
	Channel      string
	ChannelTxnID string
	PaidFen      int64
}

// Confirm redeems a reservation once the platform's payment succeeded, and
// signs a receipt. Confirms are group-committed: concurrent confirms share
// one transaction (see steps), with one write per table and one ledger
// transfer per campaign, so a burst costs a few commits instead of one per
// confirm. The answer is rendered inside that transaction and stored under
// the idempotency key, so a retry gets the same bytes.
func (s *Service) Confirm(ctx context.Context, req Request, id uuid.UUID, in ConfirmInput, render idempotency.Renderer[postgres.Redemption]) (idempotency.Response, error) {
	step := &confirmStep{req: req, id: id, in: in, render: render, pending: newPending()}
	if err := s.confirms.submit(step); err != nil {
		return idempotency.Response{}, err
	}
	r := step.wait(ctx, "confirmation")
	return r.resp, r.err
}

type confirmStep struct {
	req    Request
	id     uuid.UUID
	in     ConfirmInput
	render idempotency.Renderer[postgres.Redemption]
	pending
}

func (s *Service) commitConfirms(batch []*confirmStep) {
	commitShared(s.pool, batch, func(ctx context.Context, tx postgres.Batcher) ([]stepResult, error) {
		return s.confirmBatch(ctx, tx, batch)
	})
}

// confirmBatch is the shared transaction's body, in three round trips: the
// keys and the redemptions' locks; every write; the commit. It is run again
// from scratch if the transaction is retried, so it only computes outcomes.
// Rows are locked in the service's order: keys, redemptions, vouchers, then
// the ledger.
func (s *Service) confirmBatch(ctx context.Context, tx postgres.Batcher, batch []*confirmStep) ([]stepResult, error) {
	out := make([]stepResult, len(batch))
	keys, ids := make([]idempotency.Key, len(batch)), make([]uuid.UUID, len(batch))
	for i, step := range batch {
		keys[i], ids[i] = step.req.Idem, step.id
	}
	var fresh []bool
	var rows map[uuid.UUID]postgres.Redemption
	reads := &pgx.Batch{}
	postgres.QueueIndexProbes(reads)
	postgres.QueueReserveIdempotencyKeys(reads, keys, &fresh)
	// Locking the redemption of a step whose key turns out taken is harmless:
	// it is not written, and the lock ends with the transaction.
	postgres.QueueLockRedemptions(reads, ids, &rows)
	if err := tx.SendBatch(ctx, reads).Close(); err != nil {
		return nil, err
	}

	now := s.now().UTC().Truncate(time.Microsecond)
	var w stepWrites
	for i, step := range batch {
		if !fresh[i] {
			// A twin request holds the key: the HTTP layer replays its answer.
			out[i].err = idempotency.ErrDuplicate
			continue
		}
		r, err := s.confirmOne(rows, step, now)
		if err == nil {
			out[i].resp, err = step.render(r)
		}
		var e auditlog.Event
		if err == nil {
			before := rows[r.ID]
			e, err = s.event(step.req, "redemption.confirmed", r, &before)
		}
		if err != nil {
			// Refused: its key is released, so a retry is judged again.
			out[i].err = err
			w.released = append(w.released, keys[i])
			continue
		}
		rows[r.ID] = r // a second confirm of it in this batch finds it confirmed
		w.took(r, e, keys[i], out[i].resp)
	}

	answerTwins(keys, out)
	writes := &pgx.Batch{}
	postgres.QueueConfirmRedemptions(writes, w.redemptions)
	return out, w.send(ctx, tx, writes, voucher.Redeemed, func(postgres.Redemption) ledger.Kind { return ledger.Redemption }, now)
}

// confirmOne checks one confirmation against its locked redemption and
// returns the redemption as confirmed, with its signed receipt.
func (s *Service) confirmOne(rows map[uuid.UUID]postgres.Redemption, step *confirmStep, now time.Time) (postgres.Redemption, error) {
	r, err := postgres.RedemptionOf(rows, step.req.PlatformID, step.id)
	if err != nil {
		return r, err
	}
	if err := wantStatus(r, "reserved", "confirm"); err != nil {
		return r, err
	}
	in := step.in
	if !now.Before(r.HoldExpiresAt) {
		return r, apperr.New(redemption.CodeHoldExpired, "the hold expired at %s; reserve again", r.HoldExpiresAt.Format(time.RFC3339))
	}
	if in.Channel != r.Channel {
		return r, apperr.New(redemption.CodeChannelMismatch, "the reservation was for %s, not %s", r.Channel, in.Channel)
	}
	if want := r.AmountFen - r.DiscountFen; in.PaidFen != want {
		return r, apperr.New(redemption.CodePaidMismatch, "paid_fen must be the order amount minus the discount: %d", want)
	}
	r.Status, r.ChannelTxnID, r.PaidFen, r.ConfirmedAt, r.UpdatedAt = "confirmed", in.ChannelTxnID, &in.PaidFen, &now, now
	receipt, err := s.signer.Sign(redemption.ReceiptBody{
		RedemptionID: r.ID, PlatformID: r.PlatformID, OrderNo: r.OrderNo, VoucherCode: r.VoucherCode,
		CampaignID: r.CampaignID, MerchantID: r.MerchantID, AmountFen: r.AmountFen, DiscountFen: r.DiscountFen,
		PaidFen: in.PaidFen, Currency: "CNY", PaymentChannel: r.Channel, ChannelTransactionID: in.ChannelTxnID,
		ConfirmedAt: now,
	})
	if err != nil {
		return r, err
	}
	r.Receipt, err = json.Marshal(receipt)
	return r, err
}
