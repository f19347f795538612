package issuance

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/voucher"
)

// HolderInput is the holder as a platform presents them.
type HolderInput struct {
	IDNumber         string
	ResidenceRegion  string
	RealNameVerified bool
}

// eligible checks what a campaign asks of a holder before issuing to them:
// a platform-verified real name and, where the campaign says, residence.
func (h HolderInput) eligible(c *campaign.Campaign) error {
	if !h.RealNameVerified {
		return apperr.New(holder.CodeHolderNotEligible, "the holder's real name must be verified (real_name_verified: true)")
	}
	if !c.Rules.Eligibility.AllowsHolderRegion(h.ResidenceRegion) {
		return apperr.New(holder.CodeHolderNotEligible, "the campaign is for residents of %v", c.Rules.Eligibility.HolderRegionPrefixes)
	}
	return nil
}

// ClaimRequest is one holder's claim through a platform: a consumption tier
// from its open round, or a trade-in category's qualification.
type ClaimRequest struct {
	CampaignID uuid.UUID
	PlatformID string
	Holder     HolderInput
	TierID     string
	Category   string
	Idem       idempotency.Key
	RequestID  string
}

// Claim issues a voucher. Claims are group-committed: many share one
// transaction (Service.claims, commitClaims), so a burst costs a few commits, not one each.
// The answer is rendered with render inside that transaction and stored
// under the idempotency key, so a retry gets the same bytes.
func (s *Service) Claim(ctx context.Context, req ClaimRequest, render idempotency.Renderer[voucher.Voucher]) (idempotency.Response, error) {
	p, err := s.prepareClaim(ctx, req)
	if err != nil {
		return idempotency.Response{}, err
	}
	p.render = render
	p.done = make(chan claimResult, 1)
	if err := s.claims.Submit(p); err != nil {
		return idempotency.Response{}, apperr.Wrap(err, apperr.CodeRateLimited, "too many claims are waiting; retry in a second")
	}
	select {
	case r := <-p.done:
		return r.resp, r.err
	case <-ctx.Done():
		// The batch may still commit; a retry with the same key replays it.
		return idempotency.Response{}, apperr.Wrap(ctx.Err(), apperr.CodeUnavailable, "the claim did not finish in time; retry with the same Idempotency-Key")
	}
}

// pendingClaim is a claim checked against everything memory knows, waiting
// for its batch.
type pendingClaim struct {
	req    ClaimRequest
	c      *campaign.Campaign
	hash   holder.Hash
	tier   campaign.Tier
	cat    campaign.Category
	round  *openRound
	render idempotency.Renderer[voucher.Voucher]
	done   chan claimResult
}

type claimResult struct {
	resp idempotency.Response
	err  error
}

// prepareClaim answers from memory whatever it can: unknown or inactive
// campaign, ineligible holder, no open round, sold out.
func (s *Service) prepareClaim(ctx context.Context, req ClaimRequest) (*pendingClaim, error) {
	id, err := holder.NormalizeID(req.Holder.IDNumber)
	if err != nil {
		return nil, err
	}
	c, err := s.campaigns.get(ctx, s, req.CampaignID)
	if err != nil {
		return nil, err
	}
	if !c.Rules.Eligibility.AllowsPlatform(req.PlatformID) || c.Status == campaign.StatusDraft ||
		c.Status == campaign.StatusSubmitted || c.Status == campaign.StatusCancelled {
		return nil, apperr.New(apperr.CodeNotFound, "no campaign %s", req.CampaignID)
	}
	if c.Status != campaign.StatusActive {
		return nil, apperr.New(voucher.CodeCampaignNotActive, "the campaign is %s; claims are taken while it is active", c.Status).
			With("current_status", string(c.Status))
	}
	if err := req.Holder.eligible(c); err != nil {
		return nil, err
	}
	p := &pendingClaim{req: req, c: c, hash: s.hasher.Hash(id)}
	switch c.Kind {
	case campaign.KindConsumption:
		if req.TierID == "" || req.Category != "" {
			return nil, apperr.Invalid(apperr.FieldError{Field: "tier_id", Reason: "a consumption campaign is claimed by tier_id (and no category)"})
		}
		tier, ok := c.Tier(req.TierID)
		if !ok {
			return nil, apperr.Invalid(apperr.FieldError{Field: "tier_id", Reason: fmt.Sprintf("names no tier of this campaign: %q", req.TierID)})
		}
		round, err := s.rounds.open(ctx, s, c.ID, tier.ID, s.now())
		if err != nil {
			return nil, err
		}
		if round == nil {
			return nil, apperr.New(voucher.CodeRoundNotOpen, "no round of tier %s is open now", tier.ID)
		}
		if round.soldOut.Load() {
			return nil, apperr.New(voucher.CodeRoundSoldOut, "the round of tier %s is sold out", tier.ID)
		}
		p.tier, p.round = tier, round
	case campaign.KindTradeIn:
		if req.Category == "" || req.TierID != "" {
			return nil, apperr.Invalid(apperr.FieldError{Field: "category", Reason: "a trade-in campaign is claimed by category (and no tier_id)"})
		}
		cat, ok := c.Category(req.Category)
		if !ok {
			return nil, apperr.Invalid(apperr.FieldError{Field: "category", Reason: fmt.Sprintf("names no category of this campaign: %q", req.Category)})
		}
		p.cat = cat
	}
	return p, nil
}

// quotas are the limits a claim uses: per round and per campaign for a tier,
// per person for a trade-in category.
func (p *pendingClaim) quotas() []postgres.QuotaTake {
	if p.round != nil {
		takes := []postgres.QuotaTake{{CampaignID: p.c.ID, Holder: p.hash, Scope: "tier:" + p.tier.ID, Limit: p.tier.PerCampaignLimit}}
		// The per-round count only matters when it is the tighter limit.
		if p.tier.PerRoundLimit < p.tier.PerCampaignLimit {
			takes = append(takes, postgres.QuotaTake{CampaignID: p.c.ID, Holder: p.hash, Scope: "round:" + p.round.ID.String(), Limit: p.tier.PerRoundLimit})
		}
		return takes
	}
	return []postgres.QuotaTake{{CampaignID: p.c.ID, Holder: p.hash, Scope: "category:" + p.cat.Code, Limit: p.cat.PerHolderLimit}}
}

const (
	claimWorkers  = 2
	maxClaimBatch = 256
	// claimQueue bounds waiting claims; past it, claims are refused with 429
	// at once instead of piling up into timeouts.
	claimQueue = 8192
)

// claimOutcome is one claim's fate inside a batch transaction.
type claimOutcome struct {
	v    *voucher.Voucher
	resp idempotency.Response
	err  error
}

// commitClaims runs one batch in one transaction and answers every claim.
func (s *Service) commitClaims(batch []*pendingClaim) {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	var out []claimOutcome
	var emptied []*openRound
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, emptied, err = s.claimBatch(ctx, tx, batch)
		return err
	})
	if err == nil {
		for _, r := range emptied {
			r.soldOut.Store(true)
		}
	}
	for i, p := range batch {
		if err != nil {
			p.done <- claimResult{err: err}
			continue
		}
		p.done <- claimResult{resp: out[i].resp, err: out[i].err}
	}
}

// claimBatch is the batch's transaction body. It is re-run from scratch if
// the transaction is retried, so it only computes outcomes.
func (s *Service) claimBatch(ctx context.Context, tx pgx.Tx, batch []*pendingClaim) ([]claimOutcome, []*openRound, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	out := make([]claimOutcome, len(batch))

	// 1. Idempotency keys first: a key already taken means a twin of this
	// request committed (or is committing, and we wait for it) its effect.
	keys := make([]idempotency.Key, len(batch))
	for i, p := range batch {
		keys[i] = p.req.Idem
	}
	fresh, err := postgres.ReserveIdempotencyKeys(ctx, tx, keys)
	if err != nil {
		return nil, nil, err
	}
	var live []int
	for i := range batch {
		if fresh[i] {
			live = append(live, i)
		} else {
			out[i].err = idempotency.ErrDuplicate
		}
	}

	// 2. Per-holder limits, in waves so a holder appears once per statement.
	for wave := live; len(wave) > 0; {
		var first, later []int
		seen := map[[2]any]bool{}
		for _, i := range wave {
			k := [2]any{batch[i].c.ID, batch[i].hash}
			if seen[k] {
				later = append(later, i)
				continue
			}
			seen[k] = true
			first = append(first, i)
		}
		if err := s.takeQuotas(ctx, tx, batch, first, out); err != nil {
			return nil, nil, err
		}
		wave = later
	}

	// 3. Stock, per round, for the claims still standing.
	byRound := map[*openRound][]int{}
	var roundOrder []*openRound
	for _, i := range live {
		if out[i].err == nil && batch[i].round != nil {
			r := batch[i].round
			if _, ok := byRound[r]; !ok {
				roundOrder = append(roundOrder, r)
			}
			byRound[r] = append(byRound[r], i)
		}
	}
	var emptied []*openRound
	for _, r := range roundOrder {
		idx := byRound[r]
		got, empty, err := postgres.TakeStock(ctx, tx, r.ID, int64(len(idx)), rand.IntN(postgres.Buckets))
		if err != nil {
			return nil, nil, err
		}
		if empty {
			emptied = append(emptied, r)
		}
		var back []postgres.QuotaTake
		for _, i := range idx[got:] {
			out[i].err = apperr.New(voucher.CodeRoundSoldOut, "the round of tier %s is sold out", batch[i].tier.ID)
			back = append(back, batch[i].quotas()...)
		}
		if err := postgres.ReturnQuotas(ctx, tx, back); err != nil {
			return nil, nil, err
		}
	}

	// 4. Vouchers, their value in the ledger, their audit events, answers.
	var vs []voucher.Voucher
	var won []int
	value := map[uuid.UUID]int64{}
	for _, i := range live {
		if out[i].err != nil {
			continue
		}
		p := batch[i]
		var v voucher.Voucher
		if p.round != nil {
			roundID := p.round.ID
			v = voucher.OfTier(p.c, p.tier, p.hash, now, voucher.FromClaim, p.req.PlatformID, &roundID)
		} else {
			v = voucher.OfCategory(p.c, p.cat, p.hash, now, p.req.PlatformID)
		}
		vs = append(vs, v)
		won = append(won, i)
		value[v.CampaignID] += v.Value()
	}
	if err := postgres.InsertVouchers(ctx, tx, vs); err != nil {
		return nil, nil, err
	}
	events := make([]auditlog.Event, len(vs))
	wonKeys := make([]idempotency.Key, len(vs))
	answers := make([]idempotency.Response, len(vs))
	for j, i := range won {
		v := vs[j]
		events[j] = auditlog.Event{
			At: now, Actor: v.PlatformID, ActorRole: "platform", Action: "voucher.claimed", EntityType: "voucher",
			EntityID: v.ID.String(), After: mustJSON(voucherView(v)), RequestID: batch[i].req.RequestID,
		}
		resp, err := batch[i].render(v)
		if err != nil {
			return nil, nil, err
		}
		out[i].v, out[i].resp = &vs[j], resp
		wonKeys[j], answers[j] = keys[i], resp
	}
	if err := postgres.AppendEvents(ctx, tx, events); err != nil {
		return nil, nil, err
	}
	if err := postgres.CompleteIdempotencyKeys(ctx, tx, wonKeys, answers); err != nil {
		return nil, nil, err
	}
	// A claim refused here (holder limit, sold out) keeps no key, like the
	// refusals answered from memory: its retry is judged again and gets the
	// same refusal rather than waiting on a key that never gets an answer.
	var refused []idempotency.Key
	for _, i := range live {
		if out[i].err != nil {
			refused = append(refused, keys[i])
		}
	}
	if err := postgres.ReleaseIdempotencyKeys(ctx, tx, refused); err != nil {
		return nil, nil, err
	}
	// Last: the ledger's bucket rows stay locked until commit.
	campaigns := make([]uuid.UUID, 0, len(value))
	for c := range value {
		campaigns = append(campaigns, c)
	}
	slices.SortFunc(campaigns, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	for _, c := range campaigns {
		if value[c] == 0 {
			continue
		}
		t := ledger.Transfer{CampaignID: c, Kind: ledger.Claim, AmountFen: value[c], Ref: "claims:" + vs[0].ID.String(), BucketKey: rand.Uint64()}
		if _, err := postgres.PostTransfer(ctx, tx, t, now); err != nil {
			return nil, nil, err
		}
	}
	return out, emptied, nil
}

// takeQuotas uses the quotas of claims idx (distinct holders) and fails
// those over a limit, giving back what they took in other scopes.
func (s *Service) takeQuotas(ctx context.Context, tx pgx.Tx, batch []*pendingClaim, idx []int, out []claimOutcome) error {
	type take struct {
		claim int
		q     postgres.QuotaTake
	}
	var takes []take
	for _, i := range idx {
		for _, q := range batch[i].quotas() {
			takes = append(takes, take{i, q})
		}
	}
	// One lock order for every batch: by campaign, holder, scope.
	slices.SortFunc(takes, func(a, b take) int {
		if c := slices.Compare(a.q.CampaignID[:], b.q.CampaignID[:]); c != 0 {
			return c
		}
		if c := slices.Compare(a.q.Holder[:], b.q.Holder[:]); c != 0 {
			return c
		}
		return compareStrings(a.q.Scope, b.q.Scope)
	})
	qs := make([]postgres.QuotaTake, len(takes))
	for j, t := range takes {
		qs[j] = t.q
	}
	ok, err := postgres.TakeQuotas(ctx, tx, qs)
	if err != nil {
		return err
	}
	failed := map[int]bool{}
	for j, t := range takes {
		if !ok[j] {
			failed[t.claim] = true
		}
	}
	var back []postgres.QuotaTake
	for j, t := range takes {
		if failed[t.claim] && ok[j] {
			back = append(back, t.q)
		}
	}
	for i := range failed {
		out[i].err = apperr.New(voucher.CodeHolderLimitReached, "the holder already has the most vouchers allowed here (on any platform)")
	}
	return postgres.ReturnQuotas(ctx, tx, back)
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain maps and structs are marshalled here
	}
	return b
}

// voucherView is a voucher as the audit log records it (holder as its hash).
func voucherView(v voucher.Voucher) map[string]any {
	m := map[string]any{
		"id": v.ID, "code": v.Code, "campaign_id": v.CampaignID, "holder": v.Holder.String(), "kind": v.Kind,
		"valid_from": v.ValidFrom, "valid_until": v.ValidUntil, "status": v.Status, "source": v.Source,
	}
	if v.TierID != "" {
		m["tier_id"], m["discount_fen"], m["min_spend_fen"] = v.TierID, v.DiscountFen, v.MinSpendFen
	}
	if v.RoundID != nil {
		m["round_id"] = *v.RoundID
	}
	if v.Category != "" {
		m["category"] = v.Category
	}
	if v.PlatformID != "" {
		m["platform_id"] = v.PlatformID
	}
	return m
}

// Wallet lists a holder's vouchers across campaigns and platforms.
func (s *Service) Wallet(ctx context.Context, idNumber, status string) ([]voucher.Voucher, error) {
	id, err := holder.NormalizeID(idNumber)
	if err != nil {
		return nil, err
	}
	return postgres.HolderVouchers(ctx, s.pool, s.hasher.Hash(id), status, 500)
}
