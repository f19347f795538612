package campaign

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAllowsTimeAcrossZones(t *testing.T) {
	e := Eligibility{Weekdays: []int{5}, HourWindows: []HourWindow{{"10:00", "12:00"}}}
	friday10 := time.Date(2025, 6, 6, 2, 0, 0, 0, time.UTC) // Friday 10:00 in Shanghai
	require.Equal(t, time.Friday, friday10.In(shanghai).Weekday())

	require.True(t, e.AllowsTime(friday10, shanghai))
	require.False(t, e.AllowsTime(friday10, time.UTC), "02:00 UTC is outside the window")
	// Thursday 18:00 UTC is already Friday 02:00 in Shanghai: right day, wrong hour.
	require.False(t, e.AllowsTime(time.Date(2025, 6, 5, 18, 0, 0, 0, time.UTC), shanghai))
	// Thursday 10:30 in Shanghai: right hour, wrong day.
	require.False(t, e.AllowsTime(time.Date(2025, 6, 5, 10, 30, 0, 0, shanghai), shanghai))

	require.True(t, e.AllowsTime(time.Date(2025, 6, 6, 11, 59, 59, 999, shanghai), shanghai))
	require.False(t, e.AllowsTime(time.Date(2025, 6, 6, 12, 0, 0, 0, shanghai), shanghai), "To is exclusive")
	require.False(t, e.AllowsTime(time.Date(2025, 6, 6, 9, 59, 59, 0, shanghai), shanghai))
}

func TestAllowsTimeWeekdaysAndWindows(t *testing.T) {
	sunday := time.Date(2025, 6, 8, 23, 59, 0, 0, shanghai)
	require.True(t, Eligibility{}.AllowsTime(sunday, shanghai), "no restriction")
	require.True(t, Eligibility{Weekdays: []int{7}}.AllowsTime(sunday, shanghai), "ISO Sunday is 7")
	require.False(t, Eligibility{Weekdays: []int{1, 2, 3, 4, 5, 6}}.AllowsTime(sunday, shanghai))
	require.True(t, Eligibility{HourWindows: []HourWindow{{"22:00", "24:00"}}}.AllowsTime(sunday, shanghai), "24:00 reaches midnight")
	require.True(t, Eligibility{HourWindows: []HourWindow{{"08:00", "09:00"}, {"23:00", "24:00"}}}.AllowsTime(sunday, shanghai), "any window")
	require.False(t, Eligibility{HourWindows: []HourWindow{{"bad", "24:00"}}}.AllowsTime(sunday, shanghai), "an unparsable window never matches")
}

func TestAllowsLists(t *testing.T) {
	var open Eligibility
	e := Eligibility{
		Platforms:                  []string{"jd", "meituan"},
		PaymentChannels:            []string{"ecny", "unionpay"},
		MerchantRegionPrefixes:     []string{"3101", "320505"},
		MerchantCategoriesIncluded: []string{"retail", "catering"},
		MerchantCategoriesExcluded: []string{"tobacco"},
		MerchantChannels:           []string{"offline"},
		HolderRegionPrefixes:       []string{"31"},
	}

	require.True(t, open.AllowsPlatform("taobao"))
	require.True(t, e.AllowsPlatform("jd"))
	require.False(t, e.AllowsPlatform("taobao"))

	for _, ch := range PaymentChannels {
		require.True(t, open.AllowsChannel(ch), ch)
	}
	require.False(t, open.AllowsChannel("paypal"), "empty means every known channel, not anything")
	require.True(t, e.AllowsChannel("ecny"))
	require.False(t, e.AllowsChannel("alipay"))

	require.True(t, open.AllowsMerchantRegion("440305"))
	require.True(t, e.AllowsMerchantRegion("310104"))
	require.True(t, e.AllowsMerchantRegion("320505"))
	require.False(t, e.AllowsMerchantRegion("320506"))
	require.False(t, e.AllowsMerchantRegion("31"), "a province code is not inside a city prefix")
	require.False(t, e.AllowsMerchantRegion(""))

	require.True(t, open.AllowsHolderRegion("110101"))
	require.True(t, e.AllowsHolderRegion("310115"))
	require.False(t, e.AllowsHolderRegion("330106"))

	require.True(t, open.AllowsMerchantCategory("anything"))
	require.True(t, e.AllowsMerchantCategory("retail"))
	require.False(t, e.AllowsMerchantCategory("tobacco"))
	require.False(t, e.AllowsMerchantCategory("jewellery"), "not included")
	require.False(t, Eligibility{MerchantCategoriesExcluded: []string{"tobacco"}}.AllowsMerchantCategory("tobacco"))
	require.True(t, Eligibility{MerchantCategoriesExcluded: []string{"tobacco"}}.AllowsMerchantCategory("retail"))

	require.True(t, open.AllowsMerchantChannel("online"))
	require.True(t, open.AllowsMerchantChannel("offline"))
	require.False(t, open.AllowsMerchantChannel("mail_order"))
	require.True(t, e.AllowsMerchantChannel("offline"))
	require.False(t, e.AllowsMerchantChannel("online"))
}
