-- Front Payment "Connect" reservations. A reservation holds its grand total on the voucher
-- the customer pays with (a hold of purpose 'front'); captures and charges are ledger entries
-- of kind 'charge' whose ids are the CAP…/CHA… references, refunds entries of kind 'refund'.
-- Everything money-related stays in holds and entries; these tables keep the lines, the
-- per-line amounts, the history and the callback outbox.

-- The secret that status callbacks are checksummed with (a signing key: kept, not hashed).
ALTER TABLE merchant_tokens ADD COLUMN callback_secret TEXT;

CREATE TABLE front_reservations (
    pk                          INTEGER PRIMARY KEY,
    tenant_id                   TEXT NOT NULL REFERENCES tenants (id),
    -- RES + 10 digits, unique across tenants: the payment page URL names only this id.
    id                          TEXT NOT NULL UNIQUE,
    merchant_token_id           TEXT NOT NULL,
    customer_id                 TEXT NOT NULL,
    -- sent, reserved, captured, charged, completed, cancelled; an unpaid reservation past
    -- due_at reads as expired.
    status                      TEXT NOT NULL,
    details                     TEXT NOT NULL,
    due_at                      INTEGER NOT NULL,
    charge_limit_minor          INTEGER,
    charge_validity_days        INTEGER NOT NULL,
    capture_deadline_days       INTEGER NOT NULL,
    charge_partially_refundable INTEGER NOT NULL,
    grand_total_minor           INTEGER NOT NULL CHECK (grand_total_minor > 0),
    callback_url                TEXT,
    success_url                 TEXT,
    failure_url                 TEXT,
    voucher_pk                  INTEGER REFERENCES vouchers (pk),
    hold_pk                     INTEGER REFERENCES holds (pk),
    reserved_at                 INTEGER,
    link_opened_at              INTEGER,
    captured_minor              INTEGER NOT NULL DEFAULT 0,
    charged_minor               INTEGER NOT NULL DEFAULT 0,
    refunded_captured_minor     INTEGER NOT NULL DEFAULT 0,
    refunded_charged_minor      INTEGER NOT NULL DEFAULT 0,
    created_at                  INTEGER NOT NULL,
    updated_at                  INTEGER NOT NULL
);
CREATE INDEX front_reservations_by_tenant ON front_reservations (tenant_id, created_at);

-- Product lines: reserved at submission (charge_entry_pk NULL) or added by a charge. The
-- primary key is the line id clients capture and refund by.
CREATE TABLE front_lines (
    pk              INTEGER PRIMARY KEY,
    reservation_pk  INTEGER NOT NULL REFERENCES front_reservations (pk),
    charge_entry_pk INTEGER REFERENCES entries (pk),
    name            TEXT NOT NULL,
    product_id      TEXT,
    rate_minor      INTEGER NOT NULL,
    tax             TEXT NOT NULL,
    amount_minor    INTEGER NOT NULL CHECK (amount_minor >= 0),
    captured_minor  INTEGER NOT NULL DEFAULT 0 CHECK (captured_minor <= amount_minor)
);
CREATE INDEX front_lines_by_reservation ON front_lines (reservation_pk, pk);

-- Captures and charges of a reservation, by their ledger entry.
CREATE TABLE front_postings (
    entry_pk       INTEGER PRIMARY KEY REFERENCES entries (pk),
    reservation_pk INTEGER NOT NULL REFERENCES front_reservations (pk),
    source         TEXT NOT NULL CHECK (source IN ('captured', 'charged')),
    refunded_minor INTEGER NOT NULL DEFAULT 0,
    refunded_at    INTEGER,
    note           TEXT
);
CREATE INDEX front_postings_by_reservation ON front_postings (reservation_pk, entry_pk);

-- What each posting drew from each line, and how much of that was refunded.
CREATE TABLE front_posting_lines (
    entry_pk       INTEGER NOT NULL REFERENCES front_postings (entry_pk),
    line_pk        INTEGER NOT NULL REFERENCES front_lines (pk),
    amount_minor   INTEGER NOT NULL CHECK (amount_minor > 0),
    refunded_minor INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor <= amount_minor),
    PRIMARY KEY (entry_pk, line_pk)
);

CREATE TABLE front_events (
    pk             INTEGER PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    reservation_pk INTEGER NOT NULL REFERENCES front_reservations (pk),
    uuid           TEXT NOT NULL,
    title          TEXT NOT NULL,
    at             INTEGER NOT NULL,
    amount_minor   INTEGER,
    sent_to        TEXT,
    action_by      TEXT,
    note           TEXT
);
CREATE INDEX front_events_by_time ON front_events (tenant_id, at, pk);

-- The outbox of status callbacks: written in the transaction of the status change, delivered
-- (and retried with backoff) by every node's dispatcher, which claims a row by moving
-- next_attempt_at ahead before it sends.
CREATE TABLE front_callbacks (
    pk                INTEGER PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    merchant_token_id TEXT NOT NULL,
    url               TEXT NOT NULL,
    order_uuid        TEXT NOT NULL,
    status            TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    amount_minor      INTEGER NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    delivered_at      INTEGER,
    abandoned_at      INTEGER,
    last_error        TEXT
);
CREATE INDEX front_callbacks_due ON front_callbacks (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
