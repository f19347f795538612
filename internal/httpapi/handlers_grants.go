package httpapi

import (
	"context"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/issuance"
)

// CreateGrant answers 202 once the list is parsed and staged; the grants
// happen in the background (GetGrant follows them). A body over the bulk
// limit is 413: the contract validator reads the body first and refuses it
// there, and CreateGrant keeps *http.MaxBytesError in its error's chain,
// which renderError looks for before the error's code.
func (h *handlers) CreateGrant(ctx context.Context, r api.CreateGrantRequestObject) (api.CreateGrantResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleCampaignManager)
	if err != nil {
		return nil, err
	}
	g, err := h.s.cfg.Issuance.CreateGrant(ctx, a, r.CampaignId, r.Params.TierId, r.Body)
	if err != nil {
		return nil, err
	}
	return api.CreateGrant202JSONResponse(grantOut(g)), nil
}

func (h *handlers) GetGrant(ctx context.Context, r api.GetGrantRequestObject) (api.GetGrantResponseObject, error) {
	g, err := h.s.cfg.Issuance.GetGrant(ctx, r.GrantId)
	if err != nil {
		return nil, err
	}
	return api.GetGrant200JSONResponse(grantOut(g)), nil
}

func grantOut(g issuance.Grant) api.Grant {
	out := api.Grant{
		Id: g.ID, CampaignId: g.CampaignID, TierId: g.TierID, Status: api.GrantStatus(g.Status),
		RowsTotal: g.RowsTotal, RowsDone: g.RowsDone, Granted: g.Granted, Duplicates: g.Duplicates,
		Rejected: g.Rejected, Errors: make([]api.RowError, len(g.Errors)), CreatedAt: g.CreatedAt,
		FinishedAt: g.FinishedAt,
	}
	for i, e := range g.Errors {
		out.Errors[i] = api.RowError{Row: e.Row, Fields: fieldErrorsOut(e.Fields)}
	}
	if g.RatePerSecond > 0 {
		rate := float32(g.RatePerSecond)
		out.RatePerSecond = &rate
	}
	if g.ETASeconds > 0 {
		eta := float32(g.ETASeconds)
		out.EtaSeconds = &eta
	}
	if g.Failure != "" {
		out.Failure = &g.Failure
	}
	return out
}
