-- +goose Up
-- The route check of ledger entries moves into a function. PostgreSQL reads
-- and plans a table's CHECK expressions again at every INSERT statement; the
-- route list (one row constructor per route) made that the costliest part of
-- writing a transfer, several times the insert itself. A PL/pgSQL function's
-- expression is planned once per session. The function's body is the check as
-- the migrations before this one left it, so the routes stay exactly the
-- same; a migration that changes them replaces the function.
-- +goose StatementBegin
DO $do$
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION ledger_entry_route_ok(kind text, account text, amount_fen bigint) RETURNS boolean
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $body$
        BEGIN
            RETURN %s;
        END
        $body$
        $f$,
        (SELECT pg_get_expr(conbin, conrelid) FROM pg_constraint
         WHERE conrelid = 'ledger_entries'::regclass AND conname = 'ledger_entries_route'));
END
$do$;
-- +goose StatementEnd
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_route,
    ADD CONSTRAINT ledger_entries_route CHECK (ledger_entry_route_ok(kind, account, amount_fen));

-- +goose Down
-- +goose StatementBegin
DO $do$
BEGIN
    EXECUTE format('ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_route, ADD CONSTRAINT ledger_entries_route CHECK (%s)',
        (SELECT substring(prosrc FROM 'RETURN (.*);') FROM pg_proc WHERE proname = 'ledger_entry_route_ok'));
END
$do$;
-- +goose StatementEnd
DROP FUNCTION ledger_entry_route_ok(text, text, bigint);
