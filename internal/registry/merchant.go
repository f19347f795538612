package registry

import (
	"regexp"
	"time"

	"github.com/tongquan/tongquan/internal/apperr"
)

// Merchant channels, statuses and sanctions.
const (
	ChannelOnline  = "online"
	ChannelOffline = "offline"

	MerchantActive   = "active"
	MerchantInactive = "inactive"

	SanctionSuspended   = "suspended"
	SanctionBlacklisted = "blacklisted"
	// SanctionNone lifts a sanction; it is never stored.
	SanctionNone = "none"
)

// Merchant is a shop a platform sells for, keyed by (PlatformID, MerchantID).
// The legal entity behind it is its USCC, which sanctions attach to.
type Merchant struct {
	PlatformID string `json:"platform_id"`
	MerchantID string `json:"merchant_id"`
	Name       string `json:"name"`
	USCC       string `json:"uscc"`
	Region     string `json:"region"`
	// Category is matched by exact string against campaign eligibility lists.
	// It is a lower-case slug such as "household_appliances"; the same pattern
	// admits a numeric industry code such as GB/T 4754 "5137", so a city may
	// use either scheme without a second format.
	Category string `json:"category"`
	Channel  string `json:"channel"`
	Status   string `json:"status"`
	// Sanction is "", SanctionSuspended or SanctionBlacklisted: read-only,
	// joined from the administrators' sanction on the USCC.
	Sanction  string    `json:"sanction,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var (
	merchantIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	categoryPattern   = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
)

// Validate checks what a platform supplies. Status is required: callers that
// default it (the CSV import does) fill it in first. PlatformID comes from the
// authenticated platform, and Sanction and the times from the server, so they
// are not checked here.
func (m *Merchant) Validate() []apperr.FieldError {
	var ps problems
	if !merchantIDPattern.MatchString(m.MerchantID) {
		ps.add("merchant_id", "must be 1 to 64 characters: letters, digits, '.', '_', ':' or '-'")
	}
	ps.add("name", textProblem(m.Name, maxNameLength, false))
	ps.add("uscc", usccProblem(m.USCC))
	ps.add("region", regionProblem(m.Region))
	if !categoryPattern.MatchString(m.Category) {
		ps.add("category", "must be 1 to 32 lower-case letters, digits or '_', such as household_appliances or an industry code such as 5137")
	}
	ps.add("channel", oneOfProblem(m.Channel, ChannelOnline, ChannelOffline))
	ps.add("status", oneOfProblem(m.Status, MerchantActive, MerchantInactive))
	return ps
}

// maxReasonLength bounds a sanction's reason.
const maxReasonLength = 500

// Sanction is an administrator's decision on a legal entity: suspended or
// blacklisted merchants are refused at checkout on every platform they sell
// through. Sanction SanctionNone lifts the current one.
type Sanction struct {
	USCC      string    `json:"uscc"`
	Sanction  string    `json:"sanction"`
	Reason    string    `json:"reason"`
	DecidedBy string    `json:"decided_by"`
	DecidedAt time.Time `json:"decided_at"`
}

// Validate checks what the administrator supplies. A reason is required to
// sanction and optional to lift. DecidedBy and DecidedAt come from the
// authenticated administrator and the clock, so they are not checked here.
func (s *Sanction) Validate() []apperr.FieldError {
	var ps problems
	ps.add("uscc", usccProblem(s.USCC))
	ps.add("sanction", oneOfProblem(s.Sanction, SanctionSuspended, SanctionBlacklisted, SanctionNone))
	if s.Sanction != SanctionNone || s.Reason != "" {
		ps.add("reason", textProblem(s.Reason, maxReasonLength, true))
	}
	return ps
}
