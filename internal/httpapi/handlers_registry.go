package httpapi

import (
	"context"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/registry"
)

func (h *handlers) CreatePlatform(ctx context.Context, r api.CreatePlatformRequestObject) (api.CreatePlatformResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleCampaignManager)
	if err != nil {
		return nil, err
	}
	in := issuer.NewPlatform{ID: r.Body.Id, Name: r.Body.Name, Keys: make([]issuer.KeyInput, len(r.Body.Keys))}
	for i, k := range r.Body.Keys {
		in.Keys[i] = keyInput(k)
	}
	p, err := h.s.cfg.Issuer.CreatePlatform(ctx, a, in)
	if err != nil {
		return nil, err
	}
	return api.CreatePlatform201JSONResponse(platformOut(p)), nil
}

func (h *handlers) ListPlatforms(ctx context.Context, _ api.ListPlatformsRequestObject) (api.ListPlatformsResponseObject, error) {
	ps, err := h.s.cfg.Issuer.ListPlatforms(ctx)
	if err != nil {
		return nil, err
	}
	out := api.ListPlatforms200JSONResponse{Items: make([]api.Platform, len(ps))}
	for i, p := range ps {
		out.Items[i] = platformOut(p)
	}
	return out, nil
}

func (h *handlers) GetPlatform(ctx context.Context, r api.GetPlatformRequestObject) (api.GetPlatformResponseObject, error) {
	p, err := h.s.cfg.Issuer.GetPlatform(ctx, r.PlatformId)
	if err != nil {
		return nil, err
	}
	return api.GetPlatform200JSONResponse(platformOut(p)), nil
}

func (h *handlers) UpdatePlatform(ctx context.Context, r api.UpdatePlatformRequestObject) (api.UpdatePlatformResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleCampaignManager)
	if err != nil {
		return nil, err
	}
	patch := issuer.PlatformPatch{Name: r.Body.Name}
	if r.Body.Status != nil {
		status := registry.PlatformStatus(*r.Body.Status)
		patch.Status = &status
	}
	p, err := h.s.cfg.Issuer.UpdatePlatform(ctx, a, r.PlatformId, patch)
	if err != nil {
		return nil, err
	}
	return api.UpdatePlatform200JSONResponse(platformOut(p)), nil
}

func (h *handlers) AddPlatformKey(ctx context.Context, r api.AddPlatformKeyRequestObject) (api.AddPlatformKeyResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleCampaignManager)
	if err != nil {
		return nil, err
	}
	p, err := h.s.cfg.Issuer.AddPlatformKey(ctx, a, r.PlatformId, keyInput(*r.Body))
	if err != nil {
		return nil, err
	}
	return api.AddPlatformKey201JSONResponse(platformOut(p)), nil
}

func (h *handlers) RevokePlatformKey(ctx context.Context, r api.RevokePlatformKeyRequestObject) (api.RevokePlatformKeyResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleCampaignManager)
	if err != nil {
		return nil, err
	}
	p, err := h.s.cfg.Issuer.RevokePlatformKey(ctx, a, r.PlatformId, r.KeyId)
	if err != nil {
		return nil, err
	}
	return api.RevokePlatformKey200JSONResponse(platformOut(p)), nil
}

func (h *handlers) UpsertMerchant(ctx context.Context, r api.UpsertMerchantRequestObject) (api.UpsertMerchantResponseObject, error) {
	a, platformID, err := platformActor(ctx)
	if err != nil {
		return nil, err
	}
	b := r.Body
	m := registry.Merchant{
		PlatformID: platformID, MerchantID: r.MerchantId, Name: b.Name, USCC: b.Uscc, Region: b.Region,
		Category: b.Category, Channel: string(b.Channel), Status: registry.MerchantActive,
	}
	if b.Status != nil {
		m.Status = string(*b.Status)
	}
	m, err = h.s.cfg.Issuer.UpsertMerchant(ctx, a, m)
	if err != nil {
		return nil, err
	}
	return api.UpsertMerchant200JSONResponse(merchantOut(m)), nil
}

func (h *handlers) GetMerchant(ctx context.Context, r api.GetMerchantRequestObject) (api.GetMerchantResponseObject, error) {
	_, platformID, err := platformActor(ctx)
	if err != nil {
		return nil, err
	}
	m, err := h.s.cfg.Issuer.GetMerchant(ctx, platformID, r.MerchantId)
	if err != nil {
		return nil, err
	}
	return api.GetMerchant200JSONResponse(merchantOut(m)), nil
}

// ImportMerchants answers a body over the size limit with 413, not 400. The
// contract validator reads the body before this runs and refuses it there;
// were the body read here first, ParseMerchantCSV keeps *http.MaxBytesError
// in the error's chain, which renderError looks for before the error's code.
func (h *handlers) ImportMerchants(ctx context.Context, r api.ImportMerchantsRequestObject) (api.ImportMerchantsResponseObject, error) {
	a, platformID, err := platformActor(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := h.s.cfg.Issuer.ImportMerchants(ctx, a, platformID, r.Body)
	if err != nil {
		return nil, err
	}
	out := api.ImportMerchants200JSONResponse{
		Rows: rep.Rows, Imported: rep.Imported, Rejected: rep.Rejected, Errors: make([]api.RowError, len(rep.Errors)),
	}
	for i, e := range rep.Errors {
		out.Errors[i] = api.RowError{Row: e.Row, Fields: fieldErrorsOut(e.Fields)}
		if e.MerchantID != "" {
			out.Errors[i].MerchantId = &e.MerchantID
		}
	}
	return out, nil
}

func (h *handlers) SetSanction(ctx context.Context, r api.SetSanctionRequestObject) (api.SetSanctionResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleCampaignManager)
	if err != nil {
		return nil, err
	}
	in := registry.Sanction{USCC: r.Uscc, Sanction: string(r.Body.Sanction)}
	if r.Body.Reason != nil {
		in.Reason = *r.Body.Reason
	}
	s, err := h.s.cfg.Issuer.SetSanction(ctx, a, in)
	if err != nil {
		return nil, err
	}
	return api.SetSanction200JSONResponse(sanctionOut(s)), nil
}

func (h *handlers) ListSanctions(ctx context.Context, _ api.ListSanctionsRequestObject) (api.ListSanctionsResponseObject, error) {
	ss, err := h.s.cfg.Issuer.ListSanctions(ctx)
	if err != nil {
		return nil, err
	}
	out := api.ListSanctions200JSONResponse{Items: make([]api.Sanction, len(ss))}
	for i, s := range ss {
		out.Items[i] = sanctionOut(s)
	}
	return out, nil
}

// platformActor is the calling platform, as the audit log records it, and
// its id: a platform only ever reads and writes its own merchants.
func platformActor(ctx context.Context) (issuer.Actor, string, error) {
	p, err := principal(ctx)
	if err != nil {
		return issuer.Actor{}, "", err
	}
	a, err := actorAs(ctx, auth.RolePlatform)
	return a, p.PlatformID, err
}

func keyInput(k api.PlatformKeyInput) issuer.KeyInput {
	return issuer.KeyInput{KeyID: k.KeyId, PublicKeyPEM: k.PublicKeyPem}
}

func platformOut(p registry.Platform) api.Platform {
	out := api.Platform{
		Id: p.ID, Name: p.Name, Status: api.PlatformStatus(p.Status),
		Keys: make([]api.PlatformKey, len(p.Keys)), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	for i, k := range p.Keys {
		out.Keys[i] = api.PlatformKey{
			KeyId: k.KeyID, PublicKeyPem: k.PublicKeyPEM, Algorithm: api.PlatformKeyAlgorithm(k.Algorithm),
			CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt,
		}
	}
	return out
}

func merchantOut(m registry.Merchant) api.Merchant {
	out := api.Merchant{
		PlatformId: m.PlatformID, MerchantId: m.MerchantID, Name: m.Name, Uscc: m.USCC, Region: m.Region,
		Category: m.Category, Channel: api.MerchantChannel(m.Channel), Status: api.MerchantStatus(m.Status),
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
	if m.Sanction != "" {
		s := api.MerchantSanction(m.Sanction)
		out.Sanction = &s
	}
	return out
}

func sanctionOut(s registry.Sanction) api.Sanction {
	out := api.Sanction{Uscc: s.USCC, Sanction: api.SanctionSanction(s.Sanction), DecidedBy: &s.DecidedBy, DecidedAt: &s.DecidedAt}
	if s.Reason != "" {
		out.Reason = &s.Reason
	}
	return out
}

func fieldErrorsOut(fs []apperr.FieldError) []api.FieldError {
	out := make([]api.FieldError, len(fs))
	for i, f := range fs {
		out[i] = api.FieldError{Field: f.Field, Reason: f.Reason}
	}
	return out
}
