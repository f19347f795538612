package auditlog_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auditlog"
)

// fixedEvent is the event of the pinned test vector.
func fixedEvent() auditlog.Event {
	return auditlog.Event{
		ID:         uuid.MustParse("01900000-0000-7000-8000-000000000001"),
		At:         time.Date(2026, 11, 6, 10, 0, 0, 123456000, time.FixedZone("CST", 8*3600)),
		Actor:      "admin:alice",
		ActorRole:  "program_admin",
		Action:     "campaign.approve",
		EntityType: "campaign",
		EntityID:   "0190aaaa-0000-7000-8000-000000000002",
		Before:     nil,
		After:      json.RawMessage(`{"name": "上海消费券", "status": "approved"}`),
		RequestID:  "req-1",
	}
}

// The encoding is a contract with outside auditors: these vectors must never
// change. A new encoding gets a new version tag and new vectors.
func TestHashVectors(t *testing.T) {
	e := fixedEvent()
	eh := auditlog.EventHash(e)
	assert.Equal(t, "342f0e1e64b89c60d36fb13d16bf92ac88aeee073f96f9127ac4334d4fa0a4d5", auditlog.HexHash(eh))

	b := auditlog.Block{
		No: 1, Lo: 0, Hi: 750,
		SealedAt: time.Date(2026, 11, 6, 2, 0, 5, 1000, time.UTC),
		Entries:  []auditlog.Entry{{ID: e.ID, Hash: eh}},
	}
	assert.Equal(t, "943596405253b1a96d1fdcd0d64d2c8cf2db6a475a206421678d40a87634b774", auditlog.HexHash(auditlog.BlockHash(&b)))
}

func TestEventHashCoversEveryField(t *testing.T) {
	base := auditlog.EventHash(fixedEvent())
	changes := map[string]func(*auditlog.Event){
		"id":          func(e *auditlog.Event) { e.ID[15]++ },
		"at":          func(e *auditlog.Event) { e.At = e.At.Add(time.Microsecond) },
		"actor":       func(e *auditlog.Event) { e.Actor += "x" },
		"actor_role":  func(e *auditlog.Event) { e.ActorRole += "x" },
		"action":      func(e *auditlog.Event) { e.Action += "x" },
		"entity_type": func(e *auditlog.Event) { e.EntityType += "x" },
		"entity_id":   func(e *auditlog.Event) { e.EntityID += "x" },
		"before null": func(e *auditlog.Event) { e.Before = json.RawMessage(`null`) },
		"after":       func(e *auditlog.Event) { e.After = json.RawMessage(`{}`) },
		"after nil":   func(e *auditlog.Event) { e.After = nil },
		"request_id":  func(e *auditlog.Event) { e.RequestID = "" },
		// Length prefixes keep a boundary shift from colliding.
		"shift": func(e *auditlog.Event) { e.Actor, e.ActorRole = e.Actor+e.ActorRole[:1], e.ActorRole[1:] },
	}
	for name, change := range changes {
		e := fixedEvent()
		change(&e)
		assert.NotEqual(t, base, auditlog.EventHash(e), name)
	}

	// The same instant in another zone, or with nanoseconds PostgreSQL drops, is the same event.
	e := fixedEvent()
	e.At = e.At.UTC().Add(999 * time.Nanosecond)
	assert.Equal(t, base, auditlog.EventHash(e))
}

func TestBlockHashCoversEveryField(t *testing.T) {
	e := fixedEvent()
	mk := func() auditlog.Block {
		return auditlog.Block{No: 3, Lo: 10, Hi: 20, SealedAt: e.At,
			Entries: []auditlog.Entry{{ID: e.ID, Hash: auditlog.EventHash(e)}}}
	}
	b := mk()
	base := auditlog.BlockHash(&b)
	changes := map[string]func(*auditlog.Block){
		"prev":       func(b *auditlog.Block) { b.PrevHash[0] = 1 },
		"no":         func(b *auditlog.Block) { b.No++ },
		"lo":         func(b *auditlog.Block) { b.Lo++ },
		"hi":         func(b *auditlog.Block) { b.Hi++ },
		"sealed_at":  func(b *auditlog.Block) { b.SealedAt = b.SealedAt.Add(time.Microsecond) },
		"event id":   func(b *auditlog.Block) { b.Entries[0].ID[0]++ },
		"event hash": func(b *auditlog.Block) { b.Entries[0].Hash[0]++ },
		"no events":  func(b *auditlog.Block) { b.Entries = nil },
	}
	for name, change := range changes {
		c := mk()
		change(&c)
		assert.NotEqual(t, base, auditlog.BlockHash(&c), name)
	}
	c := mk()
	c.Hash, c.EventCount = [32]byte{1}, 7
	assert.Equal(t, base, auditlog.BlockHash(&c), "the stored hash and count are not hashed")
}

func TestValidate(t *testing.T) {
	require.NoError(t, fixedEvent().Validate())

	err := auditlog.Event{Before: json.RawMessage(`{`), After: json.RawMessage{}}.Validate()
	e, ok := apperr.As(err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, apperr.CodeValidationFailed, e.Code)
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	assert.Equal(t, []string{"actor", "action", "entity_type", "before", "after"}, fields)
}
