-- +goose Up
-- The foundation schema: nothing domain-specific yet beyond what readiness needs.
CREATE TABLE service_info (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO service_info (key, value) VALUES ('schema', 'tongquan');

-- +goose Down
DROP TABLE service_info;
