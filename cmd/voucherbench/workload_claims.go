package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// claimAcks are the claims the clients saw succeed, by voucher id, and the
// vouchers each holder was given.
type claimAcks struct {
	mu       sync.Mutex
	byID     map[string]int // voucher id -> holder
	byHolder map[int]map[string]bool
}

func newClaimAcks() *claimAcks {
	return &claimAcks{byID: map[string]int{}, byHolder: map[int]map[string]bool{}}
}

func (a *claimAcks) add(holder int, body []byte) {
	var v struct{ ID string }
	if json.Unmarshal(body, &v) != nil || v.ID == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byID[v.ID] = holder
	if a.byHolder[holder] == nil {
		a.byHolder[holder] = map[string]bool{}
	}
	a.byHolder[holder][v.ID] = true
}

// refusedOrDuplicate files the refused first claims (claim-refused) and the
// duplicates (claim-duplicate) together, the population of the sold-out
// target: its p99 is the p99 of all those answers, which neither group's
// own p99 is.
const refusedOrDuplicate = "refused-or-duplicate"

// claimBurst: distinct holders against a round smaller than the crowd;
// 15 % of holders send a duplicate or a retry, 3 % claim through two
// platforms at once.
func claimBurst(ctx context.Context, b *bench) error {
	stock := b.opt.stock
	camp, err := b.env.newCampaign(ctx, campaignSpec{kind: "consumption", stock: stock, budgetFen: int64(stock) * discountFen})
	if err != nil {
		return err
	}
	acks := newClaimAcks()
	path := "/v1/campaigns/" + camp.id + "/claims"
	a, bp := b.env.platforms[0], b.env.platforms[1]
	b.shape.count = min(b.shape.count, b.opt.holders)

	n, elapsed := drive(ctx, b.shape, func(ctx context.Context, i int, scheduled time.Time) {
		rng := b.rng(i)
		key := fmt.Sprintf("claim-%d", i)
		p := b.env.platforms[i%2]
		claim := jsonRequest(http.MethodPost, path, p.token, key, claimBody(i)) // retries send the same bytes
		x := rng.Float64()
		if x < 0.03 { // the same holder through two platforms at once
			var wg sync.WaitGroup
			for _, q := range []*platform{a, bp} {
				wg.Go(func() {
					through := claim
					through.token = q.token
					r, err := b.call(ctx, "claim", scheduled, through)
					if err == nil && r.ok() {
						acks.add(i, r.body)
					}
				})
			}
			wg.Wait()
			return
		}
		first, err := b.call(ctx, "claim", scheduled, claim)
		if err != nil {
			return
		}
		if first.ok() {
			acks.add(i, first.body)
		} else if first.code == "ROUND_SOLD_OUT" || first.code == "HOLDER_LIMIT_REACHED" {
			b.rec.record("claim-refused", scheduled, "") // the answers served without a write
			b.rec.record(refusedOrDuplicate, scheduled, "")
		}
		switch {
		case x < 0.105: // a retry of the same request
			again, err := b.call(ctx, "claim-retry", time.Now(), claim)
			b.sameAnswer("claim "+key, first, again, err)
		case x < 0.18: // the holder tries again with a new request
			again := claim
			again.key = key + "-again"
			started := time.Now()
			dup, err := b.call(ctx, "claim-duplicate", started, again)
			if err == nil {
				b.rec.record(refusedOrDuplicate, started, "")
			}
			if err == nil && dup.ok() {
				acks.add(i, dup.body)
			}
		}
	})
	b.elapsed = elapsed
	b.note("%d holders against a round of %d", n, stock)
	b.checks = append(b.checks,
		func(ctx context.Context) invariant { return b.roundStock(ctx, camp) },
		func(ctx context.Context) invariant { return b.claimsExist(ctx, camp, acks) },
		func(ctx context.Context) invariant { return b.holderLimits(ctx, camp.id, acks, 1) },
		b.replayInvariant,
	)
	return nil
}
