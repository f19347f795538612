package issuance

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
)

// schedulerActor signs the changes the clock makes.
const schedulerActor = "scheduler"

// OpenDueRounds opens the rounds whose time has come in every active
// campaign: the latest due firing of each release (firings missed while the
// service was down are not replayed one by one). Opening allocates the
// round's value from the available budget; if the budget cannot cover the
// release's quantity, the round opens with what it covers. Safe to repeat:
// a round is unique per (campaign, release, opening time).
func (s *Service) OpenDueRounds(ctx context.Context) (opened int, err error) {
	now := s.now()
	cs, _, err := postgres.ListCampaigns(ctx, s.pool, postgres.CampaignFilter{Status: campaign.StatusActive, Limit: 10_000})
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		for _, r := range c.Rules.Releases {
			ok, err := s.openRound(ctx, c.ID, r, now)
			if err != nil {
				return opened, fmt.Errorf("campaign %s release %s: %w", c.ID, r.ID, err)
			}
			if ok {
				opened++
			}
		}
	}
	if opened > 0 {
		s.rounds.invalidate()
	}
	return opened, nil
}

func (s *Service) openRound(ctx context.Context, campaignID uuid.UUID, r campaign.Release, now time.Time) (bool, error) {
	opened := false
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		opened = false
		c, err := postgres.LockCampaign(ctx, tx, campaignID)
		if err != nil || c.Status != campaign.StatusActive {
			return err
		}
		last, err := postgres.LastRoundOpening(ctx, tx, c.ID, r.ID)
		if err != nil {
			return err
		}
		after := c.StartsAt.Add(-time.Nanosecond)
		if last.After(after) {
			after = last
		}
		due := r.Occurrences(c.Location(), after, now)
		if len(due) == 0 {
			return nil
		}
		at := due[len(due)-1]
		if !at.Before(c.EndsAt) {
			return nil
		}
		tier, ok := c.Tier(r.TierID)
		if !ok {
			return nil // validation forbids it; nothing to open
		}
		budget, err := postgres.Breakdown(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		qty := min(r.Quantity, budget.Available/tier.DiscountFen)
		round := postgres.Round{
			ID: uuid.Must(uuid.NewV7()), CampaignID: c.ID, ReleaseID: r.ID, TierID: r.TierID,
			OpensAt: at, Quantity: qty, UnitFen: tier.DiscountFen,
		}
		if r.CloseAfterMinutes > 0 {
			closes := at.Add(time.Duration(r.CloseAfterMinutes) * time.Minute)
			round.ClosesAt = &closes
		}
		if qty == 0 {
			// Nothing left to allocate: record the event, open nothing.
			return postgres.AppendEvent(ctx, tx, auditlog.Event{
				Actor: schedulerActor, ActorRole: schedulerActor, Action: "round.skipped", EntityType: "campaign",
				EntityID: c.ID.String(), After: mustJSON(map[string]any{"release_id": r.ID, "opens_at": at, "reason": "budget exhausted"}),
			})
		}
		created, err := postgres.InsertRound(ctx, tx, round)
		if err != nil || !created {
			return err
		}
		t := ledger.Transfer{CampaignID: c.ID, Kind: ledger.Allocation, AmountFen: qty * tier.DiscountFen, Ref: "round:" + round.ID.String()}
		for _, part := range t.Spread(postgres.Buckets) {
			if _, err := postgres.PostTransfer(ctx, tx, part, now); err != nil {
				return err
			}
		}
		opened = true
		return postgres.AppendEvent(ctx, tx, auditlog.Event{
			Actor: schedulerActor, ActorRole: schedulerActor, Action: "round.opened", EntityType: "round",
			EntityID: round.ID.String(), After: mustJSON(roundView(round)),
		})
	})
	return opened, err
}

// CloseDueRounds closes rounds past their closing time, superseded by a newer
// round of the same release, or of campaigns no longer live, returning their
// unclaimed value to the available budget. Safe to repeat.
func (s *Service) CloseDueRounds(ctx context.Context) (closed int, err error) {
	now := s.now()
	ids, err := postgres.RoundsToClose(ctx, s.pool, now)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			r, closedNow, err := postgres.CloseRound(ctx, tx, id, now)
			if err != nil || !closedNow {
				return err
			}
			if r.Returned > 0 {
				t := ledger.Transfer{CampaignID: r.CampaignID, Kind: ledger.Deallocation, AmountFen: r.Returned * r.UnitFen, Ref: "round:" + id.String()}
				for _, part := range t.Spread(postgres.Buckets) {
					if _, err := postgres.PostTransfer(ctx, tx, part, now); err != nil {
						return err
					}
				}
			}
			closed++
			return postgres.AppendEvent(ctx, tx, auditlog.Event{
				Actor: schedulerActor, ActorRole: schedulerActor, Action: "round.closed", EntityType: "round",
				EntityID: id.String(), After: mustJSON(roundView(r)),
			})
		})
		if err != nil {
			return closed, err
		}
	}
	if closed > 0 {
		s.rounds.invalidate()
	}
	return closed, nil
}

// Rounds lists a campaign's rounds with live counts.
func (s *Service) Rounds(ctx context.Context, campaignID uuid.UUID) ([]postgres.Round, error) {
	if _, err := postgres.GetCampaign(ctx, s.pool, campaignID); err != nil {
		return nil, err
	}
	return postgres.ListRounds(ctx, s.pool, campaignID)
}

func roundView(r postgres.Round) map[string]any {
	return map[string]any{
		"id": r.ID, "campaign_id": r.CampaignID, "release_id": r.ReleaseID, "tier_id": r.TierID,
		"opens_at": r.OpensAt, "closes_at": r.ClosesAt, "quantity": r.Quantity, "unit_fen": r.UnitFen,
		"status": r.Status, "returned": r.Returned,
	}
}
