-- The ledger's hot rows are written without foreign-key checks. Each check is a query of its
-- own at the end of the statement that locks the row it finds (a hold's voucher, an entry's
-- voucher and hold, an event's tenant: the tenant's row was locked by every lane's every batch,
-- and lanes sharing that lock made PostgreSQL record their lock as a multixact each time).
-- The ledger engine writes a hold or an entry only for a voucher it has loaded and locked in
-- the same transaction, and an event only for a tenant whose command it decided; vouchers,
-- holds and tenants are never deleted. The integrity check reports any hold or entry whose
-- voucher or hold is not its tenant's (`references_resolve`).

ALTER TABLE holds DROP CONSTRAINT holds_voucher_pk_fkey;
ALTER TABLE entries DROP CONSTRAINT entries_voucher_pk_fkey;
ALTER TABLE entries DROP CONSTRAINT entries_hold_pk_fkey;
ALTER TABLE ledger_events DROP CONSTRAINT ledger_events_tenant_id_fkey;
