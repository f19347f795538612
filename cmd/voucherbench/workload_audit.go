package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

type auditPage struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"next_cursor"`
	Totals     struct {
		Count int64 `json:"count"`
	} `json:"totals"`
}

// auditQuery: auditors page through filtered redemption history and export
// it; the export of a filter has as many rows as its totals say. With no
// history yet it first leaves a small one (a redeem-mix of 200).
func auditQuery(ctx context.Context, b *bench) error {
	all, err := b.auditPage(ctx, url.Values{"limit": {"1"}}, "")
	if err != nil {
		return err
	}
	if all.Totals.Count == 0 {
		seed := &bench{opt: b.opt, env: b.env, rec: newRecorder(), db: b.db,
			shape: loadShape{clients: 16, count: 200, duration: time.Minute}}
		seed.opt.stock = 200
		if err := redeemMix(ctx, seed); err != nil {
			return fmt.Errorf("leaving a history to query: %w", err)
		}
		b.note("no history: a redeem-mix of 200 left one")
	}
	filters := []url.Values{
		{},
		{"status": {"confirmed"}},
		{"payment_channel": {"alipay"}},
		{"platform_id": {b.env.platforms[0].id}},
		{"status": {"refunded"}, "merchant_region": {"31"}},
		{"from": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}},
	}
	_, b.elapsed = drive(ctx, b.shape, func(ctx context.Context, i int, scheduled time.Time) {
		q := url.Values{"limit": {"100"}}
		for k, v := range filters[i%len(filters)] {
			q[k] = v
		}
		cursor := ""
		started := scheduled
		for range 5 { // the first pages, as a person browsing would
			p, err := b.auditPageOp(ctx, q, cursor, started)
			if err != nil || p.NextCursor == "" {
				return
			}
			cursor, started = p.NextCursor, time.Now()
		}
	})
	for _, f := range filters[:3] {
		f := f
		b.checks = append(b.checks, func(ctx context.Context) invariant { return b.exportMatches(ctx, f) })
	}
	return nil
}

func (b *bench) auditPage(ctx context.Context, q url.Values, cursor string) (auditPage, error) {
	return b.auditPageOp(ctx, q, cursor, time.Time{})
}

// auditPageOp fetches one page, measured under "page" unless started is zero.
func (b *bench) auditPageOp(ctx context.Context, q url.Values, cursor string, started time.Time) (auditPage, error) {
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = v
	}
	if cursor != "" {
		q2.Set("cursor", cursor)
	}
	r := jsonRequest(http.MethodGet, "/v1/audit/redemptions?"+q2.Encode(), b.env.aud, "", nil)
	var got reply
	var err error
	if started.IsZero() {
		got, err = b.env.c.do(ctx, r)
	} else {
		got, err = b.call(ctx, "page", started, r)
	}
	var p auditPage
	if err != nil {
		return p, err
	}
	if got.status != http.StatusOK {
		return p, fmt.Errorf("audit page: %d %s", got.status, truncate(got.body, 300))
	}
	return p, json.Unmarshal(got.body, &p)
}

// exportMatches streams the export of a filter and compares its rows with
// the totals of the same filter; measured under "export".
func (b *bench) exportMatches(ctx context.Context, f url.Values) invariant {
	name := "export matches totals"
	if len(f) > 0 {
		name += " (" + f.Encode() + ")"
	}
	totals, err := b.auditPage(ctx, mergeValues(f, url.Values{"limit": {"1"}}), "")
	if err != nil {
		return fail(name, "%v", err)
	}
	q := mergeValues(f, url.Values{"format": {"ndjson"}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.env.c.base+"/v1/audit/redemptions/export?"+q.Encode(), nil)
	if err != nil {
		return fail(name, "%v", err)
	}
	tok, err := b.env.aud()
	if err != nil {
		return fail(name, "%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	start := time.Now()
	resp, err := b.env.c.stream.Do(req)
	if err != nil {
		b.rec.record("export", start, "NETWORK")
		return fail(name, "%v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.rec.record("export", start, fmt.Sprintf("HTTP_%d", resp.StatusCode))
		return fail(name, "export: %d", resp.StatusCode)
	}
	var rows int64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) > 0 {
			rows++
		}
	}
	if err := sc.Err(); err != nil {
		b.rec.record("export", start, "NETWORK")
		return fail(name, "reading the export: %v", err)
	}
	b.rec.record("export", start, "")
	// Redemptions may be created between the two reads by other traffic:
	// the export, read second, may only have more.
	if rows < totals.Totals.Count {
		return fail(name, "the export has %d rows, the totals say %d", rows, totals.Totals.Count)
	}
	return pass(name, "%d rows exported, totals %d, in %s", rows, totals.Totals.Count, time.Since(start).Round(time.Millisecond))
}

func mergeValues(a, b url.Values) url.Values {
	out := url.Values{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
