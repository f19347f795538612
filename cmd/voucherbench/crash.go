package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/auth"
)

// crashEvent is one kill (or the database drill) and how long the service
// took to answer again.
type crashEvent struct {
	What      string  `json:"what"`
	AtAcked   int64   `json:"at_acknowledged"`
	RecoveryS float64 `json:"recovery_s"`
}

type crashResult struct {
	result
	Events       []crashEvent `json:"events"`
	Acknowledged int64        `json:"acknowledged"`
	Lost         int64        `json:"lost"`
	MaxRecoveryS float64      `json:"max_recovery_s"`
}

func crashCommand(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("voucherbench crash", flag.ContinueOnError)
	bin := fs.String("voucherd", "", "the voucherd binary to start, kill and restart")
	data := fs.String("data-dir", "", "voucherd's data folder (embedded PostgreSQL); created if missing")
	kills := fs.Int("kills", 3, "SIGKILLs of voucherd during the load (the first during claims)")
	duration := fs.Duration("duration", 5*time.Minute, "stop starting operations after this long")
	holders := fs.Int("holders", 2000, "holders: each claims a voucher, then reserves and confirms it")
	clients := fs.Int("clients", 16, "concurrent clients")
	jsonPath := fs.String("json", "", "also write the result as JSON to this file")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "random seed (where the kills fall)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *bin == "" || *data == "" || *kills < 1 || *holders < 10 || *clients < 1 {
		fmt.Fprintf(os.Stderr, "--voucherd and --data-dir are required; --kills ≥ 1, --holders ≥ 10, --clients ≥ 1\n%s", usage)
		return exitUsage
	}
	abs, err := filepath.Abs(*data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitUsage
	}
	o := options{clients: *clients, duration: *duration, holders: *holders, stock: *holders, seed: *seed,
		callLimit: 2 * time.Minute, sealWait: 90 * time.Second}
	res, err := crashDrill(ctx, o, *bin, abs, *kills)
	if err != nil {
		fmt.Fprintf(os.Stderr, "voucherbench crash: %v\n", err)
		return exitUsage
	}
	res.print(os.Stdout)
	for _, e := range res.Events {
		fmt.Printf("  %s at %d acknowledged operations: answering again after %.2f s\n", e.What, e.AtAcked, e.RecoveryS)
	}
	fmt.Printf("  %d operations acknowledged, %d lost; slowest recovery %.2f s\n", res.Acknowledged, res.Lost, res.MaxRecoveryS)
	if err := writeJSON(*jsonPath, res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitUsage
	}
	if !res.OK {
		return exitInvariant
	}
	return exitOK
}

// crashDrill: claims, then reserve + confirm, under a closed-loop load
// while voucherd is SIGKILLed and restarted and, once, PostgreSQL is
// stopped immediately (voucherd starts it again). Clients retry with the
// same keys.
func crashDrill(ctx context.Context, o options, bin, data string, kills int) (*crashResult, error) {
	if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	srv := &voucherd{bin: bin, data: data, addr: addr, logs: &tailBuffer{}}
	if err := srv.launch(); err != nil {
		return nil, err
	}
	defer srv.stop()
	keys, err := auth.LoadDevKeys(data)
	if err != nil {
		return nil, err
	}
	b := &bench{opt: o, rec: newRecorder(), shape: loadShape{clients: o.clients, duration: o.duration, count: o.holders}}
	c := newClient("http://"+addr, keys, o.clients, o.callLimit)
	if b.env, err = newEnv(ctx, c); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	n := o.holders
	camp, err := b.env.newCampaign(ctx, campaignSpec{kind: "consumption", stock: n, budgetFen: int64(n) * discountFen})
	if err != nil {
		return nil, err
	}

	// The schedule, in acknowledged operations out of 3n (claim, reserve,
	// confirm per holder): the first kill among the claims, the others
	// spread over the redemptions, the database drill last.
	rng := rand.New(rand.NewPCG(o.seed, 7))
	total := float64(3 * n)
	type planned struct {
		what string
		at   int64
	}
	plan := []planned{{"SIGKILL voucherd", int64((0.10 + 0.15*rng.Float64()) * total)}}
	for k := 1; k < kills; k++ {
		lo := 0.40 + 0.40*float64(k-1)/float64(kills-1)
		hi := 0.40 + 0.40*float64(k)/float64(kills-1)
		plan = append(plan, planned{"SIGKILL voucherd", int64((lo + (hi-lo)*rng.Float64()) * total)})
	}
	plan = append(plan, planned{"pg_ctl stop -m immediate", int64((0.86 + 0.08*rng.Float64()) * total)})

	var (
		acked    atomic.Int64
		finished atomic.Bool
		events   []crashEvent
		drillErr error
	)
	killer := make(chan struct{})
	go func() {
		defer close(killer)
		for _, p := range plan {
			for acked.Load() < p.at {
				if finished.Load() {
					drillErr = fmt.Errorf("the load ended at %d acknowledged operations, before %s at %d", acked.Load(), p.what, p.at)
					return
				}
				time.Sleep(time.Millisecond)
			}
			at := acked.Load()
			down := time.Now()
			if p.what == "SIGKILL voucherd" {
				if drillErr = srv.kill(); drillErr != nil {
					return
				}
				if drillErr = srv.launch(); drillErr != nil {
					return
				}
			} else {
				if drillErr = srv.stopPostgres(); drillErr != nil {
					return
				}
				if drillErr = srv.waitReady(nil, time.Now().Add(90*time.Second)); drillErr != nil {
					return
				}
			}
			events = append(events, crashEvent{What: p.what, AtAcked: at, RecoveryS: round3(time.Since(down).Seconds())})
		}
	}()

	claims := newClaimAcks()
	vouchers := make([]heldVoucher, n)
	path := "/v1/campaigns/" + camp.id + "/claims"
	start := time.Now()
	drive(ctx, b.shape, func(ctx context.Context, i int, scheduled time.Time) {
		p := b.env.platforms[i%2]
		r, err := b.call(ctx, "claim", scheduled, jsonRequest(http.MethodPost, path, p.token, fmt.Sprintf("claim-%d", i), claimBody(i)))
		if err != nil || !r.ok() {
			return
		}
		claims.add(i, r.body)
		var v struct{ Code string }
		if json.Unmarshal(r.body, &v) == nil {
			vouchers[i] = heldVoucher{holder: i, code: v.Code, plat: p}
			acked.Add(1)
		}
	})
	reds := &redemptionAcks{byID: map[string]redAck{}}
	items := []map[string]any{{"sku": "rice-cooker", "category": "appliances", "unit_price_fen": orderFen, "quantity": 1}}
	var confirmsMu sync.Mutex
	confirms := map[string]reply{} // the first acknowledged confirms, replayed at the end
	redeemShape := b.shape
	redeemShape.duration = max(o.duration-time.Since(start), time.Second)
	drive(ctx, redeemShape, func(ctx context.Context, i int, scheduled time.Time) {
		v := vouchers[i]
		if v.code == "" {
			return
		}
		res, err := b.call(ctx, "reserve", scheduled, jsonRequest(http.MethodPost, "/v1/redemptions", v.plat.token, "res-"+v.code, reserveBody(v, orderFen, items)))
		if err != nil || !res.ok() {
			return
		}
		var red struct{ ID string }
		if json.Unmarshal(res.body, &red) != nil {
			return
		}
		acked.Add(1)
		reds.put(redAck{id: red.ID, voucher: v.code, plat: v.plat, state: "reserved"})
		conf := jsonRequest(http.MethodPost, "/v1/redemptions/"+red.ID+"/confirm", v.plat.token, "con-"+v.code, confirmBody(v.code, paidFen))
		r, err := b.call(ctx, "confirm", time.Now(), conf)
		if err != nil || !r.ok() {
			return
		}
		acked.Add(1)
		reds.put(redAck{id: red.ID, voucher: v.code, plat: v.plat, state: "confirmed"})
		confirmsMu.Lock()
		if len(confirms) < 200 {
			confirms[red.ID] = r
		}
		confirmsMu.Unlock()
	})
	b.elapsed = time.Since(start)
	finished.Store(true)
	<-killer

	// Late retries of acknowledged confirms replay the acknowledged answer.
	for id, first := range confirms {
		var a redAck
		reds.mu.Lock()
		a = reds.byID[id]
		reds.mu.Unlock()
		again, err := c.do(ctx, jsonRequest(http.MethodPost, "/v1/redemptions/"+id+"/confirm", a.plat.token, "con-"+a.voucher, confirmBody(a.voucher, paidFen)))
		b.sameAnswer("confirm "+id+" after the crashes", first, again, err)
	}

	dsn, err := srv.databaseURL()
	if err != nil {
		return nil, err
	}
	if b.db, err = openReadDB(ctx, dsn); err != nil {
		return nil, fmt.Errorf("read-only SQL: %w", err)
	}
	defer b.db.close()
	b.checks = append(b.checks,
		func(ctx context.Context) invariant {
			if drillErr != nil {
				return fail("crash drill ran", "%v; voucherd's output ends:\n%s", drillErr, tail(srv.logs.String(), 4000))
			}
			return pass("crash drill ran", "%d kills of voucherd and one immediate stop of PostgreSQL; voucherd started %d times", kills, srv.runs)
		},
		func(ctx context.Context) invariant { return b.everyOperationAcknowledged(n, claims, reds) },
		func(ctx context.Context) invariant { return b.roundStock(ctx, camp) },
		func(ctx context.Context) invariant { return b.claimsExist(ctx, camp, claims) },
		func(ctx context.Context) invariant { return b.holderLimits(ctx, camp.id, claims, 1) },
		func(ctx context.Context) invariant { return b.oneConfirmed(ctx, camp.id, reds) },
		func(ctx context.Context) invariant { return b.redemptionsExist(ctx, reds) },
		b.replayInvariant,
	)
	res := &crashResult{result: *b.result(ctx, "crash")}
	res.Events = events
	claims.mu.Lock()
	res.Acknowledged = int64(len(claims.byID))
	claims.mu.Unlock()
	for _, r := range reds.list() {
		res.Acknowledged++ // the reserve
		if r.state == "confirmed" {
			res.Acknowledged++
		}
	}
	if res.Lost, err = b.lost(ctx, claims, reds); err != nil {
		return nil, err
	}
	for _, e := range events {
		res.MaxRecoveryS = max(res.MaxRecoveryS, e.RecoveryS)
	}
	return res, nil
}

// lost counts acknowledged operations missing from the database: claimed
// vouchers absent, redemptions absent or short of their acknowledged state.
func (b *bench) lost(ctx context.Context, claims *claimAcks, reds *redemptionAcks) (int64, error) {
	claims.mu.Lock()
	ids := make([]string, 0, len(claims.byID))
	for id := range claims.byID {
		ids = append(ids, id)
	}
	claims.mu.Unlock()
	var redIDs, confirmedIDs []string
	for _, r := range reds.list() {
		redIDs = append(redIDs, r.id)
		if r.state == "confirmed" {
			confirmedIDs = append(confirmedIDs, r.id)
		}
	}
	var vouchers, redemptions, confirmed int64
	err := b.db.read(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM vouchers WHERE id = ANY($1::uuid[])`, ids).Scan(&vouchers); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM redemptions WHERE id = ANY($1::uuid[])`, redIDs).Scan(&redemptions); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM redemptions WHERE id = ANY($1::uuid[]) AND status = 'confirmed'`, confirmedIDs).Scan(&confirmed)
	})
	return int64(len(ids)) - vouchers + int64(len(redIDs)) - redemptions + int64(len(confirmedIDs)) - confirmed, err
}

// everyOperationAcknowledged: with retries on the same keys every claim,
// reserve and confirm ends in a 2xx despite the crashes.
func (b *bench) everyOperationAcknowledged(n int, claims *claimAcks, reds *redemptionAcks) invariant {
	const name = "every operation acknowledged"
	claims.mu.Lock()
	claimed := len(claims.byID)
	claims.mu.Unlock()
	confirmed := 0
	all := reds.list()
	for _, r := range all {
		if r.state == "confirmed" {
			confirmed++
		}
	}
	if claimed != n || len(all) != n || confirmed != n {
		return fail(name, "of %d holders: %d claims, %d reserves, %d confirms acknowledged (see the answers by code)", n, claimed, len(all), confirmed)
	}
	return pass(name, "%d claims, reserves and confirms each", n)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
