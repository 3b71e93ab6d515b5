-- +goose Up
-- A webhook endpoint's secret rotates with an overlap: the secret it replaced keeps signing
-- (beside the new one) until previous_expires_at, so a receiver can switch without losing events.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_enc TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN previous_expires_at TIMESTAMPTZ;

-- +goose Down
-- Forward-only: shipped migrations are never rolled back.
