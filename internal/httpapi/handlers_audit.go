package httpapi

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/httpapi/api"
)

func (h *handlers) ListAuditEvents(ctx context.Context, r api.ListAuditEventsRequestObject) (api.ListAuditEventsResponseObject, error) {
	limit := 100
	if r.Params.Limit != nil {
		limit = *r.Params.Limit
	}
	var after *uuid.UUID
	if r.Params.After != nil {
		id := uuid.UUID(*r.Params.After)
		after = &id
	}
	events, err := h.s.cfg.Audit.Events(ctx, r.Params.EntityType, r.Params.EntityId, after, limit)
	if err != nil {
		return nil, err
	}
	out := api.ListAuditEvents200JSONResponse{Items: make([]api.AuditEvent, len(events))}
	for i, e := range events {
		item := api.AuditEvent{
			Id: e.ID, At: e.At, Actor: e.Actor, ActorRole: e.ActorRole, Action: e.Action,
			EntityType: e.EntityType, EntityId: e.EntityID,
		}
		if e.RequestID != "" {
			item.RequestId = &e.RequestID
		}
		if e.Before != nil {
			var v any = json.RawMessage(e.Before)
			item.Before = &v
		}
		if e.After != nil {
			var v any = json.RawMessage(e.After)
			item.After = &v
		}
		out.Items[i] = item
	}
	return out, nil
}

func (h *handlers) VerifyAudit(ctx context.Context, _ api.VerifyAuditRequestObject) (api.VerifyAuditResponseObject, error) {
	v, err := h.s.cfg.Audit.Verify(ctx)
	if err != nil {
		return nil, err
	}
	a := v.Audit
	out := api.VerifyAudit200JSONResponse{
		Ok: v.OK(), AuditBlocks: a.Blocks, AuditEvents: a.Events, UnsealedEvents: a.UnsealedEvents,
		LedgerFaults: make([]api.VerifyFault, len(v.LedgerFaults)),
	}
	if a.HeadHash != "" {
		out.HeadHash = &a.HeadHash
	}
	if f := a.FirstFault; f != nil {
		vf := api.VerifyFault{Kind: string(f.Kind), Message: f.Message, BlockNo: &f.BlockNo}
		if f.EventID != nil {
			id := f.EventID.String()
			vf.EventId = &id
		}
		out.FirstFault = &vf
	}
	for i, f := range v.LedgerFaults {
		id := f.CampaignID.String()
		out.LedgerFaults[i] = api.VerifyFault{Kind: "ledger", Message: f.Message, CampaignId: &id}
	}
	if out.FirstFault == nil && len(out.LedgerFaults) > 0 {
		out.FirstFault = &out.LedgerFaults[0]
	}
	return out, nil
}
