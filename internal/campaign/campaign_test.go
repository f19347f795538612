package campaign

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func yuan(y int64) int64 { return y * 100 }

// consumption is a valid "spend ¥20/100/200, get ¥5/25/50 off" campaign in
// Shanghai, as a designer would send it (defaults not yet filled).
func consumption() *Campaign {
	return &Campaign{
		ID:        uuid.MustParse("01970000-0000-7000-8000-000000000001"),
		Kind:      KindConsumption,
		Name:      "上海消费券 2025 第一期",
		Authority: "Shanghai Municipal Commission of Commerce",
		StartsAt:  time.Date(2025, 6, 6, 10, 0, 0, 0, shanghai),
		EndsAt:    time.Date(2025, 7, 6, 0, 0, 0, 0, shanghai),
		BudgetFen: yuan(500_000_000),
		Rules: Rules{
			Tiers: []Tier{
				{ID: "t20", Name: "满20减5", MinSpendFen: yuan(20), DiscountFen: yuan(5), ValidityDays: 7},
				{ID: "t100", Name: "满100减25", MinSpendFen: yuan(100), DiscountFen: yuan(25), ValidityDays: 7},
				{ID: "t200", Name: "满200减50", MinSpendFen: yuan(200), DiscountFen: yuan(50), ValidityDays: 7, PerCampaignLimit: 4},
			},
			Eligibility: Eligibility{
				MerchantRegionPrefixes:     []string{"31"},
				MerchantCategoriesIncluded: []string{"catering", "retail", "culture_tourism"},
				MerchantCategoriesExcluded: []string{"tobacco"},
			},
		},
		Status:    StatusDraft,
		Version:   1,
		CreatedBy: "alice",
	}
}

// tradeIn is a valid trade-in campaign with the 2025 national rules.
func tradeIn() *Campaign {
	appliance := func(code string, limit int) Category {
		return Category{
			Code: code, RateBP: 1500, GradeRateBP: map[string]int{"1": 2000},
			CapFen: yuan(2000), PerHolderLimit: limit, RecyclingProofRequired: true, ValidityDays: 30,
		}
	}
	digital := func(code string) Category {
		return Category{Code: code, RateBP: 1500, CapFen: yuan(500), MaxPriceFen: yuan(6000), ValidityDays: 30}
	}
	return &Campaign{
		Kind:      KindTradeIn,
		Name:      "2025 Shanghai appliance and digital trade-in",
		Authority: "Shanghai Municipal Commission of Commerce",
		TimeZone:  "Asia/Shanghai",
		StartsAt:  time.Date(2025, 1, 1, 0, 0, 0, 0, shanghai),
		EndsAt:    time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai),
		BudgetFen: yuan(2_000_000_000),
		Rules: Rules{
			Categories: []Category{
				appliance("air_conditioner", 3),
				appliance("refrigerator", 1),
				appliance("washing_machine", 1),
				appliance("television", 1),
				digital("phone"),
				digital("tablet"),
				digital("smartwatch"),
			},
			Eligibility: Eligibility{HolderRegionPrefixes: []string{"31"}},
		},
		Status:    StatusDraft,
		CreatedBy: "alice",
	}
}

func TestValidCampaignsPass(t *testing.T) {
	for name, c := range map[string]*Campaign{"consumption": consumption(), "trade_in": tradeIn()} {
		t.Run(name, func(t *testing.T) {
			c.Normalize()
			require.Empty(t, c.Validate())
			require.NoError(t, c.ValidateErr())
		})
	}
}

func TestValidateErrListsEveryField(t *testing.T) {
	c := &Campaign{}
	c.Normalize()
	err := c.ValidateErr()
	e, ok := apperr.As(err)
	require.True(t, ok)
	require.Equal(t, apperr.CodeValidationFailed, e.Code)
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	require.Equal(t, []string{"name", "authority", "kind", "starts_at", "ends_at", "budget_fen"}, fields)
}

func TestNormalizeFillsDefaults(t *testing.T) {
	c := consumption()
	c.Normalize()
	require.Equal(t, "CNY", c.Currency)
	require.Equal(t, "Asia/Shanghai", c.TimeZone)
	require.Equal(t, 15, c.HoldMinutes)
	require.Equal(t, 1, c.Rules.Eligibility.MaxVouchersPerOrder)
	tier := c.Rules.Tiers[0]
	require.Equal(t, 1, tier.PerRoundLimit)
	require.Equal(t, 1, tier.PerCampaignLimit, "defaults to per_round_limit")
	require.Equal(t, 4, c.Rules.Tiers[2].PerCampaignLimit, "explicit value kept")

	tr := tradeIn()
	tr.Normalize()
	require.Equal(t, 3, tr.Rules.Categories[0].PerHolderLimit)
	require.Equal(t, 1, tr.Rules.Categories[4].PerHolderLimit)
}

func TestNormalizeKeepsSetValues(t *testing.T) {
	c := consumption()
	c.TimeZone, c.HoldMinutes = "Asia/Urumqi", -3
	c.Rules.Tiers[0].PerRoundLimit = 3
	c.Rules.Tiers[0].PerCampaignLimit = 0
	c.Rules.Tiers[1].PerRoundLimit = -1
	c.Rules.Eligibility.PaymentChannels = []string{"wechat_pay", "alipay", "alipay"}
	c.Normalize()
	require.Equal(t, "Asia/Urumqi", c.TimeZone)
	require.Equal(t, -3, c.HoldMinutes, "bad values are Validate's to report, not Normalize's to fix")
	require.Equal(t, 3, c.Rules.Tiers[0].PerCampaignLimit)
	require.Equal(t, -1, c.Rules.Tiers[1].PerRoundLimit)
	require.Equal(t, []string{"wechat_pay", "alipay", "alipay"}, c.Rules.Eligibility.PaymentChannels)
}

// The JSON names are the API's contract.
func TestJSONFieldNames(t *testing.T) {
	c := consumption()
	until := c.EndsAt
	c.Rules.Tiers[0].ValidityDays, c.Rules.Tiers[0].ValidUntil = 0, &until
	c.SubmittedBy, c.ApprovedBy = "alice", "bob"
	c.Rules.Eligibility = Eligibility{
		Platforms: []string{"jd"}, PaymentChannels: []string{"ecny"}, MerchantRegionPrefixes: []string{"31"},
		MerchantCategoriesIncluded: []string{"a"}, MerchantCategoriesExcluded: []string{"b"},
		MerchantChannels: []string{"online"}, Weekdays: []int{5}, HourWindows: []HourWindow{{"10:00", "12:00"}},
		HolderRegionPrefixes: []string{"31"}, MaxVouchersPerOrder: 1,
	}
	tr := tradeIn()
	doc := map[string]any{}
	raw, err := json.Marshal(map[string]any{"c": c, "category": tr.Rules.Categories[0]})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &doc))

	keys := func(v any) []string {
		var out []string
		for k := range v.(map[string]any) {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	top := doc["c"].(map[string]any)
	rules := top["rules"].(map[string]any)
	require.Equal(t, []string{"approved_by", "authority", "budget_fen", "created_at", "created_by", "currency", "ends_at",
		"hold_minutes", "id", "kind", "name", "rules", "starts_at", "status", "submitted_by", "time_zone",
		"updated_at", "version"}, keys(top))
	require.Equal(t, []string{"eligibility", "tiers"}, keys(rules))
	require.Equal(t, []string{"discount_fen", "id", "min_spend_fen", "name", "per_campaign_limit", "per_round_limit",
		"valid_until"}, keys(rules["tiers"].([]any)[0]))
	require.Equal(t, []string{"holder_region_prefixes", "hour_windows", "max_vouchers_per_order",
		"merchant_categories_excluded", "merchant_categories_included", "merchant_channels",
		"merchant_region_prefixes", "payment_channels", "platforms", "weekdays"}, keys(rules["eligibility"]))
	require.Equal(t, []string{"from", "to"}, keys(rules["eligibility"].(map[string]any)["hour_windows"].([]any)[0]))
	require.Equal(t, []string{"cap_fen", "code", "grade_rate_bp", "per_holder_limit", "rate_bp",
		"recycling_proof_required", "validity_days"}, keys(doc["category"]))
}

func TestLocation(t *testing.T) {
	c := tradeIn()
	require.Equal(t, "Asia/Shanghai", c.Location().String())
	c.TimeZone = "Europe/Berlin"
	require.Equal(t, "Europe/Berlin", c.Location().String())
	c.TimeZone = "Nowhere/Atlantis"
	require.Equal(t, "Asia/Shanghai", c.Location().String(), "an unvalidated zone falls back to the default")
}

func TestDueAction(t *testing.T) {
	c := consumption()
	before, start, mid, end := c.StartsAt.Add(-time.Second), c.StartsAt, c.StartsAt.Add(time.Hour), c.EndsAt
	cases := []struct {
		status Status
		now    time.Time
		want   Action
	}{
		{StatusApproved, before, ""},
		{StatusApproved, start, ActionActivate},
		{StatusApproved, mid, ActionActivate},
		{StatusApproved, end, ActionCancel},
		{StatusActive, mid, ""},
		{StatusActive, end, ActionClose},
		{StatusPaused, mid, ""},
		{StatusPaused, end.Add(time.Hour), ActionClose},
		{StatusDraft, end, ""},
		{StatusSubmitted, mid, ""},
		{StatusEnded, end, ""},
		{StatusCancelled, end, ""},
	}
	for _, tc := range cases {
		c.Status = tc.status
		got, ok := c.DueAction(tc.now)
		require.Equal(t, tc.want, got, "%s at %s", tc.status, tc.now)
		require.Equal(t, tc.want != "", ok)
		if ok {
			_, err := Transition(tc.status, got)
			require.NoError(t, err, "a due action is always a legal transition")
		}
	}
}

func TestKindAndStatusValid(t *testing.T) {
	for _, k := range Kinds {
		require.True(t, k.Valid())
	}
	require.False(t, Kind("lottery").Valid())
	for _, s := range Statuses {
		require.True(t, s.Valid())
		require.Equal(t, s == StatusDraft, s.Editable(), s)
		require.Equal(t, s == StatusActive, s.Live(), s)
	}
	require.False(t, Status("archived").Valid())
}
