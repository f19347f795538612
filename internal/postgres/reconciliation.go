package postgres

import (
	"context"
	"time"

	"github.com/tongquan/tongquan/internal/settlement"
)

// EachConfirmedOn calls fn with every redemption of a platform confirmed on a
// local business date (in its campaign's time zone), whatever happened to it
// since, as the rows arrive. The UTC range around the date is widened by the
// largest zone offsets so the confirmed-at index narrows the scan; the exact
// local date is checked per row.
func EachConfirmedOn(ctx context.Context, q Querier, platformID string, date time.Time, fn func(settlement.Record) error) error {
	d := settlement.DateOf(date)
	rows, err := q.Query(ctx, `
		SELECT r.id, r.order_no, r.discount_fen, coalesce(r.paid_fen, 0), r.payment_channel, coalesce(r.channel_txn_id, '')
		FROM redemptions r JOIN campaigns c ON c.id = r.campaign_id
		WHERE r.platform_id = $1 AND r.confirmed_at >= $2 AND r.confirmed_at < $3
			AND (r.confirmed_at AT TIME ZONE c.time_zone)::date = $4::date
		ORDER BY r.confirmed_at, r.id`, platformID, d.AddDate(0, 0, -1), d.AddDate(0, 0, 2), d)
	if err != nil {
		return err
	}
	defer rows.Close()
	var rec settlement.Record
	for rows.Next() {
		if err := rows.Scan(&rec.RedemptionID, &rec.OrderNo, &rec.DiscountFen, &rec.PaidFen, &rec.Channel, &rec.ChannelTxnID); err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return rows.Err()
}
