-- +goose Up
-- What the background has yet to do, cheap to count at every metrics scrape and by the load
-- generator after a run: only rows still waiting are in these indexes.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (created_at) WHERE status = 'pending';

-- +goose Down
-- Forward-only: shipped migrations are never rolled back.
