package checkout

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/voucher"
)

// ReserveInput is phase one of checkout.
type ReserveInput struct {
	VoucherCode string
	IDNumber    string
	Order       redemption.Order
	Channel     string
}

// Reserve holds a voucher for an order: every rule checked, the voucher
// reserved, its value (or the trade-in subsidy) held in the ledger until the
// hold expires.
//
// Reservations of consumption vouchers are group-committed, like confirms.
// A trade-in reservation draws on the campaign's shared subsidy budget, where
// each refusal for want of budget must be exact, and a voucher asked for
// twice in one batch must be judged in order; those run in a transaction of
// their own, as a batch of one.
func (s *Service) Reserve(ctx context.Context, req Request, in ReserveInput, render idempotency.Renderer[postgres.Redemption]) (idempotency.Response, error) {
	hash, err := s.holderHash(in.IDNumber)
	if err != nil {
		return idempotency.Response{}, err
	}
	if err := in.Order.Validate(); err != nil {
		return idempotency.Response{}, err
	}
	step := &reserveStep{req: req, in: in, hash: hash, render: render, pending: newPending()}
	if err := s.reserves.submit(step); err != nil {
		return idempotency.Response{}, err
	}
	r := step.wait(ctx, "reservation")
	if errors.Is(r.err, errReserveAlone) {
		// A batch of its own, committed here; its key was released.
		step.pending = newPending()
		commitShared(s.pool, []*reserveStep{step}, func(ctx context.Context, tx postgres.Batcher) ([]stepResult, error) {
			return s.reserveBatch(ctx, tx, []*reserveStep{step}, true)
		})
		r = <-step.done
	}
	return r.resp, r.err
}

// errReserveAlone sends a step out of its batch, into a batch of its own.
// Its idempotency key is released with the batch, so it is free again.
var errReserveAlone = errors.New("reserve in a transaction of its own")

type reserveStep struct {
	req    Request
	in     ReserveInput
	hash   holder.Hash
	render idempotency.Renderer[postgres.Redemption]
	pending
}

func (s *Service) commitReserves(batch []*reserveStep) {
	commitShared(s.pool, batch, func(ctx context.Context, tx postgres.Batcher) ([]stepResult, error) {
		return s.reserveBatch(ctx, tx, batch, false)
	})
}

// reserveBatch is the shared transaction's body, in three round trips: the
// keys, the locks of vouchers and orders and the reads the rules need; every
// write; the commit. It is run again from scratch if the
// transaction is retried, so it only computes outcomes. Rows are locked in
// the service's order: keys, vouchers, orders, then the ledger.
//
// Alone, the batch is one step, which may be a trade-in reservation: its
// subsidy, drawn from the budget, is refused exactly (BUDGET_EXHAUSTED, by
// the ledger transfer, rolls back the one step), and so is a serial number
// subsidised already (by the unique index the insert meets).
func (s *Service) reserveBatch(ctx context.Context, tx postgres.Batcher, batch []*reserveStep, alone bool) ([]stepResult, error) {
	out := make([]stepResult, len(batch))
	keys := make([]idempotency.Key, len(batch))
	var codes []string
	var merchants []postgres.MerchantRef
	var orderRefs []postgres.OrderRef
	seenMerchant := map[postgres.MerchantRef]bool{}
	seenOrder := map[postgres.OrderRef]bool{}
	codeSteps := map[string]int{}
	for i, step := range batch {
		keys[i] = step.req.Idem
		if o := (postgres.OrderRef{PlatformID: step.req.PlatformID, OrderNo: step.in.Order.OrderNo}); !seenOrder[o] {
			seenOrder[o] = true
			orderRefs = append(orderRefs, o)
		}
		if codeSteps[step.in.VoucherCode]++; codeSteps[step.in.VoucherCode] == 1 {
			codes = append(codes, step.in.VoucherCode)
		}
		if m := (postgres.MerchantRef{PlatformID: step.req.PlatformID, MerchantID: step.in.Order.MerchantID}); !seenMerchant[m] {
			seenMerchant[m] = true
			merchants = append(merchants, m)
		}
	}
	var (
		fresh         []bool
		vouchers      map[string]voucher.Voucher
		campaigns     map[uuid.UUID]campaign.Campaign
		merchantByRef map[postgres.MerchantRef]registry.Merchant
		orders        map[postgres.OrderRef]postgres.OrderCount
	)
	reads := &pgx.Batch{}
	postgres.QueueIndexProbes(reads)
	postgres.QueueReserveIdempotencyKeys(reads, keys, &fresh)
	postgres.QueueLockVouchersByCode(reads, codes, &vouchers)
	postgres.QueueCampaignsOfVouchers(reads, codes, &campaigns)
	postgres.QueueMerchantsForCheckout(reads, merchants, &merchantByRef)
	postgres.QueueLockOrders(reads, orderRefs, &orders)
	if err := tx.SendBatch(ctx, reads).Close(); err != nil {
		return nil, err
	}

	now := s.now().UTC().Truncate(time.Microsecond)
	var w stepWrites
	refuse := func(i int, err error) {
		out[i].err = err
		w.released = append(w.released, keys[i]) // a retry is judged again
	}
	// Orders are counted in memory, from the rows locked above: an order
	// number names one order (fingerprint) carrying at most the campaign's
	// vouchers per order.
	added := map[postgres.OrderRef]int{}
	for i, step := range batch {
		if !fresh[i] {
			out[i].err = idempotency.ErrDuplicate // a twin holds the key; the HTTP layer replays its answer
			continue
		}
		v, found := vouchers[step.in.VoucherCode]
		switch {
		case found && !alone && (v.Kind == campaign.KindTradeIn || codeSteps[v.Code] > 1):
			refuse(i, errReserveAlone)
			continue
		case !found:
			refuse(i, redemption.VoucherNotFound(step.in.VoucherCode))
			continue
		}
		c, found := campaigns[v.CampaignID]
		if !found {
			refuse(i, apperr.New(apperr.CodeNotFound, "no campaign for voucher %s", v.Code))
			continue
		}
		var merchant *registry.Merchant
		if m, found := merchantByRef[postgres.MerchantRef{PlatformID: step.req.PlatformID, MerchantID: step.in.Order.MerchantID}]; found {
			merchant = &m
		}
		r, err := s.reservation(step.req, step.in, v, &c, merchant, step.hash, now)
		if err == nil {
			out[i].resp, err = step.render(r)
		}
		var e auditlog.Event
		if err == nil {
			e, err = s.event(step.req, "redemption.reserved", r, nil)
		}
		if err != nil {
			refuse(i, err)
			continue
		}
		ref := postgres.OrderRef{PlatformID: step.req.PlatformID, OrderNo: step.in.Order.OrderNo}
		fingerprint, max := orderFingerprint(step.in.Order), c.Rules.Eligibility.MaxVouchersPerOrder
		count, stored := orders[ref]
		if stored && (!bytes.Equal(count.Fingerprint, fingerprint) || count.Vouchers >= max) {
			refuse(i, postgres.OrderRefusal(ref.OrderNo, bytes.Equal(count.Fingerprint, fingerprint), max))
			continue
		}
		if !stored {
			count.Fingerprint = fingerprint
		}
		count.Vouchers++
		orders[ref] = count
		added[ref]++
		w.took(r, e, keys[i], out[i].resp)
	}

	// In key order, as they were locked: two batches storing the same new
	// orders then wait for each other in one order.
	slices.SortFunc(orderRefs, func(a, b postgres.OrderRef) int {
		return cmp.Or(cmp.Compare(a.PlatformID, b.PlatformID), cmp.Compare(a.OrderNo, b.OrderNo))
	})
	var counted []postgres.OrderRef
	var counts []postgres.OrderCount
	var adds []int
	for _, ref := range orderRefs {
		if added[ref] > 0 {
			counted, counts, adds = append(counted, ref), append(counts, orders[ref]), append(adds, added[ref])
		}
	}
	answerTwins(keys, out)
	writes := &pgx.Batch{}
	postgres.QueueCountOrders(writes, counted, counts, adds)
	postgres.QueueInsertRedemptions(writes, w.redemptions)
	return out, w.send(ctx, tx, writes, voucher.Reserved, holdKind, now)
}

// reservation checks a reservation against its locked voucher and the
// reads the rules need, and returns the redemption it would create.
func (s *Service) reservation(req Request, in ReserveInput, v voucher.Voucher, c *campaign.Campaign, merchant *registry.Merchant,
	hash holder.Hash, now time.Time) (postgres.Redemption, error) {
	out, err := redemption.Check(v, in.Order, redemption.Context{
		Campaign: c, Merchant: merchant, PlatformID: req.PlatformID, Channel: in.Channel, HolderHash: hash, Now: now,
	})
	if err != nil {
		return postgres.Redemption{}, err
	}
	return postgres.Redemption{
		ID: uuid.Must(uuid.NewV7()), PlatformID: req.PlatformID, OrderNo: in.Order.OrderNo, VoucherID: v.ID,
		VoucherCode: v.Code, CampaignID: c.ID, Kind: string(c.Kind), Holder: hash, MerchantID: in.Order.MerchantID,
		AmountFen: in.Order.AmountFen, DiscountFen: out.DiscountFen, MinSpendFen: v.MinSpendFen, Channel: in.Channel,
		Status: "reserved", SerialNumber: out.SerialNumber, Category: out.Category,
		HoldExpiresAt: now.Add(time.Duration(c.HoldMinutes) * time.Minute), CreatedAt: now, UpdatedAt: now,
	}, nil
}

// holdKind is the ledger movement of a reservation: a consumption voucher's
// value, committed at claim, moves to held; a trade-in subsidy is drawn from
// the budget at checkout.
func holdKind(r postgres.Redemption) ledger.Kind {
	if r.Kind == string(campaign.KindTradeIn) {
		return ledger.SubsidyHold
	}
	return ledger.Hold
}
