package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/pgembed"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/registry"
)

// TestCheckoutSurvivesKill9 runs the real binary on its embedded PostgreSQL
// (fsync on) under a reserve/confirm load and SIGKILLs it several times,
// restarting it on the same data folder, and once SIGKILLs its PostgreSQL
// server (which voucherd starts again by itself), while clients retry every failed
// call with the same Idempotency-Key. Afterwards every acknowledged confirm is
// there, no voucher is redeemed twice, replays answer what was first
// answered, and the ledger and audit chain check out.
func TestCheckoutSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary and kills it")
	}
	const (
		holders   = 300
		workers   = 16
		kills     = 4 // three of voucherd, one of PostgreSQL
		discount  = 5000
		amount    = 30000
		paid      = amount - discount
		callLimit = 60 * time.Second // per call, retries included
	)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	t.Logf("seed %d", seed)

	bin, data := buildVoucherd(t), dataDir(t)
	srv := &crashServer{bin: bin, data: data, addr: freeAddr(t), logs: &syncBuffer{}}
	t.Cleanup(srv.kill)
	require.NoError(t, srv.launch(), "first start")
	defer func() {
		if t.Failed() {
			t.Logf("voucherd output (last 20000 bytes):\n%s", tail(srv.logs.String(), 20000))
		}
	}()

	keys, err := auth.LoadDevKeys(data)
	require.NoError(t, err)
	c := &crashClient{base: "http://" + srv.addr, keys: keys, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2 * workers},
	}}
	alice, bob, carol := c.person("alice", auth.RoleCampaignManager), c.person("bob", auth.RoleApprover), c.person("carol", auth.RoleAuditor)
	platform := c.platform()

	// --- Setup through the public API. ---
	campaignID := c.liveCampaign(t, data, "Crash test", 10_000_000, 400, alice, bob, platform)

	// Claim one voucher for each holder.
	type voucher struct{ code, idNumber string }
	vouchers := make([]voucher, holders)
	ids := make([]string, holders)
	for i := range ids {
		ids[i] = idNumber(t, i)
	}
	forEach(holders, workers, func(i int) {
		id := ids[i]
		r, err := c.call(http.MethodPost, "/v1/campaigns/"+campaignID+"/claims", platform, fmt.Sprintf("claim-%d", i), map[string]any{
			"holder":  map[string]any{"id_number": id, "residence_region": "310104", "real_name_verified": true},
			"tier_id": "200-50",
		}, callLimit)
		if !assert.NoError(t, err) || !assert.Equal(t, http.StatusCreated, r.status, "claim %d: %s", i, r.body) {
			return
		}
		var v struct{ Code string }
		if assert.NoError(t, json.Unmarshal(r.body, &v)) {
			vouchers[i] = voucher{code: v.Code, idNumber: id}
		}
	})
	require.False(t, t.Failed(), "claims failed")
	setupRetries := c.netRetries.Load() + c.serverRetries.Load()

	// --- Load with crashes. ---
	type ack struct {
		code, reservationID, confirmID string
		body                           []byte
		replayed                       bool
	}
	var (
		mu             sync.Mutex
		acks           = map[string]ack{} // by voucher code
		failures       []string
		acked          atomic.Int64 // acknowledged reserves and confirms
		abort          atomic.Bool
		replayedAcks   atomic.Int64
		reserveReplays atomic.Int64
	)
	fail := func(format string, args ...any) {
		abort.Store(true)
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	totalOps := int64(2 * holders)

	// The killer: SIGKILL at a random point inside each of these stretches of
	// the load (fractions of acknowledged operations), then restart. One kill
	// is of the PostgreSQL server instead, as the OOM killer would do it:
	// voucherd starts it again by itself.
	type killRecord struct {
		what     string
		at       int64
		downtime time.Duration
	}
	var killLog []killRecord
	killerDone := make(chan error, 1)
	go func() {
		stretches := []struct {
			lo, hi float64
			what   string
		}{{0.10, 0.25, "voucherd"}, {0.35, 0.50, "voucherd"}, {0.55, 0.70, "postgres"}, {0.75, 0.90, "voucherd"}}
		for _, s := range stretches {
			at := int64((s.lo + rng.Float64()*(s.hi-s.lo)) * float64(totalOps))
			for acked.Load() < at {
				if abort.Load() {
					killerDone <- errors.New("load aborted before the kills were done")
					return
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			when := acked.Load()
			down := time.Now()
			if s.what == "postgres" {
				if err := srv.crashPostgres(); err != nil {
					killerDone <- fmt.Errorf("kill of PostgreSQL at %d acknowledged operations: %w", when, err)
					return
				}
			} else {
				if err := srv.crash(); err != nil {
					killerDone <- err
					return
				}
				if err := srv.launch(); err != nil {
					killerDone <- fmt.Errorf("restart after kill at %d acknowledged operations: %w", when, err)
					return
				}
			}
			killLog = append(killLog, killRecord{what: s.what, at: when, downtime: time.Since(down)})
		}
		killerDone <- nil
	}()

	loadStart := time.Now()
	forEach(holders, workers, func(i int) {
		if abort.Load() {
			return
		}
		v := vouchers[i]
		res, err := c.call(http.MethodPost, "/v1/redemptions", platform, "res-"+v.code, reserveBody(v.code, v.idNumber, amount), callLimit)
		if err != nil {
			fail("reserve %s: %v", v.code, err)
			return
		}
		if res.status != http.StatusCreated {
			fail("reserve %s: %d %s", v.code, res.status, res.body)
			return
		}
		if res.replayed {
			reserveReplays.Add(1)
		}
		var red struct{ ID, Status string }
		if err := json.Unmarshal(res.body, &red); err != nil || red.Status != "reserved" {
			fail("reserve %s: unexpected answer %s", v.code, res.body)
			return
		}
		acked.Add(1)
		conf, err := c.call(http.MethodPost, "/v1/redemptions/"+red.ID+"/confirm", platform, "conf-"+v.code, confirmBody(v.code, paid), callLimit)
		if err != nil {
			fail("confirm %s (%s): %v", v.code, red.ID, err)
			return
		}
		if conf.status != http.StatusOK {
			fail("confirm %s (%s): %d %s", v.code, red.ID, conf.status, conf.body)
			return
		}
		var done struct{ ID, Status string }
		if err := json.Unmarshal(conf.body, &done); err != nil || done.Status != "confirmed" {
			fail("confirm %s: unexpected answer %s", v.code, conf.body)
			return
		}
		if conf.replayed {
			replayedAcks.Add(1)
		}
		mu.Lock()
		acks[v.code] = ack{code: v.code, reservationID: red.ID, confirmID: done.ID, body: conf.body, replayed: conf.replayed}
		mu.Unlock()
		acked.Add(1)
	})
	loadTime := time.Since(loadStart)
	abort.Store(true) // releases the killer if it still waits
	killErr := <-killerDone
	require.Empty(t, failures, "every reserve and confirm is acknowledged, with 2xx")
	require.NoError(t, killErr)
	require.Len(t, killLog, kills)
	require.Len(t, acks, holders)
	assert.Zero(t, c.internal.Load(), "a database that is down or restarting is answered 503 UNAVAILABLE, never 500")
	for _, s := range c.samples {
		t.Logf("retried after: %s", s)
	}
	for _, k := range killLog {
		t.Logf("killed %s at %d/%d acknowledged operations; back after %s", k.what, k.at, totalOps, k.downtime.Round(time.Millisecond))
	}
	t.Logf("load: %d confirms acknowledged in %s; %d kills; retries: %d network errors, %d 5xx/429 (setup %d); replayed answers: %d reserves, %d confirms",
		len(acks), loadTime.Round(time.Millisecond), len(killLog), c.netRetries.Load(), c.serverRetries.Load(), setupRetries,
		reserveReplays.Load(), replayedAcks.Load())

	// --- Afterwards, through the API. ---
	rk, err := c.call(http.MethodGet, "/.well-known/tongquan-receipt-keys", nil, "", nil, callLimit)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, rk.status, "%s", rk.body)
	var receiptKeys struct{ Keys []redemption.JWK }
	require.NoError(t, json.Unmarshal(rk.body, &receiptKeys))

	byID := map[string]string{}
	for _, a := range acks {
		assert.Equal(t, a.reservationID, a.confirmID, "voucher %s: the confirm answers the reserved redemption", a.code)
		if other, dup := byID[a.confirmID]; dup {
			t.Errorf("redemption %s acknowledged for vouchers %s and %s", a.confirmID, other, a.code)
		}
		byID[a.confirmID] = a.code

		got, err := c.call(http.MethodGet, "/v1/redemptions/"+a.confirmID, platform, "", nil, callLimit)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, got.status, "%s", got.body)
		var now, then redemptionView
		require.NoError(t, json.Unmarshal(got.body, &now))
		require.NoError(t, json.Unmarshal(a.body, &then))
		assert.Equal(t, "confirmed", now.Status, "acknowledged confirm of %s", a.code)
		assert.Equal(t, a.code, now.VoucherCode)
		assert.Equal(t, then.Receipt, now.Receipt, "voucher %s: the stored receipt is the acknowledged one", a.code)
		assert.True(t, then.ConfirmedAt != nil && now.ConfirmedAt != nil && then.ConfirmedAt.Equal(*now.ConfirmedAt),
			"voucher %s: confirmed_at %v, acknowledged %v", a.code, now.ConfirmedAt, then.ConfirmedAt)
		if assert.NotNil(t, now.Receipt, a.code) {
			body, err := redemption.VerifyReceipt(*now.Receipt, receiptKeys.Keys)
			if assert.NoError(t, err, "receipt of %s", a.code) {
				assert.Equal(t, a.code, body.VoucherCode)
				assert.Equal(t, int64(paid), body.PaidFen)
			}
		}

		// A late retry replays the first answer byte for byte.
		again, err := c.call(http.MethodPost, "/v1/redemptions/"+a.confirmID+"/confirm", platform, "conf-"+a.code, confirmBody(a.code, paid), callLimit)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, again.status, "%s", again.body)
		assert.True(t, again.replayed, "a retried confirm of %s is a replay", a.code)
		assert.Equal(t, string(a.body), string(again.body), "voucher %s: the replayed confirm is the acknowledged answer", a.code)
	}
	for i, v := range vouchers[:20] { // and reserves replay the same redemption
		again, err := c.call(http.MethodPost, "/v1/redemptions", platform, "res-"+v.code, reserveBody(v.code, v.idNumber, amount), callLimit)
		require.NoError(t, err)
		assert.Equal(t, http.StatusCreated, again.status, "%d: %s", i, again.body)
		assert.True(t, again.replayed)
		var red struct{ ID string }
		require.NoError(t, json.Unmarshal(again.body, &red))
		assert.Equal(t, acks[v.code].confirmID, red.ID, "the replayed reserve of %s names the confirmed redemption", v.code)
	}

	// --- Read-only SQL against the embedded server. ---
	port, err := os.ReadFile(filepath.Join(data, "port"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%s/tongquan?sslmode=disable", strings.TrimSpace(string(port))))
	require.NoError(t, err)
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer tx.Rollback(context.Background())

	rows, err := tx.Query(ctx, `SELECT voucher_id::text, count(*) FROM redemptions WHERE status = 'confirmed' GROUP BY voucher_id HAVING count(*) > 1`)
	require.NoError(t, err)
	doubles, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var id string
		var n int64
		err := row.Scan(&id, &n)
		return fmt.Sprintf("voucher %s redeemed %d times", id, n), err
	})
	require.NoError(t, err)
	assert.Empty(t, doubles, "no voucher is redeemed twice")

	rows, err = tx.Query(ctx, `SELECT id::text, voucher_code, status FROM redemptions WHERE campaign_id::text = $1`, campaignID)
	require.NoError(t, err)
	type dbRedemption struct{ id, code, status string }
	stored, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (dbRedemption, error) {
		var d dbRedemption
		return d, row.Scan(&d.id, &d.code, &d.status)
	})
	require.NoError(t, err)
	confirmed := map[string]string{}
	perVoucher := map[string]int{}
	for _, d := range stored {
		perVoucher[d.code]++
		if d.status == "confirmed" {
			confirmed[d.id] = d.code
		}
	}
	assert.Equal(t, byID, confirmed, "the confirmed redemptions are exactly the acknowledged ones")
	for code, n := range perVoucher {
		assert.Equal(t, 1, n, "voucher %s has one redemption (a retried reserve replays, never reserves again)", code)
	}
	var redeemed int64
	require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM vouchers WHERE campaign_id::text = $1 AND status = 'redeemed'`, campaignID).Scan(&redeemed))
	assert.Equal(t, int64(len(acks)), redeemed, "every acknowledged voucher is redeemed")
	require.NoError(t, tx.Rollback(ctx))

	// A job lease taken by a killed voucherd stays until it expires (the job's
	// timeout): until then no restarted voucherd runs that job. Say so, and
	// give the audit sealer that long to catch up.
	sealBy := time.Now().Add(30 * time.Second)
	rows, err = conn.Query(ctx, `SELECT job, holder, expires_at FROM job_leases WHERE expires_at > clock_timestamp() ORDER BY job`)
	require.NoError(t, err)
	type lease struct {
		job, holder string
		expires     time.Time
	}
	leases, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lease, error) {
		var l lease
		return l, row.Scan(&l.job, &l.holder, &l.expires)
	})
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	livePID := "/" + strconv.Itoa(srv.current().cmd.Process.Pid) + "/"
	for _, l := range leases {
		if strings.Contains(l.holder, livePID) {
			continue
		}
		t.Logf("job %q is leased to killed voucherd %s for another %s: no voucherd runs it until then",
			l.job, l.holder, time.Until(l.expires).Round(time.Second))
		if l.job == "audit-seal" && l.expires.Add(10*time.Second).After(sealBy) {
			sealBy = l.expires.Add(10 * time.Second)
		}
	}

	// --- The ledger and the audit chain. ---
	r := c.mustCall(t, http.MethodGet, "/v1/campaigns/"+campaignID+"/budget", carol, "", nil, http.StatusOK)
	var b struct {
		Funded    int64 `json:"funded_fen"`
		Available int64 `json:"available_fen"`
		Allocated int64 `json:"allocated_fen"`
		Committed int64 `json:"committed_fen"`
		Held      int64 `json:"held_fen"`
		Payable   int64 `json:"payable_fen"`
		Settled   int64 `json:"settled_fen"`
	}
	require.NoError(t, json.Unmarshal(r.body, &b))
	t.Logf("budget: %s", r.body)
	assert.Equal(t, int64(discount*len(confirmed)), b.Payable, "payable = 50 yuan per confirmed redemption")
	assert.Zero(t, b.Held, "nothing is held once every reservation is confirmed")
	assert.Equal(t, b.Funded, b.Available+b.Allocated+b.Committed+b.Held+b.Payable+b.Settled,
		"funded = available + allocated + committed + held + payable + settled")

	var report struct {
		OK             bool              `json:"ok"`
		AuditBlocks    int64             `json:"audit_blocks"`
		AuditEvents    int64             `json:"audit_events"`
		UnsealedEvents int64             `json:"unsealed_events"`
		FirstFault     json.RawMessage   `json:"first_fault"`
		LedgerFaults   []json.RawMessage `json:"ledger_faults"`
	}
	var verifyBody []byte
	for {
		r = c.mustCall(t, http.MethodGet, "/v1/audit/verify", carol, "", nil, http.StatusOK)
		verifyBody = r.body
		require.NoError(t, json.Unmarshal(r.body, &report))
		if report.UnsealedEvents == 0 || time.Now().After(sealBy) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("audit verify: ok %v, %d blocks, %d events, %d unsealed", report.OK, report.AuditBlocks, report.AuditEvents, report.UnsealedEvents)
	assert.True(t, report.OK, "audit verify: %s", verifyBody)
	assert.Empty(t, report.LedgerFaults, "audit verify: %s", verifyBody)
	assert.Zero(t, report.UnsealedEvents, "every event is sealed: %s", verifyBody)

	// --- Ctrl-C: exit 0 and no PostgreSQL left. ---
	pg := postmasterPID(t, data)
	p := srv.current()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("voucherd did not stop within 60 s of SIGINT")
	}
	require.NoError(t, p.err, "exit status after SIGINT")
	waitGone(t, pg)
	t.Logf("voucherd started %d times (%d kills)", srv.runs, len(killLog))
}

// redemptionView is the part of a Redemption the test compares.
type redemptionView struct {
	Status      string              `json:"status"`
	VoucherCode string              `json:"voucher_code"`
	ConfirmedAt *time.Time          `json:"confirmed_at"`
	Receipt     *redemption.Receipt `json:"receipt"`
}

func reserveBody(code, idNumber string, amount int64) map[string]any {
	return map[string]any{
		"voucher_code": code,
		"holder":       map[string]any{"id_number": idNumber},
		"order": map[string]any{
			"order_no": "ord-" + code, "merchant_id": "crash-shop", "amount_fen": amount, "currency": "CNY",
			"items": []map[string]any{{"sku": "rice-cooker", "category": "appliances", "unit_price_fen": amount, "quantity": 1}},
		},
		"payment_channel": "alipay",
	}
}

func confirmBody(code string, paid int64) map[string]any {
	return map[string]any{"payment_channel": "alipay", "channel_transaction_id": "txn-" + code, "paid_fen": paid}
}

// idNumber is a valid resident ID number of a Shanghai Xuhui holder, one per i.
func idNumber(t *testing.T, i int) string {
	first17 := fmt.Sprintf("310104198%d%02d%02d%03d", i%10, 1+i%12, 1+i%28, i)
	c, err := holder.CheckChar(first17)
	require.NoError(t, err)
	return first17 + string(c)
}

// forEach runs f(0..n-1) on a pool of goroutines.
func forEach(n, workers int, f func(int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				f(i)
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// crashServer is voucherd on one data folder and one listen address, across
// kills and restarts. Its output accumulates in logs.
type crashServer struct {
	bin, data, addr string
	logs            *syncBuffer

	mu   sync.Mutex
	proc *crashProc
	runs int
}

type crashProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, set before done is closed
}

func (s *crashServer) current() *crashProc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// launch starts voucherd and waits until it is ready, starting again if it
// exits first (the listen address may not be free yet after a kill).
func (s *crashServer) launch() error {
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		s.mu.Lock()
		s.runs++
		fmt.Fprintf(s.logs, "=== crash test: start %d ===\n", s.runs)
		s.mu.Unlock()
		p := &crashProc{done: make(chan struct{})}
		p.cmd = exec.Command(s.bin, "serve", "--listen", s.addr, "--data-dir", s.data, "--shutdown-timeout", "5s")
		p.cmd.Env = append(os.Environ(), "DATABASE_URL=")
		p.cmd.Stdout, p.cmd.Stderr = s.logs, s.logs
		if err := p.cmd.Start(); err != nil {
			return err
		}
		go func() { p.err = p.cmd.Wait(); close(p.done) }()
		s.mu.Lock()
		s.proc = p
		s.mu.Unlock()
		if last = s.waitReady(p, deadline); last == nil {
			return nil
		}
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("voucherd not ready within 90 s: %w", last)
}

func (s *crashServer) waitReady(p *crashProc, deadline time.Time) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("voucherd exited before it was ready: %v", p.err)
		default:
		}
		resp, err := client.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("timed out waiting for /readyz")
}

// crash SIGKILLs voucherd and waits until it and its PostgreSQL are gone.
func (s *crashServer) crash() error {
	p := s.current()
	pg, err := pgembed.ServerPID(s.data)
	if err != nil {
		return err
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	if err := pgembed.AwaitExit(pg, 15*time.Second); err != nil {
		return fmt.Errorf("PostgreSQL after voucherd was killed: %w", err)
	}
	return nil
}

// crashPostgres SIGKILLs the embedded PostgreSQL server under a running
// voucherd and waits until voucherd, still the same process, has started it
// again and is ready.
func (s *crashServer) crashPostgres() error {
	p := s.current()
	pg, err := pgembed.ServerPID(s.data)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pg, syscall.SIGKILL); err != nil {
		return err
	}
	if err := pgembed.AwaitExit(pg, 15*time.Second); err != nil {
		return fmt.Errorf("PostgreSQL after SIGKILL: %w", err)
	}
	if err := s.waitReady(p, time.Now().Add(90*time.Second)); err != nil {
		return fmt.Errorf("voucherd did not start PostgreSQL again: %w", err)
	}
	if s.current() != p {
		return errors.New("voucherd was started again; it should have restarted only PostgreSQL")
	}
	return nil
}

// kill is the cleanup: no voucherd left running, whatever happened.
func (s *crashServer) kill() {
	if p := s.current(); p != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

type tokenFunc func() (string, error)

// crashClient calls voucherd like a platform's checkout would: a network
// error, a 5xx or a 429 is retried with the same request and key until the
// call's deadline.
type crashClient struct {
	base string
	http *http.Client
	keys *auth.DevKeys

	netRetries, serverRetries atomic.Int64
	internal                  atomic.Int64 // 500 answers: a fault, where 503 says retry

	mu      sync.Mutex
	samples []string // the first few 5xx and 429 answers, for the log
}

func (c *crashClient) person(sub string, role auth.Role) tokenFunc {
	return func() (string, error) {
		return auth.MintPersonToken(c.keys.Private, c.keys.KeyID, c.keys.Issuer, c.keys.Audience, sub, []auth.Role{role}, time.Hour, time.Now())
	}
}

// platform mints a fresh token for every request (they last at most 5 minutes).
func (c *crashClient) platform() tokenFunc {
	return func() (string, error) {
		return auth.MintPlatformToken(c.keys.PlatformPrivate, c.keys.PlatformKeyID, c.keys.PlatformID, c.keys.Audience, 2*time.Minute, time.Now())
	}
}

type crashReply struct {
	status   int
	body     []byte
	replayed bool
}

func (c *crashClient) call(method, path string, token tokenFunc, idemKey string, body any, limit time.Duration) (crashReply, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil { // once: a retry sends the same bytes
			return crashReply{}, err
		}
	}
	deadline := time.Now().Add(limit)
	var last string
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if time.Now().After(deadline) {
				return crashReply{}, fmt.Errorf("%s %s: no answer within %s (%d attempts); last: %s", method, path, limit, attempt, last)
			}
			time.Sleep(time.Duration(50+25*min(attempt, 8)) * time.Millisecond)
		}
		req, err := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
		if err != nil {
			return crashReply{}, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if idemKey != "" {
			req.Header.Set("Idempotency-Key", idemKey)
		}
		if token != nil {
			tok, err := token()
			if err != nil {
				return crashReply{}, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			c.netRetries.Add(1)
			last = err.Error()
			continue
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			c.netRetries.Add(1)
			last = "reading the answer: " + err.Error()
			continue
		}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			c.serverRetries.Add(1)
			if resp.StatusCode == http.StatusInternalServerError {
				c.internal.Add(1)
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, got)
			c.mu.Lock()
			if len(c.samples) < 10 {
				c.samples = append(c.samples, fmt.Sprintf("%s %s: %s", method, path, last))
			}
			c.mu.Unlock()
			continue
		}
		return crashReply{status: resp.StatusCode, body: got, replayed: resp.Header.Get("Idempotency-Replayed") == "true"}, nil
	}
}

func (c *crashClient) mustCall(t *testing.T, method, path string, token tokenFunc, idemKey string, body any, want int) crashReply {
	t.Helper()
	r, err := c.call(method, path, token, idemKey, body, 60*time.Second)
	require.NoError(t, err)
	require.Equal(t, want, r.status, "%s %s: %s", method, path, r.body)
	return r
}

// liveCampaign sets up, through the public API, the development platform
// with its key (from voucherd's dataDir), merchant crash-shop, and an active consumption campaign
// (tier 200-50: ¥50 off ¥200) whose round of quantity is open, and returns
// the campaign's id.
func (c *crashClient) liveCampaign(t *testing.T, dataDir, name string, budgetFen, quantity int64, manager, approver, platform tokenFunc) string {
	t.Helper()
	pub, err := os.ReadFile(filepath.Join(dataDir, "keys", "dev-platform.pub"))
	require.NoError(t, err)
	c.mustCall(t, http.MethodPost, "/v1/platforms", manager, "", map[string]any{
		"id": "dev-platform", "name": "Development platform",
		"keys": []map[string]any{{"key_id": "dev-platform-1", "public_key_pem": string(pub)}},
	}, http.StatusCreated)
	first17 := "91310104MA1CR5H9Q"
	check, err := registry.USCCCheckChar(first17)
	require.NoError(t, err)
	c.mustCall(t, http.MethodPut, "/v1/merchants/crash-shop", platform, "", map[string]any{
		"name": name + " appliances", "uscc": first17 + string(check),
		"region": "310104", "category": "appliances", "channel": "online",
	}, http.StatusOK)
	startsAt := time.Now().UTC().Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339)
	endsAt := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	r := c.mustCall(t, http.MethodPost, "/v1/campaigns", manager, "", map[string]any{
		"kind": "consumption", "name": name + " vouchers", "authority": "Test Commerce Bureau",
		"time_zone": "Asia/Shanghai", "starts_at": startsAt, "ends_at": endsAt, "budget_fen": budgetFen,
		"rules": map[string]any{
			"tiers":    []map[string]any{{"id": "200-50", "min_spend_fen": 20000, "discount_fen": 5000, "validity_days": 7}},
			"releases": []map[string]any{{"id": "now", "tier_id": "200-50", "quantity": quantity, "opens_at": startsAt}},
		},
	}, http.StatusCreated)
	var camp struct{ ID string }
	require.NoError(t, json.Unmarshal(r.body, &camp))
	for _, step := range []struct {
		action string
		who    tokenFunc
	}{{"submit", manager}, {"approve", approver}, {"activate", manager}} {
		c.mustCall(t, http.MethodPost, "/v1/campaigns/"+camp.ID+"/"+step.action, step.who, "", nil, http.StatusOK)
	}
	require.Eventually(t, func() bool {
		r, err := c.call(http.MethodGet, "/v1/campaigns/"+camp.ID+"/rounds", platform, "", nil, 10*time.Second)
		if err != nil || r.status != http.StatusOK {
			return false
		}
		var rounds struct{ Items []struct{ Status string } }
		return json.Unmarshal(r.body, &rounds) == nil &&
			slices.ContainsFunc(rounds.Items, func(x struct{ Status string }) bool { return x.Status == "open" })
	}, 30*time.Second, 100*time.Millisecond, "the scheduler opens the round")
	return camp.ID
}
