-- +goose Up
-- The core of qrpay: merchants and what hangs off them, payments, refunds, events and webhooks,
-- API authentication state, and the mock provider's own records.

CREATE TABLE merchants (
    id                    TEXT PRIMARY KEY,
    status                TEXT NOT NULL,
    legal_name            TEXT NOT NULL,
    short_name            TEXT NOT NULL,
    uscc                  TEXT NOT NULL,
    legal_person_name     TEXT NOT NULL,
    legal_person_id_enc   TEXT NOT NULL,
    legal_person_id_blind TEXT NOT NULL,
    legal_person_id_mask  TEXT NOT NULL,
    phone_enc             TEXT NOT NULL,
    phone_mask            TEXT NOT NULL,
    city                  TEXT NOT NULL,
    address               TEXT NOT NULL,
    mcc                   TEXT NOT NULL,
    bank_name             TEXT NOT NULL,
    bank_account_enc      TEXT NOT NULL,
    bank_account_mask     TEXT NOT NULL,
    settlement_cycle      TEXT NOT NULL DEFAULT 'T1',
    reject_reason         TEXT NOT NULL DEFAULT '',
    source                TEXT NOT NULL DEFAULT 'operator',
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    submitted_at          TIMESTAMPTZ,
    decided_at            TIMESTAMPTZ
);
CREATE INDEX merchants_status ON merchants (status, id);
CREATE INDEX merchants_uscc ON merchants (uscc);

CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    name        TEXT NOT NULL,
    city        TEXT NOT NULL DEFAULT '',
    address     TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX stores_merchant ON stores (merchant_id, id);

CREATE TABLE terminals (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    store_id    TEXT NOT NULL REFERENCES stores (id),
    name        TEXT NOT NULL,
    code        TEXT NOT NULL UNIQUE,
    pin_hash    TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX terminals_merchant ON terminals (merchant_id, id);

CREATE TABLE stickers (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    store_id    TEXT REFERENCES stores (id),
    terminal_id TEXT REFERENCES terminals (id),
    batch_id    TEXT NOT NULL DEFAULT '',
    label       TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX stickers_merchant ON stickers (merchant_id, id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    mode         TEXT NOT NULL,
    secret_enc   TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'active',
    expires_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, id);

CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    url             TEXT NOT NULL,
    secret_enc      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'enabled',
    disabled_reason TEXT NOT NULL DEFAULT '',
    failing_since   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    deleted_at      TIMESTAMPTZ
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, id);

CREATE TABLE fee_rates (
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    channel     TEXT NOT NULL,
    bps         INTEGER NOT NULL CHECK (bps >= 0 AND bps <= 10000),
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, channel)
);

CREATE TABLE channel_bindings (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    channel         TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    sub_merchant_id TEXT NOT NULL,
    weight          INTEGER NOT NULL DEFAULT 1 CHECK (weight >= 0),
    status          TEXT NOT NULL DEFAULT 'active',
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (merchant_id, channel, account_id)
);

CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    merchant_id          TEXT REFERENCES merchants (id),
    login                TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL DEFAULT '',
    password_hash        TEXT NOT NULL,
    role                 TEXT NOT NULL,
    totp_secret_enc      TEXT NOT NULL DEFAULT '',
    totp_enabled         BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until         TIMESTAMPTZ,
    status               TEXT NOT NULL DEFAULT 'active',
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL,
    last_login_at        TIMESTAMPTZ
);
CREATE INDEX users_merchant ON users (merchant_id, id);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT REFERENCES users (id),
    terminal_id  TEXT REFERENCES terminals (id),
    csrf_token   TEXT NOT NULL,
    stage        TEXT NOT NULL DEFAULT 'full',
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    remote_addr  TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);

CREATE TABLE operator_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    token_hash   TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE signing_keys (
    id         TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    key_enc    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ
);

CREATE TABLE payments (
    id                TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants (id),
    store_id          TEXT NOT NULL DEFAULT '',
    terminal_id       TEXT NOT NULL DEFAULT '',
    sticker_id        TEXT NOT NULL DEFAULT '',
    merchant_order_no TEXT NOT NULL,
    amount            BIGINT NOT NULL CHECK (amount > 0),
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL,
    scene             TEXT NOT NULL,
    channel           TEXT NOT NULL,
    channel_account   TEXT NOT NULL DEFAULT '',
    sub_merchant_id   TEXT NOT NULL DEFAULT '',
    mode              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    qr_payload        TEXT NOT NULL DEFAULT '',
    auth_code_mask    TEXT NOT NULL DEFAULT '',
    provider_trade_no TEXT NOT NULL DEFAULT '',
    refunded_amount   BIGINT NOT NULL DEFAULT 0,
    refunding_amount  BIGINT NOT NULL DEFAULT 0,
    payer             TEXT NOT NULL DEFAULT '',
    failure_reason    TEXT NOT NULL DEFAULT '',
    flags             TEXT NOT NULL DEFAULT '',
    metadata          TEXT NOT NULL DEFAULT '{}',
    expires_at        TIMESTAMPTZ NOT NULL,
    next_check_at     TIMESTAMPTZ,
    check_attempts    INTEGER NOT NULL DEFAULT 0,
    paid_at           TIMESTAMPTZ,
    closed_at         TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (merchant_id, merchant_order_no),
    CHECK (refunded_amount >= 0 AND refunding_amount >= 0 AND refunded_amount + refunding_amount <= amount)
);
CREATE INDEX payments_merchant ON payments (merchant_id, id);
CREATE INDEX payments_check ON payments (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX payments_provider_trade ON payments (provider_trade_no) WHERE provider_trade_no <> '';
CREATE INDEX payments_payer ON payments (payer, created_at) WHERE payer <> '';
CREATE INDEX payments_paid ON payments (paid_at) WHERE paid_at IS NOT NULL;

CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY,
    payment_id         TEXT NOT NULL REFERENCES payments (id),
    merchant_id        TEXT NOT NULL REFERENCES merchants (id),
    merchant_refund_no TEXT NOT NULL,
    amount             BIGINT NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL,
    reason             TEXT NOT NULL DEFAULT '',
    provider_refund_no TEXT NOT NULL DEFAULT '',
    failure_reason     TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    succeeded_at       TIMESTAMPTZ,
    UNIQUE (merchant_id, merchant_refund_no)
);
CREATE INDEX refunds_payment ON refunds (payment_id, id);
CREATE INDEX refunds_succeeded ON refunds (succeeded_at) WHERE succeeded_at IS NOT NULL;

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    type        TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_merchant ON events (merchant_id, id);
CREATE INDEX events_object ON events (object_id, id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id),
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id),
    merchant_id     TEXT NOT NULL REFERENCES merchants (id),
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_merchant ON webhook_deliveries (merchant_id, id);

CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id),
    attempt      INTEGER NOT NULL,
    status_code  INTEGER NOT NULL DEFAULT 0,
    latency_ms   INTEGER NOT NULL DEFAULT 0,
    response     TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

CREATE TABLE provider_calls (
    id          TEXT PRIMARY KEY,
    payment_id  TEXT NOT NULL,
    refund_id   TEXT NOT NULL DEFAULT '',
    channel     TEXT NOT NULL,
    op          TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    latency_ms  INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX provider_calls_payment ON provider_calls (payment_id, id);

CREATE TABLE api_nonces (
    key_id     TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX api_nonces_expiry ON api_nonces (expires_at);

CREATE TABLE idempotency_keys (
    key_id          TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status          TEXT NOT NULL,
    response_status INTEGER NOT NULL DEFAULT 0,
    response_body   TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (key_id, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

CREATE TABLE notices (
    id          TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    read_at     TIMESTAMPTZ
);
CREATE INDEX notices_merchant ON notices (merchant_id, id);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL DEFAULT '',
    merchant_id TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    before_json TEXT NOT NULL DEFAULT '',
    after_json  TEXT NOT NULL DEFAULT '',
    remote_addr TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_merchant ON audit_log (merchant_id, id);
CREATE INDEX audit_log_object ON audit_log (object_id, id);

-- The mock provider's own ledger: what a real provider would hold on its side.
CREATE TABLE mock_trades (
    out_trade_no   TEXT PRIMARY KEY,
    trade_no       TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    currency       TEXT NOT NULL,
    subject        TEXT NOT NULL DEFAULT '',
    sub_merchant   TEXT NOT NULL DEFAULT '',
    notify_url     TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    payer          TEXT NOT NULL DEFAULT '',
    refunded       BIGINT NOT NULL DEFAULT 0,
    expires_at     TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    paid_at        TIMESTAMPTZ,
    closed_at      TIMESTAMPTZ,
    pay_at         TIMESTAMPTZ,
    notify_at      TIMESTAMPTZ,
    notify_count   INTEGER NOT NULL DEFAULT 0,
    notifies_due   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mock_trades_pay ON mock_trades (pay_at) WHERE pay_at IS NOT NULL;
CREATE INDEX mock_trades_notify ON mock_trades (notify_at) WHERE notify_at IS NOT NULL;
CREATE INDEX mock_trades_paid ON mock_trades (paid_at);

CREATE TABLE mock_refunds (
    out_refund_no TEXT PRIMARY KEY,
    refund_no     TEXT NOT NULL UNIQUE,
    out_trade_no  TEXT NOT NULL REFERENCES mock_trades (out_trade_no),
    amount        BIGINT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX mock_refunds_created ON mock_refunds (created_at);

CREATE TABLE mock_payment_codes (
    auth_code  TEXT PRIMARY KEY,
    payer      TEXT NOT NULL,
    channel    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

-- +goose Down
-- Forward-only: shipped migrations are never rolled back.
