-- +goose NO TRANSACTION
-- +goose Up
-- Audit history at size (measured on 10 million redemptions, BENCHMARKS.md).
-- A page was already an index range read; the totals of a filter read every
-- matching row, and fetching those rows from the heap made a campaign's
-- totals take seconds. The indexes the totals use now carry the summed
-- amounts, so a totals query is an index-only scan of the matching entries
-- (for pages the vacuum has marked all-visible, i.e. all but the newest).
-- Built CONCURRENTLY: on a live history a plain CREATE INDEX would block
-- checkout's writes for minutes. A CONCURRENTLY build that fails or is
-- interrupted leaves an invalid index of its name, and goose records the
-- migration only once every statement has run: each new index is dropped
-- if it exists before it is built, so the migration can simply run again.
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_campaign_v2;
CREATE INDEX CONCURRENTLY redemptions_audit_campaign_v2 ON redemptions (campaign_id, created_at, id)
    INCLUDE (discount_fen, paid_fen);
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_campaign;
ALTER INDEX redemptions_audit_campaign_v2 RENAME TO redemptions_audit_campaign;

DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_platform_v2;
CREATE INDEX CONCURRENTLY redemptions_audit_platform_v2 ON redemptions (platform_id, created_at, id)
    INCLUDE (discount_fen, paid_fen);
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_platform;
ALTER INDEX redemptions_audit_platform_v2 RENAME TO redemptions_audit_platform;

DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_time_v2;
CREATE INDEX CONCURRENTLY redemptions_audit_time_v2 ON redemptions (created_at, id)
    INCLUDE (discount_fen, paid_fen);
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_time;
ALTER INDEX redemptions_audit_time_v2 RENAME TO redemptions_audit_time;

-- Trade-in category: only trade-in rows carry one. The merchant's key is
-- included so a region filter joins merchants without visiting the heap.
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_category;
CREATE INDEX CONCURRENTLY redemptions_audit_category ON redemptions (category, created_at, id)
    INCLUDE (platform_id, merchant_id, discount_fen, paid_fen) WHERE category IS NOT NULL;

-- Statuses other than confirmed are the few rows an auditor looks for
-- (refunds, cancellations, expired holds); confirmed is most of the table,
-- where an index would not beat a scan.
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_status;
CREATE INDEX CONCURRENTLY redemptions_audit_status ON redemptions (status, created_at, id)
    INCLUDE (payment_channel, discount_fen, paid_fen) WHERE status <> 'confirmed';

-- +goose Down
-- Run again after an interruption as the Up is (see above).
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_status;
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_category;
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_time_v1;
CREATE INDEX CONCURRENTLY redemptions_audit_time_v1 ON redemptions (created_at, id);
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_time;
ALTER INDEX redemptions_audit_time_v1 RENAME TO redemptions_audit_time;
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_platform_v1;
CREATE INDEX CONCURRENTLY redemptions_audit_platform_v1 ON redemptions (platform_id, created_at, id);
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_platform;
ALTER INDEX redemptions_audit_platform_v1 RENAME TO redemptions_audit_platform;
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_campaign_v1;
CREATE INDEX CONCURRENTLY redemptions_audit_campaign_v1 ON redemptions (campaign_id, created_at, id);
DROP INDEX CONCURRENTLY IF EXISTS redemptions_audit_campaign;
ALTER INDEX redemptions_audit_campaign_v1 RENAME TO redemptions_audit_campaign;
