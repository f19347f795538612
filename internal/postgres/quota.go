package postgres

import (
	"context"

	"github.com/google/uuid"
)

// QuotaTake is one use of a holder's quota in a scope (round:<id>,
// tier:<id>, category:<code>) that allows Limit uses.
type QuotaTake struct {
	CampaignID uuid.UUID
	Holder     [32]byte
	Scope      string
	Limit      int
}

// TakeQuotas uses one unit of each quota in one statement and reports which
// were within their limit. Each (campaign, holder, scope) may appear once per
// call. Callers pass them sorted so concurrent batches lock rows in one order.
func TakeQuotas(ctx context.Context, q Querier, takes []QuotaTake) ([]bool, error) {
	if len(takes) == 0 {
		return nil, nil
	}
	camps, holders, scopes, limits := quotaArrays(takes)
	rows, err := q.Query(ctx, `INSERT INTO holder_quota AS h (campaign_id, holder_hash, scope, used, lim)
		SELECT c, hh, s, 1, l FROM unnest($1::uuid[], $2::bytea[], $3::text[], $4::int[]) WITH ORDINALITY AS t(c, hh, s, l, n)
		ORDER BY n
		ON CONFLICT (campaign_id, holder_hash, scope) DO UPDATE SET used = h.used + 1 WHERE h.used < h.lim
		RETURNING h.campaign_id, h.holder_hash, h.scope`, camps, holders, scopes, limits)
	if err != nil {
		return nil, err
	}
	type key struct {
		c uuid.UUID
		h string
		s string
	}
	ok := map[key]bool{}
	for rows.Next() {
		var k key
		var h []byte
		if err := rows.Scan(&k.c, &h, &k.s); err != nil {
			rows.Close()
			return nil, err
		}
		k.h = string(h)
		ok[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]bool, len(takes))
	for i, t := range takes {
		out[i] = ok[key{t.CampaignID, string(t.Holder[:]), t.Scope}]
	}
	return out, nil
}

// ReturnQuotas gives back units taken in this transaction by claims that did
// not go through (sold out, or another scope's limit reached).
func ReturnQuotas(ctx context.Context, q Querier, takes []QuotaTake) error {
	if len(takes) == 0 {
		return nil
	}
	camps, holders, scopes, _ := quotaArrays(takes)
	_, err := q.Exec(ctx, `UPDATE holder_quota h SET used = h.used - 1
		FROM unnest($1::uuid[], $2::bytea[], $3::text[]) AS t(c, hh, s)
		WHERE h.campaign_id = t.c AND h.holder_hash = t.hh AND h.scope = t.s`, planEachRun(camps, holders, scopes)...)
	return err
}

func quotaArrays(takes []QuotaTake) ([]uuid.UUID, [][]byte, []string, []int32) {
	camps, holders, scopes, limits := make([]uuid.UUID, len(takes)), make([][]byte, len(takes)), make([]string, len(takes)), make([]int32, len(takes))
	for i, t := range takes {
		camps[i], holders[i], scopes[i], limits[i] = t.CampaignID, append([]byte(nil), t.Holder[:]...), t.Scope, int32(t.Limit)
	}
	return camps, holders, scopes, limits
}
