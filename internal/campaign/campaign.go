// Package campaign is the pure domain of a voucher or subsidy program: what a
// campaign is, which documents are valid, how its lifecycle moves, and the one
// rounding rule for percentages. It does no I/O; storage, HTTP and the
// scheduler build on it.
package campaign

import (
	"errors"
	"sync"
	"time"
	_ "time/tzdata" // zone rules must not depend on the host having zoneinfo

	"github.com/google/uuid"
)

// Kind is the kind of program.
type Kind string

const (
	KindConsumption Kind = "consumption" // threshold vouchers ("spend ¥200, get ¥50 off")
	KindTradeIn     Kind = "trade_in"    // 以旧换新: a percentage subsidy per product category
)

// Kinds lists every kind.
var Kinds = []Kind{KindConsumption, KindTradeIn}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindConsumption || k == KindTradeIn }

// Status is a campaign's lifecycle state; see Transition for the moves.
type Status string

const (
	StatusDraft     Status = "draft"
	StatusSubmitted Status = "submitted"
	StatusApproved  Status = "approved"
	StatusActive    Status = "active"
	StatusPaused    Status = "paused"
	StatusEnded     Status = "ended"
	StatusCancelled Status = "cancelled"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{
	StatusDraft, StatusSubmitted, StatusApproved, StatusActive,
	StatusPaused, StatusEnded, StatusCancelled,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Editable reports whether the campaign document may still change: only a
// draft. Once submitted, the approver must see exactly what will run.
func (s Status) Editable() bool { return s == StatusDraft }

// Live reports whether vouchers can be claimed and redeemed.
func (s Status) Live() bool { return s == StatusActive }

// PaymentChannels lists the payment channels a shopper may pay with. An empty
// Eligibility.PaymentChannels means all of these.
var PaymentChannels = []string{"alipay", "wechat_pay", "unionpay", "jd_pay", "ecny", "bank_card", "other"}

// MerchantChannels lists where a merchant sells. An empty
// Eligibility.MerchantChannels means both.
var MerchantChannels = []string{"online", "offline"}

// Defaults filled by Normalize.
const (
	DefaultCurrency            = "CNY"
	DefaultTimeZone            = "Asia/Shanghai"
	DefaultHoldMinutes         = 15
	DefaultPerRoundLimit       = 1
	DefaultPerHolderLimit      = 1
	DefaultMaxVouchersPerOrder = 1
)

// Campaign is one program: its design (kind, window, budget, rules) plus the
// lifecycle bookkeeping the server maintains (status, version, who and when).
type Campaign struct {
	ID          uuid.UUID `json:"id"`
	Kind        Kind      `json:"kind"`
	Name        string    `json:"name"`
	Authority   string    `json:"authority"` // issuing authority, e.g. "Shanghai Municipal Commission of Commerce"
	Currency    string    `json:"currency"`  // only "CNY"
	TimeZone    string    `json:"time_zone"` // IANA name; decides rounds, weekdays, hour windows and validity days
	StartsAt    time.Time `json:"starts_at"`
	EndsAt      time.Time `json:"ends_at"`
	BudgetFen   int64     `json:"budget_fen"`   // total budget requested
	HoldMinutes int       `json:"hold_minutes"` // checkout hold lifetime
	Rules       Rules     `json:"rules"`
	Status      Status    `json:"status"`
	Version     int       `json:"version"`
	CreatedBy   string    `json:"created_by"`
	SubmittedBy string    `json:"submitted_by,omitempty"`
	ApprovedBy  string    `json:"approved_by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Rules is the campaign's rule document: tiers for consumption campaigns,
// categories for trade-in campaigns, and who/where/when may redeem.
type Rules struct {
	Tiers       []Tier        `json:"tiers,omitempty"`
	Categories  []Category    `json:"categories,omitempty"`
	Eligibility Eligibility   `json:"eligibility"`
	Releases    []Release     `json:"releases,omitempty"`
	Lottery     *LotteryRules `json:"lottery,omitempty"`
}

// Tier is one consumption voucher: DiscountFen off an order of at least
// MinSpendFen. A voucher is valid either ValidityDays after its claim or until
// the fixed ValidUntil, never both.
type Tier struct {
	ID               string     `json:"id"`
	Name             string     `json:"name,omitempty"`
	MinSpendFen      int64      `json:"min_spend_fen"`
	DiscountFen      int64      `json:"discount_fen"`
	ValidityDays     int        `json:"validity_days,omitempty"`
	ValidUntil       *time.Time `json:"valid_until,omitempty"`
	PerRoundLimit    int        `json:"per_round_limit"`    // per holder per round
	PerCampaignLimit int        `json:"per_campaign_limit"` // per holder over the whole campaign
}

// Category is one trade-in product category: a subsidy of RateBP basis points
// of the price (or the energy grade's override), capped at CapFen per item,
// for items priced up to MaxPriceFen. Validate refuses a CapFen above
// MaxPriceFen: the subsidy never exceeds the price, so such a cap could never
// apply and one of the two is surely a typo.
type Category struct {
	Code                   string         `json:"code"`
	Name                   string         `json:"name,omitempty"`
	RateBP                 int            `json:"rate_bp"`                 // 1500 = 15%
	GradeRateBP            map[string]int `json:"grade_rate_bp,omitempty"` // energy grade "1".."5" → rate override
	CapFen                 int64          `json:"cap_fen"`                 // max subsidy per item
	MaxPriceFen            int64          `json:"max_price_fen,omitempty"` // 0 = no maximum
	PerHolderLimit         int            `json:"per_holder_limit"`        // per category per person nationwide
	RecyclingProofRequired bool           `json:"recycling_proof_required"`
	ValidityDays           int            `json:"validity_days"` // qualification validity after claim
}

// HourWindow is a daily window "HH:MM"–"HH:MM" in the campaign time zone, To
// exclusive. To may be "24:00" to reach the end of the day.
type HourWindow struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Eligibility restricts where, when and by whom vouchers may be redeemed. An
// empty list never restricts.
type Eligibility struct {
	Platforms                  []string     `json:"platforms,omitempty"`
	PaymentChannels            []string     `json:"payment_channels,omitempty"`
	MerchantRegionPrefixes     []string     `json:"merchant_region_prefixes,omitempty"` // 2, 4 or 6 digits of the administrative division code
	MerchantCategoriesIncluded []string     `json:"merchant_categories_included,omitempty"`
	MerchantCategoriesExcluded []string     `json:"merchant_categories_excluded,omitempty"`
	MerchantChannels           []string     `json:"merchant_channels,omitempty"`
	Weekdays                   []int        `json:"weekdays,omitempty"` // ISO 1=Monday..7=Sunday
	HourWindows                []HourWindow `json:"hour_windows,omitempty"`
	HolderRegionPrefixes       []string     `json:"holder_region_prefixes,omitempty"`
	MaxVouchersPerOrder        int          `json:"max_vouchers_per_order"` // stacking limit
}

// Normalize fills the defaults of fields left at their zero value. It only
// fills zeros: it never reorders, deduplicates or corrects a value, so what
// Validate reports is what the caller sent.
//
// PerCampaignLimit defaults to PerRoundLimit, so a holder claims a tier once
// over the whole campaign unless the designer explicitly allows repeat claims
// in later rounds: the conservative reading for a public budget.
func (c *Campaign) Normalize() {
	if c.Currency == "" {
		c.Currency = DefaultCurrency
	}
	if c.TimeZone == "" {
		c.TimeZone = DefaultTimeZone
	}
	if c.HoldMinutes == 0 {
		c.HoldMinutes = DefaultHoldMinutes
	}
	for i := range c.Rules.Tiers {
		t := &c.Rules.Tiers[i]
		if t.PerRoundLimit == 0 {
			t.PerRoundLimit = DefaultPerRoundLimit
		}
		if t.PerCampaignLimit == 0 {
			t.PerCampaignLimit = t.PerRoundLimit
		}
	}
	for i := range c.Rules.Categories {
		if c.Rules.Categories[i].PerHolderLimit == 0 {
			c.Rules.Categories[i].PerHolderLimit = DefaultPerHolderLimit
		}
	}
	if c.Rules.Eligibility.MaxVouchersPerOrder == 0 {
		c.Rules.Eligibility.MaxVouchersPerOrder = DefaultMaxVouchersPerOrder
	}
}

// locations caches loaded zones: time.LoadLocation parses zoneinfo on every call.
var locations sync.Map // string → *time.Location

// loadLocation loads an IANA zone. "" (UTC to time.LoadLocation) and "Local"
// (the server's zone) are refused: neither names the place a campaign runs in.
func loadLocation(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, errNotAZone
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

var errNotAZone = errors.New("not an IANA time zone")

// Location is the campaign's time zone. A campaign that passed Validate always
// has one; an unvalidated one with an unknown zone gets DefaultTimeZone.
func (c *Campaign) Location() *time.Location {
	if l, err := loadLocation(c.TimeZone); err == nil {
		return l
	}
	l, _ := loadLocation(DefaultTimeZone) // embedded by time/tzdata, cannot fail
	return l
}

// DueAction is the transition the scheduler owes the campaign at now, if any:
// activate an approved campaign once it starts, close a running one once it
// ends. An approved campaign whose whole window passed before it could be
// activated is cancelled rather than switched on for an instant.
func (c *Campaign) DueAction(now time.Time) (Action, bool) {
	switch c.Status {
	case StatusApproved:
		if !now.Before(c.EndsAt) {
			return ActionCancel, true
		}
		if !now.Before(c.StartsAt) {
			return ActionActivate, true
		}
	case StatusActive, StatusPaused:
		if !now.Before(c.EndsAt) {
			return ActionClose, true
		}
	}
	return "", false
}
