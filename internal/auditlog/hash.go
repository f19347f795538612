package auditlog

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math"
	"time"
)

// Domain tags: an event hash can never be taken for a block hash, and a new
// encoding gets a new tag.
const (
	eventTag = "tongquan/audit/event/v1"
	blockTag = "tongquan/audit/block/v1"
)

// absent is the length written for a NULL value.
const absent = math.MaxUint32

// EventHash is the hash of e as stored, in the version 1 encoding (see the
// package comment).
func EventHash(e Event) [32]byte {
	w := encoder{sha256.New()}
	w.bytes([]byte(eventTag))
	w.bytes(e.ID[:])
	w.time(e.At)
	w.bytes([]byte(e.Actor))
	w.bytes([]byte(e.ActorRole))
	w.bytes([]byte(e.Action))
	w.bytes([]byte(e.EntityType))
	w.bytes([]byte(e.EntityID))
	w.nullable(e.Before)
	w.nullable(e.After)
	w.bytes([]byte(e.RequestID))
	return w.sum()
}

// BlockHash is the hash of b in the version 1 encoding (see the package
// comment). b.Hash and b.EventCount are not part of it.
func BlockHash(b *Block) [32]byte {
	w := encoder{sha256.New()}
	w.bytes([]byte(blockTag))
	w.bytes(b.PrevHash[:])
	w.uint64(uint64(b.No))
	w.uint64(b.Lo)
	w.uint64(b.Hi)
	w.time(b.SealedAt)
	w.uint64(uint64(len(b.Entries)))
	for _, en := range b.Entries {
		w.bytes(en.ID[:])
		w.bytes(en.Hash[:])
	}
	return w.sum()
}

// encoder writes length-prefixed fields into a hash.
type encoder struct{ h hash.Hash }

func (w encoder) bytes(p []byte) {
	w.length(uint32(len(p)))
	w.h.Write(p)
}

// nullable writes nil as absent, anything else (even empty) as a field.
func (w encoder) nullable(p []byte) {
	if p == nil {
		w.length(absent)
		return
	}
	w.bytes(p)
}

func (w encoder) uint64(v uint64) {
	w.bytes(binary.BigEndian.AppendUint64(nil, v))
}

func (w encoder) time(t time.Time) {
	w.bytes([]byte(t.UTC().Format(timeLayout)))
}

func (w encoder) length(n uint32) {
	w.h.Write(binary.BigEndian.AppendUint32(nil, n))
}

func (w encoder) sum() (s [32]byte) {
	w.h.Sum(s[:0])
	return s
}

// timeLayout is RFC 3339 in UTC with microseconds, PostgreSQL's precision.
// Format truncates finer digits, as pgx does when it sends a time.
const timeLayout = "2006-01-02T15:04:05.000000Z"
