package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// redemptionAcks are the redemptions the clients saw acknowledged, with the
// state their last acknowledged step left them in.
type redemptionAcks struct {
	mu   sync.Mutex
	byID map[string]redAck
}

type redAck struct {
	id, voucher string
	plat        *platform
	state       string // reserved, confirmed, cancelled, refunded
	refunded    int64
}

func (a *redemptionAcks) put(r redAck) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byID[r.id] = r
}

func (a *redemptionAcks) list() []redAck {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]redAck, 0, len(a.byID))
	for _, r := range a.byID {
		out = append(out, r)
	}
	return out
}

func reserveBody(v heldVoucher, amount int64, items []map[string]any) map[string]any {
	return map[string]any{
		"voucher_code": v.code,
		"holder":       map[string]any{"id_number": idNumber(v.holder)},
		"order": map[string]any{
			"order_no": "o-" + v.code, "merchant_id": merchantID, "amount_fen": amount, "currency": "CNY", "items": items,
		},
		"payment_channel": "alipay",
	}
}

func confirmBody(code string, paid int64) map[string]any {
	return map[string]any{"payment_channel": "alipay", "channel_transaction_id": "txn-" + code, "paid_fen": paid}
}

// reserve holds v for an order of amount and records the acknowledged
// reservation; ok is false when it was refused or never answered.
func (b *bench) reserve(ctx context.Context, acks *redemptionAcks, v heldVoucher, amount int64, items []map[string]any,
	scheduled time.Time, rng *rand.Rand) (redAck, bool) {
	res, err := b.step(ctx, "reserve", scheduled, jsonRequest(http.MethodPost, "/v1/redemptions", v.plat.token, "res-"+v.code, reserveBody(v, amount, items)), rng)
	if err != nil || !res.ok() {
		return redAck{}, false
	}
	var red struct{ ID string }
	if json.Unmarshal(res.body, &red) != nil {
		return redAck{}, false
	}
	ack := redAck{id: red.ID, voucher: v.code, plat: v.plat, state: "reserved"}
	acks.put(ack)
	return ack, true
}

// step performs one idempotent checkout call; one in ten is replayed with
// the same key, a third of those at the same time as the first request.
func (b *bench) step(ctx context.Context, op string, started time.Time, r request, rng *rand.Rand) (reply, error) {
	x := rng.Float64()
	if x < 0.1/3 {
		var first, second reply
		var err1, err2 error
		var wg sync.WaitGroup
		wg.Go(func() { first, err1 = b.call(ctx, op, started, r) })
		wg.Go(func() { second, err2 = b.call(ctx, "replay", time.Now(), r) })
		wg.Wait()
		if err1 != nil {
			return first, err1
		}
		b.sameAnswer(op+" "+r.key+" (concurrent)", first, second, err2)
		return first, nil
	}
	first, err := b.call(ctx, op, started, r)
	if err != nil {
		return first, err
	}
	if x < 0.1 {
		again, err := b.call(ctx, "replay", time.Now(), r)
		b.sameAnswer(op+" "+r.key, first, again, err)
	}
	return first, nil
}

// redeemMix: reserve, then confirm 90 %, cancel 5 %, confirm and refund
// (half fully, half partly) 3 %, leave 2 % to expire.
func redeemMix(ctx context.Context, b *bench) error {
	n := min(b.opt.stock, b.shape.count)
	camp, err := b.env.newCampaign(ctx, campaignSpec{kind: "consumption", stock: n, budgetFen: int64(n) * discountFen, holdMinutes: 2})
	if err != nil {
		return err
	}
	setup := time.Now()
	vouchers, refused, err := b.env.claimAll(ctx, camp.id, n, false)
	if err != nil {
		return err
	}
	b.note("setup: %d vouchers claimed in %s%s", len(vouchers), time.Since(setup).Round(time.Millisecond), refusedNote(refused))
	b.checks = append(b.checks, func(ctx context.Context) invariant { return b.roundStock(ctx, camp) })
	n = len(vouchers)
	acks := &redemptionAcks{byID: map[string]redAck{}}
	items := []map[string]any{{"sku": "rice-cooker", "category": "appliances", "unit_price_fen": orderFen, "quantity": 1}}
	b.shape.count = n
	_, b.elapsed = drive(ctx, b.shape, func(ctx context.Context, i int, scheduled time.Time) {
		v := vouchers[i]
		rng := b.rng(i)
		fate := rng.Float64()
		ack, ok := b.reserve(ctx, acks, v, orderFen, items, scheduled, rng)
		if !ok {
			return
		}
		base := "/v1/redemptions/" + ack.id
		switch {
		case fate < 0.95 && fate >= 0.90:
			r, err := b.step(ctx, "cancel", time.Now(), request{method: http.MethodPost, path: base + "/cancel", token: v.plat.token, key: "can-" + v.code}, rng)
			if err == nil && r.ok() {
				ack.state = "cancelled"
				acks.put(ack)
			}
			return
		case fate >= 0.98:
			return // left to expire
		}
		r, err := b.step(ctx, "confirm", time.Now(), jsonRequest(http.MethodPost, base+"/confirm", v.plat.token, "con-"+v.code, confirmBody(v.code, paidFen)), rng)
		if err != nil || !r.ok() {
			return
		}
		ack.state = "confirmed"
		acks.put(ack)
		if fate < 0.95 {
			return
		}
		amount := int64(paidFen)
		if rng.IntN(2) == 0 {
			amount = 10000
		}
		r, err = b.step(ctx, "refund", time.Now(), jsonRequest(http.MethodPost, base+"/refunds", v.plat.token, "ref-"+v.code,
			map[string]any{"refund_no": "rf-" + v.code, "refund_fen": amount}), rng)
		if err == nil && r.ok() {
			ack.refunded = amount
			if amount == paidFen {
				ack.state = "refunded"
			}
			acks.put(ack)
		}
	})
	b.checks = append(b.checks,
		func(ctx context.Context) invariant { return b.oneConfirmed(ctx, camp.id, acks) },
		func(ctx context.Context) invariant { return b.redemptionsExist(ctx, acks) },
		b.replayInvariant,
	)
	return nil
}

func refusedNote(refused map[string]int) string {
	if len(refused) == 0 {
		return ""
	}
	return fmt.Sprintf(" (refused: %v)", refused)
}

const (
	tradeInPrice   = 300000
	tradeInSubsidy = tradeInPrice * 1500 / 10000 // 15 %, under the ¥500 cap
)

// tradeInHotBudget: every reservation draws on one trade-in campaign's
// subsidy budget, sized for half the holders, until it runs out.
func tradeInHotBudget(ctx context.Context, b *bench) error {
	n := min(b.opt.stock, b.shape.count)
	funded := int64(max(n/2, 1)) * tradeInSubsidy
	camp, err := b.env.newCampaign(ctx, campaignSpec{kind: "trade_in", budgetFen: funded})
	if err != nil {
		return err
	}
	setup := time.Now()
	quals, refused, err := b.env.claimAll(ctx, camp.id, n, true)
	if err != nil {
		return err
	}
	b.note("setup: %d phone qualifications in %s%s; the budget pays %d subsidies of %d fen", len(quals), time.Since(setup).Round(time.Millisecond),
		refusedNote(refused), funded/tradeInSubsidy, tradeInSubsidy)
	n = len(quals)
	acks := &redemptionAcks{byID: map[string]redAck{}}
	b.shape.count = n
	_, b.elapsed = drive(ctx, b.shape, func(ctx context.Context, i int, scheduled time.Time) {
		v := quals[i]
		rng := b.rng(i)
		items := []map[string]any{{"sku": "phone-x", "category": "phone", "unit_price_fen": tradeInPrice, "quantity": 1,
			"serial_number": fmt.Sprintf("SN-%s-%d", b.env.run, i)}}
		ack, ok := b.reserve(ctx, acks, v, tradeInPrice, items, scheduled, rng)
		if !ok {
			return
		}
		r, err := b.step(ctx, "confirm", time.Now(), jsonRequest(http.MethodPost, "/v1/redemptions/"+ack.id+"/confirm", v.plat.token, "con-"+v.code,
			confirmBody(v.code, tradeInPrice-tradeInSubsidy)), rng)
		if err == nil && r.ok() {
			ack.state = "confirmed"
			acks.put(ack)
		}
	})
	b.checks = append(b.checks,
		func(ctx context.Context) invariant { return b.budgetNotOverspent(ctx, camp.id, funded, acks) },
		func(ctx context.Context) invariant { return b.oneConfirmed(ctx, camp.id, acks) },
		func(ctx context.Context) invariant { return b.redemptionsExist(ctx, acks) },
		b.replayInvariant,
	)
	return nil
}

// budgetNotOverspent: what the clients were granted fits the budget, and
// the ledger holds exactly the acknowledged subsidies.
func (b *bench) budgetNotOverspent(ctx context.Context, campaignID string, funded int64, acks *redemptionAcks) invariant {
	const name = "subsidy budget never overspent"
	var confirmed, held int64
	for _, a := range acks.list() {
		switch a.state {
		case "confirmed":
			confirmed++
		case "reserved":
			held++
		}
	}
	x, err := b.budget(ctx, campaignID)
	if err != nil {
		return fail(name, "%v", err)
	}
	granted := (confirmed + held) * tradeInSubsidy
	switch {
	case granted > funded:
		return fail(name, "clients were granted %d fen of subsidy from a budget of %d", granted, funded)
	case x.Payable+x.Held+x.Settled > x.Funded || x.Available < 0:
		return fail(name, "budget %+v is overspent", x)
	case b.env.c.unresolved.Load() == 0 && x.Payable != confirmed*tradeInSubsidy:
		return fail(name, "payable %d fen, but %d confirmations of %d fen were acknowledged", x.Payable, confirmed, tradeInSubsidy)
	}
	return pass(name, "%d subsidies confirmed (%d fen) of a %d fen budget; available %d", confirmed, confirmed*tradeInSubsidy, funded, x.Available)
}

// oneConfirmed: at most one confirmed redemption per voucher.
func (b *bench) oneConfirmed(ctx context.Context, campaignID string, acks *redemptionAcks) invariant {
	const name = "at most one confirmed redemption per voucher"
	seen := map[string]string{}
	for _, a := range acks.list() {
		if a.state != "confirmed" && a.state != "refunded" {
			continue
		}
		if other, ok := seen[a.voucher]; ok && other != a.id {
			return fail(name, "voucher %s: redemptions %s and %s both acknowledged as confirmed", a.voucher, other, a.id)
		}
		seen[a.voucher] = a.id
	}
	if b.db != nil {
		var doubles int64
		if err := b.db.read(ctx, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT voucher_id FROM redemptions WHERE status = 'confirmed'
				GROUP BY voucher_id HAVING count(*) > 1) d`).Scan(&doubles)
		}); err != nil {
			return fail(name, "SQL: %v", err)
		}
		if doubles > 0 {
			return fail(name, "%d vouchers have more than one confirmed redemption (SQL)", doubles)
		}
	}
	return pass(name, "%d vouchers acknowledged confirmed, each once", len(seen))
}

// redemptionsExist: every acknowledged step is there, in the state the
// client was last told.
func (b *bench) redemptionsExist(ctx context.Context, acks *redemptionAcks) invariant {
	const name = "acknowledged redemptions exist"
	all := acks.list()
	matches := func(a redAck, status string, refunded int64) bool {
		switch a.state {
		case "reserved":
			// Left alone it expires; a confirm or cancel whose answer was
			// lost (an unresolved call) may have gone through.
			return status == "reserved" || status == "expired" ||
				b.env.c.unresolved.Load() > 0 && (status == "confirmed" || status == "cancelled")
		case "confirmed":
			return (status == "confirmed" || b.env.c.unresolved.Load() > 0 && status == "refunded") && refunded >= a.refunded
		default:
			return status == a.state && refunded >= a.refunded
		}
	}
	if b.db != nil {
		ids := make([]string, len(all))
		for i, a := range all {
			ids[i] = a.id
		}
		stored := map[string][2]any{}
		err := b.db.read(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT id::text, status, refunded_fen FROM redemptions WHERE id = ANY($1::uuid[])`, ids)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id, status string
				var refunded int64
				if err := rows.Scan(&id, &status, &refunded); err != nil {
					return err
				}
				stored[id] = [2]any{status, refunded}
			}
			return rows.Err()
		})
		if err != nil {
			return fail(name, "SQL: %v", err)
		}
		for _, a := range all {
			s, ok := stored[a.id]
			if !ok {
				return fail(name, "redemption %s (voucher %s), acknowledged %s, is missing (SQL)", a.id, a.voucher, a.state)
			}
			if !matches(a, s[0].(string), s[1].(int64)) {
				return fail(name, "redemption %s acknowledged %s (refunded %d) is %s (refunded %d) (SQL)", a.id, a.state, a.refunded, s[0], s[1])
			}
		}
		return pass(name, "%d acknowledged redemptions stored as acknowledged", len(all))
	}
	sample := all[:min(len(all), 300)]
	for _, a := range sample {
		var got struct {
			Status      string `json:"status"`
			RefundedFen int64  `json:"refunded_fen"`
		}
		if err := b.env.c.must(ctx, jsonRequest(http.MethodGet, "/v1/redemptions/"+a.id, a.plat.token, "", nil), http.StatusOK, &got); err != nil {
			return fail(name, "redemption %s: %v", a.id, err)
		}
		if !matches(a, got.Status, got.RefundedFen) {
			return fail(name, "redemption %s acknowledged %s is %s", a.id, a.state, got.Status)
		}
	}
	return pass(name, "%d acknowledged redemptions; %d sampled through the API, each as acknowledged", len(all), len(sample))
}
