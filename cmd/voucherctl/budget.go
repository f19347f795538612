package main

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tongquan/tongquan/internal/auth"
)

var budgetChangeCommands = group{name: "voucherctl budget-change", commands: map[string]command{
	"approve": {"approve a budget change and book it in the ledger; not by its requester", decideBudgetChange("approve")},
	"reject":  {"reject a budget change", decideBudgetChange("reject")},
}}

// budget is the contract's Budget, the ledger's breakdown of the funds (the
// fields the table shows).
type budget struct {
	CampaignID       string `json:"campaign_id"`
	FundedFen        int64  `json:"funded_fen"`
	AvailableFen     int64  `json:"available_fen"`
	AllocatedFen     int64  `json:"allocated_fen"`
	CommittedFen     int64  `json:"committed_fen"`
	HeldFen          int64  `json:"held_fen"`
	PayableFen       int64  `json:"payable_fen"`
	SettledFen       int64  `json:"settled_fen"`
	PendingChangeFen int64  `json:"pending_change_fen"`
}

// budgetChange is the contract's BudgetChange.
type budgetChange struct {
	ID          string    `json:"id"`
	CampaignID  string    `json:"campaign_id"`
	DeltaFen    int64     `json:"delta_fen"`
	Reason      string    `json:"reason"`
	Status      string    `json:"status"`
	RequestedBy string    `json:"requested_by"`
	DecidedBy   string    `json:"decided_by"`
	RequestedAt time.Time `json:"requested_at"`
	DecidedAt   time.Time `json:"decided_at"`
}

func runCampaignBudget(out io.Writer, args []string) error {
	return showOne(out, args, campaignGroup+" budget", "ID", auth.RoleAuditor, func(id string) string { return apiPath("v1", "campaigns", id, "budget") },
		func(w io.Writer, b *budget) {
			fmt.Fprintf(w, "Campaign:\t%s\n", b.CampaignID)
			fmt.Fprintf(w, "Funded:\t%s\n", yuan(b.FundedFen))
			for _, line := range []struct {
				label string
				fen   int64
			}{
				{"available", b.AvailableFen},
				{"allocated", b.AllocatedFen},
				{"committed", b.CommittedFen},
				{"held", b.HeldFen},
				{"payable", b.PayableFen},
				{"settled", b.SettledFen},
			} {
				fmt.Fprintf(w, "  %s:\t%s\n", line.label, yuan(line.fen))
			}
			fmt.Fprintf(w, "Pending changes:\t%s\n", yuan(b.PendingChangeFen))
			// The parts always add up to the funds; say so loudly if they do not.
			if sum := b.AvailableFen + b.AllocatedFen + b.CommittedFen + b.HeldFen + b.PayableFen + b.SettledFen; sum != b.FundedFen {
				fmt.Fprintf(w, "\nWARNING: the parts add up to %s, not the funded amount; run voucherctl audit verify\n", yuan(sum))
			}
		})
}

// budgetChangeList is the answer of GET …/budget-changes.
type budgetChangeList struct {
	Items []budgetChange `json:"items"`
}

func runBudgetChangeList(out io.Writer, args []string) error {
	return showOne(out, args, campaignGroup+" budget-changes", "ID", auth.RoleAuditor,
		func(id string) string { return apiPath("v1", "campaigns", id, "budget-changes") },
		func(w io.Writer, l *budgetChangeList) {
			fmt.Fprintln(w, "ID\tSTATUS\tDELTA\tREQUESTED\tBY\tDECIDED\tBY\tREASON")
			for _, ch := range l.Items {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ch.ID, ch.Status, yuan(ch.DeltaFen),
					when(ch.RequestedAt), ch.RequestedBy, when(ch.DecidedAt), orDash(ch.DecidedBy), ch.Reason)
			}
		})
}

func runBudgetChangeRequest(out io.Writer, args []string) error {
	fs, conn := newFlags(campaignGroup+" budget-change", "ID --delta-fen N --reason R", auth.RoleCampaignManager)
	delta := fs.Int64("delta-fen", 0, "fen to add (positive) or take away (negative); ¥1 = 100 fen")
	reason := fs.String("reason", "", "why, for the approver and the audit log")
	pos, err := parse(fs, out, args, "ID")
	if err != nil {
		return err
	}
	if *delta == 0 || *reason == "" {
		return usageError("--delta-fen (non-zero) and --reason are required, e.g. --delta-fen 100000000 --reason \"second tranche\"")
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	in := map[string]any{"delta_fen": *delta, "reason": *reason}
	raw, err := c.sendJSON(http.MethodPost, apiPath("v1", "campaigns", pos[0], "budget-changes"), nil, in)
	if err != nil {
		return err
	}
	_, err = render(c, out, raw, func(w io.Writer, ch *budgetChange) {
		showBudgetChange(w, ch)
		fmt.Fprintf(w, "\nAwaiting approval by another person: voucherctl budget-change approve %s\n", ch.ID)
	})
	return err
}

// decideBudgetChange is approve or reject of a budget change.
func decideBudgetChange(decision string) func(io.Writer, []string) error {
	return func(out io.Writer, args []string) error {
		fs, conn := newFlags("voucherctl budget-change "+decision, "CHANGE_ID", auth.RoleApprover)
		pos, err := parse(fs, out, args, "CHANGE_ID")
		if err != nil {
			return err
		}
		c, err := conn.client()
		if err != nil {
			return err
		}
		raw, err := c.sendJSON(http.MethodPost, apiPath("v1", "budget-changes", pos[0], decision), nil, nil)
		if err != nil {
			return err
		}
		_, err = render(c, out, raw, showBudgetChange)
		return err
	}
}

func showBudgetChange(w io.Writer, ch *budgetChange) {
	fmt.Fprintf(w, "Change:\t%s\n", ch.ID)
	fmt.Fprintf(w, "Campaign:\t%s\n", ch.CampaignID)
	fmt.Fprintf(w, "Delta:\t%s\n", yuan(ch.DeltaFen))
	fmt.Fprintf(w, "Reason:\t%s\n", ch.Reason)
	fmt.Fprintf(w, "Status:\t%s\n", ch.Status)
	fmt.Fprintf(w, "Requested:\t%s by %s\n", when(ch.RequestedAt), ch.RequestedBy)
	if ch.DecidedBy != "" {
		fmt.Fprintf(w, "Decided:\t%s by %s\n", when(ch.DecidedAt), ch.DecidedBy)
	}
}
