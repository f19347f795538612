package issuance

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/tongquan/tongquan/internal/auditlog"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/postgres"
)

// expiryChunk bounds one expiry transaction.
const expiryChunk = 5000

// ExpireVouchers marks vouchers past their validity as expired and returns
// the value they held committed to the available budget, for later rounds.
// Chunked; safe to run on several replicas at once (rows are skip-locked).
func (s *Service) ExpireVouchers(ctx context.Context) (expired int, err error) {
	for {
		n := 0
		err := postgres.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			now := s.now()
			batches, err := postgres.ExpireVouchers(ctx, tx, now, expiryChunk)
			if err != nil {
				return err
			}
			n = 0
			var events []auditlog.Event
			for _, b := range batches {
				n += len(b.Vouchers)
				if b.ValueFen > 0 {
					t := ledger.Transfer{CampaignID: b.CampaignID, Kind: ledger.Expiry, AmountFen: b.ValueFen, Ref: "expiry:" + b.Vouchers[0].String()}
					for _, part := range t.Spread(postgres.Buckets) {
						if _, err := postgres.PostTransfer(ctx, tx, part, now); err != nil {
							return err
						}
					}
				}
				for _, id := range b.Vouchers {
					events = append(events, auditlog.Event{At: now, Actor: schedulerActor, ActorRole: schedulerActor,
						Action: "voucher.expired", EntityType: "voucher", EntityID: id.String()})
				}
			}
			return postgres.AppendEvents(ctx, tx, events)
		})
		if err != nil || n == 0 {
			return expired, err
		}
		expired += n
	}
}
