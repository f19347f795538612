package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/voucher"
)

// Redemption is one voucher held for, or redeemed on, a platform's order.
type Redemption struct {
	ID            uuid.UUID
	PlatformID    string
	OrderNo       string
	VoucherID     uuid.UUID
	VoucherCode   string
	CampaignID    uuid.UUID
	Kind          string
	Holder        holder.Hash
	MerchantID    string
	AmountFen     int64
	DiscountFen   int64
	MinSpendFen   int64
	Channel       string
	ChannelTxnID  string
	PaidFen       *int64
	Status        string
	SerialNumber  string
	Category      string
	HoldExpiresAt time.Time
	ConfirmedAt   *time.Time
	RefundedFen   int64
	ClawedBackFen int64
	Receipt       json.RawMessage
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

const redemptionColumns = `id, platform_id, order_no, voucher_id, voucher_code, campaign_id, kind, holder_hash, merchant_id,
	amount_fen, discount_fen, min_spend_fen, payment_channel, coalesce(channel_txn_id, ''), paid_fen, status,
	coalesce(serial_number, ''), coalesce(category, ''), hold_expires_at, confirmed_at, refunded_fen, clawed_back_fen,
	receipt, created_at, updated_at`

func scanRedemption(row pgx.Row) (Redemption, error) {
	var r Redemption
	var h []byte
	err := row.Scan(&r.ID, &r.PlatformID, &r.OrderNo, &r.VoucherID, &r.VoucherCode, &r.CampaignID, &r.Kind, &h,
		&r.MerchantID, &r.AmountFen, &r.DiscountFen, &r.MinSpendFen, &r.Channel, &r.ChannelTxnID, &r.PaidFen, &r.Status,
		&r.SerialNumber, &r.Category, &r.HoldExpiresAt, &r.ConfirmedAt, &r.RefundedFen, &r.ClawedBackFen, &r.Receipt,
		&r.CreatedAt, &r.UpdatedAt)
	copy(r.Holder[:], h)
	return r, err
}

func redemptionNotFound(id uuid.UUID) error {
	return apperr.New(apperr.CodeNotFound, "no redemption %s", id)
}

// GetRedemption reads one of a platform's redemptions; another platform's is NOT_FOUND.
func GetRedemption(ctx context.Context, q Querier, platformID string, id uuid.UUID) (Redemption, error) {
	r, err := scanRedemption(q.QueryRow(ctx, `SELECT `+redemptionColumns+` FROM redemptions WHERE id = $1`, id))
	return ownRedemption(r, err, platformID, id)
}

// ownRedemption turns a redemption read by id alone into the platform's own
// or NOT_FOUND. The platform is not in the WHERE clause on purpose: with
// both columns there, the planner may pick an audit index led by
// platform_id (and walk all of the platform's history) over the primary
// key, which it did while the table's statistics were still those of an
// empty table.
func ownRedemption(r Redemption, err error, platformID string, id uuid.UUID) (Redemption, error) {
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && r.PlatformID != platformID) {
		return Redemption{}, redemptionNotFound(id)
	}
	return r, err
}

// LockRedemption reads and locks a platform's redemption.
func LockRedemption(ctx context.Context, tx pgx.Tx, platformID string, id uuid.UUID) (Redemption, error) {
	r, err := scanRedemption(tx.QueryRow(ctx, `SELECT `+redemptionColumns+` FROM redemptions WHERE id = $1 FOR UPDATE`, id))
	return ownRedemption(r, err, platformID, id)
}

const updateRedemption = `UPDATE redemptions SET status = $2, channel_txn_id = nullif($3, ''), paid_fen = $4,
	confirmed_at = $5, refunded_fen = $6, clawed_back_fen = $7, receipt = $8, updated_at = $9 WHERE id = $1`

// UpdateRedemption writes a redemption's mutable state.
func UpdateRedemption(ctx context.Context, q Querier, r Redemption) error {
	_, err := q.Exec(ctx, updateRedemption, r.ID, r.Status, r.ChannelTxnID, r.PaidFen, r.ConfirmedAt, r.RefundedFen, r.ClawedBackFen, r.Receipt, r.UpdatedAt)
	return err
}

// SerialSubsidised reports whether a serial number is held or subsidised (quotes only; reservations rely on the index).
func SerialSubsidised(ctx context.Context, q Querier, serial string) (bool, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM redemptions WHERE serial_number = $1 AND status IN ('reserved', 'confirmed')`, serial).Scan(&n)
	return n > 0, err
}

// ExpiredHolds lists reservations past their hold, oldest first.
func ExpiredHolds(ctx context.Context, q Querier, now time.Time, limit int) ([]Redemption, error) {
	rows, err := q.Query(ctx, `SELECT `+redemptionColumns+` FROM redemptions WHERE status = 'reserved' AND hold_expires_at <= $1
		ORDER BY hold_expires_at LIMIT $2`, now, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Redemption, error) { return scanRedemption(r) })
}

// OrderRefusal is why an order cannot count one more voucher: its number
// names another order (not same), or it carries max already.
func OrderRefusal(orderNo string, same bool, max int) error {
	if !same {
		return apperr.New(redemption.CodeOrderNoReused, "order_no %s was already used by this platform for another order", orderNo)
	}
	return apperr.New(redemption.CodeStackingNotAllowed, "the order already carries the most vouchers the campaign allows (%d)", max)
}

// OrderRef names a platform's order.
type OrderRef struct{ PlatformID, OrderNo string }

// OrderCount is a stored order: its fingerprint and how many vouchers are
// live on it.
type OrderCount struct {
	Fingerprint []byte
	Vouchers    int
}

// QueueLockOrders queues on b the reading and locking, in key order, of the
// orders among refs that exist: *byRef is filled in when the batch's results
// are read. Run under QueueIndexProbes.
func QueueLockOrders(b *pgx.Batch, refs []OrderRef, byRef *map[OrderRef]OrderCount) {
	platforms, orders := make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		platforms[i], orders[i] = r.PlatformID, r.OrderNo
	}
	b.Queue(`SELECT platform_id, order_no, fingerprint, vouchers FROM checkout_orders
		WHERE (platform_id, order_no) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		ORDER BY platform_id, order_no FOR UPDATE`, platforms, orders).Query(func(rows pgx.Rows) error {
		*byRef = make(map[OrderRef]OrderCount, len(refs))
		var ref OrderRef
		var c OrderCount
		_, err := pgx.ForEachRow(rows, []any{&ref.PlatformID, &ref.OrderNo, &c.Fingerprint, &c.Vouchers}, func() error {
			(*byRef)[ref] = OrderCount{Fingerprint: append([]byte(nil), c.Fingerprint...), Vouchers: c.Vouchers}
			return nil
		})
		return err
	})
}

// QueueCountOrders queues on b the storing of orders' counts, each the count
// the caller decided on: for an order QueueLockOrders found, locked since;
// for a new one, its fingerprint and first vouchers. A new order that a
// concurrent transaction stored meanwhile ends with another count, and the
// batch fails with a serialization failure: run again, it reads that order.
func QueueCountOrders(b *pgx.Batch, refs []OrderRef, counts []OrderCount, added []int) {
	n := len(refs)
	if n == 0 {
		return
	}
	platforms, orders, fingerprints, adds := make([]string, n), make([]string, n), make([][]byte, n), make([]int32, n)
	want := make(map[OrderRef]int, n)
	for i, r := range refs {
		platforms[i], orders[i], fingerprints[i], adds[i] = r.PlatformID, r.OrderNo, counts[i].Fingerprint, int32(added[i])
		want[r] = counts[i].Vouchers
	}
	b.Queue(`INSERT INTO checkout_orders AS o (platform_id, order_no, fingerprint, vouchers)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::int[])
		ON CONFLICT (platform_id, order_no) DO UPDATE SET vouchers = o.vouchers + excluded.vouchers
		RETURNING platform_id, order_no, vouchers`, platforms, orders, fingerprints, adds).Query(func(rows pgx.Rows) error {
		var ref OrderRef
		var count int
		_, err := pgx.ForEachRow(rows, []any{&ref.PlatformID, &ref.OrderNo, &count}, func() error {
			if count != want[ref] {
				return lostRace("order %s of platform %s was stored concurrently; retry the transaction", ref.OrderNo, ref.PlatformID)
			}
			return nil
		})
		return err
	})
}

// RemoveOrderVoucher counts one voucher off an order (cancel, expiry, full refund).
func RemoveOrderVoucher(ctx context.Context, q Querier, platformID, orderNo string) error {
	_, err := q.Exec(ctx, `UPDATE checkout_orders SET vouchers = vouchers - 1 WHERE platform_id = $1 AND order_no = $2 AND vouchers > 0`,
		platformID, orderNo)
	return err
}

// LockVoucher reads and locks a voucher by id.
func LockVoucher(ctx context.Context, tx pgx.Tx, id uuid.UUID) (voucher.Voucher, error) {
	return scanVoucher(tx.QueryRow(ctx, `SELECT `+voucherColumns+` FROM vouchers WHERE id = $1 FOR UPDATE`, id))
}

// VouchersByCode reads vouchers by code (quotes).
func VouchersByCode(ctx context.Context, q Querier, codes []string) ([]voucher.Voucher, error) {
	rows, err := q.Query(ctx, `SELECT `+voucherColumns+` FROM vouchers WHERE code = ANY($1)`, codes)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (voucher.Voucher, error) { return scanVoucher(r) })
}

const setVoucherStatus = `UPDATE vouchers SET status = $2, updated_at = $3 WHERE id = $1`

// SetVoucherStatus moves a voucher to status.
func SetVoucherStatus(ctx context.Context, q Querier, id uuid.UUID, status voucher.Status, at time.Time) error {
	_, err := q.Exec(ctx, setVoucherStatus, id, status, at)
	return err
}

// Refund is one refund of a confirmed redemption.
type Refund struct {
	ID           uuid.UUID
	RedemptionID uuid.UUID
	RefundNo     string
	RefundFen    int64
	ClawbackFen  int64
	CreatedAt    time.Time
}

// FindRefund reads a redemption's refund by its number.
func FindRefund(ctx context.Context, q Querier, redemptionID uuid.UUID, refundNo string) (Refund, bool, error) {
	var r Refund
	err := q.QueryRow(ctx, `SELECT id, redemption_id, refund_no, refund_fen, clawback_fen, created_at FROM refunds
		WHERE redemption_id = $1 AND refund_no = $2`, redemptionID, refundNo).
		Scan(&r.ID, &r.RedemptionID, &r.RefundNo, &r.RefundFen, &r.ClawbackFen, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// InsertRefund stores a refund.
func InsertRefund(ctx context.Context, q Querier, r Refund) error {
	_, err := q.Exec(ctx, `INSERT INTO refunds (id, redemption_id, refund_no, refund_fen, clawback_fen, created_at)
		VALUES ($1,$2,$3,$4,$5,$6)`, r.ID, r.RedemptionID, r.RefundNo, r.RefundFen, r.ClawbackFen, r.CreatedAt)
	return err
}

// QueueLockRedemptions queues on b the reading and locking of redemptions
// by id, in id order, so batches locking overlapping sets cannot deadlock:
// *byID is filled in when the batch's results are read. Ids not found are
// absent from it; RedemptionOf picks a platform's own.
//
// Statements over an array of ids must not run on a generic plan made with
// the planner's defaults: made while the table's statistics were still those
// of an empty table, it scans the whole table for every batch. A
// transaction that queues them runs under QueueIndexProbes.
func QueueLockRedemptions(b *pgx.Batch, ids []uuid.UUID, byID *map[uuid.UUID]Redemption) {
	b.Queue(lockRedemptions, ids).Query(func(rows pgx.Rows) error {
		var err error
		*byID, err = collectRedemptions(rows, len(ids))
		return err
	})
}

const lockRedemptions = `SELECT ` + redemptionColumns + ` FROM redemptions WHERE id = ANY($1) ORDER BY id FOR UPDATE`

func collectRedemptions(rows pgx.Rows, n int) (map[uuid.UUID]Redemption, error) {
	rs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Redemption, error) { return scanRedemption(r) })
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]Redemption, n)
	for _, r := range rs {
		byID[r.ID] = r
	}
	return byID, nil
}

// RedemptionOf is the platform's redemption id out of those
// QueueLockRedemptions read, or NOT_FOUND.
func RedemptionOf(byID map[uuid.UUID]Redemption, platformID string, id uuid.UUID) (Redemption, error) {
	r, ok := byID[id]
	if !ok {
		return ownRedemption(r, pgx.ErrNoRows, platformID, id)
	}
	return ownRedemption(r, nil, platformID, id)
}

// QueueConfirmRedemptions queues on b the confirmation of many redemptions
// in one statement: status, channel transaction, paid amount, time and
// receipt.
func QueueConfirmRedemptions(b *pgx.Batch, rs []Redemption) {
	n := len(rs)
	if n == 0 {
		return
	}
	ids, statuses, txns := make([]uuid.UUID, n), make([]string, n), make([]string, n)
	paid, at, receipts := make([]*int64, n), make([]*time.Time, n), make([]*string, n)
	updated := make([]time.Time, n)
	for i, r := range rs {
		ids[i], statuses[i], txns[i], paid[i], at[i], updated[i] = r.ID, r.Status, r.ChannelTxnID, r.PaidFen, r.ConfirmedAt, r.UpdatedAt
		if r.Receipt != nil {
			receipt := string(r.Receipt)
			receipts[i] = &receipt
		}
	}
	b.Queue(`UPDATE redemptions r SET status = t.status, channel_txn_id = nullif(t.txn, ''),
		paid_fen = t.paid, confirmed_at = t.at, receipt = t.receipt::jsonb, updated_at = t.updated
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[], $6::text[], $7::timestamptz[])
			AS t(id, status, txn, paid, at, receipt, updated)
		WHERE r.id = t.id`, ids, statuses, txns, paid, at, receipts, updated).Exec(func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() != int64(n) {
			return fmt.Errorf("confirm %d redemptions: %d rows updated", n, tag.RowsAffected())
		}
		return nil
	})
}

// QueueSetVouchersStatus queues on b the move of many vouchers to status.
func QueueSetVouchersStatus(b *pgx.Batch, ids []uuid.UUID, status voucher.Status, at time.Time) {
	if len(ids) > 0 {
		b.Queue(`UPDATE vouchers SET status = $2, updated_at = $3 WHERE id = ANY($1)`, ids, status, at)
	}
}

// QueueLockVouchersByCode queues on b the reading and locking of vouchers by
// code, in id order: *byCode is filled in when the batch's results are read,
// without the codes no voucher has. Run under QueueIndexProbes.
func QueueLockVouchersByCode(b *pgx.Batch, codes []string, byCode *map[string]voucher.Voucher) {
	b.Queue(`SELECT `+voucherColumns+` FROM vouchers WHERE code = ANY($1) ORDER BY id FOR UPDATE`, codes).
		Query(func(rows pgx.Rows) error {
			vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (voucher.Voucher, error) { return scanVoucher(r) })
			if err != nil {
				return err
			}
			*byCode = make(map[string]voucher.Voucher, len(vs))
			for _, v := range vs {
				(*byCode)[v.Code] = v
			}
			return nil
		})
}

// QueueCampaignsOfVouchers queues on b the read of the campaigns of the
// vouchers with codes (queue it after their lock: a voucher never changes
// campaign). Run under QueueIndexProbes.
func QueueCampaignsOfVouchers(b *pgx.Batch, codes []string, byID *map[uuid.UUID]campaign.Campaign) {
	b.Queue(`SELECT `+campaignColumns+` FROM campaigns WHERE id IN (SELECT campaign_id FROM vouchers WHERE code = ANY($1))`, codes).
		Query(func(rows pgx.Rows) error {
			cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.Campaign, error) { return scanCampaign(r) })
			if err != nil {
				return err
			}
			*byID = make(map[uuid.UUID]campaign.Campaign, len(cs))
			for _, c := range cs {
				(*byID)[c.ID] = c
			}
			return nil
		})
}

// MerchantRef names one platform's merchant.
type MerchantRef struct{ PlatformID, MerchantID string }

// QueueMerchantsForCheckout is MerchantForCheckout for many merchants,
// queued on b: *byRef is filled in without the ones that do not exist.
func QueueMerchantsForCheckout(b *pgx.Batch, refs []MerchantRef, byRef *map[MerchantRef]registry.Merchant) {
	platforms, merchants := make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		platforms[i], merchants[i] = r.PlatformID, r.MerchantID
	}
	b.Queue(`SELECT `+merchantColumns+` FROM merchants
		WHERE (platform_id, merchant_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, platforms, merchants).
		Query(func(rows pgx.Rows) error {
			ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (registry.Merchant, error) { return scanMerchant(r) })
			if err != nil {
				return fmt.Errorf("read %d merchants: %w", len(refs), err)
			}
			*byRef = make(map[MerchantRef]registry.Merchant, len(ms))
			for _, m := range ms {
				(*byRef)[MerchantRef{m.PlatformID, m.MerchantID}] = m
			}
			return nil
		})
}

// QueueInsertRedemptions queues on b the insert of new reservations in one
// statement. A unique index the insert meets fails the whole statement: for
// one reservation that is its refusal (a serial number held or subsidised
// elsewhere, a voucher held by another checkout); for several, each of which
// the caller found its voucher locked and active for, it can only be a race
// lost, and the transaction is run again.
func QueueInsertRedemptions(b *pgx.Batch, rs []Redemption) {
	n := len(rs)
	if n == 0 {
		return
	}
	ids, vouchers, campaigns := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
	platforms, orders, codes, kinds, merchants, channels, statuses := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	serials, categories := make([]*string, n), make([]*string, n)
	holders := make([][]byte, n)
	amounts, discounts, minSpends := make([]int64, n), make([]int64, n), make([]int64, n)
	holds, created := make([]time.Time, n), make([]time.Time, n)
	for i, r := range rs {
		ids[i], vouchers[i], campaigns[i] = r.ID, r.VoucherID, r.CampaignID
		platforms[i], orders[i], codes[i], kinds[i], merchants[i], channels[i], statuses[i] =
			r.PlatformID, r.OrderNo, r.VoucherCode, r.Kind, r.MerchantID, r.Channel, r.Status
		serials[i], categories[i] = nullable(r.SerialNumber), nullable(r.Category)
		holders[i] = append([]byte(nil), r.Holder[:]...)
		amounts[i], discounts[i], minSpends[i] = r.AmountFen, r.DiscountFen, r.MinSpendFen
		holds[i], created[i] = r.HoldExpiresAt, r.CreatedAt
	}
	b.Queue(`INSERT INTO redemptions (id, platform_id, order_no, voucher_id, voucher_code, campaign_id, kind,
		holder_hash, merchant_id, amount_fen, discount_fen, min_spend_fen, payment_channel, status, serial_number, category,
		hold_expires_at, created_at, updated_at)
		SELECT id, platform_id, order_no, voucher_id, voucher_code, campaign_id, kind, holder_hash, merchant_id, amount_fen,
			discount_fen, min_spend_fen, payment_channel, status, serial_number, category, hold_expires_at, created_at, created_at
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::uuid[], $7::text[], $8::bytea[], $9::text[],
			$10::bigint[], $11::bigint[], $12::bigint[], $13::text[], $14::text[], $15::text[], $16::text[], $17::timestamptz[],
			$18::timestamptz[])
		AS t(id, platform_id, order_no, voucher_id, voucher_code, campaign_id, kind, holder_hash, merchant_id, amount_fen,
			discount_fen, min_spend_fen, payment_channel, status, serial_number, category, hold_expires_at, created_at)`,
		ids, platforms, orders, vouchers, codes, campaigns, kinds, holders, merchants, amounts, discounts, minSpends,
		channels, statuses, serials, categories, holds, created).Fn = func(br pgx.BatchResults) error {
		_, err := br.Exec()
		switch {
		case err == nil:
			return nil
		case n > 1 && (IsUniqueViolation(err, "redemptions_serial") || IsUniqueViolation(err, "redemptions_live_voucher")):
			return lostRace("a voucher or serial number of %d reservations was taken concurrently; retry the transaction", n)
		case IsUniqueViolation(err, "redemptions_serial"):
			return apperr.New(redemption.CodeSerialAlreadyUsed, "this serial number / IMEI is already subsidised")
		case IsUniqueViolation(err, "redemptions_live_voucher"):
			return apperr.New(redemption.CodeVoucherNotActive, "the voucher is already held by another checkout")
		}
		return err
	}
}
