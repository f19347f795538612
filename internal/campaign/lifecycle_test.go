package campaign

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

// TestTransitionMatrix walks every (status, action) pair: the legal ones
// listed here move, every other one is INVALID_STATE naming the action and
// the current status.
func TestTransitionMatrix(t *testing.T) {
	type move struct {
		from Status
		a    Action
	}
	legal := map[move]Status{
		{StatusDraft, ActionSubmit}:      StatusSubmitted,
		{StatusSubmitted, ActionApprove}: StatusApproved,
		{StatusSubmitted, ActionReject}:  StatusDraft,
		{StatusApproved, ActionActivate}: StatusActive,
		{StatusActive, ActionPause}:      StatusPaused,
		{StatusPaused, ActionResume}:     StatusActive,
		{StatusActive, ActionClose}:      StatusEnded,
		{StatusPaused, ActionClose}:      StatusEnded,
		{StatusDraft, ActionCancel}:      StatusCancelled,
		{StatusSubmitted, ActionCancel}:  StatusCancelled,
		{StatusApproved, ActionCancel}:   StatusCancelled,
	}
	require.Len(t, Statuses, 7)
	require.Len(t, Actions, 8)
	seen := 0
	for _, from := range append(Statuses, "", "archived") {
		for _, a := range append(Actions, "", "delete") {
			to, err := Transition(from, a)
			if want, ok := legal[move{from, a}]; ok {
				seen++
				require.NoError(t, err, "%s --%s-->", from, a)
				require.Equal(t, want, to, "%s --%s-->", from, a)
				continue
			}
			require.Empty(t, to)
			e, ok := apperr.As(err)
			require.True(t, ok, "%s --%s--> must be refused", from, a)
			require.Equal(t, apperr.CodeInvalidState, e.Code)
			require.Equal(t, string(from), e.Extra["current_status"])
			require.Contains(t, e.Message, string(a))
			require.Contains(t, e.Message, string(from))
			require.Equal(t, http.StatusConflict, e.Status())
		}
	}
	require.Equal(t, len(legal), seen)
}

func TestTerminalStatusesHaveNoWayOut(t *testing.T) {
	for _, s := range []Status{StatusEnded, StatusCancelled} {
		for _, a := range Actions {
			_, err := Transition(s, a)
			require.True(t, apperr.Is(err, apperr.CodeInvalidState), "%s --%s-->", s, a)
		}
	}
}

func TestCheckApprover(t *testing.T) {
	require.NoError(t, CheckApprover("alice", "bob"))

	for _, pair := range [][2]string{{"alice", "alice"}, {"", "bob"}, {"alice", ""}, {"", ""}} {
		err := CheckApprover(pair[0], pair[1])
		require.True(t, apperr.Is(err, CodeFourEyesRequired), "%q approving %q", pair[1], pair[0])
		e, _ := apperr.As(err)
		require.Equal(t, http.StatusForbidden, e.Status())
		require.NotEmpty(t, e.Message)
	}
	require.Equal(t, http.StatusForbidden, apperr.Codes()[CodeFourEyesRequired])
}
