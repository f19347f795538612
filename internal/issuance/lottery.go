package issuance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/lottery"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/voucher"
)

// The lottery (see package lottery for the draw): holders register through
// platforms while registration is open; RunLotteries commits each lottery's
// seed once its campaign is active and draws it at draw_at; winners get a
// voucher of the lottery's tier.

// RegistrationRequest is one holder's registration through a platform.
type RegistrationRequest struct {
	CampaignID uuid.UUID
	PlatformID string
	Holder     HolderInput
	Idem       idempotency.Key
	RequestID  string
}

// Register enters a holder in a campaign's lottery. The answer is rendered
// with render inside the transaction and stored under the idempotency key,
// so a retry gets the same bytes.
func (s *Service) Register(ctx context.Context, req RegistrationRequest, render idempotency.Renderer[lottery.Registration]) (idempotency.Response, error) {
	id, err := holder.NormalizeID(req.Holder.IDNumber)
	if err != nil {
		return idempotency.Response{}, err
	}
	h := s.hasher.Hash(id)
	var resp idempotency.Response
	err = postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		now := s.now().UTC().Truncate(time.Microsecond)
		fresh, err := postgres.ReserveIdempotencyKeys(ctx, tx, []idempotency.Key{req.Idem})
		if err != nil {
			return err
		}
		if !fresh[0] {
			return idempotency.ErrDuplicate
		}
		c, err := registrationCampaign(ctx, tx, req, now)
		if err != nil {
			return err
		}
		platform := lotteryActor{subject: req.PlatformID, role: "platform", requestID: req.RequestID}
		if err := openLotteryForRegistration(ctx, tx, c.ID, platform, now); err != nil {
			return err
		}
		r := lottery.NewRegistration(c.ID, h, req.PlatformID, now)
		if err := postgres.InsertRegistration(ctx, tx, r); err != nil {
			return err
		}
		err = lotteryEvent(ctx, tx, platform, "lottery.registered", "lottery_registration", r.ID.String(), now, map[string]any{
			"campaign_id": r.CampaignID, "holder": r.Holder.String(), "platform_id": r.PlatformID,
			"ticket": r.Ticket, "status": r.Status, "registered_at": r.RegisteredAt,
		})
		if err != nil {
			return err
		}
		r.RegisteredAt = r.RegisteredAt.In(c.Location())
		if resp, err = render(r); err != nil {
			return err
		}
		return postgres.CompleteIdempotencyKeys(ctx, tx, []idempotency.Key{req.Idem}, []idempotency.Response{resp})
	})
	return resp, err
}

// registrationCampaign is the campaign a registration is for, checked: one
// the platform may not see is NOT_FOUND; registration must be open; the
// holder must be eligible.
func registrationCampaign(ctx context.Context, tx pgx.Tx, req RegistrationRequest, now time.Time) (campaign.Campaign, error) {
	c, err := campaignSeenBy(ctx, tx, req.CampaignID, req.PlatformID)
	if err != nil {
		return c, err
	}
	l := c.Rules.Lottery
	switch {
	case l == nil:
		return c, apperr.New(lottery.CodeRegistrationClosed, "campaign %s issues no vouchers by lottery", c.ID)
	case c.Status != campaign.StatusActive:
		return c, apperr.New(lottery.CodeRegistrationClosed, "the campaign is %s; registration is open while it is active", c.Status).
			With("current_status", string(c.Status))
	case lottery.Phase(*l, false, now) != lottery.Registering:
		loc := c.Location()
		return c, apperr.New(lottery.CodeRegistrationClosed, "registration is open from %s until %s",
			l.RegistrationOpensAt.In(loc).Format(time.RFC3339), l.RegistrationClosesAt.In(loc).Format(time.RFC3339))
	}
	return c, req.Holder.eligible(&c)
}

// openLotteryForRegistration takes the key-share lock that keeps the draw
// waiting for this registration, committing the seed first if the job has
// not yet: every ticket is then issued after the seed was fixed.
func openLotteryForRegistration(ctx context.Context, tx pgx.Tx, campaignID uuid.UUID, a lotteryActor, now time.Time) error {
	l, found, err := postgres.ShareLottery(ctx, tx, campaignID)
	if err == nil && !found {
		if err = commitSeed(ctx, tx, campaignID, a, now); err == nil {
			l, _, err = postgres.ShareLottery(ctx, tx, campaignID)
		}
	}
	if err != nil {
		return err
	}
	if l.Outcome != nil {
		return apperr.New(lottery.CodeRegistrationClosed, "the lottery was drawn at %s", l.Outcome.DrawnAt.Format(time.RFC3339))
	}
	return nil
}

// campaignSeenBy reads a campaign as a platform may see it ("" for a
// person, who sees every campaign): only live or past campaigns whose
// platform list admits it; any other is NOT_FOUND, as if it did not exist.
func campaignSeenBy(ctx context.Context, q postgres.Querier, id uuid.UUID, platformID string) (campaign.Campaign, error) {
	c, err := postgres.GetCampaign(ctx, q, id)
	if err != nil || platformID == "" {
		return c, err
	}
	switch c.Status {
	case campaign.StatusActive, campaign.StatusPaused, campaign.StatusEnded:
		if c.Rules.Eligibility.AllowsPlatform(platformID) {
			return c, nil
		}
	}
	return campaign.Campaign{}, apperr.New(apperr.CodeNotFound, "no campaign %s", id)
}

// LotteryView is a lottery as published.
type LotteryView struct {
	CampaignID    uuid.UUID
	Status        lottery.Status
	Algorithm     string // "" until the seed is committed
	SeedHash      string // "" until the seed is committed
	Seed          string // hex, once drawn
	Winners       int64  // the rules' winners; once drawn, how many were drawn (the k to reproduce)
	Registrations int64
	TicketsDigest string // once drawn
	DrawnAt       *time.Time
}

// Lottery is a campaign's published lottery, as platformID (or a person,
// with "") may see it. The seed stays secret until the draw.
func (s *Service) Lottery(ctx context.Context, campaignID uuid.UUID, platformID string) (LotteryView, error) {
	c, err := lotteryCampaign(ctx, s.pool, campaignID, platformID)
	if err != nil {
		return LotteryView{}, err
	}
	l, found, err := postgres.GetLottery(ctx, s.pool, campaignID)
	if err != nil {
		return LotteryView{}, err
	}
	v := LotteryView{CampaignID: c.ID, Status: lottery.Phase(*c.Rules.Lottery, l.Outcome != nil, s.now()), Winners: c.Rules.Lottery.Winners}
	if !found {
		return v, nil
	}
	v.Algorithm, v.SeedHash = l.Algorithm, l.SeedHash()
	if o := l.Outcome; o != nil {
		drawnAt := o.DrawnAt.In(c.Location())
		v.Seed, v.Winners, v.Registrations, v.TicketsDigest, v.DrawnAt = hex.EncodeToString(l.Seed), o.Winners, o.Registrations, o.TicketsDigest, &drawnAt
		return v, nil
	}
	v.Registrations, err = postgres.CountRegistrations(ctx, s.pool, campaignID)
	return v, err
}

// LotteryTickets pages through a lottery's tickets in ascending order, after
// the given ticket. Won flags mean something only once drawn.
func (s *Service) LotteryTickets(ctx context.Context, campaignID uuid.UUID, platformID, after string, limit int) (items []lottery.TicketOutcome, drawn bool, err error) {
	if _, err := lotteryCampaign(ctx, s.pool, campaignID, platformID); err != nil {
		return nil, false, err
	}
	l, _, err := postgres.GetLottery(ctx, s.pool, campaignID)
	if err != nil {
		return nil, false, err
	}
	items, err = postgres.ListTickets(ctx, s.pool, campaignID, after, limit)
	return items, l.Outcome != nil, err
}

// lotteryCampaign is a campaign with a lottery, as platformID may see it.
func lotteryCampaign(ctx context.Context, q postgres.Querier, id uuid.UUID, platformID string) (campaign.Campaign, error) {
	c, err := campaignSeenBy(ctx, q, id, platformID)
	if err == nil && c.Rules.Lottery == nil {
		err = apperr.New(apperr.CodeNotFound, "campaign %s has no lottery", id)
	}
	return c, err
}

// RunLotteries is the lottery's periodic job: it commits a seed for every
// active campaign with a lottery that has none, then draws every lottery
// whose draw time has come. Safe to run twice and on several replicas at
// once: commits are insert-if-absent and each draw re-checks under its row
// lock. A failing campaign does not stop the others; the errors are joined.
func (s *Service) RunLotteries(ctx context.Context) error {
	pending, err := postgres.CampaignsWithoutLottery(ctx, s.pool)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range pending {
		errs = append(errs, s.commitLottery(ctx, id))
	}
	due, err := postgres.DueLotteries(ctx, s.pool, s.now())
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, id := range due {
		errs = append(errs, s.drawLottery(ctx, id))
	}
	return errors.Join(errs...)
}

// lotteryScheduler is the actor of what RunLotteries does.
var lotteryScheduler = lotteryActor{subject: "scheduler", role: "scheduler"}

func (s *Service) commitLottery(ctx context.Context, id uuid.UUID) error {
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := postgres.GetCampaign(ctx, tx, id)
		if err != nil || c.Status != campaign.StatusActive || c.Rules.Lottery == nil {
			return err
		}
		return commitSeed(ctx, tx, id, lotteryScheduler, s.now().UTC().Truncate(time.Microsecond))
	})
	if err != nil {
		return fmt.Errorf("commit the lottery seed of campaign %s: %w", id, err)
	}
	return nil
}

// commitSeed draws a fresh seed and stores it unless the campaign has one,
// publishing only its hash in the audit log.
func commitSeed(ctx context.Context, tx pgx.Tx, campaignID uuid.UUID, a lotteryActor, now time.Time) error {
	l := lottery.Lottery{CampaignID: campaignID, Algorithm: lottery.Algorithm, Seed: make([]byte, lottery.SeedSize), CommittedAt: now}
	if _, err := rand.Read(l.Seed); err != nil {
		return err
	}
	inserted, err := postgres.InsertLottery(ctx, tx, l)
	if err != nil || !inserted {
		return err
	}
	return lotteryEvent(ctx, tx, a, "lottery.committed", "campaign", campaignID.String(), now, map[string]any{
		"algorithm": l.Algorithm, "seed_hash": l.SeedHash(), "committed_at": now,
	})
}

// winnerChunk bounds the winners issued per statement.
const winnerChunk = 5000

// drawLottery draws one lottery if it is due and not drawn yet, re-checked
// under the campaign's and the lottery's row locks.
func (s *Service) drawLottery(ctx context.Context, id uuid.UUID) error {
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		now := s.now().UTC().Truncate(time.Microsecond)
		c, err := postgres.LockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if c.Status != campaign.StatusActive || c.Rules.Lottery == nil || now.Before(c.Rules.Lottery.DrawAt) {
			return nil
		}
		l, found, err := postgres.LockLottery(ctx, tx, id)
		if err != nil || !found || l.Outcome != nil {
			return err // drawn already: by an earlier run or another replica
		}
		return drawLocked(ctx, tx, &c, l, now)
	})
	if err != nil {
		return fmt.Errorf("draw the lottery of campaign %s: %w", id, err)
	}
	return nil
}

// drawLocked draws in the caller's transaction: the winners' vouchers, their
// value moved available → allocated → committed, every registration's
// outcome and the lottery's record commit together or not at all. When the
// available budget cannot pay every winner, only as many as it covers are
// drawn, best ranked first, and the record says so.
func drawLocked(ctx context.Context, tx pgx.Tx, c *campaign.Campaign, l lottery.Lottery, now time.Time) error {
	rules := c.Rules.Lottery
	tier, ok := c.Tier(rules.TierID)
	if !ok || l.Algorithm != lottery.Algorithm {
		return fmt.Errorf("cannot draw tier %q with algorithm %q", rules.TierID, l.Algorithm)
	}
	budget, err := postgres.Breakdown(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	d := lottery.NewDrawer(l.Seed, min(rules.Winners, budget.Available/tier.DiscountFen))
	if err := postgres.EachTicket(ctx, tx, c.ID, d.Add); err != nil {
		return err
	}
	r := d.Result()
	if err := issueLotteryWinners(ctx, tx, c, tier, r.Winners, now); err != nil {
		return err
	}
	if err := postgres.MarkLosers(ctx, tx, c.ID); err != nil {
		return err
	}
	winners := int64(len(r.Winners))
	if err := moveLotteryValue(ctx, tx, c.ID, winners*tier.DiscountFen, now); err != nil {
		return err
	}
	o := lottery.Outcome{DrawnAt: now, Registrations: r.Tickets, WinnersWanted: rules.Winners, Winners: winners,
		TicketsDigest: r.TicketsDigest, BudgetLimited: winners < min(rules.Winners, r.Tickets)}
	if err := postgres.RecordDraw(ctx, tx, c.ID, o); err != nil {
		return err
	}
	return lotteryEvent(ctx, tx, lotteryScheduler, "lottery.drawn", "campaign", c.ID.String(), now, map[string]any{
		"algorithm": l.Algorithm, "seed": hex.EncodeToString(l.Seed), "seed_hash": l.SeedHash(),
		"tickets_digest": o.TicketsDigest, "registrations": o.Registrations, "winners_wanted": o.WinnersWanted,
		"winners": o.Winners, "budget_limited": o.BudgetLimited, "available_fen": budget.Available,
		"tier_id": tier.ID, "value_fen": winners * tier.DiscountFen,
	})
}

// issueLotteryWinners gives each winning registration a voucher of the tier,
// issued through the platform the holder registered with.
func issueLotteryWinners(ctx context.Context, tx pgx.Tx, c *campaign.Campaign, tier campaign.Tier, tickets []string, now time.Time) error {
	for start := 0; start < len(tickets); start += winnerChunk {
		chunk := tickets[start:min(start+winnerChunk, len(tickets))]
		regs, err := postgres.RegistrationsByTicket(ctx, tx, c.ID, chunk)
		if err != nil {
			return err
		}
		if len(regs) != len(chunk) {
			return fmt.Errorf("%d winning tickets matched %d registrations", len(chunk), len(regs))
		}
		vs := make([]voucher.Voucher, len(regs))
		regIDs, voucherIDs := make([]uuid.UUID, len(regs)), make([]uuid.UUID, len(regs))
		for i, r := range regs {
			vs[i] = voucher.OfTier(c, tier, r.Holder, now, voucher.FromLottery, r.PlatformID, nil)
			regIDs[i], voucherIDs[i] = r.ID, vs[i].ID
		}
		if err := postgres.InsertVouchers(ctx, tx, vs); err != nil {
			return err
		}
		if err := postgres.MarkWinners(ctx, tx, regIDs, voucherIDs); err != nil {
			return err
		}
	}
	return nil
}

// moveLotteryValue books the winners' value: allocated to the lottery, then
// committed to the vouchers, spread over the ledger buckets.
func moveLotteryValue(ctx context.Context, tx pgx.Tx, campaignID uuid.UUID, fen int64, at time.Time) error {
	if fen == 0 {
		return nil
	}
	for _, kind := range []ledger.Kind{ledger.Allocation, ledger.Claim} {
		t := ledger.Transfer{CampaignID: campaignID, Kind: kind, AmountFen: fen, Ref: "lottery:" + campaignID.String()}
		for _, part := range t.Spread(postgres.Buckets) {
			if _, err := postgres.PostTransfer(ctx, tx, part, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// lotteryActor is who an audit event of the lottery names.
type lotteryActor struct{ subject, role, requestID string }

// lotteryEvent writes an audit event of the lottery in tx.
func lotteryEvent(ctx context.Context, tx pgx.Tx, a lotteryActor, action, entityType, entityID string, at time.Time, after any) error {
	body, err := json.Marshal(after)
	if err != nil {
		return err
	}
	return postgres.AppendEvent(ctx, tx, auditlog.Event{
		At: at, Actor: a.subject, ActorRole: a.role, Action: action, EntityType: entityType, EntityID: entityID,
		After: body, RequestID: a.requestID,
	})
}
