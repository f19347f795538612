package checkout

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/voucher"
)

// QuoteInput prices an order.
type QuoteInput struct {
	IDNumber string
	Order    redemption.Order
	Channel  string
	Codes    []string // empty: every active voucher of the holder
}

// QuoteOption is one voucher's verdict.
type QuoteOption struct {
	Voucher     voucher.Voucher
	Applicable  bool
	ReasonCode  apperr.Code
	Reason      string
	DiscountFen int64
}

// Quote is the verdict on each candidate and the best choice.
type Quote struct {
	Options     []QuoteOption
	Best        []string
	DiscountFen int64
	PayableFen  int64
}

// Quote checks each candidate voucher against the order exactly as a
// reservation would (serial numbers and budget included, read only) and picks
// the best combination the stacking rules allow. It writes nothing.
func (s *Service) Quote(ctx context.Context, platformID string, in QuoteInput) (Quote, error) {
	hash, err := s.holderHash(in.IDNumber)
	if err != nil {
		return Quote{}, err
	}
	if err := in.Order.Validate(); err != nil {
		return Quote{}, err
	}
	var vs []voucher.Voucher
	if len(in.Codes) > 0 {
		vs, err = postgres.VouchersByCode(ctx, s.pool, in.Codes)
	} else {
		vs, err = postgres.HolderVouchers(ctx, s.pool, hash, string(voucher.Active), 100)
	}
	if err != nil {
		return Quote{}, err
	}
	m, err := postgres.MerchantForCheckout(ctx, s.pool, platformID, in.Order.MerchantID)
	merchant := &m
	if apperr.Is(err, apperr.CodeNotFound) {
		merchant = nil
	} else if err != nil {
		return Quote{}, err
	}
	campaigns := map[uuid.UUID]*campaign.Campaign{}
	var q Quote
	for _, v := range vs {
		if v.Holder != hash {
			continue // another holder's code: not even mentioned
		}
		c, ok := campaigns[v.CampaignID]
		if !ok {
			cc, err := postgres.GetCampaign(ctx, s.pool, v.CampaignID)
			if err != nil {
				return Quote{}, err
			}
			c = &cc
			campaigns[v.CampaignID] = c
		}
		opt := QuoteOption{Voucher: v}
		out, err := redemption.Check(v, in.Order, redemption.Context{
			Campaign: c, Merchant: merchant, PlatformID: platformID, Channel: in.Channel, HolderHash: hash, Now: s.now(),
		})
		if err == nil {
			err = s.quoteHeld(ctx, c, out)
		}
		if err != nil {
			e, ok := apperr.As(err)
			if !ok {
				return Quote{}, err
			}
			opt.ReasonCode, opt.Reason = e.Code, e.Message
		} else {
			opt.Applicable, opt.DiscountFen = true, out.DiscountFen
		}
		q.Options = append(q.Options, opt)
	}
	q.Best, q.DiscountFen = best(q.Options, campaigns, in.Order.AmountFen)
	q.PayableFen = in.Order.AmountFen - q.DiscountFen
	return q, nil
}

// quoteHeld applies the rules a reservation checks in the database: serial
// numbers already subsidised and the trade-in budget.
func (s *Service) quoteHeld(ctx context.Context, c *campaign.Campaign, out redemption.Outcome) error {
	if out.SerialNumber != "" {
		used, err := postgres.SerialSubsidised(ctx, s.pool, out.SerialNumber)
		if err != nil {
			return err
		}
		if used {
			return apperr.New(redemption.CodeSerialAlreadyUsed, "this serial number / IMEI is already subsidised")
		}
	}
	if c.Kind == campaign.KindTradeIn {
		b, err := postgres.Breakdown(ctx, s.pool, c.ID)
		if err != nil {
			return err
		}
		if b.Available < out.DiscountFen {
			return apperr.New(ledger.CodeBudgetExhausted, "the campaign's subsidy budget is exhausted")
		}
	}
	return nil
}

// best picks the largest discounts first: one voucher per order unless every
// campaign involved allows stacking, never more per campaign than it allows,
// never more discount than the order amount.
func best(opts []QuoteOption, campaigns map[uuid.UUID]*campaign.Campaign, amount int64) ([]string, int64) {
	cands := slices.Clone(opts)
	slices.SortStableFunc(cands, func(a, b QuoteOption) int {
		switch {
		case a.DiscountFen > b.DiscountFen:
			return -1
		case a.DiscountFen < b.DiscountFen:
			return 1
		}
		return 0
	})
	var codes []string
	var total int64
	perCampaign := map[uuid.UUID]int{}
	for _, o := range cands {
		if !o.Applicable {
			continue
		}
		c := campaigns[o.Voucher.CampaignID]
		max := c.Rules.Eligibility.MaxVouchersPerOrder
		if perCampaign[c.ID] >= max || total+o.DiscountFen >= amount {
			continue
		}
		if len(codes) > 0 && (max < 2 || !stackable(codes, cands, campaigns)) {
			break
		}
		codes = append(codes, o.Voucher.Code)
		perCampaign[c.ID]++
		total += o.DiscountFen
	}
	return codes, total
}

// stackable reports whether every chosen voucher's campaign allows stacking.
func stackable(chosen []string, opts []QuoteOption, campaigns map[uuid.UUID]*campaign.Campaign) bool {
	for _, o := range opts {
		if slices.Contains(chosen, o.Voucher.Code) && campaigns[o.Voucher.CampaignID].Rules.Eligibility.MaxVouchersPerOrder < 2 {
			return false
		}
	}
	return true
}
