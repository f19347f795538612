package postgres_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/pgtest"
)

// A transfer whose balance rows are missing, on either side and whichever
// side is locked first, is refused and writes nothing.
func TestLedgerTransferNeedsItsBalanceRows(t *testing.T) {
	db := pgtest.New(t)
	c := ledgerCampaign(t, db.Pool, "consumption")
	const key = 5
	// Allocated, committed and held value in bucket 5; nothing left committed.
	for _, k := range []ledger.Kind{ledger.Funding, ledger.Funding, ledger.Allocation, ledger.Allocation, ledger.Claim, ledger.Hold} {
		_, err := postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: k, AmountFen: 1000, Ref: "setup:" + string(k), BucketKey: key})
		require.NoError(t, err)
	}
	before := breakdownOf(t, db.Pool, c)
	entries := len(entriesOf(t, db.Pool, c))

	_, err := postLedger(t, db.Pool, ledger.Transfer{CampaignID: uuid.Must(uuid.NewV7()), Kind: ledger.Claim, AmountFen: 1, Ref: "voucher:1"})
	assert.ErrorContains(t, err, "call InitLedger", "no ledger at all")

	_, err = db.Pool.Exec(t.Context(), `DELETE FROM ledger_balances WHERE campaign_id = $1 AND account = 'committed' AND bucket = $2`, c, key)
	require.NoError(t, err)
	// Hold draws on committed, which ranks before held: the debited row is missing.
	_, err = postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Hold, AmountFen: 1, Ref: "hold:1", BucketKey: key})
	assert.ErrorContains(t, err, "call InitLedger")
	// Claim credits committed after debiting allocated: the credited row is missing.
	_, err = postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Claim, AmountFen: 1000, Ref: "claim:1", BucketKey: key})
	assert.ErrorContains(t, err, "call InitLedger")
	// Release credits committed, which ranks first and is locked first.
	_, err = postLedger(t, db.Pool, ledger.Transfer{CampaignID: c, Kind: ledger.Release, AmountFen: 1000, Ref: "release:1", BucketKey: key})
	assert.ErrorContains(t, err, "call InitLedger")

	after := breakdownOf(t, db.Pool, c)
	require.Equal(t, int64(1000), after.Allocated)
	assert.Equal(t, before, after, "the deleted row was empty")
	assert.Len(t, entriesOf(t, db.Pool, c), entries)
}
