-- The rows a batch of 8 reserves and 8 charges writes, on voucherd's own schema, in the
-- statements of the reference for the PostgreSQL target (pgbench -M prepared): lock 16 vouchers
-- in key order, read their live holds, insert 8 holds, charge one live hold on each of 8 of the
-- vouchers (hold update, charge entry, voucher update), and one audit record per command.
-- scripts/pg-reference/run sets :vouchers and runs it.
\set v1 random(1, :vouchers)
\set v2 random(1, :vouchers)
\set v3 random(1, :vouchers)
\set v4 random(1, :vouchers)
\set v5 random(1, :vouchers)
\set v6 random(1, :vouchers)
\set v7 random(1, :vouchers)
\set v8 random(1, :vouchers)
\set v9 random(1, :vouchers)
\set v10 random(1, :vouchers)
\set v11 random(1, :vouchers)
\set v12 random(1, :vouchers)
\set v13 random(1, :vouchers)
\set v14 random(1, :vouchers)
\set v15 random(1, :vouchers)
\set v16 random(1, :vouchers)
BEGIN;
SELECT pk, remaining_minor FROM vouchers WHERE pk IN (:v1,:v2,:v3,:v4,:v5,:v6,:v7,:v8,:v9,:v10,:v11,:v12,:v13,:v14,:v15,:v16) ORDER BY pk FOR UPDATE;
SELECT pk, voucher_pk, amount_minor FROM holds WHERE voucher_pk IN (:v1,:v2,:v3,:v4,:v5,:v6,:v7,:v8,:v9,:v10,:v11,:v12,:v13,:v14,:v15,:v16) AND state = 'live';
INSERT INTO holds (tenant_id, id, voucher_pk, client_id, purpose, amount_minor, currency, state, expires_at, created_at, updated_at) SELECT 'default', to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint) || substr(md5(random()::text), 1, 8), v, 'reference', 'reservation', 1, 'EUR', 'live', 9000000000000, 1, 1 FROM unnest(ARRAY[:v1,:v2,:v3,:v4,:v5,:v6,:v7,:v8]::bigint[]) AS v;
WITH live AS (SELECT DISTINCT ON (voucher_pk) pk FROM holds WHERE voucher_pk IN (:v9,:v10,:v11,:v12,:v13,:v14,:v15,:v16) AND state = 'live' ORDER BY voucher_pk, pk), charged AS (UPDATE holds AS h SET state = 'charged', updated_at = 2 FROM live WHERE h.pk = live.pk RETURNING h.pk, h.voucher_pk), entry AS (INSERT INTO entries (tenant_id, id, voucher_pk, client_id, kind, amount_minor, currency, order_number, hold_pk, created_at) SELECT 'default', to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint) || substr(md5(random()::text), 1, 8), voucher_pk, 'reference', 'charge', 1, 'EUR', 'REFERENCE', pk, 2 FROM charged RETURNING voucher_pk) UPDATE vouchers AS x SET remaining_minor = x.remaining_minor - 1, updated_at = 2 FROM entry WHERE x.pk = entry.voucher_pk;
INSERT INTO audit_events (tenant_id, at, actor_kind, actor_id, action, subject_kind, subject_id, request_id, detail) SELECT 'default', 2, 'client', 'reference', 'reservation.charge', 'voucher', 'V' || v, md5(random()::text), '{}' FROM unnest(ARRAY[:v1,:v2,:v3,:v4,:v5,:v6,:v7,:v8,:v9,:v10,:v11,:v12,:v13,:v14,:v15,:v16]::bigint[]) AS v;
END;
