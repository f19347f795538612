package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/voucher"
)

// InsertVouchers writes vouchers in one statement (arrays unnested), for
// claim batches, lottery winners and grant chunks alike.
func InsertVouchers(ctx context.Context, q Querier, vs []voucher.Voucher) error {
	if len(vs) == 0 {
		return nil
	}
	n := len(vs)
	var (
		ids, campaigns       = make([]uuid.UUID, n), make([]uuid.UUID, n)
		codes, kinds         = make([]string, n), make([]string, n)
		tiers, cats          = make([]*string, n), make([]*string, n)
		rounds               = make([]*uuid.UUID, n)
		holders              = make([][]byte, n)
		minSpend, discount   = make([]*int64, n), make([]*int64, n)
		terms                = make([][]byte, n)
		from, until, created = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		statuses, sources    = make([]string, n), make([]string, n)
		platforms            = make([]*string, n)
	)
	for i, v := range vs {
		ids[i], campaigns[i], codes[i], kinds[i] = v.ID, v.CampaignID, v.Code, string(v.Kind)
		holders[i] = append([]byte(nil), v.Holder[:]...)
		tiers[i], cats[i], platforms[i] = nullable(v.TierID), nullable(v.Category), nullable(v.PlatformID)
		rounds[i] = v.RoundID
		if v.DiscountFen > 0 {
			minSpend[i], discount[i] = &vs[i].MinSpendFen, &vs[i].DiscountFen
		}
		if v.Terms != nil {
			b, err := json.Marshal(v.Terms)
			if err != nil {
				return err
			}
			terms[i] = b
		}
		from[i], until[i], created[i] = v.ValidFrom, v.ValidUntil, v.CreatedAt
		statuses[i], sources[i] = string(v.Status), string(v.Source)
	}
	_, err := q.Exec(ctx, `INSERT INTO vouchers (id, code, campaign_id, holder_hash, kind, tier_id, category, round_id,
		min_spend_fen, discount_fen, terms, valid_from, valid_until, status, source, platform_id, created_at, updated_at)
		SELECT id, code, campaign_id, holder_hash, kind, tier_id, category, round_id, min_spend_fen, discount_fen,
			terms::jsonb, valid_from, valid_until, status, source, platform_id, created_at, created_at
		FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::bytea[], $5::text[], $6::text[], $7::text[], $8::uuid[],
			$9::bigint[], $10::bigint[], $11::text[], $12::timestamptz[], $13::timestamptz[], $14::text[], $15::text[],
			$16::text[], $17::timestamptz[])
		AS t(id, code, campaign_id, holder_hash, kind, tier_id, category, round_id, min_spend_fen, discount_fen, terms,
			valid_from, valid_until, status, source, platform_id, created_at)`,
		ids, codes, campaigns, holders, kinds, tiers, cats, rounds, minSpend, discount, textOrNil(terms),
		from, until, statuses, sources, platforms, created)
	return err
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func textOrNil(bs [][]byte) []*string {
	out := make([]*string, len(bs))
	for i, b := range bs {
		if b != nil {
			s := string(b)
			out[i] = &s
		}
	}
	return out
}

const voucherColumns = `id, code, campaign_id, holder_hash, kind, coalesce(tier_id, ''), coalesce(category, ''), round_id,
	coalesce(min_spend_fen, 0), coalesce(discount_fen, 0), terms, valid_from, valid_until, status, source,
	coalesce(platform_id, ''), created_at`

func scanVoucher(row pgx.Row) (voucher.Voucher, error) {
	var v voucher.Voucher
	var h []byte
	var terms []byte
	err := row.Scan(&v.ID, &v.Code, &v.CampaignID, &h, &v.Kind, &v.TierID, &v.Category, &v.RoundID,
		&v.MinSpendFen, &v.DiscountFen, &terms, &v.ValidFrom, &v.ValidUntil, &v.Status, &v.Source,
		&v.PlatformID, &v.CreatedAt)
	if err != nil {
		return v, err
	}
	copy(v.Holder[:], h)
	if terms != nil {
		v.Terms = &voucher.Terms{}
		if err := json.Unmarshal(terms, v.Terms); err != nil {
			return v, err
		}
	}
	return v, nil
}

// HolderVouchers lists a holder's vouchers across campaigns, newest first.
func HolderVouchers(ctx context.Context, q Querier, h holder.Hash, status string, limit int) ([]voucher.Voucher, error) {
	rows, err := q.Query(ctx, `SELECT `+voucherColumns+` FROM vouchers
		WHERE holder_hash = $1 AND ($2 = '' OR status = $2) ORDER BY id DESC LIMIT $3`, h[:], status, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (voucher.Voucher, error) { return scanVoucher(r) })
}

// ExpiredValue is what a batch of expired vouchers gives back to a campaign.
type ExpiredValue struct {
	CampaignID uuid.UUID
	Vouchers   []uuid.UUID
	ValueFen   int64
}

// ExpireVouchers marks up to limit active vouchers past their validity as
// expired and sums, per campaign, the value they held committed.
func ExpireVouchers(ctx context.Context, q Querier, now time.Time, limit int) ([]ExpiredValue, error) {
	rows, err := q.Query(ctx, `WITH due AS (
			SELECT id FROM vouchers WHERE status = 'active' AND valid_until <= $1 ORDER BY valid_until LIMIT $2 FOR UPDATE SKIP LOCKED)
		UPDATE vouchers v SET status = 'expired', updated_at = $1 FROM due WHERE v.id = due.id
		RETURNING v.campaign_id, v.id, coalesce(v.discount_fen, 0)`, now, limit)
	if err != nil {
		return nil, err
	}
	by := map[uuid.UUID]*ExpiredValue{}
	var order []uuid.UUID
	for rows.Next() {
		var c, id uuid.UUID
		var value int64
		if err := rows.Scan(&c, &id, &value); err != nil {
			rows.Close()
			return nil, err
		}
		e, ok := by[c]
		if !ok {
			e = &ExpiredValue{CampaignID: c}
			by[c] = e
			order = append(order, c)
		}
		e.Vouchers = append(e.Vouchers, id)
		e.ValueFen += value
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]ExpiredValue, len(order))
	for i, c := range order {
		out[i] = *by[c]
	}
	return out, nil
}
