//! The sweeper's hold expiry through the engine: the vouchers that have live holds past their
//! expiry are locked in key order (on PostgreSQL, like every batch, so the sweeper never
//! deadlocks with one), their expired holds loaded, the engine's lifecycle marks them expired,
//! and the changed holds are written with one statement. A bounded number of vouchers per
//! round, rounds until none is left.

use time::OffsetDateTime;
use voucherd_domain::engine::{Ledger, Origin, lifecycle};
use voucherd_domain::events::LedgerEvent;

use super::super::sets::key_in_locked;
use super::super::{Dialect, SqlExec};
use super::key_blocks::KeyBlocks;
use super::keys::Keys;
use super::{load, persist};
use crate::StoreError;

/// Vouchers whose expired holds one round marks.
const VOUCHERS_PER_ROUND: i64 = 1_000;

/// Who expires holds: voucherd itself.
fn sweeper(now: OffsetDateTime) -> Origin {
    Origin {
        tenant_id: String::new(),
        actor_kind: "system",
        actor_id: String::new(),
        client_id: None,
        request_id: format!("sweep-{}", now.unix_timestamp()),
        now,
    }
}

/// Marks every live hold past its expiry at `now` as expired, adding a `hold.expired` event of
/// each to `events`; answers how many.
pub(in crate::sql) async fn expire_holds<T: SqlExec>(
    tx: &mut T,
    dialect: Dialect,
    now: OffsetDateTime,
    events: &mut Vec<LedgerEvent>,
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
        let pks: Vec<i64> = pks.into_iter().flatten().collect();
        // The vouchers and all their live holds, so each event tells the voucher's balance and
        // what stays held.
        let mut ledger = Ledger::new();
        load::vouchers_by_key(tx, dialect, &pks, &mut ledger).await?;
        let marked = lifecycle::expire(&mut ledger, now);
        ledger.seal_events(&sweeper(now), "system");
        // Expiry writes no new rows, so it needs no keys drawn ahead.
        let no_blocks = KeyBlocks::default();
        persist::write(
            tx,
            dialect,
            &ledger.write_set(),
            &Keys::default(),
            &no_blocks,
        )
        .await?;
        events.extend(ledger.take_events());
        expired += u64::try_from(marked).unwrap_or(u64::MAX);
        if round < VOUCHERS_PER_ROUND {
            return Ok(expired);
        }
    }
}
