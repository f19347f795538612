package auditlog

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Entry is one sealed event: its id and hash.
type Entry struct {
	ID   uuid.UUID
	Hash [32]byte
}

// Block is a sealed run of events: those written with a sequence number in
// [Lo, Hi), in sealed order.
type Block struct {
	No         int64
	Lo, Hi     uint64
	EventCount int // as stored, checked against len(Entries)
	Entries    []Entry
	PrevHash   [32]byte
	Hash       [32]byte
	SealedAt   time.Time
}

// FaultKind says what verification found wrong.
type FaultKind string

const (
	// FaultModified: an event's content no longer matches its sealed hash,
	// or it moved within its block (its sequence number was changed).
	FaultModified FaultKind = "modified"
	// FaultDeleted: a sealed event is gone from its block's range.
	FaultDeleted FaultKind = "deleted"
	// FaultInserted: an event sits in a sealed range but was not sealed.
	FaultInserted FaultKind = "inserted"
	// FaultChainBroken: a block does not follow on from the one before it
	// (number, range or prev_hash), or its stored hash was replaced.
	FaultChainBroken FaultKind = "chain_broken"
	// FaultBlockModified: a block's contents no longer match its hash.
	FaultBlockModified FaultKind = "block_modified"
)

// Fault is the first thing verification found wrong. EventID is set for
// event faults.
type Fault struct {
	BlockNo int64      `json:"block_no"`
	EventID *uuid.UUID `json:"event_id,omitempty"`
	Kind    FaultKind  `json:"kind"`
	Message string     `json:"message"`
}

// Report is the outcome of verifying the whole log. Blocks and Events count
// what was verified (up to the first fault); UnsealedEvents are those written
// after the newest block's range, not yet covered by the chain. HeadHash is
// the hex hash of the newest verified block: keep it outside the database to
// anchor the chain.
type Report struct {
	OK             bool   `json:"ok"`
	Blocks         int    `json:"blocks"`
	Events         int    `json:"events"`
	UnsealedEvents int    `json:"unsealed_events"`
	HeadHash       string `json:"head_hash,omitempty"`
	FirstFault     *Fault `json:"first_fault,omitempty"`
}

// HexHash is how hashes are shown to people.
func HexHash(h [32]byte) string { return hex.EncodeToString(h[:]) }

// CheckBlock checks block b on its own and as the successor of prev (nil when
// b should be block 1). next is the block after b, nil when b is the newest:
// when b's stored hash disagrees with its contents, a successor that links
// to the recomputed hash shows the stored hash was replaced, not the contents.
func CheckBlock(prev, b, next *Block) *Fault {
	broken := func(format string, args ...any) *Fault {
		return &Fault{BlockNo: b.No, Kind: FaultChainBroken, Message: fmt.Sprintf(format, args...)}
	}
	var want Block // what block 1 follows on from
	if prev != nil {
		want = *prev
	}
	switch {
	case b.No != want.No+1:
		return broken("block %d is missing before block %d", want.No+1, b.No)
	case b.PrevHash != want.Hash:
		return broken("block %d does not link to the hash of block %d", b.No, want.No)
	case b.Lo != want.Hi:
		return broken("block %d starts its range at %d, but block %d ended it at %d", b.No, b.Lo, want.No, want.Hi)
	}
	modified := func(format string, args ...any) *Fault {
		return &Fault{BlockNo: b.No, Kind: FaultBlockModified, Message: fmt.Sprintf(format, args...)}
	}
	if b.Hi <= b.Lo || len(b.Entries) == 0 {
		return modified("block %d has an empty range or no events", b.No)
	}
	if b.EventCount != len(b.Entries) {
		return modified("block %d counts %d events but lists %d", b.No, b.EventCount, len(b.Entries))
	}
	if h := BlockHash(b); h != b.Hash {
		if next != nil && next.PrevHash == h {
			return broken("the stored hash of block %d was replaced: block %d links to the hash of its contents", b.No, next.No)
		}
		return modified("the contents of block %d do not match its hash", b.No)
	}
	return nil
}

// CheckEvents compares what b sealed with found: the events now stored in b's
// range, hashed, in sealed order. It names the first event that differs.
func CheckEvents(b *Block, found []Entry) *Fault {
	sealed := make(map[uuid.UUID]bool, len(b.Entries))
	for _, en := range b.Entries {
		sealed[en.ID] = true
	}
	present := make(map[uuid.UUID]bool, len(found))
	for _, en := range found {
		present[en.ID] = true
	}
	fault := func(kind FaultKind, id uuid.UUID, format string) *Fault {
		return &Fault{BlockNo: b.No, EventID: &id, Kind: kind, Message: fmt.Sprintf(format, id, b.No)}
	}
	i, j := 0, 0
	for ; i < len(b.Entries) && j < len(found); i, j = i+1, j+1 {
		want, got := b.Entries[i], found[j]
		switch {
		case want.ID == got.ID:
			if want.Hash != got.Hash {
				return fault(FaultModified, got.ID, "event %s was modified after it was sealed in block %d")
			}
		case !present[want.ID]:
			return fault(FaultDeleted, want.ID, "event %s was deleted from block %d")
		case !sealed[got.ID]:
			return fault(FaultInserted, got.ID, "event %s was inserted into the range of block %d")
		default: // both ids are in both lists, in another order
			return fault(FaultModified, want.ID, "event %s moved within block %d: its transaction id was changed")
		}
	}
	if i < len(b.Entries) {
		return fault(FaultDeleted, b.Entries[i].ID, "event %s was deleted from block %d")
	}
	if j < len(found) {
		return fault(FaultInserted, found[j].ID, "event %s was inserted into the range of block %d")
	}
	return nil
}
