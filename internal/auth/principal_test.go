package auth

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPrincipalRoles(t *testing.T) {
	p := Principal{Kind: KindPerson, Subject: "u-1", Roles: []Role{RoleApprover, RoleAuditor}}
	require.True(t, p.Has(RoleApprover))
	require.False(t, p.Has(RoleCampaignManager))
	require.True(t, p.HasAny(RoleCampaignManager, RoleAuditor))
	require.False(t, p.HasAny(RoleCampaignManager, RolePlatform))
	require.False(t, p.HasAny())
	require.False(t, Principal{}.Has(RoleAuditor))
}
