package campaign

import (
	"slices"
	"strings"
	"time"
)

// AllowsPlatform reports whether platform id may redeem.
func (e Eligibility) AllowsPlatform(id string) bool {
	return len(e.Platforms) == 0 || slices.Contains(e.Platforms, id)
}

// AllowsChannel reports whether the shopper may pay with payment channel ch.
// An empty list allows every known channel, never an unknown one.
func (e Eligibility) AllowsChannel(ch string) bool {
	if len(e.PaymentChannels) == 0 {
		return slices.Contains(PaymentChannels, ch)
	}
	return slices.Contains(e.PaymentChannels, ch)
}

// AllowsMerchantRegion reports whether a merchant registered in the
// administrative division region (e.g. "310104") may redeem.
func (e Eligibility) AllowsMerchantRegion(region string) bool {
	return matchesPrefix(e.MerchantRegionPrefixes, region)
}

// AllowsHolderRegion reports whether a holder from region may claim.
func (e Eligibility) AllowsHolderRegion(region string) bool {
	return matchesPrefix(e.HolderRegionPrefixes, region)
}

func matchesPrefix(prefixes []string, region string) bool {
	if len(prefixes) == 0 {
		return true
	}
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(region, p) })
}

// AllowsMerchantCategory reports whether a merchant of category cat may
// redeem: not excluded, and included when an inclusion list exists.
func (e Eligibility) AllowsMerchantCategory(cat string) bool {
	if slices.Contains(e.MerchantCategoriesExcluded, cat) {
		return false
	}
	return len(e.MerchantCategoriesIncluded) == 0 || slices.Contains(e.MerchantCategoriesIncluded, cat)
}

// AllowsMerchantChannel reports whether a sale through ch ("online" or
// "offline") may redeem. An empty list allows both, never an unknown channel.
func (e Eligibility) AllowsMerchantChannel(ch string) bool {
	if len(e.MerchantChannels) == 0 {
		return slices.Contains(MerchantChannels, ch)
	}
	return slices.Contains(e.MerchantChannels, ch)
}

// AllowsTime reports whether t falls on an allowed weekday and inside an hour
// window, both read in loc (pass Campaign.Location()): a Friday 10:00 in
// Asia/Shanghai is a Friday whatever the server's zone. Windows include From
// and exclude To, at minute resolution.
func (e Eligibility) AllowsTime(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	if len(e.Weekdays) > 0 && !slices.Contains(e.Weekdays, isoWeekday(lt.Weekday())) {
		return false
	}
	if len(e.HourWindows) == 0 {
		return true
	}
	m := lt.Hour()*60 + lt.Minute()
	return slices.ContainsFunc(e.HourWindows, func(w HourWindow) bool {
		from, ok1 := parseClock(w.From, false)
		to, ok2 := parseClock(w.To, true)
		return ok1 && ok2 && from <= m && m < to
	})
}

// isoWeekday maps Go's Sunday=0 to ISO 8601's Sunday=7.
func isoWeekday(d time.Weekday) int {
	if d == time.Sunday {
		return 7
	}
	return int(d)
}

// parseClock parses "HH:MM" into minutes since midnight. "24:00" is accepted
// only as a window's end (endOfDay), so a window can run to midnight.
func parseClock(s string, endOfDay bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' || !isDigits(s[:2]) || !isDigits(s[3:]) {
		return 0, false
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if endOfDay && h == 24 && m == 0 {
		return 24 * 60, true
	}
	if h > 23 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
