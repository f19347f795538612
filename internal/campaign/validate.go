package campaign

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tongquan/tongquan/internal/apperr"
)

// Validation limits beyond the money limits in money.go.
const (
	MaxTextLen             = 200  // name, authority, tier and category names (characters)
	MaxIDLen               = 64   // platform ids and merchant categories
	MaxHoldMinutes         = 1440 // one day
	MaxTiers               = 20
	MaxCategories          = 50
	MaxValidityDays        = 366
	MaxTierLimit           = 1000 // per_round_limit and per_campaign_limit
	MaxPerHolderLimit      = 100  // trade-in per_holder_limit
	MaxVouchersPerOrderCap = 10
)

// slug is the shape of tier ids and category codes: stable keys that appear in
// URLs, ledger rows and platform integrations.
var slug = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// ValidateErr is Validate as a VALIDATION_FAILED error, or nil when valid.
func (c *Campaign) ValidateErr() error {
	if fields := c.Validate(); len(fields) > 0 {
		return apperr.Invalid(fields...)
	}
	return nil
}

// Validate checks the campaign's design and returns every problem found, each
// naming its field by JSON path (e.g. "rules.tiers[1].discount_fen"). Call
// Normalize first, or unset defaults are reported as missing. Fields the
// server maintains (id, status, version, who and when) are not checked.
func (c *Campaign) Validate() []apperr.FieldError {
	v := &validator{}
	v.text("name", c.Name, true)
	v.text("authority", c.Authority, true)
	switch {
	case c.Kind == "":
		v.add("kind", "is required: consumption or trade_in")
	case !c.Kind.Valid():
		v.add("kind", "must be consumption or trade_in, got %q", c.Kind)
	}
	if c.Currency != DefaultCurrency {
		v.add("currency", "must be CNY, the only supported currency; got %q", c.Currency)
	}
	if _, err := loadLocation(c.TimeZone); err != nil {
		v.add("time_zone", "must be an IANA time zone name such as Asia/Shanghai; got %q", c.TimeZone)
	}
	if c.StartsAt.IsZero() {
		v.add("starts_at", "is required")
	}
	switch {
	case c.EndsAt.IsZero():
		v.add("ends_at", "is required")
	case !c.StartsAt.IsZero() && !c.EndsAt.After(c.StartsAt):
		v.add("ends_at", "must be after starts_at (%s)", c.StartsAt.Format(time.RFC3339))
	}
	v.amount("budget_fen", c.BudgetFen, MaxBudgetFen)
	v.between("hold_minutes", c.HoldMinutes, 1, MaxHoldMinutes, "minutes")
	c.validateKindRules(v)
	for i := range c.Rules.Tiers {
		c.validateTier(v, i)
	}
	for i := range c.Rules.Categories {
		c.validateCategory(v, i)
	}
	c.Rules.Eligibility.validate(v, "rules.eligibility")
	c.validateReleases(v)
	c.validateLottery(v)
	return v.errs
}

// validateKindRules checks that each kind carries its own rules and not the other's.
func (c *Campaign) validateKindRules(v *validator) {
	tiers, cats := len(c.Rules.Tiers), len(c.Rules.Categories)
	switch c.Kind {
	case KindConsumption:
		if tiers == 0 {
			v.add("rules.tiers", "a consumption campaign needs at least one tier")
		}
		if cats > 0 {
			v.add("rules.categories", "must be empty for a consumption campaign; categories belong to trade_in campaigns")
		}
	case KindTradeIn:
		if cats == 0 {
			v.add("rules.categories", "a trade_in campaign needs at least one category")
		}
		if tiers > 0 {
			v.add("rules.tiers", "must be empty for a trade_in campaign; tiers belong to consumption campaigns")
		}
	}
	if tiers > MaxTiers {
		v.add("rules.tiers", "must have at most %d tiers, got %d", MaxTiers, tiers)
	}
	if cats > MaxCategories {
		v.add("rules.categories", "must have at most %d categories, got %d", MaxCategories, cats)
	}
}

func (c *Campaign) validateTier(v *validator, i int) {
	t := c.Rules.Tiers[i]
	p := fmt.Sprintf("rules.tiers[%d]", i)
	if v.slug(p+".id", t.ID) {
		if j := slices.IndexFunc(c.Rules.Tiers[:i], func(o Tier) bool { return o.ID == t.ID }); j >= 0 {
			v.add(p+".id", "duplicates rules.tiers[%d].id %q; tier ids must be unique", j, t.ID)
		}
	}
	v.text(p+".name", t.Name, false)
	spendOK := v.amount(p+".min_spend_fen", t.MinSpendFen, MaxAmountFen)
	if v.amount(p+".discount_fen", t.DiscountFen, MaxAmountFen) && spendOK && t.DiscountFen >= t.MinSpendFen {
		v.add(p+".discount_fen", "must be less than min_spend_fen (%d)", t.MinSpendFen)
	}
	switch {
	case t.ValidityDays == 0 && t.ValidUntil == nil:
		v.add(p+".validity_days", "set exactly one of validity_days (days after claim) or valid_until (a fixed end)")
	case t.ValidityDays != 0 && t.ValidUntil != nil:
		v.add(p+".valid_until", "must be empty when validity_days is set; set exactly one of the two")
	case t.ValidityDays != 0:
		v.between(p+".validity_days", t.ValidityDays, 1, MaxValidityDays, "days")
	case !c.StartsAt.IsZero() && !t.ValidUntil.After(c.StartsAt):
		v.add(p+".valid_until", "must be after starts_at (%s)", c.StartsAt.Format(time.RFC3339))
	case !c.EndsAt.IsZero() && t.ValidUntil.After(c.EndsAt):
		v.add(p+".valid_until", "must not be after ends_at (%s)", c.EndsAt.Format(time.RFC3339))
	}
	if v.between(p+".per_round_limit", t.PerRoundLimit, 1, MaxTierLimit, "") &&
		v.between(p+".per_campaign_limit", t.PerCampaignLimit, 1, MaxTierLimit, "") &&
		t.PerCampaignLimit < t.PerRoundLimit {
		v.add(p+".per_campaign_limit", "must be at least per_round_limit (%d)", t.PerRoundLimit)
	}
}

func (c *Campaign) validateCategory(v *validator, i int) {
	cat := c.Rules.Categories[i]
	p := fmt.Sprintf("rules.categories[%d]", i)
	if v.slug(p+".code", cat.Code) {
		if j := slices.IndexFunc(c.Rules.Categories[:i], func(o Category) bool { return o.Code == cat.Code }); j >= 0 {
			v.add(p+".code", "duplicates rules.categories[%d].code %q; category codes must be unique", j, cat.Code)
		}
	}
	v.text(p+".name", cat.Name, false)
	switch {
	case cat.RateBP == 0 && cat.CapFen > 0:
		v.add(p+".rate_bp", "is required when cap_fen is set: a cap without a rate grants nothing (basis points, 1500 = 15%%)")
	case cat.RateBP == 0:
		v.add(p+".rate_bp", "is required: the subsidy rate in basis points, 1..%d (1500 = 15%%)", MaxRateBP)
	default:
		v.between(p+".rate_bp", cat.RateBP, 1, MaxRateBP, "basis points (1500 = 15%)")
	}
	grades := make([]string, 0, len(cat.GradeRateBP))
	for g := range cat.GradeRateBP {
		grades = append(grades, g)
	}
	slices.Sort(grades) // map order is random; errors must not be
	for _, g := range grades {
		f := fmt.Sprintf("%s.grade_rate_bp[%q]", p, g)
		if len(g) != 1 || g[0] < '1' || g[0] > '5' {
			v.add(f, "energy grade must be one of \"1\" to \"5\", got %q", g)
			continue
		}
		v.between(f, cat.GradeRateBP[g], 1, MaxRateBP, "basis points (2000 = 20%)")
	}
	capOK := v.amount(p+".cap_fen", cat.CapFen, MaxAmountFen)
	switch {
	case cat.MaxPriceFen < 0:
		v.add(p+".max_price_fen", "must be 0 (no maximum) or a price in fen, got %d", cat.MaxPriceFen)
	case cat.MaxPriceFen > MaxAmountFen:
		v.add(p+".max_price_fen", "must be at most %d fen, got %d", MaxAmountFen, cat.MaxPriceFen)
	case cat.MaxPriceFen > 0 && capOK && cat.CapFen > cat.MaxPriceFen:
		// The subsidy never exceeds the price, so such a cap could never apply:
		// almost certainly a typo in one of the two.
		v.add(p+".cap_fen", "must not exceed max_price_fen (%d): a cap above the maximum price can never apply", cat.MaxPriceFen)
	}
	v.between(p+".per_holder_limit", cat.PerHolderLimit, 1, MaxPerHolderLimit, "")
	v.between(p+".validity_days", cat.ValidityDays, 1, MaxValidityDays, "days")
}

func (e Eligibility) validate(v *validator, p string) {
	eachUnique(v, p+".platforms", e.Platforms, v.identifier)
	eachUnique(v, p+".payment_channels", e.PaymentChannels, func(f, s string) bool {
		return v.oneOf(f, s, PaymentChannels)
	})
	eachUnique(v, p+".merchant_region_prefixes", e.MerchantRegionPrefixes, v.regionPrefix)
	eachUnique(v, p+".merchant_categories_included", e.MerchantCategoriesIncluded, v.identifier)
	eachUnique(v, p+".merchant_categories_excluded", e.MerchantCategoriesExcluded, func(f, s string) bool {
		if !v.identifier(f, s) {
			return false
		}
		if j := slices.Index(e.MerchantCategoriesIncluded, s); j >= 0 {
			v.add(f, "%q is also in merchant_categories_included[%d]; a category cannot be both included and excluded", s, j)
			return false
		}
		return true
	})
	eachUnique(v, p+".merchant_channels", e.MerchantChannels, func(f, s string) bool {
		return v.oneOf(f, s, MerchantChannels)
	})
	eachUnique(v, p+".weekdays", e.Weekdays, func(f string, d int) bool {
		return v.between(f, d, 1, 7, "(ISO weekday, 1 = Monday, 7 = Sunday)")
	})
	for i, w := range e.HourWindows {
		f := fmt.Sprintf("%s.hour_windows[%d]", p, i)
		from, fromOK := parseClock(w.From, false)
		if !fromOK {
			v.add(f+".from", "must be a time of day \"HH:MM\" from 00:00 to 23:59, got %q", w.From)
		}
		to, toOK := parseClock(w.To, true)
		switch {
		case !toOK:
			v.add(f+".to", "must be a time of day \"HH:MM\" from 00:01 to 24:00, got %q", w.To)
		case fromOK && to <= from:
			v.add(f+".to", "must be after from (%s); a window cannot cross midnight, split it in two", w.From)
		}
	}
	eachUnique(v, p+".holder_region_prefixes", e.HolderRegionPrefixes, v.regionPrefix)
	v.between(p+".max_vouchers_per_order", e.MaxVouchersPerOrder, 1, MaxVouchersPerOrderCap, "")
}

// validator collects field errors; its checks report whether the value passed,
// so dependent checks (discount < threshold) only run on sane inputs.
type validator struct {
	errs []apperr.FieldError
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, apperr.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (v *validator) text(field, s string, required bool) bool {
	if required && strings.TrimSpace(s) == "" {
		v.add(field, "is required")
		return false
	}
	if n := utf8.RuneCountInString(s); n > MaxTextLen {
		v.add(field, "must be at most %d characters, got %d", MaxTextLen, n)
		return false
	}
	return true
}

// identifier checks a free-form key (platform id, merchant category).
func (v *validator) identifier(field, s string) bool {
	switch {
	case strings.TrimSpace(s) == "":
		v.add(field, "must not be empty")
	case s != strings.TrimSpace(s):
		v.add(field, "must not start or end with spaces, got %q", s)
	case len(s) > MaxIDLen:
		v.add(field, "must be at most %d bytes, got %d", MaxIDLen, len(s))
	default:
		return true
	}
	return false
}

func (v *validator) slug(field, s string) bool {
	switch {
	case s == "":
		v.add(field, "is required")
	case !slug.MatchString(s):
		v.add(field, "must be 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter or digit; got %q", s)
	default:
		return true
	}
	return false
}

func (v *validator) amount(field string, fen, maxFen int64) bool {
	switch {
	case fen <= 0:
		v.add(field, "must be greater than 0 (an amount in fen, ¥1 = 100), got %d", fen)
	case fen > maxFen:
		v.add(field, "must be at most %d fen, got %d", maxFen, fen)
	default:
		return true
	}
	return false
}

func (v *validator) between(field string, n, lo, hi int, unit string) bool {
	if n >= lo && n <= hi {
		return true
	}
	if unit != "" {
		unit = " " + unit
	}
	v.add(field, "must be between %d and %d%s, got %d", lo, hi, unit, n)
	return false
}

func (v *validator) oneOf(field, s string, allowed []string) bool {
	if slices.Contains(allowed, s) {
		return true
	}
	v.add(field, "must be one of %s, got %q", strings.Join(allowed, ", "), s)
	return false
}

// regionPrefix checks a prefix of a Chinese administrative division code
// (GB/T 2260): 2, 4 or 6 digits whose first two name a province-level division.
func (v *validator) regionPrefix(field, s string) bool {
	switch {
	case (len(s) != 2 && len(s) != 4 && len(s) != 6) || !isDigits(s):
		v.add(field, "must be 2, 4 or 6 digits of an administrative division code (e.g. \"31\" for Shanghai, \"3101\"), got %q", s)
	case !provinceCode(int(s[0]-'0')*10 + int(s[1]-'0')):
		v.add(field, "starts with %q, which is not a province-level division code (11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81, 82)", s[:2])
	default:
		return true
	}
	return false
}

func provinceCode(n int) bool {
	switch {
	case n >= 11 && n <= 15, n >= 21 && n <= 23, n >= 31 && n <= 37, n >= 41 && n <= 46,
		n >= 50 && n <= 54, n >= 61 && n <= 65, n == 71, n == 81, n == 82:
		return true
	}
	return false
}

// eachUnique runs check on every item of a list at path and reports items
// that repeat an earlier valid one.
func eachUnique[T comparable](v *validator, path string, items []T, check func(field string, item T) bool) {
	seen := make(map[T]int, len(items))
	for i, item := range items {
		f := fmt.Sprintf("%s[%d]", path, i)
		if !check(f, item) {
			continue
		}
		if j, dup := seen[item]; dup {
			v.add(f, "duplicates %s[%d]", path, j)
			continue
		}
		seen[item] = i
	}
}
