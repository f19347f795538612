package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
)

// Round is one opening of a release schedule, with its live counts.
type Round struct {
	ID         uuid.UUID
	CampaignID uuid.UUID
	ReleaseID  string
	TierID     string
	OpensAt    time.Time
	ClosesAt   *time.Time
	Quantity   int64
	UnitFen    int64 // value allocated per voucher (the tier's discount)
	Status     string
	Remaining  int64
	Returned   int64
}

// Claimed is how many vouchers the round issued.
func (r Round) Claimed() int64 { return r.Quantity - r.Remaining - r.Returned }

// InsertRound stores a round and its stock spread over Buckets rows. A round
// already opened for the same release and time is left alone (created false),
// which makes opening rounds safe to repeat.
func InsertRound(ctx context.Context, tx pgx.Tx, r Round) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO rounds (id, campaign_id, release_id, tier_id, opens_at, closes_at, quantity, unit_fen, status)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'open') ON CONFLICT (campaign_id, release_id, opens_at) DO NOTHING`,
		r.ID, r.CampaignID, r.ReleaseID, r.TierID, r.OpensAt, r.ClosesAt, r.Quantity, r.UnitFen)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO round_stock (round_id, bucket, remaining)
		SELECT $1, b, $2 / $3 + CASE WHEN b < $2 % $3 THEN 1 ELSE 0 END FROM generate_series(0, $3 - 1) AS b`,
		r.ID, r.Quantity, int64(Buckets))
	return err == nil, err
}

// LastRoundOpening is when the release last opened a round (zero if never).
func LastRoundOpening(ctx context.Context, q Querier, campaignID uuid.UUID, releaseID string) (time.Time, error) {
	var t *time.Time
	err := q.QueryRow(ctx, `SELECT max(opens_at) FROM rounds WHERE campaign_id = $1 AND release_id = $2`, campaignID, releaseID).Scan(&t)
	if err != nil || t == nil {
		return time.Time{}, err
	}
	return *t, nil
}

const roundColumns = `r.id, r.campaign_id, r.release_id, r.tier_id, r.opens_at, r.closes_at, r.quantity, r.unit_fen, r.status,
	coalesce((SELECT sum(remaining) FROM round_stock s WHERE s.round_id = r.id), 0), r.returned`

func scanRound(row pgx.Row) (Round, error) {
	var r Round
	err := row.Scan(&r.ID, &r.CampaignID, &r.ReleaseID, &r.TierID, &r.OpensAt, &r.ClosesAt, &r.Quantity, &r.UnitFen,
		&r.Status, &r.Remaining, &r.Returned)
	return r, err
}

func collectRounds(rows pgx.Rows, err error) ([]Round, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Round, error) { return scanRound(r) })
}

// ListRounds lists a campaign's rounds, newest first.
func ListRounds(ctx context.Context, q Querier, campaignID uuid.UUID) ([]Round, error) {
	return collectRounds(q.Query(ctx, `SELECT `+roundColumns+` FROM rounds r WHERE r.campaign_id = $1 ORDER BY r.opens_at DESC, r.id`, campaignID))
}

// OpenRounds lists the rounds currently open, for the claim path's cache.
func OpenRounds(ctx context.Context, q Querier, now time.Time) ([]Round, error) {
	return collectRounds(q.Query(ctx, `SELECT `+roundColumns+` FROM rounds r
		WHERE r.status = 'open' AND r.opens_at <= $1 AND (r.closes_at IS NULL OR r.closes_at > $1)`, now))
}

// RoundsToClose lists open rounds past their closing time, superseded by a
// newer round of their release, or whose campaign is no longer live.
func RoundsToClose(ctx context.Context, q Querier, now time.Time) ([]uuid.UUID, error) {
	rows, err := q.Query(ctx, `SELECT r.id FROM rounds r JOIN campaigns c ON c.id = r.campaign_id
		WHERE r.status = 'open' AND (r.closes_at <= $1 OR c.status NOT IN ('active', 'paused')
			OR EXISTS (SELECT 1 FROM rounds n WHERE n.campaign_id = r.campaign_id AND n.release_id = r.release_id
				AND n.opens_at > r.opens_at))
		ORDER BY r.id`, now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// CloseRound closes an open round under its lock; its unclaimed stock, in
// r.Returned, goes back to the budget by the caller. Closing a closed round
// changes nothing (closed false).
func CloseRound(ctx context.Context, tx pgx.Tx, id uuid.UUID, at time.Time) (r Round, closed bool, err error) {
	r, err = scanRound(tx.QueryRow(ctx, `SELECT `+roundColumns+` FROM rounds r WHERE r.id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, apperr.New(apperr.CodeNotFound, "no round %s", id)
	}
	if err != nil || r.Status != "open" {
		return r, false, err
	}
	rows, err := tx.Query(ctx, `SELECT remaining FROM round_stock WHERE round_id = $1 ORDER BY bucket FOR UPDATE`, id)
	if err != nil {
		return r, false, err
	}
	counts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return r, false, err
	}
	var left int64
	for _, n := range counts {
		left += n
	}
	if _, err := tx.Exec(ctx, `UPDATE round_stock SET remaining = 0 WHERE round_id = $1 AND remaining > 0`, id); err != nil {
		return r, false, err
	}
	_, err = tx.Exec(ctx, `UPDATE rounds SET status = 'closed', closed_at = $2, returned = $3 WHERE id = $1`, id, at, left)
	r.Status, r.Returned, r.Remaining = "closed", left, 0
	return r, err == nil, err
}

// TakeStock takes up to want vouchers from a round's stock and reports how
// many it got and whether the round is now empty.
//
// Lock discipline (no deadlocks between batches): the fast path takes the
// whole amount from one bucket that has it, preferring `preferred`, skipping
// buckets other batches hold (SKIP LOCKED never waits, so it holds at most
// that one row). Only when no free bucket has enough does the slow path lock
// every bucket of the round in ascending order and take what there is.
func TakeStock(ctx context.Context, tx pgx.Tx, roundID uuid.UUID, want int64, preferred int) (got int64, empty bool, err error) {
	// The pick is a scalar subquery (an InitPlan, run once). Joined as a
	// FROM subquery, the statement was seen under concurrent claims to
	// decrement several buckets at once (one claim took three units of
	// stock); the row count is checked so that can never pass silently.
	tag, err := tx.Exec(ctx, `UPDATE round_stock SET remaining = remaining - $2
		WHERE round_id = $1 AND bucket = (SELECT bucket FROM round_stock WHERE round_id = $1 AND remaining >= $2
			ORDER BY (bucket - $3 + $4) % $4 LIMIT 1 FOR UPDATE SKIP LOCKED)`, roundID, want, preferred, Buckets)
	if err != nil {
		return 0, false, err
	}
	switch tag.RowsAffected() {
	case 1:
		return want, false, nil // other buckets may still hold stock
	case 0:
	default:
		return 0, false, fmt.Errorf("taking stock of round %s updated %d buckets", roundID, tag.RowsAffected())
	}
	rows, err := tx.Query(ctx, `SELECT bucket, remaining FROM round_stock WHERE round_id = $1 ORDER BY bucket FOR UPDATE`, roundID)
	if err != nil {
		return 0, false, err
	}
	type stock struct {
		Bucket    int16
		Remaining int64
	}
	all, err := pgx.CollectRows(rows, pgx.RowToStructByPos[stock])
	if err != nil {
		return 0, false, err
	}
	buckets, takes := make([]int16, 0, len(all)), make([]int64, 0, len(all))
	total := int64(0)
	for _, b := range all {
		total += b.Remaining
		if got == want || b.Remaining == 0 {
			continue
		}
		take := min(b.Remaining, want-got)
		got += take
		buckets, takes = append(buckets, b.Bucket), append(takes, take)
	}
	if len(buckets) > 0 {
		_, err = tx.Exec(ctx, `UPDATE round_stock s SET remaining = s.remaining - t.take
			FROM unnest($2::smallint[], $3::bigint[]) AS t(bucket, take)
			WHERE s.round_id = $1 AND s.bucket = t.bucket`, roundID, buckets, takes)
	}
	return got, total == got, err
}
