package issuer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/registry"
	"github.com/tongquan/tongquan/internal/testclock"
)

var (
	admin = issuer.Actor{Subject: "alice", Role: "campaign_manager", RequestID: "req-1"}
	jd    = issuer.Actor{Subject: "jd", Role: "platform", RequestID: "req-2"}
)

// testClock is a clock tests move by hand.
type testClock = testclock.Clock

func newTestClock() *testClock {
	return testclock.New(time.Date(2026, 11, 6, 2, 0, 0, 0, time.UTC))
}

func newService(t *testing.T) (*issuer.Service, *pgxpool.Pool, *testClock) {
	t.Helper()
	db := pgtest.New(t)
	clock := newTestClock()
	return issuer.New(db.Pool, clock.Now), db.Pool, clock
}

func publicKeyPEM(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func createPlatform(t *testing.T, svc *issuer.Service, id string, keyIDs ...string) registry.Platform {
	t.Helper()
	in := issuer.NewPlatform{ID: id, Name: strings.ToUpper(id)}
	for _, k := range keyIDs {
		in.Keys = append(in.Keys, issuer.KeyInput{KeyID: k, PublicKeyPEM: publicKeyPEM(t)})
	}
	p, err := svc.CreatePlatform(context.Background(), admin, in)
	require.NoError(t, err)
	return p
}

// usccFor is a valid unified social credit code whose sequence part is n.
func usccFor(t *testing.T, n int) string {
	t.Helper()
	first17 := fmt.Sprintf("91310115%09d", n)
	c, err := registry.USCCCheckChar(first17)
	require.NoError(t, err)
	return first17 + string(c)
}

func merchant(t *testing.T, platformID, merchantID string, n int) registry.Merchant {
	return registry.Merchant{
		PlatformID: platformID, MerchantID: merchantID, Name: "Shop " + merchantID, USCC: usccFor(t, n),
		Region: "310115", Category: "household_appliances", Channel: registry.ChannelOnline, Status: registry.MerchantActive,
	}
}

type auditRow struct {
	Actor, ActorRole, Action string
	Before, After            json.RawMessage
}

// auditTrail is every audit event on an entity, oldest first.
func auditTrail(t *testing.T, pool *pgxpool.Pool, entityType, entityID string) []auditRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT actor, actor_role, action, before, after FROM audit_events
		WHERE entity_type = $1 AND entity_id = $2 ORDER BY id`, entityType, entityID)
	require.NoError(t, err)
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		require.NoError(t, rows.Scan(&r.Actor, &r.ActorRole, &r.Action, (*[]byte)(&r.Before), (*[]byte)(&r.After)))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func actions(trail []auditRow) []string {
	out := make([]string, len(trail))
	for i, r := range trail {
		out[i] = r.Action
	}
	return out
}

func requireCode(t *testing.T, err error, code apperr.Code) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	require.True(t, ok, "want %s, got %v", code, err)
	require.Equal(t, code, e.Code, e.Error())
	return e
}

func TestCreatePlatformNamesEachBadKey(t *testing.T) {
	svc, pool, _ := newService(t)
	ctx := context.Background()
	good := publicKeyPEM(t)

	_, err := svc.CreatePlatform(ctx, admin, issuer.NewPlatform{ID: "jd", Name: "JD", Keys: []issuer.KeyInput{
		{KeyID: "k1", PublicKeyPEM: good},
		{KeyID: "k2", PublicKeyPEM: "not a key"},
		{KeyID: "k1", PublicKeyPEM: good},
	}})
	e := requireCode(t, err, apperr.CodeValidationFailed)
	require.Len(t, e.Fields, 2, "%+v", e.Fields)
	assert.Equal(t, "keys[1].public_key_pem", e.Fields[0].Field)
	assert.Equal(t, "keys[2].key_id", e.Fields[1].Field)
	assert.Contains(t, e.Fields[1].Reason, "repeats keys[0]")

	_, err = svc.CreatePlatform(ctx, admin, issuer.NewPlatform{ID: "JD!", Name: "JD"})
	e = requireCode(t, err, apperr.CodeValidationFailed)
	assert.Equal(t, []string{"id", "keys"}, []string{e.Fields[0].Field, e.Fields[1].Field})

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM platforms`).Scan(&n))
	assert.Zero(t, n)
}

func TestPlatformLifecycleIsAudited(t *testing.T) {
	svc, pool, clock := newService(t)
	ctx := context.Background()
	p := createPlatform(t, svc, "jd", "k1")
	assert.Equal(t, registry.PlatformActive, p.Status)
	assert.Equal(t, "EdDSA", p.Keys[0].Algorithm)

	_, err := svc.CreatePlatform(ctx, admin, issuer.NewPlatform{ID: "jd", Name: "JD", Keys: []issuer.KeyInput{{KeyID: "k1", PublicKeyPEM: publicKeyPEM(t)}}})
	requireCode(t, err, apperr.CodeConflict)

	name, suspended, active := "JD.com", registry.PlatformSuspended, registry.PlatformActive
	clock.Advance(time.Minute)
	p, err = svc.UpdatePlatform(ctx, admin, "jd", issuer.PlatformPatch{Name: &name})
	require.NoError(t, err)
	assert.Equal(t, "JD.com", p.Name)
	assert.True(t, p.UpdatedAt.Equal(clock.Now()))
	_, err = svc.UpdatePlatform(ctx, admin, "jd", issuer.PlatformPatch{Name: &name})
	require.NoError(t, err, "an unchanged update is no change")
	_, err = svc.UpdatePlatform(ctx, admin, "jd", issuer.PlatformPatch{Status: &suspended})
	require.NoError(t, err)
	p, err = svc.UpdatePlatform(ctx, admin, "jd", issuer.PlatformPatch{Status: &active})
	require.NoError(t, err)
	assert.Equal(t, registry.PlatformActive, p.Status)
	_, err = svc.UpdatePlatform(ctx, admin, "tmall", issuer.PlatformPatch{Status: &active})
	requireCode(t, err, apperr.CodeNotFound)
	blank := " "
	_, err = svc.UpdatePlatform(ctx, admin, "jd", issuer.PlatformPatch{Name: &blank})
	requireCode(t, err, apperr.CodeValidationFailed)

	p, err = svc.AddPlatformKey(ctx, admin, "jd", issuer.KeyInput{KeyID: "k2", PublicKeyPEM: publicKeyPEM(t)})
	require.NoError(t, err)
	assert.Len(t, p.Keys, 2)
	_, err = svc.AddPlatformKey(ctx, admin, "jd", issuer.KeyInput{KeyID: "k2", PublicKeyPEM: publicKeyPEM(t)})
	requireCode(t, err, apperr.CodeConflict)
	_, err = svc.AddPlatformKey(ctx, admin, "tmall", issuer.KeyInput{KeyID: "k2", PublicKeyPEM: publicKeyPEM(t)})
	requireCode(t, err, apperr.CodeNotFound)

	p, err = svc.RevokePlatformKey(ctx, admin, "jd", "k1")
	require.NoError(t, err)
	require.NotNil(t, p.Keys[0].RevokedAt)
	assert.Nil(t, p.Keys[1].RevokedAt)
	_, err = svc.RevokePlatformKey(ctx, admin, "jd", "k1")
	requireCode(t, err, apperr.CodeInvalidState)
	_, err = svc.RevokePlatformKey(ctx, admin, "jd", "k9")
	requireCode(t, err, apperr.CodeNotFound)
	// Added keys, a revocation, and re-registering a revoked key id is refused.
	_, err = svc.AddPlatformKey(ctx, admin, "jd", issuer.KeyInput{KeyID: "k1", PublicKeyPEM: publicKeyPEM(t)})
	requireCode(t, err, apperr.CodeConflict)

	stored, err := svc.GetPlatform(ctx, "jd")
	require.NoError(t, err)
	assert.Equal(t, p, stored, "what a change returns is what is stored")

	trail := auditTrail(t, pool, "platform", "jd")
	assert.Equal(t, []string{"platform.created", "platform.renamed", "platform.suspended", "platform.reactivated",
		"platform.key_added", "platform.key_revoked"}, actions(trail))
	assert.Nil(t, trail[0].Before)
	assert.Equal(t, "alice", trail[0].Actor)
	assert.Equal(t, "campaign_manager", trail[0].ActorRole)
	var before, after registry.Platform
	require.NoError(t, json.Unmarshal(trail[2].Before, &before))
	require.NoError(t, json.Unmarshal(trail[2].After, &after))
	assert.Equal(t, registry.PlatformActive, before.Status)
	assert.Equal(t, registry.PlatformSuspended, after.Status)
}

func TestRevokingTheLastActiveKeyIsAllowed(t *testing.T) {
	svc, _, _ := newService(t)
	createPlatform(t, svc, "jd", "k1")
	p, err := svc.RevokePlatformKey(context.Background(), admin, "jd", "k1")
	require.NoError(t, err, "a leaked key must be revocable before a replacement exists")
	assert.NotNil(t, p.Keys[0].RevokedAt)
}

func TestUpsertMerchantAuditsOnlyChanges(t *testing.T) {
	svc, pool, clock := newService(t)
	ctx := context.Background()
	createPlatform(t, svc, "jd", "k1")
	m := merchant(t, "jd", "m-1", 1)

	created, err := svc.UpsertMerchant(ctx, jd, m)
	require.NoError(t, err)
	assert.True(t, created.CreatedAt.Equal(clock.Now()))
	clock.Advance(time.Minute)
	same, err := svc.UpsertMerchant(ctx, jd, m)
	require.NoError(t, err)
	assert.Equal(t, created, same, "the same merchant again changes nothing")

	m.Status = registry.MerchantInactive
	updated, err := svc.UpsertMerchant(ctx, jd, m)
	require.NoError(t, err)
	assert.Equal(t, registry.MerchantInactive, updated.Status)
	assert.True(t, updated.CreatedAt.Equal(created.CreatedAt))
	assert.True(t, updated.UpdatedAt.Equal(clock.Now()))

	got, err := svc.GetMerchant(ctx, "jd", "m-1")
	require.NoError(t, err)
	assert.Equal(t, updated, got)

	trail := auditTrail(t, pool, "merchant", "jd/m-1")
	assert.Equal(t, []string{"merchant.created", "merchant.updated"}, actions(trail))
	assert.Equal(t, "jd", trail[0].Actor)
	assert.Equal(t, "platform", trail[0].ActorRole)

	m.USCC = "91310115000000001X"
	_, err = svc.UpsertMerchant(ctx, jd, m)
	e := requireCode(t, err, apperr.CodeValidationFailed)
	assert.Equal(t, "uscc", e.Fields[0].Field)
}

func TestConcurrentFirstUpsertsCreateTheMerchantOnce(t *testing.T) {
	svc, pool, _ := newService(t)
	createPlatform(t, svc, "jd", "k1")
	m := merchant(t, "jd", "m-1", 1)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := svc.UpsertMerchant(context.Background(), jd, m)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"merchant.created"}, actions(auditTrail(t, pool, "merchant", "jd/m-1")))
}

func TestUpsertMerchantOfAnUnregisteredPlatform(t *testing.T) {
	svc, _, _ := newService(t)
	_, err := svc.UpsertMerchant(context.Background(), jd, merchant(t, "jd", "m-1", 1))
	e := requireCode(t, err, apperr.CodeNotFound)
	assert.Contains(t, e.Message, "not in the registry")
}

func TestImportMerchants(t *testing.T) {
	svc, pool, clock := newService(t)
	ctx := context.Background()
	createPlatform(t, svc, "jd", "k1")
	file := "merchant_id,name,uscc,region,category,channel\n" +
		"m-1,Shop 1," + usccFor(t, 1) + ",310115,household_appliances,online\n" +
		"m-2,Shop 2,91310115000000001X,310115,household_appliances,online\n" +
		"m-3,Shop 3," + usccFor(t, 3) + ",310115,household_appliances,offline\n"

	rep, err := svc.ImportMerchants(ctx, jd, "jd", strings.NewReader(file))
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Rows)
	assert.Equal(t, 2, rep.Imported)
	assert.Equal(t, 1, rep.Rejected)
	assert.Equal(t, 2, rep.Changed)
	require.Len(t, rep.Errors, 1)
	assert.Equal(t, 2, rep.Errors[0].Row)
	assert.Equal(t, "m-2", rep.Errors[0].MerchantID)
	assert.Equal(t, "uscc", rep.Errors[0].Fields[0].Field)

	m3, err := svc.GetMerchant(ctx, "jd", "m-3")
	require.NoError(t, err)
	assert.Equal(t, registry.ChannelOffline, m3.Channel)
	assert.Equal(t, registry.MerchantActive, m3.Status, "status defaults to active")

	clock.Advance(time.Hour)
	rep, err = svc.ImportMerchants(ctx, jd, "jd", strings.NewReader(file))
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Imported)
	assert.Zero(t, rep.Changed)
	again, err := svc.GetMerchant(ctx, "jd", "m-3")
	require.NoError(t, err)
	assert.Equal(t, m3, again, "a re-import changes nothing")

	trail := auditTrail(t, pool, "platform", "jd")
	require.Equal(t, []string{"platform.created", "merchant.imported"}, actions(trail), "one event per import that changed something")
	assert.JSONEq(t, `{"rows":3,"imported":2,"rejected":1,"changed":2}`, string(trail[1].After))

	_, err = svc.ImportMerchants(ctx, jd, "jd", strings.NewReader("merchant_id,name\nm-1,Shop\n"))
	e := requireCode(t, err, apperr.CodeValidationFailed)
	assert.Equal(t, "header", e.Fields[0].Field)
}

func TestSetSanction(t *testing.T) {
	svc, pool, _ := newService(t)
	ctx := context.Background()
	createPlatform(t, svc, "jd", "k1")
	m, err := svc.UpsertMerchant(ctx, jd, merchant(t, "jd", "m-1", 1))
	require.NoError(t, err)

	set := func(sanction, reason string) (registry.Sanction, error) {
		return svc.SetSanction(ctx, admin, registry.Sanction{USCC: m.USCC, Sanction: sanction, Reason: reason})
	}
	_, err = set(registry.SanctionSuspended, "")
	e := requireCode(t, err, apperr.CodeValidationFailed)
	assert.Equal(t, "reason", e.Fields[0].Field, "a sanction needs a reason")
	_, err = svc.SetSanction(ctx, admin, registry.Sanction{USCC: "91310115000000001X", Sanction: registry.SanctionSuspended, Reason: "x"})
	e = requireCode(t, err, apperr.CodeValidationFailed)
	assert.Equal(t, "uscc", e.Fields[0].Field)

	s, err := set(registry.SanctionSuspended, "unpaid taxes")
	require.NoError(t, err)
	assert.Equal(t, "alice", s.DecidedBy)
	_, err = set(registry.SanctionSuspended, "unpaid taxes")
	require.NoError(t, err)
	_, err = set(registry.SanctionBlacklisted, "voucher fraud")
	require.NoError(t, err)

	got, err := svc.GetMerchant(ctx, "jd", "m-1")
	require.NoError(t, err)
	assert.Equal(t, registry.SanctionBlacklisted, got.Sanction)
	list, err := svc.ListSanctions(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "voucher fraud", list[0].Reason)

	lifted, err := set(registry.SanctionNone, "appeal upheld")
	require.NoError(t, err)
	assert.Equal(t, registry.SanctionNone, lifted.Sanction)
	_, err = set(registry.SanctionNone, "")
	require.NoError(t, err, "lifting where there is no sanction changes nothing")
	list, err = svc.ListSanctions(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)
	got, err = svc.GetMerchant(ctx, "jd", "m-1")
	require.NoError(t, err)
	assert.Empty(t, got.Sanction)

	trail := auditTrail(t, pool, "merchant_sanction", m.USCC)
	assert.Equal(t, []string{"merchant_sanction.suspended", "merchant_sanction.blacklisted", "merchant_sanction.lifted"}, actions(trail))
	assert.Contains(t, string(trail[2].After), "appeal upheld", "the lift keeps its reason")
}

func TestPlatformKeysCacheForTheirTTL(t *testing.T) {
	svc, _, clock := newService(t)
	ctx := context.Background()
	createPlatform(t, svc, "jd", "k1", "k2")
	keys := svc.PlatformKeys(issuer.DefaultPlatformKeyTTL)

	k, err := keys.PlatformKey(ctx, "jd", "k1")
	require.NoError(t, err)
	assert.True(t, k.PlatformActive)
	assert.IsType(t, ed25519.PublicKey{}, k.PublicKey)
	_, err = keys.PlatformKey(ctx, "jd", "k9")
	requireCode(t, err, apperr.CodeNotFound)
	_, err = keys.PlatformKey(ctx, "tmall", "k1")
	requireCode(t, err, apperr.CodeNotFound)

	suspended := registry.PlatformSuspended
	_, err = svc.UpdatePlatform(ctx, admin, "jd", issuer.PlatformPatch{Status: &suspended})
	require.NoError(t, err)
	_, err = svc.RevokePlatformKey(ctx, admin, "jd", "k2")
	require.NoError(t, err)
	_, err = svc.AddPlatformKey(ctx, admin, "jd", issuer.KeyInput{KeyID: "k9", PublicKeyPEM: publicKeyPEM(t)})
	require.NoError(t, err)

	k, err = keys.PlatformKey(ctx, "jd", "k1")
	require.NoError(t, err)
	assert.True(t, k.PlatformActive, "within the TTL the cached answer stands")
	_, err = keys.PlatformKey(ctx, "jd", "k9")
	requireCode(t, err, apperr.CodeNotFound)

	clock.Advance(issuer.DefaultPlatformKeyTTL)
	k, err = keys.PlatformKey(ctx, "jd", "k1")
	require.NoError(t, err)
	assert.False(t, k.PlatformActive, "a suspension shows once the TTL is over")
	_, err = keys.PlatformKey(ctx, "jd", "k2")
	requireCode(t, err, apperr.CodeNotFound)
	_, err = keys.PlatformKey(ctx, "jd", "k9")
	require.NoError(t, err, "a key added meanwhile is found once the TTL is over")
}

func TestPlatformKeysConcurrentLookups(t *testing.T) {
	svc, _, _ := newService(t)
	createPlatform(t, svc, "jd", "k1")
	keys := svc.PlatformKeys(0)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			k, err := keys.PlatformKey(context.Background(), "jd", []string{"k1", "k2"}[i%2])
			if i%2 == 0 {
				assert.NoError(t, err)
				assert.Equal(t, "k1", k.KeyID)
			} else {
				assert.True(t, apperr.Is(err, apperr.CodeNotFound), "%v", err)
			}
		})
	}
	wg.Wait()
}

func TestChainKeyStores(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	createPlatform(t, svc, "jd", "k1")
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	dev := auth.StaticPlatformKeys{{PlatformID: "dev", KeyID: "k1", PublicKey: pub, PlatformActive: true}}
	chain := issuer.ChainKeyStores(dev, svc.PlatformKeys(0))

	k, err := chain.PlatformKey(ctx, "dev", "k1")
	require.NoError(t, err)
	assert.Equal(t, pub, k.PublicKey)
	k, err = chain.PlatformKey(ctx, "jd", "k1")
	require.NoError(t, err)
	assert.Equal(t, "jd", k.PlatformID)
	_, err = chain.PlatformKey(ctx, "tmall", "k1")
	requireCode(t, err, apperr.CodeNotFound)
	_, err = issuer.ChainKeyStores().PlatformKey(ctx, "jd", "k1")
	requireCode(t, err, apperr.CodeNotFound)
}
