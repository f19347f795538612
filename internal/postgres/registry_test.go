package postgres_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/registry"
)

// registryUSCC is a valid code whose sequence part is n, so tests can make
// as many distinct legal entities as they need.
func registryUSCC(tb testing.TB, n int) string {
	tb.Helper()
	first17 := fmt.Sprintf("91310115%09d", n)
	c, err := registry.USCCCheckChar(first17)
	require.NoError(tb, err)
	return first17 + string(c)
}

func testPublicKeyPEM(tb testing.TB) string {
	tb.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(tb, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(tb, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func insertTestPlatform(tb testing.TB, q postgres.Querier, id string) {
	tb.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	require.NoError(tb, postgres.InsertPlatform(context.Background(), q, registry.Platform{
		ID: id, Name: id, Status: registry.PlatformActive, CreatedAt: now, UpdatedAt: now,
	}))
}

func testMerchants(tb testing.TB, platformID string, n int) []registry.Merchant {
	tb.Helper()
	ms := make([]registry.Merchant, n)
	for i := range ms {
		ms[i] = registry.Merchant{
			PlatformID: platformID, MerchantID: fmt.Sprintf("m-%06d", i), Name: fmt.Sprintf("Shop %d", i),
			USCC: registryUSCC(tb, i), Region: "310115", Category: "household_appliances",
			Channel: registry.ChannelOnline, Status: registry.MerchantActive,
		}
	}
	return ms
}

func TestUpsertMerchantsChangesOnlyWhatDiffers(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	insertTestPlatform(t, db.Pool, "jd")
	ms := testMerchants(t, "jd", 3)
	t0 := time.Date(2026, 11, 6, 2, 0, 0, 0, time.UTC)

	n, err := postgres.UpsertMerchants(ctx, db.Pool, "jd", ms, t0)
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)

	n, err = postgres.UpsertMerchants(ctx, db.Pool, "jd", ms, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Zero(t, n, "the same rows again change nothing")

	ms[1].Name = "Renamed"
	n, err = postgres.UpsertMerchants(ctx, db.Pool, "jd", ms, t0.Add(2*time.Hour))
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)

	got, err := postgres.MerchantForCheckout(ctx, db.Pool, "jd", ms[1].MerchantID)
	require.NoError(t, err)
	assert.Equal(t, "Renamed", got.Name)
	assert.True(t, got.CreatedAt.Equal(t0))
	assert.True(t, got.UpdatedAt.Equal(t0.Add(2*time.Hour)))
	got, err = postgres.MerchantForCheckout(ctx, db.Pool, "jd", ms[0].MerchantID)
	require.NoError(t, err)
	assert.True(t, got.UpdatedAt.Equal(t0), "an unchanged row keeps its updated_at")
}

func TestUpsertMerchantsOfAnUnregisteredPlatform(t *testing.T) {
	db := pgtest.New(t)
	_, err := postgres.UpsertMerchants(context.Background(), db.Pool, "ghost", testMerchants(t, "ghost", 1), time.Now())
	assert.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err), "%v", err)
	assert.ErrorContains(t, err, "POST /v1/platforms")
}

func TestMerchantForCheckoutCarriesTheSanction(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	insertTestPlatform(t, db.Pool, "jd")
	insertTestPlatform(t, db.Pool, "tmall")
	m := testMerchants(t, "jd", 1)[0]
	_, inserted, err := postgres.InsertMerchant(ctx, db.Pool, m)
	require.NoError(t, err)
	require.True(t, inserted)

	_, err = postgres.MerchantForCheckout(ctx, db.Pool, "tmall", m.MerchantID)
	assert.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err), "another platform's merchant is not found")

	inserted, err = postgres.InsertSanction(ctx, db.Pool, registry.Sanction{
		USCC: m.USCC, Sanction: registry.SanctionBlacklisted, Reason: "fraud", DecidedBy: "alice", DecidedAt: time.Now(),
	})
	require.NoError(t, err)
	require.True(t, inserted)
	got, err := postgres.MerchantForCheckout(ctx, db.Pool, "jd", m.MerchantID)
	require.NoError(t, err)
	assert.Equal(t, registry.SanctionBlacklisted, got.Sanction)

	_, err = postgres.DeleteSanction(ctx, db.Pool, m.USCC)
	require.NoError(t, err)
	got, err = postgres.MerchantForCheckout(ctx, db.Pool, "jd", m.MerchantID)
	require.NoError(t, err)
	assert.Empty(t, got.Sanction)
}

func TestActivePlatformKeyHidesRevokedKeys(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	insertTestPlatform(t, db.Pool, "jd")
	k, _, err := registry.ParsePlatformKey("k1", testPublicKeyPEM(t))
	require.NoError(t, err)
	k.CreatedAt = time.Now()
	require.NoError(t, postgres.InsertPlatformKey(ctx, db.Pool, "jd", k))

	got, status, err := postgres.ActivePlatformKey(ctx, db.Pool, "jd", "k1")
	require.NoError(t, err)
	assert.Equal(t, k.PublicKeyPEM, got.PublicKeyPEM)
	assert.Equal(t, registry.PlatformActive, status)

	err = postgres.InsertPlatformKey(ctx, db.Pool, "jd", k)
	assert.Equal(t, apperr.CodeConflict, apperr.CodeOf(err), "%v", err)
	err = postgres.InsertPlatformKey(ctx, db.Pool, "ghost", k)
	assert.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err), "%v", err)

	require.NoError(t, postgres.RevokePlatformKey(ctx, db.Pool, "jd", "k1", time.Now()))
	_, _, err = postgres.ActivePlatformKey(ctx, db.Pool, "jd", "k1")
	assert.Equal(t, apperr.CodeNotFound, apperr.CodeOf(err))
}

// BenchmarkUpsertMerchants imports 100,000 merchants (the import limit) into
// a platform that has none, then the same rows again (all unchanged).
func BenchmarkUpsertMerchants(b *testing.B) {
	ctx := context.Background()
	db := pgtest.New(b)
	ms := testMerchants(b, "jd", 100_000)
	insertTestPlatform(b, db.Pool, "jd")
	for b.Loop() {
		b.StopTimer()
		_, err := db.Pool.Exec(ctx, `DELETE FROM merchants`)
		require.NoError(b, err)
		b.StartTimer()
		for range 2 {
			err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
				_, err := postgres.UpsertMerchants(ctx, tx, "jd", ms, time.Now())
				return err
			})
			require.NoError(b, err)
		}
	}
}
