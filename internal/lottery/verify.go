package lottery

import (
	"encoding/hex"
	"fmt"
)

// Published is what the service publishes about a drawn lottery.
type Published struct {
	Algorithm     string
	SeedHash      string
	Seed          string // hex
	TicketsDigest string
	Winners       int64
	Tickets       []TicketOutcome // as listed: ascending
}

// TicketOutcome is one listed ticket and whether it won.
type TicketOutcome struct {
	Ticket string
	Won    bool
}

// Verify redoes the draw from published data and returns an error naming the
// first thing that does not match, checked in this order: the algorithm, the
// seed against its commitment, the ticket list (well formed, ascending), its
// digest, each ticket's outcome in list order, the winners count.
func Verify(p Published) error {
	if p.Algorithm != Algorithm {
		return fmt.Errorf("the lottery was drawn with algorithm %q; this verifier implements %q", p.Algorithm, Algorithm)
	}
	seed, err := hex.DecodeString(p.Seed)
	if err != nil || len(seed) != SeedSize {
		return fmt.Errorf("the seed %q is not %d bytes in hex", p.Seed, SeedSize)
	}
	if h := SeedHash(seed); h != p.SeedHash {
		return fmt.Errorf("seed: its SHA-256 is %s, but the committed seed_hash is %s", h, p.SeedHash)
	}
	d := NewDrawer(seed, p.Winners)
	for i, t := range p.Tickets {
		if err := d.Add(t.Ticket); err != nil {
			return fmt.Errorf("ticket list, entry %d: %w", i+1, err)
		}
	}
	r := d.Result()
	if r.TicketsDigest != p.TicketsDigest {
		return fmt.Errorf("tickets digest: the %d listed tickets hash to %s, but the published tickets_digest is %s",
			r.Tickets, r.TicketsDigest, p.TicketsDigest)
	}
	won := make(map[string]bool, len(r.Winners))
	for _, w := range r.Winners {
		won[w] = true
	}
	for _, t := range p.Tickets {
		if t.Won != won[t.Ticket] {
			return fmt.Errorf("ticket %s: published won=%t, but the draw says won=%t", t.Ticket, t.Won, won[t.Ticket])
		}
	}
	if int64(len(r.Winners)) != p.Winners {
		return fmt.Errorf("winners: %d published, but %d tickets took part and the draw picks %d",
			p.Winners, r.Tickets, len(r.Winners))
	}
	return nil
}
