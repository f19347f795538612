package lottery

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/campaign"
)

// The vector below was computed with the Python snippet of the package
// documentation, not with this package: it pins the tickets, the digest and
// the ranking. Changing any of them means a new Algorithm, never an edit here.
var (
	vectorCampaign = uuid.MustParse("0190f1b2-7c4e-7a1b-9c3d-5e6f7a8b9c0d")
	vectorSeed     = func() []byte {
		s := make([]byte, SeedSize)
		for i := range s {
			s[i] = byte(i)
		}
		return s
	}()
	// Tickets of registrations 0190f1b2-7c4e-7a1b-9c3d-000000000001 … 8.
	vectorTickets = []string{
		"ebddf325551f87266e1a432ec4142c04dc368816cf0d346e63b86adafedc44e6",
		"61ad55f6a3600d0e91c5e173f1d1e3cffe653630c2f4408006b8180502149bc7",
		"97a51e558326d7d8137ecf250505450e66130c3352972324a9cb21d05a15e9ba",
		"c322071c20fc424bdc219a0c8c11bff4af5597d51379236a49b74009cbb81c91",
		"5d6d688e3943e8254b44f7683c582d97ce368f1f87ca843f88303d6cbb1cf429",
		"7a4c2bb7b8f1ad56998f9961cec20c72a863d378cc94dbc515a9c4f9d7d2d0f0",
		"01769f31dd04ac9437b95d41ac453b6dd55d26c583e3037f394b5e6707a96f06",
		"561ff1d9196bd710113f5e0fdd7128efc7327db65676224c5628d234677ee54a",
	}
	vectorSeedHash = "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
	vectorDigest   = "3739c79e30c5aaa7ecbcf4686b13cdb7bc7bd9e879e6c2dc47f6be91c8ec8187"
	vectorWinners  = []string{ // the best three, best first
		"01769f31dd04ac9437b95d41ac453b6dd55d26c583e3037f394b5e6707a96f06",
		"c322071c20fc424bdc219a0c8c11bff4af5597d51379236a49b74009cbb81c91",
		"97a51e558326d7d8137ecf250505450e66130c3352972324a9cb21d05a15e9ba",
	}
)

func TestTicketVector(t *testing.T) {
	for i, want := range vectorTickets {
		reg := uuid.MustParse(fmt.Sprintf("0190f1b2-7c4e-7a1b-9c3d-%012x", i+1))
		assert.Equal(t, want, Ticket(vectorCampaign, reg), "registration %s", reg)
	}
}

func TestDrawVector(t *testing.T) {
	assert.Equal(t, vectorSeedHash, SeedHash(vectorSeed))
	r, err := Draw(vectorSeed, vectorTickets, 3)
	require.NoError(t, err)
	assert.Equal(t, Result{Tickets: 8, TicketsDigest: vectorDigest, Winners: vectorWinners}, r)

	// Fewer winners are the head of the same ranking: a budget-limited draw
	// stays reproducible with the published count.
	r, err = Draw(vectorSeed, vectorTickets, 1)
	require.NoError(t, err)
	assert.Equal(t, vectorWinners[:1], r.Winners)
}

func TestDrawEdges(t *testing.T) {
	r, err := Draw(vectorSeed, nil, 5)
	require.NoError(t, err)
	assert.Equal(t, Result{TicketsDigest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Winners: []string{}}, r)

	r, err = Draw(vectorSeed, vectorTickets, 100)
	require.NoError(t, err)
	assert.Len(t, r.Winners, 8, "more winners than tickets: everyone wins")
	assert.Equal(t, vectorWinners, r.Winners[:3])

	r, err = Draw(vectorSeed, vectorTickets, 0)
	require.NoError(t, err)
	assert.Empty(t, r.Winners)
	assert.Equal(t, vectorDigest, r.TicketsDigest, "the digest does not depend on the winners")

	_, err = Draw(vectorSeed, append(slices.Clone(vectorTickets), vectorTickets[0]), 3)
	assert.ErrorContains(t, err, "distinct")
	_, err = Draw(vectorSeed, []string{"ABCDEF" + vectorTickets[0][6:]}, 1)
	assert.ErrorContains(t, err, "lower-case hex")
	_, err = Draw(vectorSeed, []string{vectorTickets[0][:63] + "g"}, 1)
	assert.ErrorContains(t, err, "lower-case hex")
}

// TestDrawerMatchesFullSort: the bounded heap picks exactly what sorting
// every ticket by score would, for any k, and the input order does not matter.
func TestDrawerMatchesFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tickets := make([]string, 500)
	for i := range tickets {
		var b [32]byte
		for j := range b {
			b[j] = byte(rng.UintN(256))
		}
		tickets[i] = hex.EncodeToString(b[:])
	}
	seed := sha256.Sum256([]byte("test seed"))
	ranked := slices.Clone(tickets)
	slices.SortFunc(ranked, func(a, b string) int {
		sa, sb := naiveScore(seed[:], a), naiveScore(seed[:], b)
		if c := slices.Compare(sa[:], sb[:]); c != 0 {
			return c
		}
		return slices.Compare([]byte(a), []byte(b))
	})
	for _, k := range []int64{1, 2, 50, 499, 500} {
		rng.Shuffle(len(tickets), func(i, j int) { tickets[i], tickets[j] = tickets[j], tickets[i] })
		r, err := Draw(seed[:], tickets, k)
		require.NoError(t, err)
		assert.Equal(t, ranked[:k], r.Winners, "k=%d", k)
	}
}

func naiveScore(seed []byte, ticket string) [32]byte {
	raw, _ := hex.DecodeString(ticket)
	return sha256.Sum256(append(slices.Clone(seed), raw...))
}

func TestDrawerRefusesOutOfOrder(t *testing.T) {
	d := NewDrawer(vectorSeed, 1)
	require.NoError(t, d.Add(vectorTickets[1]))
	assert.ErrorContains(t, d.Add(vectorTickets[6]), "ascending")
}

func TestPhase(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 12, 5, h, 0, 0, 0, time.UTC) }
	r := campaign.LotteryRules{RegistrationOpensAt: at(10), RegistrationClosesAt: at(12), DrawAt: at(14)}
	assert.Equal(t, NotOpen, Phase(r, false, at(9)))
	assert.Equal(t, Registering, Phase(r, false, at(10)), "opens at its first instant")
	assert.Equal(t, Closed, Phase(r, false, at(12)), "closes at its last")
	assert.Equal(t, Closed, Phase(r, false, at(15)), "closed until drawn")
	assert.Equal(t, Drawn, Phase(r, true, at(15)))
}

func FuzzDraw(f *testing.F) {
	f.Add([]byte("seed"), vectorTickets[0]+vectorTickets[1], int64(1))
	f.Fuzz(func(t *testing.T, seed []byte, joined string, k int64) {
		var tickets []string
		for len(joined) >= 64 {
			tickets, joined = append(tickets, joined[:64]), joined[64:]
		}
		r, err := Draw(seed, tickets, k)
		if err != nil {
			return
		}
		if want := min(max(k, 0), int64(len(tickets))); int64(len(r.Winners)) != want {
			t.Fatalf("%d winners of %d tickets for k=%d", len(r.Winners), len(tickets), k)
		}
	})
}
