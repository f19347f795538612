-- +goose Up
-- Audit history: each filter an auditor pages by leads an index that ends in
-- the keyset order (created_at, id), so a page is an index range read however
-- many millions of redemptions exist. Totals still read every matching row.
CREATE INDEX redemptions_audit_time ON redemptions (created_at, id);
CREATE INDEX redemptions_audit_campaign ON redemptions (campaign_id, created_at, id);
CREATE INDEX redemptions_audit_platform ON redemptions (platform_id, created_at, id);
CREATE INDEX redemptions_audit_merchant ON redemptions (merchant_id, created_at, id);
CREATE INDEX redemptions_audit_holder ON redemptions (holder_hash, created_at, id);

-- +goose Down
DROP INDEX redemptions_audit_holder;
DROP INDEX redemptions_audit_merchant;
DROP INDEX redemptions_audit_platform;
DROP INDEX redemptions_audit_campaign;
DROP INDEX redemptions_audit_time;
