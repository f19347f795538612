package settlement_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/settlement"
)

func TestReconcileFindsEachKind(t *testing.T) {
	ids := make([]uuid.UUID, 6)
	for i := range ids {
		ids[i] = uuid.New()
	}
	upload := "\xef\xbb\xbforder_no,redemption_id,discount_fen,paid_fen,payment_channel,channel_txn_id\n" +
		"o-0," + ids[0].String() + ",5000,25000,alipay,a-0\n" + // matches
		"o-1," + ids[1].String() + ",5000,24000,alipay,a-1\n" + // paid differs
		"o-2," + ids[2].String() + ",5000,25000,wechat_pay,a-2\n" + // channel differs
		"o-3," + ids[3].String() + ",5000,25000,alipay,a-3\n" // not ours
	u, err := settlement.ParseUpload(strings.NewReader(upload))
	require.NoError(t, err)
	assert.Equal(t, 4, u.Len())

	ours := func(i int, channel string) settlement.Record {
		return settlement.Record{RedemptionID: ids[i], OrderNo: "o-" + string(rune('0'+i)), DiscountFen: 5000, PaidFen: 25000,
			Channel: channel, ChannelTxnID: "a-" + string(rune('0'+i))}
	}
	rc := settlement.NewReconciler(u, 100)
	rc.Ours(ours(0, "alipay"))
	rc.Ours(ours(1, "alipay"))
	rc.Ours(ours(2, "alipay"))
	rc.Ours(ours(4, "alipay")) // not uploaded
	r := rc.Report()

	assert.Equal(t, int64(1), r.Matched.Count)
	assert.Equal(t, ids[0], r.Matched.Rows[0].RedemptionID)
	require.Equal(t, int64(1), r.AmountMismatch.Count)
	am := r.AmountMismatch.Rows[0]
	assert.Equal(t, []string{"paid_fen"}, am.Fields)
	assert.Equal(t, int64(25000), am.Ours.PaidFen)
	assert.Equal(t, int64(24000), am.Theirs.PaidFen)
	assert.Equal(t, 3, am.Line)
	require.Equal(t, int64(1), r.ChannelMismatch.Count)
	assert.Equal(t, []string{"payment_channel"}, r.ChannelMismatch.Rows[0].Fields)
	assert.Equal(t, "wechat_pay", r.ChannelMismatch.Rows[0].Theirs.Channel)
	require.Equal(t, int64(1), r.MissingHere.Count)
	assert.Equal(t, ids[3], r.MissingHere.Rows[0].RedemptionID)
	assert.Nil(t, r.MissingHere.Rows[0].Ours)
	require.Equal(t, int64(1), r.MissingInUpload.Count)
	assert.Equal(t, ids[4], r.MissingInUpload.Rows[0].RedemptionID)
	assert.Nil(t, r.MissingInUpload.Rows[0].Theirs)
}

func TestReconcileCapsRowsNotCounts(t *testing.T) {
	u, err := settlement.ParseUpload(strings.NewReader(strings.Join(settlement.UploadHeader, ",") + "\n"))
	require.NoError(t, err)
	rc := settlement.NewReconciler(u, 2)
	for range 5 {
		rc.Ours(settlement.Record{RedemptionID: uuid.New(), OrderNo: "o", Channel: "alipay"})
	}
	r := rc.Report()
	assert.Equal(t, int64(5), r.MissingInUpload.Count)
	assert.Len(t, r.MissingInUpload.Rows, 2)
	assert.True(t, r.MissingInUpload.Truncated)
}

func TestParseUploadNamesTheBadLine(t *testing.T) {
	id := uuid.New().String()
	header := "order_no,redemption_id,discount_fen,paid_fen,payment_channel,channel_txn_id\n"
	cases := []struct {
		name, body string
		line       int
	}{
		{"empty", "", 1},
		{"unknown column", "order_no,redemption,discount_fen,paid_fen,payment_channel,channel_txn_id\n", 1},
		{"missing column", "order_no,redemption_id,discount_fen,paid_fen,payment_channel\n", 1},
		{"ragged row", header + "o-1," + id + ",5000,25000,alipay,a\no-2,x\n", 3},
		{"bad uuid", header + "o-1,not-a-uuid,5000,25000,alipay,a\n", 2},
		{"negative amount", header + "o-1," + id + ",-5,25000,alipay,a\n", 2},
		{"not a number", header + "o-1," + id + ",50.00,25000,alipay,a\n", 2},
		{"duplicate", header + "o-1," + id + ",5000,25000,alipay,a\no-1," + id + ",5000,25000,alipay,a\n", 3},
		{"bare quote", header + "o-1," + id + ",5000,25000,alipay,a\"b\n", 2},
		{"empty order", header + "," + id + ",5000,25000,alipay,a\n", 2},
	}
	for _, c := range cases {
		_, err := settlement.ParseUpload(strings.NewReader(c.body))
		require.Error(t, err, c.name)
		e, ok := apperr.As(err)
		require.True(t, ok, c.name)
		assert.Equal(t, apperr.CodeValidationFailed, e.Code, c.name)
		assert.Equal(t, c.line, e.Extra["line"], "%s: %v", c.name, err)
	}
}

func FuzzParseUpload(f *testing.F) {
	f.Add("order_no,redemption_id,discount_fen,paid_fen,payment_channel,channel_txn_id\no,0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d,1,2,alipay,x\n")
	f.Add("redemption_id\n\"")
	f.Fuzz(func(t *testing.T, body string) {
		u, err := settlement.ParseUpload(strings.NewReader(body))
		if err != nil {
			assert.Equal(t, apperr.CodeValidationFailed, apperr.CodeOf(err), "%v", err)
			return
		}
		assert.GreaterOrEqual(t, u.Len(), 0)
	})
}
