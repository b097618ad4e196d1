-- The ledger's events: one immutable row per change of money or voucher state, written in the
-- transaction that makes the change, numbered per tenant without gaps in commit order. A
-- transaction takes its numbers from event_sequences last, just before it commits, so the row
-- lock that numbering takes is held only for the commit itself.

CREATE TABLE event_sequences (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id),
    -- The last number given out.
    last_seq  INTEGER NOT NULL
);

CREATE TABLE ledger_events (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    -- jtl, front_payment, bleepay, console, admin or system
    face       TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    request_id TEXT NOT NULL,
    voucher_id TEXT,
    -- The event's subject ids, amounts and the voucher's figures after the change (JSON).
    data       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
-- No index by voucher here: its inserts land on random pages, and a batch of payments would
-- dirty (and write to the write-ahead log) a page per event, which cost a quarter of the
-- payment throughput. A feed filtered by voucher reads the tenant's events from its cursor on.
