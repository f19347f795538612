package ledger_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/ledger"
)

func TestRoutes(t *testing.T) {
	want := map[ledger.Kind][2]ledger.Account{
		ledger.Funding:         {ledger.Treasury, ledger.Available},
		ledger.Defunding:       {ledger.Available, ledger.Treasury},
		ledger.Allocation:      {ledger.Available, ledger.Allocated},
		ledger.Deallocation:    {ledger.Allocated, ledger.Available},
		ledger.Claim:           {ledger.Allocated, ledger.Committed},
		ledger.Expiry:          {ledger.Committed, ledger.Available},
		ledger.Hold:            {ledger.Committed, ledger.Held},
		ledger.SubsidyHold:     {ledger.Available, ledger.Held},
		ledger.Release:         {ledger.Held, ledger.Committed},
		ledger.SubsidyRelease:  {ledger.Held, ledger.Available},
		ledger.Redemption:      {ledger.Held, ledger.Payable},
		ledger.Refund:          {ledger.Payable, ledger.Committed},
		ledger.Clawback:        {ledger.Payable, ledger.Available},
		ledger.Settlement:      {ledger.Payable, ledger.Settled},
		ledger.SettledRefund:   {ledger.Settled, ledger.Committed},
		ledger.SettledClawback: {ledger.Settled, ledger.Available},
	}
	require.Len(t, ledger.Kinds(), len(want))
	for _, k := range ledger.Kinds() {
		from, to, ok := ledger.Route(k)
		require.True(t, ok, k)
		assert.Equal(t, want[k], [2]ledger.Account{from, to}, k)
		assert.True(t, from.Valid() && to.Valid(), k)
		if from == ledger.Treasury {
			assert.Equal(t, ledger.Funding, k, "only funding may debit the treasury")
		}
	}
	_, _, ok := ledger.Route("gift")
	assert.False(t, ok)
	assert.False(t, ledger.Account("bank").Valid())
}

func TestBudgetExhaustedIsConflict(t *testing.T) {
	assert.Equal(t, http.StatusConflict, apperr.StatusOf(ledger.CodeBudgetExhausted))
	err := ledger.Exhausted(uuid.New(), ledger.SubsidyHold, ledger.Available, 300, 500)
	assert.True(t, apperr.Is(err, ledger.CodeBudgetExhausted))
	assert.Contains(t, err.Message, "300 fen available, the subsidy_hold needs 500 fen")
}

func TestTransferValidate(t *testing.T) {
	good := ledger.Transfer{CampaignID: uuid.New(), Kind: ledger.Claim, AmountFen: 5000, Ref: "voucher:1"}
	require.NoError(t, good.Validate())

	bad := ledger.Transfer{Kind: "gift", AmountFen: 0, Ref: strings.Repeat("x", 201)}
	err := bad.Validate()
	e, ok := apperr.As(err)
	require.True(t, ok, err)
	assert.Equal(t, apperr.CodeValidationFailed, e.Code)
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	assert.Equal(t, []string{"campaign_id", "kind", "amount_fen", "ref"}, fields)

	good.AmountFen = -1
	assert.True(t, apperr.Is(good.Validate(), apperr.CodeValidationFailed))
}

func TestSpread(t *testing.T) {
	tr := ledger.Transfer{CampaignID: uuid.New(), Kind: ledger.Funding, AmountFen: 35, Ref: "budget:1", BucketKey: 99}
	parts := tr.Spread(16)
	require.Len(t, parts, 16)
	var sum int64
	for i, p := range parts {
		sum += p.AmountFen
		assert.Equal(t, uint64(i), p.BucketKey)
		assert.Equal(t, tr.Ref, p.Ref)
		assert.Contains(t, []int64{2, 3}, p.AmountFen)
	}
	assert.Equal(t, int64(35), sum)

	tr.AmountFen = 3
	assert.Len(t, tr.Spread(16), 3, "empty parts are dropped")
}

func TestBreakdownCheck(t *testing.T) {
	var b ledger.Breakdown
	require.NoError(t, b.Add(ledger.Treasury, -1000))
	require.NoError(t, b.Add(ledger.Available, 1000))
	require.NoError(t, b.Add(ledger.Available, -300))
	require.NoError(t, b.Add(ledger.Held, 300))
	assert.Equal(t, ledger.Breakdown{Funded: 1000, Available: 700, Held: 300}, b)
	assert.NoError(t, b.Check())
	assert.Error(t, b.Add("bank", 1))

	raw, err := json.Marshal(b)
	require.NoError(t, err)
	assert.JSONEq(t, `{"funded_fen":1000,"available_fen":700,"allocated_fen":0,"committed_fen":0,"held_fen":300,"payable_fen":0,"settled_fen":0}`, string(raw))

	b.Available = -100
	err = b.Check()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "available is -100 fen, below zero")
	assert.Contains(t, err.Error(), "is 200 fen, but 1000 fen were funded")
}

// book makes the entries of one transfer: debits from several buckets, one credit.
func book(campaign uuid.UUID, kind ledger.Kind, creditBucket int, debits map[int]int64) []ledger.Entry {
	from, to, _ := ledger.Route(kind)
	transfer := uuid.Must(uuid.NewV7())
	var out []ledger.Entry
	var total int64
	for bucket := range 16 {
		if fen, ok := debits[bucket]; ok {
			out = append(out, ledger.Entry{ID: uuid.Must(uuid.NewV7()), TransferID: transfer, CampaignID: campaign,
				Account: from, Bucket: bucket, AmountFen: -fen, Kind: kind, Ref: "test", At: time.Now()})
			total += fen
		}
	}
	return append(out, ledger.Entry{ID: uuid.Must(uuid.NewV7()), TransferID: transfer, CampaignID: campaign,
		Account: to, Bucket: creditBucket, AmountFen: total, Kind: kind, Ref: "test", At: time.Now()})
}

// balancesOf are the stored rows that match entries.
func balancesOf(entries []ledger.Entry) []ledger.BucketBalance {
	type key struct {
		c uuid.UUID
		a ledger.Account
		b int
	}
	sums := map[key]int64{}
	var order []key
	for _, e := range entries {
		k := key{e.CampaignID, e.Account, e.Bucket}
		if _, ok := sums[k]; !ok {
			order = append(order, k)
		}
		sums[k] += e.AmountFen
	}
	var out []ledger.BucketBalance
	for _, k := range order {
		out = append(out, ledger.BucketBalance{CampaignID: k.c, Account: k.a, Bucket: k.b, BalanceFen: sums[k]})
	}
	return out
}

func goodLedger(c1, c2 uuid.UUID) []ledger.Entry {
	var es []ledger.Entry
	es = append(es, book(c1, ledger.Funding, 3, map[int]int64{0: 10_000})...)
	es = append(es, book(c2, ledger.Funding, 5, map[int]int64{0: 8_000})...)
	es = append(es, book(c1, ledger.Allocation, 7, map[int]int64{3: 4_000})...)
	es = append(es, book(c1, ledger.Claim, 7, map[int]int64{7: 1_000})...)
	es = append(es, book(c2, ledger.SubsidyHold, 9, map[int]int64{5: 2_000})...) // spilled from bucket 5
	es = append(es, book(c1, ledger.Hold, 2, map[int]int64{7: 600})...)
	es = append(es, book(c1, ledger.Redemption, 4, map[int]int64{2: 600})...)
	return es
}

// interleave mixes the entries of concurrent transfers, as id order does.
func interleave(es []ledger.Entry) []ledger.Entry {
	out := make([]ledger.Entry, 0, len(es))
	for i := 0; i < len(es); i += 2 {
		out = append(out, es[i])
	}
	for i := 1; i < len(es); i += 2 {
		out = append(out, es[i])
	}
	return out
}

func TestCheckGoodLedger(t *testing.T) {
	c1, c2 := uuid.New(), uuid.New()
	es := goodLedger(c1, c2)
	assert.Empty(t, ledger.Check(es, balancesOf(es)))
	assert.Empty(t, ledger.Check(interleave(es), balancesOf(es)))
}

func TestCheckFindsFaults(t *testing.T) {
	c1, c2 := uuid.New(), uuid.New()

	t.Run("altered balance", func(t *testing.T) {
		es := goodLedger(c1, c2)
		bs := balancesOf(es)
		for i := range bs {
			if bs[i].CampaignID == c1 && bs[i].Account == ledger.Allocated {
				bs[i].BalanceFen += 1
			}
		}
		faults := ledger.Check(es, bs)
		require.NotEmpty(t, faults)
		assert.Equal(t, c1, faults[0].CampaignID)
		assert.Equal(t, ledger.Allocated, faults[0].Account)
		require.NotNil(t, faults[0].Bucket)
		assert.Equal(t, 7, *faults[0].Bucket)
		assert.Contains(t, faults[0].Message, "stored balance is 3001 fen, the entries give 3000 fen")
		assert.Contains(t, faults[len(faults)-1].Message, "stored balances:")
	})

	t.Run("missing entry", func(t *testing.T) {
		es := goodLedger(c1, c2)
		gone := es[5] // the credit of c1's allocation
		es = append(es[:5:5], es[6:]...)
		faults := ledger.Check(es, balancesOf(goodLedger(c1, c2)))
		var named bool
		for _, f := range faults {
			if f.TransferID == gone.TransferID {
				named = true
				assert.Contains(t, f.Message, "sum to -4000 fen, not 0")
			}
		}
		assert.True(t, named, "faults %v name the transfer", faults)
	})

	t.Run("off route and mixed", func(t *testing.T) {
		es := goodLedger(c1, c2)
		es[1].Account = ledger.Held // funding credits available, not held
		es[3].Kind = ledger.Claim   // c2's funding credit claims to be a claim
		faults := ledger.Check(es, balancesOf(es))
		var msgs []string
		for _, f := range faults {
			msgs = append(msgs, f.String())
		}
		all := strings.Join(msgs, "\n")
		assert.Contains(t, all, "credits held, but a funding credits available")
		assert.Contains(t, all, "began as a funding")
		assert.Contains(t, all, "credits available, but a claim credits committed")
	})

	t.Run("negative account", func(t *testing.T) {
		es := book(c1, ledger.Claim, 0, map[int]int64{0: 500}) // claims value never allocated
		faults := ledger.Check(es, balancesOf(es))
		require.NotEmpty(t, faults)
		var msgs []string
		for _, f := range faults {
			msgs = append(msgs, f.String())
		}
		all := strings.Join(msgs, "\n")
		assert.Contains(t, all, "allocated bucket 0: stored balance is -500 fen, below zero")
		assert.Contains(t, all, "allocated is -500 fen, below zero")
	})

	t.Run("missing balance row", func(t *testing.T) {
		es := goodLedger(c1, c2)
		bs := balancesOf(es)
		faults := ledger.Check(es, bs[1:])
		require.NotEmpty(t, faults)
		assert.Contains(t, faults[0].Message, "no stored balance row, the entries give")
	})
}

func TestFaultJSON(t *testing.T) {
	c := uuid.MustParse("0190d0a0-0000-7000-8000-000000000001")
	raw, err := json.Marshal(ledger.Fault{CampaignID: c, Message: "x"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"campaign_id":"0190d0a0-0000-7000-8000-000000000001","message":"x"}`, string(raw))
	bucket := 0
	raw, err = json.Marshal(ledger.Fault{CampaignID: c, Account: ledger.Held, Bucket: &bucket, Message: "x"})
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"bucket":0`)
}
