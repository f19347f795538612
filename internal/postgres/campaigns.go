package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
)

const campaignColumns = `id, kind, name, authority, currency, time_zone, starts_at, ends_at, budget_fen,
	hold_minutes, rules, status, version, created_by, coalesce(submitted_by, ''), coalesce(approved_by, ''),
	created_at, updated_at`

func scanCampaign(row pgx.Row) (campaign.Campaign, error) {
	var c campaign.Campaign
	var rules []byte
	err := row.Scan(&c.ID, &c.Kind, &c.Name, &c.Authority, &c.Currency, &c.TimeZone, &c.StartsAt, &c.EndsAt,
		&c.BudgetFen, &c.HoldMinutes, &rules, &c.Status, &c.Version, &c.CreatedBy, &c.SubmittedBy, &c.ApprovedBy,
		&c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(rules, &c.Rules); err != nil {
		return c, fmt.Errorf("campaign %s: stored rules do not decode: %w", c.ID, err)
	}
	return c, nil
}

func campaignNotFound(id uuid.UUID) error {
	return apperr.New(apperr.CodeNotFound, "no campaign %s", id)
}

// InsertCampaign stores a new campaign.
func InsertCampaign(ctx context.Context, q Querier, c campaign.Campaign) error {
	rules, err := json.Marshal(c.Rules)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO campaigns (id, kind, name, authority, currency, time_zone, starts_at, ends_at,
		budget_fen, hold_minutes, rules, status, version, created_by, submitted_by, approved_by, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,nullif($15,''),nullif($16,''),$17,$18)`,
		c.ID, c.Kind, c.Name, c.Authority, c.Currency, c.TimeZone, c.StartsAt, c.EndsAt, c.BudgetFen,
		c.HoldMinutes, rules, c.Status, c.Version, c.CreatedBy, c.SubmittedBy, c.ApprovedBy, c.CreatedAt, c.UpdatedAt)
	return err
}

// GetCampaign reads one campaign.
func GetCampaign(ctx context.Context, q Querier, id uuid.UUID) (campaign.Campaign, error) {
	c, err := scanCampaign(q.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, campaignNotFound(id)
	}
	return c, err
}

// LockCampaign reads a campaign and locks its row for the transaction. Lock
// order: a campaign before anything that belongs to it.
func LockCampaign(ctx context.Context, tx pgx.Tx, id uuid.UUID) (campaign.Campaign, error) {
	c, err := scanCampaign(tx.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, campaignNotFound(id)
	}
	return c, err
}

// UpdateCampaign writes every mutable field of c.
func UpdateCampaign(ctx context.Context, q Querier, c campaign.Campaign) error {
	rules, err := json.Marshal(c.Rules)
	if err != nil {
		return err
	}
	tag, err := q.Exec(ctx, `UPDATE campaigns SET name=$2, authority=$3, time_zone=$4, starts_at=$5, ends_at=$6,
		budget_fen=$7, hold_minutes=$8, rules=$9, status=$10, version=$11, submitted_by=nullif($12,''),
		approved_by=nullif($13,''), updated_at=$14 WHERE id=$1`,
		c.ID, c.Name, c.Authority, c.TimeZone, c.StartsAt, c.EndsAt, c.BudgetFen, c.HoldMinutes, rules,
		c.Status, c.Version, c.SubmittedBy, c.ApprovedBy, c.UpdatedAt)
	if err == nil && tag.RowsAffected() == 0 {
		return campaignNotFound(c.ID)
	}
	return err
}

// CampaignFilter selects campaigns for a list.
type CampaignFilter struct {
	Status   campaign.Status
	Kind     campaign.Kind
	Statuses []campaign.Status // any of (for platforms: the live states)
	Platform string            // only campaigns whose platform allow-list admits it
	Cursor   string
	Limit    int
}

// ListCampaigns pages through campaigns, newest first, by keyset on
// (created_at, id) so pages stay stable while campaigns are added.
func ListCampaigns(ctx context.Context, q Querier, f CampaignFilter) ([]campaign.Campaign, string, error) {
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.Kind != "" {
		where = append(where, "kind = "+arg(f.Kind))
	}
	if len(f.Statuses) > 0 {
		s := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			s[i] = string(st)
		}
		where = append(where, "status = ANY("+arg(s)+")")
	}
	if f.Platform != "" {
		p := arg(f.Platform)
		where = append(where, fmt.Sprintf(`(coalesce(jsonb_array_length(rules->'eligibility'->'platforms'), 0) = 0
			OR rules->'eligibility'->'platforms' ? %s)`, p))
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, fmt.Sprintf("(created_at, id) < (%s, %s)", arg(at), arg(id)))
	}
	sql := `SELECT ` + campaignColumns + ` FROM campaigns`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY created_at DESC, id DESC LIMIT " + arg(f.Limit+1)
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []campaign.Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, next, nil
}

func encodeCursor(at time.Time, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id.String()))
}

func decodeCursor(s string) (time.Time, uuid.UUID, error) {
	bad := apperr.Invalid(apperr.FieldError{Field: "cursor", Reason: "is not a cursor this API returned"})
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, uuid.Nil, bad
	}
	at, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return time.Time{}, uuid.Nil, bad
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return time.Time{}, uuid.Nil, bad
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return time.Time{}, uuid.Nil, bad
	}
	return t, u, nil
}

// DueCampaigns lists campaigns whose lifecycle the clock has overtaken:
// approved ones past their start, live ones past their end.
func DueCampaigns(ctx context.Context, q Querier, now time.Time) ([]uuid.UUID, error) {
	rows, err := q.Query(ctx, `SELECT id FROM campaigns
		WHERE (status = 'approved' AND starts_at <= $1) OR (status IN ('approved', 'active', 'paused') AND ends_at <= $1)
		ORDER BY id`, now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}
