package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/lottery"
)

// The lottery's storage (migration 00008). Lock order: the campaign, then its
// lottery row, then registrations. A registration holds a key-share lock on
// the lottery row (ShareLottery, and its foreign key), the draw an update
// lock (LockLottery): the draw waits for registrations in flight, and a
// registration that waited for the draw sees it drawn.

const lotteryColumns = `campaign_id, algorithm, seed, committed_at, drawn_at, registrations, winners_wanted,
	winners, tickets_digest, budget_limited`

func scanLottery(row pgx.Row) (lottery.Lottery, error) {
	var l lottery.Lottery
	var drawnAt *time.Time
	var registrations, wanted, winners *int64
	var digest *string
	var limited *bool
	err := row.Scan(&l.CampaignID, &l.Algorithm, &l.Seed, &l.CommittedAt, &drawnAt, &registrations, &wanted,
		&winners, &digest, &limited)
	if err == nil && drawnAt != nil { // the table's CHECK makes the rest present too
		l.Outcome = &lottery.Outcome{DrawnAt: *drawnAt, Registrations: *registrations, WinnersWanted: *wanted,
			Winners: *winners, TicketsDigest: *digest, BudgetLimited: *limited}
	}
	return l, err
}

// InsertLottery commits a campaign's seed unless it has one already, and
// reports whether it did: committing is safe to repeat and to race.
func InsertLottery(ctx context.Context, q Querier, l lottery.Lottery) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO lotteries (campaign_id, algorithm, seed, committed_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (campaign_id) DO NOTHING`, l.CampaignID, l.Algorithm, l.Seed, l.CommittedAt)
	if err != nil {
		return false, fmt.Errorf("commit the lottery seed of campaign %s: %w", l.CampaignID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// GetLottery reads a campaign's lottery; found is false before its seed is committed.
func GetLottery(ctx context.Context, q Querier, campaignID uuid.UUID) (l lottery.Lottery, found bool, err error) {
	return readLottery(ctx, q, campaignID, "")
}

// ShareLottery reads a campaign's lottery with a key-share lock, which
// registrations hold so the draw waits for them.
func ShareLottery(ctx context.Context, tx pgx.Tx, campaignID uuid.UUID) (l lottery.Lottery, found bool, err error) {
	return readLottery(ctx, tx, campaignID, " FOR KEY SHARE")
}

// LockLottery reads a campaign's lottery and locks it for the draw.
func LockLottery(ctx context.Context, tx pgx.Tx, campaignID uuid.UUID) (l lottery.Lottery, found bool, err error) {
	return readLottery(ctx, tx, campaignID, " FOR UPDATE")
}

func readLottery(ctx context.Context, q Querier, campaignID uuid.UUID, lock string) (lottery.Lottery, bool, error) {
	l, err := scanLottery(q.QueryRow(ctx, `SELECT `+lotteryColumns+` FROM lotteries WHERE campaign_id = $1`+lock, campaignID))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, false, nil
	}
	if err != nil {
		return l, false, fmt.Errorf("read the lottery of campaign %s: %w", campaignID, err)
	}
	return l, true, nil
}

// RecordDraw stores a lottery's outcome.
func RecordDraw(ctx context.Context, q Querier, campaignID uuid.UUID, o lottery.Outcome) error {
	_, err := q.Exec(ctx, `UPDATE lotteries SET drawn_at = $2, registrations = $3, winners_wanted = $4, winners = $5,
		tickets_digest = $6, budget_limited = $7 WHERE campaign_id = $1`,
		campaignID, o.DrawnAt, o.Registrations, o.WinnersWanted, o.Winners, o.TicketsDigest, o.BudgetLimited)
	if err != nil {
		return fmt.Errorf("record the draw of campaign %s: %w", campaignID, err)
	}
	return nil
}

// CampaignsWithoutLottery lists active campaigns with lottery rules whose
// seed is not committed yet.
func CampaignsWithoutLottery(ctx context.Context, q Querier) ([]uuid.UUID, error) {
	rows, err := q.Query(ctx, `SELECT id FROM campaigns c WHERE status = 'active' AND rules ? 'lottery'
		AND NOT EXISTS (SELECT FROM lotteries l WHERE l.campaign_id = c.id) ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// DueLotteries lists the undrawn lotteries of active campaigns whose draw
// time has come by now.
func DueLotteries(ctx context.Context, q Querier, now time.Time) ([]uuid.UUID, error) {
	rows, err := q.Query(ctx, `SELECT l.campaign_id FROM lotteries l JOIN campaigns c ON c.id = l.campaign_id
		WHERE l.drawn_at IS NULL AND c.status = 'active' AND (c.rules->'lottery'->>'draw_at')::timestamptz <= $1
		ORDER BY l.campaign_id`, now)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}

// InsertRegistration stores a registration; a holder registered already
// (through any platform) is ALREADY_REGISTERED.
func InsertRegistration(ctx context.Context, q Querier, r lottery.Registration) error {
	_, err := q.Exec(ctx, `INSERT INTO lottery_registrations (id, campaign_id, holder_hash, platform_id, ticket, status,
		registered_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.ID, r.CampaignID, r.Holder[:], r.PlatformID, r.Ticket, r.Status, r.RegisteredAt)
	if IsUniqueViolation(err, "lottery_registrations_one_per_holder") {
		return apperr.New(lottery.CodeAlreadyRegistered, "this holder is already registered for the lottery of campaign %s", r.CampaignID)
	}
	return err
}

// CountRegistrations counts a lottery's registrations.
func CountRegistrations(ctx context.Context, q Querier, campaignID uuid.UUID) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT count(*) FROM lottery_registrations WHERE campaign_id = $1`, campaignID).Scan(&n)
	return n, err
}

// EachTicket streams a lottery's tickets in ascending order.
func EachTicket(ctx context.Context, q Querier, campaignID uuid.UUID, fn func(ticket string) error) error {
	rows, err := q.Query(ctx, `SELECT ticket FROM lottery_registrations WHERE campaign_id = $1 ORDER BY ticket`, campaignID)
	if err != nil {
		return fmt.Errorf("read the tickets of campaign %s: %w", campaignID, err)
	}
	var t string
	_, err = pgx.ForEachRow(rows, []any{&t}, func() error { return fn(t) })
	return err
}

// ListTickets pages through a lottery's tickets in ascending order, after
// the given ticket ("" for the first page).
func ListTickets(ctx context.Context, q Querier, campaignID uuid.UUID, after string, limit int) ([]lottery.TicketOutcome, error) {
	rows, err := q.Query(ctx, `SELECT ticket, status = 'won' FROM lottery_registrations
		WHERE campaign_id = $1 AND ticket > $2 ORDER BY ticket LIMIT $3`, campaignID, after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (lottery.TicketOutcome, error) {
		var t lottery.TicketOutcome
		err := row.Scan(&t.Ticket, &t.Won)
		return t, err
	})
}

// RegistrationsByTicket reads the registrations holding the given tickets.
func RegistrationsByTicket(ctx context.Context, q Querier, campaignID uuid.UUID, tickets []string) ([]lottery.Registration, error) {
	rows, err := q.Query(ctx, `SELECT id, campaign_id, holder_hash, platform_id, ticket, status, voucher_id, registered_at
		FROM lottery_registrations WHERE campaign_id = $1 AND ticket = ANY($2) ORDER BY ticket`, campaignID, tickets)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (lottery.Registration, error) {
		var r lottery.Registration
		var h []byte
		err := row.Scan(&r.ID, &r.CampaignID, &h, &r.PlatformID, &r.Ticket, &r.Status, &r.VoucherID, &r.RegisteredAt)
		copy(r.Holder[:], h)
		return r, err
	})
}

// MarkWinners records registrations as won with their vouchers.
func MarkWinners(ctx context.Context, q Querier, registrationIDs, voucherIDs []uuid.UUID) error {
	_, err := q.Exec(ctx, `UPDATE lottery_registrations r SET status = 'won', voucher_id = w.voucher_id
		FROM unnest($1::uuid[], $2::uuid[]) AS w(id, voucher_id) WHERE r.id = w.id`, registrationIDs, voucherIDs)
	return err
}

// MarkLosers records every registration of a lottery not marked won as lost.
func MarkLosers(ctx context.Context, q Querier, campaignID uuid.UUID) error {
	_, err := q.Exec(ctx, `UPDATE lottery_registrations SET status = 'lost' WHERE campaign_id = $1 AND status = 'registered'`,
		campaignID)
	return err
}
