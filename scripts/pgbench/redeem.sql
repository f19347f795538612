-- One redemption step per transaction, the raw-SQL work of
-- BenchmarkRawRedemptionSQL (internal/checkout/bench_test.go) on the scratch
-- tables of setup.sql: an idempotency key insert, a voucher update, a budget
-- bucket update and a ledger entry insert.
--
--   pgbench -n -M prepared -c 32 -j 2 -T 30 -D n=0 -D clients=32 -D vouchers=1000000 \
--     -f scripts/pgbench/redeem.sql URL
--
-- n counts each client's transactions (-D n=0 starts it); with :client_id it
-- makes idempotency keys distinct and, with clients (the -c value), spreads
-- the clients over distinct vouchers, cycling through the vouchers of
-- setup.sql. A second run needs setup.sql again, or the keys repeat.
\set n :n + 1
\set voucher (:n * :clients + :client_id) % :vouchers
\set bucket random(0, 15)
BEGIN;
INSERT INTO pgbench_tq.idempotency_keys (platform_id, key, request_hash, status, response)
VALUES ('bench', 'r-' || :client_id::text || '-' || :n::text, sha256(int8send(:voucher::bigint)), 201, '\x7b7d');
UPDATE pgbench_tq.vouchers SET status = 'reserved', updated_at = now()
 WHERE id = pgbench_tq.voucher_id(:voucher);
UPDATE pgbench_tq.ledger_balances SET balance_fen = balance_fen + 5000
 WHERE campaign_id = '01900000-0000-7000-8000-00000000000c' AND account = 'held' AND bucket = :bucket;
INSERT INTO pgbench_tq.ledger_entries (id, transfer_id, campaign_id, account, bucket, amount_fen, kind, ref, created_at)
VALUES (pgbench_tq.uuid7(), pgbench_tq.uuid7(), '01900000-0000-7000-8000-00000000000c', 'held', :bucket, 5000, 'hold',
        'r-' || :client_id::text || '-' || :n::text, now());
END;
