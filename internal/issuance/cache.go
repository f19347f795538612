package issuance

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/postgres"
)

// The claim path answers most questions from memory: what a campaign's rules
// are, which round of a tier is open, and whether it is sold out. Sold-out
// and not-open answers therefore never reach the database, and the caches
// are short-lived so pauses, new rounds and closings show within a second.
const (
	campaignTTL = time.Second
	roundsTTL   = 500 * time.Millisecond
)

type campaignCache struct {
	mu      sync.Mutex
	entries map[uuid.UUID]campaignEntry
}

type campaignEntry struct {
	c  *campaign.Campaign
	at time.Time
}

func (cc *campaignCache) get(ctx context.Context, s *Service, id uuid.UUID) (*campaign.Campaign, error) {
	now := time.Now()
	cc.mu.Lock()
	e, ok := cc.entries[id]
	cc.mu.Unlock()
	if ok && now.Sub(e.at) < campaignTTL {
		return e.c, nil
	}
	c, err := postgres.GetCampaign(ctx, s.pool, id)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if cc.entries == nil {
		cc.entries = map[uuid.UUID]campaignEntry{}
	}
	cc.entries[id] = campaignEntry{c: &c, at: now}
	cc.mu.Unlock()
	return &c, nil
}

// openRound is a round the claim path may draw on.
type openRound struct {
	postgres.Round
	soldOut atomic.Bool
}

type roundKey struct {
	campaign uuid.UUID
	tier     string
}

type roundCache struct {
	mu      sync.Mutex
	byTier  map[roundKey]*openRound
	loaded  time.Time
	refresh sync.Mutex // one reload at a time
}

func (rc *roundCache) invalidate() {
	rc.mu.Lock()
	rc.loaded = time.Time{}
	rc.mu.Unlock()
}

// open returns the open round of a tier at now, if any. When several rounds
// of a tier are open (several releases), the newest is used.
func (rc *roundCache) open(ctx context.Context, s *Service, campaignID uuid.UUID, tier string, now time.Time) (*openRound, error) {
	rc.mu.Lock()
	fresh := time.Since(rc.loaded) < roundsTTL
	rc.mu.Unlock()
	if !fresh {
		if err := rc.reload(ctx, s, now); err != nil {
			return nil, err
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r := rc.byTier[roundKey{campaignID, tier}]
	if r == nil || r.OpensAt.After(now) || (r.ClosesAt != nil && !r.ClosesAt.After(now)) {
		return nil, nil
	}
	return r, nil
}

func (rc *roundCache) reload(ctx context.Context, s *Service, now time.Time) error {
	rc.refresh.Lock()
	defer rc.refresh.Unlock()
	rc.mu.Lock()
	fresh := time.Since(rc.loaded) < roundsTTL
	rc.mu.Unlock()
	if fresh {
		return nil // another caller reloaded while we waited
	}
	rounds, err := postgres.OpenRounds(ctx, s.pool, now)
	if err != nil {
		return err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	old := rc.byTier
	rc.byTier = map[roundKey]*openRound{}
	for _, r := range rounds {
		k := roundKey{r.CampaignID, r.TierID}
		if cur := rc.byTier[k]; cur != nil && cur.OpensAt.After(r.OpensAt) {
			continue
		}
		o := &openRound{Round: r}
		// Keep what claims learned about the round (sold out) across reloads.
		if prev := old[k]; prev != nil && prev.ID == r.ID && prev.soldOut.Load() {
			o.soldOut.Store(true)
		}
		if r.Remaining == 0 {
			o.soldOut.Store(true)
		}
		rc.byTier[k] = o
	}
	rc.loaded = time.Now()
	return nil
}
