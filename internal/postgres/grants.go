package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/voucher"
)

// The storage of direct grants (migration 00009): one row per job in grants,
// and the job's valid rows staged in grant_chunks until a worker grants them.

// GrantRecord is a grant job as stored.
type GrantRecord struct {
	ID         uuid.UUID
	CampaignID uuid.UUID
	TierID     string
	Status     string // running, done or failed
	RowsTotal  int64
	RowsDone   int64 // rows of the chunks processed, rejected ones included
	Granted    int64
	Duplicates int64
	Rejected   int64
	Errors     []registry.RowError // the first row errors
	Failure    string
	CreatedBy  string
	RequestID  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
}

const grantColumns = `id, campaign_id, tier_id, status, rows_total, rows_done, granted, duplicates, rejected,
	errors, coalesce(failure, ''), created_by, request_id, created_at, updated_at, finished_at`

func scanGrant(row pgx.Row) (GrantRecord, error) {
	var g GrantRecord
	var errs []byte
	err := row.Scan(&g.ID, &g.CampaignID, &g.TierID, &g.Status, &g.RowsTotal, &g.RowsDone, &g.Granted,
		&g.Duplicates, &g.Rejected, &errs, &g.Failure, &g.CreatedBy, &g.RequestID, &g.CreatedAt, &g.UpdatedAt,
		&g.FinishedAt)
	if err != nil {
		return g, err
	}
	if err := json.Unmarshal(errs, &g.Errors); err != nil {
		return g, fmt.Errorf("grant %s: stored row errors do not decode: %w", g.ID, err)
	}
	return g, nil
}

// InsertGrant stores a new grant job.
func InsertGrant(ctx context.Context, q Querier, g GrantRecord) error {
	errs, err := json.Marshal(nonNil(g.Errors))
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO grants (id, campaign_id, tier_id, status, rows_total, rows_done, granted,
		duplicates, rejected, errors, failure, created_by, request_id, created_at, updated_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, nullif($11, ''), $12, $13, $14, $15, $16)`,
		g.ID, g.CampaignID, g.TierID, g.Status, g.RowsTotal, g.RowsDone, g.Granted, g.Duplicates, g.Rejected,
		errs, g.Failure, g.CreatedBy, g.RequestID, g.CreatedAt, g.UpdatedAt, g.FinishedAt)
	if err != nil {
		return fmt.Errorf("insert grant %s: %w", g.ID, err)
	}
	return nil
}

func nonNil(errs []registry.RowError) []registry.RowError {
	if errs == nil {
		return []registry.RowError{}
	}
	return errs
}

// GetGrant reads a grant job.
func GetGrant(ctx context.Context, q Querier, id uuid.UUID) (GrantRecord, error) {
	g, err := scanGrant(q.QueryRow(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return g, apperr.New(apperr.CodeNotFound, "no grant %s", id)
	}
	if err != nil {
		return g, fmt.Errorf("read grant %s: %w", id, err)
	}
	return g, nil
}

// LockGrant reads a grant job and locks it until the transaction ends.
func LockGrant(ctx context.Context, tx pgx.Tx, id uuid.UUID) (GrantRecord, error) {
	g, err := scanGrant(tx.QueryRow(ctx, `SELECT `+grantColumns+` FROM grants WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return g, fmt.Errorf("lock grant %s: %w", id, err)
	}
	return g, nil
}

// AddGrantProgress adds a chunk's counts to a running job and returns the
// job as it now stands; ok is false when the job has ended meanwhile. The
// row lock it takes orders the chunks' commits, so the worker whose chunk
// completes the job sees rows_done reach rows_total.
func AddGrantProgress(ctx context.Context, tx pgx.Tx, id uuid.UUID, rows, granted, duplicates int64, at time.Time) (g GrantRecord, ok bool, err error) {
	g, err = scanGrant(tx.QueryRow(ctx, `UPDATE grants SET rows_done = rows_done + $2, granted = granted + $3,
		duplicates = duplicates + $4, updated_at = $5 WHERE id = $1 AND status = 'running' RETURNING `+grantColumns,
		id, rows, granted, duplicates, at))
	if errors.Is(err, pgx.ErrNoRows) {
		return g, false, nil
	}
	if err != nil {
		return g, false, fmt.Errorf("progress of grant %s: %w", id, err)
	}
	return g, true, nil
}

// EndGrant records how a running job ended: g's status, failure and times.
// ended is false when the job had already ended.
func EndGrant(ctx context.Context, q Querier, g GrantRecord) (ended bool, err error) {
	tag, err := q.Exec(ctx, `UPDATE grants SET status = $2, failure = nullif($3, ''), updated_at = $4, finished_at = $5
		WHERE id = $1 AND status = 'running'`, g.ID, g.Status, g.Failure, g.UpdatedAt, g.FinishedAt)
	if err != nil {
		return false, fmt.Errorf("end grant %s: %w", g.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// RunningGrants lists the jobs still running, oldest first.
func RunningGrants(ctx context.Context, q Querier) ([]uuid.UUID, error) {
	rows, err := q.Query(ctx, `SELECT id FROM grants WHERE status = 'running' ORDER BY created_at`)
	if err != nil {
		return nil, fmt.Errorf("list running grants: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("list running grants: %w", err)
	}
	return ids, nil
}

// GrantChunkColumns are the columns StageGrantChunks fills, in the order of
// each chunk's values: grant id, chunk number, first and last row of the
// file it covers (int32), and, per valid row in row order, arrays of the row
// number (int32), holder hash (bytes), voucher id and code.
var GrantChunkColumns = []string{"grant_id", "chunk_no", "first_row", "last_row", "row_nos", "holder_hashes", "voucher_ids", "codes"}

// StageGrantChunks copies a job's chunks into grant_chunks (COPY), in the
// transaction that inserts the job.
func StageGrantChunks(ctx context.Context, tx pgx.Tx, chunks pgx.CopyFromSource) (int64, error) {
	return tx.CopyFrom(ctx, pgx.Identifier{"grant_chunks"}, GrantChunkColumns, chunks)
}

// GrantChunk is a staged chunk of a grant: the rows FirstRow to LastRow of
// the file.
type GrantChunk struct {
	GrantID  uuid.UUID
	No       int32
	FirstRow int64
	LastRow  int64
}

// ClaimGrantChunk locks the lowest-numbered chunk of a grant that no other
// transaction holds; ok is false when none is left to claim.
func ClaimGrantChunk(ctx context.Context, tx pgx.Tx, grantID uuid.UUID) (c GrantChunk, ok bool, err error) {
	err = tx.QueryRow(ctx, `SELECT grant_id, chunk_no, first_row, last_row FROM grant_chunks
		WHERE grant_id = $1 ORDER BY chunk_no LIMIT 1 FOR UPDATE SKIP LOCKED`, grantID).
		Scan(&c.GrantID, &c.No, &c.FirstRow, &c.LastRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("claim a chunk of grant %s: %w", grantID, err)
	}
	return c, true, nil
}

// DropGrantChunk deletes a chunk without granting it (its job has ended).
func DropGrantChunk(ctx context.Context, q Querier, c GrantChunk) error {
	_, err := q.Exec(ctx, `DELETE FROM grant_chunks WHERE grant_id = $1 AND chunk_no = $2`, c.GrantID, c.No)
	if err != nil {
		return fmt.Errorf("drop chunk %d of grant %s: %w", c.No, c.GrantID, err)
	}
	return nil
}

// DropEndedGrantChunks deletes the chunks left over by jobs that have ended,
// except those a worker holds (it drops them itself).
func DropEndedGrantChunks(ctx context.Context, q Querier) (int64, error) {
	tag, err := q.Exec(ctx, `DELETE FROM grant_chunks WHERE (grant_id, chunk_no) IN (
		SELECT c.grant_id, c.chunk_no FROM grant_chunks c JOIN grants g ON g.id = c.grant_id
		WHERE g.status <> 'running' FOR UPDATE OF c SKIP LOCKED)`)
	if err != nil {
		return 0, fmt.Errorf("drop chunks of ended grants: %w", err)
	}
	return tag.RowsAffected(), nil
}

// FirstNewHolders returns, in row order, the first row of each holder of
// chunk c who has no granted voucher of g's tier yet, at most limit of them.
// A chunk the budget cannot cover grants the rows before the first row of
// the first new holder it cannot pay for.
func FirstNewHolders(ctx context.Context, q Querier, g GrantRecord, c GrantChunk, limit int64) ([]int64, error) {
	rows, err := q.Query(ctx, `
		SELECT min(r.row_no)::bigint AS first
		FROM grant_chunks c, unnest(c.row_nos, c.holder_hashes) AS r(row_no, holder_hash)
		WHERE c.grant_id = $1 AND c.chunk_no = $2 AND NOT EXISTS (
			SELECT FROM vouchers v
			WHERE v.campaign_id = $3 AND v.tier_id = $4 AND v.holder_hash = r.holder_hash AND v.source = 'grant')
		GROUP BY r.holder_hash ORDER BY first LIMIT $5`,
		c.GrantID, c.No, g.CampaignID, g.TierID, limit)
	if err != nil {
		return nil, fmt.Errorf("find new holders in chunk %d of grant %s: %w", c.No, c.GrantID, err)
	}
	firsts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("find new holders in chunk %d of grant %s: %w", c.No, c.GrantID, err)
	}
	return firsts, nil
}

// GrantVouchers turns the rows of chunk c up to row upTo into vouchers like
// tmpl (each row gives its voucher id, code and holder), and deletes the
// chunk. A holder who already has a granted voucher of the tier, from any
// upload or an earlier row, gets nothing: the unique index vouchers_holder
// decides (migration 00016: unique for granted vouchers only). It returns
// how many rows it took and how many vouchers it inserted; the difference
// is duplicates. Among a holder's rows the first one wins, as in file
// order.
//
// Rows go in holder order: vouchers_holder leads with the holder's hash, and
// inserting into it in key order touches each leaf page in turn rather than
// at random (BenchmarkGrant1M, when two indexes led with it: the job
// 10.7-11.9 s -> 9.3-10.6 s for 1M rows, five alternating pairs). A chunk
// first goes in with a plain INSERT, which checks vouchers_holder in the
// same index descent that writes it; only
// a chunk that meets a holder granted before (the list uploaded again, or
// two uploads at once) is rolled back to a savepoint and inserted again
// with ON CONFLICT DO NOTHING, whose speculative insertion costs a second
// descent and WAL record per row (BenchmarkGrant1M, eight alternating
// pairs: 93-113k vouchers/s, mean 104k, against 82-100k, mean 92k).
func GrantVouchers(ctx context.Context, tx pgx.Tx, c GrantChunk, upTo int64, tmpl voucher.Voucher) (taken, granted int64, err error) {
	sp, err := tx.Begin(ctx) // a savepoint
	if err != nil {
		return 0, 0, fmt.Errorf("grant chunk %d of grant %s: %w", c.No, c.GrantID, err)
	}
	taken, granted, err = grantVouchers(ctx, sp, grantNewHolders, c, upTo, tmpl)
	if err == nil {
		err = sp.Commit(ctx)
	} else if IsUniqueViolation(err, "vouchers_holder") {
		if err = sp.Rollback(ctx); err == nil {
			taken, granted, err = grantVouchers(ctx, tx, grantSkippingGranted, c, upTo, tmpl)
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("grant chunk %d of grant %s: %w", c.No, c.GrantID, err)
	}
	return taken, granted, nil
}

// The INSERT's source and conflict clause, for a chunk of holders new to
// the tier and for one that may meet holders granted before.
const (
	grantNewHolders = `(SELECT DISTINCT ON (holder_hash) * FROM taken ORDER BY holder_hash, row_no) AS t
			ORDER BY holder_hash`
	grantSkippingGranted = `taken ORDER BY holder_hash, row_no
			ON CONFLICT (holder_hash, campaign_id, tier_id, (CASE WHEN source = 'grant' THEN true END)) DO NOTHING`
)

func grantVouchers(ctx context.Context, q Querier, insertFrom string, c GrantChunk, upTo int64, tmpl voucher.Voucher) (taken, granted int64, err error) {
	err = q.QueryRow(ctx, `
		WITH chunk AS (
			DELETE FROM grant_chunks WHERE grant_id = $1 AND chunk_no = $2
			RETURNING row_nos, holder_hashes, voucher_ids, codes
		), taken AS (
			SELECT r.* FROM chunk, unnest(chunk.row_nos, chunk.holder_hashes, chunk.voucher_ids, chunk.codes)
				AS r(row_no, holder_hash, voucher_id, code)
			WHERE r.row_no <= $3
		), granted AS (
			INSERT INTO vouchers (id, code, campaign_id, holder_hash, kind, tier_id, min_spend_fen, discount_fen,
				valid_from, valid_until, status, source, created_at, updated_at)
			SELECT voucher_id, code, $4, holder_hash, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13
			FROM `+insertFrom+`
			RETURNING 1
		)
		SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM granted)`,
		c.GrantID, c.No, upTo, tmpl.CampaignID, string(tmpl.Kind), tmpl.TierID, tmpl.MinSpendFen, tmpl.DiscountFen,
		tmpl.ValidFrom, tmpl.ValidUntil, string(tmpl.Status), string(tmpl.Source), tmpl.CreatedAt).Scan(&taken, &granted)
	return taken, granted, err
}
