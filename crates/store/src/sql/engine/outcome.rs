//! The engine's answers in the store's terms: the views the faces render.

use time::OffsetDateTime;
use voucherd_domain::engine::{Answer, BleepayCode, Entry, FrontReservation, Hold};

use voucherd_domain::events::masked_code;

use super::load::Loaded;
use crate::StoreError;
use crate::bleepay::CodeView;
use crate::command::Outcome;
use crate::front::{FrontPayerView, FrontReservationView};
use crate::model::{EntryView, HoldView};

/// The outcome of an accepted command, right after it.
pub(super) fn of(
    answer: Answer,
    loaded: &Loaded,
    now: OffsetDateTime,
) -> Result<Outcome, StoreError> {
    Ok(match answer {
        Answer::Reserved(hold) => Outcome::Reservation(hold_view(&hold, loaded, now)),
        Answer::Charged { entry, first_time } => Outcome::Charge {
            entry: entry_view(entry),
            first_time,
        },
        Answer::Released => Outcome::Released,
        Answer::Refunded(entry) => Outcome::Refund(entry_view(entry)),
        Answer::Recharged(entry) => Outcome::Recharge(entry_view(entry)),
        Answer::Voucher(figures) => {
            let mut view = loaded.views.get(&figures.pk).cloned().ok_or_else(|| {
                StoreError::Other("the engine answered for a voucher the batch did not load".into())
            })?;
            view.status = figures.status;
            view.valid_until = figures.valid_until;
            view.remaining_minor = figures.remaining_minor;
            view.held_minor = figures.held_minor;
            view.deletable = figures.deletable;
            view.updated_at = figures.updated_at;
            Outcome::Voucher(view)
        }
        Answer::Deleted => Outcome::VoucherDeleted,
        Answer::FrontPaid(reservation) => {
            Outcome::FrontReservation(Box::new(paid_view(&reservation, loaded, now)?))
        }
        Answer::FrontPosted { id } => Outcome::FrontPosting { id },
        Answer::FrontDone => Outcome::FrontDone,
        Answer::BleepayCode(code) => Outcome::Code(Box::new(code_view(&code, loaded)?)),
    })
}

/// A bleepay voucher code as the command left it: the view loaded with the batch with what the
/// command changed.
fn code_view(code: &BleepayCode, loaded: &Loaded) -> Result<CodeView, StoreError> {
    let mut view = loaded.code_views.get(&code.pk).cloned().ok_or_else(|| {
        StoreError::Other("the engine answered for a voucher code the batch did not load".into())
    })?;
    view.status = code.status;
    view.currency = code.currency;
    view.amount_minor = code.amount_minor;
    view.voucher_id = code
        .voucher_pk
        .and_then(|pk| loaded.views.get(&pk))
        .map(|v| v.id.clone())
        .or(view.voucher_id);
    view.charge_id = code.charge.as_ref().map(|(_, id)| id.clone());
    view.updated_at = code.updated_at;
    Ok(view)
}

/// The reservation as the payment left it: the view loaded with the batch (an unpaid
/// reservation, so it has no postings yet) with what paying changed.
fn paid_view(
    reservation: &FrontReservation,
    loaded: &Loaded,
    now: OffsetDateTime,
) -> Result<FrontReservationView, StoreError> {
    let mut view = loaded
        .front_views
        .get(&reservation.pk)
        .cloned()
        .ok_or_else(|| {
            StoreError::Other("the engine answered for a reservation the batch did not load".into())
        })?;
    let voucher = reservation
        .first_voucher_pk()
        .and_then(|pk| loaded.views.get(&pk));
    view.status = reservation.status.at(reservation.due_at, now);
    view.voucher_id = voucher.map(|v| v.id.clone());
    view.currency = voucher.map(|v| v.currency);
    view.reserved_at = reservation.reserved_at;
    view.held_minor = reservation.grand_total_minor;
    view.vouchers = reservation
        .payers
        .iter()
        .map(|payer| {
            let voucher = loaded.views.get(&payer.voucher_pk);
            FrontPayerView {
                voucher_id: voucher.map(|v| v.id.clone()).unwrap_or_default(),
                masked_code: voucher.map(|v| masked_code(&v.code)).unwrap_or_default(),
                held_minor: loaded
                    .ledger
                    .hold_index_by_key(payer.hold)
                    .map_or(0, |h| loaded.ledger.hold(h).amount_minor),
                captured_minor: 0,
                charged_minor: 0,
                refunded_minor: 0,
            }
        })
        .collect();
    view.updated_at = reservation.updated_at;
    Ok(view)
}

fn hold_view(hold: &Hold, loaded: &Loaded, now: OffsetDateTime) -> HoldView {
    let voucher = loaded.views.get(&hold.voucher_pk);
    HoldView {
        id: hold.id.clone(),
        voucher_id: voucher.map(|v| v.id.clone()).unwrap_or_default(),
        voucher_taxable: voucher.is_some_and(|v| v.taxable),
        voucher_tax_rate: voucher.and_then(|v| v.tax_rate.clone()),
        client_id: hold.client_id.clone(),
        purpose: hold.purpose.clone(),
        amount_minor: hold.amount_minor,
        currency: hold.currency,
        state: hold.state_at(now),
        expires_at: hold.expires_at,
        charge_id: hold.charge.as_ref().map(|(_, id)| id.clone()),
        created_at: hold.created_at,
        updated_at: hold.updated_at,
    }
}

fn entry_view(entry: Entry) -> EntryView {
    EntryView {
        id: entry.id,
        voucher_id: entry.voucher_id,
        client_id: entry.client_id,
        kind: entry.kind,
        amount_minor: entry.amount_minor,
        currency: entry.currency,
        order_number: entry.order_number,
        refund_of: entry.refund_of.map(|(_, id)| id),
        created_at: entry.created_at,
    }
}
