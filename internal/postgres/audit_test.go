package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

func auditEvent(entityID string, after string) auditlog.Event {
	e := auditlog.Event{
		Actor: "admin:alice", ActorRole: "program_admin", Action: "campaign.update",
		EntityType: "campaign", EntityID: entityID, RequestID: "req-" + entityID,
	}
	if after != "" {
		e.After = json.RawMessage(after)
	}
	return e
}

// appendEvents writes n events for entityID, each in a transaction of its own
// when q is a pool.
func appendEvents(t testing.TB, q postgres.Querier, entityID string, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		e := auditEvent(entityID, fmt.Sprintf(`{"n": %d}`, i))
		e.ID = uuid.Must(uuid.NewV7())
		require.NoError(t, postgres.AppendEvent(context.Background(), q, e))
		ids[i] = e.ID
	}
	return ids
}

func unsealed(t testing.TB, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `
		SELECT count(*) FROM audit_events
		WHERE txid >= coalesce((SELECT hi FROM audit_blocks ORDER BY block_no DESC LIMIT 1), '0'::xid8)`).Scan(&n))
	return n
}

// sealAll seals until nothing is left. Xids are cluster-wide, so a test
// running alongside may hold the horizon back for a moment: retry until then.
func sealAll(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for unsealed(t, pool) > 0 {
		n, err := postgres.SealAudit(context.Background(), pool)
		require.NoError(t, err)
		if n == 0 {
			require.True(t, time.Now().Before(deadline), "events stayed unsealed for a minute")
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// sealNext seals the next non-empty block and returns its event count.
func sealNext(t testing.TB, pool *pgxpool.Pool) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := postgres.SealAudit(context.Background(), pool)
		require.NoError(t, err)
		if n > 0 {
			return n
		}
		require.True(t, time.Now().Before(deadline), "nothing sealed for a minute")
		time.Sleep(5 * time.Millisecond)
	}
}

func verifyOK(t testing.TB, pool *pgxpool.Pool) auditlog.Report {
	t.Helper()
	rep, err := postgres.VerifyAudit(context.Background(), pool)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep.FirstFault)
	return rep
}

func blockOf(t testing.TB, pool *pgxpool.Pool, id uuid.UUID) int64 {
	t.Helper()
	var no int64
	err := pool.QueryRow(context.Background(), `SELECT block_no FROM audit_blocks WHERE $1 = ANY (event_ids)`, id).Scan(&no)
	if err == pgx.ErrNoRows {
		return 0
	}
	require.NoError(t, err)
	return no
}

func TestAuditAppendAndList(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()

	at := time.Date(2026, 11, 6, 10, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	first := auditEvent("c1", `{"status":"draft",  "name":"券"}`)
	first.At = at
	require.NoError(t, postgres.AppendEvent(ctx, db.Pool, first))
	second := auditEvent("c1", "")
	second.Before = json.RawMessage(`null`)
	require.NoError(t, postgres.AppendEvent(ctx, db.Pool, second))
	require.NoError(t, postgres.AppendEvent(ctx, db.Pool, auditEvent("c2", "")))

	got, err := postgres.ListEvents(ctx, db.Pool, "campaign", "c1", nil, 0)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.NotEqual(t, uuid.Nil, got[0].ID)
	assert.Equal(t, uuid.Version(7), got[0].ID.Version())
	assert.Equal(t, at.Truncate(time.Microsecond).UTC(), got[0].At, "stored with PostgreSQL's microseconds")
	assert.Nil(t, got[0].Before, "nil is stored as NULL")
	assert.Equal(t, `{"name": "券", "status": "draft"}`, string(got[0].After), "jsonb's normal form")
	assert.Equal(t, "admin:alice", got[0].Actor)
	assert.Equal(t, "req-c1", got[0].RequestID)
	assert.Equal(t, `null`, string(got[1].Before), "JSON null is not NULL")
	assert.Nil(t, got[1].After)
	assert.False(t, got[1].At.IsZero(), "a zero At becomes the transaction time")

	page, err := postgres.ListEvents(ctx, db.Pool, "campaign", "c1", &got[0].ID, 10)
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, got[1].ID, page[0].ID)

	none, err := postgres.ListEvents(ctx, db.Pool, "campaign", "nope", nil, 10)
	require.NoError(t, err)
	assert.NotNil(t, none)
	assert.Empty(t, none)

	err = postgres.AppendEvent(ctx, db.Pool, auditlog.Event{EntityType: "campaign"})
	assert.True(t, apperr.Is(err, apperr.CodeValidationFailed), "%v", err)
}

func TestAuditIsAppendOnly(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	appendEvents(t, db.Pool, "c1", 2)
	sealAll(t, db.Pool)

	for _, sql := range []string{
		`UPDATE audit_events SET actor = 'mallory'`,
		`UPDATE audit_events SET actor = 'mallory' WHERE false`,
		`DELETE FROM audit_events`,
		`DELETE FROM audit_events WHERE false`,
		`TRUNCATE audit_events`,
		`INSERT INTO audit_events (id, at, actor, actor_role, action, entity_type, entity_id, request_id)
		 SELECT id, at, actor, actor_role, action, entity_type, entity_id, request_id FROM audit_events
		 ON CONFLICT (id) DO UPDATE SET actor = 'mallory'`,
		`UPDATE audit_blocks SET hash = hash`,
		`DELETE FROM audit_blocks`,
		`TRUNCATE audit_blocks`,
	} {
		_, err := db.Pool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, sql)
		assert.Equal(t, "42501", pgErr.Code, sql)
		assert.Regexp(t, `^audit_(events|blocks) is append-only$`, pgErr.Message, sql)
	}
	verifyOK(t, db.Pool)
}

func TestAuditSealAndVerify(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()

	rep := verifyOK(t, db.Pool)
	assert.Equal(t, auditlog.Report{OK: true}, rep, "an empty log verifies")

	appendEvents(t, db.Pool, "c1", 5)
	// Several events in one transaction are sealed together.
	require.NoError(t, postgres.InTx(ctx, db.Pool, func(tx pgx.Tx) error {
		for i := range 3 {
			if err := postgres.AppendEvent(ctx, tx, auditEvent("c2", fmt.Sprintf(`{"i": %d}`, i))); err != nil {
				return err
			}
		}
		return nil
	}))
	assert.Equal(t, 8, verifyOK(t, db.Pool).UnsealedEvents)

	sealAll(t, db.Pool)
	rep = verifyOK(t, db.Pool)
	assert.Equal(t, 8, rep.Events)
	assert.Equal(t, 0, rep.UnsealedEvents)
	assert.GreaterOrEqual(t, rep.Blocks, 1)
	assert.Len(t, rep.HeadHash, 64)

	n, err := postgres.SealAudit(ctx, db.Pool)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to seal makes no block")

	appendEvents(t, db.Pool, "c3", 4)
	sealAll(t, db.Pool)
	rep2 := verifyOK(t, db.Pool)
	assert.Equal(t, 12, rep2.Events)
	assert.Greater(t, rep2.Blocks, rep.Blocks)
	assert.NotEqual(t, rep.HeadHash, rep2.HeadHash)
}

func TestAuditSealCutsBetweenTransactions(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	bulk := func(n int) {
		_, err := db.Pool.Exec(ctx, `
			INSERT INTO audit_events (id, at, actor, actor_role, action, entity_type, entity_id, request_id)
			SELECT gen_random_uuid(), now(), 'system', 'system', 'test.bulk', 'test', g::text, ''
			FROM generate_series(1, $1) AS g`, n)
		require.NoError(t, err)
	}
	bulk(6000)
	bulk(6000)
	assert.Equal(t, 6000, sealNext(t, db.Pool), "12,000 events exceed a block: cut after the first transaction")
	assert.Equal(t, 6000, sealNext(t, db.Pool))
	bulk(10_001)
	assert.Equal(t, 10_001, sealNext(t, db.Pool), "one transaction is never split")
	rep := verifyOK(t, db.Pool)
	assert.Equal(t, 3, rep.Blocks)
	assert.Equal(t, 22_001, rep.Events)
}

func TestAuditSealSkipsOpenTransactions(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()

	tx, err := db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	open := auditEvent("c1", `{"open": true}`)
	open.ID = uuid.Must(uuid.NewV7())
	require.NoError(t, postgres.AppendEvent(ctx, tx, open))
	committed := appendEvents(t, db.Pool, "c2", 1)[0]

	// The committed event is newer than the open transaction, so the horizon
	// stops below both.
	n, err := postgres.SealAudit(ctx, db.Pool)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Zero(t, blockOf(t, db.Pool, open.ID))
	assert.Zero(t, blockOf(t, db.Pool, committed))
	assert.Equal(t, 1, verifyOK(t, db.Pool).UnsealedEvents, "the open transaction's event is invisible")

	require.NoError(t, tx.Commit(ctx))
	sealAll(t, db.Pool)
	assert.NotZero(t, blockOf(t, db.Pool, open.ID))
	assert.NotZero(t, blockOf(t, db.Pool, committed))
	assert.Equal(t, 2, verifyOK(t, db.Pool).Events)
}

func TestAuditConcurrentSealersKeepOneChain(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()

	const writers, perWriter = 4, 50
	var wg sync.WaitGroup
	var done atomic.Bool
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				e := auditEvent(fmt.Sprintf("w%d", w), fmt.Sprintf(`{"i": %d}`, i))
				if !assert.NoError(t, postgres.AppendEvent(ctx, db.Pool, e)) {
					return
				}
			}
		})
	}
	var sealed atomic.Int64
	var sealers sync.WaitGroup
	for range 2 {
		sealers.Go(func() {
			for !done.Load() {
				n, err := postgres.SealAudit(ctx, db.Pool)
				if !assert.NoError(t, err) {
					return
				}
				sealed.Add(int64(n))
			}
		})
	}
	wg.Wait()
	done.Store(true)
	sealers.Wait()
	sealAll(t, db.Pool)

	rep := verifyOK(t, db.Pool)
	assert.Equal(t, writers*perWriter, rep.Events, "every event sealed exactly once")
	var blocks, maxNo int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*), max(block_no) FROM audit_blocks`).Scan(&blocks, &maxNo))
	assert.Equal(t, rep.Blocks, blocks)
	assert.Equal(t, blocks, maxNo, "block numbers have no gaps")
	assert.LessOrEqual(t, sealed.Load(), int64(writers*perWriter), "no event counted by both sealers")
}

// tamperedLog seals three blocks of three events each and returns their ids.
// Each block's events are written in one transaction, so no horizon can
// split them across blocks.
func tamperedLog(t *testing.T) (*pgtest.DB, [][]uuid.UUID) {
	t.Helper()
	db := pgtest.New(t)
	var isSuper bool
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&isSuper))
	if !isSuper {
		t.Skip("tampering behind the triggers needs a superuser")
	}
	var blocks [][]uuid.UUID
	for i := range 3 {
		var ids []uuid.UUID
		require.NoError(t, postgres.InTx(context.Background(), db.Pool, func(tx pgx.Tx) error {
			ids = appendEvents(t, tx, fmt.Sprintf("c%d", i), 3)
			return nil
		}))
		sealAll(t, db.Pool)
		for _, id := range ids {
			require.EqualValues(t, i+1, blockOf(t, db.Pool, id), "one block per batch")
		}
		blocks = append(blocks, ids)
	}
	verifyOK(t, db.Pool)
	return db, blocks
}

// behindTheTriggers runs sql as a superuser would to bypass the append-only triggers.
func behindTheTriggers(t *testing.T, db *pgtest.DB, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sql, args...)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("%s changed %d rows", sql, tag.RowsAffected())
		}
		return err
	}))
}

// assertFault checks the first fault, and that the blocks before it verified.
func assertFault(t *testing.T, db *pgtest.DB, kind auditlog.FaultKind, blockNo int64, eventID *uuid.UUID, verified int) {
	t.Helper()
	rep, err := postgres.VerifyAudit(context.Background(), db.Pool)
	require.NoError(t, err)
	require.False(t, rep.OK)
	require.NotNil(t, rep.FirstFault)
	f := rep.FirstFault
	assert.Equal(t, kind, f.Kind, f.Message)
	assert.Equal(t, blockNo, f.BlockNo, f.Message)
	assert.Equal(t, eventID, f.EventID, f.Message)
	if eventID != nil {
		assert.Contains(t, f.Message, eventID.String())
	}
	assert.Equal(t, verified, rep.Blocks, "blocks verified before the fault")
	assert.Equal(t, 3*verified, rep.Events)
}

func TestAuditDetectsTampering(t *testing.T) {
	t.Parallel()
	t.Run("modified event", func(t *testing.T) {
		t.Parallel()
		db, ids := tamperedLog(t)
		behindTheTriggers(t, db, `UPDATE audit_events SET after = '{"n": 99}' WHERE id = $1`, ids[1][1])
		assertFault(t, db, auditlog.FaultModified, 2, &ids[1][1], 1)
	})
	t.Run("first fault is named", func(t *testing.T) {
		t.Parallel()
		db, ids := tamperedLog(t)
		behindTheTriggers(t, db, `UPDATE audit_events SET actor = 'mallory' WHERE id = $1`, ids[2][0])
		behindTheTriggers(t, db, `UPDATE audit_events SET at = at + interval '1 microsecond' WHERE id = $1`, ids[1][2])
		assertFault(t, db, auditlog.FaultModified, 2, &ids[1][2], 1)
	})
	t.Run("deleted event", func(t *testing.T) {
		t.Parallel()
		db, ids := tamperedLog(t)
		behindTheTriggers(t, db, `DELETE FROM audit_events WHERE id = $1`, ids[0][2])
		assertFault(t, db, auditlog.FaultDeleted, 1, &ids[0][2], 0)
	})
	t.Run("event moved to a later block", func(t *testing.T) {
		t.Parallel()
		db, ids := tamperedLog(t)
		behindTheTriggers(t, db, `UPDATE audit_events SET txid = (SELECT txid FROM audit_events WHERE id = $2) WHERE id = $1`, ids[0][0], ids[2][0])
		assertFault(t, db, auditlog.FaultDeleted, 1, &ids[0][0], 0)
	})
	t.Run("forged event with an old txid", func(t *testing.T) {
		t.Parallel()
		db, ids := tamperedLog(t)
		forged := uuid.Must(uuid.NewV7())
		// No superuser needed: inserting is allowed, and txid may be given.
		_, err := db.Pool.Exec(context.Background(), `
			INSERT INTO audit_events (id, txid, at, actor, actor_role, action, entity_type, entity_id, request_id)
			SELECT $1, txid, at, 'mallory', 'program_admin', 'budget.approve', 'campaign', 'c1', ''
			FROM audit_events WHERE id = $2`, forged, ids[1][1])
		require.NoError(t, err)
		assertFault(t, db, auditlog.FaultInserted, 2, &forged, 1)
	})
	t.Run("block hash replaced", func(t *testing.T) {
		t.Parallel()
		db, _ := tamperedLog(t)
		behindTheTriggers(t, db, `UPDATE audit_blocks SET hash = sha256(hash) WHERE block_no = 2`)
		assertFault(t, db, auditlog.FaultChainBroken, 2, nil, 1)
	})
	t.Run("block contents changed to hide a modification", func(t *testing.T) {
		t.Parallel()
		db, ids := tamperedLog(t)
		behindTheTriggers(t, db, `UPDATE audit_events SET after = '{"n": 99}' WHERE id = $1`, ids[1][0])
		behindTheTriggers(t, db, `UPDATE audit_blocks SET event_hashes = overlay(event_hashes PLACING sha256('x') FROM 1) WHERE block_no = 2`)
		assertFault(t, db, auditlog.FaultBlockModified, 2, nil, 1)
	})
	t.Run("block deleted", func(t *testing.T) {
		t.Parallel()
		db, _ := tamperedLog(t)
		behindTheTriggers(t, db, `DELETE FROM audit_blocks WHERE block_no = 2`)
		assertFault(t, db, auditlog.FaultChainBroken, 3, nil, 1)
	})
}

func BenchmarkAppendEventParallel(b *testing.B) {
	db := pgtest.New(b)
	ctx := context.Background()
	e := auditEvent("c1", `{"status": "active", "budget_fen": 100000000}`)
	e.Before = json.RawMessage(`{"status": "approved", "budget_fen": 100000000}`)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := postgres.AppendEvent(ctx, db.Pool, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
