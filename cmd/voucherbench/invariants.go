package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// readDB is the read-only SQL view the invariants use besides the API:
// every query runs in a READ ONLY transaction.
type readDB struct {
	mu   sync.Mutex
	conn *pgx.Conn
}

func openReadDB(ctx context.Context, dsn string) (*readDB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &readDB{conn: conn}, nil
}

func (d *readDB) close() { _ = d.conn.Close(context.Background()) }

// read runs f in one read-only, repeatable-read transaction.
func (d *readDB) read(ctx context.Context, f func(pgx.Tx) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	return f(tx)
}

func pass(name, format string, args ...any) invariant {
	return invariant{Name: name, OK: true, Detail: fmt.Sprintf(format, args...)}
}

func fail(name, format string, args ...any) invariant {
	return invariant{Name: name, OK: false, Detail: fmt.Sprintf(format, args...)}
}

// roundStock: stock + claims = initial quantity, for every round of the
// campaign, through the API and (with SQL) from the rows themselves.
func (b *bench) roundStock(ctx context.Context, camp *campaign) invariant {
	const name = "stock + claims = initial"
	rounds, err := b.env.rounds(ctx, camp.id)
	if err != nil {
		return fail(name, "listing rounds: %v", err)
	}
	var details []string
	for _, r := range rounds {
		if r.Remaining+r.Claimed != r.Quantity {
			return fail(name, "round %s (API): remaining %d + claimed %d != quantity %d", r.ID, r.Remaining, r.Claimed, r.Quantity)
		}
		details = append(details, fmt.Sprintf("API %d + %d = %d", r.Remaining, r.Claimed, r.Quantity))
	}
	if b.db != nil {
		var bad string
		err := b.db.read(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `
				SELECT r.id::text, r.quantity, r.returned,
				       coalesce((SELECT sum(s.remaining) FROM round_stock s WHERE s.round_id = r.id), 0)::bigint,
				       (SELECT count(*) FROM vouchers v WHERE v.round_id = r.id)
				FROM rounds r WHERE r.campaign_id = $1::uuid`, camp.id)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				var qty, returned, stock, claims int64
				if err := rows.Scan(&id, &qty, &returned, &stock, &claims); err != nil {
					return err
				}
				if stock+claims != qty && stock+claims+returned != qty {
					bad = fmt.Sprintf("round %s (SQL): stock %d + vouchers %d (+ returned %d) != quantity %d", id, stock, claims, returned, qty)
				} else {
					details = append(details, fmt.Sprintf("SQL %d + %d = %d", stock, claims, qty))
				}
			}
			return rows.Err()
		})
		if err != nil {
			return fail(name, "SQL: %v", err)
		}
		if bad != "" {
			return fail(name, "%s", bad)
		}
	}
	return pass(name, "%s", strings.Join(details, "; "))
}

// claimsExist: every voucher a client was given exists, and (when no call
// was left without an answer) the round claimed exactly those.
func (b *bench) claimsExist(ctx context.Context, camp *campaign, acks *claimAcks) invariant {
	const name = "acknowledged claims exist"
	acks.mu.Lock()
	ids := make([]string, 0, len(acks.byID))
	holders := make([]int, 0, len(acks.byHolder))
	for id := range acks.byID {
		ids = append(ids, id)
	}
	for h := range acks.byHolder {
		holders = append(holders, h)
	}
	acks.mu.Unlock()
	unresolved := b.env.c.unresolved.Load()
	rounds, err := b.env.rounds(ctx, camp.id)
	if err != nil {
		return fail(name, "listing rounds: %v", err)
	}
	var claimed int64
	for _, r := range rounds {
		claimed += r.Claimed
	}
	if unresolved == 0 && claimed != int64(len(ids)) {
		return fail(name, "the round counts %d claims; the clients were given %d vouchers", claimed, len(ids))
	}
	if b.db != nil {
		var found int64
		if err := b.db.read(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM vouchers WHERE campaign_id = $1::uuid AND id = ANY($2::uuid[])`, camp.id, ids).Scan(&found)
		}); err != nil {
			return fail(name, "SQL: %v", err)
		}
		if found != int64(len(ids)) {
			return fail(name, "%d of %d acknowledged vouchers are missing (SQL)", int64(len(ids))-found, len(ids))
		}
		return pass(name, "%d acknowledged vouchers, all stored; the round counts %d", len(ids), claimed)
	}
	// API only: a sample of the holders' wallets.
	sample := holders[:min(len(holders), 200)]
	for _, h := range sample {
		vouchers, err := b.wallet(ctx, h)
		if err != nil {
			return fail(name, "wallet of holder %d: %v", h, err)
		}
		acks.mu.Lock()
		want := acks.byHolder[h]
		acks.mu.Unlock()
		for id := range want {
			if !vouchers[id] {
				return fail(name, "voucher %s acknowledged to holder %d is not in the wallet", id, h)
			}
		}
	}
	return pass(name, "%d acknowledged vouchers; the round counts %d; %d wallets sampled", len(ids), claimed, len(sample))
}

func (b *bench) wallet(ctx context.Context, holder int) (map[string]bool, error) {
	var list struct {
		Items []struct{ ID string }
	}
	p := b.env.platforms[0]
	err := b.env.c.must(ctx, jsonRequest(http.MethodPost, "/v1/wallet", p.token, fmt.Sprintf("wallet-%d-%d", holder, time.Now().UnixNano()),
		map[string]any{"holder": map[string]any{"id_number": idNumber(holder)}}), http.StatusOK, &list)
	out := map[string]bool{}
	for _, v := range list.Items {
		out[v.ID] = true
	}
	return out, err
}

// holderLimits: no holder above the per-campaign limit, as the clients saw
// it and as stored.
func (b *bench) holderLimits(ctx context.Context, campaignID string, acks *claimAcks, limit int) invariant {
	const name = "no holder above a limit"
	acks.mu.Lock()
	for h, ids := range acks.byHolder {
		if len(ids) > limit {
			acks.mu.Unlock()
			return fail(name, "holder %d was given %d vouchers (limit %d)", h, len(ids), limit)
		}
	}
	holders := len(acks.byHolder)
	acks.mu.Unlock()
	if b.db != nil {
		var over, worst int64
		if err := b.db.read(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `
				SELECT count(*), coalesce(max(n), 0) FROM (
					SELECT count(*) AS n FROM vouchers
					WHERE campaign_id = $1::uuid AND source = 'claim'
					GROUP BY holder_hash, coalesce(tier_id, category) HAVING count(*) > $2) o`, campaignID, limit).Scan(&over, &worst)
		}); err != nil {
			return fail(name, "SQL: %v", err)
		}
		if over > 0 {
			return fail(name, "%d holders hold more than %d (up to %d) (SQL)", over, limit, worst)
		}
		var quota int64
		if err := b.db.read(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM holder_quota WHERE campaign_id = $1::uuid AND used > lim`, campaignID).Scan(&quota)
		}); err != nil {
			return fail(name, "SQL: %v", err)
		}
		if quota > 0 {
			return fail(name, "%d quota rows above their limit (SQL)", quota)
		}
	}
	return pass(name, "%d holders served, none above %d", holders, limit)
}

type budget struct {
	Funded    int64 `json:"funded_fen"`
	Available int64 `json:"available_fen"`
	Allocated int64 `json:"allocated_fen"`
	Committed int64 `json:"committed_fen"`
	Held      int64 `json:"held_fen"`
	Payable   int64 `json:"payable_fen"`
	Settled   int64 `json:"settled_fen"`
}

func (x budget) balanced() bool {
	return x.Funded == x.Available+x.Allocated+x.Committed+x.Held+x.Payable+x.Settled &&
		x.Available >= 0 && x.Allocated >= 0 && x.Committed >= 0 && x.Held >= 0 && x.Payable >= 0 && x.Settled >= 0
}

func (b *bench) budget(ctx context.Context, campaignID string) (budget, error) {
	var x budget
	err := b.env.c.must(ctx, jsonRequest(http.MethodGet, "/v1/campaigns/"+campaignID+"/budget", b.env.aud, "", nil), http.StatusOK, &x)
	return x, err
}

// budgets: every funded campaign's budget identity holds (funded =
// available + allocated + committed + held + payable + settled, none
// negative).
func (b *bench) budgets(ctx context.Context) invariant {
	const name = "budget identity of every campaign"
	checked := 0
	cursor := ""
	for {
		q := url.Values{"limit": {"500"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Items []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			}
			NextCursor string `json:"next_cursor"`
		}
		if err := b.env.c.must(ctx, jsonRequest(http.MethodGet, "/v1/campaigns?"+q.Encode(), b.env.aud, "", nil), http.StatusOK, &page); err != nil {
			return fail(name, "listing campaigns: %v", err)
		}
		for _, c := range page.Items {
			switch c.Status {
			case "draft", "submitted", "cancelled":
				continue // never funded
			}
			x, err := b.budget(ctx, c.ID)
			if err != nil {
				return fail(name, "campaign %s: %v", c.ID, err)
			}
			if !x.balanced() {
				return fail(name, "campaign %s: %+v does not add up", c.ID, x)
			}
			checked++
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	return pass(name, "%d funded campaigns add up", checked)
}

// auditVerify: the hash chain and every ledger balance check out; waits a
// little for the sealer to take in the run's last events.
func (b *bench) auditVerify(ctx context.Context) []invariant {
	var rep struct {
		OK             bool              `json:"ok"`
		AuditBlocks    int64             `json:"audit_blocks"`
		AuditEvents    int64             `json:"audit_events"`
		UnsealedEvents int64             `json:"unsealed_events"`
		FirstFault     json.RawMessage   `json:"first_fault"`
		LedgerFaults   []json.RawMessage `json:"ledger_faults"`
	}
	deadline := time.Now().Add(b.opt.sealWait)
	for {
		if err := b.env.c.must(ctx, jsonRequest(http.MethodGet, "/v1/audit/verify", b.env.aud, "", nil), http.StatusOK, &rep); err != nil {
			return []invariant{fail("audit chain verifies", "%v", err)}
		}
		if rep.UnsealedEvents == 0 || !rep.OK || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	ledger := pass("ledger balances", "every balance equals its entries")
	if len(rep.LedgerFaults) > 0 {
		ledger = fail("ledger balances", "%d faults, first %s", len(rep.LedgerFaults), rep.LedgerFaults[0])
	}
	chain := pass("audit chain verifies", "%d blocks, %d events, %d not yet sealed", rep.AuditBlocks, rep.AuditEvents, rep.UnsealedEvents)
	if !rep.OK && len(rep.LedgerFaults) == 0 || len(rep.FirstFault) > 0 && string(rep.FirstFault) != "null" {
		chain = fail("audit chain verifies", "first fault %s", rep.FirstFault)
	}
	return []invariant{ledger, chain}
}

// ledgerSQL: every balance row equals the sum of its entries and every
// transfer's entries sum to zero, read from the tables.
func (b *bench) ledgerSQL(ctx context.Context) invariant {
	const name = "ledger balances (SQL)"
	var wrong, open, rows int64
	err := b.db.read(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE b.balance_fen <> coalesce(e.s, 0)), count(*)
			FROM ledger_balances b
			LEFT JOIN (SELECT campaign_id, account, bucket, sum(amount_fen) AS s FROM ledger_entries GROUP BY 1, 2, 3) e
			USING (campaign_id, account, bucket)`).Scan(&wrong, &rows); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT transfer_id FROM ledger_entries GROUP BY transfer_id HAVING sum(amount_fen) <> 0) t`).Scan(&open)
	})
	switch {
	case err != nil:
		return fail(name, "%v", err)
	case wrong > 0:
		return fail(name, "%d of %d balance rows differ from the sum of their entries", wrong, rows)
	case open > 0:
		return fail(name, "%d transfers do not sum to zero", open)
	}
	return pass(name, "%d balance rows equal their entries; every transfer sums to zero", rows)
}
