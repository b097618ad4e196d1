-- Series: many vouchers issued at once from the tenant's patterns, in chunks by whichever node
-- holds the series' lease, so that a series of any size survives a restart and shows progress.

CREATE TABLE voucher_series (
    pk           BIGSERIAL PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    id           TEXT NOT NULL,
    -- The fields every voucher of the series gets (JSON).
    template     TEXT NOT NULL,
    requested    BIGINT NOT NULL CHECK (requested > 0),
    issued       BIGINT NOT NULL DEFAULT 0 CHECK (issued <= requested),
    -- running, done, failed
    state        TEXT NOT NULL,
    failure      TEXT,
    lease_until  BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    UNIQUE (tenant_id, id)
);
CREATE INDEX voucher_series_running ON voucher_series (lease_until) WHERE state = 'running';

ALTER TABLE vouchers ADD COLUMN series_pk BIGINT REFERENCES voucher_series (pk);
CREATE INDEX vouchers_by_series ON vouchers (series_pk, pk) WHERE series_pk IS NOT NULL;
