package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
)

const budgetChangeColumns = `id, campaign_id, delta_fen, reason, status, requested_by, coalesce(decided_by, ''),
	requested_at, decided_at`

func scanBudgetChange(row pgx.Row) (campaign.BudgetChange, error) {
	var b campaign.BudgetChange
	err := row.Scan(&b.ID, &b.CampaignID, &b.DeltaFen, &b.Reason, &b.Status, &b.RequestedBy, &b.DecidedBy,
		&b.RequestedAt, &b.DecidedAt)
	return b, err
}

// InsertBudgetChange stores a new budget change request.
func InsertBudgetChange(ctx context.Context, q Querier, b campaign.BudgetChange) error {
	_, err := q.Exec(ctx, `INSERT INTO budget_changes (id, campaign_id, delta_fen, reason, status, requested_by, requested_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7)`, b.ID, b.CampaignID, b.DeltaFen, b.Reason, b.Status, b.RequestedBy, b.RequestedAt)
	return err
}

// LockBudgetChange reads a budget change and locks it.
func LockBudgetChange(ctx context.Context, tx pgx.Tx, id uuid.UUID) (campaign.BudgetChange, error) {
	b, err := scanBudgetChange(tx.QueryRow(ctx, `SELECT `+budgetChangeColumns+` FROM budget_changes WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return b, apperr.New(apperr.CodeNotFound, "no budget change %s", id)
	}
	return b, err
}

// DecideBudgetChange records the decision on a budget change.
func DecideBudgetChange(ctx context.Context, q Querier, b campaign.BudgetChange) error {
	_, err := q.Exec(ctx, `UPDATE budget_changes SET status = $2, decided_by = $3, decided_at = $4 WHERE id = $1`,
		b.ID, b.Status, b.DecidedBy, b.DecidedAt)
	return err
}

// ListBudgetChanges returns a campaign's budget changes, newest first.
func ListBudgetChanges(ctx context.Context, q Querier, campaignID uuid.UUID) ([]campaign.BudgetChange, error) {
	rows, err := q.Query(ctx, `SELECT `+budgetChangeColumns+` FROM budget_changes WHERE campaign_id = $1
		ORDER BY requested_at DESC, id DESC`, campaignID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (campaign.BudgetChange, error) { return scanBudgetChange(r) })
}

// PendingBudgetDelta sums the changes awaiting a decision.
func PendingBudgetDelta(ctx context.Context, q Querier, campaignID uuid.UUID) (int64, error) {
	var sum int64
	err := q.QueryRow(ctx, `SELECT coalesce(sum(delta_fen), 0) FROM budget_changes
		WHERE campaign_id = $1 AND status = 'submitted'`, campaignID).Scan(&sum)
	return sum, err
}

// GetBudgetChange reads a budget change without locking it.
func GetBudgetChange(ctx context.Context, q Querier, id uuid.UUID) (campaign.BudgetChange, error) {
	b, err := scanBudgetChange(q.QueryRow(ctx, `SELECT `+budgetChangeColumns+` FROM budget_changes WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return b, apperr.New(apperr.CodeNotFound, "no budget change %s", id)
	}
	return b, err
}
