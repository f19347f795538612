-- +goose Up
-- Direct grants: a list of holders, uploaded as CSV, each granted one voucher
-- of a tier by a background job. The job's state lives here, so a crash loses
-- no committed chunk and any replica can resume the job (it holds the lease
-- "grant:<id>" in job_leases while it works). The upload finds every bad
-- row, so rejected is final from the start; rows_done counts the rows of the
-- chunks processed, rejected ones included. Once done,
-- granted + duplicates + rejected = rows_done = rows_total.
CREATE TABLE grants (
    id          uuid PRIMARY KEY,
    campaign_id uuid NOT NULL REFERENCES campaigns (id),
    tier_id     text NOT NULL,
    status      text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    rows_total  bigint NOT NULL CHECK (rows_total > 0),
    rows_done   bigint NOT NULL CHECK (rows_done >= 0 AND rows_done <= rows_total),
    granted     bigint NOT NULL CHECK (granted >= 0),
    duplicates  bigint NOT NULL CHECK (duplicates >= 0),
    rejected    bigint NOT NULL CHECK (rejected >= 0),
    -- The first row errors (the upload finds them all), as [{row, fields}].
    errors      jsonb NOT NULL,
    failure     text,
    created_by  text NOT NULL,
    request_id  text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    finished_at timestamptz,
    CHECK ((status = 'running') = (finished_at IS NULL)),
    CHECK ((status = 'failed') = (failure IS NOT NULL))
);
CREATE INDEX grants_running ON grants (created_at) WHERE status = 'running';

-- A grant's list, staged by the upload (COPY) in chunks of consecutive rows,
-- each one row with arrays of its valid rows: the holder's keyed hash (the ID
-- number itself is never stored), and a voucher id and code made by the
-- application. Workers claim chunks (FOR UPDATE SKIP LOCKED), so several run
-- one job in parallel, and delete each chunk in the transaction that grants
-- it. One row per chunk rather than per holder makes staging and clean-up
-- cheap: a million holders are fifty rows. No foreign key to grants: the
-- chunks are written just before their grant, in the same transaction (the
-- grant's counts are known only once the whole file is read).
CREATE TABLE grant_chunks (
    grant_id      uuid NOT NULL,
    chunk_no      int NOT NULL,
    first_row     int NOT NULL, -- the rows of the file the chunk covers,
    last_row      int NOT NULL, -- rejected ones included
    row_nos       int[] NOT NULL,
    holder_hashes bytea[] NOT NULL,
    voucher_ids   uuid[] NOT NULL,
    codes         text[] NOT NULL,
    PRIMARY KEY (grant_id, chunk_no),
    CHECK (first_row <= last_row)
);
-- Staging is short-lived and hashes, ids and codes are random: trying to
-- compress the arrays would cost most of the upload's time for little space.
ALTER TABLE grant_chunks
    ALTER COLUMN row_nos SET STORAGE EXTERNAL,
    ALTER COLUMN holder_hashes SET STORAGE EXTERNAL,
    ALTER COLUMN voucher_ids SET STORAGE EXTERNAL,
    ALTER COLUMN codes SET STORAGE EXTERNAL;

-- +goose Down
DROP TABLE grant_chunks;
DROP TABLE grants;
