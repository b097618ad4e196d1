-- Webhook endpoints: where a tenant's events are POSTed, signed with the endpoint's secret. Each
-- endpoint keeps a cursor over the tenant's event numbers: every node may claim it (the claim
-- moves next_attempt_at past now, a lease), deliver the next events it wants in order, and move
-- the cursor past each one delivered. A failure leaves the cursor and sets the next attempt
-- later (exponential backoff, capped); an endpoint failing for days is disabled.

CREATE TABLE webhook_endpoints (
    pk              BIGSERIAL PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    -- whe_ + random, unique across tenants.
    id              TEXT NOT NULL UNIQUE,
    url             TEXT NOT NULL,
    -- Comma-separated event types or families (hold.*); empty: every type.
    types           TEXT NOT NULL,
    -- Whether deliveries may go to loopback, private and link-local addresses.
    allow_private   BOOLEAN NOT NULL,
    -- whsec_ + base64: it signs, so it is kept as it is.
    secret          TEXT NOT NULL,
    -- After a rotation, the secret before it, still signing deliveries until previous_until.
    previous_secret TEXT,
    previous_until  BIGINT,
    -- The last event number delivered or passed over.
    cursor          BIGINT NOT NULL,
    -- Failed attempts at the next event.
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    failing_since   BIGINT,
    last_error      TEXT,
    disabled_at     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_due ON webhook_endpoints (next_attempt_at);

-- Every attempt to deliver an event to an endpoint, for the operator to look at.
CREATE TABLE webhook_deliveries (
    pk          BIGSERIAL PRIMARY KEY,
    endpoint_pk BIGINT NOT NULL REFERENCES webhook_endpoints (pk) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    type        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    -- The answer's status; NULL when none came (refused, timed out, not allowed).
    status      BIGINT,
    latency_ms  BIGINT NOT NULL,
    error       TEXT
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_pk, pk);
