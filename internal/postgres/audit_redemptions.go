package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/holder"
)

// AuditRedemptionFilter selects redemptions for the audit history. Zero
// fields do not filter; From is inclusive and To exclusive on created_at.
type AuditRedemptionFilter struct {
	CampaignID     *uuid.UUID
	PlatformID     string
	MerchantID     string
	MerchantRegion string // a 2, 4 or 6-digit region code prefix
	Category       string // the trade-in category of the redemption
	PaymentChannel string
	Status         string
	Holder         *holder.Hash
	From, To       *time.Time
}

// AuditRedemption is one redemption as auditors see it, with its merchant's
// region and category (empty if the merchant is no longer registered).
type AuditRedemption struct {
	ID               uuid.UUID
	PlatformID       string
	OrderNo          string
	VoucherCode      string
	CampaignID       uuid.UUID
	Kind             string
	Holder           holder.Hash
	MerchantID       string
	MerchantRegion   string
	MerchantCategory string
	Category         string
	AmountFen        int64
	DiscountFen      int64
	PaidFen          *int64
	Channel          string
	ChannelTxnID     string
	Status           string
	RefundedFen      int64
	ClawedBackFen    int64
	CreatedAt        time.Time
	ConfirmedAt      *time.Time
}

// AuditRedemptionTotals sums a whole filter, not just one page.
type AuditRedemptionTotals struct {
	Count       int64
	DiscountFen int64
	PaidFen     int64 // unpaid (reserved, cancelled, expired) rows count as 0
}

const auditRedemptionColumns = `r.id, r.platform_id, r.order_no, r.voucher_code, r.campaign_id, r.kind, r.holder_hash,
	r.merchant_id, coalesce(trim(m.region), ''), coalesce(m.category, ''), coalesce(r.category, ''), r.amount_fen,
	r.discount_fen, r.paid_fen, r.payment_channel, coalesce(r.channel_txn_id, ''), r.status, r.refunded_fen,
	r.clawed_back_fen, r.created_at, r.confirmed_at`

// The merchant join is LEFT so a redemption never disappears from the record
// because its merchant row changed; a region filter then requires a match.
const auditRedemptionFrom = ` FROM redemptions r
	LEFT JOIN merchants m ON m.platform_id = r.platform_id AND m.merchant_id = r.merchant_id`

func scanAuditRedemption(row pgx.Row) (AuditRedemption, error) {
	var r AuditRedemption
	var h []byte
	err := row.Scan(&r.ID, &r.PlatformID, &r.OrderNo, &r.VoucherCode, &r.CampaignID, &r.Kind, &h, &r.MerchantID,
		&r.MerchantRegion, &r.MerchantCategory, &r.Category, &r.AmountFen, &r.DiscountFen, &r.PaidFen, &r.Channel,
		&r.ChannelTxnID, &r.Status, &r.RefundedFen, &r.ClawedBackFen, &r.CreatedAt, &r.ConfirmedAt)
	copy(r.Holder[:], h)
	return r, err
}

// where renders f as SQL conditions, appending its arguments to args.
func (f AuditRedemptionFilter) where(args *[]any) []string {
	arg := func(v any) string { *args = append(*args, v); return fmt.Sprintf("$%d", len(*args)) }
	var w []string
	if f.CampaignID != nil {
		w = append(w, "r.campaign_id = "+arg(*f.CampaignID))
	}
	if f.PlatformID != "" {
		w = append(w, "r.platform_id = "+arg(f.PlatformID))
	}
	if f.MerchantID != "" {
		w = append(w, "r.merchant_id = "+arg(f.MerchantID))
	}
	if f.MerchantRegion != "" {
		// A prefix of digits only (the contract's pattern), so no LIKE escaping.
		w = append(w, "m.region LIKE "+arg(f.MerchantRegion+"%"))
	}
	if f.Category != "" {
		w = append(w, "r.category = "+arg(f.Category))
	}
	if f.PaymentChannel != "" {
		w = append(w, "r.payment_channel = "+arg(f.PaymentChannel))
	}
	if f.Status != "" {
		w = append(w, "r.status = "+arg(f.Status))
	}
	if f.Holder != nil {
		w = append(w, "r.holder_hash = "+arg(f.Holder[:]))
	}
	if f.From != nil {
		w = append(w, "r.created_at >= "+arg(*f.From))
	}
	if f.To != nil {
		w = append(w, "r.created_at < "+arg(*f.To))
	}
	return w
}

// customPlan makes a query be planned for its own arguments every time. A
// filter's selectivity swings with its values (one campaign holds 20% of the
// redemptions, another 0.1%; a region prefix may match a district or a
// province): a generic plan, which a cached prepared statement settles on
// after five runs, chose a per-merchant nested loop that took 17 s at 10
// million rows where the planned-for-its-values query took 2.5 s.
func customPlan(args []any) []any { return append([]any{pgx.QueryExecModeCacheDescribe}, args...) }

func auditWhere(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// ListAuditRedemptions pages through f oldest first, by keyset on
// (created_at, id): rows added while an auditor pages land after the cursor
// or before it, so no row is returned twice and none present is skipped.
func ListAuditRedemptions(ctx context.Context, q Querier, f AuditRedemptionFilter, cursor string, limit int) ([]AuditRedemption, string, error) {
	var args []any
	conds := f.where(&args)
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		args = append(args, at, id)
		conds = append(conds, fmt.Sprintf("(r.created_at, r.id) > ($%d, $%d)", len(args)-1, len(args)))
	}
	args = append(args, limit+1)
	sql := `SELECT ` + auditRedemptionColumns + auditRedemptionFrom + auditWhere(conds) +
		fmt.Sprintf(" ORDER BY r.created_at, r.id LIMIT $%d", len(args))
	rows, err := q.Query(ctx, sql, customPlan(args)...)
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditRedemption, error) { return scanAuditRedemption(row) })
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, next, nil
}

// SumAuditRedemptions totals the whole of f. It reads every matching entry,
// from an index carrying the amounts where the filter has one (migration
// 00013), so the cost grows with the rows matched: a filter matching
// millions takes seconds (BENCHMARKS.md).
func SumAuditRedemptions(ctx context.Context, q Querier, f AuditRedemptionFilter) (AuditRedemptionTotals, error) {
	var args []any
	conds := f.where(&args)
	from := " FROM redemptions r"
	if f.MerchantRegion != "" {
		from = auditRedemptionFrom
	}
	var t AuditRedemptionTotals
	err := q.QueryRow(ctx, `SELECT count(*), coalesce(sum(r.discount_fen), 0), coalesce(sum(r.paid_fen), 0)`+
		from+auditWhere(conds), customPlan(args)...).Scan(&t.Count, &t.DiscountFen, &t.PaidFen)
	return t, err
}

// exportFetchRows is how many rows an export fetches from its cursor at once.
const exportFetchRows = 1000

// EachAuditRedemption calls fn with every row of f, oldest first, fetched a
// batch at a time from a server-side cursor in one read-only transaction, so
// an export of any size is one snapshot and runs in constant memory.
//
// A cursor is planned for its first rows: in created_at order straight from
// an index, the first row out at once. Planned as a plain query, a broad
// export (1.4 million rows of 10 million) was a full scan and a sort that
// spilled 330 MB to disk before the first row, 9 s later. JIT compilation,
// which took 1–3.5 s of such an export, is off: the rows are simple.
func EachAuditRedemption(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, f AuditRedemptionFilter, fn func(AuditRedemption) error) error {
	var args []any
	conds := f.where(&args)
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SET TRANSACTION READ ONLY; SET LOCAL jit = off`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DECLARE audit_export NO SCROLL CURSOR FOR SELECT `+auditRedemptionColumns+
		auditRedemptionFrom+auditWhere(conds)+` ORDER BY r.created_at, r.id`, customPlan(args)...); err != nil {
		return err
	}
	fetch := fmt.Sprintf("FETCH %d FROM audit_export", exportFetchRows)
	for {
		rows, err := tx.Query(ctx, fetch)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			n++
			r, err := scanAuditRedemption(rows)
			if err == nil {
				err = fn(r)
			}
			if err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n < exportFetchRows {
			return nil
		}
	}
}
