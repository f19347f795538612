package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/lottery"
)

const lotteryGroup = "voucherctl lottery"

var lotteryCommands = group{name: lotteryGroup, commands: map[string]command{
	"show":   {"show a campaign's lottery: status, seed commitment, and the seed once drawn", runLotteryShow},
	"verify": {"redo a drawn lottery from its published seed and tickets; fails on the first mismatch", runLotteryVerify},
}}

// lotteryState is the contract's Lottery.
type lotteryState struct {
	CampaignID    string    `json:"campaign_id"`
	Status        string    `json:"status"`
	Algorithm     string    `json:"algorithm"`
	SeedHash      string    `json:"seed_hash"`
	Seed          string    `json:"seed"`
	Winners       int64     `json:"winners"`
	Registrations int64     `json:"registrations"`
	TicketsDigest string    `json:"tickets_digest"`
	DrawnAt       time.Time `json:"drawn_at"`
}

// ticketPage is the contract's largest page of tickets: verify reads them
// all. A variable so that tests can page through a few.
var ticketPage = 10000

func runLotteryShow(out io.Writer, args []string) error {
	return showOne(out, args, lotteryGroup+" show", "CAMPAIGN_ID", auth.RoleAuditor, func(id string) string { return apiPath("v1", "campaigns", id, "lottery") },
		func(w io.Writer, l *lotteryState) {
			showLottery(w, l)
			if l.Status == "drawn" {
				fmt.Fprintf(w, "\nAnyone can check the draw: voucherctl lottery verify %s\n", l.CampaignID)
			}
		})
}

func showLottery(w io.Writer, l *lotteryState) {
	fmt.Fprintf(w, "Campaign:\t%s\n", l.CampaignID)
	fmt.Fprintf(w, "Status:\t%s\n", l.Status)
	fmt.Fprintf(w, "Algorithm:\t%s\n", orDash(l.Algorithm))
	fmt.Fprintf(w, "Registrations:\t%d\n", l.Registrations)
	fmt.Fprintf(w, "Winners:\t%d\n", l.Winners)
	fmt.Fprintf(w, "Seed hash:\t%s\n", orDash(l.SeedHash))
	seed := l.Seed
	if seed == "" && l.SeedHash != "" {
		seed = "(secret until the draw)"
	}
	fmt.Fprintf(w, "Seed:\t%s\n", orDash(seed))
	fmt.Fprintf(w, "Tickets digest:\t%s\n", orDash(l.TicketsDigest))
	fmt.Fprintf(w, "Drawn at:\t%s\n", when(l.DrawnAt))
}

// runLotteryVerify exits non-zero when the published draw does not
// reproduce, so it can run from cron or CI as is.
func runLotteryVerify(out io.Writer, args []string) error {
	fs, conn := newFlags(lotteryGroup+" verify", "CAMPAIGN_ID", auth.RoleAuditor)
	pos, err := parse(fs, out, args, "CAMPAIGN_ID")
	if err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	raw, err := c.sendJSON(http.MethodGet, apiPath("v1", "campaigns", pos[0], "lottery"), nil, nil)
	if err != nil {
		return err
	}
	var l lotteryState
	if err := json.Unmarshal(raw, &l); err != nil {
		return fmt.Errorf("unexpected answer from voucherd: %w", err)
	}
	if l.Status != "drawn" {
		return fmt.Errorf("the lottery is %s, not drawn yet: there is nothing to verify", l.Status)
	}
	tickets, err := c.lotteryTickets(pos[0])
	if err != nil {
		return err
	}
	mismatch := lottery.Verify(lottery.Published{Algorithm: l.Algorithm, SeedHash: l.SeedHash, Seed: l.Seed,
		TicketsDigest: l.TicketsDigest, Winners: l.Winners, Tickets: tickets})
	_, err = render(c, out, raw, func(w io.Writer, l *lotteryState) {
		result := "ok: the seed matches its commitment and the draw reproduces every outcome"
		if mismatch != nil {
			result = "FAILED: " + mismatch.Error()
		}
		fmt.Fprintf(w, "Result:\t%s\n", result)
		fmt.Fprintf(w, "Tickets checked:\t%d\n", len(tickets))
		showLottery(w, l)
	})
	if err != nil {
		return err
	}
	if mismatch != nil {
		return fmt.Errorf("verification failed: %w", mismatch)
	}
	return nil
}

// lotteryTickets reads every page of a drawn lottery's tickets.
func (c *client) lotteryTickets(campaignID string) ([]lottery.TicketOutcome, error) {
	var all []lottery.TicketOutcome
	after := ""
	for {
		raw, err := c.sendJSON(http.MethodGet, apiPath("v1", "campaigns", campaignID, "lottery", "tickets"),
			query("after", after, "limit", strconv.Itoa(ticketPage)), nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Items []struct {
				Ticket string `json:"ticket"`
				Won    *bool  `json:"won"`
			} `json:"items"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("unexpected answer from voucherd: %w", err)
		}
		for _, t := range page.Items {
			if t.Won == nil {
				return nil, fmt.Errorf("ticket %s is listed without its outcome, though the lottery is drawn", t.Ticket)
			}
			all = append(all, lottery.TicketOutcome{Ticket: t.Ticket, Won: *t.Won})
		}
		if len(page.Items) < ticketPage {
			return all, nil
		}
		after = page.Items[len(page.Items)-1].Ticket
	}
}
