package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/registry"
)

// The registry's storage (migration 00002): platforms and their keys,
// merchants, and the sanctions on merchants' legal entities. Lock order: a
// platform before its keys and merchants; a merchant and a sanction are never
// locked in the same transaction. Times are read back in UTC, as the use
// cases write them, so what a change returns equals what a later read does.

const platformColumns = `id, name, status, created_at, updated_at`

func scanPlatform(row pgx.Row) (registry.Platform, error) {
	var p registry.Platform
	err := row.Scan(&p.ID, &p.Name, &p.Status, &p.CreatedAt, &p.UpdatedAt)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

func platformNotFound(id string) error {
	return apperr.New(apperr.CodeNotFound, "no platform %q", id)
}

// InsertPlatform stores a new platform with its keys. An id already
// registered is CONFLICT.
func InsertPlatform(ctx context.Context, q Querier, p registry.Platform) error {
	_, err := q.Exec(ctx, `INSERT INTO platforms (`+platformColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		p.ID, p.Name, p.Status, p.CreatedAt, p.UpdatedAt)
	if IsUniqueViolation(err, "platforms_pkey") {
		return apperr.New(apperr.CodeConflict, "platform %q is already registered", p.ID)
	}
	if err != nil {
		return fmt.Errorf("insert platform %s: %w", p.ID, err)
	}
	for _, k := range p.Keys {
		if err := InsertPlatformKey(ctx, q, p.ID, k); err != nil {
			return err
		}
	}
	return nil
}

// GetPlatform reads a platform with all its keys, revoked ones included.
func GetPlatform(ctx context.Context, q Querier, id string) (registry.Platform, error) {
	return readPlatform(ctx, q, `SELECT `+platformColumns+` FROM platforms WHERE id = $1`, id)
}

// LockPlatform is GetPlatform holding the platform's row lock until the
// transaction ends, which serialises every change to the platform and its keys.
func LockPlatform(ctx context.Context, tx pgx.Tx, id string) (registry.Platform, error) {
	return readPlatform(ctx, tx, `SELECT `+platformColumns+` FROM platforms WHERE id = $1 FOR UPDATE`, id)
}

func readPlatform(ctx context.Context, q Querier, sql, id string) (registry.Platform, error) {
	p, err := scanPlatform(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, platformNotFound(id)
	}
	if err != nil {
		return p, fmt.Errorf("read platform %s: %w", id, err)
	}
	keys, err := platformKeys(ctx, q, `WHERE platform_id = $1`, id)
	p.Keys = keys[id]
	return p, err
}

// ListPlatforms reads every platform with its keys, by id.
func ListPlatforms(ctx context.Context, q Querier) ([]registry.Platform, error) {
	rows, err := q.Query(ctx, `SELECT `+platformColumns+` FROM platforms ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list platforms: %w", err)
	}
	platforms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (registry.Platform, error) { return scanPlatform(row) })
	if err != nil {
		return nil, fmt.Errorf("list platforms: %w", err)
	}
	keys, err := platformKeys(ctx, q, ``)
	if err != nil {
		return nil, err
	}
	for i := range platforms {
		platforms[i].Keys = keys[platforms[i].ID]
	}
	return platforms, nil
}

// platformKeys reads the keys a where clause selects, by platform, each
// platform's in the order they were added.
func platformKeys(ctx context.Context, q Querier, where string, args ...any) (map[string][]registry.PlatformKey, error) {
	rows, err := q.Query(ctx, `SELECT platform_id, key_id, public_key_pem, algorithm, created_at, revoked_at
		FROM platform_keys `+where+` ORDER BY platform_id, created_at, key_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read platform keys: %w", err)
	}
	defer rows.Close()
	keys := map[string][]registry.PlatformKey{}
	for rows.Next() {
		var platformID string
		var k registry.PlatformKey
		if err := rows.Scan(&platformID, &k.KeyID, &k.PublicKeyPEM, &k.Algorithm, &k.CreatedAt, &k.RevokedAt); err != nil {
			return nil, fmt.Errorf("read platform keys: %w", err)
		}
		k.CreatedAt = k.CreatedAt.UTC()
		if k.RevokedAt != nil {
			revoked := k.RevokedAt.UTC()
			k.RevokedAt = &revoked
		}
		keys[platformID] = append(keys[platformID], k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read platform keys: %w", err)
	}
	return keys, nil
}

// UpdatePlatform writes a platform's name, status and updated_at.
func UpdatePlatform(ctx context.Context, q Querier, p registry.Platform) error {
	tag, err := q.Exec(ctx, `UPDATE platforms SET name = $2, status = $3, updated_at = $4 WHERE id = $1`,
		p.ID, p.Name, p.Status, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("update platform %s: %w", p.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return platformNotFound(p.ID)
	}
	return nil
}

// InsertPlatformKey adds a key to a platform. A key id the platform already
// used, even for a key since revoked, is CONFLICT: a revoked key id never
// comes back, so a token naming it stays refused.
func InsertPlatformKey(ctx context.Context, q Querier, platformID string, k registry.PlatformKey) error {
	_, err := q.Exec(ctx, `INSERT INTO platform_keys (platform_id, key_id, public_key_pem, algorithm, created_at)
		VALUES ($1, $2, $3, $4, $5)`, platformID, k.KeyID, k.PublicKeyPEM, k.Algorithm, k.CreatedAt)
	switch {
	case IsUniqueViolation(err, "platform_keys_pkey"):
		return apperr.New(apperr.CodeConflict,
			"platform %q already has a key %q; key ids are never reused, so choose a new one (for example the month, 2026-11)", platformID, k.KeyID)
	case IsForeignKeyViolation(err):
		return platformNotFound(platformID)
	case err != nil:
		return fmt.Errorf("insert key %s of platform %s: %w", k.KeyID, platformID, err)
	}
	return nil
}

// RevokePlatformKey marks a key revoked at the given time. The caller checks
// first that the key exists and is active.
func RevokePlatformKey(ctx context.Context, q Querier, platformID, keyID string, at time.Time) error {
	_, err := q.Exec(ctx, `UPDATE platform_keys SET revoked_at = $3
		WHERE platform_id = $1 AND key_id = $2 AND revoked_at IS NULL`, platformID, keyID, at)
	if err != nil {
		return fmt.Errorf("revoke key %s of platform %s: %w", keyID, platformID, err)
	}
	return nil
}

// ActivePlatformKey reads a key that is not revoked, with its platform's
// status. An unknown platform, an unknown key and a revoked key are all
// NOT_FOUND.
func ActivePlatformKey(ctx context.Context, q Querier, platformID, keyID string) (registry.PlatformKey, registry.PlatformStatus, error) {
	var k registry.PlatformKey
	var status registry.PlatformStatus
	err := q.QueryRow(ctx, `SELECT k.key_id, k.public_key_pem, k.algorithm, k.created_at, p.status
		FROM platform_keys k JOIN platforms p ON p.id = k.platform_id
		WHERE k.platform_id = $1 AND k.key_id = $2 AND k.revoked_at IS NULL`, platformID, keyID,
	).Scan(&k.KeyID, &k.PublicKeyPEM, &k.Algorithm, &k.CreatedAt, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, "", apperr.New(apperr.CodeNotFound, "platform %q has no active key %q", platformID, keyID)
	}
	if err != nil {
		return k, "", fmt.Errorf("read key %s of platform %s: %w", keyID, platformID, err)
	}
	return k, status, nil
}

// merchantColumns read a merchant with the sanction on its USCC, if any; a
// subquery rather than a join so that RETURNING and FOR UPDATE use it too.
const merchantColumns = `platform_id, merchant_id, name, uscc, region, category, channel, status,
	coalesce((SELECT s.sanction FROM merchant_sanctions s WHERE s.uscc = merchants.uscc), ''),
	created_at, updated_at`

func scanMerchant(row pgx.Row) (registry.Merchant, error) {
	var m registry.Merchant
	err := row.Scan(&m.PlatformID, &m.MerchantID, &m.Name, &m.USCC, &m.Region, &m.Category, &m.Channel, &m.Status,
		&m.Sanction, &m.CreatedAt, &m.UpdatedAt)
	m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, err
}

func merchantNotFound(platformID, merchantID string) error {
	return apperr.New(apperr.CodeNotFound, "platform %q has no merchant %q", platformID, merchantID)
}

// merchantWriteError explains a merchant write the schema refused.
func merchantWriteError(err error, platformID, merchantID string) error {
	if IsForeignKeyViolation(err) {
		return apperr.New(apperr.CodeNotFound,
			"platform %q is not in the registry; an administrator must register it (POST /v1/platforms) before it adds merchants", platformID)
	}
	return fmt.Errorf("write merchant %s of platform %s: %w", merchantID, platformID, err)
}

// MerchantForCheckout reads one of a platform's merchants with the sanction
// on its legal entity: the lookup checkout decides on, and the one a platform
// reads its merchant with, so both see the same thing. Another platform's
// merchant is NOT_FOUND.
func MerchantForCheckout(ctx context.Context, q Querier, platformID, merchantID string) (registry.Merchant, error) {
	return readMerchant(ctx, q, `SELECT `+merchantColumns+` FROM merchants WHERE platform_id = $1 AND merchant_id = $2`,
		platformID, merchantID)
}

// LockMerchant is MerchantForCheckout holding the merchant's row lock until
// the transaction ends.
func LockMerchant(ctx context.Context, tx pgx.Tx, platformID, merchantID string) (registry.Merchant, error) {
	return readMerchant(ctx, tx, `SELECT `+merchantColumns+` FROM merchants WHERE platform_id = $1 AND merchant_id = $2 FOR UPDATE`,
		platformID, merchantID)
}

func readMerchant(ctx context.Context, q Querier, sql, platformID, merchantID string) (registry.Merchant, error) {
	m, err := scanMerchant(q.QueryRow(ctx, sql, platformID, merchantID))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, merchantNotFound(platformID, merchantID)
	}
	if err != nil {
		return m, fmt.Errorf("read merchant %s of platform %s: %w", merchantID, platformID, err)
	}
	return m, nil
}

// InsertMerchant stores m unless the platform already has a merchant with
// its id, and reports whether it did. An existing row is left alone (and,
// while another transaction is inserting it, waited for), so a caller that
// gets false can lock the row and update it.
func InsertMerchant(ctx context.Context, q Querier, m registry.Merchant) (registry.Merchant, bool, error) {
	stored, err := scanMerchant(q.QueryRow(ctx, `INSERT INTO merchants
		(platform_id, merchant_id, name, uscc, region, category, channel, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (platform_id, merchant_id) DO NOTHING
		RETURNING `+merchantColumns,
		m.PlatformID, m.MerchantID, m.Name, m.USCC, m.Region, m.Category, m.Channel, m.Status, m.CreatedAt, m.UpdatedAt))
	if errors.Is(err, pgx.ErrNoRows) {
		return registry.Merchant{}, false, nil
	}
	if err != nil {
		return registry.Merchant{}, false, merchantWriteError(err, m.PlatformID, m.MerchantID)
	}
	return stored, true, nil
}

// UpdateMerchant writes every field a platform supplies, and updated_at.
func UpdateMerchant(ctx context.Context, q Querier, m registry.Merchant) (registry.Merchant, error) {
	stored, err := scanMerchant(q.QueryRow(ctx, `UPDATE merchants
		SET name = $3, uscc = $4, region = $5, category = $6, channel = $7, status = $8, updated_at = $9
		WHERE platform_id = $1 AND merchant_id = $2
		RETURNING `+merchantColumns,
		m.PlatformID, m.MerchantID, m.Name, m.USCC, m.Region, m.Category, m.Channel, m.Status, m.UpdatedAt))
	if errors.Is(err, pgx.ErrNoRows) {
		return stored, merchantNotFound(m.PlatformID, m.MerchantID)
	}
	if err != nil {
		return stored, merchantWriteError(err, m.PlatformID, m.MerchantID)
	}
	return stored, nil
}

// merchantImportBatch is how many rows one INSERT of an import carries: big
// enough that a 100,000-row file takes a handful of round trips, small enough
// that one statement's arrays stay a few megabytes.
const merchantImportBatch = 10_000

// UpsertMerchants stores merchants of one platform, inserting new ones and
// updating those whose fields differ, at time at; rows equal to what is
// stored are not touched, so a re-import changes nothing. It returns how
// many rows it inserted or changed.
//
// Rows travel as one array per column through unnest, in batches, inside the
// caller's transaction. This was measured against COPY into a temporary table
// followed by one INSERT … SELECT … ON CONFLICT: for 100,000 rows both take
// about as long (the upsert dominates; see BenchmarkUpsertMerchants), and
// unnest needs no temporary table, whose catalog churn per import PostgreSQL
// must vacuum and which distributed PostgreSQL-compatible engines support
// poorly. Rows are sorted by merchant id so that concurrent imports of one
// platform lock shared rows in the same order.
func UpsertMerchants(ctx context.Context, q Querier, platformID string, merchants []registry.Merchant, at time.Time) (int64, error) {
	var changed int64
	for start := 0; start < len(merchants); start += merchantImportBatch {
		n, err := upsertMerchantBatch(ctx, q, platformID, merchants[start:min(start+merchantImportBatch, len(merchants))], at)
		if err != nil {
			return changed, err
		}
		changed += n
	}
	return changed, nil
}

func upsertMerchantBatch(ctx context.Context, q Querier, platformID string, batch []registry.Merchant, at time.Time) (int64, error) {
	cols := make([][]string, 7)
	for i := range cols {
		cols[i] = make([]string, len(batch))
	}
	for i, m := range batch {
		cols[0][i], cols[1][i], cols[2][i], cols[3][i] = m.MerchantID, m.Name, m.USCC, m.Region
		cols[4][i], cols[5][i], cols[6][i] = m.Category, m.Channel, m.Status
	}
	tag, err := q.Exec(ctx, `INSERT INTO merchants
		(platform_id, merchant_id, name, uscc, region, category, channel, status, created_at, updated_at)
		SELECT $1, r.merchant_id, r.name, r.uscc, r.region, r.category, r.channel, r.status, $9, $9
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
			AS r (merchant_id, name, uscc, region, category, channel, status)
		ORDER BY r.merchant_id
		ON CONFLICT (platform_id, merchant_id) DO UPDATE
		SET name = excluded.name, uscc = excluded.uscc, region = excluded.region, category = excluded.category,
			channel = excluded.channel, status = excluded.status, updated_at = excluded.updated_at
		WHERE (merchants.name, merchants.uscc, merchants.region, merchants.category, merchants.channel, merchants.status)
			IS DISTINCT FROM (excluded.name, excluded.uscc, excluded.region, excluded.category, excluded.channel, excluded.status)`,
		platformID, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], at)
	if err != nil {
		return 0, merchantWriteError(err, platformID, batch[0].MerchantID)
	}
	return tag.RowsAffected(), nil
}

const sanctionColumns = `uscc, sanction, reason, decided_by, decided_at`

func scanSanction(row pgx.Row) (registry.Sanction, error) {
	var s registry.Sanction
	err := row.Scan(&s.USCC, &s.Sanction, &s.Reason, &s.DecidedBy, &s.DecidedAt)
	s.DecidedAt = s.DecidedAt.UTC()
	return s, err
}

// LockSanction reads the sanction in force on a USCC and locks it until the
// transaction ends; NOT_FOUND when there is none.
func LockSanction(ctx context.Context, tx pgx.Tx, uscc string) (registry.Sanction, error) {
	s, err := scanSanction(tx.QueryRow(ctx, `SELECT `+sanctionColumns+` FROM merchant_sanctions WHERE uscc = $1 FOR UPDATE`, uscc))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, apperr.New(apperr.CodeNotFound, "no sanction on %s", uscc)
	}
	if err != nil {
		return s, fmt.Errorf("read sanction on %s: %w", uscc, err)
	}
	return s, nil
}

// InsertSanction stores s unless a sanction on its USCC exists, and reports
// whether it did (like InsertMerchant).
func InsertSanction(ctx context.Context, q Querier, s registry.Sanction) (bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO merchant_sanctions (`+sanctionColumns+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (uscc) DO NOTHING`, s.USCC, s.Sanction, s.Reason, s.DecidedBy, s.DecidedAt)
	if err != nil {
		return false, fmt.Errorf("insert sanction on %s: %w", s.USCC, err)
	}
	return tag.RowsAffected() == 1, nil
}

// UpdateSanction replaces the sanction on s's USCC.
func UpdateSanction(ctx context.Context, q Querier, s registry.Sanction) error {
	_, err := q.Exec(ctx, `UPDATE merchant_sanctions SET sanction = $2, reason = $3, decided_by = $4, decided_at = $5
		WHERE uscc = $1`, s.USCC, s.Sanction, s.Reason, s.DecidedBy, s.DecidedAt)
	if err != nil {
		return fmt.Errorf("update sanction on %s: %w", s.USCC, err)
	}
	return nil
}

// DeleteSanction lifts the sanction on a USCC and returns what it was;
// NOT_FOUND when there was none.
func DeleteSanction(ctx context.Context, q Querier, uscc string) (registry.Sanction, error) {
	s, err := scanSanction(q.QueryRow(ctx, `DELETE FROM merchant_sanctions WHERE uscc = $1 RETURNING `+sanctionColumns, uscc))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, apperr.New(apperr.CodeNotFound, "no sanction on %s", uscc)
	}
	if err != nil {
		return s, fmt.Errorf("lift sanction on %s: %w", uscc, err)
	}
	return s, nil
}

// ListSanctions reads every sanction in force, by USCC.
func ListSanctions(ctx context.Context, q Querier) ([]registry.Sanction, error) {
	rows, err := q.Query(ctx, `SELECT `+sanctionColumns+` FROM merchant_sanctions ORDER BY uscc`)
	if err != nil {
		return nil, fmt.Errorf("list sanctions: %w", err)
	}
	sanctions, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (registry.Sanction, error) { return scanSanction(row) })
	if err != nil {
		return nil, fmt.Errorf("list sanctions: %w", err)
	}
	return sanctions, nil
}
