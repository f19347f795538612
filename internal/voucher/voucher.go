// Package voucher is what a holder holds: a consumption voucher of a tier or
// a trade-in qualification for a category, with its validity and status.
package voucher

import (
	"crypto/rand"
	"time"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
)

// Error codes of issuance.
const (
	CodeRoundNotOpen       apperr.Code = "ROUND_NOT_OPEN"
	CodeRoundSoldOut       apperr.Code = "ROUND_SOLD_OUT"
	CodeHolderLimitReached apperr.Code = "HOLDER_LIMIT_REACHED"
	CodeCampaignNotActive  apperr.Code = "CAMPAIGN_NOT_ACTIVE"
)

func init() {
	apperr.Register(CodeRoundNotOpen, 409)
	apperr.Register(CodeRoundSoldOut, 409)
	apperr.Register(CodeHolderLimitReached, 409)
	apperr.Register(CodeCampaignNotActive, 409)
}

// Status is where a voucher is in its life.
type Status string

const (
	Active   Status = "active"
	Reserved Status = "reserved" // held at a checkout
	Redeemed Status = "redeemed"
	Expired  Status = "expired"
	Void     Status = "void"
)

// Source is how the voucher was issued.
type Source string

const (
	FromClaim   Source = "claim"
	FromLottery Source = "lottery"
	FromGrant   Source = "grant"
)

// Terms are a trade-in qualification's subsidy rules, frozen at issue.
type Terms struct {
	RateBP      int            `json:"rate_bp"`
	GradeRateBP map[string]int `json:"grade_rate_bp,omitempty"`
	CapFen      int64          `json:"cap_fen"`
	MaxPriceFen int64          `json:"max_price_fen,omitempty"`
}

// Voucher is one issued voucher or qualification.
type Voucher struct {
	ID          uuid.UUID
	Code        string
	CampaignID  uuid.UUID
	Holder      holder.Hash
	Kind        campaign.Kind
	TierID      string
	Category    string
	RoundID     *uuid.UUID
	MinSpendFen int64
	DiscountFen int64
	Terms       *Terms
	Currency    string
	ValidFrom   time.Time
	ValidUntil  time.Time
	Status      Status
	Source      Source
	PlatformID  string
	CreatedAt   time.Time
}

// codeAlphabet is Crockford's base32: no I, L, O or U to misread at a till.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewCode is a random 16-character voucher code (80 bits).
func NewCode() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	for i := range b {
		b[i] = codeAlphabet[b[i]&31]
	}
	return string(b[:])
}

// OfTier issues a consumption voucher of tier at now: valid from now for the
// tier's validity days (or until its fixed end), never past the campaign.
func OfTier(c *campaign.Campaign, t campaign.Tier, h holder.Hash, now time.Time, src Source, platformID string, round *uuid.UUID) Voucher {
	until := c.EndsAt
	if t.ValidUntil != nil && t.ValidUntil.Before(until) {
		until = *t.ValidUntil
	}
	if t.ValidityDays > 0 {
		if end := now.AddDate(0, 0, t.ValidityDays); end.Before(until) {
			until = end
		}
	}
	return Voucher{
		ID: uuid.Must(uuid.NewV7()), Code: NewCode(), CampaignID: c.ID, Holder: h, Kind: campaign.KindConsumption,
		TierID: t.ID, RoundID: round, MinSpendFen: t.MinSpendFen, DiscountFen: t.DiscountFen, Currency: c.Currency,
		ValidFrom: now, ValidUntil: until, Status: Active, Source: src, PlatformID: platformID, CreatedAt: now,
	}
}

// OfCategory issues a trade-in qualification for category k at now.
func OfCategory(c *campaign.Campaign, k campaign.Category, h holder.Hash, now time.Time, platformID string) Voucher {
	until := c.EndsAt
	if end := now.AddDate(0, 0, k.ValidityDays); k.ValidityDays > 0 && end.Before(until) {
		until = end
	}
	return Voucher{
		ID: uuid.Must(uuid.NewV7()), Code: NewCode(), CampaignID: c.ID, Holder: h, Kind: campaign.KindTradeIn,
		Category: k.Code, Terms: &Terms{RateBP: k.RateBP, GradeRateBP: k.GradeRateBP, CapFen: k.CapFen, MaxPriceFen: k.MaxPriceFen},
		Currency: c.Currency, ValidFrom: now, ValidUntil: until, Status: Active, Source: FromClaim,
		PlatformID: platformID, CreatedAt: now,
	}
}

// Value is what the voucher commits from the budget at issue: the discount
// of a consumption voucher; nothing for a qualification, whose subsidy is
// drawn from the budget at checkout.
func (v Voucher) Value() int64 {
	if v.Kind == campaign.KindConsumption {
		return v.DiscountFen
	}
	return 0
}
