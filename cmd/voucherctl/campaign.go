package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/campaign"
)

const campaignGroup = "voucherctl campaign"

// campaignCommands mint their development tokens with the role the contract
// admits for each; reads use auditor, the least a person needs to look.
var campaignCommands = group{name: campaignGroup, commands: map[string]command{
	"create":         {"create a draft campaign from a YAML or JSON file (-f)", runCampaignCreate},
	"list":           {"list campaigns, newest first", runCampaignList},
	"show":           {"show one campaign with its rules", runCampaignShow},
	"submit":         {"submit a draft for approval (draft → submitted)", transition(campaign.ActionSubmit, auth.RoleCampaignManager)},
	"approve":        {"approve a submitted campaign and fund its budget; not by its author", transition(campaign.ActionApprove, auth.RoleApprover)},
	"reject":         {"send a submitted campaign back to draft (--reason)", transition(campaign.ActionReject, auth.RoleApprover)},
	"activate":       {"start an approved campaign now rather than at starts_at", transition(campaign.ActionActivate, auth.RoleCampaignManager)},
	"pause":          {"pause an active campaign", transition(campaign.ActionPause, auth.RoleCampaignManager)},
	"resume":         {"resume a paused campaign", transition(campaign.ActionResume, auth.RoleCampaignManager)},
	"close":          {"end an active or paused campaign now", transition(campaign.ActionClose, auth.RoleCampaignManager)},
	"cancel":         {"cancel a campaign that has not started", transition(campaign.ActionCancel, auth.RoleCampaignManager)},
	"budget":         {"show a campaign's budget breakdown from the ledger", runCampaignBudget},
	"budget-changes": {"list a campaign's budget changes", runBudgetChangeList},
	"budget-change":  {"ask to raise or lower a campaign's budget (--delta-fen, --reason)", runBudgetChangeRequest},
}}

func runCampaignCreate(out io.Writer, args []string) error {
	fs, conn := newFlags(campaignGroup+" create", "-f FILE", auth.RoleCampaignManager)
	file := fs.String("f", "", "the campaign design: a .yaml, .yml or .json file with the CampaignInput fields")
	if _, err := parse(fs, out, args); err != nil {
		return err
	}
	if *file == "" {
		return usageError("-f FILE is required, e.g. -f scripts/examples/shanghai-consumption.yaml")
	}
	body, err := readCampaignFile(*file)
	if err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	raw, err := c.send(http.MethodPost, "/v1/campaigns", nil, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	_, err = render(c, out, raw, func(w io.Writer, cp *campaign.Campaign) {
		showCampaign(w, cp)
		fmt.Fprintf(w, "\nCreated in draft. Next: voucherctl campaign submit %s\n", cp.ID)
	})
	return err
}

func runCampaignList(out io.Writer, args []string) error {
	fs, conn := newFlags(campaignGroup+" list", "", auth.RoleAuditor)
	status := fs.String("status", "", "only campaigns in this status: "+joinStatuses())
	kind := fs.String("kind", "", "only campaigns of this kind: consumption or trade_in")
	limit := fs.Int("limit", 0, "page size, 1..500 (server default 50)")
	cursor := fs.String("cursor", "", "the next page, from the previous page's footer")
	if _, err := parse(fs, out, args); err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	q := query("status", *status, "kind", *kind, "limit", intParam(*limit), "cursor", *cursor)
	raw, err := c.sendJSON(http.MethodGet, "/v1/campaigns", q, nil)
	if err != nil {
		return err
	}
	type page struct {
		Items      []campaign.Campaign `json:"items"`
		NextCursor string              `json:"next_cursor"`
	}
	_, err = render(c, out, raw, func(w io.Writer, p *page) {
		fmt.Fprintln(w, "ID\tSTATUS\tKIND\tSTARTS\tENDS\tBUDGET\tNAME")
		for _, cp := range p.Items {
			loc := cp.Location()
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cp.ID, cp.Status, cp.Kind,
				when(cp.StartsAt.In(loc)), when(cp.EndsAt.In(loc)), yuan(cp.BudgetFen), cp.Name)
		}
		if p.NextCursor != "" {
			fmt.Fprintf(w, "\nMore: add --cursor %s\n", p.NextCursor)
		}
	})
	return err
}

func runCampaignShow(out io.Writer, args []string) error {
	return showOne(out, args, campaignGroup+" show", "ID", auth.RoleAuditor, func(id string) string { return apiPath("v1", "campaigns", id) },
		showCampaign)
}

// transition is the command for one lifecycle action; role is the one the
// contract admits for it.
func transition(action campaign.Action, role auth.Role) func(io.Writer, []string) error {
	return func(out io.Writer, args []string) error {
		fs, conn := newFlags(campaignGroup+" "+string(action), "ID", role)
		reason := fs.String("reason", "", "why (required to reject)")
		pos, err := parse(fs, out, args, "ID")
		if err != nil {
			return err
		}
		c, err := conn.client()
		if err != nil {
			return err
		}
		// Always a body: the input is optional, but {} is valid for every action.
		in := map[string]string{}
		if *reason != "" {
			in["reason"] = *reason
		}
		raw, err := c.sendJSON(http.MethodPost, apiPath("v1", "campaigns", pos[0], string(action)), nil, in)
		if err != nil {
			return err
		}
		_, err = render(c, out, raw, func(w io.Writer, cp *campaign.Campaign) {
			fmt.Fprintf(w, "Campaign %s (%s) is now %s.\n", cp.ID, cp.Name, cp.Status)
		})
		return err
	}
}

// showCampaign prints a campaign's design and bookkeeping; times are in the
// campaign's own time zone, which decides its rounds and validity days.
func showCampaign(w io.Writer, cp *campaign.Campaign) {
	loc := cp.Location()
	fmt.Fprintf(w, "ID:\t%s\n", cp.ID)
	fmt.Fprintf(w, "Name:\t%s\n", cp.Name)
	fmt.Fprintf(w, "Kind:\t%s\n", cp.Kind)
	fmt.Fprintf(w, "Status:\t%s (version %d)\n", cp.Status, cp.Version)
	fmt.Fprintf(w, "Authority:\t%s\n", cp.Authority)
	fmt.Fprintf(w, "Window:\t%s to %s (%s)\n", when(cp.StartsAt.In(loc)), when(cp.EndsAt.In(loc)), cp.TimeZone)
	fmt.Fprintf(w, "Budget:\t%s\n", yuan(cp.BudgetFen))
	fmt.Fprintf(w, "Checkout hold:\t%d minutes\n", cp.HoldMinutes)
	fmt.Fprintf(w, "Created:\t%s by %s\n", when(cp.CreatedAt.In(loc)), cp.CreatedBy)
	fmt.Fprintf(w, "Submitted by:\t%s\n", orDash(cp.SubmittedBy))
	fmt.Fprintf(w, "Approved by:\t%s\n", orDash(cp.ApprovedBy))
	fmt.Fprintf(w, "Updated:\t%s\n", when(cp.UpdatedAt.In(loc)))
	if len(cp.Rules.Tiers) > 0 {
		fmt.Fprintln(w, "\nTiers:")
		fmt.Fprintln(w, "ID\tMIN SPEND\tDISCOUNT\tVALID\tPER ROUND\tPER CAMPAIGN\tNAME")
		for _, t := range cp.Rules.Tiers {
			valid := fmt.Sprintf("%d days after claim", t.ValidityDays)
			if t.ValidUntil != nil {
				valid = "until " + when(t.ValidUntil.In(loc))
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", t.ID, yuan(t.MinSpendFen), yuan(t.DiscountFen),
				valid, t.PerRoundLimit, t.PerCampaignLimit, orDash(t.Name))
		}
	}
	if len(cp.Rules.Categories) > 0 {
		fmt.Fprintln(w, "\nCategories:")
		fmt.Fprintln(w, "CODE\tRATE\tCAP\tMAX PRICE\tPER HOLDER\tRECYCLING PROOF\tVALID\tNAME")
		for _, cat := range cp.Rules.Categories {
			maxPrice := "-"
			if cat.MaxPriceFen > 0 {
				maxPrice = yuan(cat.MaxPriceFen)
			}
			proof := "no"
			if cat.RecyclingProofRequired {
				proof = "required"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%d days\t%s\n", cat.Code, rates(cat), yuan(cat.CapFen),
				maxPrice, cat.PerHolderLimit, proof, cat.ValidityDays, orDash(cat.Name))
		}
	}
	fmt.Fprintln(w, "\nEligibility:")
	for _, line := range eligibility(cp.Rules.Eligibility) {
		fmt.Fprintf(w, "  %s\n", line)
	}
}

// rates is a category's base rate followed by its grade overrides,
// e.g. "15% (grade 1: 20%)".
func rates(cat campaign.Category) string {
	s := percent(cat.RateBP)
	if len(cat.GradeRateBP) == 0 {
		return s
	}
	var grades []string
	for g, bp := range cat.GradeRateBP {
		grades = append(grades, fmt.Sprintf("grade %s: %s", g, percent(bp)))
	}
	slices.Sort(grades)
	return s + " (" + strings.Join(grades, ", ") + ")"
}

// eligibility lists the restrictions in force; an empty list restricts nothing.
func eligibility(e campaign.Eligibility) []string {
	var lines []string
	add := func(label string, values []string) {
		if len(values) > 0 {
			lines = append(lines, label+": "+strings.Join(values, ", "))
		}
	}
	add("platforms", e.Platforms)
	add("payment channels", e.PaymentChannels)
	add("merchant regions", e.MerchantRegionPrefixes)
	add("merchant categories", e.MerchantCategoriesIncluded)
	add("merchant categories excluded", e.MerchantCategoriesExcluded)
	add("merchant channels", e.MerchantChannels)
	var days, hours []string
	for _, d := range e.Weekdays {
		days = append(days, strconv.Itoa(d))
	}
	add("weekdays (1 = Monday)", days)
	for _, h := range e.HourWindows {
		hours = append(hours, h.From+"-"+h.To)
	}
	add("hours", hours)
	add("holder regions", e.HolderRegionPrefixes)
	if len(lines) == 0 {
		lines = append(lines, "any platform, payment channel, merchant, holder and time")
	}
	return append(lines, fmt.Sprintf("vouchers per order: at most %d", e.MaxVouchersPerOrder))
}

func joinStatuses() string {
	s := make([]string, len(campaign.Statuses))
	for i, st := range campaign.Statuses {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}
