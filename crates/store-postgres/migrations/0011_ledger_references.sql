-- The ledger's hot rows are written without foreign-key checks. Each check is a query of its
-- own at the end of the statement, which locks the row it finds (a hold's voucher, an entry's
-- voucher and hold, an event's tenant: every batch of every lane locked the tenant's row, and
-- lanes holding that lock at once make PostgreSQL record it as a multixact). The ledger engine
-- writes a hold or an entry only for a voucher it has loaded and locked in the same
-- transaction, and an event is written only in the transaction of a command of its tenant;
-- vouchers, holds and tenants are never deleted. The integrity check reports any hold or entry
-- whose voucher or hold is not its tenant's (`references_resolve`).

ALTER TABLE holds DROP CONSTRAINT holds_voucher_pk_fkey;
ALTER TABLE entries DROP CONSTRAINT entries_voucher_pk_fkey;
ALTER TABLE entries DROP CONSTRAINT entries_hold_pk_fkey;
ALTER TABLE ledger_events DROP CONSTRAINT ledger_events_tenant_id_fkey;
