package lottery

import (
	"bytes"
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strings"
)

// Result is the outcome of a draw.
type Result struct {
	Tickets       int64    // how many tickets took part
	TicketsDigest string   // hex SHA-256 over the sorted tickets
	Winners       []string // the winning tickets, best score first
}

// Draw runs the draw over tickets in any order. Tickets must be distinct
// and well formed (64 lower-case hex digits).
func Draw(seed []byte, tickets []string, winners int64) (Result, error) {
	sorted := slices.Clone(tickets)
	slices.Sort(sorted)
	d := NewDrawer(seed, winners)
	for _, t := range sorted {
		if err := d.Add(t); err != nil {
			return Result{}, err
		}
	}
	return d.Result(), nil
}

// Drawer runs the draw over tickets streamed in ascending order, keeping
// only the best winners-many in memory, so a draw over millions of
// registrations needs no sorted copy of them all.
type Drawer struct {
	seed   []byte
	k      int
	digest hash.Hash
	n      int64
	last   string
	best   ranking // a max-heap: the worst of the best on top
}

// NewDrawer starts a draw of winners tickets (none when below 1).
func NewDrawer(seed []byte, winners int64) *Drawer {
	return &Drawer{seed: slices.Clone(seed), k: int(max(winners, 0)), digest: sha256.New()}
}

// Add feeds the next ticket, which must come after the previous one.
func (d *Drawer) Add(ticket string) error {
	raw, err := parseTicket(ticket)
	if err != nil {
		return err
	}
	if d.n > 0 && ticket <= d.last {
		return fmt.Errorf("ticket %s does not come after %s: tickets must be distinct and in ascending order", ticket, d.last)
	}
	if d.n > 0 {
		d.digest.Write([]byte{'\n'})
	}
	d.digest.Write([]byte(ticket))
	d.n++
	d.last = ticket

	if d.k == 0 {
		return nil
	}
	e := entry{score: score(d.seed, raw), ticket: raw}
	switch {
	case len(d.best) < d.k:
		heap.Push(&d.best, e)
	case e.less(d.best[0]):
		d.best[0] = e
		heap.Fix(&d.best, 0)
	}
	return nil
}

// Result is the draw over the tickets added so far.
func (d *Drawer) Result() Result {
	best := slices.Clone(d.best)
	slices.SortFunc(best, func(a, b entry) int {
		if a.less(b) {
			return -1
		}
		return 1 // entries are distinct: tickets are
	})
	winners := make([]string, len(best))
	for i, e := range best {
		winners[i] = hex.EncodeToString(e.ticket[:])
	}
	return Result{Tickets: d.n, TicketsDigest: hex.EncodeToString(d.digest.Sum(nil)), Winners: winners}
}

// parseTicket decodes a ticket, refusing upper case so that every ticket has
// exactly one spelling (the digest hashes the spelling).
func parseTicket(t string) ([32]byte, error) {
	var raw [32]byte
	if len(t) != 64 || strings.ToLower(t) != t {
		return raw, fmt.Errorf("ticket %q is not 64 lower-case hex digits", t)
	}
	if _, err := hex.Decode(raw[:], []byte(t)); err != nil {
		return raw, fmt.Errorf("ticket %q is not 64 lower-case hex digits", t)
	}
	return raw, nil
}

func score(seed []byte, ticket [32]byte) [32]byte {
	h := sha256.New()
	h.Write(seed)
	h.Write(ticket[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// entry is a ticket with its score.
type entry struct{ score, ticket [32]byte }

// less ranks by score, then by ticket.
func (e entry) less(o entry) bool {
	if c := bytes.Compare(e.score[:], o.score[:]); c != 0 {
		return c < 0
	}
	return bytes.Compare(e.ticket[:], o.ticket[:]) < 0
}

// ranking is a max-heap of entries for container/heap.
type ranking []entry

func (r ranking) Len() int           { return len(r) }
func (r ranking) Less(i, j int) bool { return r[j].less(r[i]) }
func (r ranking) Swap(i, j int)      { r[i], r[j] = r[j], r[i] }
func (r *ranking) Push(x any)        { *r = append(*r, x.(entry)) }
func (r *ranking) Pop() any {
	old := *r
	e := old[len(old)-1]
	*r = old[:len(old)-1]
	return e
}
