package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// AcquireLease takes (or renews) the lease on job for holder until ttl from
// now, if nobody else holds an unexpired one. Time is the database's, so
// replicas with skewed clocks agree.
func AcquireLease(ctx context.Context, q Querier, job, holder string, ttl time.Duration) (bool, error) {
	var got string
	err := q.QueryRow(ctx, `INSERT INTO job_leases (job, holder, expires_at)
		VALUES ($1, $2, clock_timestamp() + $3::interval)
		ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE job_leases.expires_at < clock_timestamp() OR job_leases.holder = excluded.holder
		RETURNING holder`, job, holder, ttl.String()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil && got == holder, err
}

// ReleaseLease gives the lease up early so another replica need not wait for it to expire.
func ReleaseLease(ctx context.Context, q Querier, job, holder string) error {
	_, err := q.Exec(ctx, `UPDATE job_leases SET expires_at = clock_timestamp() WHERE job = $1 AND holder = $2`, job, holder)
	return err
}
