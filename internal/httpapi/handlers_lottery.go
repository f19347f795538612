package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/lottery"
)

// defaultTicketPage is the contract's default page of lottery tickets.
const defaultTicketPage = 1000

func (h *handlers) CreateRegistration(ctx context.Context, r api.CreateRegistrationRequestObject) (api.CreateRegistrationResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	key, _ := idempotency.From(ctx)
	req := issuance.RegistrationRequest{
		CampaignID: r.CampaignId, PlatformID: p.PlatformID, Holder: holderFromContract(r.Body.Holder),
		Idem: key, RequestID: requestIDOf(ctx),
	}
	resp, err := h.s.cfg.Issuance.Register(ctx, req, renderRegistration)
	if err != nil {
		return nil, err
	}
	return rawResponse(resp), nil
}

// holderFromContract is the contract's HolderInput for a use case; absent
// fields are an unknown region and an unverified name.
func holderFromContract(in api.HolderInput) issuance.HolderInput {
	out := issuance.HolderInput{IDNumber: in.IdNumber}
	if in.ResidenceRegion != nil {
		out.ResidenceRegion = *in.ResidenceRegion
	}
	if in.RealNameVerified != nil {
		out.RealNameVerified = *in.RealNameVerified
	}
	return out
}

// renderRegistration renders the contract's Registration, 201 Created.
func renderRegistration(reg lottery.Registration) (idempotency.Response, error) {
	body, err := json.Marshal(api.Registration{
		Id: reg.ID, CampaignId: reg.CampaignID, Ticket: reg.Ticket,
		Status: api.RegistrationStatus(reg.Status), RegisteredAt: reg.RegisteredAt,
	})
	return idempotency.Response{Status: http.StatusCreated, Body: body}, err
}

func (h *handlers) GetLottery(ctx context.Context, r api.GetLotteryRequestObject) (api.GetLotteryResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	v, err := h.s.cfg.Issuance.Lottery(ctx, r.CampaignId, p.PlatformID)
	if err != nil {
		return nil, err
	}
	return api.GetLottery200JSONResponse{
		CampaignId: v.CampaignID, Status: api.LotteryStatus(v.Status), Winners: v.Winners, Registrations: v.Registrations,
		Algorithm: optionalString(v.Algorithm), SeedHash: optionalString(v.SeedHash), Seed: optionalString(v.Seed),
		TicketsDigest: optionalString(v.TicketsDigest), DrawnAt: v.DrawnAt,
	}, nil
}

// optionalString is s for an optional contract field, absent when empty.
func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (h *handlers) ListLotteryTickets(ctx context.Context, r api.ListLotteryTicketsRequestObject) (api.ListLotteryTicketsResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	after, limit := "", defaultTicketPage
	if r.Params.After != nil {
		after = *r.Params.After
	}
	if r.Params.Limit != nil {
		limit = *r.Params.Limit
	}
	items, drawn, err := h.s.cfg.Issuance.LotteryTickets(ctx, r.CampaignId, p.PlatformID, after, limit)
	if err != nil {
		return nil, err
	}
	out := api.ListLotteryTickets200JSONResponse{Items: make([]api.Ticket, len(items))}
	for i, t := range items {
		out.Items[i].Ticket = t.Ticket
		if drawn {
			out.Items[i].Won = &items[i].Won
		}
	}
	return out, nil
}
