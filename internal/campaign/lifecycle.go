package campaign

import (
	"net/http"

	"github.com/tongquan/tongquan/internal/apperr"
)

// CodeFourEyesRequired: the person approving a change is the one who made it.
const CodeFourEyesRequired apperr.Code = "FOUR_EYES_REQUIRED"

func init() {
	apperr.Register(CodeFourEyesRequired, http.StatusForbidden)
}

// Action moves a campaign from one status to another.
type Action string

const (
	ActionSubmit   Action = "submit"   // draft → submitted
	ActionApprove  Action = "approve"  // submitted → approved
	ActionReject   Action = "reject"   // submitted → draft, back to its author
	ActionActivate Action = "activate" // approved → active (the scheduler, at starts_at)
	ActionPause    Action = "pause"    // active → paused
	ActionResume   Action = "resume"   // paused → active
	ActionClose    Action = "close"    // active|paused → ended (also the scheduler, at ends_at)
	ActionCancel   Action = "cancel"   // draft|submitted|approved → cancelled, before anything was claimed
)

// Actions lists every action.
var Actions = []Action{
	ActionSubmit, ActionApprove, ActionReject, ActionActivate,
	ActionPause, ActionResume, ActionClose, ActionCancel,
}

// transitions is the whole state machine: from → action → to.
var transitions = map[Status]map[Action]Status{
	StatusDraft:     {ActionSubmit: StatusSubmitted, ActionCancel: StatusCancelled},
	StatusSubmitted: {ActionApprove: StatusApproved, ActionReject: StatusDraft, ActionCancel: StatusCancelled},
	StatusApproved:  {ActionActivate: StatusActive, ActionCancel: StatusCancelled},
	StatusActive:    {ActionPause: StatusPaused, ActionClose: StatusEnded},
	StatusPaused:    {ActionResume: StatusActive, ActionClose: StatusEnded},
}

// Transition returns the status action a leads to from status from, or an
// INVALID_STATE error carrying the current status.
func Transition(from Status, a Action) (Status, error) {
	if to, ok := transitions[from][a]; ok {
		return to, nil
	}
	return "", apperr.New(apperr.CodeInvalidState, "cannot %s a campaign that is %s", a, from).
		With("current_status", string(from))
}

// CheckApprover enforces four eyes: the approver of a change must be someone
// other than its author. An empty identity fails too, because it cannot be
// shown to be a different person.
func CheckApprover(author, approver string) error {
	if author == "" || approver == "" {
		return apperr.New(CodeFourEyesRequired, "the author and the approver of a change must both be known")
	}
	if author == approver {
		return apperr.New(CodeFourEyesRequired, "%s made this change and cannot approve it too; ask another approver", approver)
	}
	return nil
}
