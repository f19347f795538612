package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

func TestJobLeaseHasOneHolderAtATime(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	ok, err := postgres.AcquireLease(ctx, db.Pool, "seal", "replica-a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = postgres.AcquireLease(ctx, db.Pool, "seal", "replica-b", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "held by a until it expires")
	ok, err = postgres.AcquireLease(ctx, db.Pool, "seal", "replica-a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "the holder renews")
	ok, err = postgres.AcquireLease(ctx, db.Pool, "other-job", "replica-b", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "leases are per job")

	require.NoError(t, postgres.ReleaseLease(ctx, db.Pool, "seal", "replica-a"))
	ok, err = postgres.AcquireLease(ctx, db.Pool, "seal", "replica-b", 50*time.Millisecond)
	require.NoError(t, err)
	assert.True(t, ok, "released leases are free")
	require.Eventually(t, func() bool {
		ok, err := postgres.AcquireLease(ctx, db.Pool, "seal", "replica-a", time.Minute)
		require.NoError(t, err)
		return ok
	}, 5*time.Second, 20*time.Millisecond, "an expired lease is taken over")
}
