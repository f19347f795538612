package redemption

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/voucher"
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

var (
	alice = holder.Hash{1}
	bob   = holder.Hash{2}

	// issuedAt is a Friday morning in Shanghai; checkoutAt a day later.
	issuedAt   = time.Date(2025, 6, 6, 10, 0, 0, 0, shanghai)
	checkoutAt = time.Date(2025, 6, 7, 15, 30, 0, 0, shanghai)
)

// consumptionSetup is a valid checkout of alice's "spend ¥200, get ¥50 off"
// voucher on a ¥300 order at a Shanghai retailer: every test breaks one thing.
func consumptionSetup() (voucher.Voucher, Order, Context) {
	c := &campaign.Campaign{
		ID: uuid.MustParse("01970000-0000-7000-8000-000000000001"), Kind: campaign.KindConsumption,
		Name: "上海消费券 2025 第一期", TimeZone: "Asia/Shanghai",
		StartsAt: issuedAt.Add(-time.Hour), EndsAt: issuedAt.AddDate(0, 1, 0), BudgetFen: yuan(1_000_000),
		Rules: campaign.Rules{
			Tiers: []campaign.Tier{{ID: "t200", MinSpendFen: yuan(200), DiscountFen: yuan(50), ValidityDays: 7}},
			Eligibility: campaign.Eligibility{
				Platforms:                  []string{"taobao", "jd"},
				MerchantRegionPrefixes:     []string{"31"},
				MerchantCategoriesIncluded: []string{"retail", "catering"},
				MerchantCategoriesExcluded: []string{"tobacco"},
			},
		},
		Status: campaign.StatusActive,
	}
	c.Normalize()
	v := voucher.OfTier(c, c.Rules.Tiers[0], alice, issuedAt, voucher.FromClaim, "taobao", nil)
	o := Order{OrderNo: "TB-1", MerchantID: "m-1", AmountFen: yuan(300), Currency: "CNY", Items: []Item{
		{SKU: "rice-5kg", Category: "food", UnitPriceFen: yuan(50), Quantity: 2},
		{SKU: "kettle", Category: "small_appliance", UnitPriceFen: yuan(200), Quantity: 1},
	}}
	m := &registry.Merchant{PlatformID: "taobao", MerchantID: "m-1", Name: "Huangpu Grocer", Region: "310101",
		Category: "retail", Channel: registry.ChannelOnline, Status: registry.MerchantActive}
	return v, o, Context{Campaign: c, Merchant: m, PlatformID: "taobao", Channel: "alipay", HolderHash: alice, Now: checkoutAt}
}

func requireCode(t *testing.T, err error, code apperr.Code) *apperr.Error {
	t.Helper()
	require.Error(t, err)
	e, ok := apperr.As(err)
	require.True(t, ok, "%v is not a domain error", err)
	require.Equal(t, code, e.Code, "%v", err)
	return e
}

func TestCheckConsumptionAcceptsAValidCheckout(t *testing.T) {
	v, o, c := consumptionSetup()
	got, err := Check(v, o, c)
	require.NoError(t, err)
	assert.Equal(t, Outcome{DiscountFen: yuan(50)}, got)
}

func TestCheckRefusesEachBrokenRule(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(v *voucher.Voucher, o *Order, c *Context)
		code  apperr.Code
		extra map[string]any
	}{
		{"another holder's voucher", func(_ *voucher.Voucher, _ *Order, c *Context) { c.HolderHash = bob }, CodeVoucherNotFound, nil},
		{"reserved by another checkout", func(v *voucher.Voucher, _ *Order, _ *Context) { v.Status = voucher.Reserved },
			CodeVoucherNotActive, map[string]any{"current_status": "reserved"}},
		{"already redeemed", func(v *voucher.Voucher, _ *Order, _ *Context) { v.Status = voucher.Redeemed },
			CodeVoucherNotActive, map[string]any{"current_status": "redeemed"}},
		{"void", func(v *voucher.Voucher, _ *Order, _ *Context) { v.Status = voucher.Void },
			CodeVoucherNotActive, map[string]any{"current_status": "void"}},
		{"marked expired", func(v *voucher.Voucher, _ *Order, _ *Context) { v.Status = voucher.Expired }, CodeVoucherExpired, nil},
		{"not valid yet", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Now = issuedAt.Add(-time.Second) }, CodeVoucherExpired,
			map[string]any{"valid_from": "2025-06-06T10:00:00+08:00", "valid_until": "2025-06-13T10:00:00+08:00"}},
		{"at the end of validity", func(v *voucher.Voucher, _ *Order, c *Context) { c.Now = v.ValidUntil }, CodeVoucherExpired, nil},
		{"campaign paused", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Campaign.Status = campaign.StatusPaused },
			CodeCampaignNotActive, map[string]any{"current_status": "paused"}},
		{"campaign ended", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Campaign.Status = campaign.StatusEnded },
			CodeCampaignNotActive, map[string]any{"current_status": "ended"}},
		{"platform not in the list", func(_ *voucher.Voucher, _ *Order, c *Context) { c.PlatformID = "meituan" }, CodePlatformNotAllowed, nil},
		{"channel not in the list", func(_ *voucher.Voucher, _ *Order, c *Context) {
			c.Campaign.Rules.Eligibility.PaymentChannels = []string{"ecny", "unionpay"}
		}, CodeChannelNotAllowed, nil},
		{"unknown channel with no list", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Channel = "paypal" }, CodeChannelNotAllowed, nil},
		{"unknown merchant", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Merchant = nil }, CodeMerchantNotFound, nil},
		{"suspended merchant", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Merchant.Sanction = registry.SanctionSuspended },
			CodeMerchantSanctioned, map[string]any{"sanction": "suspended"}},
		{"blacklisted merchant", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Merchant.Sanction = registry.SanctionBlacklisted },
			CodeMerchantSanctioned, map[string]any{"sanction": "blacklisted"}},
		{"inactive merchant", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Merchant.Status = registry.MerchantInactive },
			CodeMerchantNotEligible, map[string]any{"reason": "status"}},
		{"merchant in another city", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Merchant.Region = "320102" },
			CodeMerchantNotEligible, map[string]any{"reason": "region"}},
		{"merchant category excluded", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Merchant.Category = "tobacco" },
			CodeMerchantNotEligible, map[string]any{"reason": "category"}},
		{"merchant category not included", func(_ *voucher.Voucher, _ *Order, c *Context) { c.Merchant.Category = "jewellery" },
			CodeMerchantNotEligible, map[string]any{"reason": "category"}},
		{"online merchant, offline campaign", func(_ *voucher.Voucher, _ *Order, c *Context) {
			c.Campaign.Rules.Eligibility.MerchantChannels = []string{registry.ChannelOffline}
		}, CodeMerchantNotEligible, map[string]any{"reason": "channel"}},
		{"weekday not allowed", func(_ *voucher.Voucher, _ *Order, c *Context) {
			c.Campaign.Rules.Eligibility.Weekdays = []int{1, 2, 3, 4, 5} // checkout is a Saturday
		}, CodeOutsideHours, nil},
		{"outside the hour window", func(_ *voucher.Voucher, _ *Order, c *Context) {
			c.Campaign.Rules.Eligibility.HourWindows = []campaign.HourWindow{{From: "10:00", To: "14:00"}}
		}, CodeOutsideHours, nil},
		{"below the threshold", func(_ *voucher.Voucher, o *Order, _ *Context) {
			o.AmountFen, o.Items = yuan(200)-1, []Item{{SKU: "kettle", Category: "small_appliance", UnitPriceFen: yuan(200) - 1, Quantity: 1}}
		}, CodeThresholdNotMet, map[string]any{"min_spend_fen": yuan(200)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, o, c := consumptionSetup()
			tc.spoil(&v, &o, &c)
			got, err := Check(v, o, c)
			e := requireCode(t, err, tc.code)
			assert.Zero(t, got)
			for k, want := range tc.extra {
				assert.Equal(t, want, e.Extra[k], k)
			}
		})
	}
}

func TestCheckAcceptsTheThresholdExactly(t *testing.T) {
	v, o, c := consumptionSetup()
	o.AmountFen, o.Items = yuan(200), []Item{{SKU: "kettle", Category: "small_appliance", UnitPriceFen: yuan(200), Quantity: 1}}
	got, err := Check(v, o, c)
	require.NoError(t, err)
	assert.Equal(t, yuan(50), got.DiscountFen)
}

// A code that does not exist and another holder's code must look the same.
func TestCheckNeverSaysWhoseVoucherItIs(t *testing.T) {
	v, o, c := consumptionSetup()
	c.HolderHash = bob
	_, err := Check(v, o, c)
	assert.Equal(t, VoucherNotFound(v.Code).Error(), err.Error())
	assert.Equal(t, http.StatusNotFound, apperr.StatusOf(apperr.CodeOf(err)))
}

// TestCheckOrder breaks every rule at once and repairs them one by one: each
// repair must reveal the next rule of the documented order.
func TestCheckOrder(t *testing.T) {
	v, o, c := consumptionSetup()
	el := &c.Campaign.Rules.Eligibility
	c.HolderHash = bob
	v.Status = voucher.Redeemed
	c.Now = v.ValidUntil.Add(time.Hour)
	c.Campaign.Status = campaign.StatusPaused
	c.PlatformID = "meituan"
	c.Channel = "paypal"
	merchant := c.Merchant
	c.Merchant = nil
	merchant.Sanction, merchant.Status, merchant.Region, merchant.Category = registry.SanctionSuspended, registry.MerchantInactive, "440300", "tobacco"
	el.MerchantChannels = []string{registry.ChannelOffline}
	el.Weekdays = []int{1}
	v.MinSpendFen = o.AmountFen + 1

	steps := []struct {
		code apperr.Code
		fix  func()
	}{
		{CodeVoucherNotFound, func() { c.HolderHash = alice }},
		{CodeVoucherNotActive, func() { v.Status = voucher.Active }},
		{CodeVoucherExpired, func() { c.Now = v.ValidUntil.Add(-time.Hour) }}, // a Friday 09:00 in Shanghai
		{CodeCampaignNotActive, func() { c.Campaign.Status = campaign.StatusActive }},
		{CodePlatformNotAllowed, func() { c.PlatformID = "jd" }},
		{CodeChannelNotAllowed, func() { c.Channel = "wechat_pay" }},
		{CodeMerchantNotFound, func() { c.Merchant = merchant }},
		{CodeMerchantSanctioned, func() { merchant.Sanction = "" }},
		{CodeMerchantNotEligible, func() { merchant.Status = registry.MerchantActive }},
		{CodeMerchantNotEligible, func() { merchant.Region = "310115" }},
		{CodeMerchantNotEligible, func() { merchant.Category = "catering" }},
		{CodeMerchantNotEligible, func() { merchant.Channel = registry.ChannelOffline }},
		{CodeOutsideHours, func() { el.Weekdays = []int{5} }},
		{CodeThresholdNotMet, func() { v.MinSpendFen = o.AmountFen }},
	}
	for _, s := range steps {
		_, err := Check(v, o, c)
		requireCode(t, err, s.code)
		s.fix()
	}
	got, err := Check(v, o, c)
	require.NoError(t, err)
	assert.Equal(t, yuan(50), got.DiscountFen)
}

// tradeInSetup is alice's qualification for category under the 2025 national
// rules: appliances 15% (20% for energy grade 1) capped at ¥2,000 and needing
// proof of recycling; phones 15% capped at ¥500, only up to ¥6,000.
func tradeInSetup(category string) (voucher.Voucher, Order, Context) {
	appliance := campaign.Category{Code: "air_conditioner", RateBP: 1500, GradeRateBP: map[string]int{"1": 2000},
		CapFen: yuan(2000), PerHolderLimit: 3, RecyclingProofRequired: true, ValidityDays: 30}
	phone := campaign.Category{Code: "phone", RateBP: 1500, CapFen: yuan(500), MaxPriceFen: yuan(6000), ValidityDays: 30}
	c := &campaign.Campaign{
		ID: uuid.MustParse("01970000-0000-7000-8000-000000000002"), Kind: campaign.KindTradeIn,
		Name: "2025 以旧换新", TimeZone: "Asia/Shanghai",
		StartsAt: issuedAt.Add(-time.Hour), EndsAt: issuedAt.AddDate(0, 6, 0), BudgetFen: yuan(100_000_000),
		Rules:  campaign.Rules{Categories: []campaign.Category{appliance, phone}},
		Status: campaign.StatusActive,
	}
	c.Normalize()
	k, _ := c.Category(category)
	v := voucher.OfCategory(c, k, alice, issuedAt, "jd")
	m := &registry.Merchant{PlatformID: "jd", MerchantID: "jd-appliances", Region: "310104",
		Category: "household_appliances", Channel: registry.ChannelOnline, Status: registry.MerchantActive}
	return v, Order{OrderNo: "JD-1", MerchantID: "jd-appliances", Currency: "CNY"},
		Context{Campaign: c, Merchant: m, PlatformID: "jd", Channel: "jd_pay", HolderHash: alice, Now: checkoutAt}
}

// withItems sets the order's items and the amount they add up to.
func withItems(o Order, items ...Item) Order {
	o.Items, o.AmountFen = items, 0
	for _, it := range items {
		o.AmountFen += it.UnitPriceFen * int64(it.Quantity)
	}
	return o
}

func TestCheckTradeInSubsidy(t *testing.T) {
	ac := func(price int64, grade string) Item {
		return Item{SKU: "ac", Category: "air_conditioner", UnitPriceFen: price, Quantity: 1, EnergyGrade: grade,
			SerialNumber: "GREE-2025-000123", RecyclingProof: "SH-RC-77"}
	}
	phone := func(price int64) Item {
		return Item{SKU: "phone", Category: "phone", UnitPriceFen: price, Quantity: 1, SerialNumber: "352099001761481"}
	}
	cases := []struct {
		name     string
		category string
		items    []Item
		want     int64
	}{
		{"15% of a ¥4,999 grade 2 air conditioner", "air_conditioner", []Item{ac(yuan(4999), "2")}, 74_985},
		{"20% of a ¥12,000 grade 1 unit, capped at ¥2,000", "air_conditioner", []Item{ac(yuan(12000), "1")}, yuan(2000)},
		{"20% of a ¥9,999.99 grade 1 unit, just under the cap", "air_conditioner", []Item{ac(999_999, "1")}, 199_999},
		{"no grade: the base rate", "air_conditioner", []Item{ac(yuan(3000), "")}, yuan(450)},
		{"15% of ¥1,999.99 rounds down", "phone", []Item{phone(199_999)}, 29_999},
		{"15% of ¥3,333.33 rounds down under the cap", "phone", []Item{phone(333_333)}, 49_999},
		{"a ¥6,000 phone: allowed, capped at ¥500", "phone", []Item{phone(yuan(6000))}, yuan(500)},
		{"one unit of the first item of the category", "phone", []Item{
			{SKU: "case", Category: "accessory", UnitPriceFen: yuan(99), Quantity: 3},
			{SKU: "phone", Category: "phone", UnitPriceFen: yuan(2000), Quantity: 2, SerialNumber: "R58M123456"},
			phone(yuan(5000)),
		}, yuan(300)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, o, c := tradeInSetup(tc.category)
			o = withItems(o, tc.items...)
			require.NoError(t, o.Validate())
			got, err := Check(v, o, c)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.DiscountFen)
			assert.Equal(t, tc.category, got.Category)
			assert.NotEmpty(t, got.SerialNumber)
		})
	}
}

func TestCheckTradeInRefuses(t *testing.T) {
	cases := []struct {
		name     string
		category string
		item     Item
		code     apperr.Code
	}{
		{"a ¥6,000.01 phone", "phone", Item{Category: "phone", UnitPriceFen: yuan(6000) + 1, SerialNumber: "352099001761481"}, CodePriceAboveMax},
		{"a ¥6,001 phone", "phone", Item{Category: "phone", UnitPriceFen: yuan(6001), SerialNumber: "352099001761481"}, CodePriceAboveMax},
		{"no item of the category", "phone", Item{Category: "tablet", UnitPriceFen: yuan(3000), SerialNumber: "DMPXK1234"}, CodeNoQualifyingItem},
		{"no serial number", "phone", Item{Category: "phone", UnitPriceFen: yuan(3000)}, CodeSerialRequired},
		{"a serial number of hyphens only", "phone", Item{Category: "phone", UnitPriceFen: yuan(3000), SerialNumber: "----"}, CodeSerialRequired},
		{"no recycling proof", "air_conditioner", Item{Category: "air_conditioner", UnitPriceFen: yuan(4000), SerialNumber: "GREE-1"}, CodeRecyclingProofRequired},
		{"a blank recycling proof", "air_conditioner",
			Item{Category: "air_conditioner", UnitPriceFen: yuan(4000), SerialNumber: "GREE-1", RecyclingProof: "  "}, CodeRecyclingProofRequired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, o, c := tradeInSetup(tc.category)
			tc.item.SKU, tc.item.Quantity = "sku-1", 1
			_, err := Check(v, withItems(o, tc.item), c)
			requireCode(t, err, tc.code)
		})
	}
}

func TestCheckTradeInPricesWithTheTermsOfIssue(t *testing.T) {
	v, o, c := tradeInSetup("phone")
	c.Campaign.Rules.Categories[1].RateBP = 500 // not possible once submitted; the voucher's terms rule anyway
	got, err := Check(v, withItems(o, Item{SKU: "p", Category: "phone", UnitPriceFen: yuan(2000), Quantity: 1, SerialNumber: "35-209900-176148-1"}), c)
	require.NoError(t, err)
	assert.Equal(t, yuan(300), got.DiscountFen)
	assert.Equal(t, "352099001761481", got.SerialNumber)
}

func TestCheckTradeInWithoutTermsIsAnInternalError(t *testing.T) {
	v, o, c := tradeInSetup("phone")
	v.Terms = nil
	_, err := Check(v, withItems(o, Item{SKU: "p", Category: "phone", UnitPriceFen: yuan(2000), Quantity: 1, SerialNumber: "X1234"}), c)
	requireCode(t, err, apperr.CodeInternal)
}

func TestNormalizeSerial(t *testing.T) {
	for in, want := range map[string]string{
		"35-209900-176148-1":  "352099001761481",
		" c02xk0abjgh5 ":      "C02XK0ABJGH5",
		"C02XK0ABJGH5":        "C02XK0ABJGH5",
		"--":                  "",
		"":                    "",
		"gree-2025-000123-ac": "GREE2025000123AC",
	} {
		assert.Equal(t, want, NormalizeSerial(in), in)
	}
}

// The weekday and the hours are those of the campaign's zone, whatever zone
// the checkout time arrives in.
func TestCheckTimeWindowsAcrossZones(t *testing.T) {
	newYork, berlin := mustZone("America/New_York"), mustZone("Europe/Berlin")
	cases := []struct {
		name     string
		zone     string
		weekdays []int
		windows  []campaign.HourWindow
		now      time.Time
		ok       bool
	}{
		{"Friday 10:30 in Shanghai", "Asia/Shanghai", []int{5}, []campaign.HourWindow{{From: "10:00", To: "22:00"}},
			time.Date(2025, 6, 13, 2, 30, 0, 0, time.UTC), true},
		{"Thursday 22:30 in New York is Friday 10:30 in Shanghai", "Asia/Shanghai", []int{5}, []campaign.HourWindow{{From: "10:00", To: "22:00"}},
			time.Date(2025, 6, 12, 22, 30, 0, 0, newYork), true},
		{"Friday 07:00 in Shanghai is before the window", "Asia/Shanghai", []int{5}, []campaign.HourWindow{{From: "10:00", To: "22:00"}},
			time.Date(2025, 6, 12, 23, 0, 0, 0, time.UTC), false},
		{"Friday 22:00 in Shanghai: To is exclusive", "Asia/Shanghai", []int{5}, []campaign.HourWindow{{From: "10:00", To: "22:00"}},
			time.Date(2025, 6, 13, 22, 0, 0, 0, shanghai), false},
		{"Friday 16:00 UTC is already Saturday in Shanghai", "Asia/Shanghai", []int{5}, nil,
			time.Date(2025, 6, 13, 16, 0, 0, 0, time.UTC), false},
		{"Sunday is ISO 7", "Asia/Shanghai", []int{6, 7}, nil, time.Date(2025, 6, 15, 12, 0, 0, 0, shanghai), true},
		{"23:59 inside a window to 24:00", "Asia/Shanghai", nil, []campaign.HourWindow{{From: "20:00", To: "24:00"}},
			time.Date(2025, 6, 13, 23, 59, 0, 0, shanghai), true},
		{"second of two windows", "Asia/Shanghai", nil, []campaign.HourWindow{{From: "08:00", To: "09:00"}, {From: "18:00", To: "20:00"}},
			time.Date(2025, 6, 13, 19, 0, 0, 0, shanghai), true},
		{"Berlin summer: 08:30 UTC is 10:30 CEST", "Europe/Berlin", nil, []campaign.HourWindow{{From: "10:00", To: "12:00"}},
			time.Date(2025, 7, 1, 8, 30, 0, 0, time.UTC), true},
		{"Berlin winter: 08:30 UTC is 09:30 CET", "Europe/Berlin", nil, []campaign.HourWindow{{From: "10:00", To: "12:00"}},
			time.Date(2025, 1, 7, 8, 30, 0, 0, time.UTC), false},
		{"Berlin winter: 10:30 CET given in Berlin", "Europe/Berlin", nil, []campaign.HourWindow{{From: "10:00", To: "12:00"}},
			time.Date(2025, 1, 7, 10, 30, 0, 0, berlin), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, o, c := consumptionSetup()
			c.Campaign.TimeZone = tc.zone
			c.Campaign.Rules.Eligibility.Weekdays, c.Campaign.Rules.Eligibility.HourWindows = tc.weekdays, tc.windows
			v.ValidFrom, v.ValidUntil = tc.now.Add(-time.Hour), tc.now.Add(time.Hour)
			c.Now = tc.now
			_, err := Check(v, o, c)
			if tc.ok {
				require.NoError(t, err)
			} else {
				requireCode(t, err, CodeOutsideHours)
			}
		})
	}
}

func TestOutsideHoursSaysWhenInTheCampaignZone(t *testing.T) {
	v, o, c := consumptionSetup()
	c.Campaign.Rules.Eligibility.Weekdays = []int{5, 7}
	c.Campaign.Rules.Eligibility.HourWindows = []campaign.HourWindow{{From: "10:00", To: "22:00"}}
	c.Now = time.Date(2025, 6, 12, 23, 0, 0, 0, time.UTC)
	v.ValidFrom = c.Now.Add(-time.Hour)
	_, err := Check(v, o, c)
	e := requireCode(t, err, CodeOutsideHours)
	assert.Equal(t, "the campaign's vouchers are redeemed on Friday, Sunday during 10:00–22:00 (Asia/Shanghai time); it is Friday 07:00 there", e.Message)
}

func TestCodesAreRegisteredWithTheirStatus(t *testing.T) {
	want := map[apperr.Code]int{
		CodeVoucherNotFound: 404, CodeVoucherNotActive: 409, CodeVoucherExpired: 409, CodeCampaignNotActive: 409,
		CodePlatformNotAllowed: 403, CodeChannelNotAllowed: 422, CodeMerchantNotFound: 404, CodeMerchantNotEligible: 422,
		CodeMerchantSanctioned: 403, CodeOutsideHours: 422, CodeThresholdNotMet: 422, CodeStackingNotAllowed: 409,
		CodeNoQualifyingItem: 422, CodePriceAboveMax: 422, CodeSerialRequired: 422, CodeSerialAlreadyUsed: 409,
		CodeRecyclingProofRequired: 422, CodeOrderAmountMismatch: 400, CodeHoldExpired: 409, CodePaidMismatch: 422,
		CodeChannelMismatch: 422, CodeRedemptionState: 409, CodeRefundExceedsPaid: 422, CodeRefundNoReused: 409,
		CodeOrderNoReused: 409,
	}
	registered := apperr.Codes()
	for code, status := range want {
		assert.Equal(t, status, registered[code], code)
	}
}
