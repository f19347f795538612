package audit

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/postgres"
)

// Page sizes of the redemption history.
const (
	DefaultRedemptionLimit = 50
	MaxRedemptionLimit     = 500
)

// Redemption is one row of the redemption history.
type Redemption = postgres.AuditRedemption

// RedemptionTotals sums a whole selection.
type RedemptionTotals = postgres.AuditRedemptionTotals

// RedemptionQuery selects redemptions. HolderIDNumber is a resident ID
// number: it is hashed here and never kept, logged or returned.
type RedemptionQuery struct {
	CampaignID     *uuid.UUID
	PlatformID     string
	MerchantID     string
	MerchantRegion string
	Category       string
	PaymentChannel string
	Status         string
	HolderIDNumber string
	From, To       *time.Time
}

// RedemptionPage is one page, oldest first, and the totals of the whole query.
type RedemptionPage struct {
	Items      []Redemption
	NextCursor string
	Totals     *RedemptionTotals // nil unless asked for
}

func (s *Service) filter(q RedemptionQuery) (postgres.AuditRedemptionFilter, error) {
	f := postgres.AuditRedemptionFilter{
		CampaignID: q.CampaignID, PlatformID: q.PlatformID, MerchantID: q.MerchantID,
		MerchantRegion: q.MerchantRegion, Category: q.Category, PaymentChannel: q.PaymentChannel,
		Status: q.Status, From: q.From, To: q.To,
	}
	if q.HolderIDNumber == "" {
		return f, nil
	}
	if s.hasher == nil {
		return f, apperr.New(apperr.CodeUnavailable, "holder lookups are not configured on this service")
	}
	id, err := holder.NormalizeID(q.HolderIDNumber)
	if err != nil {
		// Name the header the auditor sent; the reason never repeats the number.
		if e, ok := apperr.As(err); ok && len(e.Fields) == 1 {
			return f, apperr.Invalid(apperr.FieldError{Field: "Holder-Id-Number", Reason: e.Fields[0].Reason})
		}
		return f, err
	}
	h := s.hasher.Hash(id)
	f.Holder = &h
	return f, nil
}

// Redemptions returns a page of the history after cursor and, when
// withTotals, the totals of the whole query, both read from one snapshot so
// they agree. The totals read every matching row (an index-only scan at
// best), which is why callers ask for them once rather than on every page.
func (s *Service) Redemptions(ctx context.Context, q RedemptionQuery, cursor string, limit int, withTotals bool) (RedemptionPage, error) {
	f, err := s.filter(q)
	if err != nil {
		return RedemptionPage{}, err
	}
	if limit <= 0 {
		limit = DefaultRedemptionLimit
	}
	limit = min(limit, MaxRedemptionLimit)
	var page RedemptionPage
	// Read-only repeatable read works on a hot standby, where auditors may read.
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err = pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error {
		var err error
		if page.Items, page.NextCursor, err = postgres.ListAuditRedemptions(ctx, tx, f, cursor, limit); err != nil {
			return err
		}
		if !withTotals {
			return nil
		}
		totals, err := postgres.SumAuditRedemptions(ctx, tx, f)
		page.Totals = &totals
		return err
	})
	return page, err
}

// ExportRedemptions calls fn with every redemption of q, oldest first, as the
// database streams them. An error before the first call changed nothing.
func (s *Service) ExportRedemptions(ctx context.Context, q RedemptionQuery, fn func(Redemption) error) error {
	f, err := s.filter(q)
	if err != nil {
		return err
	}
	return postgres.EachAuditRedemption(ctx, s.pool, f, fn)
}
