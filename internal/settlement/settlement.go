// Package settlement is the pure part of paying platforms: which movements a
// statement gathers, how they add up to per-merchant lines, how a refund's
// clawback is split between payable and settled, and the comparison of a
// platform's own record of a day with ours (reconciliation).
//
// A settlement item is one movement of payable value: a confirm adds the
// redemption's discount, a refund takes its clawback out (possibly 0 on a
// partial refund that still meets the threshold; it is stated anyway). Cancels
// and expiries never reach payable, so they are never items. Each item has a
// local business date in its campaign's time zone.
package settlement

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
)

// CodeStatementAlreadyPaid: a statement can be marked paid once.
const CodeStatementAlreadyPaid apperr.Code = "STATEMENT_ALREADY_PAID"

func init() { apperr.Register(CodeStatementAlreadyPaid, http.StatusConflict) }

// Statement statuses.
const (
	StatusIssued = "issued"
	StatusPaid   = "paid"
)

// ItemKind is what moved payable value.
type ItemKind string

const (
	Confirm ItemKind = "confirm" // +discount
	Refund  ItemKind = "refund"  // -clawback
)

// Item is one movement not yet, or already, stated.
type Item struct {
	Kind ItemKind
	// SourceID is the redemption's id for a confirm, the refund's for a refund.
	SourceID     uuid.UUID
	RedemptionID uuid.UUID
	CampaignID   uuid.UUID
	MerchantID   string
	// LocalDate is the item's business date in its campaign's time zone
	// (a time at 00:00 UTC naming the civil date).
	LocalDate time.Time
	// LastEnded is the latest local date that had ended in the campaign's
	// zone when the item was read: the item can be stated only once its own
	// date is at most this.
	LastEnded time.Time
	// AmountFen is signed: the discount of a confirm, minus the clawback of a refund.
	AmountFen int64
	// PaidFen is what the shopper paid (confirms; informational).
	PaidFen int64
	// RefundedFen is what the shopper got back (refunds; informational).
	RefundedFen int64
	// Adjustment marks a refund whose confirm was stated in an earlier statement.
	Adjustment bool
}

// Amounts are the sums of a line or of a whole statement.
type Amounts struct {
	ConfirmedCount  int64
	DiscountFen     int64
	PaidFen         int64
	RefundCount     int64 // refunds of redemptions confirmed in this statement
	RefundedFen     int64 // what shoppers got back, adjustments included
	ClawbackFen     int64 // clawbacks of refunds counted in RefundCount
	AdjustmentCount int64 // refunds of redemptions stated earlier
	AdjustmentFen   int64 // their clawbacks
	// NetFen is owed to the platform: DiscountFen - ClawbackFen - AdjustmentFen.
	NetFen int64
}

func (a *Amounts) add(it Item) {
	switch it.Kind {
	case Confirm:
		a.ConfirmedCount++
		a.DiscountFen += it.AmountFen
		a.PaidFen += it.PaidFen
	case Refund:
		a.RefundedFen += it.RefundedFen
		if it.Adjustment {
			a.AdjustmentCount++
			a.AdjustmentFen -= it.AmountFen
		} else {
			a.RefundCount++
			a.ClawbackFen -= it.AmountFen
		}
	}
	a.NetFen += it.AmountFen
}

func (a *Amounts) plus(b Amounts) {
	a.ConfirmedCount += b.ConfirmedCount
	a.DiscountFen += b.DiscountFen
	a.PaidFen += b.PaidFen
	a.RefundCount += b.RefundCount
	a.RefundedFen += b.RefundedFen
	a.ClawbackFen += b.ClawbackFen
	a.AdjustmentCount += b.AdjustmentCount
	a.AdjustmentFen += b.AdjustmentFen
	a.NetFen += b.NetFen
}

// Line is a statement's sums for one (campaign, merchant).
type Line struct {
	CampaignID uuid.UUID
	MerchantID string
	Amounts
}

// Lines adds items up per (campaign, merchant), ordered by campaign then
// merchant, and returns the statement's totals (the sum of the lines).
func Lines(items []Item) ([]Line, Amounts) {
	type key struct {
		campaign uuid.UUID
		merchant string
	}
	byKey := map[key]*Line{}
	for _, it := range items {
		k := key{it.CampaignID, it.MerchantID}
		l := byKey[k]
		if l == nil {
			l = &Line{CampaignID: it.CampaignID, MerchantID: it.MerchantID}
			byKey[k] = l
		}
		l.add(it)
	}
	lines := make([]Line, 0, len(byKey))
	var total Amounts
	for _, l := range byKey {
		lines = append(lines, *l)
		total.plus(l.Amounts)
	}
	slices.SortFunc(lines, func(a, b Line) int {
		if c := slices.Compare(a.CampaignID[:], b.CampaignID[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.MerchantID, b.MerchantID)
	})
	return lines, total
}

// Next picks the next statement of a platform from its pending items (not
// yet stated, their own day ended) given the business date of its latest
// statement (nil if none). Statements are issued in date order, one per
// business date, so the next one is for a date after last: an item dated
// after last belongs to its own date; an item dated on or before last turned
// up after that statement was issued (a confirm committed just after
// midnight, a late refund) and goes into the next statement, dated the day
// after last at the earliest. The statement for the earliest such date
// gathers every pending item dated on or before it. ok is false when
// nothing can be stated yet: there are no empty statements.
func Next(pending []Item, last *time.Time) (date time.Time, items []Item, ok bool) {
	for _, it := range pending {
		target := it.LocalDate
		if last != nil && !target.After(*last) {
			target = last.AddDate(0, 0, 1)
		}
		if target.After(it.LastEnded) {
			continue
		}
		if !ok || target.Before(date) {
			date, ok = target, true
		}
	}
	if !ok {
		return time.Time{}, nil, false
	}
	for _, it := range pending {
		if !it.LocalDate.After(date) && !it.LocalDate.After(it.LastEnded) {
			items = append(items, it)
		}
	}
	return date, items, true
}

// The ledger rule that keeps payable and settled non-negative even when a
// refund arrives after its statement was paid:
//
// Each redemption's payable share is discount - clawed back so far - settled,
// where settled is what paying statements has moved payable → settled for it
// (at least 0). A refund's clawback is taken from the payable share first
// (refund/clawback transfers) and only the rest from settled
// (settled_refund/settled_clawback). Marking a statement paid moves the
// current payable share of every redemption with an item in it to settled.
//
// A redemption's payable share stays exact until a clawback reaches into
// settled; by then the share is 0 and nothing is ever added to it again (a
// redemption is confirmed once), so clamping at 0 keeps it exact. Over time
// the statements' nets add up to the confirms' discounts minus all
// clawbacks, which is what the ledger moved into and out of payable.

// PayableShare is what of a redemption's discount is still in payable.
func PayableShare(discountFen, clawedBackFen, settledFen int64) int64 {
	return max(0, discountFen-clawedBackFen-settledFen)
}

// SplitClawback divides a refund's clawback between the redemption's payable
// share (taken first) and settled. clawedBeforeFen excludes this clawback.
func SplitClawback(discountFen, clawedBeforeFen, settledFen, clawbackFen int64) (fromPayable, fromSettled int64) {
	fromPayable = min(clawbackFen, PayableShare(discountFen, clawedBeforeFen, settledFen))
	return fromPayable, clawbackFen - fromPayable
}

// DateOf is the civil date of t in its own location, as a time at 00:00 UTC.
func DateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
