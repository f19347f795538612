package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tongquan/tongquan/internal/auth"
)

const auditGroup = "voucherctl audit"

var auditCommands = group{name: auditGroup, commands: map[string]command{
	"verify": {"check the audit chain and the ledger balances; fails on the first fault", runAuditVerify},
	"events": {"list one entity's audit events, oldest first", runAuditEvents},
}}

// verifyReport is the contract's VerifyReport.
type verifyReport struct {
	OK             bool          `json:"ok"`
	AuditBlocks    int           `json:"audit_blocks"`
	AuditEvents    int           `json:"audit_events"`
	UnsealedEvents int           `json:"unsealed_events"`
	FirstFault     *verifyFault  `json:"first_fault"`
	LedgerFaults   []verifyFault `json:"ledger_faults"`
}

type verifyFault struct {
	Kind       string `json:"kind"`
	BlockNo    *int64 `json:"block_no"` // block 0 exists, so absent must differ from 0
	EventID    string `json:"event_id"`
	CampaignID string `json:"campaign_id"`
	Message    string `json:"message"`
}

func (f verifyFault) String() string {
	var where []string
	if f.BlockNo != nil {
		where = append(where, fmt.Sprintf("block %d", *f.BlockNo))
	}
	if f.EventID != "" {
		where = append(where, "event "+f.EventID)
	}
	if f.CampaignID != "" {
		where = append(where, "campaign "+f.CampaignID)
	}
	s := f.Kind
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	return s + ": " + f.Message
}

// runAuditVerify exits non-zero when the record was altered, so it can run
// from cron or CI as is.
func runAuditVerify(out io.Writer, args []string) error {
	fs, conn := newFlags(auditGroup+" verify", "", auth.RoleAuditor)
	if _, err := parse(fs, out, args); err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	raw, err := c.sendJSON(http.MethodGet, "/v1/audit/verify", nil, nil)
	if err != nil {
		return err
	}
	r, err := render(c, out, raw, func(w io.Writer, r *verifyReport) {
		result := "ok: the audit chain and every ledger balance check out"
		if !r.OK {
			result = "FAILED"
		}
		fmt.Fprintf(w, "Result:\t%s\n", result)
		fmt.Fprintf(w, "Audit log:\t%s, %s (%d not sealed yet)\n", count(r.AuditBlocks, "block"), count(r.AuditEvents, "event"), r.UnsealedEvents)
		if r.FirstFault != nil {
			fmt.Fprintf(w, "First fault:\t%s\n", r.FirstFault)
		}
		if len(r.LedgerFaults) > 0 {
			fmt.Fprintln(w, "\nLedger faults:")
			for _, f := range r.LedgerFaults {
				fmt.Fprintf(w, "  %s\n", f)
			}
		}
	})
	switch {
	case err != nil:
		return err
	case r.OK:
		return nil
	case r.FirstFault != nil:
		return fmt.Errorf("verification failed: %s", r.FirstFault)
	default:
		return errors.New("verification failed")
	}
}

// auditEvent is the contract's AuditEvent (the fields the table shows).
type auditEvent struct {
	ID        string          `json:"id"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	ActorRole string          `json:"actor_role"`
	Action    string          `json:"action"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
	RequestID string          `json:"request_id"`
}

// defaultAuditPage is the contract's default limit for audit events.
const defaultAuditPage = 50

func runAuditEvents(out io.Writer, args []string) error {
	fs, conn := newFlags(auditGroup+" events", "--entity-type T --entity-id ID", auth.RoleAuditor)
	entityType := fs.String("entity-type", "", "the kind of entity, e.g. campaign, platform, budget_change")
	entityID := fs.String("entity-id", "", "the entity's id")
	after := fs.String("after", "", "only events after this event id (the previous page's last)")
	limit := fs.Int("limit", 0, fmt.Sprintf("page size, 1..500 (server default %d)", defaultAuditPage))
	if _, err := parse(fs, out, args); err != nil {
		return err
	}
	if *entityType == "" || *entityID == "" {
		return usageError("--entity-type and --entity-id are required, e.g. --entity-type campaign --entity-id ID")
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	q := query("entity_type", *entityType, "entity_id", *entityID, "after", *after, "limit", intParam(*limit))
	raw, err := c.sendJSON(http.MethodGet, "/v1/audit/events", q, nil)
	if err != nil {
		return err
	}
	type list struct {
		Items []auditEvent `json:"items"`
	}
	_, err = render(c, out, raw, func(w io.Writer, l *list) {
		fmt.Fprintln(w, "AT\tACTOR\tROLE\tACTION\tCHANGED\tREQUEST ID\tEVENT ID")
		for _, e := range l.Items {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", when(e.At), e.Actor, e.ActorRole, e.Action,
				changed(e.Before, e.After), orDash(e.RequestID), e.ID)
		}
		// The contract has no next cursor here: a full page may have more.
		page := *limit
		if page == 0 {
			page = defaultAuditPage
		}
		if n := len(l.Items); n == page {
			fmt.Fprintf(w, "\nThere may be more: add --after %s\n", l.Items[n-1].ID)
		}
	})
	return err
}

// changed names the top-level fields an event changed (-o json shows the
// values), or "created" when there was nothing before.
func changed(before, after json.RawMessage) string {
	var b, a map[string]json.RawMessage
	if isAbsent(before) {
		return "created"
	}
	if json.Unmarshal(before, &b) != nil || json.Unmarshal(after, &a) != nil {
		return "-"
	}
	var keys []string
	for k, v := range a {
		if old, ok := b[k]; !ok || !bytes.Equal(old, v) {
			keys = append(keys, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return orDash(strings.Join(keys, ","))
}

func isAbsent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
