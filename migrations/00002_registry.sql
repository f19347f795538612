-- +goose Up
-- Platforms (e-commerce platforms calling the checkout API) and their keys.
CREATE TABLE platforms (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_-]{1,31}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Several keys per platform so a platform rotates without downtime: add the
-- new key, switch signing, revoke the old one.
CREATE TABLE platform_keys (
    platform_id    text NOT NULL REFERENCES platforms (id),
    key_id         text NOT NULL CHECK (key_id ~ '^[A-Za-z0-9._-]{1,64}$'),
    public_key_pem text NOT NULL,
    algorithm      text NOT NULL CHECK (algorithm IN ('EdDSA', 'ES256', 'RS256')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    PRIMARY KEY (platform_id, key_id)
);

-- Merchants are each platform's own: the key is (platform, merchant id).
CREATE TABLE merchants (
    platform_id  text NOT NULL REFERENCES platforms (id),
    merchant_id  text NOT NULL CHECK (merchant_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    name         text NOT NULL,
    uscc         char(18) NOT NULL,
    region       char(6) NOT NULL,
    category     text NOT NULL,
    channel      text NOT NULL CHECK (channel IN ('online', 'offline')),
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform_id, merchant_id)
);
CREATE INDEX merchants_uscc ON merchants (uscc);

-- Sanctions are on the legal entity (unified social credit code), so a
-- blacklisted merchant is refused on every platform it sells through.
CREATE TABLE merchant_sanctions (
    uscc        char(18) PRIMARY KEY,
    sanction    text NOT NULL CHECK (sanction IN ('suspended', 'blacklisted')),
    reason      text NOT NULL,
    decided_by  text NOT NULL,
    decided_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE merchant_sanctions;
DROP TABLE merchants;
DROP TABLE platform_keys;
DROP TABLE platforms;
