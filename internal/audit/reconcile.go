package audit

import (
	"context"
	"io"
	"time"

	"github.com/tongquan/tongquan/internal/postgres"
	"github.com/tongquan/tongquan/internal/settlement"
)

// MaxReconcileRows is how many rows a reconciliation report lists per kind
// of finding; the counts always cover every row.
const MaxReconcileRows = 1000

// Reconcile compares a platform's own record of a business date (CSV, see
// settlement.ParseUpload) with the platform's redemptions confirmed on that
// local date in their campaign's time zone. It writes nothing. A malformed
// file is VALIDATION_FAILED naming its first bad line.
func (s *Service) Reconcile(ctx context.Context, platformID string, date time.Time, upload io.Reader) (settlement.Report, error) {
	if _, err := postgres.GetPlatform(ctx, s.pool, platformID); err != nil {
		return settlement.Report{}, err
	}
	u, err := settlement.ParseUpload(upload)
	if err != nil {
		return settlement.Report{}, err
	}
	rc := settlement.NewReconciler(u, MaxReconcileRows)
	err = postgres.EachConfirmedOn(ctx, s.pool, platformID, date, func(r settlement.Record) error {
		rc.Ours(r)
		return nil
	})
	if err != nil {
		return settlement.Report{}, err
	}
	return rc.Report(), nil
}
