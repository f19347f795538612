-- +goose Up
-- The budget ledger (package ledger). Balances are split into buckets so the
-- claim and redemption paths do not queue on one hot row; the application
-- decides how many (postgres.Buckets) and InitLedger creates the rows.
CREATE TABLE ledger_balances (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id),
    account      text NOT NULL CHECK (account IN ('treasury', 'available', 'allocated', 'committed', 'held', 'payable', 'settled')),
    bucket       smallint NOT NULL CHECK (bucket >= 0),
    balance_fen  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, account, bucket),
    -- The treasury is minus what was funded; every other account is value
    -- that exists. Writers debit conditionally and never hit this: it is the
    -- last line against overspending.
    CONSTRAINT ledger_balances_non_negative CHECK (account = 'treasury' OR balance_fen >= 0)
);

-- Append-only. No foreign key to campaigns: checking it would share-lock the
-- campaign row on every entry, the very hot row the buckets avoid; entries
-- are written only after their balance rows, which do reference campaigns.
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
    -- Each entry follows its kind's route (ledger.Route): the debit side is
    -- negative, the credit side positive. A per-row check costs next to
    -- nothing; that each transfer sums to zero is left to PostTransfer, which
    -- writes all of a transfer's entries in one statement, and to the checker.
    CONSTRAINT ledger_entries_route CHECK ((kind, account, amount_fen > 0) IN (
        ('funding',         'treasury',  false), ('funding',         'available', true),
        ('defunding',       'available', false), ('defunding',       'treasury',  true),
        ('allocation',      'available', false), ('allocation',      'allocated', true),
        ('deallocation',    'allocated', false), ('deallocation',    'available', true),
        ('claim',           'allocated', false), ('claim',           'committed', true),
        ('expiry',          'committed', false), ('expiry',          'available', true),
        ('hold',            'committed', false), ('hold',            'held',      true),
        ('subsidy_hold',    'available', false), ('subsidy_hold',    'held',      true),
        ('release',         'held',      false), ('release',         'committed', true),
        ('subsidy_release', 'held',      false), ('subsidy_release', 'available', true),
        ('redemption',      'held',      false), ('redemption',      'payable',   true),
        ('refund',          'payable',   false), ('refund',          'committed', true),
        ('clawback',        'payable',   false), ('clawback',        'available', true),
        ('settlement',      'payable',   false), ('settlement',      'settled',   true)
    ))
);
CREATE INDEX ledger_entries_campaign ON ledger_entries (campaign_id, id);

-- +goose Down
DROP TABLE ledger_entries;
DROP TABLE ledger_balances;
