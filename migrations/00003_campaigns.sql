-- +goose Up
-- A campaign's rules (tiers, trade-in categories, eligibility) are one
-- document: written whole while in draft, frozen once submitted, read whole.
CREATE TABLE campaigns (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('consumption', 'trade_in')),
    name          text NOT NULL,
    authority     text NOT NULL,
    currency      text NOT NULL CHECK (currency = 'CNY'),
    time_zone     text NOT NULL,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL CHECK (ends_at > starts_at),
    budget_fen    bigint NOT NULL CHECK (budget_fen > 0),
    hold_minutes  int NOT NULL CHECK (hold_minutes BETWEEN 1 AND 1440),
    rules         jsonb NOT NULL,
    status        text NOT NULL CHECK (status IN ('draft', 'submitted', 'approved', 'active', 'paused', 'ended', 'cancelled')),
    version       int NOT NULL DEFAULT 1,
    created_by    text NOT NULL,
    submitted_by  text,
    approved_by   text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX campaigns_status ON campaigns (status, starts_at);

-- Budget changes after approval go through the same four eyes: requested,
-- then approved (and booked in the ledger) or rejected by another person.
CREATE TABLE budget_changes (
    id            uuid PRIMARY KEY,
    campaign_id   uuid NOT NULL REFERENCES campaigns (id),
    delta_fen     bigint NOT NULL CHECK (delta_fen <> 0),
    reason        text NOT NULL,
    status        text NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected')),
    requested_by  text NOT NULL,
    decided_by    text,
    requested_at  timestamptz NOT NULL,
    decided_at    timestamptz
);
CREATE INDEX budget_changes_campaign ON budget_changes (campaign_id, requested_at);

-- +goose Down
DROP TABLE budget_changes;
DROP TABLE campaigns;
