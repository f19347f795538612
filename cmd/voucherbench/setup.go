package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tongquan/tongquan/internal/auth"
)

// Every run sets itself up through the public API: its own platforms (with
// keys it generates), a merchant on each, and its own campaigns, so runs
// never interfere and each run's invariants can be scoped to its campaigns.

const (
	tierID      = "200-50"
	minSpendFen = 20000
	discountFen = 5000
	orderFen    = 30000
	paidFen     = orderFen - discountFen
	merchantID  = "vb-shop"
)

type env struct {
	c                      *client
	run                    string
	manager, approver, aud tokenSource
	platforms              []*platform
}

func newEnv(ctx context.Context, c *client) (*env, error) {
	e := &env{
		c: c, run: runID(),
		manager:  c.person("vb-alice", auth.RoleCampaignManager),
		approver: c.person("vb-bob", auth.RoleApprover),
		aud:      c.person("vb-carol", auth.RoleAuditor),
	}
	for i, suffix := range []string{"a", "b"} {
		p, err := newPlatform("vb"+e.run+suffix, c.keys.Audience)
		if err != nil {
			return nil, err
		}
		if err := c.must(ctx, jsonRequest(http.MethodPost, "/v1/platforms", e.manager, "", map[string]any{
			"id": p.id, "name": "Load platform " + p.id,
			"keys": []map[string]any{{"key_id": p.keyID, "public_key_pem": p.pubPEM}},
		}), http.StatusCreated, nil); err != nil {
			return nil, fmt.Errorf("register platform %s: %w", p.id, err)
		}
		if err := c.must(ctx, jsonRequest(http.MethodPut, "/v1/merchants/"+merchantID, p.token, "", map[string]any{
			"name": "Load test appliances", "uscc": uscc(i + 1), "region": holderRegion,
			"category": "appliances", "channel": "online",
		}), http.StatusOK, nil); err != nil {
			return nil, fmt.Errorf("merchant on %s: %w", p.id, err)
		}
		e.platforms = append(e.platforms, p)
	}
	return e, nil
}

// campaignSpec is what a workload needs of its campaign.
type campaignSpec struct {
	kind        string // consumption or trade_in
	stock       int    // a round of this many opening now (consumption); 0 = none
	budgetFen   int64
	holdMinutes int
}

type campaign struct {
	id, roundID string
}

// newCampaign creates, approves (four eyes) and activates a campaign, and
// waits until the scheduler has opened its round.
func (e *env) newCampaign(ctx context.Context, s campaignSpec) (*campaign, error) {
	now := time.Now().UTC()
	startsAt := now.Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339)
	endsAt := now.Add(30 * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	rules := map[string]any{}
	if s.kind == "trade_in" {
		rules["categories"] = []map[string]any{{
			"code": "phone", "rate_bp": 1500, "cap_fen": 50000, "max_price_fen": 600000,
			"per_holder_limit": 1, "validity_days": 30,
		}}
	} else {
		rules["tiers"] = []map[string]any{{"id": tierID, "min_spend_fen": minSpendFen, "discount_fen": discountFen, "validity_days": 7}}
		if s.stock > 0 {
			rules["releases"] = []map[string]any{{"id": "now", "tier_id": tierID, "quantity": s.stock, "opens_at": startsAt}}
		}
	}
	hold := s.holdMinutes
	if hold == 0 {
		hold = 15
	}
	var created struct{ ID string }
	if err := e.c.must(ctx, jsonRequest(http.MethodPost, "/v1/campaigns", e.manager, "", map[string]any{
		"kind": s.kind, "name": "Load run " + e.run, "authority": "Load Test Bureau",
		"time_zone": "Asia/Shanghai", "starts_at": startsAt, "ends_at": endsAt,
		"budget_fen": s.budgetFen, "hold_minutes": hold, "rules": rules,
	}), http.StatusCreated, &created); err != nil {
		return nil, fmt.Errorf("create campaign: %w", err)
	}
	for _, step := range []struct {
		action string
		who    tokenSource
	}{{"submit", e.manager}, {"approve", e.approver}, {"activate", e.manager}} {
		if err := e.c.must(ctx, jsonRequest(http.MethodPost, "/v1/campaigns/"+created.ID+"/"+step.action, step.who, "", nil), http.StatusOK, nil); err != nil {
			return nil, fmt.Errorf("%s campaign: %w", step.action, err)
		}
	}
	c := &campaign{id: created.ID}
	if s.kind != "consumption" || s.stock == 0 {
		return c, nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		rounds, err := e.rounds(ctx, c.id)
		if err != nil {
			return nil, err
		}
		for _, r := range rounds {
			if r.Status == "open" {
				c.roundID = r.ID
				return c, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("campaign %s: the scheduler did not open its round within 60 s", c.id)
}

type round struct {
	ID        string `json:"id"`
	Quantity  int64  `json:"quantity"`
	Remaining int64  `json:"remaining"`
	Claimed   int64  `json:"claimed"`
	Status    string `json:"status"`
}

func (e *env) rounds(ctx context.Context, campaignID string) ([]round, error) {
	var list struct{ Items []round }
	err := e.c.must(ctx, jsonRequest(http.MethodGet, "/v1/campaigns/"+campaignID+"/rounds", e.aud, "", nil), http.StatusOK, &list)
	return list.Items, err
}

// claimRequest is a claim's body: a voucher of a tier, or with Category a
// trade-in qualification. A struct rather than a map: the load generator's
// own CPU is taken from the voucherd it measures on a shared host.
type claimRequest struct {
	Holder   claimHolder `json:"holder"`
	TierID   string      `json:"tier_id,omitempty"`
	Category string      `json:"category,omitempty"`
}

type claimHolder struct {
	IDNumber         string `json:"id_number"`
	ResidenceRegion  string `json:"residence_region"`
	RealNameVerified bool   `json:"real_name_verified"`
}

// claimBody asks for a voucher of the campaign's tier for holder
// holderIndex; qualifyBody for a trade-in qualification.
func claimBody(holderIndex int) claimRequest {
	return claimRequest{Holder: holderOf(holderIndex), TierID: tierID}
}

func qualifyBody(holderIndex int) claimRequest {
	return claimRequest{Holder: holderOf(holderIndex), Category: "phone"}
}

func holderOf(holderIndex int) claimHolder {
	return claimHolder{IDNumber: idNumber(holderIndex), ResidenceRegion: holderRegion, RealNameVerified: true}
}

// heldVoucher is a voucher claimed during setup, for the checkout workloads.
type heldVoucher struct {
	holder int
	code   string
	plat   *platform
}

// claimAll claims one voucher (or trade-in qualification) for holders
// 0..n-1, alternating platforms: setup, not measured. Claims the service
// refuses are counted, not fatal (a round that sells out early is for the
// invariants to name); the vouchers obtained are returned.
func (e *env) claimAll(ctx context.Context, campaignID string, n int, tradeIn bool) ([]heldVoucher, map[string]int, error) {
	got := make([]heldVoucher, n)
	var mu sync.Mutex
	refused := map[string]int{}
	var failure error
	forEach(n, 32, func(i int) {
		p := e.platforms[i%len(e.platforms)]
		body := claimBody(i)
		if tradeIn {
			body = qualifyBody(i)
		}
		r, err := e.c.do(ctx, jsonRequest(http.MethodPost, "/v1/campaigns/"+campaignID+"/claims", p.token, fmt.Sprintf("setup-%d", i), body))
		var v struct{ Code string }
		switch {
		case err == nil && r.status == http.StatusConflict:
			mu.Lock()
			refused[r.code]++
			mu.Unlock()
			return
		case err == nil && r.status != http.StatusCreated:
			err = fmt.Errorf("setup claim %d: %d %s", i, r.status, truncate(r.body, 300))
		case err == nil:
			err = json.Unmarshal(r.body, &v)
		}
		if err != nil {
			mu.Lock()
			failure = err
			mu.Unlock()
			return
		}
		got[i] = heldVoucher{holder: i, code: v.Code, plat: p}
	})
	if failure != nil {
		return nil, nil, failure
	}
	out := got[:0]
	for _, v := range got {
		if v.code != "" {
			out = append(out, v)
		}
	}
	return out, refused, nil
}
