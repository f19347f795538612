package ledger

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// BucketBalance is one stored balance row.
type BucketBalance struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	Account    Account   `json:"account"`
	Bucket     int       `json:"bucket"`
	BalanceFen int64     `json:"balance_fen"`
}

// Fault is one way the ledger is wrong. TransferID (uuid.Nil when none),
// Account ("" when none) and Bucket (nil when none) say where.
type Fault struct {
	CampaignID uuid.UUID `json:"campaign_id"`
	TransferID uuid.UUID `json:"transfer_id,omitzero"`
	Account    Account   `json:"account,omitempty"`
	Bucket     *int      `json:"bucket,omitempty"`
	Message    string    `json:"message"`
}

func (f Fault) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "campaign %s", f.CampaignID)
	if f.TransferID != uuid.Nil {
		fmt.Fprintf(&b, " transfer %s", f.TransferID)
	}
	if f.Account != "" {
		fmt.Fprintf(&b, " %s", f.Account)
	}
	if f.Bucket != nil {
		fmt.Fprintf(&b, " bucket %d", *f.Bucket)
	}
	return b.String() + ": " + f.Message
}

// Check verifies entries against stored balances; see Checker.
func Check(entries []Entry, balances []BucketBalance) []Fault {
	var c Checker
	for _, e := range entries {
		c.Add(e)
	}
	return c.Finish(balances)
}

// Checker verifies a ledger from its entries, fed one at a time in any order,
// so it can stream over millions of them. Memory grows with the number of
// (campaign, account, bucket) rows and of transfers whose entries are not yet
// all seen: a transfer is complete, and forgotten, once its entries sum to zero
// with both a debit and a credit. Its zero value is ready to use.
//
// It checks that every transfer's entries sum to zero and follow its kind's
// route, that the balances recomputed per bucket equal the stored ones, and
// that per campaign the accounts add up to what was funded, none below zero.
type Checker struct {
	open   map[uuid.UUID]*openTransfer
	sums   map[bucketKey]int64
	faults []Fault
}

type bucketKey struct {
	campaign uuid.UUID
	account  Account
	bucket   int
}

type openTransfer struct {
	campaign        uuid.UUID
	kind            Kind
	sum             int64
	debits, credits int
}

// Add feeds one entry.
func (c *Checker) Add(e Entry) {
	if c.open == nil {
		c.open = map[uuid.UUID]*openTransfer{}
		c.sums = map[bucketKey]int64{}
	}
	c.sums[bucketKey{e.CampaignID, e.Account, e.Bucket}] += e.AmountFen

	t := c.open[e.TransferID]
	if t == nil {
		t = &openTransfer{campaign: e.CampaignID, kind: e.Kind}
		c.open[e.TransferID] = t
	}
	fault := func(format string, args ...any) {
		bucket := e.Bucket
		c.faults = append(c.faults, Fault{CampaignID: e.CampaignID, TransferID: e.TransferID, Account: e.Account,
			Bucket: &bucket, Message: fmt.Sprintf("entry %s: ", e.ID) + fmt.Sprintf(format, args...)})
	}
	if e.CampaignID != t.campaign || e.Kind != t.kind {
		fault("is a %s of campaign %s, but its transfer began as a %s of campaign %s", e.Kind, e.CampaignID, t.kind, t.campaign)
	}
	from, to, ok := Route(e.Kind)
	switch {
	case !ok:
		fault("unknown kind %q", e.Kind)
	case e.AmountFen == 0:
		fault("moves 0 fen")
	case e.AmountFen < 0 && e.Account != from:
		fault("debits %s, but a %s debits %s", e.Account, e.Kind, from)
	case e.AmountFen > 0 && e.Account != to:
		fault("credits %s, but a %s credits %s", e.Account, e.Kind, to)
	}

	t.sum += e.AmountFen
	if e.AmountFen < 0 {
		t.debits++
	} else if e.AmountFen > 0 {
		t.credits++
	}
	// A transfer is one credit and its debits, so the running sum reaches zero
	// only once all its entries are in.
	if t.sum == 0 && t.debits > 0 && t.credits > 0 {
		delete(c.open, e.TransferID)
	}
}

// Finish compares what the entries add up to with the stored balances and
// returns every fault found, ordered by campaign.
func (c *Checker) Finish(balances []BucketBalance) []Fault {
	faults := c.faults
	for _, id := range slices.SortedFunc(maps.Keys(c.open), uuidCompare) {
		t := c.open[id]
		faults = append(faults, Fault{CampaignID: t.campaign, TransferID: id,
			Message: fmt.Sprintf("the %s's entries sum to %d fen, not 0: an entry is missing, extra or altered", t.kind, t.sum)})
	}

	stored := make(map[bucketKey]int64, len(balances))
	for _, b := range balances {
		stored[bucketKey{b.CampaignID, b.Account, b.Bucket}] = b.BalanceFen
	}
	keys := map[bucketKey]bool{}
	for k := range stored {
		keys[k] = true
	}
	for k := range c.sums {
		keys[k] = true
	}
	sorted := slices.SortedFunc(maps.Keys(keys), func(a, b bucketKey) int {
		return cmp.Or(uuidCompare(a.campaign, b.campaign), cmp.Compare(accountRank(a.account), accountRank(b.account)),
			strings.Compare(string(a.account), string(b.account)), cmp.Compare(a.bucket, b.bucket))
	})

	// Walk the rows grouped by campaign, then by account.
	for i := 0; i < len(sorted); {
		campaign := sorted[i].campaign
		var fromStored, fromEntries Breakdown
		var campaignFaults []Fault
		for i < len(sorted) && sorted[i].campaign == campaign {
			account := sorted[i].account
			var first *bucketKey
			differing := 0
			for ; i < len(sorted) && sorted[i].campaign == campaign && sorted[i].account == account; i++ {
				k := sorted[i]
				have, ok := stored[k]
				want := c.sums[k]
				if have != want {
					differing++
					if first == nil {
						first = &k
					}
				}
				if account != Treasury && ok && have < 0 {
					bucket := k.bucket
					campaignFaults = append(campaignFaults, Fault{CampaignID: campaign, Account: account, Bucket: &bucket,
						Message: fmt.Sprintf("stored balance is %d fen, below zero", have)})
				}
				// Unknown accounts already faulted as off-route entries.
				_ = fromStored.Add(account, have)
				_ = fromEntries.Add(account, want)
			}
			if first != nil {
				bucket := first.bucket
				msg := fmt.Sprintf("stored balance is %d fen, the entries give %d fen", stored[*first], c.sums[*first])
				if _, ok := stored[*first]; !ok {
					msg = fmt.Sprintf("no stored balance row, the entries give %d fen", c.sums[*first])
				}
				if differing > 1 {
					msg += fmt.Sprintf(" (and %d more buckets of this account differ)", differing-1)
				}
				campaignFaults = append(campaignFaults, Fault{CampaignID: campaign, Account: account, Bucket: &bucket, Message: msg})
			}
		}
		if err := fromStored.Check(); err != nil {
			campaignFaults = append(campaignFaults, Fault{CampaignID: campaign, Message: "stored balances: " + oneLine(err)})
		}
		if err := fromEntries.Check(); err != nil {
			campaignFaults = append(campaignFaults, Fault{CampaignID: campaign, Message: "balances recomputed from the entries: " + oneLine(err)})
		}
		faults = append(faults, campaignFaults...)
	}

	slices.SortStableFunc(faults, func(a, b Fault) int { return uuidCompare(a.CampaignID, b.CampaignID) })
	return faults
}

func accountRank(a Account) int {
	if i := slices.Index(Accounts(), a); i >= 0 {
		return i
	}
	return len(Accounts()) // unknown accounts last
}

func uuidCompare(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) }

// oneLine joins the lines of an errors.Join error.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
