-- +goose Up
-- One row per scheduled job: the replica holding an unexpired lease runs it.
-- A lease row works on every PostgreSQL-compatible engine, unlike advisory locks.
CREATE TABLE job_leases (
    job         text PRIMARY KEY,
    holder      text NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE job_leases;
