package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/lottery"
)

const (
	lotteryPath = "/v1/campaigns/" + campaignID + "/lottery"
	ticketsPath = lotteryPath + "/tickets"
)

// drawnLottery is a draw of 4 winners among 12 tickets, as voucherd
// publishes it: the Lottery answer and the ticket list in ascending order.
func drawnLottery(t *testing.T) (map[string]any, []map[string]any) {
	seed := make([]byte, lottery.SeedSize)
	for i := range seed {
		seed[i] = 7
	}
	var tickets []string
	for i := range 12 {
		tickets = append(tickets, lottery.Ticket(uuid.MustParse(campaignID), uuid.MustParse(fmt.Sprintf("0190f1b2-7c4e-7a1b-9c3d-%012x", i+1))))
	}
	r, err := lottery.Draw(seed, tickets, 4)
	require.NoError(t, err)
	slices.Sort(tickets)
	items := make([]map[string]any, len(tickets))
	for i, tk := range tickets {
		items[i] = map[string]any{"ticket": tk, "won": slices.Contains(r.Winners, tk)}
	}
	l := map[string]any{
		"campaign_id": campaignID, "status": "drawn", "algorithm": lottery.Algorithm,
		"seed_hash": lottery.SeedHash(seed), "seed": hex.EncodeToString(seed), "winners": 4, "registrations": 12,
		"tickets_digest": r.TicketsDigest, "drawn_at": "2026-12-07T10:00:03+08:00",
	}
	return l, items
}

func mustJSONString(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// serveTicketPages answers the ticket list a page at a time by after and
// limit, as voucherd does, through the fake's contract checks.
func (f *fakeVoucherd) serveTicketPages(t *testing.T, items []map[string]any) {
	var mu sync.Mutex // serialises the replies the pages swap in
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == ticketsPath {
			after := r.URL.Query().Get("after")
			limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
			require.NoError(t, err)
			start, _ := slices.BinarySearchFunc(items, after, func(it map[string]any, a string) int {
				if it["ticket"].(string) <= a {
					return -1
				}
				return 1
			})
			page := items[start:min(start+limit, len(items))]
			f.on(http.MethodGet, ticketsPath, http.StatusOK, mustJSONString(t, map[string]any{"items": page}))
		}
		f.serve(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
}

func TestLotteryShowBeforeTheDraw(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, lotteryPath, http.StatusOK, `{"campaign_id": "`+campaignID+`", "status": "registering",
		"algorithm": "tongquan-lottery-v1", "seed_hash": "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd",
		"winners": 50, "registrations": 1234}`)

	out, errOut, code := f.voucherctl("lottery", "show", campaignID)

	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []auth.Role{auth.RoleAuditor}, f.only().caller.Roles)
	assert.Regexp(t, `Status:\s+registering`, out)
	assert.Regexp(t, `Registrations:\s+1234`, out)
	assert.Regexp(t, `Seed hash:\s+630dcd2966c4`, out)
	assert.Regexp(t, `Seed:\s+\(secret until the draw\)`, out)
	assert.Regexp(t, `Drawn at:\s+-`, out)
}

func TestLotteryVerifyReadsEveryPage(t *testing.T) {
	f := newFakeVoucherd(t)
	l, items := drawnLottery(t)
	f.on(http.MethodGet, lotteryPath, http.StatusOK, mustJSONString(t, l))
	f.serveTicketPages(t, items)
	defer func(n int) { ticketPage = n }(ticketPage)
	ticketPage = 5

	out, errOut, code := f.voucherctl("lottery", "verify", campaignID)

	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `Result:\s+ok: the seed matches its commitment and the draw reproduces every outcome`, out)
	assert.Regexp(t, `Tickets checked:\s+12`, out)
	var queries []string
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sent {
		if s.path == ticketsPath {
			queries = append(queries, s.query)
		}
	}
	assert.Equal(t, []string{"limit=5", "after=" + items[4]["ticket"].(string) + "&limit=5",
		"after=" + items[9]["ticket"].(string) + "&limit=5"}, queries)
}

func TestLotteryVerifyFailsOnTheFirstMismatch(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(l map[string]any, items []map[string]any)
		want string
	}{
		"outcome flipped": {func(_ map[string]any, items []map[string]any) {
			items[2]["won"] = !items[2]["won"].(bool)
		}, "ticket {third}: published won="},
		"another seed": {func(l map[string]any, _ []map[string]any) {
			l["seed"] = hex.EncodeToString(make([]byte, lottery.SeedSize))
		}, "seed: its SHA-256 is"},
		"a ticket left out": {func(_ map[string]any, items []map[string]any) {
			items[len(items)-1] = items[len(items)-2]
		}, "ticket list, entry 12"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeVoucherd(t)
			l, items := drawnLottery(t)
			want := strings.ReplaceAll(tc.want, "{third}", items[2]["ticket"].(string))
			tc.edit(l, items)
			f.on(http.MethodGet, lotteryPath, http.StatusOK, mustJSONString(t, l))
			f.serveTicketPages(t, items)

			out, errOut, code := f.voucherctl("lottery", "verify", campaignID)

			assert.Equal(t, 1, code)
			assert.Regexp(t, `Result:\s+FAILED: `, out)
			assert.Contains(t, errOut, "voucherctl lottery: verification failed: "+want)
		})
	}
}

func TestLotteryVerifyNeedsADrawnLottery(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodGet, lotteryPath, http.StatusOK, `{"campaign_id": "`+campaignID+`", "status": "closed", "winners": 50, "registrations": 3}`)

	_, errOut, code := f.voucherctl("lottery", "verify", campaignID)

	assert.Equal(t, 1, code)
	assert.Equal(t, "voucherctl lottery: the lottery is closed, not drawn yet: there is nothing to verify\n", errOut)
}

func TestLotteryVerifyNeedsEveryOutcome(t *testing.T) {
	f := newFakeVoucherd(t)
	l, items := drawnLottery(t)
	delete(items[0], "won")
	f.on(http.MethodGet, lotteryPath, http.StatusOK, mustJSONString(t, l))
	f.serveTicketPages(t, items)

	_, errOut, code := f.voucherctl("lottery", "verify", campaignID)

	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "is listed without its outcome")
}
