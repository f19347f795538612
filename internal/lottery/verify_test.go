package lottery

import (
	"encoding/hex"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// published is the vector's draw of three as the service lists it.
func published() Published {
	sorted := slices.Sorted(slices.Values(vectorTickets))
	p := Published{
		Algorithm: Algorithm, SeedHash: vectorSeedHash, Seed: hex.EncodeToString(vectorSeed),
		TicketsDigest: vectorDigest, Winners: 3,
	}
	for _, t := range sorted {
		p.Tickets = append(p.Tickets, TicketOutcome{Ticket: t, Won: slices.Contains(vectorWinners, t)})
	}
	return p
}

func TestVerifyAcceptsTheDraw(t *testing.T) {
	require.NoError(t, Verify(published()))
}

func TestVerifyNamesTheFirstMismatch(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*Published)
		want string
	}{
		"algorithm":    {func(p *Published) { p.Algorithm = "other-v2" }, `algorithm "other-v2"`},
		"seed not hex": {func(p *Published) { p.Seed = "zz" }, "is not 32 bytes"},
		"seed swapped": {func(p *Published) { p.Seed = hex.EncodeToString(make([]byte, SeedSize)) },
			"seed: its SHA-256 is 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925, but the committed seed_hash is " + vectorSeedHash},
		"ticket dropped": {func(p *Published) { p.Tickets = p.Tickets[1:] }, "tickets digest: the 7 listed tickets hash to"},
		"out of order": {func(p *Published) { p.Tickets[0], p.Tickets[1] = p.Tickets[1], p.Tickets[0] },
			"ticket list, entry 2: ticket " + published().Tickets[0].Ticket + " does not come after"},
		"outcome flipped": {func(p *Published) { p.Tickets[0].Won = !p.Tickets[0].Won },
			"ticket " + published().Tickets[0].Ticket + ": published won=false, but the draw says won=true"},
		"winners count": {func(p *Published) {
			p.Winners = 2
		}, "ticket 97a51e558326d7d8137ecf250505450e66130c3352972324a9cb21d05a15e9ba: published won=true, but the draw says won=false"},
		"more winners than tickets": {func(p *Published) {
			p.Winners = 9
			for i := range p.Tickets {
				p.Tickets[i].Won = true
			}
		}, "winners: 9 published, but 8 tickets took part and the draw picks 8"},
	} {
		t.Run(name, func(t *testing.T) {
			p := published()
			tc.edit(&p)
			assert.ErrorContains(t, Verify(p), tc.want)
		})
	}
}
