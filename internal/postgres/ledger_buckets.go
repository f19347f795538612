package postgres

import (
	"context"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/ledger"
)

// BucketKeyWith picks a bucket key whose bucket of account holds at least
// amount, so the transfer need not spill (a spill locks every bucket of the
// account and serialises concurrent checkouts). Among the buckets that hold
// enough it picks by key, spreading concurrent transfers; it reads without
// locking, so a bucket drained meanwhile just makes that transfer spill.
func BucketKeyWith(ctx context.Context, q Querier, campaignID uuid.UUID, account ledger.Account, amount int64, key uint64) (uint64, error) {
	rows, err := q.Query(ctx, `SELECT bucket FROM ledger_balances
		WHERE campaign_id = $1 AND account = $2 AND balance_fen >= $3 ORDER BY bucket`, campaignID, account, amount)
	if err != nil {
		return key, err
	}
	var buckets []uint64
	for rows.Next() {
		var b int16
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return key, err
		}
		buckets = append(buckets, uint64(b))
	}
	if err := rows.Err(); err != nil || len(buckets) == 0 {
		return key, err
	}
	return buckets[key%uint64(len(buckets))], nil
}
