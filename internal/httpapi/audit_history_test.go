package httpapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/httpapi/api"
)

// The contract declares the NDJSON export a string; kin-openapi knows no
// decoder for its media type, so the harness reads it as plain text.
func init() {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
}

// seeded is a redemption the test made, with what the filters look at.
type seeded struct {
	id, campaign, platform, merchant, region, channel, status, category string
	holder                                                              int
	at                                                                  time.Time
	discount, paid                                                      int64
}

type auditEnv struct {
	*issuerEnv
	campaigns []string
	rows      []seeded
}

var auditBase = time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)

// newAuditEnv seeds two live campaigns and seven redemptions a minute apart
// over two merchants, channels and statuses, plus one on another platform
// whose merchant is not registered.
func newAuditEnv(t *testing.T) *auditEnv {
	ie, is, _ := newCheckoutEnv(t)
	ctx := context.Background()
	_, err := ie.db.Pool.Exec(ctx, `INSERT INTO platforms (id, name) VALUES ('tmall', 'Tmall');
		INSERT INTO merchants (platform_id, merchant_id, name, uscc, region, category, channel)
		SELECT 'jd', 'm2', 'Grocer', uscc, '310115', 'groceries', 'offline' FROM merchants WHERE merchant_id = 'm1'`)
	require.NoError(t, err)

	e := &auditEnv{issuerEnv: ie}
	for range 2 {
		m := consumptionCampaign()
		m["rules"].(map[string]any)["releases"] = []any{map[string]any{"id": "launch", "tier_id": "200-50", "quantity": 10, "opens_at": "2026-12-04T10:00:00+08:00"}}
		c := e.create(t, m)
		e.act(t, e.manager("alice"), c.ID, "submit", http.StatusOK)
		e.act(t, e.approver("bob"), c.ID, "approve", http.StatusOK)
		e.campaigns = append(e.campaigns, c.ID)
	}
	e.clock.Set(auditBase)
	for _, id := range e.campaigns {
		e.act(t, e.manager("alice"), id, "activate", http.StatusOK)
	}
	_, err = is.OpenDueRounds(ctx)
	require.NoError(t, err)

	plan := []struct {
		campaign, holder  int
		merchant, channel string
		confirm           bool
	}{
		{0, 1, "m1", "wechat_pay", true},
		{0, 2, "m2", "alipay", true},
		{0, 3, "m1", "alipay", false},
		{1, 1, "m2", "wechat_pay", true},
		{0, 4, "m2", "unionpay", true},
		{1, 2, "m1", "ecny", false},
	}
	regions := map[string]string{"m1": "310104", "m2": "310115"}
	for i, p := range plan {
		at := auditBase.Add(time.Duration(i+1) * time.Minute)
		e.clock.Set(at)
		cid := e.campaigns[p.campaign]
		key := fmt.Sprintf("a-%d", i)
		claimed := e.claim(t, cid, key, claimBody(p.holder, "200-50"))
		require.Equal(t, http.StatusCreated, claimed.Status, "%s", claimed.Body)
		code := decode[struct{ Code string }](t, claimed.Body).Code
		order := fmt.Sprintf(`{"order_no":"o-%d","merchant_id":%q,"amount_fen":30000,"currency":"CNY","items":[{"sku":"s1","category":"appliances","unit_price_fen":30000,"quantity":1}]}`, i, p.merchant)
		res := e.post(t, "/v1/redemptions", key+"-r", fmt.Sprintf(`{"voucher_code":%q,"holder":{"id_number":%q},"order":%s,"payment_channel":%q}`,
			code, testIDNumber(p.holder), order, p.channel))
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
		id := decode[struct{ ID string }](t, res.Body).ID
		s := seeded{id: id, campaign: cid, platform: "jd", merchant: p.merchant, region: regions[p.merchant],
			channel: p.channel, status: "reserved", holder: p.holder, at: at, discount: 5000}
		if p.confirm {
			conf := e.post(t, "/v1/redemptions/"+id+"/confirm", key+"-c",
				fmt.Sprintf(`{"payment_channel":%q,"channel_transaction_id":"tx-%d","paid_fen":25000}`, p.channel, i))
			require.Equal(t, http.StatusOK, conf.Status, "%s", conf.Body)
			s.status, s.paid = "confirmed", 25000
		}
		e.rows = append(e.rows, s)
	}
	first := e.rows[0]
	other := first
	other.id, other.platform, other.region, other.status, other.paid = uuid.Must(uuid.NewV7()).String(), "tmall", "", "cancelled", 0
	other.at = auditBase.Add(time.Duration(len(plan)+1) * time.Minute)
	e.copyRedemption(t, first.id, other.id, "tmall", "cancelled", other.at)
	e.rows = append(e.rows, other)

	// Trade-in redemptions carry their category; these campaigns sell none,
	// so two rows are given one as a trade-in checkout would.
	for _, i := range []int{1, 4} {
		_, err := e.db.Pool.Exec(ctx, `UPDATE redemptions SET category = 'phone' WHERE id = $1`, e.rows[i].id)
		require.NoError(t, err)
		e.rows[i].category = "phone"
	}
	return e
}

// copyRedemption inserts a cancelled copy of a redemption straight into the
// table, as another platform or a concurrent writer would.
func (e *auditEnv) copyRedemption(t *testing.T, from, id, platform, status string, at time.Time) {
	require.NoError(t, e.insertCopy(from, id, platform, status, at))
}

func (e *auditEnv) insertCopy(from, id, platform, status string, at time.Time) error {
	_, err := e.db.Pool.Exec(context.Background(), `INSERT INTO redemptions (id, platform_id, order_no, voucher_id,
		voucher_code, campaign_id, kind, holder_hash, merchant_id, amount_fen, discount_fen, payment_channel, status,
		hold_expires_at, created_at, updated_at)
		SELECT $2::uuid, $3, $2::text, voucher_id, voucher_code, campaign_id, kind, holder_hash, merchant_id, amount_fen,
			discount_fen, payment_channel, $4, hold_expires_at, $5, $5
		FROM redemptions WHERE id = $1`, from, id, platform, status, at)
	return err
}

// get is an auditor's GET, with the holder's ID number in its header if set.
func (e *auditEnv) get(t *testing.T, path string, q url.Values, holderID string) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path+"?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+e.tokenFor(auth.RoleAuditor))
	if holderID != "" {
		req.Header.Set("Holder-Id-Number", holderID)
	}
	res := e.do(req)
	for n := 1; n <= 4; n++ {
		require.NotContains(t, string(res.Body), testIDNumber(n), "a holder's ID number never comes back")
	}
	return res
}

// pages fetches every page of q, limit 2 at a time: the first page carries
// the whole filter's totals, later ones only when asked (totals=true), and
// then the same.
func (e *auditEnv) pages(t *testing.T, q url.Values, holderID string) ([]api.AuditRedemption, api.AuditRedemptionPage) {
	t.Helper()
	q.Set("limit", "2")
	var items []api.AuditRedemption
	var first api.AuditRedemptionPage
	for n := 0; ; n++ {
		res := e.get(t, "/v1/audit/redemptions", q, holderID)
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
		page := decode[api.AuditRedemptionPage](t, res.Body)
		if n == 0 {
			first = page
			require.NotNil(t, page.Totals, "the first page carries the totals")
		} else if n%2 == 1 {
			assert.Nil(t, page.Totals, "later pages leave the totals out by default")
		} else {
			assert.Equal(t, first.Totals, page.Totals, "totals asked for on a later page are the whole filter's")
		}
		items = append(items, page.Items...)
		if page.NextCursor == nil {
			return items, first
		}
		require.Less(t, n, 20, "pagination does not end")
		q.Set("cursor", *page.NextCursor)
		if n%2 == 1 {
			q.Set("totals", "true")
		} else {
			q.Del("totals")
		}
	}
}

// pageTotals is the shape of a page's totals.
type pageTotals struct{ Count, DiscountFen, PaidFen int64 }

// sumItems totals listed rows as the history's totals do.
func sumItems(items []api.AuditRedemption) pageTotals {
	var t pageTotals
	for _, it := range items {
		t.Count++
		t.DiscountFen += it.DiscountFen
		if it.PaidFen != nil {
			t.PaidFen += *it.PaidFen
		}
	}
	return t
}

func ids(items []api.AuditRedemption) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Id.String()
	}
	return out
}

func TestAuditRedemptionFilters(t *testing.T) {
	e := newAuditEnv(t)
	c1, c2 := e.campaigns[0], e.campaigns[1]
	at := func(min int) string { return auditBase.Add(time.Duration(min) * time.Minute).Format(time.RFC3339) }
	cases := []struct {
		name   string
		q      url.Values
		holder int
		want   func(seeded) bool
	}{
		{"everything", url.Values{}, 0, func(seeded) bool { return true }},
		{"campaign", url.Values{"campaign_id": {c2}}, 0, func(s seeded) bool { return s.campaign == c2 }},
		{"platform", url.Values{"platform_id": {"tmall"}}, 0, func(s seeded) bool { return s.platform == "tmall" }},
		{"merchant", url.Values{"merchant_id": {"m2"}}, 0, func(s seeded) bool { return s.merchant == "m2" }},
		{"region 6 digits", url.Values{"merchant_region": {"310115"}}, 0, func(s seeded) bool { return s.region == "310115" }},
		{"region 4 digits", url.Values{"merchant_region": {"3101"}}, 0, func(s seeded) bool { return strings.HasPrefix(s.region, "3101") }},
		{"region 2 digits, none", url.Values{"merchant_region": {"32"}}, 0, func(seeded) bool { return false }},
		{"category", url.Values{"category": {"phone"}}, 0, func(s seeded) bool { return s.category == "phone" }},
		{"region and category", url.Values{"merchant_region": {"310115"}, "category": {"phone"}}, 0, func(s seeded) bool {
			return s.region == "310115" && s.category == "phone"
		}},
		{"channel", url.Values{"payment_channel": {"alipay"}}, 0, func(s seeded) bool { return s.channel == "alipay" }},
		{"status", url.Values{"status": {"reserved"}}, 0, func(s seeded) bool { return s.status == "reserved" }},
		{"holder", url.Values{}, 1, func(s seeded) bool { return s.holder == 1 }},
		{"holder without redemptions", url.Values{}, 9, func(seeded) bool { return false }},
		{"time range", url.Values{"from": {at(2)}, "to": {at(5)}}, 0, func(s seeded) bool {
			return !s.at.Before(auditBase.Add(2*time.Minute)) && s.at.Before(auditBase.Add(5*time.Minute))
		}},
		{"combined", url.Values{"campaign_id": {c1}, "status": {"confirmed"}, "merchant_id": {"m2"}}, 2, func(s seeded) bool {
			return s.campaign == c1 && s.status == "confirmed" && s.merchant == "m2" && s.holder == 2
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			holderID := ""
			if tc.holder != 0 {
				holderID = testIDNumber(tc.holder)
			}
			want := []string{}
			var count, discount, paid int64
			for _, s := range e.rows {
				if tc.want(s) {
					want = append(want, s.id)
					count, discount, paid = count+1, discount+s.discount, paid+s.paid
				}
			}
			items, page := e.pages(t, tc.q, holderID)
			assert.Equal(t, want, ids(items), "exactly the matching rows, oldest first, each once")
			assert.Equal(t, count, page.Totals.Count)
			assert.Equal(t, discount, page.Totals.DiscountFen)
			assert.Equal(t, paid, page.Totals.PaidFen, "unpaid rows count as 0")
			assert.Equal(t, sumItems(items), pageTotals(*page.Totals), "the totals are the sum of the rows listed")
		})
	}

	t.Run("fields", func(t *testing.T) {
		items, _ := e.pages(t, url.Values{"merchant_id": {"m2"}, "status": {"confirmed"}}, "")
		require.NotEmpty(t, items)
		it := items[0]
		require.NotNil(t, it.MerchantRegion)
		assert.Equal(t, "310115", *it.MerchantRegion)
		require.NotNil(t, it.MerchantCategory)
		assert.Equal(t, "groceries", *it.MerchantCategory)
		require.NotNil(t, it.PaidFen)
		assert.EqualValues(t, 25000, *it.PaidFen)
		assert.NotNil(t, it.ConfirmedAt)
		assert.NotNil(t, it.ChannelTransactionId)
		require.NotNil(t, it.Holder)
		assert.Len(t, *it.Holder, 64, "the holder is its keyed hash in hex")
	})
}

func TestAuditRedemptionRefusals(t *testing.T) {
	e := newAuditEnv(t)
	bad := e.get(t, "/v1/audit/redemptions", url.Values{"cursor": {"not-a-cursor"}}, "")
	assert.Equal(t, http.StatusBadRequest, bad.Status)
	assert.Equal(t, "VALIDATION_FAILED", bad.errorCode(t))
	assert.Contains(t, string(bad.Body), `"field":"cursor"`)

	wrongCheck := testIDNumber(1)[:17] + "0"
	if wrongCheck == testIDNumber(1) {
		wrongCheck = testIDNumber(1)[:17] + "1"
	}
	for _, path := range []string{"/v1/audit/redemptions", "/v1/audit/redemptions/export"} {
		res := e.get(t, path, url.Values{}, wrongCheck)
		assert.Equal(t, http.StatusBadRequest, res.Status, "%s", res.Body)
		assert.Contains(t, string(res.Body), `"field":"Holder-Id-Number"`)
		assert.NotContains(t, string(res.Body), wrongCheck, "the ID number is not echoed")

		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+e.platformToken())
		forbidden := e.do(req)
		assert.Equal(t, http.StatusForbidden, forbidden.Status, "only auditors read the history")
	}
}

func TestAuditRedemptionHolderWithoutHasher(t *testing.T) {
	e := newIssuerEnv(t) // its audit service has no holder hasher
	req := httptest.NewRequest(http.MethodGet, "/v1/audit/redemptions", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokenFor(auth.RoleAuditor))
	req.Header.Set("Holder-Id-Number", testIDNumber(1))
	res := e.do(req)
	assert.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Body)
	assert.Equal(t, "UNAVAILABLE", res.errorCode(t))
	assert.NotContains(t, string(res.Body), testIDNumber(1))

	plain := e.request(http.MethodGet, "/v1/audit/redemptions", e.tokenFor(auth.RoleAuditor), nil)
	assert.Equal(t, http.StatusOK, plain.Status, "without a holder filter the hasher is not needed")
}

// Rows written while an auditor pages (back-dated, at the cursor, later)
// never make a page repeat a row or skip one that was there at the start.
func TestAuditRedemptionPagingUnderWrites(t *testing.T) {
	e := newAuditEnv(t)
	before := make([]string, len(e.rows))
	for i, s := range e.rows {
		before[i] = s.id
	}
	q := url.Values{"limit": {"2"}}
	var got []string
	for n := 0; ; n++ {
		res := e.get(t, "/v1/audit/redemptions", q, "")
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
		page := decode[api.AuditRedemptionPage](t, res.Body)
		got = append(got, ids(page.Items)...)
		if page.NextCursor == nil {
			break
		}
		require.Less(t, n, 50)
		q.Set("cursor", *page.NextCursor)
		last := page.Items[len(page.Items)-1]
		writes := []time.Time{auditBase, last.CreatedAt}
		if n < 2 {
			writes = append(writes, auditBase.Add(time.Hour+time.Duration(n)*time.Second))
		}
		for _, at := range writes {
			e.copyRedemption(t, before[0], uuid.Must(uuid.NewV7()).String(), "jd", "cancelled", at)
		}
	}
	seen := map[string]bool{}
	for _, id := range got {
		require.False(t, seen[id], "row %s returned twice", id)
		seen[id] = true
	}
	for _, id := range before {
		assert.True(t, seen[id], "row %s present at the start was skipped", id)
	}
	assert.Greater(t, len(got), len(before), "rows added after the cursor show up on later pages")
}

// An auditor pages while another connection keeps inserting redemptions at
// random times among the rows already there, before and after every cursor:
// each row present at the start comes back exactly once, and the pages
// follow one stable (created_at, id) order.
func TestAuditRedemptionPagingConcurrentInserts(t *testing.T) {
	e := newAuditEnv(t)
	ctx := context.Background()
	src := e.rows[0].id
	for i := range 200 {
		e.copyRedemption(t, src, uuid.Must(uuid.NewV7()).String(), "jd", "cancelled", auditBase.Add(time.Duration(i)*3*time.Second))
	}
	rows, err := e.db.Pool.Query(ctx, "SELECT id::text FROM redemptions")
	require.NoError(t, err)
	before, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)

	var inserted atomic.Int64
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			// Up to 20 minutes after the start, the existing rows spanning 10.
			at := auditBase.Add(time.Duration(rng.IntN(20*60_000)) * time.Millisecond)
			if err := e.insertCopy(src, uuid.Must(uuid.NewV7()).String(), "jd", "cancelled", at); err != nil {
				done <- err
				return
			}
			inserted.Add(1)
		}
	}()

	q := url.Values{"limit": {"7"}}
	var got []api.AuditRedemption
	for n := 0; ; n++ {
		res := e.get(t, "/v1/audit/redemptions", q, "")
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
		page := decode[api.AuditRedemptionPage](t, res.Body)
		got = append(got, page.Items...)
		if page.NextCursor == nil {
			break
		}
		require.Less(t, n, 1000, "pagination does not end")
		q.Set("cursor", *page.NextCursor)
		// Let a few inserts land between every two pages.
		for w, deadline := inserted.Load()+3, time.Now().Add(10*time.Second); inserted.Load() < w; {
			require.True(t, time.Now().Before(deadline), "the writer stalled")
			time.Sleep(time.Millisecond)
		}
	}
	close(stop)
	require.NoError(t, <-done)
	t.Logf("%d pages, %d rows returned, %d present at the start, %d inserted while paging", len(got)/7+1, len(got), len(before), inserted.Load())

	seen := map[string]bool{}
	for i, it := range got {
		id := it.Id.String()
		require.False(t, seen[id], "row %s returned twice", id)
		seen[id] = true
		if i > 0 {
			prev := got[i-1]
			require.True(t, prev.CreatedAt.Before(it.CreatedAt) || prev.CreatedAt.Equal(it.CreatedAt) && prev.Id.String() < id,
				"rows %d and %d are out of (created_at, id) order", i-1, i)
		}
	}
	for _, id := range before {
		require.True(t, seen[id], "row %s present at the start was skipped", id)
	}
	assert.Greater(t, len(got), len(before), "rows inserted after the cursor show up on later pages")
}

func TestAuditRedemptionExport(t *testing.T) {
	e := newAuditEnv(t)
	for _, tc := range []struct {
		name   string
		q      url.Values
		holder int
	}{
		{"everything", url.Values{}, 0},
		{"filtered", url.Values{"merchant_id": {"m2"}}, 1},
		{"empty", url.Values{"platform_id": {"nobody"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			holderID := ""
			if tc.holder != 0 {
				holderID = testIDNumber(tc.holder)
			}
			items, _ := e.pages(t, cloneValues(tc.q), holderID)

			q := cloneValues(tc.q)
			q.Set("format", "ndjson")
			res := e.get(t, "/v1/audit/redemptions/export", q, holderID)
			require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
			assert.Equal(t, "application/x-ndjson", res.Header.Get("Content-Type"))
			var lines []api.AuditRedemption
			dec := json.NewDecoder(bytes.NewReader(res.Body))
			for dec.More() {
				var it api.AuditRedemption
				require.NoError(t, dec.Decode(&it))
				lines = append(lines, it)
			}
			assert.Equal(t, items, lines, "NDJSON holds the same rows as the pages")

			q.Set("format", "csv")
			res = e.get(t, "/v1/audit/redemptions/export", q, holderID)
			require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
			assert.True(t, strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv"))
			records, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
			require.NoError(t, err)
			require.NotEmpty(t, records, "the header row is there even with no rows")
			header := records[0]
			assert.Equal(t, "id", header[0])
			col := func(name string) int { return slices.Index(header, name) }
			require.Len(t, records, len(items)+1)
			for i, it := range items {
				row := records[i+1]
				assert.Equal(t, it.Id.String(), row[col("id")])
				assert.Equal(t, *it.Holder, row[col("holder")])
				assert.Equal(t, fmt.Sprint(it.DiscountFen), row[col("discount_fen")])
				assert.Equal(t, it.Status, row[col("status")])
			}
		})
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
