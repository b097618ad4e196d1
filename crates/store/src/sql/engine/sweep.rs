//! The sweeper's hold expiry through the engine: the vouchers that have live holds past their
//! expiry are locked in key order (on PostgreSQL, like every batch, so the sweeper never
//! deadlocks with one), their expired holds loaded, the engine's lifecycle marks them expired,
//! and the changed holds are written with one statement. A bounded number of vouchers per
//! round, rounds until none is left.

use time::OffsetDateTime;
use voucherd_domain::engine::{Ledger, lifecycle};

use super::super::sets::{in_ints, key_in_locked};
use super::super::{Dialect, SqlExec, Value};
use super::keys::Keys;
use super::load::{HOLD_COLUMNS, read_hold};
use super::persist;
use crate::StoreError;

/// Vouchers whose expired holds one round marks.
const VOUCHERS_PER_ROUND: i64 = 1_000;

/// Marks every live hold past its expiry at `now` as expired; answers how many.
pub(in crate::sql) async fn expire_holds<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let mut expired = 0;
    loop {
        let due = "SELECT DISTINCT voucher_pk FROM holds WHERE state = 'live' \
                   AND expires_at <= $1 ORDER BY voucher_pk LIMIT $2";
        let lock = format!(
            "SELECT pk FROM vouchers WHERE {} ORDER BY pk{}",
            key_in_locked(dialect, "pk", due),
            dialect.lock_clause()
        );
        let pks: Vec<Option<i64>> = tx
            .fetch(&lock, vec![now.into(), VOUCHERS_PER_ROUND.into()])
            .await?
            .iter()
            .map(|row| row.reader().int().map(Some))
            .collect::<Result<_, _>>()?;
        if pks.is_empty() {
            return Ok(expired);
        }
        let round = i64::try_from(pks.len()).unwrap_or(i64::MAX);
        let holds = format!(
            "SELECT {HOLD_COLUMNS} FROM holds h WHERE {} AND h.state = 'live' \
             AND h.expires_at <= $2",
            in_ints(dialect, "h.voucher_pk", 1)
        );
        let mut ledger = Ledger::new();
        for row in tx.fetch(&holds, vec![Value::Ints(pks), now.into()]).await? {
            ledger.load_hold(read_hold(&row)?);
        }
        let marked = lifecycle::expire(&mut ledger, now);
        persist::write(tx, dialect, &ledger.write_set(), &Keys::default()).await?;
        expired += u64::try_from(marked).unwrap_or(u64::MAX);
        if round < VOUCHERS_PER_ROUND {
            return Ok(expired);
        }
    }
}
