-- +goose Up
-- Merchants and access: the applicant's status link, the checks' warnings, one open application
-- per credit code, the lifecycle's history, fee rate history, and the application's documents.

-- The SHA-256 of the token in the applicant's status link (/apply/status/...), and the KYC
-- checks' warnings for the reviewer (JSON object field -> message key).
ALTER TABLE merchants ADD COLUMN apply_token_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN warnings TEXT NOT NULL DEFAULT '';

-- At most one application under review (draft or submitted) per unified social credit code:
-- a second submission of the same business waits for the first to be decided.
CREATE UNIQUE INDEX merchants_open_uscc ON merchants (uscc) WHERE status IN ('draft', 'submitted');

-- Every lifecycle step of every merchant, for the console's history.
CREATE TABLE merchant_status_history (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    action      TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX merchant_status_history_merchant ON merchant_status_history (merchant_id, id);

-- Every change of a fee rate: what it was (NULL when it was not set) and what it became.
CREATE TABLE fee_rate_history (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    channel     TEXT NOT NULL,
    old_bps     INTEGER,
    new_bps     INTEGER NOT NULL CHECK (new_bps >= 0 AND new_bps <= 10000),
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX fee_rate_history_merchant ON fee_rate_history (merchant_id, id);

-- Documents of an application (business licence, ID photos). The content is a file under
-- <data-dir>/documents/<merchant id>/, sealed under the data key like other personal data.
CREATE TABLE merchant_documents (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    kind         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX merchant_documents_merchant ON merchant_documents (merchant_id, id);

CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX stickers_batch ON stickers (batch_id, id);

-- +goose Down
-- Forward-only: shipped migrations are never rolled back.
