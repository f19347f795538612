package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/audit"
	"github.com/tongquan/tongquan/internal/httpapi/api"
)

func (h *handlers) ListAuditRedemptions(ctx context.Context, r api.ListAuditRedemptionsRequestObject) (api.ListAuditRedemptionsResponseObject, error) {
	p := r.Params
	q := redemptionQuery(p.CampaignId, p.PlatformId, p.MerchantId, p.MerchantRegion, p.Category,
		(*string)(p.PaymentChannel), (*string)(p.Status), p.HolderIdNumber, p.From, p.To)
	var limit int
	if p.Limit != nil {
		limit = *p.Limit
	}
	var cursor string
	if p.Cursor != nil {
		cursor = *p.Cursor
	}
	withTotals := cursor == "" // by default on the first page only
	if p.Totals != nil {
		withTotals = *p.Totals
	}
	page, err := h.s.cfg.Audit.Redemptions(ctx, q, cursor, limit, withTotals)
	if err != nil {
		return nil, err
	}
	out := api.ListAuditRedemptions200JSONResponse{Items: make([]api.AuditRedemption, len(page.Items))}
	for i, red := range page.Items {
		out.Items[i] = auditRedemptionOut(red)
	}
	if page.NextCursor != "" {
		out.NextCursor = &page.NextCursor
	}
	if t := page.Totals; t != nil {
		out.Totals = &struct {
			Count       int64 `json:"count"`
			DiscountFen int64 `json:"discount_fen"`
			PaidFen     int64 `json:"paid_fen"`
		}{t.Count, t.DiscountFen, t.PaidFen}
	}
	return out, nil
}

func (h *handlers) ExportAuditRedemptions(ctx context.Context, r api.ExportAuditRedemptionsRequestObject) (api.ExportAuditRedemptionsResponseObject, error) {
	p := r.Params
	format := api.Csv
	if p.Format != nil {
		format = *p.Format
	}
	return redemptionExport{
		ctx: ctx, svc: h.s.cfg.Audit, format: format,
		query: redemptionQuery(p.CampaignId, p.PlatformId, p.MerchantId, p.MerchantRegion, p.Category,
			(*string)(p.PaymentChannel), (*string)(p.Status), p.HolderIdNumber, p.From, p.To),
	}, nil
}

// redemptionQuery gathers the filters both operations share.
func redemptionQuery(campaignID *uuid.UUID, platformID, merchantID, region, category, channel, status, holderID *string, from, to *time.Time) audit.RedemptionQuery {
	s := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	return audit.RedemptionQuery{
		CampaignID: campaignID, PlatformID: s(platformID), MerchantID: s(merchantID), MerchantRegion: s(region),
		Category: s(category), PaymentChannel: s(channel), Status: s(status), HolderIDNumber: s(holderID),
		From: from, To: to,
	}
}

func auditRedemptionOut(r audit.Redemption) api.AuditRedemption {
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	return api.AuditRedemption{
		Id: r.ID, PlatformId: r.PlatformID, OrderNo: r.OrderNo, VoucherCode: r.VoucherCode, CampaignId: r.CampaignID,
		Kind: api.CampaignKind(r.Kind), Holder: opt(r.Holder.String()), MerchantId: r.MerchantID,
		MerchantRegion: opt(r.MerchantRegion), MerchantCategory: opt(r.MerchantCategory), Category: opt(r.Category),
		AmountFen: r.AmountFen, DiscountFen: r.DiscountFen, PaidFen: r.PaidFen, PaymentChannel: r.Channel,
		ChannelTransactionId: opt(r.ChannelTxnID), Status: r.Status, RefundedFen: r.RefundedFen,
		ClawedBackFen: r.ClawedBackFen, CreatedAt: r.CreatedAt, ConfirmedAt: r.ConfirmedAt,
	}
}

// exportFlushRows is how many rows an export buffers before pushing them to
// the client, so a long export shows progress without a flush per row.
const exportFlushRows = 256

var redemptionCSVHeader = []string{
	"id", "platform_id", "order_no", "voucher_code", "campaign_id", "kind", "holder", "merchant_id",
	"merchant_region", "merchant_category", "category", "amount_fen", "discount_fen", "paid_fen",
	"payment_channel", "channel_transaction_id", "status", "refunded_fen", "clawed_back_fen", "created_at", "confirmed_at",
}

func redemptionCSVRow(r audit.Redemption) []string {
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	paid, confirmed := "", ""
	if r.PaidFen != nil {
		paid = i(*r.PaidFen)
	}
	if r.ConfirmedAt != nil {
		confirmed = r.ConfirmedAt.Format(time.RFC3339Nano)
	}
	return []string{
		r.ID.String(), r.PlatformID, r.OrderNo, r.VoucherCode, r.CampaignID.String(), r.Kind, r.Holder.String(),
		r.MerchantID, r.MerchantRegion, r.MerchantCategory, r.Category, i(r.AmountFen), i(r.DiscountFen), paid,
		r.Channel, r.ChannelTxnID, r.Status, i(r.RefundedFen), i(r.ClawedBackFen),
		r.CreatedAt.Format(time.RFC3339Nano), confirmed,
	}
}

// redemptionExport streams the export straight from the database cursor to
// the client: the generated response types would need the whole body as a
// reader first. It holds the request context because the query runs while
// the response is written.
type redemptionExport struct {
	ctx    context.Context
	svc    *audit.Service
	query  audit.RedemptionQuery
	format api.ExportAuditRedemptionsParamsFormat
}

func (e redemptionExport) VisitExportAuditRedemptionsResponse(w http.ResponseWriter) error {
	buf := bufio.NewWriter(w)
	cw := csv.NewWriter(buf)
	enc := json.NewEncoder(buf)
	flush := func() error {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if err := buf.Flush(); err != nil {
			return err
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		return nil
	}
	// The status goes out with the first row (or at the end), so a query that
	// fails before any row still gets a proper error response.
	started := false
	start := func() error {
		started = true
		if e.format == api.Ndjson {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			return nil
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		return cw.Write(redemptionCSVHeader)
	}
	rows := 0
	err := e.svc.ExportRedemptions(e.ctx, e.query, func(r audit.Redemption) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		var err error
		if e.format == api.Ndjson {
			err = enc.Encode(auditRedemptionOut(r))
		} else {
			err = cw.Write(redemptionCSVRow(r))
		}
		if err != nil {
			return err
		}
		if rows++; rows%exportFlushRows == 0 {
			return flush()
		}
		return nil
	})
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		err = flush()
	}
	if err != nil && started {
		// Past the status line the only honest signal is a broken stream: the
		// client must not take a truncated export for a complete one.
		slog.ErrorContext(e.ctx, "redemption export aborted mid-stream", "rows", rows, "error", err.Error())
		panic(http.ErrAbortHandler)
	}
	return err
}
