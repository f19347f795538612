package campaign

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Release schedules first-come rounds of one tier: either every time a cron
// expression fires (seconds field first, read in the campaign's time zone,
// e.g. "0 0 10 * * FRI" for Fridays at 10:00) or once at OpensAt.
type Release struct {
	ID                string     `json:"id"`
	TierID            string     `json:"tier_id"`
	Quantity          int64      `json:"quantity"`
	Cron              string     `json:"cron,omitempty"`
	OpensAt           *time.Time `json:"opens_at,omitempty"`
	CloseAfterMinutes int        `json:"close_after_minutes,omitempty"` // 0: open until the campaign ends
}

// LotteryRules issue one tier by a drawn lottery among registered holders.
type LotteryRules struct {
	TierID               string    `json:"tier_id"`
	Winners              int64     `json:"winners"`
	RegistrationOpensAt  time.Time `json:"registration_opens_at"`
	RegistrationClosesAt time.Time `json:"registration_closes_at"`
	DrawAt               time.Time `json:"draw_at"`
}

// MaxRoundQuantity bounds one round's stock.
const MaxRoundQuantity = 100_000_000

var cronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Schedule parses the release's cron expression in loc.
func (r Release) Schedule(loc *time.Location) (cron.Schedule, error) {
	return cronParser.Parse("CRON_TZ=" + loc.String() + " " + r.Cron)
}

// Occurrences lists when the release opens rounds in (after, upTo], oldest
// first: the cron firings, or the one-off time.
func (r Release) Occurrences(loc *time.Location, after, upTo time.Time) []time.Time {
	if r.OpensAt != nil {
		if r.OpensAt.After(after) && !r.OpensAt.After(upTo) {
			return []time.Time{*r.OpensAt}
		}
		return nil
	}
	sched, err := r.Schedule(loc)
	if err != nil {
		return nil
	}
	var out []time.Time
	for t := sched.Next(after); !t.IsZero() && !t.After(upTo); t = sched.Next(t) {
		out = append(out, t)
	}
	return out
}

// Tier finds a tier by id.
func (c *Campaign) Tier(id string) (Tier, bool) {
	for _, t := range c.Rules.Tiers {
		if t.ID == id {
			return t, true
		}
	}
	return Tier{}, false
}

// Category finds a trade-in category by code.
func (c *Campaign) Category(code string) (Category, bool) {
	for _, k := range c.Rules.Categories {
		if k.Code == code {
			return k, true
		}
	}
	return Category{}, false
}

func (c *Campaign) validateReleases(v *validator) {
	if len(c.Rules.Releases) > 0 && c.Kind != KindConsumption {
		v.add("rules.releases", "release rounds issue consumption tiers; trade-in qualifications are claimed without rounds")
	}
	if len(c.Rules.Releases) > 50 {
		v.add("rules.releases", "at most 50 release schedules")
	}
	seen := map[string]int{}
	for i, r := range c.Rules.Releases {
		f := fmt.Sprintf("rules.releases[%d]", i)
		if v.slug(f+".id", r.ID) {
			if j, dup := seen[r.ID]; dup {
				v.add(f+".id", "duplicates rules.releases[%d].id %q", j, r.ID)
			}
			seen[r.ID] = i
		}
		if _, ok := c.Tier(r.TierID); !ok {
			v.add(f+".tier_id", "names no tier of this campaign: %q", r.TierID)
		}
		if r.Quantity < 1 || r.Quantity > MaxRoundQuantity {
			v.add(f+".quantity", "must be from 1 to %d vouchers", MaxRoundQuantity)
		}
		switch {
		case (r.Cron == "") == (r.OpensAt == nil):
			v.add(f, "needs exactly one of cron (repeating rounds) and opens_at (a single round)")
		case r.Cron != "":
			if _, err := r.Schedule(c.Location()); err != nil {
				v.add(f+".cron", "is not a cron expression with a seconds field (e.g. 0 0 10 * * FRI): %v", err)
			}
		case r.OpensAt.Before(c.StartsAt) || !r.OpensAt.Before(c.EndsAt):
			v.add(f+".opens_at", "must fall inside the campaign, from starts_at to before ends_at")
		}
		if r.CloseAfterMinutes < 0 || r.CloseAfterMinutes > 527040 {
			v.add(f+".close_after_minutes", "must be from 1 to 527040 (a year), or absent to stay open until the campaign ends")
		}
	}
}

func (c *Campaign) validateLottery(v *validator) {
	l := c.Rules.Lottery
	if l == nil {
		return
	}
	const f = "rules.lottery"
	if c.Kind != KindConsumption {
		v.add(f, "a lottery issues a consumption tier")
	}
	if _, ok := c.Tier(l.TierID); !ok {
		v.add(f+".tier_id", "names no tier of this campaign: %q", l.TierID)
	}
	if l.Winners < 1 || l.Winners > MaxRoundQuantity {
		v.add(f+".winners", "must be from 1 to %d", MaxRoundQuantity)
	}
	if l.RegistrationOpensAt.Before(c.StartsAt) {
		v.add(f+".registration_opens_at", "must not be before the campaign starts")
	}
	if !l.RegistrationClosesAt.After(l.RegistrationOpensAt) {
		v.add(f+".registration_closes_at", "must be after registration_opens_at")
	}
	if l.DrawAt.Before(l.RegistrationClosesAt) {
		v.add(f+".draw_at", "must not be before registration closes")
	}
	if !l.DrawAt.Before(c.EndsAt) {
		v.add(f+".draw_at", "must be before the campaign ends, so winners can use their vouchers")
	}
}
