package issuer

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
)

// Error codes of the campaign use cases.
const (
	CodeCampaignNotStarted apperr.Code = "CAMPAIGN_NOT_STARTED"
	CodeCampaignOver       apperr.Code = "CAMPAIGN_OVER"
	CodeVersionMismatch    apperr.Code = "VERSION_MISMATCH"
)

func init() {
	apperr.Register(CodeCampaignNotStarted, 409)
	apperr.Register(CodeCampaignOver, 409)
	apperr.Register(CodeVersionMismatch, 409)
}

// RoleScheduler is the actor role of changes the clock makes.
const RoleScheduler = "scheduler"

// CreateCampaign stores a new campaign in draft after validating it.
func (s *Service) CreateCampaign(ctx context.Context, a Actor, c campaign.Campaign) (campaign.Campaign, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	c.ID = uuid.Must(uuid.NewV7())
	c.Status = campaign.StatusDraft
	c.Version = 1
	c.CreatedBy, c.SubmittedBy, c.ApprovedBy = a.Subject, "", ""
	c.CreatedAt, c.UpdatedAt = now, now
	c.Normalize()
	if err := c.ValidateErr(); err != nil {
		return campaign.Campaign{}, err
	}
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := postgres.InsertCampaign(ctx, tx, c); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "campaign.created", c.ID, nil, c)
	})
	return present(c), err
}

// CampaignPatch replaces the given fields of a draft. Version must be the
// version the editor read (optimistic concurrency between two editors).
type CampaignPatch struct {
	Version     int
	Name        *string
	Authority   *string
	TimeZone    *string
	StartsAt    *time.Time
	EndsAt      *time.Time
	BudgetFen   *int64
	HoldMinutes *int
	Rules       *campaign.Rules
}

// UpdateCampaign edits a draft.
func (s *Service) UpdateCampaign(ctx context.Context, a Actor, id uuid.UUID, p CampaignPatch) (campaign.Campaign, error) {
	var out campaign.Campaign
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := postgres.LockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if !c.Status.Editable() {
			return apperr.New(apperr.CodeInvalidState, "a campaign can be edited only in draft; it is %s", c.Status).
				With("current_status", string(c.Status))
		}
		if p.Version != c.Version {
			return apperr.New(CodeVersionMismatch, "the campaign changed since you read it (version %d, you sent %d); read it again", c.Version, p.Version).
				With("current_version", c.Version)
		}
		before := c
		setIf(&c.Name, p.Name)
		setIf(&c.Authority, p.Authority)
		setIf(&c.TimeZone, p.TimeZone)
		setIf(&c.StartsAt, p.StartsAt)
		setIf(&c.EndsAt, p.EndsAt)
		setIf(&c.BudgetFen, p.BudgetFen)
		setIf(&c.HoldMinutes, p.HoldMinutes)
		setIf(&c.Rules, p.Rules)
		c.Normalize()
		if err := c.ValidateErr(); err != nil {
			return err
		}
		c.Version++
		c.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		if err := postgres.UpdateCampaign(ctx, tx, c); err != nil {
			return err
		}
		out = c
		return s.audit(ctx, tx, a, "campaign.updated", c.ID, before, c)
	})
	return present(out), err
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// GetCampaign reads one campaign.
func (s *Service) GetCampaign(ctx context.Context, id uuid.UUID) (campaign.Campaign, error) {
	c, err := postgres.GetCampaign(ctx, s.pool, id)
	return present(c), err
}

// CampaignForPlatform reads a campaign a platform may see: live or ended, and
// open to that platform. Anything else is NOT_FOUND, not FORBIDDEN, so
// platforms learn nothing about drafts.
func (s *Service) CampaignForPlatform(ctx context.Context, id uuid.UUID, platformID string) (campaign.Campaign, error) {
	c, err := postgres.GetCampaign(ctx, s.pool, id)
	if err != nil {
		return c, err
	}
	if !visibleToPlatforms(c.Status) || !c.Rules.Eligibility.AllowsPlatform(platformID) {
		return campaign.Campaign{}, apperr.New(apperr.CodeNotFound, "no campaign %s", id)
	}
	return present(c), nil
}

var platformStatuses = []campaign.Status{campaign.StatusActive, campaign.StatusPaused, campaign.StatusEnded}

func visibleToPlatforms(s campaign.Status) bool {
	for _, v := range platformStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// ListCampaigns pages through campaigns; a platform sees only those it may.
func (s *Service) ListCampaigns(ctx context.Context, f postgres.CampaignFilter, platformID string) ([]campaign.Campaign, string, error) {
	if platformID != "" {
		f.Platform = platformID
		f.Statuses = platformStatuses
	}
	cs, next, err := postgres.ListCampaigns(ctx, s.pool, f)
	for i := range cs {
		cs[i] = present(cs[i])
	}
	return cs, next, err
}

// Transition moves a campaign through its lifecycle. Approving funds the
// budget in the ledger; cancelling a funded campaign returns its funds.
func (s *Service) Transition(ctx context.Context, a Actor, id uuid.UUID, action campaign.Action, reason string) (campaign.Campaign, error) {
	var out campaign.Campaign
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := postgres.LockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		out, err = s.transition(ctx, tx, a, c, action, reason)
		return err
	})
	return present(out), err
}

func (s *Service) transition(ctx context.Context, tx pgx.Tx, a Actor, c campaign.Campaign, action campaign.Action, reason string) (campaign.Campaign, error) {
	next, err := campaign.Transition(c.Status, action)
	if err != nil {
		return c, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	before := c
	switch action {
	case campaign.ActionSubmit:
		c.SubmittedBy = a.Subject
	case campaign.ActionApprove:
		// Four eyes: neither the author nor the person who submitted it.
		if err := campaign.CheckApprover(c.CreatedBy, a.Subject); err != nil {
			return c, err
		}
		if err := campaign.CheckApprover(c.SubmittedBy, a.Subject); err != nil {
			return c, err
		}
		c.ApprovedBy = a.Subject
		if err := s.fund(ctx, tx, c.ID, c.BudgetFen, "campaign:"+c.ID.String(), now); err != nil {
			return c, err
		}
	case campaign.ActionReject:
		if reason == "" {
			return c, apperr.Invalid(apperr.FieldError{Field: "reason", Reason: "is required to reject, so the author knows what to fix"})
		}
		if err := campaign.CheckApprover(c.CreatedBy, a.Subject); err != nil {
			return c, err
		}
		c.SubmittedBy = ""
	case campaign.ActionActivate:
		if now.Before(c.StartsAt) {
			return c, apperr.New(CodeCampaignNotStarted, "the campaign starts at %s", c.StartsAt.In(c.Location()).Format(time.RFC3339))
		}
		if !now.Before(c.EndsAt) {
			return c, apperr.New(CodeCampaignOver, "the campaign ended at %s", c.EndsAt.In(c.Location()).Format(time.RFC3339))
		}
	case campaign.ActionResume:
		if !now.Before(c.EndsAt) {
			return c, apperr.New(CodeCampaignOver, "the campaign ended at %s", c.EndsAt.In(c.Location()).Format(time.RFC3339))
		}
	case campaign.ActionCancel:
		if c.Status.Funded() {
			if err := s.defundAll(ctx, tx, c.ID, now); err != nil {
				return c, err
			}
		}
	}
	c.Status = next
	c.Version++
	c.UpdatedAt = now
	if err := postgres.UpdateCampaign(ctx, tx, c); err != nil {
		return c, err
	}
	var detail any = c
	if reason != "" {
		detail = struct {
			campaign.Campaign
			Reason string `json:"reason"`
		}{c, reason}
	}
	return c, s.audit(ctx, tx, a, "campaign."+string(action), c.ID, before, detail)
}

// fund books amount from the treasury into the campaign's available budget,
// spread over the ledger buckets so later draws start out evenly spread.
func (s *Service) fund(ctx context.Context, tx pgx.Tx, id uuid.UUID, amount int64, ref string, at time.Time) error {
	if err := postgres.InitLedger(ctx, tx, id); err != nil {
		return err
	}
	t := ledger.Transfer{CampaignID: id, Kind: ledger.Funding, AmountFen: amount, Ref: ref}
	for _, part := range t.Spread(postgres.Buckets) {
		if _, err := postgres.PostTransfer(ctx, tx, part, at); err != nil {
			return err
		}
	}
	return nil
}

// defundAll returns everything still available to the treasury.
func (s *Service) defundAll(ctx context.Context, tx pgx.Tx, id uuid.UUID, at time.Time) error {
	b, err := postgres.Breakdown(ctx, tx, id)
	if err != nil || b.Available == 0 {
		return err
	}
	t := ledger.Transfer{CampaignID: id, Kind: ledger.Defunding, AmountFen: b.Available, Ref: "campaign:" + id.String()}
	_, err = postgres.PostTransfer(ctx, tx, t, at)
	return err
}

// Tick applies the transitions the clock has made due: approved campaigns
// whose start has come become active; live ones past their end close. Safe to
// run any number of times, on any number of replicas at once: each campaign is
// re-checked under its row lock.
func (s *Service) Tick(ctx context.Context) (int, error) {
	now := s.now()
	ids, err := postgres.DueCampaigns(ctx, s.pool, now)
	if err != nil {
		return 0, err
	}
	done := 0
	a := Actor{Subject: "scheduler", Role: RoleScheduler}
	for _, id := range ids {
		err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			c, err := postgres.LockCampaign(ctx, tx, id)
			if err != nil {
				return err
			}
			action, due := c.DueAction(now)
			if !due {
				return nil // another replica got there first
			}
			_, err = s.transition(ctx, tx, a, c, action, "")
			if err == nil {
				done++
			}
			return err
		})
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// Budget is a campaign's budget breakdown from the ledger.
type Budget struct {
	CampaignID       uuid.UUID
	Currency         string
	Breakdown        ledger.Breakdown
	PendingChangeFen int64
}

// GetBudget reads the breakdown; a campaign not yet funded shows zeros.
func (s *Service) GetBudget(ctx context.Context, id uuid.UUID) (Budget, error) {
	c, err := postgres.GetCampaign(ctx, s.pool, id)
	if err != nil {
		return Budget{}, err
	}
	b, err := postgres.Breakdown(ctx, s.pool, id)
	if err != nil {
		return Budget{}, err
	}
	pending, err := postgres.PendingBudgetDelta(ctx, s.pool, id)
	return Budget{CampaignID: id, Currency: c.Currency, Breakdown: b, PendingChangeFen: pending}, err
}

// RequestBudgetChange asks for a budget increase or decrease of a funded campaign.
func (s *Service) RequestBudgetChange(ctx context.Context, a Actor, id uuid.UUID, delta int64, reason string) (campaign.BudgetChange, error) {
	if delta == 0 {
		return campaign.BudgetChange{}, apperr.Invalid(apperr.FieldError{Field: "delta_fen", Reason: "must not be 0"})
	}
	b := campaign.BudgetChange{
		ID: uuid.Must(uuid.NewV7()), CampaignID: id, DeltaFen: delta, Reason: reason,
		Status: campaign.BudgetChangeSubmitted, RequestedBy: a.Subject, RequestedAt: s.now().UTC().Truncate(time.Microsecond),
	}
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := postgres.LockCampaign(ctx, tx, id)
		if err != nil {
			return err
		}
		if !c.Status.Funded() {
			return apperr.New(apperr.CodeInvalidState,
				"budget changes go through review once a campaign is approved; it is %s (edit budget_fen of a draft directly)", c.Status).
				With("current_status", string(c.Status))
		}
		if c.BudgetFen+delta <= 0 || c.BudgetFen+delta > campaign.MaxBudgetFen {
			return apperr.Invalid(apperr.FieldError{Field: "delta_fen", Reason: "would take the budget out of range (0, 10^13] fen"})
		}
		if err := postgres.InsertBudgetChange(ctx, tx, b); err != nil {
			return err
		}
		return s.auditEntity(ctx, tx, a, "budget_change.requested", "budget_change", b.ID.String(), nil, b)
	})
	return b, err
}

// DecideBudgetChange approves (and books) or rejects a budget change.
func (s *Service) DecideBudgetChange(ctx context.Context, a Actor, changeID uuid.UUID, approve bool) (campaign.BudgetChange, error) {
	var out campaign.BudgetChange
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		// Lock order: campaign before its budget change.
		peek, err := postgres.GetBudgetChange(ctx, tx, changeID)
		if err != nil {
			return err
		}
		c, err := postgres.LockCampaign(ctx, tx, peek.CampaignID)
		if err != nil {
			return err
		}
		b, err := postgres.LockBudgetChange(ctx, tx, changeID)
		if err != nil {
			return err
		}
		if b.Status != campaign.BudgetChangeSubmitted {
			return apperr.New(apperr.CodeInvalidState, "the budget change was already %s", b.Status).With("current_status", string(b.Status))
		}
		if err := campaign.CheckApprover(b.RequestedBy, a.Subject); err != nil {
			return err
		}
		before := b
		now := s.now().UTC().Truncate(time.Microsecond)
		b.Status, b.DecidedBy, b.DecidedAt = campaign.BudgetChangeRejected, a.Subject, &now
		if approve {
			if !c.Status.Funded() {
				return apperr.New(apperr.CodeInvalidState, "the campaign is %s; its budget can no longer change", c.Status).
					With("current_status", string(c.Status))
			}
			b.Status = campaign.BudgetChangeApproved
			if err := s.book(ctx, tx, c, b, now); err != nil {
				return err
			}
		}
		if err := postgres.DecideBudgetChange(ctx, tx, b); err != nil {
			return err
		}
		out = b
		return s.auditEntity(ctx, tx, a, "budget_change."+string(b.Status), "budget_change", b.ID.String(), before, b)
	})
	return out, err
}

// book moves an approved budget change through the ledger and the campaign.
func (s *Service) book(ctx context.Context, tx pgx.Tx, c campaign.Campaign, b campaign.BudgetChange, now time.Time) error {
	ref := "budget_change:" + b.ID.String()
	if b.DeltaFen > 0 {
		if err := s.fund(ctx, tx, c.ID, b.DeltaFen, ref, now); err != nil {
			return err
		}
	} else {
		t := ledger.Transfer{CampaignID: c.ID, Kind: ledger.Defunding, AmountFen: -b.DeltaFen, Ref: ref}
		if _, err := postgres.PostTransfer(ctx, tx, t, now); err != nil {
			if apperr.Is(err, ledger.CodeBudgetExhausted) {
				return apperr.New(ledger.CodeBudgetExhausted,
					"only the available budget can be taken back, and it is less than %d fen", -b.DeltaFen)
			}
			return err
		}
	}
	before := c
	c.BudgetFen += b.DeltaFen
	c.Version++
	c.UpdatedAt = now
	if err := postgres.UpdateCampaign(ctx, tx, c); err != nil {
		return err
	}
	return s.audit(ctx, tx, Actor{Subject: b.DecidedBy, Role: "approver"}, "campaign.budget_changed", c.ID, before, c)
}

// ListBudgetChanges lists a campaign's budget changes.
func (s *Service) ListBudgetChanges(ctx context.Context, id uuid.UUID) ([]campaign.BudgetChange, error) {
	if _, err := postgres.GetCampaign(ctx, s.pool, id); err != nil {
		return nil, err
	}
	return postgres.ListBudgetChanges(ctx, s.pool, id)
}

// present shows a campaign's times in its own time zone.
func present(c campaign.Campaign) campaign.Campaign {
	if c.ID == uuid.Nil {
		return c
	}
	loc := c.Location()
	c.StartsAt, c.EndsAt = c.StartsAt.In(loc), c.EndsAt.In(loc)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.In(loc), c.UpdatedAt.In(loc)
	return c
}

func (s *Service) audit(ctx context.Context, tx pgx.Tx, a Actor, action string, id uuid.UUID, before, after any) error {
	return s.auditEntity(ctx, tx, a, action, "campaign", id.String(), before, after)
}

// auditEntity writes the audit event of a change in the change's transaction.
func (s *Service) auditEntity(ctx context.Context, tx pgx.Tx, a Actor, action, entityType, entityID string, before, after any) error {
	e := auditlog.Event{
		At: s.now().UTC(), Actor: a.Subject, ActorRole: a.Role, Action: action,
		EntityType: entityType, EntityID: entityID, RequestID: a.RequestID,
	}
	var err error
	if e.Before, err = marshalOrNil(before); err != nil {
		return err
	}
	if e.After, err = marshalOrNil(after); err != nil {
		return err
	}
	return postgres.AppendEvent(ctx, tx, e)
}

func marshalOrNil(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}
