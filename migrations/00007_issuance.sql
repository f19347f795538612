-- +goose Up
-- Release rounds: one row per opening of a release schedule. The unique key
-- makes opening a round idempotent across scheduler runs and replicas.
CREATE TABLE rounds (
    id          uuid PRIMARY KEY,
    campaign_id uuid NOT NULL REFERENCES campaigns (id),
    release_id  text NOT NULL,
    tier_id     text NOT NULL,
    opens_at    timestamptz NOT NULL,
    closes_at   timestamptz,
    quantity    bigint NOT NULL CHECK (quantity >= 0),
    unit_fen    bigint NOT NULL CHECK (unit_fen > 0),
    status      text NOT NULL CHECK (status IN ('open', 'closed')),
    returned    bigint NOT NULL DEFAULT 0 CHECK (returned >= 0),
    closed_at   timestamptz,
    UNIQUE (campaign_id, release_id, opens_at)
);
CREATE INDEX rounds_open ON rounds (status, closes_at) WHERE status = 'open';

-- A round's stock, split into buckets so concurrent claims do not queue on
-- one row.
CREATE TABLE round_stock (
    round_id  uuid NOT NULL REFERENCES rounds (id),
    bucket    smallint NOT NULL,
    remaining bigint NOT NULL CHECK (remaining >= 0),
    PRIMARY KEY (round_id, bucket)
);

-- No foreign key to campaigns: checking it would share-lock the campaign
-- row on every claim, the hot row the claim path is built to avoid.
CREATE TABLE vouchers (
    id               uuid PRIMARY KEY,
    code             text NOT NULL UNIQUE,
    campaign_id      uuid NOT NULL,
    holder_hash      bytea NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('consumption', 'trade_in')),
    tier_id          text,
    category         text,
    round_id         uuid,
    min_spend_fen    bigint,
    discount_fen     bigint,
    terms            jsonb,
    valid_from       timestamptz NOT NULL,
    valid_until      timestamptz NOT NULL,
    status           text NOT NULL CHECK (status IN ('active', 'reserved', 'redeemed', 'expired', 'void')),
    source           text NOT NULL CHECK (source IN ('claim', 'lottery', 'grant')),
    platform_id      text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK ((kind = 'consumption') = (tier_id IS NOT NULL AND discount_fen > 0 AND min_spend_fen > discount_fen)),
    CHECK ((kind = 'trade_in') = (category IS NOT NULL))
);
CREATE INDEX vouchers_holder ON vouchers (holder_hash, id DESC);
CREATE INDEX vouchers_expiry ON vouchers (valid_until) WHERE status = 'active';
-- A direct grant gives each holder at most one voucher of a tier, however
-- often the list is uploaded.
CREATE UNIQUE INDEX vouchers_one_grant ON vouchers (campaign_id, tier_id, holder_hash) WHERE source = 'grant';

-- Per-holder quotas: one row per (campaign, holder, scope) where scope names
-- what is limited (round:<id>, tier:<id>, category:<code>). The CHECK makes
-- the database refuse a claim over the limit whatever the platform.
CREATE TABLE holder_quota (
    campaign_id uuid NOT NULL,
    holder_hash bytea NOT NULL,
    scope       text NOT NULL,
    used        int NOT NULL CHECK (used >= 0),
    lim         int NOT NULL CHECK (lim > 0),
    PRIMARY KEY (campaign_id, holder_hash, scope),
    CHECK (used <= lim)
);

-- Idempotency keys per platform, written in the same transaction as the
-- effect they guard, with the response to replay.
CREATE TABLE idempotency_keys (
    platform_id  text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status       int,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE holder_quota;
DROP TABLE vouchers;
DROP TABLE round_stock;
DROP TABLE rounds;
