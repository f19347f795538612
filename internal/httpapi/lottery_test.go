package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/audit"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/httpapi/api"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/lottery"
	"github.com/tongquan/tongquan/internal/pgtest"
)

// The test lottery runs in the campaign of consumptionCampaign, which starts
// 2026-12-04 10:00 +08:00: registration for two days, the draw a day later.
var (
	lotteryStart  = time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)
	lotteryCloses = lotteryStart.Add(48 * time.Hour)
	lotteryDraw   = lotteryStart.Add(72 * time.Hour)
)

type lotteryEnv struct {
	*issuerEnv
	issuance *issuance.Service
}

func newLotteryEnv(t *testing.T) *lotteryEnv {
	db := pgtest.New(t)
	clk := newClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	hasher, err := holder.NewHasher(bytes.Repeat([]byte("k"), 32))
	require.NoError(t, err)
	is := issuance.New(db.Pool, issuance.Options{Now: clk.Now, Hasher: hasher})
	t.Cleanup(is.Close)
	svc := issuer.New(db.Pool, clk.Now)
	h := newHarness(t, Config{Pool: db.Pool, Issuer: svc, Issuance: is, Audit: audit.New(db.Pool, nil)})
	return &lotteryEnv{issuerEnv: &issuerEnv{harness: h, db: db, clock: clk, svc: svc}, issuance: is}
}

// liveLottery creates, approves and activates a campaign drawing winners
// holders of its ¥200 − ¥50 tier among residents of Shanghai.
func (e *lotteryEnv) liveLottery(t *testing.T, winners int) string {
	body := consumptionCampaign()
	rules := body["rules"].(map[string]any)
	rules["eligibility"].(map[string]any)["holder_region_prefixes"] = []string{"31"}
	rules["lottery"] = map[string]any{"tier_id": "200-50", "winners": winners,
		"registration_opens_at": lotteryStart, "registration_closes_at": lotteryCloses, "draw_at": lotteryDraw}
	id := e.create(t, body).ID
	e.act(t, e.manager("alice"), id, "submit", http.StatusOK)
	e.act(t, e.approver("bob"), id, "approve", http.StatusOK)
	e.clock.Set(lotteryStart)
	e.act(t, e.manager("alice"), id, "activate", http.StatusOK)
	return id
}

// idNumberOf is the n-th valid resident ID number of a Shanghai population.
func idNumberOf(n int) string {
	first := fmt.Sprintf("310104199001%02d%03d", 1+n/1000, n%1000)
	c, err := holder.CheckChar(first)
	if err != nil {
		panic(err)
	}
	return first + string(c)
}

func registrationBody(n int, region string, verified bool) []byte {
	return mustJSON(map[string]any{"holder": map[string]any{
		"id_number": idNumberOf(n), "residence_region": region, "real_name_verified": verified,
	}})
}

func (e *lotteryEnv) register(campaignID, key string, body []byte) response {
	req := httptest.NewRequest(http.MethodPost, "/v1/campaigns/"+campaignID+"/registrations", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.platformToken())
	req.Header.Set(headerIdempotencyKey, key)
	return e.do(req)
}

func TestLotteryRegistration(t *testing.T) {
	e := newLotteryEnv(t)
	id := e.liveLottery(t, 10)

	first := e.register(id, "k1", registrationBody(1, "310104", true))
	require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
	reg := decode[api.Registration](t, first.Body)
	assert.Equal(t, api.Registered, reg.Status)
	assert.Regexp(t, "^[0-9a-f]{64}$", reg.Ticket)
	assert.Equal(t, "2026-12-04T10:00:00+08:00", reg.RegisteredAt.Format(time.RFC3339), "in the campaign's zone")
	assert.NotContains(t, string(first.Body), idNumberOf(1))

	replay := e.register(id, "k1", registrationBody(1, "310104", true))
	assert.Equal(t, http.StatusCreated, replay.Status)
	assert.Equal(t, first.Body, replay.Body, "a retry gets the same bytes")
	assert.Equal(t, "true", replay.Header.Get(headerIdempotencyReplay))

	for _, tc := range []struct {
		name, key string
		body      []byte
		status    int
		code      string
	}{
		{"same key, other body", "k1", registrationBody(2, "310104", true), 422, "IDEMPOTENCY_KEY_REUSED"},
		{"same holder again", "k2", registrationBody(1, "310115", true), 409, "ALREADY_REGISTERED"},
		{"real name not verified", "k3", registrationBody(3, "310104", false), 403, "HOLDER_NOT_ELIGIBLE"},
		{"resident elsewhere", "k4", registrationBody(3, "110101", true), 403, "HOLDER_NOT_ELIGIBLE"},
		{"mistyped ID number", "k5", []byte(`{"holder":{"id_number":"310104199001011230","real_name_verified":true}}`), 400, "VALIDATION_FAILED"},
	} {
		res := e.register(id, tc.key, tc.body)
		assert.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Body)
		assert.Equal(t, tc.code, res.errorCode(t), tc.name)
	}
	assert.Equal(t, 1, e.count(t, "lottery_registrations"))

	e.clock.Set(lotteryCloses)
	res := e.register(id, "k6", registrationBody(4, "310104", true))
	assert.Equal(t, http.StatusConflict, res.Status)
	assert.Equal(t, "REGISTRATION_CLOSED", res.errorCode(t))

	res = e.request(http.MethodPost, "/v1/campaigns/"+id+"/registrations", e.manager("alice"), registrationBody(5, "310104", true))
	assert.Equal(t, http.StatusForbidden, res.Status, "platforms register holders")
}

// TestLotteryPublishedDraw follows a lottery through the API as an outside
// auditor would, and redoes the draw from what the API publishes alone.
func TestLotteryPublishedDraw(t *testing.T) {
	e := newLotteryEnv(t)
	id := e.liveLottery(t, 10)
	ctx := context.Background()
	auditor := e.personToken("ann", time.Hour, auth.RoleAuditor)

	l := e.lottery(t, id, e.platformToken())
	assert.Equal(t, api.LotteryStatusRegistering, l.Status)
	assert.Nil(t, l.SeedHash, "no seed committed yet")
	require.NoError(t, e.issuance.RunLotteries(ctx))
	committed := e.lottery(t, id, auditor)
	require.NotNil(t, committed.SeedHash)
	assert.Nil(t, committed.Seed, "the seed stays secret until the draw")
	assert.Equal(t, lottery.Algorithm, *committed.Algorithm)

	for n := range 40 {
		res := e.register(id, fmt.Sprintf("r%d", n), registrationBody(100+n, "310104", true))
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	}
	before := e.tickets(t, id, 7)
	require.Len(t, before, 40)
	for _, tk := range before {
		assert.Nil(t, tk.Won, "no outcome before the draw")
	}
	e.clock.Set(lotteryDraw.Add(-time.Second))
	require.NoError(t, e.issuance.RunLotteries(ctx))
	assert.Equal(t, api.LotteryStatusClosed, e.lottery(t, id, auditor).Status)

	e.clock.Set(lotteryDraw)
	require.NoError(t, e.issuance.RunLotteries(ctx))
	drawn := e.lottery(t, id, e.platformToken())
	assert.Equal(t, api.LotteryStatusDrawn, drawn.Status)
	assert.Equal(t, int64(40), drawn.Registrations)
	assert.Equal(t, int64(10), drawn.Winners)
	assert.Equal(t, *committed.SeedHash, *drawn.SeedHash)
	require.NotNil(t, drawn.Seed)
	after := e.tickets(t, id, 7)

	// Recomputed here from the published data with nothing but SHA-256,
	// then with the verifier voucherctl uses.
	seed, err := hex.DecodeString(*drawn.Seed)
	require.NoError(t, err)
	sum := sha256.Sum256(seed)
	assert.Equal(t, *drawn.SeedHash, hex.EncodeToString(sum[:]))
	sorted := make([]string, len(after))
	for i, tk := range after {
		sorted[i] = tk.Ticket
	}
	require.True(t, slices.IsSorted(sorted))
	digest := sha256.Sum256([]byte(strings.Join(sorted, "\n")))
	assert.Equal(t, *drawn.TicketsDigest, hex.EncodeToString(digest[:]))
	ranked := slices.Clone(sorted)
	score := func(tk string) []byte {
		raw, _ := hex.DecodeString(tk)
		s := sha256.Sum256(append(slices.Clone(seed), raw...))
		return s[:]
	}
	slices.SortFunc(ranked, func(a, b string) int { return bytes.Compare(score(a), score(b)) })
	for _, tk := range after {
		require.NotNil(t, tk.Won)
		assert.Equal(t, slices.Contains(ranked[:10], tk.Ticket), *tk.Won, tk.Ticket)
	}

	p := lottery.Published{Algorithm: *drawn.Algorithm, SeedHash: *drawn.SeedHash, Seed: *drawn.Seed,
		TicketsDigest: *drawn.TicketsDigest, Winners: drawn.Winners}
	for _, tk := range after {
		p.Tickets = append(p.Tickets, lottery.TicketOutcome{Ticket: tk.Ticket, Won: *tk.Won})
	}
	require.NoError(t, lottery.Verify(p))
}

func TestLotteryOfACampaignWithout(t *testing.T) {
	e := newLotteryEnv(t)
	id := e.create(t, consumptionCampaign()).ID
	res := e.request(http.MethodGet, "/v1/campaigns/"+id+"/lottery", e.manager("alice"), nil)
	assert.Equal(t, http.StatusNotFound, res.Status)
	res = e.request(http.MethodGet, "/v1/campaigns/"+id+"/lottery/tickets", e.platformToken(), nil)
	assert.Equal(t, http.StatusNotFound, res.Status, "a draft is invisible to platforms")
}

func (e *lotteryEnv) lottery(t *testing.T, id, token string) api.Lottery {
	t.Helper()
	res := e.request(http.MethodGet, "/v1/campaigns/"+id+"/lottery", token, nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	return decode[api.Lottery](t, res.Body)
}

// tickets reads every page of a lottery's tickets.
func (e *lotteryEnv) tickets(t *testing.T, id string, page int) []api.Ticket {
	t.Helper()
	var all []api.Ticket
	after := ""
	for {
		path := fmt.Sprintf("/v1/campaigns/%s/lottery/tickets?limit=%d", id, page)
		if after != "" {
			path += "&after=" + after
		}
		res := e.request(http.MethodGet, path, e.platformToken(), nil)
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
		items := decode[api.TicketList](t, res.Body).Items
		all = append(all, items...)
		if len(items) < page {
			return all
		}
		after = items[len(items)-1].Ticket
	}
}
