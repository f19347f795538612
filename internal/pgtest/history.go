package pgtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/holder"
)

// History shapes a generated redemption history: the sizes of what the rows
// refer to and the span of their timestamps. Zero fields take the defaults
// of DefaultHistory.
type History struct {
	Rows      int
	Campaigns int // every fourth one is a trade-in campaign
	Platforms int
	Merchants int // spread over the platforms, HistoryRegions and HistoryCategories
	Holders   int
	Start     time.Time
	Span      time.Duration
	Seed      uint64
}

// DefaultHistory is a city-scale program: 20 campaigns on 10 platforms,
// 50,000 merchants and 3 million holders over 60 days.
var DefaultHistory = History{
	Campaigns: 20, Platforms: 10, Merchants: 50_000, Holders: 3_000_000,
	Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Span: 60 * 24 * time.Hour, Seed: 1,
}

// HistoryRegions are 30 district codes in three provinces (prefixes 31, 32, 33).
var HistoryRegions = func() []string {
	var out []string
	for _, p := range []string{"31", "32", "33"} {
		for city := 1; city <= 2; city++ {
			for d := 1; d <= 5; d++ {
				out = append(out, fmt.Sprintf("%s%02d%02d", p, city, d))
			}
		}
	}
	return out
}()

// HistoryCategories are the merchants' 15 categories.
var HistoryCategories = []string{
	"appliances", "phones", "computers", "groceries", "restaurants", "apparel", "furniture", "hotels",
	"cars", "books", "sports", "beauty", "toys", "pharmacy", "travel",
}

// HistoryTradeInCategories are the categories a trade-in redemption carries.
var HistoryTradeInCategories = []string{
	"air_conditioner", "refrigerator", "washing_machine", "television", "phone", "tablet", "watch", "computer",
}

// HistoryChannels are the six payment channels.
var HistoryChannels = []string{"alipay", "wechat_pay", "unionpay", "jd_pay", "ecny", "bank_card"}

// HistoryStatuses is the status mix, mostly confirmed.
var HistoryStatuses = []struct {
	Status  string
	Percent int
}{{"confirmed", 85}, {"refunded", 5}, {"cancelled", 5}, {"expired", 4}, {"reserved", 1}}

// HistoryPlatform is the id of the i-th platform of a generated history.
func HistoryPlatform(i int) string { return fmt.Sprintf("plat%02d", i) }

// HistoryMerchant is the id of the i-th merchant of a generated history.
func HistoryMerchant(i int) string { return fmt.Sprintf("m%06d", i) }

// HistoryCampaign is the id of the i-th campaign of a generated history.
func HistoryCampaign(i int) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], uint64(i)+1)
	u[6], u[8] = 0x70, 0x80 // version 7, RFC 4122 variant
	return u
}

// HistoryHasher is the holder hasher of generated histories: a service
// built with it finds holder i by HistoryIDNumber(i).
var HistoryHasher = func() *holder.Hasher {
	h, err := holder.NewHasher([]byte("tongquan generated history holder key"))
	if err != nil {
		panic(err)
	}
	return h
}()

// HistoryIDNumber is the resident ID number of holder i: born in Shanghai
// Huangpu on a day after 1950-01-01, with i's last three digits as sequence.
func HistoryIDNumber(i int) string {
	born := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/1000)
	first := fmt.Sprintf("310101%s%03d", born.Format("20060102"), i%1000)
	c, err := holder.CheckChar(first)
	if err != nil {
		panic(err)
	}
	return first + string(c)
}

// HistoryHolder is the keyed hash stored for holder i.
func HistoryHolder(i int) holder.Hash { return HistoryHasher.Hash(HistoryIDNumber(i)) }

// MerchantOf gives merchant i's platform, region and category.
func (h History) MerchantOf(i int) (platform int, region, category string) {
	h = h.withDefaults()
	return i % h.Platforms, HistoryRegions[(i/h.Platforms)%len(HistoryRegions)],
		HistoryCategories[(i*7+i/len(HistoryRegions))%len(HistoryCategories)]
}

func (h History) withDefaults() History {
	d := DefaultHistory
	if h.Campaigns == 0 {
		h.Campaigns = d.Campaigns
	}
	if h.Platforms == 0 {
		h.Platforms = d.Platforms
	}
	if h.Merchants == 0 {
		h.Merchants = d.Merchants
	}
	if h.Holders == 0 {
		h.Holders = d.Holders
	}
	if h.Start.IsZero() {
		h.Start = d.Start
	}
	if h.Span == 0 {
		h.Span = d.Span
	}
	return h
}

// SeedHistory loads h into an empty migrated database: platforms, merchants
// and campaigns with INSERT, then h.Rows redemptions with COPY, in created_at
// order as a live system writes them. The redemptions' secondary indexes are
// dropped for the load and rebuilt after it, and the tables analyzed.
//
// Vouchers are not generated: the load runs with session_replication_role =
// replica so the voucher foreign key is not checked, which needs a superuser
// (the local test server is one).
func SeedHistory(ctx context.Context, pool *pgxpool.Pool, h History) error {
	h = h.withDefaults()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// The settings stay on this connection only; it is closed, not reused.
	defer conn.Conn().Close(context.Background())
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica; SET maintenance_work_mem = '512MB'`); err != nil {
		return fmt.Errorf("bulk-load settings: %w", err)
	}
	if err := seedRegistry(ctx, conn.Conn(), h); err != nil {
		return err
	}
	var indexes []string
	rows, err := conn.Query(ctx, `SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
		FROM pg_index i WHERE i.indrelid = 'redemptions'::regclass
		AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`)
	if err != nil {
		return err
	}
	var drops []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return err
		}
		drops, indexes = append(drops, name), append(indexes, def)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range drops {
		if _, err := conn.Exec(ctx, "DROP INDEX "+name); err != nil {
			return err
		}
	}
	if _, err := conn.Conn().CopyFrom(ctx, pgx.Identifier{"redemptions"}, historyColumns, &historyRows{h: h, rng: rand.New(rand.NewPCG(h.Seed, 7))}); err != nil {
		return fmt.Errorf("copy redemptions: %w", err)
	}
	for _, def := range indexes {
		if _, err := conn.Exec(ctx, def); err != nil {
			return fmt.Errorf("rebuild index: %w", err)
		}
	}
	for _, sql := range []string{"VACUUM ANALYZE redemptions", "ANALYZE merchants", "ANALYZE campaigns"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return err
		}
	}
	return nil
}

func seedRegistry(ctx context.Context, conn *pgx.Conn, h History) error {
	batch := &pgx.Batch{}
	for p := range h.Platforms {
		batch.Queue(`INSERT INTO platforms (id, name) VALUES ($1, $1)`, HistoryPlatform(p))
	}
	for c := range h.Campaigns {
		kind := "consumption"
		if c%4 == 3 {
			kind = "trade_in"
		}
		batch.Queue(`INSERT INTO campaigns (id, kind, name, authority, currency, time_zone, starts_at, ends_at,
			budget_fen, hold_minutes, rules, status, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, 'Commission of Commerce', 'CNY', 'Asia/Shanghai', $4, $5, 10000000000, 15, '{}', 'active', 'seed', $4, $4)`,
			HistoryCampaign(c), kind, fmt.Sprintf("campaign %d", c), h.Start, h.Start.Add(h.Span))
	}
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("seed platforms and campaigns: %w", err)
	}
	src := pgx.CopyFromSlice(h.Merchants, func(i int) ([]any, error) {
		p, region, category := h.MerchantOf(i)
		return []any{HistoryPlatform(p), HistoryMerchant(i), fmt.Sprintf("merchant %d", i),
			fmt.Sprintf("91%s%010d", region, i), region, category, "online"}, nil
	})
	_, err := conn.CopyFrom(ctx, pgx.Identifier{"merchants"},
		[]string{"platform_id", "merchant_id", "name", "uscc", "region", "category", "channel"}, src)
	if err != nil {
		return fmt.Errorf("seed merchants: %w", err)
	}
	return nil
}

var historyColumns = []string{
	"id", "platform_id", "order_no", "voucher_id", "voucher_code", "campaign_id", "kind", "holder_hash", "merchant_id",
	"amount_fen", "discount_fen", "min_spend_fen", "payment_channel", "channel_txn_id", "paid_fen", "status",
	"category", "hold_expires_at", "confirmed_at", "refunded_fen", "clawed_back_fen", "created_at", "updated_at",
}

// historyRows generates the redemptions one at a time, so a load of any
// size holds one row in memory.
type historyRows struct {
	h   History
	rng *rand.Rand
	i   int
	row []any
}

func (s *historyRows) Next() bool {
	if s.i >= s.h.Rows {
		return false
	}
	s.row = s.generate(s.i)
	s.i++
	return true
}

func (s *historyRows) Values() ([]any, error) { return s.row, nil }
func (s *historyRows) Err() error             { return nil }

func (s *historyRows) generate(i int) []any {
	h, rng := s.h, s.rng
	at := h.Start.Add(time.Duration(int64(h.Span) / int64(h.Rows) * int64(i))).Truncate(time.Microsecond)
	// Merchants and campaigns are skewed: a few are much busier than the rest.
	m := int(float64(h.Merchants) * rng.Float64() * rng.Float64())
	platform, _, _ := h.MerchantOf(m)
	c := int(float64(h.Campaigns) * rng.Float64() * rng.Float64())
	kind, category := "consumption", any(nil)
	amount := int64(5_000 + rng.IntN(200_000))
	discount := min(amount/4, int64(5_000))
	if c%4 == 3 {
		kind, category = "trade_in", HistoryTradeInCategories[rng.IntN(len(HistoryTradeInCategories))]
		amount = int64(100_000 + rng.IntN(1_000_000))
		discount = min(amount*15/100, 200_000)
	}
	status := historyStatus(rng.IntN(100))
	channel := HistoryChannels[rng.IntN(len(HistoryChannels))]
	var txn, paid, confirmed any
	refunded, clawed := int64(0), int64(0)
	if status == "confirmed" || status == "refunded" {
		txn, paid, confirmed = fmt.Sprintf("tx%010d", i), amount-discount, at.Add(time.Minute)
		if status == "refunded" {
			refunded, clawed = amount-discount, discount
		}
	}
	id := uuid.UUID{}
	binary.BigEndian.PutUint64(id[:8], uint64(at.UnixMilli())<<16|0x7000|uint64(rng.IntN(0x1000)))
	binary.BigEndian.PutUint64(id[8:], rng.Uint64()&0x3fffffffffffffff|0x8000000000000000)
	hh := HistoryHolder(rng.IntN(h.Holders))
	return []any{
		id, HistoryPlatform(platform), fmt.Sprintf("o%010d", i), uuid.UUID(s.randomUUID()), fmt.Sprintf("V%012d", i),
		HistoryCampaign(c), kind, hh[:], HistoryMerchant(m),
		amount, discount, int64(0), channel, txn, paid, status, category, at.Add(15 * time.Minute), confirmed,
		refunded, clawed, at, at,
	}
}

// historyStatus picks a status by its share of p in [0, 100).
func historyStatus(p int) string {
	for _, st := range HistoryStatuses {
		if p < st.Percent {
			return st.Status
		}
		p -= st.Percent
	}
	return HistoryStatuses[0].Status
}

func (s *historyRows) randomUUID() [16]byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], s.rng.Uint64())
	binary.BigEndian.PutUint64(u[8:], s.rng.Uint64())
	u[6], u[8] = u[6]&0x0f|0x40, u[8]&0x3f|0x80
	return u
}
