//! The writes of a batch's bleepay rows: the voucher codes it changed, in one statement, and
//! the six-digit codes it gave back to the pool, in another.

use voucherd_domain::engine::BleepayWrites;

use super::super::ledger::writes::Write;
use super::super::sets::{self, Column};
use super::super::{Dialect, Value};
use super::persist::NewKeys;
use crate::StoreError;

const CODE_CHANGE_COLUMNS: [Column; 7] = [
    Column::Text("status"),
    Column::Text("currency"),
    Column::Int("amount_minor"),
    Column::Int("voucher_pk"),
    Column::Int("hold_pk"),
    Column::Int("entry_pk"),
    Column::Int("updated_at"),
];
/// A claim in the code pool is the voucher code's: its tenant, the kind, the digits and the
/// holder.
const CLAIM_KEYS: [Column; 4] = [
    Column::Text("tenant_id"),
    Column::Text("kind"),
    Column::Text("code"),
    Column::Text("holder_id"),
];
const CODE_KIND_VOUCHER: &str = "voucher";

/// The statements that write `bleepay`.
pub(super) fn writes(
    dialect: Dialect,
    bleepay: &BleepayWrites,
    new: &NewKeys,
) -> Result<Vec<Write>, StoreError> {
    let codes = bleepay
        .changed_codes
        .iter()
        .map(|c| {
            Ok(vec![
                c.pk.into(),
                c.status.as_str().into(),
                c.currency.map(|c| c.code()).into(),
                c.amount_minor.into(),
                c.voucher_pk.into(),
                c.hold.map(|k| new.hold(k)).transpose()?.into(),
                c.charge
                    .as_ref()
                    .map(|(k, _)| new.entry(*k))
                    .transpose()?
                    .into(),
                c.updated_at.into(),
            ])
        })
        .collect::<Result<Vec<Vec<Value>>, StoreError>>()?;
    let mut all = sets::update(
        dialect,
        "bleepay_vouchers",
        &[Column::Int("pk")],
        &CODE_CHANGE_COLUMNS,
        codes,
    );
    let freed = bleepay
        .freed_codes
        .iter()
        .map(|f| {
            vec![
                f.tenant_id.as_str().into(),
                CODE_KIND_VOUCHER.into(),
                f.code.as_str().into(),
                f.holder_id.as_str().into(),
                f.at.into(),
            ]
        })
        .collect();
    all.extend(sets::update(
        dialect,
        "bleepay_codes",
        &CLAIM_KEYS,
        &[Column::Int("expires_at")],
        freed,
    ));
    Ok(all)
}
