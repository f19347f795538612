package redemption

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/voucher"
)

// Context is everything the rules look at besides the voucher and the order.
type Context struct {
	Campaign   *campaign.Campaign // the voucher's campaign
	Merchant   *registry.Merchant // the order's merchant as the platform registered it; nil: unknown merchant
	PlatformID string
	Channel    string      // payment channel
	HolderHash holder.Hash // the presenting holder
	Now        time.Time
}

// Outcome is what a voucher gives an order that passed Check.
type Outcome struct {
	DiscountFen  int64
	SerialNumber string // trade-in: the device to mark subsidised, normalised by NormalizeSerial
	Category     string // trade-in: the qualifying item's category
}

// Check applies every rule that needs no database to redeeming v on order o,
// in a fixed order so that a platform always sees the same reason for the
// same situation:
//
//  1. the holder owns the voucher (else VOUCHER_NOT_FOUND, as for an unknown code)
//  2. the voucher is active, and within its validity window
//  3. the campaign is active, allows the platform and the payment channel
//  4. the merchant exists, is not sanctioned, is active, and its region,
//     category and online/offline channel are eligible
//  5. the weekday and hour windows, read in the campaign's time zone
//  6. consumption: the order reaches the threshold; trade-in: the first item
//     of the qualification's category is within the price limit and carries a
//     serial number and, when the category needs one, a recycling proof.
//
// The discount is the voucher's discount_fen for a consumption voucher, and
// for a trade-in qualification the subsidy for one unit of that item:
// min(ApplyRate(unit price, rate of its energy grade), cap), priced with the
// terms frozen on the voucher at issue. o must have passed Validate. Every
// failure is an *apperr.Error with its code.
func Check(v voucher.Voucher, o Order, c Context) (Outcome, error) {
	if v.Holder != c.HolderHash {
		return Outcome{}, VoucherNotFound(v.Code)
	}
	cp := c.Campaign
	if err := checkVoucher(v, c.Now, cp.Location()); err != nil {
		return Outcome{}, err
	}
	if cp.Status != campaign.StatusActive {
		return Outcome{}, apperr.New(CodeCampaignNotActive, "the campaign is %s; vouchers are redeemed while it is active", cp.Status).
			With("current_status", string(cp.Status))
	}
	el := cp.Rules.Eligibility
	if !el.AllowsPlatform(c.PlatformID) {
		return Outcome{}, apperr.New(CodePlatformNotAllowed, "the campaign's vouchers are not redeemed on platform %s", c.PlatformID)
	}
	if !el.AllowsChannel(c.Channel) {
		allowed := el.PaymentChannels
		if len(allowed) == 0 {
			allowed = campaign.PaymentChannels
		}
		return Outcome{}, apperr.New(CodeChannelNotAllowed, "the campaign does not accept payment with %q; it accepts %s",
			c.Channel, strings.Join(allowed, ", "))
	}
	if err := checkMerchant(c.Merchant, o.MerchantID, el); err != nil {
		return Outcome{}, err
	}
	if !el.AllowsTime(c.Now, cp.Location()) {
		return Outcome{}, outsideHours(el, c.Now, cp.Location())
	}
	switch v.Kind {
	case campaign.KindConsumption:
		if o.AmountFen < v.MinSpendFen {
			return Outcome{}, apperr.New(CodeThresholdNotMet, "the order's amount_fen %d is below the voucher's min_spend_fen %d",
				o.AmountFen, v.MinSpendFen).With("min_spend_fen", v.MinSpendFen)
		}
		return Outcome{DiscountFen: v.DiscountFen}, nil
	case campaign.KindTradeIn:
		return checkTradeIn(v, o, cp)
	}
	return Outcome{}, apperr.New(apperr.CodeInternal, "voucher %s has unknown kind %q", v.ID, v.Kind)
}

func checkVoucher(v voucher.Voucher, now time.Time, loc *time.Location) error {
	window := func(err *apperr.Error) error {
		return err.With("valid_from", v.ValidFrom.In(loc).Format(time.RFC3339)).
			With("valid_until", v.ValidUntil.In(loc).Format(time.RFC3339))
	}
	switch v.Status {
	case voucher.Active:
	case voucher.Expired:
		return window(apperr.New(CodeVoucherExpired, "the voucher expired at %s", v.ValidUntil.In(loc).Format(time.RFC3339)))
	case voucher.Reserved:
		return apperr.New(CodeVoucherNotActive, "the voucher is held by another checkout until that one is confirmed, cancelled or its hold expires").
			With("current_status", string(v.Status))
	default:
		return apperr.New(CodeVoucherNotActive, "the voucher is %s and cannot be redeemed", v.Status).
			With("current_status", string(v.Status))
	}
	if now.Before(v.ValidFrom) {
		return window(apperr.New(CodeVoucherExpired, "the voucher is not valid before %s", v.ValidFrom.In(loc).Format(time.RFC3339)))
	}
	if !now.Before(v.ValidUntil) {
		return window(apperr.New(CodeVoucherExpired, "the voucher expired at %s", v.ValidUntil.In(loc).Format(time.RFC3339)))
	}
	return nil
}

func checkMerchant(m *registry.Merchant, merchantID string, el campaign.Eligibility) error {
	notEligible := func(reason, format string, args ...any) error {
		return apperr.New(CodeMerchantNotEligible, format, args...).With("reason", reason)
	}
	switch {
	case m == nil:
		return apperr.New(CodeMerchantNotFound, "merchant %s is not registered by this platform", merchantID)
	case m.Sanction != "": // any sanction refuses: an unknown one must not let a merchant through
		return apperr.New(CodeMerchantSanctioned, "merchant %s is %s by the program administrators and may not redeem vouchers",
			m.MerchantID, m.Sanction).With("sanction", m.Sanction)
	case m.Status != registry.MerchantActive:
		return notEligible("status", "merchant %s is %s", m.MerchantID, m.Status)
	case !el.AllowsMerchantRegion(m.Region):
		return notEligible("region", "merchant %s is registered in region %s, outside the campaign's regions %s",
			m.MerchantID, m.Region, strings.Join(el.MerchantRegionPrefixes, ", "))
	case !el.AllowsMerchantCategory(m.Category):
		return notEligible("category", "merchants of category %s do not take the campaign's vouchers", m.Category)
	case !el.AllowsMerchantChannel(m.Channel):
		return notEligible("channel", "merchant %s sells %s; the campaign's vouchers are redeemed %s only",
			m.MerchantID, m.Channel, strings.Join(el.MerchantChannels, ", "))
	}
	return nil
}

// outsideHours says when the campaign redeems, in its own zone, and what
// time it is there: the shopper's clock may be in another zone.
func outsideHours(el campaign.Eligibility, now time.Time, loc *time.Location) error {
	var when []string
	if len(el.Weekdays) > 0 {
		days := make([]string, len(el.Weekdays))
		for i, d := range el.Weekdays {
			days[i] = time.Weekday(d % 7).String() // ISO 7 is Sunday, Go's 0
		}
		when = append(when, "on "+strings.Join(days, ", "))
	}
	if len(el.HourWindows) > 0 {
		hours := make([]string, len(el.HourWindows))
		for i, w := range el.HourWindows {
			hours[i] = w.From + "–" + w.To
		}
		when = append(when, "during "+strings.Join(hours, ", "))
	}
	return apperr.New(CodeOutsideHours, "the campaign's vouchers are redeemed %s (%s time); it is %s there",
		strings.Join(when, " "), loc, now.In(loc).Format("Monday 15:04"))
}

func checkTradeIn(v voucher.Voucher, o Order, cp *campaign.Campaign) (Outcome, error) {
	category, ok := cp.Category(v.Category)
	if !ok || v.Terms == nil {
		return Outcome{}, apperr.New(apperr.CodeInternal, "qualification %s has no terms for category %q in its campaign", v.ID, v.Category)
	}
	// Money comes from the terms frozen at issue; the campaign's category
	// only says whether proof of recycling is needed.
	terms := campaign.Category{RateBP: v.Terms.RateBP, GradeRateBP: v.Terms.GradeRateBP, CapFen: v.Terms.CapFen, MaxPriceFen: v.Terms.MaxPriceFen}
	i := slices.IndexFunc(o.Items, func(it Item) bool { return it.Category == v.Category })
	if i < 0 {
		return Outcome{}, apperr.New(CodeNoQualifyingItem, "the order has no item of category %s", v.Category)
	}
	it := o.Items[i]
	item := fmt.Sprintf("order.items[%d]", i)
	if !terms.AllowsPrice(it.UnitPriceFen) {
		return Outcome{}, apperr.New(CodePriceAboveMax, "%s (%s) costs %d fen, above the %d fen a %s may cost to be subsidised",
			item, it.SKU, it.UnitPriceFen, terms.MaxPriceFen, v.Category).With("max_price_fen", terms.MaxPriceFen)
	}
	serial := NormalizeSerial(it.SerialNumber)
	if serial == "" {
		return Outcome{}, apperr.New(CodeSerialRequired, "%s (%s) needs its serial_number: each device is subsidised once", item, it.SKU)
	}
	if category.RecyclingProofRequired && strings.TrimSpace(it.RecyclingProof) == "" {
		return Outcome{}, apperr.New(CodeRecyclingProofRequired, "%s (%s) needs the recycling_proof of the old %s", item, it.SKU, v.Category)
	}
	return Outcome{DiscountFen: terms.Subsidy(it.UnitPriceFen, it.EnergyGrade), SerialNumber: serial, Category: v.Category}, nil
}

// NormalizeSerial is the form a device serial number or IMEI is remembered
// in: upper case without hyphens, so "35-209900-176148-1" and
// "352099001761481" are one device and cannot be subsidised twice.
func NormalizeSerial(s string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", ""))
}
