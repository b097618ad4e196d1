-- How a tenant's shop presents itself on the payment page: a display name, a colour, a logo
-- (kept as base64 text with its content type), a support contact, terms and privacy links,
-- and the currency the page shows amounts in before a voucher is chosen. One row per tenant
-- that set any of it; a tenant without one gets the page's defaults.

CREATE TABLE tenant_branding (
    tenant_id     TEXT PRIMARY KEY REFERENCES tenants (id),
    display_name  TEXT,
    colour        TEXT,
    support       TEXT,
    terms_url     TEXT,
    privacy_url   TEXT,
    currency      TEXT,
    logo_type     TEXT,
    logo_base64   TEXT,
    updated_at    BIGINT NOT NULL
);
