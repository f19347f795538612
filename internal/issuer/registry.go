package issuer

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/registry"
)

// The registry use cases. Administrators register platforms and their keys
// and sanction merchants' legal entities; each platform keeps its own
// merchants and only ever sees those. A change that would leave an entity as
// it was writes nothing, not even an audit event.

// MaxImportRows is the most data rows one merchant import may hold.
const MaxImportRows = 100_000

// KeyInput is a public key as a platform hands it over.
type KeyInput struct {
	KeyID        string
	PublicKeyPEM string
}

// NewPlatform is what an administrator registers a platform with.
type NewPlatform struct {
	ID   string
	Name string
	Keys []KeyInput
}

// PlatformPatch changes the fields that are set.
type PlatformPatch struct {
	Name   *string
	Status *registry.PlatformStatus
}

// ImportReport says what a merchant import did with each data row.
type ImportReport struct {
	Rows     int `json:"rows"`
	Imported int `json:"imported"` // good rows, now stored as the file has them
	Rejected int `json:"rejected"`
	Changed  int `json:"changed"` // imported rows that were new or differed from what was stored
	// Errors are left out of the audit event: rejected rows change nothing.
	Errors []registry.RowError `json:"-"`
}

// dbNow is the clock at the database's precision, so what a use case returns
// equals what is read back later.
func (s *Service) dbNow() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// CreatePlatform registers an active platform with at least one key.
func (s *Service) CreatePlatform(ctx context.Context, a Actor, in NewPlatform) (registry.Platform, error) {
	now := s.dbNow()
	p := registry.Platform{ID: in.ID, Name: in.Name, Status: registry.PlatformActive, CreatedAt: now, UpdatedAt: now}
	fields := p.Validate()
	keys, keyFields, err := parseKeys(in.Keys, now)
	if err != nil {
		return registry.Platform{}, err
	}
	if fields = append(fields, keyFields...); len(fields) > 0 {
		return registry.Platform{}, apperr.Invalid(fields...)
	}
	p.Keys = keys
	err = postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := postgres.InsertPlatform(ctx, tx, p); err != nil {
			return err
		}
		return s.auditEntity(ctx, tx, a, "platform.created", "platform", p.ID, nil, p)
	})
	if err != nil {
		return registry.Platform{}, err
	}
	return p, nil
}

// parseKeys checks the keys of a new platform, naming each bad field by its
// place in the list (keys[1].public_key_pem).
func parseKeys(in []KeyInput, now time.Time) ([]registry.PlatformKey, []apperr.FieldError, error) {
	if len(in) == 0 {
		return nil, []apperr.FieldError{{Field: "keys", Reason: "must hold at least one public key"}}, nil
	}
	var (
		keys   []registry.PlatformKey
		fields []apperr.FieldError
		first  = map[string]int{} // key id → index that used it first
	)
	for i, k := range in {
		key, _, err := registry.ParsePlatformKey(k.KeyID, k.PublicKeyPEM)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.CodeValidationFailed {
				return nil, nil, err
			}
			for _, f := range e.Fields {
				fields = append(fields, apperr.FieldError{Field: fmt.Sprintf("keys[%d].%s", i, f.Field), Reason: f.Reason})
			}
			continue
		}
		if j, dup := first[k.KeyID]; dup {
			fields = append(fields, apperr.FieldError{
				Field: fmt.Sprintf("keys[%d].key_id", i), Reason: fmt.Sprintf("repeats keys[%d].key_id; give each key its own id", j),
			})
			continue
		}
		first[k.KeyID] = i
		key.CreatedAt = now
		keys = append(keys, key)
	}
	return keys, fields, nil
}

// ListPlatforms returns every platform with its keys.
func (s *Service) ListPlatforms(ctx context.Context) ([]registry.Platform, error) {
	return postgres.ListPlatforms(ctx, s.pool)
}

// GetPlatform returns one platform with its keys, revoked ones included.
func (s *Service) GetPlatform(ctx context.Context, id string) (registry.Platform, error) {
	return postgres.GetPlatform(ctx, s.pool, id)
}

// UpdatePlatform renames, suspends or reactivates a platform. A suspension
// reaches authentication through the key store's cache, within its TTL.
func (s *Service) UpdatePlatform(ctx context.Context, a Actor, id string, patch PlatformPatch) (registry.Platform, error) {
	var out registry.Platform
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := postgres.LockPlatform(ctx, tx, id)
		if err != nil {
			return err
		}
		after := before
		if patch.Name != nil {
			after.Name = *patch.Name
		}
		if patch.Status != nil {
			after.Status = *patch.Status
		}
		if fields := after.Validate(); len(fields) > 0 {
			return apperr.Invalid(fields...)
		}
		if after.Name == before.Name && after.Status == before.Status {
			out = before
			return nil
		}
		after.UpdatedAt = s.dbNow()
		if err := postgres.UpdatePlatform(ctx, tx, after); err != nil {
			return err
		}
		out = after
		return s.auditEntity(ctx, tx, a, platformUpdateAction(before, after), "platform", id, before, after)
	})
	return out, err
}

// platformUpdateAction names an update by its weightiest part; the event's
// before and after show every field that changed.
func platformUpdateAction(before, after registry.Platform) string {
	switch {
	case before.Status == after.Status:
		return "platform.renamed"
	case after.Status == registry.PlatformSuspended:
		return "platform.suspended"
	default:
		return "platform.reactivated"
	}
}

// AddPlatformKey registers another key, the first step of a rotation: the
// platform's other keys stay valid until revoked.
func (s *Service) AddPlatformKey(ctx context.Context, a Actor, platformID string, in KeyInput) (registry.Platform, error) {
	key, _, err := registry.ParsePlatformKey(in.KeyID, in.PublicKeyPEM)
	if err != nil {
		return registry.Platform{}, err
	}
	return s.changeKeys(ctx, a, platformID, "platform.key_added", func(tx pgx.Tx, p *registry.Platform) error {
		key.CreatedAt = p.UpdatedAt
		if err := postgres.InsertPlatformKey(ctx, tx, platformID, key); err != nil {
			return err
		}
		p.Keys = append(p.Keys, key)
		return nil
	})
}

// RevokePlatformKey revokes a key; tokens signed with it are refused once
// the key store's cache has expired. Revoking the last active key is allowed
// on purpose: a leaked key must be revocable at once, even before the
// platform has a replacement. The platform then cannot authenticate until an
// administrator adds a new key.
func (s *Service) RevokePlatformKey(ctx context.Context, a Actor, platformID, keyID string) (registry.Platform, error) {
	return s.changeKeys(ctx, a, platformID, "platform.key_revoked", func(tx pgx.Tx, p *registry.Platform) error {
		i := keyIndex(p.Keys, keyID)
		if i < 0 {
			return apperr.New(apperr.CodeNotFound, "platform %q has no key %q", platformID, keyID)
		}
		k := &p.Keys[i]
		if k.RevokedAt != nil {
			return apperr.New(apperr.CodeInvalidState, "key %q of platform %q was already revoked at %s",
				keyID, platformID, k.RevokedAt.Format(time.RFC3339)).With("revoked_at", k.RevokedAt)
		}
		revokedAt := p.UpdatedAt
		k.RevokedAt = &revokedAt
		return postgres.RevokePlatformKey(ctx, tx, platformID, keyID, revokedAt)
	})
}

func keyIndex(keys []registry.PlatformKey, keyID string) int {
	for i, k := range keys {
		if k.KeyID == keyID {
			return i
		}
	}
	return -1
}

// changeKeys runs change on the locked platform, whose UpdatedAt it has set
// to now, then stores the new updated_at and audits the change.
func (s *Service) changeKeys(ctx context.Context, a Actor, platformID, action string,
	change func(pgx.Tx, *registry.Platform) error,
) (registry.Platform, error) {
	var out registry.Platform
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := postgres.LockPlatform(ctx, tx, platformID)
		if err != nil {
			return err
		}
		after := before
		after.Keys = append([]registry.PlatformKey(nil), before.Keys...)
		after.UpdatedAt = s.dbNow()
		if err := change(tx, &after); err != nil {
			return err
		}
		if err := postgres.UpdatePlatform(ctx, tx, after); err != nil {
			return err
		}
		out = after
		return s.auditEntity(ctx, tx, a, action, "platform", platformID, before, after)
	})
	return out, err
}

// merchantEntity is a merchant's audit entity id. Merchant ids cannot hold
// '/', so it is unambiguous.
func merchantEntity(m registry.Merchant) string { return m.PlatformID + "/" + m.MerchantID }

// UpsertMerchant creates or updates one of m.PlatformID's merchants (the
// caller sets it from the authenticated platform) and returns it with the
// sanction on its legal entity. Sending the same merchant again changes
// nothing and audits nothing.
func (s *Service) UpsertMerchant(ctx context.Context, a Actor, m registry.Merchant) (registry.Merchant, error) {
	if fields := m.Validate(); len(fields) > 0 {
		return registry.Merchant{}, apperr.Invalid(fields...)
	}
	m.Sanction = ""
	m.CreatedAt = s.dbNow()
	m.UpdatedAt = m.CreatedAt
	var out registry.Merchant
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		// Insert first: a concurrent first upsert of the same merchant then
		// waits for this one and updates it, rather than both creating it.
		created, inserted, err := postgres.InsertMerchant(ctx, tx, m)
		if err != nil {
			return err
		}
		if inserted {
			out = created
			return s.auditEntity(ctx, tx, a, "merchant.created", "merchant", merchantEntity(m), nil, created)
		}
		before, err := postgres.LockMerchant(ctx, tx, m.PlatformID, m.MerchantID)
		if err != nil {
			return err
		}
		if sameMerchant(before, m) {
			out = before
			return nil
		}
		if out, err = postgres.UpdateMerchant(ctx, tx, m); err != nil {
			return err
		}
		return s.auditEntity(ctx, tx, a, "merchant.updated", "merchant", merchantEntity(m), before, out)
	})
	return out, err
}

// sameMerchant compares the fields a platform supplies.
func sameMerchant(a, b registry.Merchant) bool {
	return a.Name == b.Name && a.USCC == b.USCC && a.Region == b.Region &&
		a.Category == b.Category && a.Channel == b.Channel && a.Status == b.Status
}

// GetMerchant returns one of a platform's merchants with its sanction;
// another platform's merchant is NOT_FOUND.
func (s *Service) GetMerchant(ctx context.Context, platformID, merchantID string) (registry.Merchant, error) {
	return postgres.MerchantForCheckout(ctx, s.pool, platformID, merchantID)
}

// ImportMerchants upserts a platform's merchants from a CSV file (see
// registry.ParseMerchantCSV) in one transaction: the good rows are stored,
// the bad ones reported. A whole-file problem is an error and stores nothing;
// a read error from r (such as *http.MaxBytesError) stays in its chain. One
// audit event records the import's counts, on the platform, when any row
// changed.
func (s *Service) ImportMerchants(ctx context.Context, a Actor, platformID string, r io.Reader) (ImportReport, error) {
	merchants, rowErrors, err := registry.ParseMerchantCSV(r, platformID, MaxImportRows)
	if err != nil {
		return ImportReport{}, err
	}
	rep := ImportReport{
		Rows:     len(merchants) + len(rowErrors),
		Imported: len(merchants),
		Rejected: len(rowErrors),
		Errors:   rowErrors,
	}
	if len(merchants) == 0 {
		return rep, nil
	}
	err = postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		changed, err := postgres.UpsertMerchants(ctx, tx, platformID, merchants, s.dbNow())
		if err != nil {
			return err
		}
		rep.Changed = int(changed)
		if changed == 0 {
			return nil
		}
		return s.auditEntity(ctx, tx, a, "merchant.imported", "platform", platformID, nil, rep)
	})
	if err != nil {
		return ImportReport{}, err
	}
	return rep, nil
}

// SetSanction suspends or blacklists a legal entity on every platform, or
// lifts its sanction (registry.SanctionNone). DecidedBy and DecidedAt come
// from the actor and the clock. Lifting deletes the sanction; the lift's
// audit event keeps who lifted it, when and why. Setting the sanction and
// reason already in force, or lifting where there is none, changes nothing.
func (s *Service) SetSanction(ctx context.Context, a Actor, in registry.Sanction) (registry.Sanction, error) {
	in.DecidedBy, in.DecidedAt = a.Subject, s.dbNow()
	if fields := in.Validate(); len(fields) > 0 {
		return registry.Sanction{}, apperr.Invalid(fields...)
	}
	if in.Sanction == registry.SanctionNone {
		return in, s.liftSanction(ctx, a, in)
	}
	var out registry.Sanction
	err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		action := "merchant_sanction." + in.Sanction
		inserted, err := postgres.InsertSanction(ctx, tx, in)
		if err != nil {
			return err
		}
		if inserted {
			out = in
			return s.auditEntity(ctx, tx, a, action, "merchant_sanction", in.USCC, nil, in)
		}
		before, err := postgres.LockSanction(ctx, tx, in.USCC)
		if apperr.Is(err, apperr.CodeNotFound) {
			return apperr.New(apperr.CodeConflict,
				"the sanction on %s was lifted while this change was being made; read it again and retry", in.USCC)
		}
		if err != nil {
			return err
		}
		if before.Sanction == in.Sanction && before.Reason == in.Reason {
			out = before
			return nil
		}
		if err := postgres.UpdateSanction(ctx, tx, in); err != nil {
			return err
		}
		out = in
		return s.auditEntity(ctx, tx, a, action, "merchant_sanction", in.USCC, before, in)
	})
	return out, err
}

func (s *Service) liftSanction(ctx context.Context, a Actor, lift registry.Sanction) error {
	return postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := postgres.DeleteSanction(ctx, tx, lift.USCC)
		if apperr.Is(err, apperr.CodeNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.auditEntity(ctx, tx, a, "merchant_sanction.lifted", "merchant_sanction", lift.USCC, before, lift)
	})
}

// ListSanctions returns every sanction in force.
func (s *Service) ListSanctions(ctx context.Context) ([]registry.Sanction, error) {
	return postgres.ListSanctions(ctx, s.pool)
}
