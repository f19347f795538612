package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tongquan/tongquan/internal/apperr"
)

// PostgreSQL error codes the platform reacts to.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUniqueViolation      = "23505"
	codeCheckViolation       = "23514"
	codeForeignKeyViolation  = "23503"
)

// maxAttempts bounds retries of a transaction that lost a serialization or
// deadlock race; past it the caller gets UNAVAILABLE and may retry later.
const maxAttempts = 5

// InTx runs fn in a transaction, committing if it returns nil. Serialization
// failures and deadlocks are retried with jittered backoff a bounded number of
// times, so fn must have no effects outside the transaction.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return retry(ctx, func() error { return pgx.BeginFunc(ctx, pool, fn) })
}

// retry runs one attempt of a transaction until it succeeds, fails for a
// reason other than a lost race, or has lost maxAttempts races.
func retry(ctx context.Context, attempt func() error) error {
	var err error
	for n := 1; n <= maxAttempts; n++ {
		err = attempt()
		if err == nil || !Retryable(err) {
			return err
		}
		backoff := time.Duration(n*n) * time.Millisecond * time.Duration(1+rand.IntN(5))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
	return apperr.Wrap(err, apperr.CodeUnavailable, "the database is busy; retry the request")
}

// lostRace is a serialization failure raised by this package: the
// transaction lost a race it can only see by now, and InTx runs it again.
func lostRace(format string, args ...any) error {
	return &pgconn.PgError{Severity: "ERROR", Code: codeSerializationFailure, Message: fmt.Sprintf(format, args...)}
}

// Retryable reports a serialization failure or deadlock.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == codeSerializationFailure || pgErr.Code == codeDeadlockDetected
	}
	return false
}

// Unreachable reports an error that says the database could not be reached
// or dropped the connection (refused, reset, shutting down, starting up,
// crash recovery), as opposed to one about the statement: the request may
// well succeed when retried shortly.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		// Class 08: connection exception; 57P01-57P03: admin or crash
		// shutdown, cannot connect now.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if pgconn.SafeToRetry(err) {
		return true // never sent, e.g. on a connection already closed
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// IsUniqueViolation reports a unique violation, optionally on a named constraint.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation {
		return constraint == "" || pgErr.ConstraintName == constraint
	}
	return false
}

// IsCheckViolation reports a check-constraint violation, optionally a named one.
func IsCheckViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeCheckViolation {
		return constraint == "" || pgErr.ConstraintName == constraint
	}
	return false
}

// IsForeignKeyViolation reports a foreign-key violation.
func IsForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == codeForeignKeyViolation
}

// Querier is what both a pool and a transaction offer.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
