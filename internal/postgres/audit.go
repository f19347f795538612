package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/auditlog"
)

// The audit log's storage (migration 00005). Each event carries the id of the
// transaction that wrote it (txid, an xid8); every transaction below the
// current snapshot's xmin has finished, so events below that horizon are
// final and can be sealed without writers ever waiting on a shared row. This
// file and the migration are the only places that know about xid8: see
// package auditlog for the model, the hash encoding and what would replace
// the horizon on another engine.
//
// A long-running writing transaction anywhere in the cluster holds the
// horizon back, so events of later transactions wait for it to be sealed.
// Transaction ids only order events within one cluster's history: a physical
// replica or pg_upgrade keeps them, but moving the log to a new cluster by
// dump and restore needs the new cluster's next transaction id set beyond the
// newest block's hi first (pg_resetwal -e/-x), or new events land in sealed
// ranges and verify as inserted.

const (
	// maxBlockEvents caps a block, softly: a block holds whole transactions,
	// so one transaction that wrote more events is sealed in one larger block.
	maxBlockEvents = 10_000
	// verifyPageBlocks is how many blocks verification holds at once.
	verifyPageBlocks = 64
	// maxListEvents is the largest page ListEvents returns.
	maxListEvents = 1_000
)

// eventColumns are the columns scanEvent reads.
const eventColumns = `txid, id, at, actor, actor_role, action, entity_type, entity_id, before, after, request_id`

// storedEvent is an event with the transaction id it was written by.
type storedEvent struct {
	txid uint64
	auditlog.Event
}

func scanEvent(row pgx.CollectableRow) (storedEvent, error) {
	var s storedEvent
	e := &s.Event
	err := row.Scan(&s.txid, &e.ID, &e.At, &e.Actor, &e.ActorRole, &e.Action, &e.EntityType, &e.EntityID,
		(*[]byte)(&e.Before), (*[]byte)(&e.After), &e.RequestID)
	e.At = e.At.UTC()
	return s, err
}

// AppendEvent writes e in the caller's transaction. A zero ID becomes a new
// UUIDv7; a zero At becomes the transaction's start time. Before and After
// are stored as jsonb (nil as NULL); the sealed hash covers them as
// PostgreSQL prints them back.
func AppendEvent(ctx context.Context, q Querier, e auditlog.Event) error {
	args, err := eventArgs(&e)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, insertEvent, args...); err != nil {
		return appendError(e, err)
	}
	return nil
}

const insertEvent = `
	INSERT INTO audit_events (id, at, actor, actor_role, action, entity_type, entity_id, before, after, request_id)
	VALUES ($1, coalesce($2, now()), $3, $4, $5, $6, $7, $8, $9, $10)`

// eventArgs validates e, gives it an id when it has none, and returns the
// arguments of insertEvent.
func eventArgs(e *auditlog.Event) ([]any, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if e.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("audit event id: %w", err)
		}
		e.ID = id
	}
	var at *time.Time
	if !e.At.IsZero() {
		at = &e.At
	}
	return []any{e.ID, at, e.Actor, e.ActorRole, e.Action, e.EntityType, e.EntityID, e.Before, e.After, e.RequestID}, nil
}

func appendError(e auditlog.Event, err error) error {
	return fmt.Errorf("append audit event %s on %s %s: %w", e.Action, e.EntityType, e.EntityID, err)
}

// SealAudit seals the finished, unsealed events into the next block, at most
// one block per call, and returns how many events it sealed (0 when there
// were none, or when a concurrent sealer took the block number first: the
// primary key on block_no is what keeps the chain from forking).
func SealAudit(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var (
		b        auditlog.Block
		lastNo   *int64
		lastHi   *uint64
		lastHash []byte
	)
	// One statement, one snapshot: the newest block was committed before it,
	// so that block's hi (an earlier horizon) is at most this one.
	err := pool.QueryRow(ctx, `
		SELECT pg_snapshot_xmin(pg_current_snapshot()), now(), last.block_no, last.hi, last.hash
		FROM (SELECT) AS one
		LEFT JOIN LATERAL (SELECT block_no, hi, hash FROM audit_blocks ORDER BY block_no DESC LIMIT 1) AS last ON true`,
	).Scan(&b.Hi, &b.SealedAt, &lastNo, &lastHi, &lastHash)
	if err != nil {
		return 0, fmt.Errorf("seal audit log: read the newest block: %w", err)
	}
	b.No = 1
	if lastNo != nil {
		b.No, b.Lo = *lastNo+1, *lastHi
		copy(b.PrevHash[:], lastHash)
	}
	if b.Hi <= b.Lo {
		return 0, nil
	}

	events, err := queryEvents(ctx, pool, `WHERE txid >= $1 AND txid < $2 ORDER BY txid, id LIMIT $3`,
		b.Lo, b.Hi, maxBlockEvents+1)
	if err != nil {
		return 0, fmt.Errorf("seal audit log: %w", err)
	}
	if len(events) == 0 {
		return 0, nil
	}
	if len(events) > maxBlockEvents {
		// Cut between transactions, so the next block's range starts exactly
		// where this one ends.
		cut := events[maxBlockEvents].txid
		if cut > events[0].txid {
			b.Hi = cut
			for events[len(events)-1].txid >= cut {
				events = events[:len(events)-1]
			}
		} else {
			b.Hi = cut + 1
			if events, err = queryEvents(ctx, pool, `WHERE txid = $1 ORDER BY id`, cut); err != nil {
				return 0, fmt.Errorf("seal audit log: %w", err)
			}
		}
	}

	ids := make([]uuid.UUID, len(events))
	hashes := make([]byte, 0, 32*len(events))
	b.Entries = make([]auditlog.Entry, len(events))
	for i, e := range events {
		h := auditlog.EventHash(e.Event)
		b.Entries[i] = auditlog.Entry{ID: e.ID, Hash: h}
		ids[i] = e.ID
		hashes = append(hashes, h[:]...)
	}
	b.Hash = auditlog.BlockHash(&b)
	_, err = pool.Exec(ctx, `
		INSERT INTO audit_blocks (block_no, lo, hi, event_count, event_ids, event_hashes, prev_hash, hash, sealed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		b.No, b.Lo, b.Hi, len(ids), ids, hashes, b.PrevHash[:], b.Hash[:], b.SealedAt)
	if IsUniqueViolation(err, "audit_blocks_pkey") {
		return 0, nil // another sealer wrote this block; the next call goes on from it
	}
	if err != nil {
		return 0, fmt.Errorf("seal audit log: write block %d: %w", b.No, err)
	}
	return len(events), nil
}

func queryEvents(ctx context.Context, q Querier, where string, args ...any) ([]storedEvent, error) {
	rows, err := q.Query(ctx, `SELECT `+eventColumns+` FROM audit_events `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	events, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	return events, nil
}

// ListEvents returns an entity's events in id (time) order, after afterID
// when it is set, at most limit of them (1000 when limit is out of 1..1000).
func ListEvents(ctx context.Context, q Querier, entityType, entityID string, afterID *uuid.UUID, limit int) ([]auditlog.Event, error) {
	if limit <= 0 || limit > maxListEvents {
		limit = maxListEvents
	}
	after := uuid.Nil // sorts before every real id, so one index range serves both cases
	if afterID != nil {
		after = *afterID
	}
	stored, err := queryEvents(ctx, q, `WHERE entity_type = $1 AND entity_id = $2 AND id > $3 ORDER BY id LIMIT $4`,
		entityType, entityID, after, limit)
	if err != nil {
		return nil, err
	}
	events := make([]auditlog.Event, len(stored))
	for i, s := range stored {
		events[i] = s.Event
	}
	return events, nil
}

// VerifyAudit walks the chain from block 1 and stops at the first fault: a
// block that does not follow on from its predecessor or does not match its
// hash, or an event of a block's range that was modified, deleted or
// inserted since sealing. Because ranges follow on from 0 without gaps, the
// range reloads also catch events planted below the newest block's hi with a
// forged old txid. Pass a REPEATABLE READ transaction or a pool; a read
// replica works too.
func VerifyAudit(ctx context.Context, q Querier) (auditlog.Report, error) {
	var (
		rep  auditlog.Report
		prev *auditlog.Block
	)
	for {
		var after int64
		if prev != nil {
			after = prev.No
		}
		// One block more than the page: the successor of the page's last
		// block, which CheckBlock consults.
		page, err := loadBlocks(ctx, q, after, verifyPageBlocks+1)
		if err != nil {
			return rep, err
		}
		n := min(len(page), verifyPageBlocks)
		if n == 0 {
			break
		}
		blocks := make([]auditlog.Block, 0, n)
		var fault *auditlog.Fault
		for i := range n {
			var next *auditlog.Block
			if i+1 < len(page) {
				next = &page[i+1].Block
			}
			if fault = page[i].check(prev, next); fault != nil {
				break
			}
			blocks = append(blocks, page[i].Block)
			prev = &page[i].Block
		}
		// An event fault in an earlier block comes before a block fault.
		eventFault, err := verifyEvents(ctx, q, blocks)
		if err != nil {
			return rep, err
		}
		if eventFault != nil {
			fault = eventFault
		}
		for _, b := range blocks {
			if fault != nil && b.No >= fault.BlockNo {
				break
			}
			rep.Blocks++
			rep.Events += len(b.Entries)
			rep.HeadHash = auditlog.HexHash(b.Hash)
		}
		if fault != nil {
			rep.FirstFault = fault
			return rep, nil
		}
		if len(page) <= verifyPageBlocks {
			break
		}
	}
	var sealedTo uint64
	if prev != nil {
		sealedTo = prev.Hi
	}
	if err := q.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE txid >= $1`, sealedTo).Scan(&rep.UnsealedEvents); err != nil {
		return rep, fmt.Errorf("verify audit log: count unsealed events: %w", err)
	}
	rep.OK = true
	return rep, nil
}

// storedBlock is a block as read, with what makes it unreadable, if anything.
type storedBlock struct {
	auditlog.Block
	malformed string
}

func (s *storedBlock) check(prev, next *auditlog.Block) *auditlog.Fault {
	if s.malformed != "" {
		return &auditlog.Fault{BlockNo: s.No, Kind: auditlog.FaultBlockModified, Message: s.malformed}
	}
	return auditlog.CheckBlock(prev, &s.Block, next)
}

func loadBlocks(ctx context.Context, q Querier, after int64, limit int) ([]storedBlock, error) {
	rows, err := q.Query(ctx, `
		SELECT block_no, lo, hi, event_count, event_ids, event_hashes, prev_hash, hash, sealed_at
		FROM audit_blocks WHERE block_no > $1 ORDER BY block_no LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("verify audit log: read blocks: %w", err)
	}
	blocks, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storedBlock, error) {
		var (
			s                    storedBlock
			ids                  []uuid.UUID
			hashes, prev, hashed []byte
		)
		b := &s.Block
		if err := row.Scan(&b.No, &b.Lo, &b.Hi, &b.EventCount, &ids, &hashes, &prev, &hashed, &b.SealedAt); err != nil {
			return s, err
		}
		switch {
		case len(prev) != 32 || len(hashed) != 32:
			s.malformed = fmt.Sprintf("block %d stores a hash that is not 32 bytes long", b.No)
		case len(hashes) != 32*len(ids):
			s.malformed = fmt.Sprintf("block %d lists %d event ids but %d bytes of event hashes", b.No, len(ids), len(hashes))
		default:
			copy(b.PrevHash[:], prev)
			copy(b.Hash[:], hashed)
			b.Entries = make([]auditlog.Entry, len(ids))
			for i, id := range ids {
				b.Entries[i].ID = id
				copy(b.Entries[i].Hash[:], hashes[32*i:])
			}
		}
		return s, nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify audit log: read blocks: %w", err)
	}
	return blocks, nil
}

// verifyEvents streams the events of consecutive, checked blocks in one
// query and compares each block's share with what it sealed.
func verifyEvents(ctx context.Context, q Querier, blocks []auditlog.Block) (*auditlog.Fault, error) {
	if len(blocks) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT `+eventColumns+` FROM audit_events WHERE txid >= $1 AND txid < $2 ORDER BY txid, id`,
		blocks[0].Lo, blocks[len(blocks)-1].Hi)
	if err != nil {
		return nil, fmt.Errorf("verify audit log: read events: %w", err)
	}
	defer rows.Close()
	k := 0
	var found []auditlog.Entry
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("verify audit log: read events: %w", err)
		}
		for ; e.txid >= blocks[k].Hi; k++ {
			if f := auditlog.CheckEvents(&blocks[k], found); f != nil {
				return f, nil
			}
			found = found[:0]
		}
		found = append(found, auditlog.Entry{ID: e.ID, Hash: auditlog.EventHash(e.Event)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify audit log: read events: %w", err)
	}
	for ; k < len(blocks); k++ {
		if f := auditlog.CheckEvents(&blocks[k], found); f != nil {
			return f, nil
		}
		found = found[:0]
	}
	return nil, nil
}

// AppendEvents writes many events in one statement (claim batches, grant
// chunks), with the same rules as AppendEvent.
func AppendEvents(ctx context.Context, q Querier, events []auditlog.Event) error {
	if len(events) == 0 {
		return nil
	}
	args, err := eventsArgs(events)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, insertEvents, args...); err != nil {
		return fmt.Errorf("append %d audit events: %w", len(events), err)
	}
	return nil
}

// QueueEvents is AppendEvents queued on b.
func QueueEvents(b *pgx.Batch, events []auditlog.Event) error {
	if len(events) == 0 {
		return nil
	}
	args, err := eventsArgs(events)
	if err != nil {
		return err
	}
	b.Queue(insertEvents, args...).Fn = func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("append %d audit events: %w", len(events), err)
		}
		return nil
	}
	return nil
}

const insertEvents = `
	INSERT INTO audit_events (id, at, actor, actor_role, action, entity_type, entity_id, before, after, request_id)
	SELECT id, at, actor, actor_role, action, entity_type, entity_id, before::jsonb, after::jsonb, request_id
	FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::text[])
	AS t(id, at, actor, actor_role, action, entity_type, entity_id, before, after, request_id)`

func eventsArgs(events []auditlog.Event) ([]any, error) {
	n := len(events)
	ids, ats := make([]uuid.UUID, n), make([]time.Time, n)
	actors, roles, actions, types, entities, reqs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	befores, afters := make([]*string, n), make([]*string, n)
	now := time.Now()
	for i, e := range events {
		if err := e.Validate(); err != nil {
			return nil, err
		}
		if e.ID == uuid.Nil {
			e.ID = uuid.Must(uuid.NewV7())
		}
		if e.At.IsZero() {
			e.At = now
		}
		ids[i], ats[i], actors[i], roles[i], actions[i] = e.ID, e.At, e.Actor, e.ActorRole, e.Action
		types[i], entities[i], reqs[i] = e.EntityType, e.EntityID, e.RequestID
		if e.Before != nil {
			s := string(e.Before)
			befores[i] = &s
		}
		if e.After != nil {
			s := string(e.After)
			afters[i] = &s
		}
	}
	return []any{ids, ats, actors, roles, actions, types, entities, befores, afters, reqs}, nil
}
