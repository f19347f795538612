package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/audit"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
)

// newIssuanceEnv is an issuer env whose issuance service shares its clock.
func newIssuanceEnv(t testing.TB) (*issuerEnv, *issuance.Service) {
	db := pgtest.New(t)
	clk := newClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	hasher, err := holder.NewHasher([]byte(strings.Repeat("h", 32)))
	require.NoError(t, err)
	is := issuance.New(db.Pool, issuance.Options{Now: clk.Now, Hasher: hasher})
	t.Cleanup(is.Close)
	svc := issuer.New(db.Pool, clk.Now)
	h := newHarness(t, Config{Pool: db.Pool, Issuer: svc, Issuance: is, Audit: audit.New(db.Pool, hasher)})
	return &issuerEnv{harness: h, db: db, clock: clk, svc: svc}, is
}

func testIDNumber(n int) string {
	first := fmt.Sprintf("31010419900101%03d", n)
	c, _ := holder.CheckChar(first)
	return first + string(c)
}

// liveRoundCampaign is an active consumption campaign with a round of qty open.
func liveRoundCampaign(t testing.TB, e *issuerEnv, is *issuance.Service, qty int) string {
	m := consumptionCampaign()
	rules := m["rules"].(map[string]any)
	rules["releases"] = []any{map[string]any{"id": "launch", "tier_id": "200-50", "quantity": qty, "opens_at": "2026-12-04T10:00:00+08:00"}}
	c := e.create(t, m)
	e.act(t, e.manager("alice"), c.ID, "submit", http.StatusOK)
	e.act(t, e.approver("bob"), c.ID, "approve", http.StatusOK)
	e.clock.Set(time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC))
	e.act(t, e.manager("alice"), c.ID, "activate", http.StatusOK)
	_, err := is.OpenDueRounds(context.Background())
	require.NoError(t, err)
	return c.ID
}

func (e *issuerEnv) claim(t testing.TB, campaignID, key, body string) response {
	req := httptest.NewRequest(http.MethodPost, "/v1/campaigns/"+campaignID+"/claims", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.platformToken())
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return e.do(req)
}

func claimBody(n int, tier string) string {
	return fmt.Sprintf(`{"holder":{"id_number":%q,"residence_region":"310104","real_name_verified":true},"tier_id":%q}`, testIDNumber(n), tier)
}

func TestClaimOverHTTP(t *testing.T) {
	e, is := newIssuanceEnv(t)
	id := liveRoundCampaign(t, e, is, 2)

	first := e.claim(t, id, "order-1", claimBody(1, "200-50"))
	require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
	assert.Contains(t, string(first.Body), `"discount_fen":5000`)
	assert.NotContains(t, string(first.Body), testIDNumber(1), "the ID number never comes back")

	replay := e.claim(t, id, "order-1", claimBody(1, "200-50"))
	assert.Equal(t, http.StatusCreated, replay.Status)
	assert.Equal(t, "true", replay.Header.Get("Idempotency-Replayed"))
	assert.True(t, bytes.Equal(first.Body, replay.Body), "a replay is byte for byte the first answer")

	reused := e.claim(t, id, "order-1", claimBody(2, "200-50"))
	assert.Equal(t, http.StatusUnprocessableEntity, reused.Status)
	assert.Equal(t, "IDEMPOTENCY_KEY_REUSED", reused.errorCode(t))

	missing := e.claim(t, id, "", claimBody(2, "200-50"))
	assert.Equal(t, http.StatusBadRequest, missing.Status)
	assert.Equal(t, "IDEMPOTENCY_KEY_REQUIRED", missing.errorCode(t))

	again := e.claim(t, id, "order-2", claimBody(1, "200-50"))
	assert.Equal(t, http.StatusConflict, again.Status)
	assert.Equal(t, "HOLDER_LIMIT_REACHED", again.errorCode(t))

	badID := e.claim(t, id, "order-3", `{"holder":{"id_number":"310104199001010010","real_name_verified":true},"tier_id":"200-50"}`)
	assert.Equal(t, http.StatusBadRequest, badID.Status)
	assert.Contains(t, string(badID.Body), `"holder.id_number"`)
	assert.NotContains(t, string(badID.Body), "310104199001010010")

	unverified := e.claim(t, id, "order-4", `{"holder":{"id_number":"`+testIDNumber(3)+`","residence_region":"310104"},"tier_id":"200-50"}`)
	assert.Equal(t, http.StatusForbidden, unverified.Status)
	assert.Equal(t, "HOLDER_NOT_ELIGIBLE", unverified.errorCode(t))

	require.Equal(t, http.StatusCreated, e.claim(t, id, "order-5", claimBody(4, "200-50")).Status)
	sold := e.claim(t, id, "order-6", claimBody(5, "200-50"))
	assert.Equal(t, http.StatusConflict, sold.Status)
	assert.Equal(t, "ROUND_SOLD_OUT", sold.errorCode(t))
	// A claim's key is not read before the claim (keyFirst), but an answer
	// from memory reads it first: a retry of a won claim is still replayed
	// once the round is sold out, and a reused key still refused as such.
	late := e.claim(t, id, "order-1", claimBody(1, "200-50"))
	assert.Equal(t, http.StatusCreated, late.Status, "%s", late.Body)
	assert.Equal(t, "true", late.Header.Get("Idempotency-Replayed"))
	assert.True(t, bytes.Equal(first.Body, late.Body))
	lateReused := e.claim(t, id, "order-5", claimBody(6, "200-50"))
	assert.Equal(t, http.StatusUnprocessableEntity, lateReused.Status, "%s", lateReused.Body)
	assert.Equal(t, "IDEMPOTENCY_KEY_REUSED", lateReused.errorCode(t))

	// Rounds show live stock; the wallet lists the holder's vouchers.
	res := e.request(http.MethodGet, "/v1/campaigns/"+id+"/rounds", e.platformToken(), nil)
	require.Equal(t, http.StatusOK, res.Status)
	assert.Contains(t, string(res.Body), `"claimed":2`)
	assert.Contains(t, string(res.Body), `"remaining":0`)

	req := httptest.NewRequest(http.MethodPost, "/v1/wallet", strings.NewReader(`{"holder":{"id_number":"`+testIDNumber(1)+`"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.platformToken())
	req.Header.Set("Idempotency-Key", "wallet-1")
	res = e.do(req)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	assert.Equal(t, 1, strings.Count(string(res.Body), `"code"`))
}

// Concurrent duplicates (a platform retrying before the first answer came)
// have one effect and all get the first answer's bytes.
func TestConcurrentDuplicateClaimsHaveOneEffect(t *testing.T) {
	e, is := newIssuanceEnv(t)
	id := liveRoundCampaign(t, e, is, 10)
	const n = 12
	bodies := make(chan response, n)
	for i := 0; i < n; i++ {
		go func() { bodies <- e.claim(t, id, "same-order", claimBody(9, "200-50")) }()
	}
	var first []byte
	for i := 0; i < n; i++ {
		r := <-bodies
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		if first == nil {
			first = r.Body
		}
		assert.True(t, bytes.Equal(first, r.Body))
	}
	assert.Equal(t, 1, e.count(t, "vouchers"))
}

// Bad claims are 4xx with their code and write nothing.
func TestBadClaimsWriteNothing(t *testing.T) {
	e, is := newIssuanceEnv(t)
	id := liveRoundCampaign(t, e, is, 5)
	bad := []struct{ name, key, body, code string }{
		{"unknown tier", "b-1", claimBody(1, "999-1"), "VALIDATION_FAILED"},
		{"bad check character", "b-2", `{"holder":{"id_number":"310104199001010010","real_name_verified":true},"tier_id":"200-50"}`, "VALIDATION_FAILED"},
		{"malformed", "b-3", `{"holder":`, "MALFORMED_JSON"},
		{"missing key", "", claimBody(1, "200-50"), "IDEMPOTENCY_KEY_REQUIRED"},
		{"unknown field", "b-4", `{"holder":{"id_number":"` + testIDNumber(1) + `","real_name_verified":true},"tier_id":"200-50","bonus":1}`, "VALIDATION_FAILED"},
	}
	for _, b := range bad {
		res := e.claim(t, id, b.key, b.body)
		assert.Equal(t, http.StatusBadRequest, res.Status, "%s: %s", b.name, res.Body)
		assert.Equal(t, b.code, res.errorCode(t), b.name)
	}
	// A closed round: move past the campaign's end, close rounds.
	e.clock.Set(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC))
	_, err := e.svc.Tick(context.Background())
	require.NoError(t, err)
	_, err = is.CloseDueRounds(context.Background())
	require.NoError(t, err)
	res := e.claim(t, id, "b-5", claimBody(1, "200-50"))
	assert.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	assert.Equal(t, 0, e.count(t, "vouchers"))
	assert.Equal(t, 0, e.count(t, "idempotency_keys"))
}
