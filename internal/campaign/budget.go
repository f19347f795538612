package campaign

import (
	"time"

	"github.com/google/uuid"
)

// BudgetChangeStatus is where a budget change stands in its four-eyes review.
type BudgetChangeStatus string

const (
	BudgetChangeSubmitted BudgetChangeStatus = "submitted"
	BudgetChangeApproved  BudgetChangeStatus = "approved"
	BudgetChangeRejected  BudgetChangeStatus = "rejected"
)

// BudgetChange is a requested increase (DeltaFen > 0) or decrease of a funded
// campaign's budget. It moves money only once another person approves it.
type BudgetChange struct {
	ID          uuid.UUID          `json:"id"`
	CampaignID  uuid.UUID          `json:"campaign_id"`
	DeltaFen    int64              `json:"delta_fen"`
	Reason      string             `json:"reason"`
	Status      BudgetChangeStatus `json:"status"`
	RequestedBy string             `json:"requested_by"`
	DecidedBy   string             `json:"decided_by,omitempty"`
	RequestedAt time.Time          `json:"requested_at"`
	DecidedAt   *time.Time         `json:"decided_at,omitempty"`
}

// Funded reports whether the campaign's budget has been booked in the ledger
// (from approval on), which is when budget changes go through review.
func (s Status) Funded() bool {
	return s == StatusApproved || s == StatusActive || s == StatusPaused
}
