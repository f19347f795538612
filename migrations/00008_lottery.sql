-- +goose Up
-- One lottery per campaign: the committed seed, secret until the draw, and
-- once drawn the outcome. winners < least(winners_wanted, registrations)
-- means the budget could not pay every winner (budget_limited).
CREATE TABLE lotteries (
    campaign_id    uuid PRIMARY KEY REFERENCES campaigns (id),
    algorithm      text NOT NULL,
    seed           bytea NOT NULL CHECK (length(seed) = 32),
    committed_at   timestamptz NOT NULL,
    drawn_at       timestamptz,
    registrations  bigint CHECK (registrations >= 0),
    winners_wanted bigint CHECK (winners_wanted > 0),
    winners        bigint CHECK (winners >= 0 AND winners <= least(winners_wanted, registrations)),
    tickets_digest text,
    budget_limited boolean,
    CHECK ((drawn_at IS NULL) = (registrations IS NULL)
       AND (drawn_at IS NULL) = (winners_wanted IS NULL)
       AND (drawn_at IS NULL) = (winners IS NULL)
       AND (drawn_at IS NULL) = (tickets_digest IS NULL)
       AND (drawn_at IS NULL) = (budget_limited IS NULL))
);

-- Registrations reference their lottery, so each one takes a key-share lock
-- on the lottery row and the draw's row lock waits for them all. Tickets use
-- the C collation: the published order is bytewise, whatever the database's.
CREATE TABLE lottery_registrations (
    id            uuid PRIMARY KEY,
    campaign_id   uuid NOT NULL REFERENCES lotteries (campaign_id),
    holder_hash   bytea NOT NULL,
    platform_id   text NOT NULL,
    ticket        text COLLATE "C" NOT NULL CHECK (ticket ~ '^[0-9a-f]{64}$'),
    status        text NOT NULL CHECK (status IN ('registered', 'won', 'lost')),
    voucher_id    uuid REFERENCES vouchers (id),
    registered_at timestamptz NOT NULL,
    CONSTRAINT lottery_registrations_one_per_holder UNIQUE (campaign_id, holder_hash),
    CONSTRAINT lottery_registrations_ticket UNIQUE (campaign_id, ticket),
    CHECK ((status = 'won') = (voucher_id IS NOT NULL))
);

-- +goose Down
DROP TABLE lottery_registrations;
DROP TABLE lotteries;
