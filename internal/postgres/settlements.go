package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/settlement"
)

// Settlement storage (migration 00012). Statements of one platform are
// issued under a lock on its platform row, so two runs of the settlement job
// never gather the same items; the items' primary key is the last word.

// SettlementPlatforms lists every platform id.
func SettlementPlatforms(ctx context.Context, q Querier) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT id FROM platforms ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// LockPlatformSettlement serialises statement issuing for one platform. NO
// KEY UPDATE does not block merchants' foreign-key checks on the row.
func LockPlatformSettlement(ctx context.Context, tx pgx.Tx, platformID string) error {
	err := tx.QueryRow(ctx, `SELECT 1 FROM platforms WHERE id = $1 FOR NO KEY UPDATE`, platformID).Scan(new(int))
	if errors.Is(err, pgx.ErrNoRows) {
		return platformNotFound(platformID)
	}
	return err
}

// LastStatementDate is the business date of a platform's latest statement,
// nil if it has none.
func LastStatementDate(ctx context.Context, q Querier, platformID string) (*time.Time, error) {
	var d *time.Time
	err := q.QueryRow(ctx, `SELECT max(business_date) FROM settlement_statements WHERE platform_id = $1`, platformID).Scan(&d)
	return d, err
}

// PendingSettlementItems reads a platform's movements not yet stated whose
// local day (campaign zone) had ended at now, looking no further back than
// since (nil: the whole history). A refund is an adjustment when its
// redemption's confirm is already in a statement.
func PendingSettlementItems(ctx context.Context, q Querier, platformID string, now time.Time, since *time.Time) ([]settlement.Item, error) {
	rows, err := q.Query(ctx, `
		SELECT 'confirm', r.id, r.id, r.campaign_id, r.merchant_id,
			(r.confirmed_at AT TIME ZONE c.time_zone)::date, ($2::timestamptz AT TIME ZONE c.time_zone)::date - 1,
			r.discount_fen, coalesce(r.paid_fen, 0), 0::bigint, false
		FROM redemptions r JOIN campaigns c ON c.id = r.campaign_id
		WHERE r.platform_id = $1 AND r.confirmed_at IS NOT NULL AND r.confirmed_at < $2
			AND ($3::timestamptz IS NULL OR r.confirmed_at >= $3)
			AND (r.confirmed_at AT TIME ZONE c.time_zone)::date < ($2::timestamptz AT TIME ZONE c.time_zone)::date
			AND NOT EXISTS (SELECT FROM settlement_items i WHERE i.kind = 'confirm' AND i.source_id = r.id)
		UNION ALL
		SELECT 'refund', f.id, r.id, r.campaign_id, r.merchant_id,
			(f.created_at AT TIME ZONE c.time_zone)::date, ($2::timestamptz AT TIME ZONE c.time_zone)::date - 1,
			-f.clawback_fen, 0::bigint, f.refund_fen,
			EXISTS (SELECT FROM settlement_items i WHERE i.kind = 'confirm' AND i.source_id = r.id)
		FROM refunds f JOIN redemptions r ON r.id = f.redemption_id JOIN campaigns c ON c.id = r.campaign_id
		WHERE r.platform_id = $1 AND f.created_at < $2 AND ($3::timestamptz IS NULL OR f.created_at >= $3)
			AND (f.created_at AT TIME ZONE c.time_zone)::date < ($2::timestamptz AT TIME ZONE c.time_zone)::date
			AND NOT EXISTS (SELECT FROM settlement_items i WHERE i.kind = 'refund' AND i.source_id = f.id)`,
		platformID, now, since)
	if err != nil {
		return nil, fmt.Errorf("pending settlement items of %s: %w", platformID, err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (settlement.Item, error) {
		var it settlement.Item
		err := row.Scan(&it.Kind, &it.SourceID, &it.RedemptionID, &it.CampaignID, &it.MerchantID, &it.LocalDate,
			&it.LastEnded, &it.AmountFen, &it.PaidFen, &it.RefundedFen, &it.Adjustment)
		return it, err
	})
}

// InsertStatement stores an issued statement with its lines and items.
func InsertStatement(ctx context.Context, tx pgx.Tx, s settlement.Statement, items []settlement.Item) error {
	t := s.Totals
	_, err := tx.Exec(ctx, `INSERT INTO settlement_statements (id, platform_id, business_date, currency, status,
		confirmed_count, discount_fen, paid_fen, refund_count, refunded_fen, clawback_fen, adjustment_count, adjustment_fen,
		net_fen, issued_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)`,
		s.ID, s.PlatformID, s.BusinessDate, s.Currency, s.Status, t.ConfirmedCount, t.DiscountFen, t.PaidFen,
		t.RefundCount, t.RefundedFen, t.ClawbackFen, t.AdjustmentCount, t.AdjustmentFen, t.NetFen, s.IssuedAt)
	if IsUniqueViolation(err, "settlement_statements_platform_id_business_date_key") {
		return apperr.New(apperr.CodeConflict, "platform %s already has a statement for %s", s.PlatformID, s.BusinessDate.Format(time.DateOnly))
	}
	if err != nil {
		return fmt.Errorf("insert statement: %w", err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"settlement_lines"}, []string{"statement_id", "campaign_id", "merchant_id",
		"confirmed_count", "discount_fen", "paid_fen", "refund_count", "refunded_fen", "clawback_fen", "adjustment_count",
		"adjustment_fen", "net_fen"}, pgx.CopyFromSlice(len(s.Lines), func(i int) ([]any, error) {
		l := s.Lines[i]
		return []any{s.ID, l.CampaignID, l.MerchantID, l.ConfirmedCount, l.DiscountFen, l.PaidFen, l.RefundCount,
			l.RefundedFen, l.ClawbackFen, l.AdjustmentCount, l.AdjustmentFen, l.NetFen}, nil
	}))
	if err != nil {
		return fmt.Errorf("insert statement lines: %w", err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"settlement_items"}, []string{"kind", "source_id", "statement_id",
		"redemption_id", "campaign_id", "merchant_id", "local_date", "amount_fen", "paid_fen", "refunded_fen", "adjustment"},
		pgx.CopyFromSlice(len(items), func(i int) ([]any, error) {
			it := items[i]
			return []any{string(it.Kind), it.SourceID, s.ID, it.RedemptionID, it.CampaignID, it.MerchantID, it.LocalDate,
				it.AmountFen, it.PaidFen, it.RefundedFen, it.Adjustment}, nil
		}))
	if err != nil {
		return fmt.Errorf("insert statement items: %w", err)
	}
	return nil
}

const statementColumns = `id, platform_id, business_date, currency, status, confirmed_count, discount_fen, paid_fen,
	refund_count, refunded_fen, clawback_fen, adjustment_count, adjustment_fen, net_fen, issued_at, paid_at,
	coalesce(paid_by, ''), coalesce(payment_reference, '')`

func scanStatement(row pgx.Row) (settlement.Statement, error) {
	var s settlement.Statement
	t := &s.Totals
	err := row.Scan(&s.ID, &s.PlatformID, &s.BusinessDate, &s.Currency, &s.Status, &t.ConfirmedCount, &t.DiscountFen,
		&t.PaidFen, &t.RefundCount, &t.RefundedFen, &t.ClawbackFen, &t.AdjustmentCount, &t.AdjustmentFen, &t.NetFen,
		&s.IssuedAt, &s.PaidAt, &s.PaidBy, &s.PaymentReference)
	return s, err
}

func statementNotFound(id uuid.UUID) error {
	return apperr.New(apperr.CodeNotFound, "no settlement statement %s", id)
}

// StatementFilter selects statements. Zero fields do not filter; From and To
// are inclusive business dates.
type StatementFilter struct {
	PlatformID string
	Status     string
	From, To   *time.Time
}

// ListStatements pages through statements by business date, then id.
func ListStatements(ctx context.Context, q Querier, f StatementFilter, cursor string, limit int) ([]settlement.Statement, string, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.PlatformID != "" {
		where = append(where, "platform_id = "+arg(f.PlatformID))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.From != nil {
		where = append(where, "business_date >= "+arg(*f.From))
	}
	if f.To != nil {
		where = append(where, "business_date <= "+arg(*f.To))
	}
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, fmt.Sprintf("(business_date, id) > (%s::date, %s)", arg(at), arg(id)))
	}
	sql := `SELECT ` + statementColumns + ` FROM settlement_statements`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY business_date, id"
	if limit > 0 {
		sql += " LIMIT " + arg(limit+1)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (settlement.Statement, error) { return scanStatement(row) })
	if err != nil {
		return nil, "", err
	}
	next := ""
	if limit > 0 && len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = encodeCursor(last.BusinessDate, last.ID)
	}
	return out, next, nil
}

// GetStatement reads a statement with its lines. A non-empty platformID
// restricts it to that platform's own: another's is NOT_FOUND.
func GetStatement(ctx context.Context, q Querier, id uuid.UUID, platformID string) (settlement.Statement, error) {
	s, err := scanStatement(q.QueryRow(ctx, `SELECT `+statementColumns+` FROM settlement_statements
		WHERE id = $1 AND ($2 = '' OR platform_id = $2)`, id, platformID))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, statementNotFound(id)
	}
	if err != nil {
		return s, err
	}
	lines, err := StatementLines(ctx, q, []uuid.UUID{id})
	s.Lines = lines[id]
	return s, err
}

// LockStatement reads and locks a statement (without its lines).
func LockStatement(ctx context.Context, tx pgx.Tx, id uuid.UUID) (settlement.Statement, error) {
	s, err := scanStatement(tx.QueryRow(ctx, `SELECT `+statementColumns+` FROM settlement_statements WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, statementNotFound(id)
	}
	return s, err
}

// StatementLines reads the lines of statements, by statement.
func StatementLines(ctx context.Context, q Querier, ids []uuid.UUID) (map[uuid.UUID][]settlement.Line, error) {
	rows, err := q.Query(ctx, `SELECT statement_id, campaign_id, merchant_id, confirmed_count, discount_fen, paid_fen,
		refund_count, refunded_fen, clawback_fen, adjustment_count, adjustment_fen, net_fen
		FROM settlement_lines WHERE statement_id = ANY($1) ORDER BY statement_id, campaign_id, merchant_id`, ids)
	if err != nil {
		return nil, err
	}
	out := map[uuid.UUID][]settlement.Line{}
	var id uuid.UUID
	var l settlement.Line
	_, err = pgx.ForEachRow(rows, []any{&id, &l.CampaignID, &l.MerchantID, &l.ConfirmedCount, &l.DiscountFen, &l.PaidFen,
		&l.RefundCount, &l.RefundedFen, &l.ClawbackFen, &l.AdjustmentCount, &l.AdjustmentFen, &l.NetFen}, func() error {
		out[id] = append(out[id], l)
		return nil
	})
	return out, err
}

// Share is a redemption's part in paying a statement.
type Share struct {
	RedemptionID  uuid.UUID
	CampaignID    uuid.UUID
	DiscountFen   int64
	ClawedBackFen int64
	SettledFen    int64
}

// LockStatementShares reads and locks, in id order, every redemption with an
// item in a statement, with what of it was settled so far. Refunds lock the
// redemption too, so a share cannot change while the statement is paid.
func LockStatementShares(ctx context.Context, tx pgx.Tx, statementID uuid.UUID) ([]Share, error) {
	rows, err := tx.Query(ctx, `SELECT r.id, r.campaign_id, r.discount_fen, r.clawed_back_fen, coalesce(s.settled_fen, 0)
		FROM redemptions r LEFT JOIN redemption_settlements s ON s.redemption_id = r.id
		WHERE r.id IN (SELECT redemption_id FROM settlement_items WHERE statement_id = $1)
		ORDER BY r.id FOR UPDATE OF r`, statementID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Share, error) {
		var s Share
		err := row.Scan(&s.RedemptionID, &s.CampaignID, &s.DiscountFen, &s.ClawedBackFen, &s.SettledFen)
		return s, err
	})
}

// AddSettled records that amounts of redemptions' discounts moved to settled.
func AddSettled(ctx context.Context, q Querier, redemptionIDs []uuid.UUID, amounts []int64) error {
	_, err := q.Exec(ctx, `INSERT INTO redemption_settlements AS s (redemption_id, settled_fen)
		SELECT * FROM unnest($1::uuid[], $2::bigint[])
		ON CONFLICT (redemption_id) DO UPDATE SET settled_fen = s.settled_fen + excluded.settled_fen`, redemptionIDs, amounts)
	return err
}

// SettledFen is how much of a redemption's discount has moved to settled.
// Read it with the redemption locked.
func SettledFen(ctx context.Context, q Querier, redemptionID uuid.UUID) (int64, error) {
	var fen int64
	err := q.QueryRow(ctx, `SELECT coalesce((SELECT settled_fen FROM redemption_settlements WHERE redemption_id = $1), 0)`,
		redemptionID).Scan(&fen)
	return fen, err
}

// MarkStatementPaid records the payment of an issued statement.
func MarkStatementPaid(ctx context.Context, q Querier, id uuid.UUID, at time.Time, by, reference string) error {
	_, err := q.Exec(ctx, `UPDATE settlement_statements SET status = 'paid', paid_at = $2, paid_by = $3, payment_reference = $4
		WHERE id = $1`, id, at, by, reference)
	return err
}
