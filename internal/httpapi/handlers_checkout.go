package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/checkout"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
)

// checkoutRequest is the calling platform and the request's idempotency key.
func checkoutRequest(ctx context.Context) (checkout.Request, error) {
	p, err := principal(ctx)
	if err != nil {
		return checkout.Request{}, err
	}
	key, _ := idempotency.From(ctx)
	return checkout.Request{PlatformID: p.PlatformID, Idem: key, RequestID: requestIDOf(ctx)}, nil
}

func orderIn(o api.Order) redemption.Order {
	out := redemption.Order{OrderNo: o.OrderNo, MerchantID: o.MerchantId, AmountFen: o.AmountFen,
		Currency: string(o.Currency), Items: make([]redemption.Item, len(o.Items))}
	for i, it := range o.Items {
		item := redemption.Item{SKU: it.Sku, Category: it.Category, UnitPriceFen: it.UnitPriceFen, Quantity: it.Quantity}
		if it.EnergyGrade != nil {
			item.EnergyGrade = string(*it.EnergyGrade)
		}
		if it.SerialNumber != nil {
			item.SerialNumber = *it.SerialNumber
		}
		if it.RecyclingProof != nil {
			item.RecyclingProof = *it.RecyclingProof
		}
		out.Items[i] = item
	}
	return out
}

func (h *handlers) QuoteCheckout(ctx context.Context, r api.QuoteCheckoutRequestObject) (api.QuoteCheckoutResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	in := checkout.QuoteInput{IDNumber: r.Body.Holder.IdNumber, Order: orderIn(r.Body.Order), Channel: string(r.Body.PaymentChannel)}
	if r.Body.VoucherCodes != nil {
		in.Codes = *r.Body.VoucherCodes
	}
	q, err := h.s.cfg.Checkout.Quote(ctx, p.PlatformID, in)
	if err != nil {
		return nil, err
	}
	out := api.QuoteCheckout200JSONResponse{Options: make([]api.QuoteOption, len(q.Options)), Best: q.Best,
		DiscountFen: q.DiscountFen, PayableFen: q.PayableFen}
	if out.Best == nil {
		out.Best = []string{}
	}
	for i, o := range q.Options {
		opt := api.QuoteOption{VoucherCode: o.Voucher.Code, CampaignId: o.Voucher.CampaignID,
			Kind: api.CampaignKind(o.Voucher.Kind), Applicable: o.Applicable, DiscountFen: o.DiscountFen}
		if !o.Applicable {
			code, reason := string(o.ReasonCode), o.Reason
			opt.ReasonCode, opt.Reason = &code, &reason
		}
		out.Options[i] = opt
	}
	return out, nil
}

func (h *handlers) ReserveRedemption(ctx context.Context, r api.ReserveRedemptionRequestObject) (api.ReserveRedemptionResponseObject, error) {
	req, err := checkoutRequest(ctx)
	if err != nil {
		return nil, err
	}
	b := r.Body
	resp, err := h.s.cfg.Checkout.Reserve(ctx, req, checkout.ReserveInput{
		VoucherCode: b.VoucherCode, IDNumber: b.Holder.IdNumber, Order: orderIn(b.Order), Channel: string(b.PaymentChannel),
	}, renderRedemption(http.StatusCreated))
	if err != nil {
		return nil, err
	}
	return rawResponse(resp), nil
}

func (h *handlers) GetRedemption(ctx context.Context, r api.GetRedemptionRequestObject) (api.GetRedemptionResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	red, err := h.s.cfg.Checkout.Get(ctx, p.PlatformID, uuid.UUID(r.RedemptionId))
	if err != nil {
		return nil, err
	}
	out, err := redemptionOut(red)
	return api.GetRedemption200JSONResponse(out), err
}

func (h *handlers) ConfirmRedemption(ctx context.Context, r api.ConfirmRedemptionRequestObject) (api.ConfirmRedemptionResponseObject, error) {
	req, err := checkoutRequest(ctx)
	if err != nil {
		return nil, err
	}
	b := r.Body
	resp, err := h.s.cfg.Checkout.Confirm(ctx, req, uuid.UUID(r.RedemptionId), checkout.ConfirmInput{
		Channel: string(b.PaymentChannel), ChannelTxnID: b.ChannelTransactionId, PaidFen: b.PaidFen,
	}, renderRedemption(http.StatusOK))
	if err != nil {
		return nil, err
	}
	return rawResponse(resp), nil
}

func (h *handlers) CancelRedemption(ctx context.Context, r api.CancelRedemptionRequestObject) (api.CancelRedemptionResponseObject, error) {
	req, err := checkoutRequest(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := h.s.cfg.Checkout.Cancel(ctx, req, uuid.UUID(r.RedemptionId), renderRedemption(http.StatusOK))
	if err != nil {
		return nil, err
	}
	return rawResponse(resp), nil
}

func (h *handlers) RefundRedemption(ctx context.Context, r api.RefundRedemptionRequestObject) (api.RefundRedemptionResponseObject, error) {
	req, err := checkoutRequest(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := h.s.cfg.Checkout.Refund(ctx, req, uuid.UUID(r.RedemptionId), r.Body.RefundNo, r.Body.RefundFen,
		func(res checkout.RefundResult) (idempotency.Response, error) {
			f := res.Refund
			returned := res.VoucherReturned
			body, err := json.Marshal(api.Refund{Id: f.ID, RedemptionId: f.RedemptionID, RefundNo: f.RefundNo,
				RefundFen: f.RefundFen, ClawbackFen: f.ClawbackFen, CreatedAt: f.CreatedAt,
				RedemptionStatus: api.RefundRedemptionStatus(res.Redemption.Status), VoucherReturned: &returned})
			return idempotency.Response{Status: http.StatusCreated, Body: body}, err
		})
	if err != nil {
		return nil, err
	}
	return rawResponse(resp), nil
}

func (h *handlers) GetReceiptKeys(ctx context.Context, _ api.GetReceiptKeysRequestObject) (api.GetReceiptKeysResponseObject, error) {
	var out api.GetReceiptKeys200JSONResponse
	raw, err := json.Marshal(map[string]any{"keys": h.s.cfg.Checkout.ReceiptKeys()})
	if err != nil {
		return nil, err
	}
	return out, json.Unmarshal(raw, &out)
}

func renderRedemption(status int) idempotency.Renderer[postgres.Redemption] {
	return func(r postgres.Redemption) (idempotency.Response, error) {
		out, err := redemptionOut(r)
		if err != nil {
			return idempotency.Response{}, err
		}
		body, err := json.Marshal(out)
		return idempotency.Response{Status: status, Body: body}, err
	}
}

func redemptionOut(r postgres.Redemption) (api.Redemption, error) {
	out := api.Redemption{
		Id: r.ID, Status: api.RedemptionStatus(r.Status), VoucherCode: r.VoucherCode, CampaignId: r.CampaignID,
		Kind: api.CampaignKind(r.Kind), OrderNo: r.OrderNo, MerchantId: r.MerchantID, AmountFen: r.AmountFen,
		DiscountFen: r.DiscountFen, PayableFen: r.AmountFen - r.DiscountFen, PaymentChannel: api.PaymentChannel(r.Channel),
		HoldExpiresAt: r.HoldExpiresAt, ConfirmedAt: r.ConfirmedAt, RefundedFen: r.RefundedFen,
		ClawedBackFen: r.ClawedBackFen, CreatedAt: r.CreatedAt, PaidFen: r.PaidFen,
	}
	if r.ChannelTxnID != "" {
		out.ChannelTransactionId = &r.ChannelTxnID
	}
	if len(r.Receipt) > 0 {
		var rc api.Receipt
		if err := json.Unmarshal(r.Receipt, &rc); err != nil {
			return out, err
		}
		out.Receipt = &rc
	}
	return out, nil
}
