// Package clearing holds the settlement use cases: closing each ended day
// into statements per platform, reading them, and marking them paid, which
// moves the platforms' due from payable to settled in the ledger. Each
// statement is issued, and each payment made, in its own transaction with
// its audit event.
package clearing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/settlement"
)

// Service runs the settlement use cases.
type Service struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New returns the settlement use cases; now is the clock.
func New(pool *pgxpool.Pool, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{pool: pool, now: now}
}

// Actor is who acts, as the audit log records it.
type Actor struct {
	Subject   string
	Role      string
	RequestID string
}

// scheduler is the actor of the closing job.
var scheduler = Actor{Subject: "settlement-job", Role: "scheduler"}

// CloseDays issues every statement that can be issued: for each platform, in
// date order, each ended business date with items not yet stated. Safe to
// run twice or concurrently: a platform's statements are issued under a lock
// on it, and an item is stated once. It returns how many it issued.
func (s *Service) CloseDays(ctx context.Context) (int, error) {
	platforms, err := postgres.SettlementPlatforms(ctx, s.pool)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range platforms {
		for {
			issued, err := s.issueNext(ctx, p)
			if err != nil {
				return n, fmt.Errorf("settlement of platform %s: %w", p, err)
			}
			if !issued {
				break
			}
			n++
		}
	}
	return n, nil
}

// issueNext issues a platform's next statement, if any is due.
func (s *Service) issueNext(ctx context.Context, platformID string) (bool, error) {
	issued := false
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		issued = false
		if err := postgres.LockPlatformSettlement(ctx, tx, platformID); err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		last, err := postgres.LastStatementDate(ctx, tx, platformID)
		if err != nil {
			return err
		}
		pending, err := postgres.PendingSettlementItems(ctx, tx, platformID, now, lookBack(last))
		if err != nil {
			return err
		}
		date, items, ok := settlement.Next(pending, last)
		if !ok {
			return nil
		}
		lines, totals := settlement.Lines(items)
		st := settlement.Statement{
			ID: uuid.Must(uuid.NewV7()), PlatformID: platformID, BusinessDate: date, Currency: "CNY",
			Status: settlement.StatusIssued, Totals: totals, IssuedAt: now, Lines: lines,
		}
		if err := postgres.InsertStatement(ctx, tx, st, items); err != nil {
			return err
		}
		issued = true
		return s.audit(ctx, tx, scheduler, "settlement.issued", st, nil)
	})
	return issued, err
}

// pendingWindow is how far before a platform's last statement date the
// closing job still looks for items not yet stated. Statements are issued in
// date order, each gathering every pending item dated on or before its date,
// and an item is dated by the clock of the transaction that wrote it, so an
// item older than its platform's last statement can only be one whose
// transaction committed after that statement was issued: seconds late, never
// days. The window keeps each run reading the recent history instead of all
// of it, with a wide margin for time zones and clock skew.
const pendingWindow = 3 * 24 * time.Hour

// lookBack is where the search for pending items starts: nil (everything)
// before a platform's first statement.
func lookBack(last *time.Time) *time.Time {
	if last == nil {
		return nil
	}
	since := last.Add(-pendingWindow)
	return &since
}

// Query selects statements. A platform caller's PlatformID is its own.
type Query struct {
	PlatformID string
	Status     string
	From, To   *time.Time
}

// Page sizes of statement lists.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Page is one page of statements (without lines), by business date.
type Page struct {
	Items      []settlement.Statement
	NextCursor string
}

func (q Query) filter() postgres.StatementFilter {
	return postgres.StatementFilter{PlatformID: q.PlatformID, Status: q.Status, From: q.From, To: q.To}
}

// List returns a page of statements after cursor.
func (s *Service) List(ctx context.Context, q Query, cursor string, limit int) (Page, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	items, next, err := postgres.ListStatements(ctx, s.pool, q.filter(), cursor, min(limit, MaxLimit))
	return Page{Items: items, NextCursor: next}, err
}

// exportChunk is how many statements' lines are read at once by Export.
const exportChunk = 100

// Export calls fn with every statement of q, lines included, in business
// date order, reading lines a chunk of statements at a time.
func (s *Service) Export(ctx context.Context, q Query, fn func(settlement.Statement) error) error {
	all, _, err := postgres.ListStatements(ctx, s.pool, q.filter(), "", 0)
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(all, exportChunk) {
		ids := make([]uuid.UUID, len(chunk))
		for i, st := range chunk {
			ids[i] = st.ID
		}
		lines, err := postgres.StatementLines(ctx, s.pool, ids)
		if err != nil {
			return err
		}
		for _, st := range chunk {
			st.Lines = lines[st.ID]
			if err := fn(st); err != nil {
				return err
			}
		}
	}
	return nil
}

// Get reads a statement with its lines. A non-empty platformID restricts it
// to that platform's own statements (another's is NOT_FOUND).
func (s *Service) Get(ctx context.Context, id uuid.UUID, platformID string) (settlement.Statement, error) {
	return postgres.GetStatement(ctx, s.pool, id, platformID)
}

// Pay marks an issued statement paid by the transfer named by reference, and
// moves, per campaign, the current payable share of every redemption with an
// item in it from payable to settled (settlement.PayableShare; the rule that
// keeps both accounts non-negative is documented there). A statement is paid
// once: again is STATEMENT_ALREADY_PAID, unless it replays the same
// Idempotency-Key.
func (s *Service) Pay(ctx context.Context, a Actor, key idempotency.Key, id uuid.UUID, reference string, render idempotency.Renderer[settlement.Statement]) (idempotency.Response, error) {
	var resp idempotency.Response
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := postgres.ReserveIdempotencyKey(ctx, tx, key); err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		st, err := postgres.LockStatement(ctx, tx, id)
		if err != nil {
			return err
		}
		if st.Status == settlement.StatusPaid {
			return apperr.New(settlement.CodeStatementAlreadyPaid, "statement %s was paid at %s (reference %s)",
				st.ID, st.PaidAt.Format(time.RFC3339), st.PaymentReference).
				With("paid_at", st.PaidAt.Format(time.RFC3339)).With("payment_reference", st.PaymentReference)
		}
		shares, err := postgres.LockStatementShares(ctx, tx, st.ID)
		if err != nil {
			return err
		}
		var ids []uuid.UUID
		var amounts []int64
		perCampaign := map[uuid.UUID]int64{}
		for _, sh := range shares {
			if fen := settlement.PayableShare(sh.DiscountFen, sh.ClawedBackFen, sh.SettledFen); fen > 0 {
				ids, amounts = append(ids, sh.RedemptionID), append(amounts, fen)
				perCampaign[sh.CampaignID] += fen
			}
		}
		if err := postgres.AddSettled(ctx, tx, ids, amounts); err != nil {
			return err
		}
		campaigns := make([]uuid.UUID, 0, len(perCampaign))
		for c := range perCampaign {
			campaigns = append(campaigns, c)
		}
		slices.SortFunc(campaigns, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		for _, c := range campaigns {
			t := ledger.Transfer{CampaignID: c, Kind: ledger.Settlement, AmountFen: perCampaign[c],
				Ref: "statement:" + st.ID.String(), BucketKey: ledger.KeyOf(st.ID)}
			if _, err := postgres.PostTransfer(ctx, tx, t, now); err != nil {
				return err
			}
		}
		before := st
		st.Status, st.PaidAt, st.PaidBy, st.PaymentReference = settlement.StatusPaid, &now, a.Subject, reference
		if err := postgres.MarkStatementPaid(ctx, tx, st.ID, now, a.Subject, reference); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a, "settlement.paid", st, &before); err != nil {
			return err
		}
		lines, err := postgres.StatementLines(ctx, tx, []uuid.UUID{st.ID})
		if err != nil {
			return err
		}
		st.Lines = lines[st.ID]
		if resp, err = render(st); err != nil {
			return err
		}
		return postgres.CompleteIdempotencyKeys(ctx, tx, []idempotency.Key{key}, []idempotency.Response{resp})
	})
	return resp, err
}

func (s *Service) audit(ctx context.Context, tx pgx.Tx, a Actor, action string, st settlement.Statement, before *settlement.Statement) error {
	e := auditlog.Event{
		At: s.now().UTC(), Actor: a.Subject, ActorRole: a.Role, Action: action,
		EntityType: "settlement_statement", EntityID: st.ID.String(), RequestID: a.RequestID,
	}
	var err error
	if before != nil {
		if e.Before, err = json.Marshal(view(*before)); err != nil {
			return err
		}
	}
	if e.After, err = json.Marshal(view(st)); err != nil {
		return err
	}
	return postgres.AppendEvent(ctx, tx, e)
}

// view is a statement as the audit log records it: its totals, not its lines
// (the lines are immutable rows of their own).
func view(st settlement.Statement) map[string]any {
	t := st.Totals
	return map[string]any{
		"id": st.ID, "platform_id": st.PlatformID, "business_date": st.BusinessDate.Format(time.DateOnly),
		"status": st.Status, "currency": st.Currency, "confirmed_count": t.ConfirmedCount, "discount_fen": t.DiscountFen,
		"refund_count": t.RefundCount, "clawback_fen": t.ClawbackFen, "adjustment_count": t.AdjustmentCount,
		"adjustment_fen": t.AdjustmentFen, "net_fen": t.NetFen, "lines": len(st.Lines), "paid_at": st.PaidAt,
		"paid_by": st.PaidBy, "payment_reference": st.PaymentReference,
	}
}
