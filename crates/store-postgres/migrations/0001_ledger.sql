-- The voucherd ledger on PostgreSQL. Times are integer microseconds since the Unix epoch (UTC),
-- money integer minor units. Entries are immutable: a trigger refuses UPDATE and DELETE.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    voucher_id_pattern        TEXT NOT NULL,
    code_pattern              TEXT NOT NULL,
    pin_pattern               TEXT,
    default_validity_value    BIGINT NOT NULL,
    default_validity_interval TEXT NOT NULL,
    reservation_ttl_seconds   BIGINT NOT NULL,
    token_ttl_seconds         BIGINT NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);

CREATE TABLE client_groups (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Client ids are unique across tenants: the token endpoint finds the tenant by client id.
CREATE TABLE clients (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    id              TEXT NOT NULL UNIQUE,
    client_group_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    type            TEXT NOT NULL,
    secret_digest   TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    connected_at    BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_group_id) REFERENCES client_groups (tenant_id, id)
);

CREATE TABLE connection_pins (
    pin_digest TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id)
);

CREATE TABLE access_tokens (
    token_digest TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    client_type  TEXT,
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX access_tokens_by_client ON access_tokens (tenant_id, client_id);

CREATE TABLE merchant_tokens (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE vouchers (
    pk                BIGSERIAL PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    id                TEXT NOT NULL,
    code              TEXT NOT NULL,
    pin               TEXT,
    client_id         TEXT,
    sku               TEXT,
    batch             TEXT,
    amount_minor      BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency          TEXT NOT NULL,
    valid_until       BIGINT,
    validity_value    BIGINT NOT NULL,
    validity_interval TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    type              TEXT NOT NULL,
    taxable           BOOLEAN NOT NULL,
    tax_rate          TEXT,
    order_number      TEXT,
    data              TEXT,
    -- Kept equal to the signed sum of the voucher's entries in the same transaction; the
    -- integrity check recomputes it.
    remaining_minor   BIGINT NOT NULL CHECK (remaining_minor >= 0),
    deleted_at        BIGINT,
    delete_comment    TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CREATE INDEX vouchers_by_creation ON vouchers (tenant_id, created_at, pk);

CREATE TABLE holds (
    pk              BIGSERIAL PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    voucher_pk      BIGINT NOT NULL REFERENCES vouchers (pk),
    client_id       TEXT,
    purpose         TEXT NOT NULL,
    amount_minor    BIGINT NOT NULL CHECK (amount_minor > 0),
    currency        TEXT NOT NULL,
    state           TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    charge_entry_pk BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, id)
);
CREATE INDEX holds_live_by_voucher ON holds (voucher_pk) WHERE state = 'live';
CREATE INDEX holds_live_by_expiry ON holds (expires_at) WHERE state = 'live';
CREATE INDEX holds_by_voucher ON holds (voucher_pk, created_at);

CREATE TABLE entries (
    pk           BIGSERIAL PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    voucher_pk   BIGINT NOT NULL REFERENCES vouchers (pk),
    client_id    TEXT,
    kind         TEXT NOT NULL CHECK (kind IN ('issue', 'charge', 'refund', 'recharge')),
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency     TEXT NOT NULL,
    order_number TEXT,
    refund_of_pk BIGINT REFERENCES entries (pk),
    hold_pk      BIGINT REFERENCES holds (pk),
    created_at   BIGINT NOT NULL,
    UNIQUE (tenant_id, id)
);
CREATE INDEX entries_by_voucher ON entries (voucher_pk, created_at, pk);
CREATE INDEX entries_by_refunded_charge ON entries (refund_of_pk) WHERE refund_of_pk IS NOT NULL;

CREATE FUNCTION entries_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable';
END
$$;
CREATE TRIGGER entries_refuse_change BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_refuse_change();

CREATE TABLE audit_events (
    pk           BIGSERIAL PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    at           BIGINT NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, pk);
CREATE INDEX audit_events_by_subject ON audit_events (tenant_id, subject_id, pk);

CREATE TABLE idempotency_keys (
    tenant_id      TEXT NOT NULL,
    caller         TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    status         BIGINT NOT NULL,
    body           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, caller, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
