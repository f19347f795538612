package checkout

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/settlement"
	"github.com/tongquan/tongquan/internal/voucher"
)

// RefundResult is a refund and what it did.
type RefundResult struct {
	Refund          postgres.Refund
	Redemption      postgres.Redemption
	VoucherReturned bool
}

// Refund refunds part or all of what was paid for a confirmed redemption and
// claws the subsidy back by the written rule (redemption.ClawbackTotal). A
// refund_no already used returns that refund when the amount matches.
func (s *Service) Refund(ctx context.Context, req Request, id uuid.UUID, refundNo string, amount int64, render idempotency.Renderer[RefundResult]) (idempotency.Response, error) {
	var resp idempotency.Response
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := postgres.ReserveIdempotencyKey(ctx, tx, req.Idem); err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		r, err := postgres.LockRedemption(ctx, tx, req.PlatformID, id)
		if err != nil {
			return err
		}
		if prior, found, err := postgres.FindRefund(ctx, tx, r.ID, refundNo); err != nil {
			return err
		} else if found {
			if prior.RefundFen != amount {
				return apperr.New(redemption.CodeRefundNoReused, "refund_no %s was used for %d fen", refundNo, prior.RefundFen)
			}
			resp, err = complete(ctx, tx, req.Idem, render, RefundResult{Refund: prior, Redemption: r})
			return err
		}
		if err := wantStatus(r, "confirmed", "refund"); err != nil {
			return err
		}
		paid := *r.PaidFen
		total := r.RefundedFen + amount
		if total > paid {
			return apperr.New(redemption.CodeRefundExceedsPaid, "refunds would total %d fen, more than the %d fen paid", total, paid)
		}
		clawTotal := redemption.ClawbackTotal(campaign.Kind(r.Kind), r.AmountFen, r.DiscountFen, r.MinSpendFen, total)
		clawback := clawTotal - r.ClawedBackFen
		fromPayable, fromSettled, err := s.splitClawback(ctx, tx, r, clawback)
		if err != nil {
			return err
		}
		before := r
		r.RefundedFen, r.ClawedBackFen, r.UpdatedAt = total, clawTotal, now
		result := RefundResult{Redemption: r}
		full := total == paid
		if full {
			r.Status = "refunded"
			if err := postgres.RemoveOrderVoucher(ctx, tx, r.PlatformID, r.OrderNo); err != nil {
				return err
			}
			returned, err := s.returnVoucher(ctx, tx, r, fromPayable, fromSettled, now)
			if err != nil {
				return err
			}
			result.VoucherReturned = returned
		} else if err := s.clawBack(ctx, tx, r, ledger.Clawback, ledger.SettledClawback, fromPayable, fromSettled, now); err != nil {
			return err
		}
		if err := postgres.UpdateRedemption(ctx, tx, r); err != nil {
			return err
		}
		result.Redemption = r
		result.Refund = postgres.Refund{ID: uuid.Must(uuid.NewV7()), RedemptionID: r.ID, RefundNo: refundNo,
			RefundFen: amount, ClawbackFen: clawback, CreatedAt: now}
		if err := postgres.InsertRefund(ctx, tx, result.Refund); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, req, "redemption.refunded", r, &before); err != nil {
			return err
		}
		resp, err = complete(ctx, tx, req.Idem, render, result)
		return err
	})
	return resp, err
}

// returnVoucher settles a full refund: a consumption voucher still valid goes
// back to its holder with its value committed again; otherwise the value
// recycles to the budget. A trade-in's subsidy always recycles; its
// qualification comes back if still valid (the serial number is freed by
// the status change).
func (s *Service) returnVoucher(ctx context.Context, tx pgx.Tx, r postgres.Redemption, fromPayable, fromSettled int64, now time.Time) (bool, error) {
	v, err := postgres.LockVoucher(ctx, tx, r.VoucherID)
	if err != nil {
		return false, err
	}
	valid := now.Before(v.ValidUntil)
	status := voucher.Expired
	if valid {
		status = voucher.Active
	}
	if err := postgres.SetVoucherStatus(ctx, tx, v.ID, status, now); err != nil {
		return false, err
	}
	if valid && r.Kind == string(campaign.KindConsumption) {
		// → committed: the holder has the voucher again
		return valid, s.clawBack(ctx, tx, r, ledger.Refund, ledger.SettledRefund, fromPayable, fromSettled, now)
	}
	return valid, s.clawBack(ctx, tx, r, ledger.Clawback, ledger.SettledClawback, fromPayable, fromSettled, now)
}

// splitClawback divides a clawback between what of the redemption's discount
// is still payable and what was already settled to the platform (the rule is
// settlement.SplitClawback). r is the redemption before this refund.
func (s *Service) splitClawback(ctx context.Context, tx pgx.Tx, r postgres.Redemption, clawback int64) (fromPayable, fromSettled int64, err error) {
	if clawback == 0 {
		return 0, 0, nil
	}
	settled, err := postgres.SettledFen(ctx, tx, r.ID)
	if err != nil {
		return 0, 0, err
	}
	fromPayable, fromSettled = settlement.SplitClawback(r.DiscountFen, r.ClawedBackFen, settled, clawback)
	return fromPayable, fromSettled, nil
}

// clawBack books a clawback: the payable part by kind, the settled part by settledKind.
func (s *Service) clawBack(ctx context.Context, tx pgx.Tx, r postgres.Redemption, kind, settledKind ledger.Kind, fromPayable, fromSettled int64, now time.Time) error {
	if err := s.move(ctx, tx, r, kind, fromPayable, now); err != nil {
		return err
	}
	return s.move(ctx, tx, r, settledKind, fromSettled, now)
}
