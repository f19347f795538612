package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/tongquan/tongquan/internal/audit"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/checkout"
	"github.com/tongquan/tongquan/internal/clearing"
	"github.com/tongquan/tongquan/internal/config"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/httpapi"
	"github.com/tongquan/tongquan/internal/issuance"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/logsink"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/redemption"
	"github.com/tongquan/tongquan/internal/scheduler"
)

func serve(args []string) error {
	fs := flag.NewFlagSet("voucherd serve", flag.ContinueOnError)
	build := config.FlagSet(fs, config.OSEnv)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := build()
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log, logs := newLogger(cfg)
	// Last of the deferred calls: every line logged while shutting down is written.
	defer logs.Close()
	slog.SetDefault(log)
	tuneGC(os.Getenv)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()

	issuers := issuer.New(db.Pool, time.Now)
	authn, err := newAuthenticator(cfg, log, issuers.PlatformKeys(issuer.DefaultPlatformKeyTTL))
	if err != nil {
		return err
	}
	latest, err := postgres.LatestVersion()
	if err != nil {
		return err
	}
	hasher, err := holderHasher(cfg)
	if err != nil {
		return err
	}
	issuing := issuance.New(db.Pool, issuance.Options{Now: time.Now, Hasher: hasher})
	defer issuing.Close()
	signer, err := receiptSigner(cfg)
	if err != nil {
		return err
	}
	checkouts := checkout.New(db.Pool, checkout.Options{Now: time.Now, Hasher: hasher, Signer: signer})
	settlements := clearing.New(db.Pool, time.Now)
	api, err := httpapi.New(httpapi.Config{
		Logger:       log,
		Pool:         db.Pool,
		Auth:         authn,
		Ready:        func(ctx context.Context) error { return db.Ready(ctx, latest) },
		ServiceRoles: cfg.Roles,
		BodyLimit:    cfg.BodyLimit,
		Issuer:       issuers,
		Issuance:     issuing,
		Checkout:     checkouts,
		Audit:        audit.New(db.AuditPool, hasher),
		Clearing:     settlements,
	})
	if err != nil {
		return err
	}
	var jobList []scheduler.Job
	if cfg.Serves(config.RoleIssuer) {
		jobList = append(jobList, issuerJobs(issuers, issuing, db.Pool)...)
		jobList = append(jobList, settlementJobs(settlements)...)
	}
	if cfg.Serves(config.RoleRedemption) {
		jobList = append(jobList, redemptionJobs(checkouts)...)
	}
	if len(jobList) > 0 {
		jobs, err := scheduler.New(db.Pool, log, time.UTC, jobList...)
		if err != nil {
			return err
		}
		jobs.Start()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			jobs.Stop(ctx)
		}()
	}
	srv := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           api.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another voucherd running? choose another with --listen)", cfg.ListenAddr, err)
	}
	log.Info("voucherd listening", "addr", ln.Addr().String(), "roles", cfg.Roles, "dev", cfg.Dev)
	_ = logs.Flush() // the start-up lines are out before the first request is served

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}

	// Stop accepting, let in-flight requests finish, then stop the jobs, close
	// the pool and the embedded server (deferred above, run in reverse).
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("drain did not finish in time; closing remaining connections", "error", err)
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http server stopped with error", "error", err)
	}
	log.Info("voucherd stopped")
	return nil
}

// gcPercent is the collector's target when GOGC is not set: the heap may
// grow to five times what is live before a collection instead of twice.
// voucherd's live heap is small (tens of MB) and its requests allocate
// briefly, so collections were a tenth of its CPU in a sold-out burst.
// Three alternating pairs of runs on 2026-11-26 (voucherbench claim-burst,
// 128 clients, 100,000 holders against 1,000 vouchers): 10,290-10,663
// sold-out answers/s at GOGC 100 against 11,054-11,377/s at 400, peak RSS
// 53 against 89 MB; redemption steps unchanged (1,011 vs 1,033/s).
const gcPercent = 400

// tuneGC sets gcPercent unless the operator chose GOGC.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// newLogger writes the process log to stderr, JSON lines or text. Lines are
// buffered and written in batches (one write every few milliseconds instead
// of one per request's access-log line); warnings and errors are written at
// once, and the returned writer must be closed before exit. A crash that
// skips Close loses the info lines of the last few milliseconds.
func newLogger(cfg config.Config) (*slog.Logger, *logsink.Writer) {
	return logsink.NewLogger(os.Stderr, cfg.LogFormat, &slog.HandlerOptions{Level: cfg.LogLevel})
}

// newAuthenticator verifies people's tokens against the identity provider's
// keys, or, in development mode without them, against the development key
// pair in the data folder (which `voucherctl token` signs with).
//
// Platforms are verified against the registry (and, in development mode, the
// development platform too).
func newAuthenticator(cfg config.Config, log *slog.Logger, registry auth.PlatformKeyStore) (*auth.Authenticator, error) {
	people := auth.PeopleConfig{Audience: cfg.AuthAudience, Issuer: cfg.AuthIssuer, Leeway: 30 * time.Second}
	platforms := registry
	if len(cfg.AuthKeyFiles) > 0 {
		keys, err := auth.LoadPeopleKeys(cfg.AuthKeyFiles)
		if err != nil {
			return nil, err
		}
		people.Keys = keys
	}
	if cfg.Dev {
		dev, err := auth.EnsureDevKeys(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("development keys: %w", err)
		}
		if len(cfg.AuthKeyFiles) == 0 {
			people = dev.PeopleConfig()
			people.Leeway = 30 * time.Second
		}
		platforms = issuer.ChainKeyStores(dev.PlatformKeys(), registry)
		log.Warn("development mode: accepting tokens signed with the development keys",
			"keys", filepath.Join(cfg.DataDir, "keys"),
			"mint", "go run ./cmd/voucherctl token --role campaign_manager --sub alice")
	}
	pv, err := auth.NewPeopleVerifier(people)
	if err != nil {
		return nil, err
	}
	plv, err := auth.NewPlatformVerifier(cfg.AuthAudience, platforms, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return auth.NewAuthenticator(pv, plv)
}

// holderHasher keys the hash of holders' ID numbers: the configured secret,
// or in development mode one kept in the data folder.
func holderHasher(cfg config.Config) (*holder.Hasher, error) {
	key := cfg.HolderKey
	if key == nil {
		var err error
		if key, err = holder.DevKey(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	return holder.NewHasher(key)
}

// receiptSigner signs checkout receipts with the configured key, or in
// development mode one kept in the data folder.
func receiptSigner(cfg config.Config) (*redemption.Signer, error) {
	var key ed25519.PrivateKey
	var kid string
	var err error
	if cfg.ReceiptKey != "" {
		key, kid, err = redemption.ParseSigningKey(cfg.ReceiptKey)
	} else {
		key, kid, err = redemption.DevSigningKey(cfg.DataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("receipt signing key: %w", err)
	}
	return redemption.NewSigner(key, kid), nil
}
