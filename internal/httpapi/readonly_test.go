package httpapi

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

// extReadOnly marks an operation that is not a GET but changes nothing (a
// reconciliation posts a file only to compare it).
const extReadOnly = "x-read-only"

// TestAuditorChangesNothing: an auditor's token is refused with 403 by every
// operation that writes. Only GETs and operations marked x-read-only admit
// auditors.
func TestAuditorChangesNothing(t *testing.T) {
	h := newHarness(t, Config{})
	auditor := h.tokenFor(auth.RoleAuditor)
	writes := 0
	for _, o := range operations(t, h.srv.Contract()) {
		roles, public := OperationRoles(o.op)
		readOnly, _ := o.op.Extensions[extReadOnly].(bool)
		if public || o.method == http.MethodGet {
			continue
		}
		if readOnly {
			assert.Equal(t, http.MethodPost, o.method, "%s %s: only a POST of a file to compare may be read-only", o.method, o.path)
			continue
		}
		writes++
		assert.False(t, slices.Contains(roles, auth.RoleAuditor), "%s %s writes and must not admit auditors", o.method, o.path)
		res := h.request(o.method, samplePath(o), auditor, nil)
		assert.Equal(t, http.StatusForbidden, res.Status, "%s %s: %s", o.method, o.path, res.Body)
		assert.Equal(t, "FORBIDDEN", res.errorCode(t), "%s %s", o.method, o.path)
	}
	require.Positive(t, writes)
}
