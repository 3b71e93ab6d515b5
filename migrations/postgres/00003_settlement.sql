-- +goose Up
-- Settlement: settled days, batches with a line per channel and an item per payment, refund or
-- adjustment; provider statements and reconciliation breaks; the settlement calendar; payouts.

-- Each settlement day is settled once, in order; this is its record.
CREATE TABLE settlement_days (
    day        TEXT PRIMARY KEY,
    starts_at  TIMESTAMPTZ NOT NULL,
    ends_at    TIMESTAMPTZ NOT NULL,
    as_of      TIMESTAMPTZ NOT NULL,
    batches    INTEGER NOT NULL DEFAULT 0,
    items      BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL
);

-- What a merchant is owed for a day, in a currency and mode. Ids are deterministic
-- (stl_<yyyymmdd>_<merchant>_<currency>[_test]) so that nodes settling at once cannot make two.
CREATE TABLE settlement_batches (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL REFERENCES merchants (id),
    day              TEXT NOT NULL REFERENCES settlement_days (day),
    currency         TEXT NOT NULL,
    mode             TEXT NOT NULL,
    cycle            TEXT NOT NULL,
    payout_date      TEXT NOT NULL,
    item_count       BIGINT NOT NULL,
    payment_count    BIGINT NOT NULL,
    refund_count     BIGINT NOT NULL,
    adjustment_count BIGINT NOT NULL,
    gross            BIGINT NOT NULL,
    refunds          BIGINT NOT NULL,
    fees             BIGINT NOT NULL,
    returned_fees    BIGINT NOT NULL,
    adjustments      BIGINT NOT NULL,
    net              BIGINT NOT NULL,
    carried_in       BIGINT NOT NULL,
    carried_out      BIGINT NOT NULL,
    payable          BIGINT NOT NULL,
    status           TEXT NOT NULL,
    reference        TEXT NOT NULL DEFAULT '',
    paid_at          TIMESTAMPTZ,
    paid_by          TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (merchant_id, day, currency, mode),
    CHECK (net = gross - refunds - fees + returned_fees),
    CHECK (carried_in <= 0 AND carried_out <= 0 AND payable >= 0),
    CHECK (payable + carried_out = net + carried_in)
);
CREATE INDEX settlement_batches_day ON settlement_batches (day, id);
CREATE INDEX settlement_batches_merchant ON settlement_batches (merchant_id, day, id);
CREATE INDEX settlement_batches_carry ON settlement_batches (merchant_id, currency, mode, day);
CREATE INDEX settlement_batches_payout ON settlement_batches (payout_date, id) WHERE status = 'pending';

-- One line per channel of a batch. A line's id is computed by the run from the day, the
-- merchant's number in the run, the currency, the channel and the mode (so that items can be
-- written before their lines); lines are made before their batch, hence the deferred reference.
CREATE TABLE settlement_lines (
    id               BIGINT PRIMARY KEY,
    batch_id         TEXT NOT NULL REFERENCES settlement_batches (id) DEFERRABLE INITIALLY DEFERRED,
    day              TEXT NOT NULL,
    merchant_id      TEXT NOT NULL,
    currency         TEXT NOT NULL,
    mode             TEXT NOT NULL,
    channel          TEXT NOT NULL,
    item_count       BIGINT NOT NULL DEFAULT 0,
    payment_count    BIGINT NOT NULL DEFAULT 0,
    refund_count     BIGINT NOT NULL DEFAULT 0,
    adjustment_count BIGINT NOT NULL DEFAULT 0,
    gross            BIGINT NOT NULL DEFAULT 0,
    refunds          BIGINT NOT NULL DEFAULT 0,
    fees             BIGINT NOT NULL DEFAULT 0,
    returned_fees    BIGINT NOT NULL DEFAULT 0,
    adjustments      BIGINT NOT NULL DEFAULT 0,
    net              BIGINT NOT NULL DEFAULT 0,
    bps              INTEGER NOT NULL DEFAULT 0,
    max_amount       BIGINT NOT NULL DEFAULT 0,
    UNIQUE (batch_id, channel),
    CHECK (net = gross - refunds - fees + returned_fees)
);
CREATE INDEX settlement_lines_day ON settlement_lines (day);
CREATE INDEX settlement_lines_merchant ON settlement_lines (merchant_id, mode, day);

-- Every settled payment, refund and adjustment (a break's), keyed by its id: the primary key is
-- what makes each land in exactly one batch. Rows are narrow and written in bulk by the run;
-- a day's lines are one range of ids, so a block-range index finds a line's items; the key
-- compares bytewise (ids are ASCII), which is cheaper to index than the locale's order.
CREATE TABLE settlement_items (
    object_id TEXT COLLATE "C" PRIMARY KEY,
    line_id   BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    amount    BIGINT NOT NULL,
    fee       BIGINT NOT NULL
);
CREATE INDEX settlement_items_line ON settlement_items USING brin (line_id);

-- Provider statements as imported (from the API or a file), and their lines.
CREATE TABLE settlement_statements (
    id            TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    account       TEXT NOT NULL,
    day           TEXT NOT NULL,
    source        TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    line_count    INTEGER NOT NULL,
    payment_total BIGINT NOT NULL,
    refund_total  BIGINT NOT NULL,
    imported_by   TEXT NOT NULL DEFAULT '',
    imported_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (provider, account, day)
);

CREATE TABLE settlement_statement_lines (
    statement_id      TEXT NOT NULL REFERENCES settlement_statements (id),
    seq               INTEGER NOT NULL,
    type              TEXT NOT NULL,
    provider_trade_no TEXT NOT NULL,
    payment_id        TEXT NOT NULL,
    refund_id         TEXT NOT NULL,
    amount            BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    fee               BIGINT NOT NULL,
    status            TEXT NOT NULL,
    at                TIMESTAMPTZ,
    match_payment     TEXT,
    match_refund      TEXT,
    PRIMARY KEY (statement_id, seq)
);
CREATE INDEX settlement_statement_lines_payment ON settlement_statement_lines (match_payment, statement_id);
CREATE INDEX settlement_statement_lines_refund ON settlement_statement_lines (match_refund, statement_id);

-- Differences reconciliation found, and their resolution. A hold keeps the payment (or the
-- refund, when refund_id is set) out of settlement: while open, and for good when resolved by
-- excluding it. (kind, ref) is unique so that re-importing a statement opens nothing twice.
CREATE TABLE settlement_breaks (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    ref               TEXT NOT NULL,
    provider          TEXT NOT NULL,
    account           TEXT NOT NULL DEFAULT '',
    statement_id      TEXT NOT NULL DEFAULT '',
    day               TEXT NOT NULL,
    merchant_id       TEXT NOT NULL DEFAULT '',
    payment_id        TEXT NOT NULL DEFAULT '',
    refund_id         TEXT NOT NULL DEFAULT '',
    provider_trade_no TEXT NOT NULL DEFAULT '',
    line_type         TEXT NOT NULL DEFAULT 'payment',
    mode              TEXT NOT NULL DEFAULT '',
    currency          TEXT NOT NULL DEFAULT '',
    channel           TEXT NOT NULL DEFAULT '',
    our_amount        BIGINT NOT NULL DEFAULT 0,
    their_amount      BIGINT NOT NULL DEFAULT 0,
    our_status        TEXT NOT NULL DEFAULT '',
    their_status      TEXT NOT NULL DEFAULT '',
    their_at          TIMESTAMPTZ,
    hold              BOOLEAN NOT NULL,
    status            TEXT NOT NULL,
    resolution        TEXT NOT NULL DEFAULT '',
    adjustment        BIGINT NOT NULL DEFAULT 0,
    note              TEXT NOT NULL DEFAULT '',
    resolved_by       TEXT NOT NULL DEFAULT '',
    resolved_at       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (kind, ref)
);
CREATE INDEX settlement_breaks_hold ON settlement_breaks (payment_id) WHERE hold;
CREATE INDEX settlement_breaks_released ON settlement_breaks (payment_id) WHERE NOT hold AND payment_id <> '';
CREATE INDEX settlement_breaks_adjust ON settlement_breaks (resolved_at) WHERE adjustment <> 0;
CREATE INDEX settlement_breaks_status ON settlement_breaks (status, id);
CREATE INDEX settlement_breaks_day ON settlement_breaks (day, id);

-- The settlement calendar: holidays (no payouts) and make-up workdays (payouts on a weekend).
CREATE TABLE settlement_calendar (
    day        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);

-- Payouts: one per batch paid, with the bank's reference.
CREATE TABLE settlement_payouts (
    id         TEXT PRIMARY KEY,
    batch_id   TEXT NOT NULL UNIQUE REFERENCES settlement_batches (id),
    amount     BIGINT NOT NULL CHECK (amount > 0),
    currency   TEXT NOT NULL,
    reference  TEXT NOT NULL,
    paid_by    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- What the run reads: payments the gateway flagged, by day (few rows, cheap to keep).
CREATE INDEX payments_flagged ON payments (paid_at) WHERE flags <> '';

-- +goose Down
-- Forward-only: shipped migrations are never rolled back.
