package issuance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/voucher"
)

// Direct grants. The upload parses the list, hashes every ID number and
// COPYs the valid rows, in chunks of consecutive rows, into a staging table
// together with the job's row, all before answering. Background workers then
// claim the chunks, several at once, each chunk committing its vouchers,
// their ledger movements and the job's progress together. A crash loses no
// committed chunk, and any replica resumes the job (ResumeGrants) under a
// lease.

// Statuses of a grant job.
const (
	GrantRunning = "running"
	GrantDone    = "done"
	GrantFailed  = "failed"
)

const (
	// grantChunkRows is the rows of the file one chunk covers: large enough
	// that per-transaction costs (ledger, audit, progress) vanish, small
	// enough that a crash repeats little and progress moves.
	grantChunkRows = 20_000
	// grantWorkers is how many chunks a process grants at once. Inserting
	// vouchers keeps one database core busy (index maintenance), so two
	// workers on a 2-core server grant about twice as fast as one.
	grantWorkers = 2
	// maxGrantRows bounds a file (the HTTP body limit bounds it first).
	maxGrantRows = 10_000_000
	// maxGrantRowErrors is how many row errors a job keeps; it counts them all.
	maxGrantRowErrors = 1000
	// grantLeaseTTL is how long a dead process's job waits for another one.
	// Workers renew the lease before every chunk.
	grantLeaseTTL = time.Minute
	// maxBudgetRaces bounds re-runs of a chunk whose budget was drawn on
	// between the chunk's look at it and its own draw.
	maxBudgetRaces = 3
	// grantActorRole is the role chunks are recorded under: they carry out
	// the upload of a campaign manager, whose subject and request they name.
	grantActorRole = "campaign_manager"
)

// grantSlots bounds the chunks a process grants at once, over all its jobs:
// however many lists are uploaded together, they keep at most grantWorkers
// database cores and connections busy, and leave the rest to claims and
// checkouts.
var grantSlots = make(chan struct{}, grantWorkers)

// grantColumns are the columns of a grant file.
var grantColumns = []string{"id_number", "residence_region"}

// Grant is a grant job with its pace.
type Grant struct {
	postgres.GrantRecord
	RatePerSecond float64 // rows processed per second since the upload began; 0 before any
	ETASeconds    float64 // seconds left at that rate while running; 0 when unknown
}

// CreateGrant stages a list of holders, to be granted one voucher of the
// tier each, and starts the job in the background; GetGrant follows it. The
// file is CSV with the columns id_number and residence_region (see
// newGrantFile). Only a funded campaign that has not ended grants: approved,
// active or paused. Bad rows are counted and reported in the job (the first
// maxGrantRowErrors of them), never fatal. A holder who already has a granted
// voucher of the tier, from an earlier upload or an earlier row, counts as a
// duplicate and gets nothing more. A whole-file problem is VALIDATION_FAILED
// and stores nothing; a read error from r stays in the error's chain, so a
// handler can answer *http.MaxBytesError with 413.
func (s *Service) CreateGrant(ctx context.Context, a issuer.Actor, campaignID uuid.UUID, tierID string, r io.Reader) (Grant, error) {
	return s.createGrant(ctx, a, campaignID, tierID, r, grantChunkRows)
}

// createGrant is CreateGrant staging chunks of chunkRows rows.
func (s *Service) createGrant(ctx context.Context, a issuer.Actor, campaignID uuid.UUID, tierID string, r io.Reader, chunkRows int) (Grant, error) {
	if s.hasher == nil {
		return Grant{}, errors.New("issuance: no holder hash key configured")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	c, err := postgres.GetCampaign(ctx, s.pool, campaignID)
	if err != nil {
		return Grant{}, err
	}
	if _, err := grantable(&c, tierID, now); err != nil {
		return Grant{}, err
	}
	g := postgres.GrantRecord{
		ID: uuid.Must(uuid.NewV7()), CampaignID: c.ID, TierID: tierID, Status: GrantRunning,
		CreatedBy: a.Subject, RequestID: a.RequestID, CreatedAt: now, UpdatedAt: now,
	}
	file, err := newGrantFile(r, g.ID, s.hasher, c.Rules.Eligibility, chunkRows)
	if err != nil {
		return Grant{}, err
	}
	// Not InTx: the file streams through once, so a retry could not replay it.
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := postgres.StageGrantChunks(ctx, tx, file); err != nil {
			return file.cause(err)
		}
		if file.rows == 0 {
			return invalidFile("file", "has no data rows below the header")
		}
		g.RowsTotal, g.Rejected, g.Errors = int64(file.rows), file.rejected, file.errors
		if err := postgres.InsertGrant(ctx, tx, g); err != nil {
			return err
		}
		return auditGrant(ctx, tx, a, "grant.started", g, map[string]any{
			"campaign_id": g.CampaignID, "tier_id": g.TierID, "rows_total": g.RowsTotal, "rejected": g.Rejected,
		})
	})
	if err != nil {
		return Grant{}, err
	}
	s.startGrant(g.ID, newLeaseHolder())
	return s.present(g), nil
}

// GetGrant reads a grant job with its pace.
func (s *Service) GetGrant(ctx context.Context, id uuid.UUID) (Grant, error) {
	g, err := postgres.GetGrant(ctx, s.pool, id)
	if err != nil {
		return Grant{}, err
	}
	return s.present(g), nil
}

// ResumeGrants takes over, in the background, every running grant job whose
// lease is free: the jobs of a process that died or shut down mid-way. Run it
// from the scheduler on every replica; a job runs on one at a time. It
// returns how many jobs it took over. It also deletes what ended jobs left
// staged.
func (s *Service) ResumeGrants(ctx context.Context) (resumed int, err error) {
	if _, err := postgres.DropEndedGrantChunks(ctx, s.pool); err != nil {
		return 0, err
	}
	ids, err := postgres.RunningGrants(ctx, s.pool)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if s.ctx.Err() != nil {
			break
		}
		lease := newLeaseHolder()
		ok, err := postgres.AcquireLease(ctx, s.pool, grantJob(id), lease, grantLeaseTTL)
		if err != nil {
			return resumed, fmt.Errorf("lease of grant %s: %w", id, err)
		}
		if ok {
			s.startGrant(id, lease)
			resumed++
		}
	}
	return resumed, nil
}

// present adds the job's pace, measured from the upload, so a job stalled by
// a crash shows its rate falling and its ETA growing.
func (s *Service) present(g postgres.GrantRecord) Grant {
	out := Grant{GrantRecord: g}
	end := s.now()
	if g.FinishedAt != nil {
		end = *g.FinishedAt
	}
	if secs := end.Sub(g.CreatedAt).Seconds(); secs > 0 && g.RowsDone > 0 {
		out.RatePerSecond = float64(g.RowsDone) / secs
		if g.Status == GrantRunning {
			out.ETASeconds = float64(g.RowsTotal-g.RowsDone) / out.RatePerSecond
		}
	}
	return out
}

// grantable returns the tier to grant, or why the campaign grants none now.
func grantable(c *campaign.Campaign, tierID string, now time.Time) (campaign.Tier, error) {
	t, ok := c.Tier(tierID)
	if !ok {
		return t, apperr.Invalid(apperr.FieldError{Field: "tier_id", Reason: fmt.Sprintf(
			"campaign %s has no tier %q (its tiers: %s)", c.ID, tierID, tierIDs(c))})
	}
	// Funded is exactly the grantable statuses: the budget is booked and the
	// campaign has not ended or been cancelled.
	if !c.Status.Funded() {
		return t, apperr.New(apperr.CodeInvalidState,
			"vouchers are granted only while a campaign is approved, active or paused; it is %s", c.Status).
			With("current_status", string(c.Status))
	}
	if !now.Before(c.EndsAt) {
		return t, apperr.New(apperr.CodeInvalidState, "the campaign ended at %s",
			c.EndsAt.In(c.Location()).Format(time.RFC3339)).With("current_status", string(c.Status))
	}
	return t, nil
}

func tierIDs(c *campaign.Campaign) string {
	if len(c.Rules.Tiers) == 0 {
		return "none: it is a " + string(c.Kind) + " campaign"
	}
	ids := make([]string, len(c.Rules.Tiers))
	for i, t := range c.Rules.Tiers {
		ids[i] = t.ID
	}
	return strings.Join(ids, ", ")
}

// startGrant runs job id in the background until it ends, its lease is lost
// or the service closes.
func (s *Service) startGrant(id uuid.UUID, lease string) {
	if s.ctx.Err() != nil {
		return // closing: the job waits for ResumeGrants
	}
	go s.runGrant(id, lease)
}

func (s *Service) runGrant(id uuid.UUID, lease string) {
	var wg sync.WaitGroup
	for range grantWorkers {
		wg.Go(func() { s.workGrant(id, lease) })
	}
	wg.Wait()
	// Hand the job over at once rather than when the lease expires.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
	defer cancel()
	_ = postgres.ReleaseLease(ctx, s.pool, grantJob(id), lease)
}

// workGrant grants chunks of job id until none is left to claim.
func (s *Service) workGrant(id uuid.UUID, lease string) {
	for {
		ok, err := postgres.AcquireLease(s.ctx, s.pool, grantJob(id), lease, grantLeaseTTL)
		if err == nil && !ok {
			return // another process took the job over
		}
		more := false
		if err == nil {
			more, err = s.grantChunkInSlot(id)
		}
		if err != nil {
			if s.ctx.Err() == nil {
				slog.Error("grant worker stopped; ResumeGrants retries the job", "grant_id", id, "error", err)
			}
			return
		}
		if !more {
			return
		}
	}
}

func (s *Service) grantChunkInSlot(id uuid.UUID) (more bool, err error) {
	select {
	case grantSlots <- struct{}{}:
		defer func() { <-grantSlots }()
		return s.grantChunk(s.ctx, id)
	case <-s.ctx.Done():
		return false, s.ctx.Err()
	}
}

func grantJob(id uuid.UUID) string { return "grant:" + id.String() }

// newLeaseHolder names one run of a job: unique, and telling an operator
// reading job_leases which host runs the job.
func newLeaseHolder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString())
}

// errGrantEnded rolls back a chunk whose job another worker ended meanwhile.
var errGrantEnded = errors.New("the grant job ended while a chunk was processed")

// grantChunk claims and grants one chunk of job id; more is false once no
// chunk is left to claim or the job has ended. A chunk the budget was drawn
// on concurrently is run again on the budget that is left.
func (s *Service) grantChunk(ctx context.Context, id uuid.UUID) (more bool, err error) {
	for attempt := 1; ; attempt++ {
		err = postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			more, err = s.grantChunkTx(ctx, tx, id)
			return err
		})
		if errors.Is(err, errGrantEnded) {
			return true, nil // claim the chunk again, to drop it
		}
		if e, ok := apperr.As(err); !ok || e.Code != ledger.CodeBudgetExhausted || attempt == maxBudgetRaces {
			return more, err
		}
	}
}

// grantChunkTx is one chunk in one transaction: the vouchers, the ledger
// movements of their value, the job's progress and one audit event per chunk
// (not one per voucher: a million-row list would bury the audit log), plus
// one when the job ends.
func (s *Service) grantChunkTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) (more bool, err error) {
	c, ok, err := postgres.ClaimGrantChunk(ctx, tx, id)
	if err != nil || !ok {
		return false, err
	}
	g, err := postgres.GetGrant(ctx, tx, id)
	if err != nil {
		return false, err
	}
	if g.Status != GrantRunning {
		return false, postgres.DropGrantChunk(ctx, tx, c)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	camp, err := postgres.GetCampaign(ctx, tx, g.CampaignID)
	if err != nil {
		return false, err
	}
	tier, err := grantable(&camp, g.TierID, now)
	if e, ok := apperr.As(err); ok {
		// Locked, the count is final: no other chunk of the job commits.
		if g, err = postgres.LockGrant(ctx, tx, id); err != nil {
			return false, err
		}
		return false, endGrant(ctx, tx, g, now, fmt.Sprintf("stopped after granting %d vouchers: %s", g.Granted, e.Message))
	}
	upTo, budgetFen, short, err := affordable(ctx, tx, g, c, tier)
	if err != nil {
		return false, err
	}
	tmpl := voucher.OfTier(&camp, tier, holder.Hash{}, now, voucher.FromGrant, "", nil)
	taken, granted, err := postgres.GrantVouchers(ctx, tx, c, upTo, tmpl)
	if err != nil {
		return false, err
	}
	if granted > 0 {
		if err := commitGrantValue(ctx, tx, g, granted*tier.DiscountFen, now); err != nil {
			return false, err
		}
	}
	g, ok, err = postgres.AddGrantProgress(ctx, tx, id, upTo-c.FirstRow+1, granted, taken-granted, now)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, errGrantEnded
	}
	if upTo >= c.FirstRow {
		err := auditGrant(ctx, tx, grantActor(g), "grant.chunk", g, map[string]any{
			"chunk": c.No, "from_row": c.FirstRow, "to_row": upTo, "granted": granted, "duplicates": taken - granted,
			"committed_fen": granted * tier.DiscountFen,
		})
		if err != nil {
			return false, err
		}
	}
	switch {
	case short:
		return false, endGrant(ctx, tx, g, now, fmt.Sprintf(
			"the budget ran out after granting %d vouchers: %d fen are available and a voucher of tier %s needs %d; "+
				"%d rows were not processed (raise the budget and upload the list again: holders already granted are skipped)",
			g.Granted, budgetFen-granted*tier.DiscountFen, tier.ID, tier.DiscountFen, g.RowsTotal-g.RowsDone))
	case g.RowsDone == g.RowsTotal:
		return false, endGrant(ctx, tx, g, now, "")
	}
	return true, nil
}

// affordable narrows chunk c to the rows the available budget pays for: it
// stops before the first row of the first new holder the budget cannot
// cover (short). budgetFen is the budget it saw.
func affordable(ctx context.Context, tx pgx.Tx, g postgres.GrantRecord, c postgres.GrantChunk, tier campaign.Tier) (upTo, budgetFen int64, short bool, err error) {
	b, err := postgres.Breakdown(ctx, tx, g.CampaignID)
	if err != nil {
		return 0, 0, false, err
	}
	covered := b.Available / tier.DiscountFen
	if covered > c.LastRow-c.FirstRow {
		return c.LastRow, b.Available, false, nil // even if every row were a new holder
	}
	firsts, err := postgres.FirstNewHolders(ctx, tx, g, c, covered+1)
	if err != nil || int64(len(firsts)) <= covered {
		return c.LastRow, b.Available, false, err
	}
	return firsts[covered] - 1, b.Available, true, nil
}

// commitGrantValue books the value of granted vouchers as a release round
// and its claims would: available → allocated → committed, spread over the
// buckets like the funding it draws on.
func commitGrantValue(ctx context.Context, tx pgx.Tx, g postgres.GrantRecord, fen int64, now time.Time) error {
	for _, kind := range []ledger.Kind{ledger.Allocation, ledger.Claim} {
		t := ledger.Transfer{CampaignID: g.CampaignID, Kind: kind, AmountFen: fen, Ref: grantJob(g.ID)}
		for _, part := range t.Spread(postgres.Buckets) {
			if _, err := postgres.PostTransfer(ctx, tx, part, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// endGrant records the job's end, done or failed for the given reason, and
// drops the chunks ended jobs left staged (those other workers hold, they
// drop themselves).
func endGrant(ctx context.Context, tx pgx.Tx, g postgres.GrantRecord, now time.Time, failure string) error {
	g.Status, g.Failure, g.UpdatedAt, g.FinishedAt = GrantDone, failure, now, &now
	if failure != "" {
		g.Status = GrantFailed
	}
	ended, err := postgres.EndGrant(ctx, tx, g)
	if err != nil || !ended {
		return err // another worker ended it first
	}
	if _, err := postgres.DropEndedGrantChunks(ctx, tx); err != nil {
		return err
	}
	return auditGrant(ctx, tx, grantActor(g), "grant."+g.Status, g, map[string]any{
		"rows_total": g.RowsTotal, "rows_done": g.RowsDone, "granted": g.Granted, "duplicates": g.Duplicates,
		"rejected": g.Rejected, "failure": g.Failure,
	})
}

func grantActor(g postgres.GrantRecord) issuer.Actor {
	return issuer.Actor{Subject: g.CreatedBy, Role: grantActorRole, RequestID: g.RequestID}
}

func auditGrant(ctx context.Context, tx pgx.Tx, a issuer.Actor, action string, g postgres.GrantRecord, after map[string]any) error {
	body, err := json.Marshal(after)
	if err != nil {
		return err
	}
	return postgres.AppendEvent(ctx, tx, auditlog.Event{
		At: g.UpdatedAt, Actor: a.Subject, ActorRole: a.Role, Action: action,
		EntityType: "grant", EntityID: g.ID.String(), After: body, RequestID: a.RequestID,
	})
}

// grantFile reads a grant's CSV as a COPY source of chunks: each covers the
// next chunkRows rows of the file and holds its valid rows as arrays (see
// postgres.GrantChunkColumns), each row with the hash of its ID number and a
// new voucher id and code. Bad rows are counted, the first of them kept; a
// row error names the row and the field, never the ID number.
type grantFile struct {
	cr         *csv.Reader
	idCol      int
	regionCol  int
	width      int
	grantID    pgtype.UUID
	hasher     *holder.Hasher
	eligible   campaign.Eligibility
	regionHint string
	chunkRows  int

	rows     int // data rows read
	rejected int64
	errors   []registry.RowError
	chunk    int32
	err      error // what stopped the file, reported through Err

	// The current chunk. COPY encodes a chunk before asking for the next,
	// so they are reused.
	rowNos  []int32
	hashes  [][]byte
	hashBuf []byte // backs hashes; never grows past its capacity
	ids     []pgtype.UUID
	codes   []string
	values  []any
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// newGrantFile reads the header. It names the columns id_number and
// residence_region, in any order and letter case; values are trimmed, and a
// leading UTF-8 byte order mark, as spreadsheet programs write, is skipped.
// Rows count CSV records: the header is row 0, the first data row is row 1.
func newGrantFile(r io.Reader, grantID uuid.UUID, h *holder.Hasher, e campaign.Eligibility, chunkRows int) (*grantFile, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if head, err := br.Peek(len(utf8BOM)); bytes.Equal(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	} else if err != nil && !errors.Is(err, io.EOF) {
		return nil, grantReadError(err)
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, invalidFile("header", "the file is empty; its first line must name the columns "+strings.Join(grantColumns, ","))
	}
	if err != nil {
		return nil, grantReadError(err)
	}
	f := &grantFile{
		cr: cr, width: len(header), idCol: -1, regionCol: -1, grantID: pgtype.UUID{Bytes: grantID, Valid: true},
		hasher: h, eligible: e, regionHint: strings.Join(e.HolderRegionPrefixes, ", "), chunkRows: chunkRows,
		hashBuf: make([]byte, 0, chunkRows*len(holder.Hash{})),
	}
	if err := f.readHeader(header); err != nil {
		return nil, err
	}
	return f, nil
}

// readHeader maps the columns, or reports every problem with the header.
func (f *grantFile) readHeader(header []string) error {
	var problems []apperr.FieldError
	for i, raw := range header {
		name := strings.ToLower(strings.TrimSpace(raw))
		var col *int
		switch name {
		case "id_number":
			col = &f.idCol
		case "residence_region":
			col = &f.regionCol
		}
		switch {
		case col == nil:
			problems = append(problems, apperr.FieldError{Field: "header", Reason: fmt.Sprintf(
				"unknown column %q in column %d; the columns are %s", strings.TrimSpace(raw), i+1, strings.Join(grantColumns, ", "))})
		case *col >= 0:
			problems = append(problems, apperr.FieldError{Field: "header", Reason: fmt.Sprintf(
				"column %q appears twice (columns %d and %d)", name, *col+1, i+1)})
		default:
			*col = i
		}
	}
	for i, col := range []int{f.idCol, f.regionCol} {
		if col < 0 {
			problems = append(problems, apperr.FieldError{Field: "header", Reason: fmt.Sprintf("required column %q is missing", grantColumns[i])})
		}
	}
	if len(problems) > 0 {
		return apperr.Invalid(problems...)
	}
	return nil
}

// Next reads the next chunk's rows, recording the bad ones.
func (f *grantFile) Next() bool {
	if f.err != nil {
		return false
	}
	first := f.rows + 1
	f.rowNos, f.hashes, f.hashBuf, f.ids, f.codes = f.rowNos[:0], f.hashes[:0], f.hashBuf[:0], f.ids[:0], f.codes[:0]
	for f.rows < first-1+f.chunkRows {
		rec, err := f.cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if f.rows++; f.rows > maxGrantRows {
			f.err = invalidFile("file", fmt.Sprintf("has more than %d data rows; split it into several uploads", maxGrantRows))
			return false
		}
		switch {
		case errors.Is(err, csv.ErrFieldCount):
			f.reject(apperr.FieldError{Field: "row", Reason: fmt.Sprintf("has %d values but the header has %d columns", len(rec), f.width)})
		case err != nil:
			f.err = grantReadError(err)
			return false
		default:
			f.add(rec)
		}
	}
	if f.rows < first {
		return false
	}
	f.values = []any{f.grantID, f.chunk, int32(first), int32(f.rows), f.rowNos, f.hashes, f.ids, f.codes}
	f.chunk++
	return true
}

// add stages a row, or records why it is rejected.
func (f *grantFile) add(rec []string) {
	h, problems := f.check(rec)
	if len(problems) > 0 {
		f.reject(problems...)
		return
	}
	f.hashBuf = append(f.hashBuf, h[:]...)
	f.rowNos = append(f.rowNos, int32(f.rows))
	n := len(f.hashBuf)
	f.hashes = append(f.hashes, f.hashBuf[n-len(h):n:n])
	// pgtype.UUID: COPY encodes it as is, where a uuid.UUID would go
	// through its driver.Valuer string and be parsed back.
	f.ids = append(f.ids, pgtype.UUID{Bytes: uuid.Must(uuid.NewV7()), Valid: true})
	f.codes = append(f.codes, voucher.NewCode())
}

// Values are the current row's values, in postgres.GrantRowColumns order.
func (f *grantFile) Values() ([]any, error) { return f.values, nil }

// Err is what stopped the file early, if anything.
func (f *grantFile) Err() error { return f.err }

// cause is the error to report for a failed COPY: the file's own problem
// when it had one, rather than how COPY relayed it.
func (f *grantFile) cause(copyErr error) error {
	if f.err != nil {
		return f.err
	}
	return copyErr
}

// check validates one row and returns its holder's hash, or its problems.
func (f *grantFile) check(rec []string) (holder.Hash, []apperr.FieldError) {
	var problems []apperr.FieldError
	id, err := holder.NormalizeID(rec[f.idCol])
	if err != nil {
		reason := "is not a valid resident ID number"
		if e, ok := apperr.As(err); ok && len(e.Fields) == 1 {
			reason = e.Fields[0].Reason
		}
		problems = append(problems, apperr.FieldError{Field: "id_number", Reason: reason})
	}
	switch region := strings.TrimSpace(rec[f.regionCol]); {
	case len(region) != 6 || strings.Trim(region, "0123456789") != "":
		problems = append(problems, apperr.FieldError{Field: "residence_region",
			Reason: "must be the 6-digit administrative division code (GB/T 2260) of the holder's residence, such as 310115"})
	case !f.eligible.AllowsHolderRegion(region):
		problems = append(problems, apperr.FieldError{Field: "residence_region",
			Reason: "is outside the regions the campaign admits (codes starting " + f.regionHint + ")"})
	}
	if len(problems) > 0 {
		return holder.Hash{}, problems
	}
	return f.hasher.Hash(id), nil
}

func (f *grantFile) reject(problems ...apperr.FieldError) {
	f.rejected++
	if len(f.errors) < maxGrantRowErrors {
		f.errors = append(f.errors, registry.RowError{Row: f.rows, Fields: problems})
	}
}

func invalidFile(field, reason string) error {
	return apperr.Invalid(apperr.FieldError{Field: field, Reason: reason})
}

// grantReadError turns a CSV syntax error into a message about the file, and
// keeps any other read error as the cause.
func grantReadError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return invalidFile("file", fmt.Sprintf("is not valid CSV at line %d, column %d: %v; a value holding quotes must be quoted, with each quote inside doubled (\"\")",
			pe.Line, pe.Column, pe.Err))
	}
	return apperr.Wrap(err, apperr.CodeValidationFailed, "the file could not be read")
}
