-- +goose NO TRANSACTION
-- +goose Up
-- One index for a holder's vouchers and for the one-grant rule, where there
-- were two: every voucher a claim or a grant inserts pays for each index
-- it enters, and a million-voucher grant went from 9.1–9.6 s to 7.6–8.0 s
-- with the two merged (BENCHMARKS.md, "Direct grants"). The last column is
-- true for a granted voucher and NULL otherwise; NULLs never collide, so
-- the index is unique only for grants: a holder has at most one granted
-- voucher of a tier, and any number of claimed ones. A holder's listing,
-- newest first, now sorts the holder's few vouchers instead of reading them
-- in order. Built CONCURRENTLY, before the two it replaces are dropped: on
-- a live vouchers table a plain CREATE INDEX would block claims, grants
-- and checkouts for as long as it takes.
--
-- A CONCURRENTLY build that fails or is interrupted leaves an invalid index
-- of its name behind, and goose records the migration only once every
-- statement has run: so each statement may find the work of an earlier
-- attempt, and none fails on it. A run that got past the build rebuilds it.
DROP INDEX CONCURRENTLY IF EXISTS vouchers_holder_v2;
CREATE UNIQUE INDEX CONCURRENTLY vouchers_holder_v2
    ON vouchers (holder_hash, campaign_id, tier_id, (CASE WHEN source = 'grant' THEN true END));
DROP INDEX CONCURRENTLY IF EXISTS vouchers_one_grant;
DROP INDEX CONCURRENTLY IF EXISTS vouchers_holder;
ALTER INDEX vouchers_holder_v2 RENAME TO vouchers_holder;

-- +goose Down
-- Run again after an interruption as the Up is (see above).
DROP INDEX CONCURRENTLY IF EXISTS vouchers_one_grant;
CREATE UNIQUE INDEX CONCURRENTLY vouchers_one_grant ON vouchers (campaign_id, tier_id, holder_hash) WHERE source = 'grant';
DROP INDEX CONCURRENTLY IF EXISTS vouchers_holder_v1;
CREATE INDEX CONCURRENTLY vouchers_holder_v1 ON vouchers (holder_hash, id DESC);
DROP INDEX CONCURRENTLY IF EXISTS vouchers_holder;
ALTER INDEX vouchers_holder_v1 RENAME TO vouchers_holder;
