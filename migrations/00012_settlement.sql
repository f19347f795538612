-- +goose Up
-- Settlement (package settlement, use cases in package clearing). Every
-- confirm (+discount) and every refund (-clawback) of a platform becomes one
-- settlement item, once, in the first statement issued after its local day
-- (campaign time zone) has ended. A statement is immutable once issued: its
-- items and lines are never changed, and the statement row itself only moves
-- from issued to paid.
CREATE TABLE settlement_statements (
    id                 uuid PRIMARY KEY,
    platform_id        text NOT NULL REFERENCES platforms (id),
    business_date      date NOT NULL,
    currency           text NOT NULL CHECK (currency = 'CNY'),
    status             text NOT NULL CHECK (status IN ('issued', 'paid')),
    confirmed_count    bigint NOT NULL,
    discount_fen       bigint NOT NULL,
    paid_fen           bigint NOT NULL,
    refund_count       bigint NOT NULL,
    refunded_fen       bigint NOT NULL,
    clawback_fen       bigint NOT NULL,
    adjustment_count   bigint NOT NULL,
    adjustment_fen     bigint NOT NULL,
    net_fen            bigint NOT NULL CHECK (net_fen = discount_fen - clawback_fen - adjustment_fen),
    issued_at          timestamptz NOT NULL,
    paid_at            timestamptz,
    paid_by            text,
    payment_reference  text,
    UNIQUE (platform_id, business_date),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL AND paid_by IS NOT NULL AND payment_reference IS NOT NULL))
);
CREATE INDEX settlement_statements_date ON settlement_statements (business_date, platform_id);

-- One line per (campaign, merchant) of a statement.
CREATE TABLE settlement_lines (
    statement_id       uuid NOT NULL REFERENCES settlement_statements (id),
    campaign_id        uuid NOT NULL,
    merchant_id        text NOT NULL,
    confirmed_count    bigint NOT NULL,
    discount_fen       bigint NOT NULL,
    paid_fen           bigint NOT NULL,
    refund_count       bigint NOT NULL,
    refunded_fen       bigint NOT NULL,
    clawback_fen       bigint NOT NULL,
    adjustment_count   bigint NOT NULL,
    adjustment_fen     bigint NOT NULL,
    net_fen            bigint NOT NULL CHECK (net_fen = discount_fen - clawback_fen - adjustment_fen),
    PRIMARY KEY (statement_id, campaign_id, merchant_id)
);

-- The movements a statement gathered. The primary key is what makes each
-- confirm (source = the redemption) and each refund (source = the refund)
-- stated exactly once, however often or concurrently the job runs.
CREATE TABLE settlement_items (
    kind           text NOT NULL CHECK (kind IN ('confirm', 'refund')),
    source_id      uuid NOT NULL,
    statement_id   uuid NOT NULL REFERENCES settlement_statements (id),
    redemption_id  uuid NOT NULL,
    campaign_id    uuid NOT NULL,
    merchant_id    text NOT NULL,
    local_date     date NOT NULL,
    amount_fen     bigint NOT NULL CHECK ((kind = 'confirm' AND amount_fen > 0) OR (kind = 'refund' AND amount_fen <= 0)),
    paid_fen       bigint NOT NULL,
    refunded_fen   bigint NOT NULL,
    adjustment     boolean NOT NULL,
    PRIMARY KEY (kind, source_id)
);
CREATE INDEX settlement_items_statement ON settlement_items (statement_id, redemption_id);

-- How much of each redemption's discount has moved payable -> settled (see
-- settlement.SplitClawback for why refunds need it).
CREATE TABLE redemption_settlements (
    redemption_id  uuid PRIMARY KEY REFERENCES redemptions (id),
    settled_fen    bigint NOT NULL CHECK (settled_fen >= 0)
);

-- Finding a platform's confirms by time: pending settlement items and the
-- platform's side of a reconciliation.
CREATE INDEX redemptions_confirmed ON redemptions (platform_id, confirmed_at) WHERE confirmed_at IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION settlement_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is immutable once issued', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = TG_OP || ' is not allowed on an issued settlement statement';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER settlement_lines_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON settlement_lines
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_refuse_change();
CREATE TRIGGER settlement_items_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON settlement_items
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_refuse_change();

-- A statement row may only be marked paid, once, and nothing else about it changes.
-- +goose StatementBegin
CREATE FUNCTION settlement_statement_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR OLD.status <> 'issued' OR NEW.status <> 'paid'
       OR (to_jsonb(NEW) - 'status' - 'paid_at' - 'paid_by' - 'payment_reference')
          IS DISTINCT FROM (to_jsonb(OLD) - 'status' - 'paid_at' - 'paid_by' - 'payment_reference') THEN
        RAISE EXCEPTION 'settlement statement % is immutable once issued; it may only be marked paid once', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER settlement_statements_guard
    BEFORE UPDATE OR DELETE ON settlement_statements
    FOR EACH ROW EXECUTE FUNCTION settlement_statement_guard();

-- Two more ledger kinds: a refund after its redemption was settled takes the
-- part of the clawback its payable share cannot cover from settled.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_route;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_route CHECK ((kind, account, amount_fen > 0) IN (
    ('funding',          'treasury',  false), ('funding',          'available', true),
    ('defunding',        'available', false), ('defunding',        'treasury',  true),
    ('allocation',       'available', false), ('allocation',       'allocated', true),
    ('deallocation',     'allocated', false), ('deallocation',     'available', true),
    ('claim',            'allocated', false), ('claim',            'committed', true),
    ('expiry',           'committed', false), ('expiry',           'available', true),
    ('hold',             'committed', false), ('hold',             'held',      true),
    ('subsidy_hold',     'available', false), ('subsidy_hold',     'held',      true),
    ('release',          'held',      false), ('release',          'committed', true),
    ('subsidy_release',  'held',      false), ('subsidy_release',  'available', true),
    ('redemption',       'held',      false), ('redemption',       'payable',   true),
    ('refund',           'payable',   false), ('refund',           'committed', true),
    ('clawback',         'payable',   false), ('clawback',         'available', true),
    ('settlement',       'payable',   false), ('settlement',       'settled',   true),
    ('settled_refund',   'settled',   false), ('settled_refund',   'committed', true),
    ('settled_clawback', 'settled',   false), ('settled_clawback', 'available', true)
));

-- +goose Down
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_route;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_route CHECK ((kind, account, amount_fen > 0) IN (
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
)) NOT VALID;
DROP TRIGGER settlement_statements_guard ON settlement_statements;
DROP FUNCTION settlement_statement_guard();
DROP INDEX redemptions_confirmed;
DROP TABLE redemption_settlements;
DROP TABLE settlement_items;
DROP TABLE settlement_lines;
DROP TABLE settlement_statements;
DROP FUNCTION settlement_refuse_change();
