package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/clearing"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/settlement"
)

// ownPlatform is the platform a caller is limited to: a platform's own id,
// or "" for people, who may see every platform's statements.
func ownPlatform(ctx context.Context) (string, error) {
	p, err := principal(ctx)
	if err != nil {
		return "", err
	}
	if p.Kind == auth.KindPlatform {
		return p.PlatformID, nil
	}
	return "", nil
}

func (h *handlers) ListSettlements(ctx context.Context, r api.ListSettlementsRequestObject) (api.ListSettlementsResponseObject, error) {
	p := r.Params
	own, err := ownPlatform(ctx)
	if err != nil {
		return nil, err
	}
	q := clearing.Query{PlatformID: own}
	if own == "" && p.PlatformId != nil {
		q.PlatformID = *p.PlatformId
	}
	if p.Status != nil {
		q.Status = string(*p.Status)
	}
	if p.From != nil {
		q.From = &p.From.Time
	}
	if p.To != nil {
		q.To = &p.To.Time
	}
	if p.Format != nil && *p.Format == api.SettlementFormatCSV {
		return settlementExport{ctx: ctx, svc: h.s.cfg.Clearing, query: q}, nil
	}
	var limit int
	if p.Limit != nil {
		limit = *p.Limit
	}
	var cursor string
	if p.Cursor != nil {
		cursor = *p.Cursor
	}
	page, err := h.s.cfg.Clearing.List(ctx, q, cursor, limit)
	if err != nil {
		return nil, err
	}
	out := api.ListSettlements200JSONResponse{Items: make([]api.Settlement, len(page.Items))}
	for i, st := range page.Items {
		out.Items[i] = settlementOut(st, false)
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	return out, nil
}

func (h *handlers) GetSettlement(ctx context.Context, r api.GetSettlementRequestObject) (api.GetSettlementResponseObject, error) {
	own, err := ownPlatform(ctx)
	if err != nil {
		return nil, err
	}
	st, err := h.s.cfg.Clearing.Get(ctx, r.StatementId, own)
	if err != nil {
		return nil, err
	}
	return api.GetSettlement200JSONResponse(settlementOut(st, true)), nil
}

func (h *handlers) PaySettlement(ctx context.Context, r api.PaySettlementRequestObject) (api.PaySettlementResponseObject, error) {
	a, err := actorAs(ctx, auth.RoleApprover)
	if err != nil {
		return nil, err
	}
	key, _ := idempotency.From(ctx)
	resp, err := h.s.cfg.Clearing.Pay(ctx, clearing.Actor{Subject: a.Subject, Role: a.Role, RequestID: a.RequestID}, key,
		r.StatementId, r.Body.PaymentReference, func(st settlement.Statement) (idempotency.Response, error) {
			body, err := json.Marshal(settlementOut(st, true))
			return idempotency.Response{Status: http.StatusOK, Body: body}, err
		})
	if err != nil {
		return nil, err
	}
	return rawResponse(resp), nil
}

func (r rawResponse) VisitPaySettlementResponse(w http.ResponseWriter) error { return r.write(w) }

func amountsOut(a settlement.Amounts) api.SettlementAmounts {
	return api.SettlementAmounts{
		ConfirmedCount: a.ConfirmedCount, DiscountFen: a.DiscountFen, PaidFen: a.PaidFen, RefundCount: a.RefundCount,
		RefundedFen: a.RefundedFen, ClawbackFen: a.ClawbackFen, AdjustmentCount: a.AdjustmentCount,
		AdjustmentFen: a.AdjustmentFen, NetFen: a.NetFen,
	}
}

func settlementOut(st settlement.Statement, withLines bool) api.Settlement {
	out := api.Settlement{
		Id: st.ID, PlatformId: st.PlatformID, BusinessDate: openapi_types.Date{Time: st.BusinessDate},
		Currency: api.SettlementCurrency(st.Currency), Status: api.SettlementStatus(st.Status),
		Totals: amountsOut(st.Totals), IssuedAt: st.IssuedAt, PaidAt: st.PaidAt,
	}
	if st.PaidBy != "" {
		out.PaidBy = &st.PaidBy
	}
	if st.PaymentReference != "" {
		out.PaymentReference = &st.PaymentReference
	}
	if withLines {
		lines := make([]api.SettlementLine, len(st.Lines))
		for i, l := range st.Lines {
			lines[i] = api.SettlementLine{CampaignId: l.CampaignID, MerchantId: l.MerchantID, Amounts: amountsOut(l.Amounts)}
		}
		out.Lines = &lines
	}
	return out
}

// settlementExport streams the lines of every selected statement as CSV,
// like the redemption export: the status goes out with the first row, so an
// error before it is still a proper error response.
type settlementExport struct {
	ctx   context.Context
	svc   *clearing.Service
	query clearing.Query
}

func (e settlementExport) VisitListSettlementsResponse(w http.ResponseWriter) error {
	buf := bufio.NewWriter(w)
	cw := csv.NewWriter(buf)
	started := false
	start := func() error {
		started = true
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		return cw.Write(settlement.CSVHeader)
	}
	err := e.svc.Export(e.ctx, e.query, func(st settlement.Statement) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		return cw.WriteAll(st.CSVRows())
	})
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		cw.Flush()
		if err = cw.Error(); err == nil {
			err = buf.Flush()
		}
	}
	if err != nil && started {
		slog.ErrorContext(e.ctx, "settlement export aborted mid-stream", "error", err.Error())
		panic(http.ErrAbortHandler)
	}
	return err
}

func (h *handlers) CreateReconciliation(ctx context.Context, r api.CreateReconciliationRequestObject) (api.CreateReconciliationResponseObject, error) {
	own, err := ownPlatform(ctx)
	if err != nil {
		return nil, err
	}
	platform := own
	switch {
	case own != "" && r.Params.PlatformId != nil && *r.Params.PlatformId != own:
		return nil, apperr.New(apperr.CodeForbidden, "a platform reconciles only its own record")
	case own == "" && r.Params.PlatformId == nil:
		return nil, apperr.Invalid(apperr.FieldError{Field: "platform_id", Reason: "is required: name the platform whose record this is"})
	case own == "":
		platform = *r.Params.PlatformId
	}
	date := r.Params.BusinessDate.Time
	rep, err := h.s.cfg.Audit.Reconcile(ctx, platform, date, r.Body)
	if err != nil {
		return nil, err
	}
	uploaded := rep.Matched.Count + rep.MissingHere.Count + rep.AmountMismatch.Count + rep.ChannelMismatch.Count
	return api.CreateReconciliation200JSONResponse{
		PlatformId: platform, BusinessDate: openapi_types.Date{Time: date}, UploadedRows: int(uploaded),
		Matched: categoryOut(rep.Matched), MissingHere: categoryOut(rep.MissingHere),
		MissingInUpload: categoryOut(rep.MissingInUpload), AmountMismatch: categoryOut(rep.AmountMismatch),
		ChannelMismatch: categoryOut(rep.ChannelMismatch),
	}, nil
}

func categoryOut(c settlement.Category) api.ReconciliationCategory {
	out := api.ReconciliationCategory{Count: c.Count, Truncated: c.Truncated, Rows: make([]api.ReconciliationRow, len(c.Rows))}
	rec := func(r *settlement.Record) *api.ReconciliationRecord {
		if r == nil {
			return nil
		}
		return &api.ReconciliationRecord{OrderNo: r.OrderNo, DiscountFen: r.DiscountFen, PaidFen: r.PaidFen,
			PaymentChannel: r.Channel, ChannelTxnId: r.ChannelTxnID}
	}
	for i, f := range c.Rows {
		row := api.ReconciliationRow{RedemptionId: f.RedemptionID, OrderNo: f.OrderNo, Fields: f.Fields,
			Ours: rec(f.Ours), Theirs: rec(f.Theirs)}
		if row.Fields == nil {
			row.Fields = []string{}
		}
		if f.Line > 0 {
			line := f.Line
			row.Line = &line
		}
		out.Rows[i] = row
	}
	return out
}
