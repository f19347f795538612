-- Scratch tables for the raw-SQL baselines of scripts/bench.sh (claim.sql,
-- redeem.sql and the raw COPY), in a schema of their own: the platform's
-- tables are never touched. Each table mirrors the columns, keys, indexes and
-- checks of the real one it stands for (migrations/), without the foreign
-- keys the hot paths avoid there too.
--
--   psql -v ON_ERROR_STOP=1 -v vouchers=1000000 -f scripts/pgbench/setup.sql URL
--
-- vouchers (default 1,000,000) is how many vouchers redeem.sql cycles
-- through. Running it again starts from scratch.
\if :{?vouchers}
\else
\set vouchers 1000000
\endif

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS pgbench_tq CASCADE;
CREATE SCHEMA pgbench_tq;
SET search_path = pgbench_tq;

-- Application-generated, time-ordered keys (UUIDv7 layout: milliseconds
-- first), as the platform's Go code makes them; PostgreSQL 15 has no uuidv7().
CREATE FUNCTION uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

-- The id of the n-th voucher of the scratch table: pgbench variables are
-- integers, the real ids uuids.
CREATE FUNCTION voucher_id(n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
    SELECT ('01900000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid
$$;

-- A claim: one stock bucket of the round, one holder quota row.
CREATE TABLE round_stock (
    round_id  uuid NOT NULL,
    bucket    smallint NOT NULL,
    remaining bigint NOT NULL CHECK (remaining >= 0),
    PRIMARY KEY (round_id, bucket)
);
INSERT INTO round_stock
SELECT '01900000-0000-7000-8000-00000000000b', b, 1000000000000 FROM generate_series(0, 15) b;

CREATE TABLE holder_quota (
    campaign_id uuid NOT NULL,
    holder_hash bytea NOT NULL,
    scope       text NOT NULL,
    used        int NOT NULL CHECK (used >= 0),
    lim         int NOT NULL CHECK (lim > 0),
    PRIMARY KEY (campaign_id, holder_hash, scope),
    CHECK (used <= lim)
);

-- A redemption step: an idempotency key, a voucher, a budget bucket, a
-- ledger entry.
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

INSERT INTO vouchers (id, code, campaign_id, holder_hash, kind, tier_id, round_id, min_spend_fen, discount_fen,
                      valid_from, valid_until, status, source, platform_id, created_at, updated_at)
SELECT voucher_id(n), upper(substr(md5(n::text), 1, 16)), '01900000-0000-7000-8000-00000000000c',
       sha256(int8send(n)), 'consumption', '200-50', '01900000-0000-7000-8000-00000000000b', 20000, 5000,
       now(), now() + interval '7 days', 'active', 'claim', 'bench', now(), now()
FROM generate_series(0, :vouchers - 1) n;

CREATE UNIQUE INDEX vouchers_holder ON vouchers (holder_hash, campaign_id, tier_id, (CASE WHEN source = 'grant' THEN true END));
CREATE INDEX vouchers_expiry ON vouchers (valid_until) WHERE status = 'active';

-- The raw COPY baseline of a direct grant loads this empty twin: LIKE ...
-- INCLUDING ALL gives it the same checks and all four indexes.
CREATE TABLE grant_vouchers (LIKE vouchers INCLUDING ALL);

CREATE TABLE ledger_balances (
    campaign_id  uuid NOT NULL,
    account      text NOT NULL CHECK (account IN ('treasury', 'available', 'allocated', 'committed', 'held', 'payable', 'settled')),
    bucket       smallint NOT NULL CHECK (bucket >= 0),
    balance_fen  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, account, bucket),
    CHECK (account = 'treasury' OR balance_fen >= 0)
);
INSERT INTO ledger_balances
SELECT '01900000-0000-7000-8000-00000000000c', 'held', b, 0 FROM generate_series(0, 15) b;

CREATE TABLE ledger_entries (
    id           uuid PRIMARY KEY,
    transfer_id  uuid NOT NULL,
    campaign_id  uuid NOT NULL,
    account      text NOT NULL,
    bucket       smallint NOT NULL CHECK (bucket >= 0),
    amount_fen   bigint NOT NULL CHECK (amount_fen <> 0),
    kind         text NOT NULL,
    ref          text NOT NULL,
    created_at   timestamptz NOT NULL,
    CHECK ((kind, account, amount_fen > 0) IN (('hold', 'committed', false), ('hold', 'held', true)))
);
CREATE INDEX ledger_entries_campaign ON ledger_entries (campaign_id, id);

VACUUM ANALYZE round_stock, holder_quota, idempotency_keys, vouchers, grant_vouchers, ledger_balances, ledger_entries;
