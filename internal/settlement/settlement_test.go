package settlement_test

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/settlement"
)

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

var (
	campA = uuid.MustParse("00000000-0000-7000-8000-00000000000a")
	campB = uuid.MustParse("00000000-0000-7000-8000-00000000000b")
)

func confirm(c uuid.UUID, merchant, day string, discount, paid int64) settlement.Item {
	id := uuid.New()
	return settlement.Item{Kind: settlement.Confirm, SourceID: id, RedemptionID: id, CampaignID: c, MerchantID: merchant,
		LocalDate: date(day), LastEnded: date("2027-03-10"), AmountFen: discount, PaidFen: paid}
}

func refund(of settlement.Item, day string, clawback, refunded int64, adjustment bool) settlement.Item {
	return settlement.Item{Kind: settlement.Refund, SourceID: uuid.New(), RedemptionID: of.RedemptionID,
		CampaignID: of.CampaignID, MerchantID: of.MerchantID, LocalDate: date(day), LastEnded: of.LastEnded,
		AmountFen: -clawback, RefundedFen: refunded, Adjustment: adjustment}
}

func TestLinesAddUpPerCampaignAndMerchant(t *testing.T) {
	c1 := confirm(campA, "m1", "2027-03-05", 5000, 25000)
	c2 := confirm(campA, "m1", "2027-03-05", 5000, 15000)
	c3 := confirm(campA, "m2", "2027-03-05", 3000, 7000)
	c4 := confirm(campB, "m1", "2027-03-05", 2000, 8000)
	earlier := confirm(campA, "m1", "2027-03-01", 5000, 25000)
	items := []settlement.Item{
		c4, c1, c2, c3,
		refund(c1, "2027-03-05", 1000, 5000, false),      // partial refund, clawback
		refund(c2, "2027-03-05", 0, 1000, false),         // partial refund still over the threshold
		refund(c3, "2027-03-05", 3000, 7000, false),      // full refund
		refund(earlier, "2027-03-05", 5000, 25000, true), // stated earlier: an adjustment
	}
	lines, total := settlement.Lines(items)
	require.Len(t, lines, 3)
	assert.Equal(t, settlement.Line{CampaignID: campA, MerchantID: "m1", Amounts: settlement.Amounts{
		ConfirmedCount: 2, DiscountFen: 10000, PaidFen: 40000, RefundCount: 2, RefundedFen: 31000, ClawbackFen: 1000,
		AdjustmentCount: 1, AdjustmentFen: 5000, NetFen: 4000,
	}}, lines[0])
	assert.Equal(t, settlement.Line{CampaignID: campA, MerchantID: "m2", Amounts: settlement.Amounts{
		ConfirmedCount: 1, DiscountFen: 3000, PaidFen: 7000, RefundCount: 1, RefundedFen: 7000, ClawbackFen: 3000,
	}}, lines[1])
	assert.Equal(t, campB, lines[2].CampaignID)
	assert.Equal(t, int64(2000), lines[2].NetFen)

	assert.Equal(t, settlement.Amounts{ConfirmedCount: 4, DiscountFen: 15000, PaidFen: 55000, RefundCount: 3,
		RefundedFen: 38000, ClawbackFen: 4000, AdjustmentCount: 1, AdjustmentFen: 5000, NetFen: 6000}, total)
	var sum int64
	for _, it := range items {
		sum += it.AmountFen
	}
	assert.Equal(t, sum, total.NetFen, "the net is the sum of the movements")
	assert.Equal(t, total.DiscountFen-total.ClawbackFen-total.AdjustmentFen, total.NetFen)
}

func TestNextStatesEndedDaysInOrder(t *testing.T) {
	d3 := confirm(campA, "m1", "2027-03-03", 5000, 1)
	d4 := confirm(campA, "m1", "2027-03-04", 5000, 1)
	today := confirm(campA, "m1", "2027-03-11", 5000, 1) // its day has not ended
	r4 := refund(d3, "2027-03-04", 1000, 1, false)

	_, _, ok := settlement.Next(nil, nil)
	assert.False(t, ok, "no empty statements")
	_, _, ok = settlement.Next([]settlement.Item{today}, nil)
	assert.False(t, ok, "a day is stated once it has ended")

	pending := []settlement.Item{today, d4, r4, d3}
	d, items, ok := settlement.Next(pending, nil)
	require.True(t, ok)
	assert.Equal(t, date("2027-03-03"), d, "the earliest date first")
	assert.Equal(t, []settlement.Item{d3}, items)

	last := d
	d, items, ok = settlement.Next([]settlement.Item{today, d4, r4}, &last)
	require.True(t, ok)
	assert.Equal(t, date("2027-03-04"), d)
	assert.ElementsMatch(t, []settlement.Item{d4, r4}, items)
}

func TestNextPutsLateItemsInTheNextStatement(t *testing.T) {
	last := date("2027-03-05")
	late := confirm(campA, "m1", "2027-03-05", 5000, 1) // committed after (p, 03-05) was issued
	lateRefund := refund(confirm(campA, "m1", "2027-03-01", 5000, 1), "2027-03-02", 5000, 1, true)

	d, items, ok := settlement.Next([]settlement.Item{late, lateRefund}, &last)
	require.True(t, ok)
	assert.Equal(t, date("2027-03-06"), d, "the day after the latest statement")
	assert.ElementsMatch(t, []settlement.Item{late, lateRefund}, items)

	// The next day has not ended yet in the item's zone: it waits.
	late.LastEnded = date("2027-03-05")
	_, _, ok = settlement.Next([]settlement.Item{late}, &last)
	assert.False(t, ok)

	// An item of a later date than the late one decides the date; both go in.
	late.LastEnded = date("2027-03-10")
	d8 := confirm(campB, "m1", "2027-03-08", 1000, 1)
	d, items, ok = settlement.Next([]settlement.Item{d8, late}, &last)
	require.True(t, ok)
	assert.Equal(t, date("2027-03-06"), d)
	assert.Equal(t, []settlement.Item{late}, items, "03-08 gets its own statement next")
}

func TestNextHonoursEachCampaignsZone(t *testing.T) {
	// Campaign B's zone is behind: 03-05 has ended for A but not yet for B.
	a := confirm(campA, "m1", "2027-03-05", 5000, 1)
	b := confirm(campB, "m1", "2027-03-05", 2000, 1)
	a.LastEnded, b.LastEnded = date("2027-03-05"), date("2027-03-04")
	d, items, ok := settlement.Next([]settlement.Item{a, b}, nil)
	require.True(t, ok)
	assert.Equal(t, date("2027-03-05"), d)
	assert.Equal(t, []settlement.Item{a}, items, "B's item waits for its own day to end")
}

func TestSplitClawback(t *testing.T) {
	cases := []struct {
		name                                  string
		discount, clawedBefore, settled, claw int64
		fromPayable, fromSettled              int64
	}{
		{"unsettled: all from payable", 5000, 0, 0, 1000, 1000, 0},
		{"nothing to claw", 5000, 1000, 0, 0, 0, 0},
		{"settled in full: all from settled", 5000, 0, 5000, 1000, 0, 1000},
		{"partly clawed, then settled", 5000, 1000, 4000, 2000, 0, 2000},
		{"settled after a settled clawback", 5000, 3000, 5000, 2000, 0, 2000},
		{"unsettled remainder first", 5000, 0, 3000, 3000, 2000, 1000},
	}
	for _, c := range cases {
		p, s := settlement.SplitClawback(c.discount, c.clawedBefore, c.settled, c.claw)
		assert.Equal(t, [2]int64{c.fromPayable, c.fromSettled}, [2]int64{p, s}, c.name)
		assert.GreaterOrEqual(t, settlement.PayableShare(c.discount, c.clawedBefore+c.claw, c.settled), int64(0), c.name)
	}
}

func TestStatementCSV(t *testing.T) {
	c1 := confirm(campA, "m1", "2027-03-05", 5000, 25000)
	lines, total := settlement.Lines([]settlement.Item{c1, refund(c1, "2027-03-05", 1000, 5000, false)})
	s := settlement.Statement{ID: uuid.New(), PlatformID: "jd", BusinessDate: date("2027-03-05"), Currency: "CNY",
		Status: settlement.StatusIssued, Totals: total, Lines: lines}
	var buf bytes.Buffer
	require.NoError(t, settlement.WriteCSV(&buf, []settlement.Statement{s, s}))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, settlement.CSVHeader, rows[0])
	assert.Equal(t, []string{s.ID.String(), "jd", "2027-03-05", "issued", "CNY", campA.String(), "m1",
		"1", "5000", "25000", "1", "5000", "1000", "0", "0", "4000"}, rows[1])
}
