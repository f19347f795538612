// Package auditlog is the tamper-evident audit trail of every state change:
// the event type, its validation, the hash encoding and the rules that check a
// sealed chain. It does no I/O; internal/postgres stores events, seals them
// into blocks and feeds what it reads back to the checks here.
//
// # Model
//
// A use case appends one Event per state change in the transaction of the
// change. A background sealer later groups finished events into numbered
// Blocks. Each block covers a half-open range [Lo, Hi) of writer sequence
// numbers, lists its events' ids and hashes, and links to the previous block
// by hash. Ranges follow on without gaps from 0, so every event below the
// newest block's Hi belongs to exactly one block, and verification can name
// the first event that was modified, deleted or inserted after sealing.
//
// Lo and Hi are opaque here. In PostgreSQL they are transaction ids (xid8):
// an event carries the id of the transaction that wrote it, and everything
// below the current snapshot's xmin has finished, so no event can still
// appear there. On an engine without such a horizon (CockroachDB, YugabyteDB)
// a commit-timestamp horizon (the closed timestamp, or AS OF SYSTEM TIME
// follower reads) would play the same role.
//
// The chain proves nothing on its own against someone who may rewrite the
// whole database: they can recompute every hash, or drop the newest blocks.
// Record Report.HeadHash outside the database (an auditor's copy, a signed
// log) and compare it later to anchor the chain.
//
// # Hash encoding, version 1
//
// Hashes are SHA-256 over a sequence of fields. Each field is a 4-byte
// big-endian length n followed by n bytes; an absent value (SQL NULL) is the
// length 0xFFFFFFFF followed by nothing, so absent and empty differ. An
// integer is a field of 8 bytes (length prefix 8), big-endian, block numbers
// as two's complement. A time is the UTF-8 text of the instant in UTC as
// RFC 3339 with exactly six fractional digits, e.g.
// "2026-11-06T02:00:00.000000Z" (PostgreSQL keeps microseconds). A string is
// its UTF-8 bytes. JSON is the text PostgreSQL prints for the stored jsonb
// value (duplicate keys dropped, keys shorter-first then bytewise, one space
// after ':' and ','), so hash events as read back from the database, never
// as the application wrote them.
//
// EventHash is SHA-256 over these fields, in order:
//
//	"tongquan/audit/event/v1"  (the tag, as a string field)
//	id             16 bytes, the UUID in network order
//	at             time
//	actor, actor_role, action, entity_type, entity_id   strings
//	before, after  JSON, absent when NULL
//	request_id     string
//
// BlockHash is SHA-256 over:
//
//	"tongquan/audit/block/v1"
//	prev_hash      32 bytes (32 zero bytes for block 1)
//	block_no       integer
//	lo, hi         integers
//	sealed_at      time
//	event count    integer
//	then for each event, in sealed order ((txid, id) in PostgreSQL), two fields: id (16 bytes) and
//	its event hash (32 bytes)
//
// A test pins both with fixed vectors: changing the encoding means a new
// version tag and a migration of every stored hash, never a silent edit.
package auditlog

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/tongquan/tongquan/internal/apperr"
)

// Event is one state change: who did what to which entity, with the entity
// before and after (nil when there is none, e.g. before a creation).
type Event struct {
	ID         uuid.UUID       `json:"id"`
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`
	ActorRole  string          `json:"actor_role"`
	Action     string          `json:"action"`
	EntityType string          `json:"entity_type"`
	EntityID   string          `json:"entity_id"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
	RequestID  string          `json:"request_id,omitempty"`
}

// Validate checks the fields every event needs. A zero ID or At is allowed:
// the store fills them in.
func (e Event) Validate() error {
	var fields []apperr.FieldError
	required := func(field, v string) {
		if v == "" {
			fields = append(fields, apperr.FieldError{Field: field, Reason: "is required"})
		}
	}
	required("actor", e.Actor)
	required("action", e.Action)
	required("entity_type", e.EntityType)
	for _, j := range []struct {
		field string
		v     json.RawMessage
	}{{"before", e.Before}, {"after", e.After}} {
		if j.v != nil && !json.Valid(j.v) {
			fields = append(fields, apperr.FieldError{Field: j.field, Reason: "is not valid JSON"})
		}
	}
	if len(fields) > 0 {
		return apperr.Invalid(fields...)
	}
	return nil
}
