-- +goose Up
-- One index for a holder's vouchers and for the one-grant rule, where there
-- were two: every voucher a claim or a grant inserts pays for each index
-- it enters, and a million-voucher grant went from 9.1–9.6 s to 7.6–8.0 s
-- with the two merged (BENCHMARKS.md, "Direct grants"). The last column is
-- true for a granted voucher and NULL otherwise; NULLs never collide, so
-- the index is unique only for grants: a holder has at most one granted
-- voucher of a tier, and any number of claimed ones. A holder's listing,
-- newest first, now sorts the holder's few vouchers instead of reading them
-- in order.
DROP INDEX vouchers_holder;
DROP INDEX vouchers_one_grant;
CREATE UNIQUE INDEX vouchers_holder ON vouchers (holder_hash, campaign_id, tier_id, (CASE WHEN source = 'grant' THEN true END));

-- +goose Down
DROP INDEX vouchers_holder;
CREATE INDEX vouchers_holder ON vouchers (holder_hash, id DESC);
CREATE UNIQUE INDEX vouchers_one_grant ON vouchers (campaign_id, tier_id, holder_hash) WHERE source = 'grant';
