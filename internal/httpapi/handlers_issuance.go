package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/voucher"
)

func (h *handlers) ListRounds(ctx context.Context, r api.ListRoundsRequestObject) (api.ListRoundsResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.Kind == auth.KindPlatform {
		// Platforms see rounds of campaigns they may see.
		if _, err := h.s.cfg.Issuer.CampaignForPlatform(ctx, r.CampaignId, p.PlatformID); err != nil {
			return nil, err
		}
	}
	rounds, err := h.s.cfg.Issuance.Rounds(ctx, r.CampaignId)
	if err != nil {
		return nil, err
	}
	out := api.ListRounds200JSONResponse{Items: make([]api.Round, len(rounds))}
	for i, rd := range rounds {
		out.Items[i] = roundOut(rd)
	}
	return out, nil
}

func roundOut(r postgres.Round) api.Round {
	tier := r.TierID
	return api.Round{
		Id: r.ID, CampaignId: r.CampaignID, ReleaseId: r.ReleaseID, TierId: &tier, Quantity: r.Quantity,
		Remaining: r.Remaining, Claimed: r.Claimed(), OpensAt: r.OpensAt, ClosesAt: r.ClosesAt,
		Status: api.RoundStatus(r.Status),
	}
}

func (h *handlers) CreateClaim(ctx context.Context, r api.CreateClaimRequestObject) (api.CreateClaimResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	key, _ := idempotency.From(ctx)
	b := r.Body
	req := issuance.ClaimRequest{
		CampaignID: r.CampaignId, PlatformID: p.PlatformID, Idem: key, RequestID: requestIDOf(ctx),
		Holder: issuance.HolderInput{IDNumber: b.Holder.IdNumber},
	}
	if b.Holder.ResidenceRegion != nil {
		req.Holder.ResidenceRegion = *b.Holder.ResidenceRegion
	}
	if b.Holder.RealNameVerified != nil {
		req.Holder.RealNameVerified = *b.Holder.RealNameVerified
	}
	if b.TierId != nil {
		req.TierID = *b.TierId
	}
	if b.Category != nil {
		req.Category = *b.Category
	}
	resp, err := h.s.cfg.Issuance.Claim(ctx, req, renderVoucher(http.StatusCreated))
	if err != nil {
		return nil, err
	}
	return rawResponse(resp), nil
}

// renderVoucher renders a voucher as the contract's Voucher with status.
func renderVoucher(status int) idempotency.Renderer[voucher.Voucher] {
	return func(v voucher.Voucher) (idempotency.Response, error) {
		body, err := json.Marshal(voucherOut(v))
		return idempotency.Response{Status: status, Body: body}, err
	}
}

func voucherOut(v voucher.Voucher) api.Voucher {
	out := api.Voucher{
		Id: v.ID, Code: v.Code, CampaignId: v.CampaignID, Kind: api.CampaignKind(v.Kind), Currency: v.Currency,
		ValidFrom: v.ValidFrom, ValidUntil: v.ValidUntil, Status: api.VoucherStatus(v.Status),
		Source: api.VoucherSource(v.Source), CreatedAt: v.CreatedAt, RoundId: (*uuid.UUID)(v.RoundID),
	}
	if out.Currency == "" {
		out.Currency = "CNY"
	}
	if v.TierID != "" {
		out.TierId, out.MinSpendFen, out.DiscountFen = &v.TierID, &v.MinSpendFen, &v.DiscountFen
	}
	if v.Category != "" {
		out.Category = &v.Category
	}
	if t := v.Terms; t != nil {
		out.RateBp, out.CapFen = &t.RateBP, &t.CapFen
		if len(t.GradeRateBP) > 0 {
			out.GradeRateBp = &t.GradeRateBP
		}
		if t.MaxPriceFen > 0 {
			out.MaxPriceFen = &t.MaxPriceFen
		}
	}
	return out
}

func (h *handlers) GetWallet(ctx context.Context, r api.GetWalletRequestObject) (api.GetWalletResponseObject, error) {
	status := ""
	if r.Body.Status != nil {
		status = string(*r.Body.Status)
	}
	vs, err := h.s.cfg.Issuance.Wallet(ctx, r.Body.Holder.IdNumber, status)
	if err != nil {
		return nil, err
	}
	out := api.GetWallet200JSONResponse{Items: make([]api.Voucher, len(vs))}
	for i, v := range vs {
		out.Items[i] = voucherOut(v)
	}
	return out, nil
}
