-- The bleepay face. A payer account (e-mail or app installation, argon2id password) holds
-- vouchers it proved possession of; a context binds some of them and hands a 6-character code
-- to a payee; the payee reserves short-lived 6-digit voucher codes in it. Money moves only
-- through holds (purpose 'bleepay') and entries, as everywhere else.

CREATE TABLE payers (
    pk            BIGSERIAL PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    id            TEXT NOT NULL,
    -- 'email-password' (identifier: the lower-cased e-mail) or 'mobile-device' (installationId).
    kind          TEXT NOT NULL,
    identifier    TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, kind, identifier)
);

CREATE TABLE payer_vouchers (
    payer_pk   BIGINT NOT NULL REFERENCES payers (pk),
    voucher_pk BIGINT NOT NULL REFERENCES vouchers (pk),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (payer_pk, voucher_pk)
);

-- Bearer tokens of payers and of payees signed in with a context code (stored as digests).
CREATE TABLE bleepay_tokens (
    digest      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    payer_pk    BIGINT REFERENCES payers (pk),
    context_pk  BIGINT,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    CHECK ((payer_pk IS NULL) <> (context_pk IS NULL))
);
CREATE INDEX bleepay_tokens_by_expiry ON bleepay_tokens (expires_at);

CREATE TABLE bleepay_contexts (
    pk         BIGSERIAL PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    id         TEXT NOT NULL,
    payer_pk   BIGINT NOT NULL REFERENCES payers (pk),
    code       TEXT NOT NULL,
    format     TEXT NOT NULL,
    -- OPEN or CLOSED; an OPEN context past expires_at reads CLOSED.
    status     TEXT NOT NULL,
    payee_id   TEXT,
    -- Wrong context codes sent by this context's payee; at 5 the context closes.
    misses     BIGINT NOT NULL DEFAULT 0,
    closed_reason TEXT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, id)
);
CREATE INDEX bleepay_contexts_by_payer ON bleepay_contexts (payer_pk, created_at);

-- The vouchers a context binds, in the order the payer named them.
CREATE TABLE bleepay_bindings (
    context_pk BIGINT NOT NULL REFERENCES bleepay_contexts (pk),
    position   BIGINT NOT NULL,
    voucher_pk BIGINT NOT NULL REFERENCES vouchers (pk),
    address    TEXT NOT NULL,
    PRIMARY KEY (context_pk, position)
);

-- Live codes: a code belongs to its holder until expires_at; after that it may be claimed again.
CREATE TABLE bleepay_codes (
    tenant_id  TEXT NOT NULL,
    -- 'context' or 'voucher'
    kind       TEXT NOT NULL,
    code       TEXT NOT NULL,
    holder_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, code)
);

CREATE TABLE bleepay_vouchers (
    pk           BIGSERIAL PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    context_pk   BIGINT NOT NULL REFERENCES bleepay_contexts (pk),
    code         TEXT NOT NULL,
    -- RESERVED, REDEEMED, RESOLVED, DISCARDED; an open one past expires_at reads DISCARDED.
    status       TEXT NOT NULL,
    -- The payer account that reserved it as a payee (NULL: the context's resource token).
    reserved_by  BIGINT REFERENCES payers (pk),
    currency     TEXT,
    amount_minor BIGINT,
    voucher_pk   BIGINT REFERENCES vouchers (pk),
    hold_pk      BIGINT REFERENCES holds (pk),
    entry_pk     BIGINT REFERENCES entries (pk),
    expires_at   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (tenant_id, id)
);
CREATE INDEX bleepay_vouchers_by_context ON bleepay_vouchers (context_pk, created_at);
CREATE INDEX bleepay_vouchers_by_reserver ON bleepay_vouchers (reserved_by, created_at);
