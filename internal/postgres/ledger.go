package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/ledger"
)

// The ledger's storage (migration 00004): one balance row per (campaign,
// account, bucket) and one append-only row per entry.
//
// Lock order. PostTransfer locks the balance rows it touches in one global
// order, account in flow order (ledger.Accounts) then bucket ascending,
// whichever side is debited. "Debit before credit" alone is not enough: a hold
// (committed→held) and a release (held→committed) on the same bucket would
// each hold one row and wait for the other. Within an account a transfer
// locks either its chosen bucket alone or, when that is short, every bucket
// ascending (see drawnConcurrently for how it avoids holding the chosen one first). What
// this cannot order is a transaction that posts several transfers:
// PostgreSQL detects such a deadlock and InTx retries.

// Buckets is how many balance rows each account of a campaign is split into.
// More buckets mean less queuing on the claim and redemption paths and more
// rows to lock when an account runs low and transfers spill.
const Buckets = 16

// BucketOf is the bucket a transfer with BucketKey key draws on and credits.
func BucketOf(key uint64) int16 { return int16(key % Buckets) }

// lockRank orders accounts for locking.
var lockRank = func() map[ledger.Account]int {
	m := map[ledger.Account]int{}
	for i, a := range ledger.Accounts() {
		m[a] = i
	}
	return m
}()

func accountNames() []string {
	var out []string
	for _, a := range ledger.Accounts() {
		out = append(out, string(a))
	}
	return out
}

func notInitialised(campaignID uuid.UUID) error {
	return fmt.Errorf("ledger of campaign %s has no balance rows: call InitLedger when the campaign is created", campaignID)
}

// InitLedger creates every balance row of a campaign at zero. It is
// idempotent: call it when a campaign is created or approved, and again after
// raising Buckets.
func InitLedger(ctx context.Context, q Querier, campaignID uuid.UUID) error {
	_, err := q.Exec(ctx, `
		INSERT INTO ledger_balances (campaign_id, account, bucket, balance_fen)
		SELECT $1, a.account, b.bucket, 0
		FROM unnest($2::text[]) AS a(account) CROSS JOIN generate_series(0, $3 - 1) AS b(bucket)
		ON CONFLICT DO NOTHING`, campaignID, accountNames(), Buckets)
	if IsForeignKeyViolation(err) {
		return apperr.New(apperr.CodeNotFound, "campaign %s does not exist", campaignID)
	}
	if err != nil {
		return fmt.Errorf("create ledger balance rows of campaign %s: %w", campaignID, err)
	}
	return nil
}

// debitPart is what one bucket gives to a transfer.
type debitPart struct {
	bucket int16
	fen    int64
}

// PostTransfer books t in the caller's transaction: it debits the route's
// from-account and credits its to-account in bucket BucketKey mod Buckets (the
// treasury always in bucket 0: only funding debits it, which is not hot), and
// writes the entries, all sharing the returned transfer id.
//
// In the common case, when the chosen bucket of the from-account has enough,
// the debit, the credit and both entries are one statement (see fastTransfer).
// When the chosen bucket is short, the transfer spills: it draws on what the
// chosen bucket has, then on the others in the order chosen+1, …,
// Buckets-1, 0, …, chosen-1, and books one debit entry per bucket it drew
// on. Value is never moved between buckets on its own; the credit always
// goes to the chosen bucket.
//
// When the account as a whole is short it returns BUDGET_EXHAUSTED and has
// written nothing: the caller's transaction is still usable. When a
// concurrent transfer emptied the chosen bucket under it, it returns a
// serialization failure (SQLSTATE 40001), which InTx retries. Any other
// error leaves the transaction in an unknown state: roll it back.
func PostTransfer(ctx context.Context, tx Querier, t ledger.Transfer, at time.Time) (uuid.UUID, error) {
	p, err := newPendingTransfer(t, at)
	if err != nil {
		return uuid.Nil, err
	}
	if p.sql != "" {
		if err := p.scan(tx.QueryRow(ctx, p.sql, p.args)); err != nil {
			return uuid.Nil, err
		}
	}
	return p.Finish(ctx, tx)
}

// pendingTransfer is PostTransfer's state: the one-statement common case
// (fastTransfer), its answer, and what Finish does when it was not enough.
type pendingTransfer struct {
	t                    ledger.Transfer
	at                   time.Time
	from, to             ledger.Account
	chosen, creditBucket int16
	id                   uuid.UUID

	sql  string // the fast path; empty when the treasury is debited
	args pgx.NamedArgs

	// The fast path's answer.
	read     bool  // the answer arrived
	found    bool  // the debited bucket's row exists
	locked   bool  // the credited row, when it ranks first, was found and locked (else always true)
	debited  bool  // the chosen bucket had enough: the transfer is booked
	snapshot int64 // the chosen bucket's balance as of the statement's snapshot
	entries  int64 // entry rows written
}

func newPendingTransfer(t ledger.Transfer, at time.Time) (*pendingTransfer, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	from, to, _ := ledger.Route(t.Kind)
	p := &pendingTransfer{t: t, at: at, from: from, to: to, chosen: BucketOf(t.BucketKey)}
	p.creditBucket = p.chosen
	if to == ledger.Treasury {
		p.creditBucket = 0
	}
	if from == ledger.Treasury {
		return p, nil // funding: not hot, always the two-statement path
	}
	var err error
	if p.id, err = uuid.NewV7(); err != nil {
		return nil, fmt.Errorf("new transfer id: %w", err)
	}
	ids := make([]uuid.UUID, 2)
	for i := range ids {
		if ids[i], err = uuid.NewV7(); err != nil {
			return nil, fmt.Errorf("new entry id: %w", err)
		}
	}
	p.sql = fastTransferCreditLast
	if lockRank[to] < lockRank[from] {
		p.sql = fastTransferCreditFirst
	}
	p.args = pgx.NamedArgs{
		"campaign": t.CampaignID, "from": string(from), "to": string(to), "chosen": p.chosen,
		"credit_bucket": p.creditBucket, "amount": t.AmountFen, "transfer": p.id, "kind": string(t.Kind),
		"ref": t.Ref, "at": at, "ids": ids,
		"accounts": []string{string(from), string(to)},
		"buckets":  []int16{p.chosen, p.creditBucket},
		"amounts":  []int64{-t.AmountFen, t.AmountFen},
	}
	return p, nil
}

// fastTransfer is a whole transfer drawn on one bucket, as one statement.
// Each step runs only once the step before it succeeded (a one-time filter on
// the earlier step's result), so rows are locked in PostTransfer's order:
// with the credited account ranking first its row is locked first (pin),
// then the debited bucket (debit), then the credited one (credit).
//
// The debit is conditional rather than left to the CHECK constraint, because
// a failed statement would abort the caller's transaction. When it does not
// happen nothing is written, and the bucket's balance as of the statement's
// snapshot tells why. Short in the snapshot: the UPDATE skipped the row
// without locking it, and spill may lock the whole account in order. Enough
// in the snapshot: a concurrent transfer took the value while this one
// waited (see drawnConcurrently).
const fastTransfer = `
	debit AS (
		UPDATE ledger_balances SET balance_fen = balance_fen - @amount
		WHERE campaign_id = @campaign AND account = @from AND bucket = @chosen AND balance_fen >= @amount
			AND EXISTS (SELECT FROM pin)
		RETURNING 1
	), credit AS (
		UPDATE ledger_balances SET balance_fen = balance_fen + @amount
		WHERE campaign_id = @campaign AND account = @to AND bucket = @credit_bucket AND EXISTS (SELECT FROM debit)
		RETURNING 1
	), entries AS (
		INSERT INTO ledger_entries (id, transfer_id, campaign_id, account, bucket, amount_fen, kind, ref, created_at)
		SELECT e.id, @transfer, @campaign, e.account, e.bucket, e.amount_fen, @kind, @ref, @at
		FROM unnest(@ids::uuid[], @accounts::text[], @buckets::smallint[], @amounts::bigint[])
			AS e(id, account, bucket, amount_fen)
		WHERE EXISTS (SELECT FROM credit)
		RETURNING 1
	)
	SELECT balance_fen, EXISTS (SELECT FROM pin), EXISTS (SELECT FROM debit), (SELECT count(*) FROM entries)
	FROM ledger_balances WHERE campaign_id = @campaign AND account = @from AND bucket = @chosen`

const (
	fastTransferCreditFirst = `WITH pin AS (
		SELECT FROM ledger_balances
		WHERE campaign_id = @campaign AND account = @to AND bucket = @credit_bucket
		FOR NO KEY UPDATE
	),` + fastTransfer
	// The credited row's existence is checked by the entries count.
	fastTransferCreditLast = `WITH pin AS (SELECT),` + fastTransfer
)

func (p *pendingTransfer) scan(row pgx.Row) error {
	err := row.Scan(&p.snapshot, &p.locked, &p.debited, &p.entries)
	p.read = true
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // found stays false
	}
	if err != nil {
		return fmt.Errorf("transfer %s of campaign %s from %s bucket %d: %w", p.t.Kind, p.t.CampaignID, p.from, p.chosen, err)
	}
	p.found = true
	return nil
}

// Finish completes a transfer whose fast path was sent, in the same
// transaction, and returns its id. Its errors are PostTransfer's.
func (p *pendingTransfer) Finish(ctx context.Context, tx Querier) (uuid.UUID, error) {
	if p.sql == "" {
		parts, err := debitTreasury(ctx, tx, p.t)
		if err != nil {
			return uuid.Nil, err
		}
		return credit(ctx, tx, p.t, parts, p.from, p.to, p.creditBucket, p.at)
	}
	switch {
	case !p.read:
		return uuid.Nil, fmt.Errorf("transfer %s of campaign %s: the batch it was queued on was not sent", p.t.Kind, p.t.CampaignID)
	case !p.found || !p.locked:
		return uuid.Nil, notInitialised(p.t.CampaignID)
	case p.debited && p.entries != 2:
		return uuid.Nil, notInitialised(p.t.CampaignID) // the credited row is missing
	case p.debited:
		return p.id, nil
	case p.snapshot >= p.t.AmountFen:
		return uuid.Nil, drawnConcurrently(p.t, p.from, p.chosen)
	}
	parts, err := spill(ctx, tx, p.t, p.from, p.chosen)
	if err != nil {
		return uuid.Nil, err
	}
	return credit(ctx, tx, p.t, parts, p.from, p.to, p.creditBucket, p.at)
}

// drawnConcurrently is the serialization failure of a transfer whose chosen
// bucket had enough in its snapshot but not once its row was locked: another
// transfer took the value while this one waited. The row stays locked (READ
// COMMITTED locks a row it re-checked), so spilling now, which locks the
// lower buckets, could deadlock: InTx retries instead, and the retry sees the
// bucket short and spills.
func drawnConcurrently(t ledger.Transfer, account ledger.Account, chosen int16) error {
	return lostRace("%s bucket %d of campaign %s was drawn on concurrently; retry the transaction", account, chosen, t.CampaignID)
}

func debitTreasury(ctx context.Context, tx Querier, t ledger.Transfer) ([]debitPart, error) {
	tag, err := tx.Exec(ctx, `
		UPDATE ledger_balances SET balance_fen = balance_fen - $3
		WHERE campaign_id = $1 AND account = $2 AND bucket = 0`, t.CampaignID, ledger.Treasury, t.AmountFen)
	if err != nil {
		return nil, fmt.Errorf("debit treasury of campaign %s: %w", t.CampaignID, err)
	}
	if tag.RowsAffected() != 1 {
		return nil, notInitialised(t.CampaignID)
	}
	return []debitPart{{0, t.AmountFen}}, nil
}

// spill draws t's amount from several buckets of account, trying them in the
// order chosen, chosen+1, …, Buckets-1, 0, …, chosen-1. It locks all of the
// account's buckets, ascending: it runs only when the chosen bucket is short,
// which is when the account is running low and transfers must queue to
// divide what is left exactly.
func spill(ctx context.Context, tx Querier, t ledger.Transfer, account ledger.Account, chosen int16) ([]debitPart, error) {
	balances := make([]int64, Buckets)
	read := func(sql string) (int64, error) {
		rows, err := tx.Query(ctx, sql, t.CampaignID, account, Buckets)
		if err != nil {
			return 0, fmt.Errorf("read %s of campaign %s: %w", account, t.CampaignID, err)
		}
		var total, fen int64
		var bucket int16
		_, err = pgx.ForEachRow(rows, []any{&bucket, &fen}, func() error {
			balances[bucket] = fen
			total += fen
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("read %s of campaign %s: %w", account, t.CampaignID, err)
		}
		return total, nil
	}
	// Look without locking first: once a budget is exhausted, every further
	// request fails here without queuing on the account's rows.
	total, err := read(`
		SELECT bucket, balance_fen FROM ledger_balances
		WHERE campaign_id = $1 AND account = $2 AND bucket < $3`)
	if err == nil && total >= t.AmountFen {
		total, err = read(`
			SELECT bucket, balance_fen FROM ledger_balances
			WHERE campaign_id = $1 AND account = $2 AND bucket < $3
			ORDER BY bucket FOR NO KEY UPDATE`)
	}
	if err != nil {
		return nil, err
	}
	if total < t.AmountFen {
		return nil, ledger.Exhausted(t.CampaignID, t.Kind, account, total, t.AmountFen)
	}

	var parts []debitPart
	var buckets []int16
	var amounts []int64
	need := t.AmountFen
	for i := range int16(Buckets) {
		b := (chosen + i) % Buckets
		if take := min(balances[b], need); take > 0 {
			parts = append(parts, debitPart{b, take})
			buckets, amounts = append(buckets, b), append(amounts, take)
			if need -= take; need == 0 {
				break
			}
		}
	}
	_, err = tx.Exec(ctx, `
		UPDATE ledger_balances AS lb SET balance_fen = lb.balance_fen - d.fen
		FROM unnest($3::smallint[], $4::bigint[]) AS d(bucket, fen)
		WHERE lb.campaign_id = $1 AND lb.account = $2 AND lb.bucket = d.bucket`,
		t.CampaignID, account, buckets, amounts)
	if err != nil {
		return nil, fmt.Errorf("debit %s of campaign %s across buckets %v: %w", account, t.CampaignID, buckets, err)
	}
	return parts, nil
}

// credit books the credit and all of the transfer's entries in one statement,
// so a transfer is never half written.
func credit(ctx context.Context, tx Querier, t ledger.Transfer, parts []debitPart,
	from, to ledger.Account, creditBucket int16, at time.Time) (uuid.UUID, error) {
	transferID, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("new transfer id: %w", err)
	}
	n := len(parts) + 1
	ids, accounts, buckets, amounts := make([]uuid.UUID, n), make([]string, n), make([]int16, n), make([]int64, n)
	for i := range n {
		if ids[i], err = uuid.NewV7(); err != nil {
			return uuid.Nil, fmt.Errorf("new entry id: %w", err)
		}
		if i < len(parts) {
			accounts[i], buckets[i], amounts[i] = string(from), parts[i].bucket, -parts[i].fen
		} else {
			accounts[i], buckets[i], amounts[i] = string(to), creditBucket, t.AmountFen
		}
	}
	tag, err := tx.Exec(ctx, `
		WITH credit AS (
			UPDATE ledger_balances SET balance_fen = balance_fen + @amount
			WHERE campaign_id = @campaign AND account = @to AND bucket = @credit_bucket
			RETURNING 1
		)
		INSERT INTO ledger_entries (id, transfer_id, campaign_id, account, bucket, amount_fen, kind, ref, created_at)
		SELECT e.id, @transfer, @campaign, e.account, e.bucket, e.amount_fen, @kind, @ref, @at
		FROM unnest(@ids::uuid[], @accounts::text[], @buckets::smallint[], @amounts::bigint[])
			AS e(id, account, bucket, amount_fen)
		WHERE EXISTS (SELECT FROM credit)`,
		pgx.NamedArgs{
			"amount": t.AmountFen, "campaign": t.CampaignID, "to": string(to), "credit_bucket": creditBucket,
			"transfer": transferID, "kind": string(t.Kind), "ref": t.Ref, "at": at,
			"ids": ids, "accounts": accounts, "buckets": buckets, "amounts": amounts,
		})
	if err != nil {
		return uuid.Nil, fmt.Errorf("credit %s bucket %d of campaign %s: %w", to, creditBucket, t.CampaignID, err)
	}
	if tag.RowsAffected() != int64(n) {
		return uuid.Nil, notInitialised(t.CampaignID)
	}
	return transferID, nil
}

// Breakdown sums a campaign's balance rows by account. It is one statement,
// so it sees a consistent picture even while transfers are being posted.
func Breakdown(ctx context.Context, q Querier, campaignID uuid.UUID) (ledger.Breakdown, error) {
	rows, err := q.Query(ctx, `
		SELECT account, sum(balance_fen)::bigint FROM ledger_balances
		WHERE campaign_id = $1 GROUP BY account`, campaignID)
	if err != nil {
		return ledger.Breakdown{}, fmt.Errorf("ledger breakdown of campaign %s: %w", campaignID, err)
	}
	var b ledger.Breakdown
	var account ledger.Account
	var fen int64
	tag, err := pgx.ForEachRow(rows, []any{&account, &fen}, func() error { return b.Add(account, fen) })
	if err != nil {
		return ledger.Breakdown{}, fmt.Errorf("ledger breakdown of campaign %s: %w", campaignID, err)
	}
	if tag.RowsAffected() == 0 {
		return ledger.Breakdown{}, apperr.New(apperr.CodeNotFound, "campaign %s has no ledger", campaignID)
	}
	return b, nil
}

// LoadEntries streams the entries of one campaign, or of all when campaignID
// is nil, in id order, stopping at the first error fn returns.
func LoadEntries(ctx context.Context, q Querier, campaignID *uuid.UUID, fn func(ledger.Entry) error) error {
	sql := `SELECT id, transfer_id, campaign_id, account, bucket, amount_fen, kind, ref, created_at FROM ledger_entries`
	var args []any
	if campaignID != nil {
		sql += ` WHERE campaign_id = $1`
		args = append(args, *campaignID)
	}
	rows, err := q.Query(ctx, sql+` ORDER BY id`, args...)
	if err != nil {
		return fmt.Errorf("load ledger entries: %w", err)
	}
	var e ledger.Entry
	_, err = pgx.ForEachRow(rows,
		[]any{&e.ID, &e.TransferID, &e.CampaignID, &e.Account, &e.Bucket, &e.AmountFen, &e.Kind, &e.Ref, &e.At},
		func() error { return fn(e) })
	if err != nil {
		return fmt.Errorf("load ledger entries: %w", err)
	}
	return nil
}

// LoadBalances returns the balance rows of one campaign, or of all when
// campaignID is nil.
func LoadBalances(ctx context.Context, q Querier, campaignID *uuid.UUID) ([]ledger.BucketBalance, error) {
	sql := `SELECT campaign_id, account, bucket, balance_fen FROM ledger_balances`
	var args []any
	if campaignID != nil {
		sql += ` WHERE campaign_id = $1`
		args = append(args, *campaignID)
	}
	rows, err := q.Query(ctx, sql+` ORDER BY campaign_id, account, bucket`, args...)
	if err != nil {
		return nil, fmt.Errorf("load ledger balances: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ledger.BucketBalance, error) {
		var b ledger.BucketBalance
		err := row.Scan(&b.CampaignID, &b.Account, &b.Bucket, &b.BalanceFen)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("load ledger balances: %w", err)
	}
	return out, nil
}

// CheckLedger runs the ledger checker over the stored entries and balances of
// one campaign, or of all when campaignID is nil. Given a pool or connection it
// reads in one REPEATABLE READ, read-only transaction, so transfers posted
// meanwhile cannot show up as faults; given a transaction, that transaction
// must be REPEATABLE READ or stricter for the same guarantee.
func CheckLedger(ctx context.Context, q Querier, campaignID *uuid.UUID) ([]ledger.Fault, error) {
	db, ok := q.(interface {
		BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
	})
	if !ok {
		return checkLedger(ctx, q, campaignID)
	}
	var faults []ledger.Fault
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			faults, err = checkLedger(ctx, tx, campaignID)
			return err
		})
	return faults, err
}

func checkLedger(ctx context.Context, q Querier, campaignID *uuid.UUID) ([]ledger.Fault, error) {
	var c ledger.Checker
	err := LoadEntries(ctx, q, campaignID, func(e ledger.Entry) error {
		c.Add(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	balances, err := LoadBalances(ctx, q, campaignID)
	if err != nil {
		return nil, err
	}
	return c.Finish(balances), nil
}

// BucketAmount is one bucket's part of a spread transfer.
type BucketAmount struct {
	Bucket int16
	Fen    int64
}

// PostSpreadTransfer books t as one transfer that moves each part's Fen from
// the route's from-account to its to-account in the part's own bucket. It is
// for value whose bucket is known, such as the holds of many redemptions
// confirmed together (each hold sits in its redemption's bucket): one
// statement and one transfer id instead of one transfer per redemption.
// t.AmountFen must be the parts' sum; t.BucketKey is not used.
//
// Rows are locked before anything is written, in PostTransfer's order
// (account in flow order, then bucket ascending), so spread and single
// transfers cannot deadlock on each other. When a from-bucket is short, that
// statement writes nothing and the transfer spills, as PostTransfer does: it
// locks every bucket of the from-account, in order, and draws each part's
// shortfall from the others; the credits stay in the parts' buckets. When the
// account as a whole is short it returns BUDGET_EXHAUSTED and has written
// nothing.
func PostSpreadTransfer(ctx context.Context, tx Querier, t ledger.Transfer, parts []BucketAmount, at time.Time) error {
	p, err := newPendingSpread(t, parts, at)
	if err != nil {
		return err
	}
	if err := p.scan(tx.QueryRow(ctx, spreadTransfer, p.args)); err != nil {
		return err
	}
	return p.Finish(ctx, tx)
}

// PendingSpread is a spread transfer queued on a batch by QueueSpreadTransfer.
type PendingSpread struct {
	t        ledger.Transfer
	from, to ledger.Account
	parts    []BucketAmount
	at       time.Time
	args     pgx.NamedArgs // of the statement as last built (setDebits)
	debits   int           // buckets it debits

	read  bool
	seen  bool // every debited bucket had enough in the statement's snapshot; rows were locked
	found bool // every row exists
	// enough: every debited bucket had enough once locked; the transfer is written
	enough  bool
	written int64 // debits + credits + entries
}

// QueueSpreadTransfer queues t on b (see PostSpreadTransfer). The caller sends
// b in its transaction, closes the results, then calls Finish in the same
// transaction. Queue the ledger last: its bucket rows stay locked until
// commit.
func QueueSpreadTransfer(b *pgx.Batch, t ledger.Transfer, parts []BucketAmount, at time.Time) (*PendingSpread, error) {
	p, err := newPendingSpread(t, parts, at)
	if err != nil {
		return nil, err
	}
	b.Queue(spreadTransfer, p.args).QueryRow(p.scan)
	return p, nil
}

func newPendingSpread(t ledger.Transfer, parts []BucketAmount, at time.Time) (*PendingSpread, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	from, to, _ := ledger.Route(t.Kind)
	if from == ledger.Treasury || to == ledger.Treasury {
		return nil, fmt.Errorf("transfer %s of campaign %s: the treasury is never spread", t.Kind, t.CampaignID)
	}
	var sum int64
	seen := map[int16]bool{}
	for _, p := range parts {
		if p.Bucket < 0 || p.Bucket >= Buckets || seen[p.Bucket] || p.Fen <= 0 {
			return nil, fmt.Errorf("transfer %s of campaign %s: bad part %+v", t.Kind, t.CampaignID, p)
		}
		seen[p.Bucket] = true
		sum += p.Fen
	}
	if sum != t.AmountFen || len(parts) == 0 {
		return nil, fmt.Errorf("transfer %s of campaign %s: parts sum to %d, not %d", t.Kind, t.CampaignID, sum, t.AmountFen)
	}
	p := &PendingSpread{t: t, from: from, to: to, parts: parts, at: at}
	return p, p.setDebits(parts)
}

// setDebits builds spreadTransfer's arguments for debits from the
// from-account's buckets and credits to the parts' buckets of the to-account.
func (p *PendingSpread) setDebits(debits []BucketAmount) error {
	transferID, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("new transfer id: %w", err)
	}
	var ids []uuid.UUID
	var accounts []string
	var dBuckets, cBuckets, eBuckets []int16
	var dAmounts, cAmounts, eAmounts []int64
	entry := func(account ledger.Account, bucket int16, fen int64) error {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("new entry id: %w", err)
		}
		ids, accounts = append(ids, id), append(accounts, string(account))
		eBuckets, eAmounts = append(eBuckets, bucket), append(eAmounts, fen)
		return nil
	}
	for _, d := range debits {
		dBuckets, dAmounts = append(dBuckets, d.Bucket), append(dAmounts, d.Fen)
		if err := entry(p.from, d.Bucket, -d.Fen); err != nil {
			return err
		}
	}
	for _, c := range p.parts {
		cBuckets, cAmounts = append(cBuckets, c.Bucket), append(cAmounts, c.Fen)
		if err := entry(p.to, c.Bucket, c.Fen); err != nil {
			return err
		}
	}
	second := p.to // the account locked second
	if lockRank[p.to] < lockRank[p.from] {
		second = p.from
	}
	p.debits = len(debits)
	p.args = pgx.NamedArgs{
		"campaign": p.t.CampaignID, "from": string(p.from), "to": string(p.to), "second": string(second),
		"dbuckets": dBuckets, "damounts": dAmounts, "cbuckets": cBuckets, "camounts": cAmounts,
		"transfer": transferID, "kind": string(p.t.Kind), "ref": p.t.Ref, "at": p.at,
		"ids": ids, "accounts": accounts, "ebuckets": eBuckets, "eamounts": eAmounts,
	}
	return nil
}

func (p *PendingSpread) scan(row pgx.Row) error {
	p.read = true
	if err := row.Scan(&p.seen, &p.found, &p.enough, &p.written); err != nil {
		return fmt.Errorf("transfer %s of campaign %s across %d buckets: %w", p.t.Kind, p.t.CampaignID, len(p.parts), err)
	}
	return nil
}

// Finish completes a spread transfer in the transaction its batch was sent
// in, spilling when a from-bucket was short.
func (p *PendingSpread) Finish(ctx context.Context, tx Querier) error {
	if !p.read {
		return fmt.Errorf("transfer %s of campaign %s: the batch it was queued on was not sent", p.t.Kind, p.t.CampaignID)
	}
	if !p.seen {
		if err := p.spill(ctx, tx); err != nil {
			return err
		}
	}
	switch {
	case !p.found:
		return notInitialised(p.t.CampaignID)
	case !p.enough:
		// Drawn on concurrently between the snapshot and the lock: spilling
		// now, with some rows locked out of order, could deadlock.
		return lostRace("%s of campaign %s was drawn on concurrently; retry the transaction", p.from, p.t.CampaignID)
	case p.written != int64(2*(p.debits+len(p.parts))):
		return fmt.Errorf("transfer %s of campaign %s: %d rows written for %d debits and %d credits",
			p.t.Kind, p.t.CampaignID, p.written, p.debits, len(p.parts))
	}
	return nil
}

// spill locks every bucket of the from-account and the parts' buckets of the
// to-account, in lock order, draws each part first from its own bucket and
// the shortfall from the others in bucket order, and books that.
func (p *PendingSpread) spill(ctx context.Context, tx Querier) error {
	rows, err := tx.Query(ctx, `
		SELECT account, bucket, balance_fen FROM ledger_balances
		WHERE campaign_id = @campaign AND (account = @from OR (account = @to AND bucket = ANY(@cbuckets::smallint[])))
		ORDER BY account = @second, bucket
		FOR NO KEY UPDATE`, p.args)
	if err != nil {
		return fmt.Errorf("lock %s of campaign %s: %w", p.from, p.t.CampaignID, err)
	}
	balances := make([]int64, Buckets)
	var total int64
	var account string
	var bucket int16
	var fen int64
	n := 0
	_, err = pgx.ForEachRow(rows, []any{&account, &bucket, &fen}, func() error {
		n++
		if account == string(p.from) {
			balances[bucket] = fen
			total += fen
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("lock %s of campaign %s: %w", p.from, p.t.CampaignID, err)
	}
	if n != Buckets+len(p.parts) {
		return notInitialised(p.t.CampaignID)
	}
	if total < p.t.AmountFen {
		return ledger.Exhausted(p.t.CampaignID, p.t.Kind, p.from, total, p.t.AmountFen)
	}
	take := make([]int64, Buckets)
	var short int64
	for _, part := range p.parts {
		own := min(balances[part.Bucket], part.Fen)
		take[part.Bucket] += own
		balances[part.Bucket] -= own
		short += part.Fen - own
	}
	for b := range Buckets {
		more := min(balances[b], short)
		take[b] += more
		short -= more
	}
	var debits []BucketAmount
	for b, fen := range take {
		if fen > 0 {
			debits = append(debits, BucketAmount{Bucket: int16(b), Fen: fen})
		}
	}
	if err := p.setDebits(debits); err != nil {
		return err
	}
	return p.scan(tx.QueryRow(ctx, spreadTransfer, p.args))
}

// spreadTransfer is PostSpreadTransfer's one statement. It locks nothing
// when a debited bucket is short in its snapshot, so that the spill can lock
// the whole account in order; otherwise it locks every row in order, and
// writes only if each debited bucket still has its amount.
const spreadTransfer = `
	WITH seen AS (
		SELECT count(*) = cardinality(@dbuckets::smallint[]) AND coalesce(bool_and(lb.balance_fen >= d.fen), false) AS enough
		FROM ledger_balances lb JOIN unnest(@dbuckets::smallint[], @damounts::bigint[]) AS d(bucket, fen) ON lb.bucket = d.bucket
		WHERE lb.campaign_id = @campaign AND lb.account = @from
	), locked AS (
		SELECT account, bucket, balance_fen FROM ledger_balances
		WHERE campaign_id = @campaign AND ((account = @from AND bucket = ANY(@dbuckets::smallint[]))
			OR (account = @to AND bucket = ANY(@cbuckets::smallint[])))
			AND (SELECT enough FROM seen)
		ORDER BY account = @second, bucket
		FOR NO KEY UPDATE
	), ready AS (
		SELECT count(*) FILTER (WHERE l.account = @from) = cardinality(@dbuckets::smallint[])
				AND count(*) FILTER (WHERE l.account = @to) = cardinality(@cbuckets::smallint[]) AS found,
			coalesce(bool_and(l.balance_fen >= d.fen) FILTER (WHERE l.account = @from), false) AS enough
		FROM locked l LEFT JOIN unnest(@dbuckets::smallint[], @damounts::bigint[]) AS d(bucket, fen)
			ON l.account = @from AND l.bucket = d.bucket
	), debit AS (
		UPDATE ledger_balances lb SET balance_fen = lb.balance_fen - d.fen
		FROM unnest(@dbuckets::smallint[], @damounts::bigint[]) AS d(bucket, fen)
		WHERE lb.campaign_id = @campaign AND lb.account = @from AND lb.bucket = d.bucket
			AND (SELECT found AND enough FROM ready)
		RETURNING 1
	), credit AS (
		UPDATE ledger_balances lb SET balance_fen = lb.balance_fen + c.fen
		FROM unnest(@cbuckets::smallint[], @camounts::bigint[]) AS c(bucket, fen)
		WHERE lb.campaign_id = @campaign AND lb.account = @to AND lb.bucket = c.bucket
			AND (SELECT found AND enough FROM ready)
		RETURNING 1
	), entries AS (
		INSERT INTO ledger_entries (id, transfer_id, campaign_id, account, bucket, amount_fen, kind, ref, created_at)
		SELECT e.id, @transfer, @campaign, e.account, e.bucket, e.amount_fen, @kind, @ref, @at
		FROM unnest(@ids::uuid[], @accounts::text[], @ebuckets::smallint[], @eamounts::bigint[])
			AS e(id, account, bucket, amount_fen)
		WHERE (SELECT found AND enough FROM ready)
		RETURNING 1
	)
	SELECT (SELECT enough FROM seen), found, enough,
		(SELECT count(*) FROM debit) + (SELECT count(*) FROM credit) + (SELECT count(*) FROM entries)
	FROM ready`
