-- +goose Up
-- The audit log: one row per state change, written in the transaction of the
-- change, never updated or deleted. txid is the writing transaction's id; the
-- sealer (internal/postgres/audit.go) groups finished transactions' events
-- into hash-chained blocks by txid range.
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY, -- UUIDv7 from the application
    txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at          timestamptz NOT NULL,
    actor       text NOT NULL CHECK (actor <> ''),
    actor_role  text NOT NULL,
    action      text NOT NULL CHECK (action <> ''),
    entity_type text NOT NULL CHECK (entity_type <> ''),
    entity_id   text NOT NULL,
    before      jsonb,
    after       jsonb,
    request_id  text NOT NULL
);
CREATE INDEX audit_events_txid ON audit_events (txid, id);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id, id);

-- Block n covers the events with lo <= txid < hi, listed in (txid, id) order;
-- event_hashes concatenates their 32-byte SHA-256 hashes in the same order.
-- Ranges follow on from 0 without gaps; block_no being the key is what keeps
-- two sealers from forking the chain.
CREATE TABLE audit_blocks (
    block_no     bigint PRIMARY KEY CHECK (block_no > 0),
    lo           xid8 NOT NULL,
    hi           xid8 NOT NULL,
    event_count  int NOT NULL,
    event_ids    uuid[] NOT NULL,
    event_hashes bytea NOT NULL,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL,
    sealed_at    timestamptz NOT NULL
);

-- Statement-level, so even an UPDATE or DELETE matching no row is refused,
-- as is INSERT … ON CONFLICT DO UPDATE.
-- +goose StatementBegin
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = TG_OP || ' is not allowed on the audit log';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_blocks_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- +goose Down
DROP TABLE audit_blocks;
DROP TABLE audit_events;
DROP FUNCTION audit_refuse_change();
