package campaign

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestValidateRules breaks one rule at a time on an otherwise valid, normalized
// campaign and expects exactly that field to be reported, with a reason.
func TestValidateRules(t *testing.T) {
	type mut = func(c *Campaign)
	tier := func(i int, f func(*Tier)) mut { return func(c *Campaign) { f(&c.Rules.Tiers[i]) } }
	cat := func(i int, f func(*Category)) mut { return func(c *Campaign) { f(&c.Rules.Categories[i]) } }
	elig := func(f func(*Eligibility)) mut { return func(c *Campaign) { f(&c.Rules.Eligibility) } }
	at := func(c *Campaign, d time.Duration) *time.Time { t := c.StartsAt.Add(d); return &t }
	long := strings.Repeat("券", MaxTextLen+1)

	cases := []struct {
		name  string
		base  func() *Campaign
		mut   mut
		field string
	}{
		// Campaign fields.
		{"name empty", consumption, func(c *Campaign) { c.Name = "" }, "name"},
		{"name blank", consumption, func(c *Campaign) { c.Name = " \t " }, "name"},
		{"name too long", consumption, func(c *Campaign) { c.Name = long }, "name"},
		{"authority empty", consumption, func(c *Campaign) { c.Authority = "" }, "authority"},
		{"authority too long", consumption, func(c *Campaign) { c.Authority = long }, "authority"},
		{"kind empty", consumption, func(c *Campaign) { c.Kind = "" }, "kind"},
		{"kind unknown", consumption, func(c *Campaign) { c.Kind = "lottery" }, "kind"},
		{"currency USD", consumption, func(c *Campaign) { c.Currency = "USD" }, "currency"},
		{"currency lower case", consumption, func(c *Campaign) { c.Currency = "cny" }, "currency"},
		{"time zone unknown", consumption, func(c *Campaign) { c.TimeZone = "Mars/Olympus_Mons" }, "time_zone"},
		{"time zone Local", consumption, func(c *Campaign) { c.TimeZone = "Local" }, "time_zone"},
		{"time zone empty", consumption, func(c *Campaign) { c.TimeZone = "" }, "time_zone"},
		{"starts_at missing", consumption, func(c *Campaign) { c.StartsAt = time.Time{} }, "starts_at"},
		{"ends_at missing", consumption, func(c *Campaign) { c.EndsAt = time.Time{} }, "ends_at"},
		{"ends_at equals starts_at", consumption, func(c *Campaign) { c.EndsAt = c.StartsAt }, "ends_at"},
		{"ends_at before starts_at", consumption, func(c *Campaign) { c.EndsAt = c.StartsAt.Add(-time.Hour) }, "ends_at"},
		{"budget zero", consumption, func(c *Campaign) { c.BudgetFen = 0 }, "budget_fen"},
		{"budget negative", consumption, func(c *Campaign) { c.BudgetFen = -1 }, "budget_fen"},
		{"budget above maximum", consumption, func(c *Campaign) { c.BudgetFen = MaxBudgetFen + 1 }, "budget_fen"},
		{"budget max int64", consumption, func(c *Campaign) { c.BudgetFen = math.MaxInt64 }, "budget_fen"},
		{"hold minutes zero", consumption, func(c *Campaign) { c.HoldMinutes = 0 }, "hold_minutes"},
		{"hold minutes negative", consumption, func(c *Campaign) { c.HoldMinutes = -5 }, "hold_minutes"},
		{"hold minutes above a day", consumption, func(c *Campaign) { c.HoldMinutes = 1441 }, "hold_minutes"},

		// Kind-specific rules.
		{"consumption without tiers", consumption, func(c *Campaign) { c.Rules.Tiers = nil }, "rules.tiers"},
		{"consumption with categories", consumption, func(c *Campaign) {
			c.Rules.Categories = tradeIn().Rules.Categories[:1]
			c.Rules.Categories[0].PerHolderLimit = 1
		}, "rules.categories"},
		{"trade-in without categories", tradeIn, func(c *Campaign) { c.Rules.Categories = nil }, "rules.categories"},
		{"trade-in with tiers", tradeIn, func(c *Campaign) {
			c.Rules.Tiers = []Tier{{ID: "t", MinSpendFen: 100, DiscountFen: 10, ValidityDays: 1, PerRoundLimit: 1, PerCampaignLimit: 1}}
		}, "rules.tiers"},
		{"too many tiers", consumption, func(c *Campaign) {
			for i := len(c.Rules.Tiers); i <= MaxTiers; i++ {
				t := c.Rules.Tiers[0]
				t.ID = fmt.Sprintf("extra%d", i)
				c.Rules.Tiers = append(c.Rules.Tiers, t)
			}
		}, "rules.tiers"},
		{"too many categories", tradeIn, func(c *Campaign) {
			for i := len(c.Rules.Categories); i <= MaxCategories; i++ {
				k := c.Rules.Categories[0]
				k.Code = fmt.Sprintf("extra%d", i)
				c.Rules.Categories = append(c.Rules.Categories, k)
			}
		}, "rules.categories"},

		// Tiers.
		{"tier id empty", consumption, tier(1, func(t *Tier) { t.ID = "" }), "rules.tiers[1].id"},
		{"tier id upper case", consumption, tier(1, func(t *Tier) { t.ID = "T100" }), "rules.tiers[1].id"},
		{"tier id with space", consumption, tier(1, func(t *Tier) { t.ID = "t 100" }), "rules.tiers[1].id"},
		{"tier id leading dash", consumption, tier(1, func(t *Tier) { t.ID = "-t100" }), "rules.tiers[1].id"},
		{"tier id too long", consumption, tier(1, func(t *Tier) { t.ID = strings.Repeat("a", 33) }), "rules.tiers[1].id"},
		{"tier id duplicate", consumption, tier(2, func(t *Tier) { t.ID = "t20" }), "rules.tiers[2].id"},
		{"tier name too long", consumption, tier(0, func(t *Tier) { t.Name = long }), "rules.tiers[0].name"},
		{"min spend zero", consumption, tier(0, func(t *Tier) { t.MinSpendFen = 0 }), "rules.tiers[0].min_spend_fen"},
		{"min spend negative", consumption, tier(0, func(t *Tier) { t.MinSpendFen = -2000 }), "rules.tiers[0].min_spend_fen"},
		{"min spend above maximum", consumption, tier(0, func(t *Tier) { t.MinSpendFen = MaxAmountFen + 1 }), "rules.tiers[0].min_spend_fen"},
		{"discount zero", consumption, tier(1, func(t *Tier) { t.DiscountFen = 0 }), "rules.tiers[1].discount_fen"},
		{"discount negative", consumption, tier(1, func(t *Tier) { t.DiscountFen = -1 }), "rules.tiers[1].discount_fen"},
		{"discount above maximum", consumption, tier(1, func(t *Tier) { t.DiscountFen = math.MaxInt64 }), "rules.tiers[1].discount_fen"},
		{"discount equals threshold", consumption, tier(1, func(t *Tier) { t.DiscountFen = t.MinSpendFen }), "rules.tiers[1].discount_fen"},
		{"discount above threshold", consumption, tier(1, func(t *Tier) { t.DiscountFen = t.MinSpendFen + 1 }), "rules.tiers[1].discount_fen"},
		{"neither validity", consumption, tier(0, func(t *Tier) { t.ValidityDays = 0 }), "rules.tiers[0].validity_days"},
		{"both validities", consumption, func(c *Campaign) { c.Rules.Tiers[0].ValidUntil = at(c, time.Hour) }, "rules.tiers[0].valid_until"},
		{"validity days negative", consumption, tier(0, func(t *Tier) { t.ValidityDays = -1 }), "rules.tiers[0].validity_days"},
		{"validity days above a year", consumption, tier(0, func(t *Tier) { t.ValidityDays = 367 }), "rules.tiers[0].validity_days"},
		{"valid until at start", consumption, func(c *Campaign) {
			c.Rules.Tiers[0].ValidityDays, c.Rules.Tiers[0].ValidUntil = 0, at(c, 0)
		}, "rules.tiers[0].valid_until"},
		{"valid until after end", consumption, func(c *Campaign) {
			c.Rules.Tiers[0].ValidityDays, c.Rules.Tiers[0].ValidUntil = 0, at(c, c.EndsAt.Sub(c.StartsAt)+time.Second)
		}, "rules.tiers[0].valid_until"},
		{"per round limit zero", consumption, tier(0, func(t *Tier) { t.PerRoundLimit = 0 }), "rules.tiers[0].per_round_limit"},
		{"per round limit too high", consumption, tier(0, func(t *Tier) {
			t.PerRoundLimit, t.PerCampaignLimit = MaxTierLimit+1, MaxTierLimit+1
		}), "rules.tiers[0].per_round_limit"},
		{"per campaign limit zero", consumption, tier(0, func(t *Tier) { t.PerCampaignLimit = 0 }), "rules.tiers[0].per_campaign_limit"},
		{"per campaign limit too high", consumption, tier(0, func(t *Tier) { t.PerCampaignLimit = MaxTierLimit + 1 }), "rules.tiers[0].per_campaign_limit"},
		{"per campaign below per round", consumption, tier(0, func(t *Tier) { t.PerRoundLimit, t.PerCampaignLimit = 3, 2 }), "rules.tiers[0].per_campaign_limit"},

		// Trade-in categories.
		{"category code empty", tradeIn, cat(1, func(k *Category) { k.Code = "" }), "rules.categories[1].code"},
		{"category code not a slug", tradeIn, cat(1, func(k *Category) { k.Code = "Air Conditioner" }), "rules.categories[1].code"},
		{"category code duplicate", tradeIn, cat(5, func(k *Category) { k.Code = "phone" }), "rules.categories[5].code"},
		{"category name too long", tradeIn, cat(0, func(k *Category) { k.Name = long }), "rules.categories[0].name"},
		{"cap without rate", tradeIn, cat(0, func(k *Category) { k.RateBP = 0 }), "rules.categories[0].rate_bp"},
		{"rate negative", tradeIn, cat(0, func(k *Category) { k.RateBP = -1500 }), "rules.categories[0].rate_bp"},
		{"rate above 100%", tradeIn, cat(0, func(k *Category) { k.RateBP = 10001 }), "rules.categories[0].rate_bp"},
		{"grade 6", tradeIn, cat(0, func(k *Category) { k.GradeRateBP["6"] = 1000 }), `rules.categories[0].grade_rate_bp["6"]`},
		{"grade letter", tradeIn, cat(0, func(k *Category) { k.GradeRateBP["A"] = 1000 }), `rules.categories[0].grade_rate_bp["A"]`},
		{"grade empty", tradeIn, cat(0, func(k *Category) { k.GradeRateBP[""] = 1000 }), `rules.categories[0].grade_rate_bp[""]`},
		{"grade rate zero", tradeIn, cat(0, func(k *Category) { k.GradeRateBP["1"] = 0 }), `rules.categories[0].grade_rate_bp["1"]`},
		{"grade rate above 100%", tradeIn, cat(0, func(k *Category) { k.GradeRateBP["1"] = 10001 }), `rules.categories[0].grade_rate_bp["1"]`},
		{"cap zero", tradeIn, cat(0, func(k *Category) { k.CapFen = 0 }), "rules.categories[0].cap_fen"},
		{"cap negative", tradeIn, cat(0, func(k *Category) { k.CapFen = -1 }), "rules.categories[0].cap_fen"},
		{"cap above maximum", tradeIn, cat(0, func(k *Category) { k.CapFen = MaxAmountFen + 1 }), "rules.categories[0].cap_fen"},
		{"cap above max price", tradeIn, cat(4, func(k *Category) { k.CapFen = k.MaxPriceFen + 1 }), "rules.categories[4].cap_fen"},
		{"max price negative", tradeIn, cat(4, func(k *Category) { k.MaxPriceFen = -1 }), "rules.categories[4].max_price_fen"},
		{"max price above maximum", tradeIn, cat(4, func(k *Category) { k.MaxPriceFen = MaxAmountFen + 1 }), "rules.categories[4].max_price_fen"},
		{"per holder limit zero", tradeIn, cat(0, func(k *Category) { k.PerHolderLimit = 0 }), "rules.categories[0].per_holder_limit"},
		{"per holder limit too high", tradeIn, cat(0, func(k *Category) { k.PerHolderLimit = 101 }), "rules.categories[0].per_holder_limit"},
		{"category validity zero", tradeIn, cat(0, func(k *Category) { k.ValidityDays = 0 }), "rules.categories[0].validity_days"},
		{"category validity above a year", tradeIn, cat(0, func(k *Category) { k.ValidityDays = 367 }), "rules.categories[0].validity_days"},

		// Eligibility.
		{"platform empty", consumption, elig(func(e *Eligibility) { e.Platforms = []string{"jd", ""} }), "rules.eligibility.platforms[1]"},
		{"platform padded", consumption, elig(func(e *Eligibility) { e.Platforms = []string{" jd"} }), "rules.eligibility.platforms[0]"},
		{"platform too long", consumption, elig(func(e *Eligibility) { e.Platforms = []string{strings.Repeat("p", MaxIDLen+1)} }), "rules.eligibility.platforms[0]"},
		{"platform duplicate", consumption, elig(func(e *Eligibility) { e.Platforms = []string{"jd", "meituan", "jd"} }), "rules.eligibility.platforms[2]"},
		{"payment channel unknown", consumption, elig(func(e *Eligibility) { e.PaymentChannels = []string{"alipay", "paypal"} }), "rules.eligibility.payment_channels[1]"},
		{"payment channel duplicate", consumption, elig(func(e *Eligibility) { e.PaymentChannels = []string{"ecny", "ecny"} }), "rules.eligibility.payment_channels[1]"},
		{"region prefix odd length", consumption, elig(func(e *Eligibility) { e.MerchantRegionPrefixes = []string{"310"} }), "rules.eligibility.merchant_region_prefixes[0]"},
		{"region prefix one digit", consumption, elig(func(e *Eligibility) { e.MerchantRegionPrefixes = []string{"3"} }), "rules.eligibility.merchant_region_prefixes[0]"},
		{"region prefix seven digits", consumption, elig(func(e *Eligibility) { e.MerchantRegionPrefixes = []string{"3101040"} }), "rules.eligibility.merchant_region_prefixes[0]"},
		{"region prefix letters", consumption, elig(func(e *Eligibility) { e.MerchantRegionPrefixes = []string{"31a1"} }), "rules.eligibility.merchant_region_prefixes[0]"},
		{"region prefix no province", consumption, elig(func(e *Eligibility) { e.MerchantRegionPrefixes = []string{"31", "3899"} }), "rules.eligibility.merchant_region_prefixes[1]"},
		{"region prefix duplicate", consumption, elig(func(e *Eligibility) { e.MerchantRegionPrefixes = []string{"3101", "3101"} }), "rules.eligibility.merchant_region_prefixes[1]"},
		{"included category empty", consumption, elig(func(e *Eligibility) { e.MerchantCategoriesIncluded = []string{""} }), "rules.eligibility.merchant_categories_included[0]"},
		{"included category duplicate", consumption, elig(func(e *Eligibility) { e.MerchantCategoriesIncluded = []string{"retail", "retail"} }), "rules.eligibility.merchant_categories_included[1]"},
		{"excluded category empty", consumption, elig(func(e *Eligibility) { e.MerchantCategoriesExcluded = []string{" "} }), "rules.eligibility.merchant_categories_excluded[0]"},
		{"excluded category duplicate", consumption, elig(func(e *Eligibility) { e.MerchantCategoriesExcluded = []string{"tobacco", "tobacco"} }), "rules.eligibility.merchant_categories_excluded[1]"},
		{"included and excluded overlap", consumption, elig(func(e *Eligibility) { e.MerchantCategoriesExcluded = []string{"tobacco", "retail"} }), "rules.eligibility.merchant_categories_excluded[1]"},
		{"merchant channel unknown", consumption, elig(func(e *Eligibility) { e.MerchantChannels = []string{"mail_order"} }), "rules.eligibility.merchant_channels[0]"},
		{"merchant channel duplicate", consumption, elig(func(e *Eligibility) { e.MerchantChannels = []string{"online", "online"} }), "rules.eligibility.merchant_channels[1]"},
		{"weekday zero", consumption, elig(func(e *Eligibility) { e.Weekdays = []int{0} }), "rules.eligibility.weekdays[0]"},
		{"weekday eight", consumption, elig(func(e *Eligibility) { e.Weekdays = []int{5, 8} }), "rules.eligibility.weekdays[1]"},
		{"weekday duplicate", consumption, elig(func(e *Eligibility) { e.Weekdays = []int{5, 6, 5} }), "rules.eligibility.weekdays[2]"},
		{"hour from single digit", consumption, elig(func(e *Eligibility) { e.HourWindows = []HourWindow{{"9:00", "12:00"}} }), "rules.eligibility.hour_windows[0].from"},
		{"hour from 24:00", consumption, elig(func(e *Eligibility) { e.HourWindows = []HourWindow{{"24:00", "24:00"}} }), "rules.eligibility.hour_windows[0].from"},
		{"hour from minute 60", consumption, elig(func(e *Eligibility) { e.HourWindows = []HourWindow{{"10:60", "12:00"}} }), "rules.eligibility.hour_windows[0].from"},
		{"hour from empty", consumption, elig(func(e *Eligibility) { e.HourWindows = []HourWindow{{"", "12:00"}} }), "rules.eligibility.hour_windows[0].from"},
		{"hour to 25:00", consumption, elig(func(e *Eligibility) { e.HourWindows = []HourWindow{{"10:00", "25:00"}} }), "rules.eligibility.hour_windows[0].to"},
		{"hour to 24:01", consumption, elig(func(e *Eligibility) { e.HourWindows = []HourWindow{{"10:00", "24:01"}} }), "rules.eligibility.hour_windows[0].to"},
		{"hour to with seconds", consumption, elig(func(e *Eligibility) { e.HourWindows = []HourWindow{{"10:00", "12:00:00"}} }), "rules.eligibility.hour_windows[0].to"},
		{"hour to equals from", consumption, elig(func(e *Eligibility) {
			e.HourWindows = []HourWindow{{"08:00", "09:00"}, {"10:00", "10:00"}}
		}), "rules.eligibility.hour_windows[1].to"},
		{"hour window crosses midnight", consumption, elig(func(e *Eligibility) { e.HourWindows = []HourWindow{{"22:00", "02:00"}} }), "rules.eligibility.hour_windows[0].to"},
		{"holder region no province", tradeIn, elig(func(e *Eligibility) { e.HolderRegionPrefixes = []string{"00"} }), "rules.eligibility.holder_region_prefixes[0]"},
		{"holder region bad length", tradeIn, elig(func(e *Eligibility) { e.HolderRegionPrefixes = []string{"31010"} }), "rules.eligibility.holder_region_prefixes[0]"},
		{"holder region duplicate", tradeIn, elig(func(e *Eligibility) { e.HolderRegionPrefixes = []string{"31", "32", "31"} }), "rules.eligibility.holder_region_prefixes[2]"},
		{"max vouchers per order zero", consumption, elig(func(e *Eligibility) { e.MaxVouchersPerOrder = 0 }), "rules.eligibility.max_vouchers_per_order"},
		{"max vouchers per order eleven", consumption, elig(func(e *Eligibility) { e.MaxVouchersPerOrder = 11 }), "rules.eligibility.max_vouchers_per_order"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.base()
			c.Normalize()
			require.Empty(t, c.Validate(), "fixture must be valid")
			tc.mut(c)
			got := c.Validate()
			require.Len(t, got, 1, "one bad value, one error: %v", got)
			require.Equal(t, tc.field, got[0].Field)
			require.NotEmpty(t, got[0].Reason)
		})
	}
}

func TestValidateReasons(t *testing.T) {
	c := consumption()
	c.Normalize()
	c.Rules.Tiers[1].DiscountFen = 20000
	c.Rules.Tiers[1].MinSpendFen = 20000
	require.Equal(t, "must be less than min_spend_fen (20000)", c.Validate()[0].Reason)

	tr := tradeIn()
	tr.Normalize()
	tr.Rules.Categories[0].RateBP = 0
	require.Contains(t, tr.Validate()[0].Reason, "cap without a rate")
}

// Boundary values that must pass.
func TestValidateAcceptsBoundaries(t *testing.T) {
	c := consumption()
	c.Normalize()
	c.BudgetFen = MaxBudgetFen
	c.HoldMinutes = 1440
	c.Rules.Tiers[0].ValidityDays = 0
	c.Rules.Tiers[0].ValidUntil = &c.EndsAt // (starts_at, ends_at] includes the end
	c.Rules.Tiers[1].ValidityDays = MaxValidityDays
	c.Rules.Tiers[1].MinSpendFen, c.Rules.Tiers[1].DiscountFen = MaxAmountFen, MaxAmountFen-1
	c.Rules.Tiers[2].ID = strings.Repeat("a", 32)
	c.Rules.Eligibility = Eligibility{
		Platforms:              []string{"jd", "taobao", "meituan"},
		PaymentChannels:        PaymentChannels,
		MerchantRegionPrefixes: []string{"11", "1501", "310104", "71", "81", "82", "6501"},
		MerchantChannels:       []string{"online", "offline"},
		Weekdays:               []int{1, 2, 3, 4, 5, 6, 7},
		HourWindows:            []HourWindow{{"00:00", "00:01"}, {"10:00", "14:00"}, {"22:00", "24:00"}},
		MaxVouchersPerOrder:    MaxVouchersPerOrderCap,
	}
	require.Empty(t, c.Validate())

	tr := tradeIn()
	tr.Normalize()
	tr.Rules.Categories[0].RateBP = MaxRateBP
	tr.Rules.Categories[0].GradeRateBP = map[string]int{"1": 1, "2": 2, "3": 3, "4": 4, "5": MaxRateBP}
	tr.Rules.Categories[0].PerHolderLimit = MaxPerHolderLimit
	tr.Rules.Categories[4].CapFen = tr.Rules.Categories[4].MaxPriceFen
	require.Empty(t, tr.Validate())
}

func TestValidateGradeErrorsAreOrdered(t *testing.T) {
	tr := tradeIn()
	tr.Normalize()
	tr.Rules.Categories[0].GradeRateBP = map[string]int{"9": 1, "0": 1, "7": 1, "1": 0}
	var fields []string
	for _, f := range tr.Validate() {
		fields = append(fields, f.Field)
	}
	require.Equal(t, []string{
		`rules.categories[0].grade_rate_bp["0"]`, `rules.categories[0].grade_rate_bp["1"]`,
		`rules.categories[0].grade_rate_bp["7"]`, `rules.categories[0].grade_rate_bp["9"]`,
	}, fields)
}
