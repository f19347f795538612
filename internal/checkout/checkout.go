// Package checkout holds the use cases of the redemption role: quote,
// reserve, confirm, cancel, refund and the expiry of holds. Reservations of
// consumption vouchers and confirmations are group-committed: concurrent
// steps share a transaction (steps, commitShared), with one write per table and one
// ledger transfer per campaign. Every other use case owns its transaction.
// Rows are locked in one order: the idempotency key, the voucher, the
// redemption, the order, then the ledger.
package checkout

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/voucher"
)

// Service runs the checkout use cases.
type Service struct {
	pool   *pgxpool.Pool
	now    func() time.Time
	hasher *holder.Hasher
	signer *redemption.Signer

	reserves *steps[*reserveStep]
	confirms *steps[*confirmStep]
}

// Options configure the service.
type Options struct {
	Now    func() time.Time
	Hasher *holder.Hasher
	Signer *redemption.Signer // signs receipts at confirm
}

// New returns the checkout use cases.
func New(pool *pgxpool.Pool, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Service{pool: pool, now: opt.Now, hasher: opt.Hasher, signer: opt.Signer}
	s.reserves, s.confirms = newSteps(s.commitReserves), newSteps(s.commitConfirms)
	return s
}

// ReceiptKeys are the public keys receipts are verified with.
func (s *Service) ReceiptKeys() []redemption.JWK { return []redemption.JWK{s.signer.PublicJWK()} }

// Request is a checkout call from a platform.
type Request struct {
	PlatformID string
	Idem       idempotency.Key
	RequestID  string
}

// Cancel releases a reservation; the voucher goes back to its holder.
func (s *Service) Cancel(ctx context.Context, req Request, id uuid.UUID, render idempotency.Renderer[postgres.Redemption]) (idempotency.Response, error) {
	var resp idempotency.Response
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := postgres.ReserveIdempotencyKey(ctx, tx, req.Idem); err != nil {
			return err
		}
		r, err := postgres.LockRedemption(ctx, tx, req.PlatformID, id)
		if err != nil {
			return err
		}
		if err := wantStatus(r, "reserved", "cancel"); err != nil {
			return err
		}
		r, err = s.release(ctx, tx, req, r, "cancelled")
		if err != nil {
			return err
		}
		resp, err = complete(ctx, tx, req.Idem, render, r)
		return err
	})
	return resp, err
}

// release ends a reservation (cancelled or expired): the held value goes
// back where it came from and the voucher back to its holder.
func (s *Service) release(ctx context.Context, tx pgx.Tx, req Request, r postgres.Redemption, status string) (postgres.Redemption, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	before := r
	r.Status, r.UpdatedAt = status, now
	if err := postgres.UpdateRedemption(ctx, tx, r); err != nil {
		return r, err
	}
	if err := postgres.SetVoucherStatus(ctx, tx, r.VoucherID, voucher.Active, now); err != nil {
		return r, err
	}
	if err := postgres.RemoveOrderVoucher(ctx, tx, r.PlatformID, r.OrderNo); err != nil {
		return r, err
	}
	kind := ledger.Release
	if r.Kind == string(campaign.KindTradeIn) {
		kind = ledger.SubsidyRelease
	}
	if err := s.move(ctx, tx, r, kind, r.DiscountFen, now); err != nil {
		return r, err
	}
	return r, s.audit(ctx, tx, req, "redemption."+status, r, &before)
}

// ExpireHolds releases reservations whose hold ran out. Safe to repeat and to
// run on several replicas (each redemption is re-checked under its lock).
func (s *Service) ExpireHolds(ctx context.Context) (int, error) {
	due, err := postgres.ExpiredHolds(ctx, s.pool, s.now(), 1000)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range due {
		req := Request{PlatformID: d.PlatformID, RequestID: "hold-expiry"}
		err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			r, err := postgres.LockRedemption(ctx, tx, d.PlatformID, d.ID)
			if err != nil || r.Status != "reserved" || s.now().Before(r.HoldExpiresAt) {
				return err
			}
			_, err = s.release(ctx, tx, req, r, "expired")
			return err
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Get reads one of the platform's redemptions.
func (s *Service) Get(ctx context.Context, platformID string, id uuid.UUID) (postgres.Redemption, error) {
	return postgres.GetRedemption(ctx, s.pool, platformID, id)
}

func wantStatus(r postgres.Redemption, want, action string) error {
	if r.Status != want {
		return apperr.New(redemption.CodeRedemptionState, "cannot %s a redemption that is %s", action, r.Status).
			With("current_status", r.Status)
	}
	return nil
}

// move books a redemption's value in the campaign ledger, in its bucket
// (bucketKey).
func (s *Service) move(ctx context.Context, tx pgx.Tx, r postgres.Redemption, kind ledger.Kind, amount int64, at time.Time) error {
	if amount == 0 {
		return nil
	}
	_, err := postgres.PostTransfer(ctx, tx, transfer(r, kind, amount), at)
	return err
}

// queueSpreadMoves queues on b the redemptions' discounts as one transfer per
// campaign (of the kind of its redemptions), each redemption's part in its own bucket (bucketKey),
// campaigns in id order. Finish each once b is sent.
func queueSpreadMoves(b *pgx.Batch, rs []postgres.Redemption, kindOf func(postgres.Redemption) ledger.Kind, at time.Time) ([]*postgres.PendingSpread, error) {
	type campaignParts struct {
		kind  ledger.Kind
		total int64
		parts map[int16]int64
		first uuid.UUID
		n     int
	}
	byCampaign := map[uuid.UUID]*campaignParts{}
	for _, r := range rs {
		if r.DiscountFen == 0 {
			continue
		}
		c := byCampaign[r.CampaignID]
		if c == nil {
			c = &campaignParts{kind: kindOf(r), parts: map[int16]int64{}, first: r.ID}
			byCampaign[r.CampaignID] = c
		}
		c.n++
		c.total += r.DiscountFen
		c.parts[postgres.BucketOf(bucketKey(r))] += r.DiscountFen
	}
	campaigns := make([]uuid.UUID, 0, len(byCampaign))
	for id := range byCampaign {
		campaigns = append(campaigns, id)
	}
	slices.SortFunc(campaigns, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	var moves []*postgres.PendingSpread
	for _, id := range campaigns {
		c := byCampaign[id]
		parts := make([]postgres.BucketAmount, 0, len(c.parts))
		for b, fen := range c.parts {
			parts = append(parts, postgres.BucketAmount{Bucket: b, Fen: fen})
		}
		slices.SortFunc(parts, func(a, b postgres.BucketAmount) int { return int(a.Bucket) - int(b.Bucket) })
		t := ledger.Transfer{CampaignID: id, Kind: c.kind, AmountFen: c.total, Ref: ref(c.first)}
		if c.n > 1 {
			// One transfer for many: the ref names the first and how many
			// more; each redemption has its own audit event.
			t.Ref = fmt.Sprintf("redemptions:%s+%d", c.first, c.n-1)
		}
		m, err := postgres.QueueSpreadTransfer(b, t, parts, at)
		if err != nil {
			return nil, err
		}
		moves = append(moves, m)
	}
	return moves, nil
}

func transfer(r postgres.Redemption, kind ledger.Kind, amount int64) ledger.Transfer {
	return ledger.Transfer{CampaignID: r.CampaignID, Kind: kind, AmountFen: amount, Ref: ref(r.ID), BucketKey: bucketKey(r)}
}

// bucketKey is the BucketKey of every movement of a redemption's value, so a
// confirm or cancel draws on the bucket its hold credited.
func bucketKey(r postgres.Redemption) uint64 { return ledger.KeyOf(r.ID) }

// ref names a redemption as the cause of a ledger transfer.
func ref(id uuid.UUID) string { return "redemption:" + id.String() }

func (s *Service) holderHash(idNumber string) (holder.Hash, error) {
	id, err := holder.NormalizeID(idNumber)
	if err != nil {
		return holder.Hash{}, err
	}
	return s.hasher.Hash(id), nil
}

func (s *Service) audit(ctx context.Context, tx pgx.Tx, req Request, action string, r postgres.Redemption, before *postgres.Redemption) error {
	e, err := s.event(req, action, r, before)
	if err != nil {
		return err
	}
	return postgres.AppendEvent(ctx, tx, e)
}

func (s *Service) event(req Request, action string, r postgres.Redemption, before *postgres.Redemption) (auditlog.Event, error) {
	e := auditlog.Event{
		At: s.now().UTC(), Actor: req.PlatformID, ActorRole: "platform", Action: action,
		EntityType: "redemption", EntityID: r.ID.String(), RequestID: req.RequestID,
	}
	var err error
	if before != nil {
		if e.Before, err = json.Marshal(view(*before)); err != nil {
			return e, err
		}
	}
	e.After, err = json.Marshal(view(r))
	return e, err
}

// view is a redemption as the audit log records it.
func view(r postgres.Redemption) map[string]any {
	return map[string]any{
		"id": r.ID, "platform_id": r.PlatformID, "order_no": r.OrderNo, "voucher_id": r.VoucherID,
		"campaign_id": r.CampaignID, "holder": r.Holder.String(), "merchant_id": r.MerchantID, "amount_fen": r.AmountFen,
		"discount_fen": r.DiscountFen, "payment_channel": r.Channel, "channel_txn_id": r.ChannelTxnID, "paid_fen": r.PaidFen,
		"status": r.Status, "serial_number": r.SerialNumber, "refunded_fen": r.RefundedFen, "clawed_back_fen": r.ClawedBackFen,
	}
}

// complete renders the answer and stores it under the key, in the transaction.
func complete[T any](ctx context.Context, tx pgx.Tx, k idempotency.Key, render idempotency.Renderer[T], v T) (idempotency.Response, error) {
	resp, err := render(v)
	if err != nil {
		return resp, err
	}
	return resp, postgres.CompleteIdempotencyKeys(ctx, tx, []idempotency.Key{k}, []idempotency.Response{resp})
}

// orderFingerprint identifies an order's content, so one order number names one order.
func orderFingerprint(o redemption.Order) []byte {
	h := sha256.New()
	h.Write([]byte(o.MerchantID))
	binary.Write(h, binary.BigEndian, o.AmountFen)
	for _, it := range o.Items {
		h.Write([]byte{0})
		h.Write([]byte(it.SKU))
		binary.Write(h, binary.BigEndian, it.UnitPriceFen)
		binary.Write(h, binary.BigEndian, int64(it.Quantity))
	}
	return h.Sum(nil)
}
