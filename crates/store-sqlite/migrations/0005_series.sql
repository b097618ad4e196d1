-- Series: many vouchers issued at once from the tenant's patterns, in chunks by whichever node
-- holds the series' lease, so that a series of any size survives a restart and shows progress.

CREATE TABLE voucher_series (
    pk           INTEGER PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    id           TEXT NOT NULL,
    -- The fields every voucher of the series gets (JSON).
    template     TEXT NOT NULL,
    requested    INTEGER NOT NULL CHECK (requested > 0),
    issued       INTEGER NOT NULL DEFAULT 0 CHECK (issued <= requested),
    -- running, done, failed
    state        TEXT NOT NULL,
    failure      TEXT,
    lease_until  INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    UNIQUE (tenant_id, id)
);
CREATE INDEX voucher_series_running ON voucher_series (lease_until) WHERE state = 'running';

ALTER TABLE vouchers ADD COLUMN series_pk INTEGER REFERENCES voucher_series (pk);
CREATE INDEX vouchers_by_series ON vouchers (series_pk, pk) WHERE series_pk IS NOT NULL;
