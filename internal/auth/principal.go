// Package auth authenticates the two kinds of callers: people (program
// administrators, approvers, auditors) holding JWTs from the organisation's
// identity provider, and e-commerce platforms signing short-lived JWTs with a
// key they registered. Both end up as a Principal; what a principal may do is
// decided elsewhere.
package auth

import "slices"

// Role is what a principal may act as.
type Role string

const (
	RoleCampaignManager Role = "campaign_manager"
	RoleApprover        Role = "approver"
	RoleAuditor         Role = "auditor"
	RolePlatform        Role = "platform"
)

// personRoles are the roles an identity provider may grant; platform is never
// taken from a person's token.
var personRoles = []Role{RoleCampaignManager, RoleApprover, RoleAuditor}

func isPersonRole(r Role) bool { return slices.Contains(personRoles, r) }

// Principal kinds.
const (
	KindPerson   = "person"
	KindPlatform = "platform"
)

// Principal is an authenticated caller.
type Principal struct {
	Kind       string // KindPerson or KindPlatform
	Subject    string // the person's sub, or the platform id
	Roles      []Role
	PlatformID string // platforms only
	TokenID    string // jti, if the token had one
}

// Has reports whether the principal holds role r.
func (p Principal) Has(r Role) bool { return slices.Contains(p.Roles, r) }

// HasAny reports whether the principal holds at least one of roles.
func (p Principal) HasAny(roles ...Role) bool {
	return slices.ContainsFunc(roles, p.Has)
}
