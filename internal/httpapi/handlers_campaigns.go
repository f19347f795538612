package httpapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/postgres"
)

// convert moves a value between contract and domain types that share their
// JSON shape. Admin paths only: the checkout path converts field by field.
func convert[T any](from any) (T, error) {
	var to T
	raw, err := json.Marshal(from)
	if err != nil {
		return to, err
	}
	if err := json.Unmarshal(raw, &to); err != nil {
		return to, fmt.Errorf("contract and domain types disagree: %w", err)
	}
	return to, nil
}

func (h *handlers) CreateCampaign(ctx context.Context, r api.CreateCampaignRequestObject) (api.CreateCampaignResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleCampaignManager)
	if err != nil {
		return nil, err
	}
	c, err := convert[campaign.Campaign](r.Body)
	if err != nil {
		return nil, err
	}
	c, err = h.s.cfg.Issuer.CreateCampaign(ctx, a, c)
	if err != nil {
		return nil, err
	}
	out, err := convert[api.Campaign](c)
	return api.CreateCampaign201JSONResponse(out), err
}

func (h *handlers) ListCampaigns(ctx context.Context, r api.ListCampaignsRequestObject) (api.ListCampaignsResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	f := postgres.CampaignFilter{Limit: 50}
	if r.Params.Status != nil {
		f.Status = campaign.Status(*r.Params.Status)
	}
	if r.Params.Kind != nil {
		f.Kind = campaign.Kind(*r.Params.Kind)
	}
	if r.Params.Limit != nil {
		f.Limit = *r.Params.Limit
	}
	if r.Params.Cursor != nil {
		f.Cursor = *r.Params.Cursor
	}
	cs, next, err := h.s.cfg.Issuer.ListCampaigns(ctx, f, p.PlatformID)
	if err != nil {
		return nil, err
	}
	items, err := convert[[]api.Campaign](cs)
	if err != nil {
		return nil, err
	}
	out := api.ListCampaigns200JSONResponse{Items: items}
	if items == nil {
		out.Items = []api.Campaign{}
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

func (h *handlers) GetCampaign(ctx context.Context, r api.GetCampaignRequestObject) (api.GetCampaignResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var c campaign.Campaign
	if p.Kind == auth.KindPlatform {
		c, err = h.s.cfg.Issuer.CampaignForPlatform(ctx, r.CampaignId, p.PlatformID)
	} else {
		c, err = h.s.cfg.Issuer.GetCampaign(ctx, r.CampaignId)
	}
	if err != nil {
		return nil, err
	}
	out, err := convert[api.Campaign](c)
	return api.GetCampaign200JSONResponse(out), err
}

func (h *handlers) UpdateCampaign(ctx context.Context, r api.UpdateCampaignRequestObject) (api.UpdateCampaignResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleCampaignManager)
	if err != nil {
		return nil, err
	}
	b := r.Body
	p := issuer.CampaignPatch{
		Version: b.Version, Name: b.Name, Authority: b.Authority, TimeZone: b.TimeZone,
		StartsAt: b.StartsAt, EndsAt: b.EndsAt, BudgetFen: b.BudgetFen, HoldMinutes: b.HoldMinutes,
	}
	if b.Rules != nil {
		rules, err := convert[campaign.Rules](b.Rules)
		if err != nil {
			return nil, err
		}
		p.Rules = &rules
	}
	c, err := h.s.cfg.Issuer.UpdateCampaign(ctx, a, r.CampaignId, p)
	if err != nil {
		return nil, err
	}
	out, err := convert[api.Campaign](c)
	return api.UpdateCampaign200JSONResponse(out), err
}

// TransitionCampaign: approve and reject are an approver's decisions; every
// other action is a campaign manager's.
func (h *handlers) TransitionCampaign(ctx context.Context, r api.TransitionCampaignRequestObject) (api.TransitionCampaignResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	action := campaign.Action(r.Action)
	role := auth.RoleCampaignManager
	if action == campaign.ActionApprove || action == campaign.ActionReject {
		role = auth.RoleApprover
	}
	if !p.Has(role) {
		return nil, apperr.New(apperr.CodeForbidden, "%s needs the %s role", action, role)
	}
	a, err := actorAs(ctx, role)
	if err != nil {
		return nil, err
	}
	reason := ""
	if r.Body != nil && r.Body.Reason != nil {
		reason = *r.Body.Reason
	}
	c, err := h.s.cfg.Issuer.Transition(ctx, a, r.CampaignId, action, reason)
	if err != nil {
		return nil, err
	}
	out, err := convert[api.Campaign](c)
	return api.TransitionCampaign200JSONResponse(out), err
}

func (h *handlers) GetBudget(ctx context.Context, r api.GetBudgetRequestObject) (api.GetBudgetResponseObject, error) {
	b, err := h.s.cfg.Issuer.GetBudget(ctx, r.CampaignId)
	if err != nil {
		return nil, err
	}
	k := b.Breakdown
	return api.GetBudget200JSONResponse{
		CampaignId: b.CampaignID, Currency: b.Currency,
		FundedFen: k.Funded, AvailableFen: k.Available, AllocatedFen: k.Allocated, CommittedFen: k.Committed,
		HeldFen: k.Held, PayableFen: k.Payable, SettledFen: k.Settled, PendingChangeFen: b.PendingChangeFen,
	}, nil
}

func (h *handlers) RequestBudgetChange(ctx context.Context, r api.RequestBudgetChangeRequestObject) (api.RequestBudgetChangeResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleCampaignManager)
	if err != nil {
		return nil, err
	}
	b, err := h.s.cfg.Issuer.RequestBudgetChange(ctx, a, r.CampaignId, r.Body.DeltaFen, r.Body.Reason)
	if err != nil {
		return nil, err
	}
	out, err := convert[api.BudgetChange](b)
	return api.RequestBudgetChange201JSONResponse(out), err
}

func (h *handlers) ListBudgetChanges(ctx context.Context, r api.ListBudgetChangesRequestObject) (api.ListBudgetChangesResponseObject, error) {
	bs, err := h.s.cfg.Issuer.ListBudgetChanges(ctx, r.CampaignId)
	if err != nil {
		return nil, err
	}
	items, err := convert[[]api.BudgetChange](bs)
	if items == nil {
		items = []api.BudgetChange{}
	}
	return api.ListBudgetChanges200JSONResponse{Items: items}, err
}

func (h *handlers) DecideBudgetChange(ctx context.Context, r api.DecideBudgetChangeRequestObject) (api.DecideBudgetChangeResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleApprover)
	if err != nil {
		return nil, err
	}
	b, err := h.s.cfg.Issuer.DecideBudgetChange(ctx, a, uuid.UUID(r.ChangeId), r.Decision == "approve")
	if err != nil {
		return nil, err
	}
	out, err := convert[api.BudgetChange](b)
	return api.DecideBudgetChange200JSONResponse(out), err
}
