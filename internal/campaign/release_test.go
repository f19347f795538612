package campaign

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func withReleases() *Campaign {
	c := consumption()
	at := c.StartsAt.Add(time.Hour)
	c.Rules.Releases = []Release{
		{ID: "friday", TierID: "t200", Quantity: 100_000, Cron: "0 0 10 * * FRI", CloseAfterMinutes: 600},
		{ID: "launch", TierID: "t20", Quantity: 5_000, OpensAt: &at},
	}
	c.Rules.Lottery = &LotteryRules{TierID: "t100", Winners: 1000,
		RegistrationOpensAt: c.StartsAt, RegistrationClosesAt: c.StartsAt.Add(72 * time.Hour), DrawAt: c.StartsAt.Add(73 * time.Hour)}
	c.Normalize()
	return c
}

func TestReleasesAndLotteryValidate(t *testing.T) {
	require.Empty(t, withReleases().Validate())

	before := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		field string
		mut   func(c *Campaign)
	}{
		{"rules.releases[1].id", func(c *Campaign) { c.Rules.Releases[1].ID = "friday" }},
		{"rules.releases[0].tier_id", func(c *Campaign) { c.Rules.Releases[0].TierID = "t999" }},
		{"rules.releases[0].quantity", func(c *Campaign) { c.Rules.Releases[0].Quantity = 0 }},
		{"rules.releases[0].cron", func(c *Campaign) { c.Rules.Releases[0].Cron = "every friday" }},
		{"rules.releases[0]", func(c *Campaign) { c.Rules.Releases[0].OpensAt = &before }},
		{"rules.releases[1]", func(c *Campaign) { c.Rules.Releases[1].OpensAt = nil }},
		{"rules.releases[1].opens_at", func(c *Campaign) { c.Rules.Releases[1].OpensAt = &before }},
		{"rules.releases[0].close_after_minutes", func(c *Campaign) { c.Rules.Releases[0].CloseAfterMinutes = -1 }},
		{"rules.lottery.tier_id", func(c *Campaign) { c.Rules.Lottery.TierID = "nope" }},
		{"rules.lottery.winners", func(c *Campaign) { c.Rules.Lottery.Winners = 0 }},
		{"rules.lottery.registration_closes_at", func(c *Campaign) {
			c.Rules.Lottery.RegistrationClosesAt = c.Rules.Lottery.RegistrationOpensAt
		}},
		{"rules.lottery.draw_at", func(c *Campaign) { c.Rules.Lottery.DrawAt = c.EndsAt }},
		{"rules.lottery.registration_opens_at", func(c *Campaign) { c.Rules.Lottery.RegistrationOpensAt = before }},
	}
	for _, tc := range cases {
		c := withReleases()
		tc.mut(c)
		errs := c.Validate()
		require.NotEmpty(t, errs, tc.field)
		assert.Equal(t, tc.field, errs[0].Field, "%s: %v", tc.field, errs)
	}
	tradeIn := tradeIn()
	tradeIn.Rules.Releases = withReleases().Rules.Releases
	assert.NotEmpty(t, tradeIn.Validate(), "rounds are for consumption tiers")
}

func TestReleaseOccurrencesInTheCampaignZone(t *testing.T) {
	c := withReleases()
	loc := c.Location()
	r := c.Rules.Releases[0]
	from := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	got := r.Occurrences(loc, from, from.Add(15*24*time.Hour))
	require.Len(t, got, 2)
	for _, at := range got {
		local := at.In(loc)
		assert.Equal(t, time.Friday, local.Weekday())
		assert.Equal(t, 10, local.Hour(), "10:00 Shanghai time, 02:00 UTC")
		assert.Equal(t, 2, at.UTC().Hour())
	}
	once := c.Rules.Releases[1]
	assert.Len(t, once.Occurrences(loc, from, c.EndsAt), 1)
	assert.Empty(t, once.Occurrences(loc, *once.OpensAt, c.EndsAt), "a one-off release opens once")
}
