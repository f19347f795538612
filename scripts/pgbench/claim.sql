-- One claim per transaction, the raw-SQL work of BenchmarkRawClaimSQL
-- (internal/issuance/bench_test.go) on the scratch tables of setup.sql: a
-- bucketed stock decrement and a unique holder insert, nothing else.
--
--   pgbench -n -M prepared -c 32 -j 2 -T 30 -D n=0 -f scripts/pgbench/claim.sql URL
--
-- n counts each client's transactions (-D n=0 starts it); with :client_id it
-- makes every holder distinct, so the insert never conflicts. A second run
-- needs setup.sql again, or the holders repeat.
\set n :n + 1
\set holder :client_id * 4294967296 + :n
\set bucket random(0, 15)
BEGIN;
UPDATE pgbench_tq.round_stock SET remaining = remaining - 1
 WHERE round_id = '01900000-0000-7000-8000-00000000000b' AND bucket = :bucket AND remaining > 0;
INSERT INTO pgbench_tq.holder_quota (campaign_id, holder_hash, scope, used, lim)
VALUES ('01900000-0000-7000-8000-00000000000c', sha256(int8send(:holder::bigint)),
        'round:01900000-0000-7000-8000-00000000000b', 1, 1);
END;
