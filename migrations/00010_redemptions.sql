-- +goose Up
-- Checkout: a redemption holds a voucher for an order (reserved), then is
-- confirmed after payment, cancelled, expired, or refunded.
CREATE TABLE redemptions (
    id               uuid PRIMARY KEY,
    platform_id      text NOT NULL,
    order_no         text NOT NULL,
    voucher_id       uuid NOT NULL REFERENCES vouchers (id),
    voucher_code     text NOT NULL,
    campaign_id      uuid NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('consumption', 'trade_in')),
    holder_hash      bytea NOT NULL,
    merchant_id      text NOT NULL,
    amount_fen       bigint NOT NULL CHECK (amount_fen > 0),
    discount_fen     bigint NOT NULL CHECK (discount_fen > 0 AND discount_fen <= amount_fen),
    min_spend_fen    bigint NOT NULL DEFAULT 0,
    payment_channel  text NOT NULL,
    channel_txn_id   text,
    paid_fen         bigint,
    status           text NOT NULL CHECK (status IN ('reserved', 'confirmed', 'cancelled', 'expired', 'refunded')),
    serial_number    text,
    category         text,
    hold_expires_at  timestamptz NOT NULL,
    confirmed_at     timestamptz,
    refunded_fen     bigint NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0),
    clawed_back_fen  bigint NOT NULL DEFAULT 0 CHECK (clawed_back_fen >= 0 AND clawed_back_fen <= discount_fen),
    receipt          jsonb,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CHECK (paid_fen IS NULL OR refunded_fen <= paid_fen)
);
CREATE INDEX redemptions_platform ON redemptions (platform_id, order_no);
CREATE INDEX redemptions_holds ON redemptions (hold_expires_at) WHERE status = 'reserved';
-- A voucher is held or redeemed by at most one redemption at a time.
CREATE UNIQUE INDEX redemptions_live_voucher ON redemptions (voucher_id) WHERE status IN ('reserved', 'confirmed');
-- A device serial number / IMEI is subsidised once, on whatever platform.
CREATE UNIQUE INDEX redemptions_serial ON redemptions (serial_number)
    WHERE serial_number IS NOT NULL AND status IN ('reserved', 'confirmed');

-- Orders by platform order number: the number names one order (same
-- merchant, amount and items), and counts the vouchers live on it (stacking).
CREATE TABLE checkout_orders (
    platform_id  text NOT NULL,
    order_no     text NOT NULL,
    fingerprint  bytea NOT NULL,
    vouchers     int NOT NULL CHECK (vouchers >= 0),
    PRIMARY KEY (platform_id, order_no)
);

CREATE TABLE refunds (
    id             uuid PRIMARY KEY,
    redemption_id  uuid NOT NULL REFERENCES redemptions (id),
    refund_no      text NOT NULL,
    refund_fen     bigint NOT NULL CHECK (refund_fen > 0),
    clawback_fen   bigint NOT NULL CHECK (clawback_fen >= 0),
    created_at     timestamptz NOT NULL,
    UNIQUE (redemption_id, refund_no)
);

-- +goose Down
DROP TABLE refunds;
DROP TABLE checkout_orders;
DROP TABLE redemptions;
