// Package ledger is the double-entry record of every campaign's budget. Each
// movement of value is a Transfer along a route fixed by its Kind, booked as
// balanced entries in the same transaction as the state change that causes
// it. Per campaign, at every moment:
//
//	available + allocated + committed + held + payable + settled = funded
//
// where funded is minus the treasury's balance, and no account but the
// treasury is ever below zero. Check recomputes all of this from the entries
// alone, so the stored balances can be verified rather than trusted.
//
// Balances are split into buckets so that concurrent claims and redemptions
// do not queue on one hot row; a Transfer's BucketKey picks the bucket and
// storage spills to other buckets when the chosen one runs short.
package ledger

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
)

// CodeBudgetExhausted: the account a transfer draws on lacks the value, across
// all its buckets. Nothing was booked; for a trade-in this means the program
// has run out of funds.
const CodeBudgetExhausted apperr.Code = "BUDGET_EXHAUSTED"

func init() { apperr.Register(CodeBudgetExhausted, http.StatusConflict) }

// Account is one pot of a campaign's value.
type Account string

const (
	// Treasury is the funding source outside the campaign. Its balance is
	// minus what was funded: the only account allowed below zero.
	Treasury Account = "treasury"
	// Available is budget not yet earmarked.
	Available Account = "available"
	// Allocated is value of open release rounds, not yet claimed.
	Allocated Account = "allocated"
	// Committed is value of claimed vouchers not yet used.
	Committed Account = "committed"
	// Held is value reserved at checkout.
	Held Account = "held"
	// Payable is owed to platforms for confirmed redemptions.
	Payable Account = "payable"
	// Settled is paid out.
	Settled Account = "settled"
)

// Accounts lists every account in flow order, treasury first. Storage locks
// balance rows in this order.
func Accounts() []Account {
	return []Account{Treasury, Available, Allocated, Committed, Held, Payable, Settled}
}

// Valid reports whether a is one of Accounts.
func (a Account) Valid() bool {
	switch a {
	case Treasury, Available, Allocated, Committed, Held, Payable, Settled:
		return true
	}
	return false
}

// Kind names a movement of value; each kind has one legal route.
type Kind string

const (
	Funding        Kind = "funding"         // treasury → available
	Defunding      Kind = "defunding"       // available → treasury: an approved budget decrease
	Allocation     Kind = "allocation"      // available → allocated: a round opens
	Deallocation   Kind = "deallocation"    // allocated → available: a round closes, unclaimed stock returns
	Claim          Kind = "claim"           // allocated → committed
	Expiry         Kind = "expiry"          // committed → available: expired or unused value recycles
	Hold           Kind = "hold"            // committed → held: a consumption voucher reserved at checkout
	SubsidyHold    Kind = "subsidy_hold"    // available → held: a trade-in subsidy draws straight on the budget
	Release        Kind = "release"         // held → committed: a consumption hold cancelled or expired
	SubsidyRelease Kind = "subsidy_release" // held → available: a trade-in hold cancelled or expired
	Redemption     Kind = "redemption"      // held → payable: checkout confirmed
	Refund         Kind = "refund"          // payable → committed: the voucher returns to its holder
	Clawback       Kind = "clawback"        // payable → available: refunded value recycles
	Settlement     Kind = "settlement"      // payable → settled: paid to the platform
	// A refund after its redemption was settled: the part of the clawback
	// its remaining payable share cannot cover comes back out of settled
	// (see settlement.SplitClawback), so neither account goes below zero.
	SettledRefund   Kind = "settled_refund"   // settled → committed: the voucher returns to its holder
	SettledClawback Kind = "settled_clawback" // settled → available: refunded value recycles
)

// routes is the one table of legal movements.
var routes = []struct {
	kind     Kind
	from, to Account
}{
	{Funding, Treasury, Available},
	{Defunding, Available, Treasury},
	{Allocation, Available, Allocated},
	{Deallocation, Allocated, Available},
	{Claim, Allocated, Committed},
	{Expiry, Committed, Available},
	{Hold, Committed, Held},
	{SubsidyHold, Available, Held},
	{Release, Held, Committed},
	{SubsidyRelease, Held, Available},
	{Redemption, Held, Payable},
	{Refund, Payable, Committed},
	{Clawback, Payable, Available},
	{Settlement, Payable, Settled},
	{SettledRefund, Settled, Committed},
	{SettledClawback, Settled, Available},
}

// Kinds lists every kind.
func Kinds() []Kind {
	out := make([]Kind, len(routes))
	for i, r := range routes {
		out[i] = r.kind
	}
	return out
}

// Route is the account a kind debits and the one it credits; ok is false for
// an unknown kind.
func Route(k Kind) (from, to Account, ok bool) {
	for _, r := range routes {
		if r.kind == k {
			return r.from, r.to, true
		}
	}
	return "", "", false
}

// maxRefLen bounds Ref: it names a cause, not a document.
const maxRefLen = 200

// Transfer is one movement of value within a campaign.
type Transfer struct {
	CampaignID uuid.UUID
	Kind       Kind
	AmountFen  int64
	// Ref names what caused the transfer, e.g. "round:<id>", "redemption:<id>".
	Ref string
	// BucketKey spreads load over buckets: use KeyOf the holder or voucher, so
	// concurrent transfers of different holders touch different rows.
	BucketKey uint64
}

// Validate reports every bad field of t as VALIDATION_FAILED.
func (t Transfer) Validate() error {
	var fields []apperr.FieldError
	if t.CampaignID == uuid.Nil {
		fields = append(fields, apperr.FieldError{Field: "campaign_id", Reason: "is required"})
	}
	if _, _, ok := Route(t.Kind); !ok {
		fields = append(fields, apperr.FieldError{Field: "kind", Reason: fmt.Sprintf("%q is not a ledger transfer kind", t.Kind)})
	}
	if t.AmountFen <= 0 {
		fields = append(fields, apperr.FieldError{Field: "amount_fen", Reason: fmt.Sprintf("must be positive, got %d", t.AmountFen)})
	}
	if t.Ref == "" || len(t.Ref) > maxRefLen {
		fields = append(fields, apperr.FieldError{Field: "ref", Reason: fmt.Sprintf("must name the cause in 1 to %d bytes", maxRefLen)})
	}
	if len(fields) > 0 {
		return apperr.Invalid(fields...)
	}
	return nil
}

// Spread splits t into up to n transfers of near-equal amounts with bucket
// keys 0 … n-1, dropping empty parts. Funding and round allocations should be
// posted spread over the storage buckets: value booked in one bucket makes
// every later draw from another bucket spill, and spills lock the whole account.
func (t Transfer) Spread(n int) []Transfer {
	if n < 1 {
		n = 1
	}
	share, rest := t.AmountFen/int64(n), t.AmountFen%int64(n)
	out := make([]Transfer, 0, n)
	for i := range n {
		part := t
		part.AmountFen = share
		if int64(i) < rest {
			part.AmountFen++
		}
		part.BucketKey = uint64(i)
		if part.AmountFen > 0 {
			out = append(out, part)
		}
	}
	return out
}

// KeyOf is a BucketKey for an id: a hash, so ids of any version spread evenly.
func KeyOf(id uuid.UUID) uint64 {
	h := fnv.New64a()
	h.Write(id[:])
	return h.Sum64()
}

// Exhausted is the BUDGET_EXHAUSTED error of a transfer that needs needFen
// from an account that holds only haveFen.
func Exhausted(campaignID uuid.UUID, kind Kind, account Account, haveFen, needFen int64) *apperr.Error {
	return apperr.New(CodeBudgetExhausted,
		"campaign %s has %d fen %s, the %s needs %d fen", campaignID, haveFen, account, kind, needFen).
		With("campaign_id", campaignID.String()).
		With("account", string(account)).
		With("balance_fen", haveFen).
		With("needed_fen", needFen)
}

// Entry is one side of a transfer in one bucket. AmountFen is signed:
// positive credits the account, negative debits it.
type Entry struct {
	ID         uuid.UUID `json:"id"`
	TransferID uuid.UUID `json:"transfer_id"`
	CampaignID uuid.UUID `json:"campaign_id"`
	Account    Account   `json:"account"`
	Bucket     int       `json:"bucket"`
	AmountFen  int64     `json:"amount_fen"`
	Kind       Kind      `json:"kind"`
	Ref        string    `json:"ref"`
	At         time.Time `json:"at"`
}

// Breakdown is a campaign's value by account.
type Breakdown struct {
	Funded    int64 `json:"funded_fen"`
	Available int64 `json:"available_fen"`
	Allocated int64 `json:"allocated_fen"`
	Committed int64 `json:"committed_fen"`
	Held      int64 `json:"held_fen"`
	Payable   int64 `json:"payable_fen"`
	Settled   int64 `json:"settled_fen"`
}

// Add books a signed balance change of account a (a treasury debit raises Funded).
func (b *Breakdown) Add(a Account, fen int64) error {
	switch a {
	case Treasury:
		b.Funded -= fen
	case Available:
		b.Available += fen
	case Allocated:
		b.Allocated += fen
	case Committed:
		b.Committed += fen
	case Held:
		b.Held += fen
	case Payable:
		b.Payable += fen
	case Settled:
		b.Settled += fen
	default:
		return fmt.Errorf("unknown ledger account %q", a)
	}
	return nil
}

// Check reports every broken rule: an amount below zero, or accounts that do
// not add up to what was funded.
func (b Breakdown) Check() error {
	var errs []error
	for _, f := range []struct {
		name string
		fen  int64
	}{
		{"funded", b.Funded}, {"available", b.Available}, {"allocated", b.Allocated},
		{"committed", b.Committed}, {"held", b.Held}, {"payable", b.Payable}, {"settled", b.Settled},
	} {
		if f.fen < 0 {
			errs = append(errs, fmt.Errorf("%s is %d fen, below zero", f.name, f.fen))
		}
	}
	if sum := b.Available + b.Allocated + b.Committed + b.Held + b.Payable + b.Settled; sum != b.Funded {
		errs = append(errs, fmt.Errorf("available+allocated+committed+held+payable+settled is %d fen, but %d fen were funded", sum, b.Funded))
	}
	return errors.Join(errs...)
}
