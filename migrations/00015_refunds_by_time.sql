-- +goose Up
-- The settlement job reads the refunds of its recent window by time
-- (clearing.pendingWindow) instead of every refund ever made.
CREATE INDEX refunds_created ON refunds (created_at);

-- +goose Down
DROP INDEX refunds_created;
