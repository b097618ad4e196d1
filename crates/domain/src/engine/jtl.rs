//! The JTL face's rules over the one hold lifecycle: one live reservation per voucher (a new
//! one supersedes it), a charge takes the whole reservation and is answered again for the same
//! order number, refunds up to the charge, recharges within the balance limit, activation,
//! deactivation (which releases what is held) and deletion of unused vouchers. The console uses
//! the same commands. Each function decides everything before it changes anything, so a
//! refused command leaves the ledger as it found it.

use serde::Serialize;
use serde_json::json;
use time::Duration;

use super::lifecycle::{self, NewEntry, NewHold};
use super::state::{Ledger, PURPOSE_RESERVATION};
use super::{Answer, IdSource, Origin, VoucherFigures, VoucherName, audit};
use crate::{Currency, DomainError, EntryKind, HoldState, VoucherStatus};

/// The audit details of a reservation, the most frequent command with the charge: written
/// straight to text, in the order of their keys.
#[derive(Serialize)]
struct Reserved<'a> {
    voucher_id: &'a str,
    amount_minor: i64,
}

/// The audit details of a charge.
#[derive(Serialize)]
struct Charged<'a> {
    voucher_id: &'a str,
    charge_id: &'a str,
    amount_minor: i64,
}

type Decided = Result<Answer, DomainError>;

/// The voucher a code names, or why there is none: a missing tenant is told apart from a
/// missing voucher.
fn voucher_by_code(ledger: &Ledger, origin: &Origin, code: &str) -> Result<i64, DomainError> {
    match ledger.voucher_by_code(&origin.tenant_id, code) {
        Some(v) => Ok(v.pk),
        None if ledger.tenant(&origin.tenant_id).is_none() => Err(DomainError::TenantNotFound),
        None => Err(DomainError::VoucherNotFound),
    }
}

/// A voucher's figures as a reader sees them at `now`.
pub fn figures(ledger: &Ledger, pk: i64, now: time::OffsetDateTime) -> Option<VoucherFigures> {
    let voucher = ledger.voucher(pk)?;
    let held_minor = ledger.held_minor(pk, now);
    Some(VoucherFigures {
        pk,
        status: voucher.status,
        valid_until: voucher.valid_until,
        remaining_minor: voucher.remaining_minor,
        held_minor,
        deletable: lifecycle::deletable(voucher.has_activity, held_minor),
        updated_at: voucher.updated_at,
    })
}

pub(super) fn reserve(
    ledger: &mut Ledger,
    origin: &Origin,
    (code, pin, amount_minor, currency): (&str, Option<&str>, i64, Currency),
    ids: &mut dyn IdSource,
) -> Decided {
    let now = origin.now;
    let pk = voucher_by_code(ledger, origin, code)?;
    let voucher = ledger.voucher(pk).ok_or(DomainError::VoucherNotFound)?;
    // A wrong PIN answers exactly like an unknown code: no oracle for guessing.
    if !lifecycle::pin_matches(voucher, pin) {
        return Err(DomainError::VoucherNotFound);
    }
    lifecycle::check_usable(voucher, now)?;
    lifecycle::check_currency(voucher, currency)?;
    // The live reservation this one supersedes does not count against it.
    let available =
        lifecycle::available_minor(ledger, voucher, now, |h| h.purpose == PURPOSE_RESERVATION);
    if amount_minor > available {
        return Err(DomainError::InsufficientBalance);
    }
    let ttl_seconds = ledger
        .tenant(&origin.tenant_id)
        .ok_or(DomainError::TenantNotFound)?
        .reservation_ttl_seconds;
    let voucher_id = voucher.id.clone();
    let superseded: Vec<usize> = ledger
        .holds_of(pk)
        .iter()
        .copied()
        .filter(|&i| {
            let h = ledger.hold(i);
            h.state == HoldState::Live && h.purpose == PURPOSE_RESERVATION
        })
        .collect();
    for index in superseded {
        lifecycle::end(ledger, index, HoldState::Superseded, now);
    }
    let new = NewHold {
        voucher_pk: pk,
        purpose: PURPOSE_RESERVATION,
        amount_minor,
        currency,
        expires_at: now + Duration::seconds(ttl_seconds),
    };
    let index = lifecycle::place(ledger, origin, new, ids);
    let hold = ledger.hold(index).clone();
    audit(
        ledger,
        origin,
        "hold.reserve",
        ("reservation", &hold.id),
        Reserved {
            voucher_id: &voucher_id,
            amount_minor,
        },
    );
    Ok(Answer::Reserved(hold))
}

/// The reservation with this id and its voucher, while the voucher exists.
fn reservation(ledger: &Ledger, origin: &Origin, id: &str) -> Result<usize, DomainError> {
    ledger
        .hold_index(&origin.tenant_id, id)
        .filter(|&i| {
            let hold = ledger.hold(i);
            hold.purpose == PURPOSE_RESERVATION && ledger.voucher(hold.voucher_pk).is_some()
        })
        .ok_or(DomainError::ReservationNotFound)
}

pub(super) fn charge(
    ledger: &mut Ledger,
    origin: &Origin,
    (reservation_id, order_number): (&str, &str),
    ids: &mut dyn IdSource,
) -> Decided {
    let now = origin.now;
    let index = reservation(ledger, origin, reservation_id)?;
    let hold = ledger.hold(index);
    match hold.state_at(now) {
        HoldState::Charged => {
            // The same order number asks for the same charge again: answer it, charge nothing.
            let entry = hold
                .charge
                .as_ref()
                .and_then(|(key, _)| ledger.entry_by_key(*key))
                .ok_or(DomainError::ReservationAlreadyCharged)?;
            return if entry.order_number.as_deref() == Some(order_number) {
                Ok(Answer::Charged {
                    entry: entry.clone(),
                    first_time: false,
                })
            } else {
                Err(DomainError::ReservationAlreadyCharged)
            };
        }
        HoldState::Live => {}
        HoldState::Released | HoldState::Superseded | HoldState::Expired => {
            return Err(DomainError::ReservationExpired);
        }
    }
    let voucher = ledger
        .voucher(hold.voucher_pk)
        .ok_or(DomainError::ReservationNotFound)?;
    lifecycle::check_usable(voucher, now)?;
    // The hold guaranteed this; a violation means the ledger is already inconsistent.
    if hold.amount_minor > voucher.remaining_minor {
        return Err(DomainError::InsufficientBalance);
    }
    let voucher_id = voucher.id.clone();
    let entry = lifecycle::charge(ledger, origin, index, order_number, ids);
    audit(
        ledger,
        origin,
        "hold.charge",
        ("reservation", reservation_id),
        Charged {
            voucher_id: &voucher_id,
            charge_id: &entry.id,
            amount_minor: entry.amount_minor,
        },
    );
    Ok(Answer::Charged {
        entry,
        first_time: true,
    })
}

pub(super) fn release(ledger: &mut Ledger, origin: &Origin, reservation_id: &str) -> Decided {
    let index = reservation(ledger, origin, reservation_id)?;
    let hold = ledger.hold(index);
    match hold.state_at(origin.now) {
        HoldState::Charged => return Err(DomainError::ReservationAlreadyCharged),
        HoldState::Live => {}
        HoldState::Released | HoldState::Superseded | HoldState::Expired => {
            return Err(DomainError::ReservationExpired);
        }
    }
    let voucher_id = ledger
        .voucher(hold.voucher_pk)
        .map(|v| v.id.clone())
        .unwrap_or_default();
    lifecycle::end(ledger, index, HoldState::Released, origin.now);
    audit(
        ledger,
        origin,
        "hold.release",
        ("reservation", reservation_id),
        json!({ "voucher_id": voucher_id }),
    );
    Ok(Answer::Released)
}

/// Refunds work on inactive and expired vouchers: returned goods put value back whatever the
/// voucher's state, but never beyond the charge nor past the balance limit.
pub(super) fn refund(
    ledger: &mut Ledger,
    origin: &Origin,
    (charge_id, amount_minor, currency): (&str, i64, Currency),
    ids: &mut dyn IdSource,
) -> Decided {
    let index = ledger
        .entry_index(&origin.tenant_id, charge_id)
        .ok_or(DomainError::ChargeNotFound)?;
    let charge = ledger.entry(index);
    if charge.kind != EntryKind::Charge {
        return Err(DomainError::ChargeNotRefundable);
    }
    let voucher = ledger
        .voucher(charge.voucher_pk)
        .ok_or(DomainError::ChargeNotFound)?;
    lifecycle::check_currency(voucher, currency)?;
    lifecycle::check_refund(charge.amount_minor, charge.refunded_minor, amount_minor)?;
    lifecycle::check_credit(voucher, amount_minor)?;
    let voucher_id = voucher.id.clone();
    let new = NewEntry {
        id: None,
        voucher_pk: charge.voucher_pk,
        kind: EntryKind::Refund,
        amount_minor,
        currency,
        order_number: charge.order_number.clone(),
        refund_of: Some((charge.key, charge.id.clone())),
        hold: None,
    };
    let entry = lifecycle::write_entry(ledger, origin, new, ids);
    audit(
        ledger,
        origin,
        "entry.refund",
        ("charge", charge_id),
        json!({ "voucher_id": voucher_id, "refund_id": entry.id, "amount_minor": amount_minor }),
    );
    Ok(Answer::Refunded(entry))
}

pub(super) fn recharge(
    ledger: &mut Ledger,
    origin: &Origin,
    (name, amount_minor, currency, order_number): (&VoucherName, i64, Currency, &str),
    ids: &mut dyn IdSource,
) -> Decided {
    let tenant = origin.tenant_id.as_str();
    let voucher = match name {
        VoucherName::Id(id) => ledger.voucher_by_id(tenant, id),
        VoucherName::Code(code) => ledger.voucher_by_code(tenant, code),
        VoucherName::Both { id, code } => ledger
            .voucher_by_id(tenant, id)
            .filter(|v| crate::secret::constant_time_eq(&v.code, code)),
    }
    .ok_or(DomainError::VoucherNotFound)?;
    lifecycle::check_usable(voucher, origin.now)?;
    lifecycle::check_currency(voucher, currency)?;
    lifecycle::check_credit(voucher, amount_minor)?;
    let (pk, voucher_id) = (voucher.pk, voucher.id.clone());
    let new = NewEntry {
        id: None,
        voucher_pk: pk,
        kind: EntryKind::Recharge,
        amount_minor,
        currency,
        order_number: Some(order_number.to_string()),
        refund_of: None,
        hold: None,
    };
    let entry = lifecycle::write_entry(ledger, origin, new, ids);
    audit(
        ledger,
        origin,
        "entry.recharge",
        ("voucher", &voucher_id),
        json!({ "recharge_id": entry.id, "amount_minor": amount_minor }),
    );
    Ok(Answer::Recharged(entry))
}

/// Activation starts the validity anew; deactivation releases what the voucher holds. Setting
/// the status a voucher already has changes nothing.
pub(super) fn set_status(
    ledger: &mut Ledger,
    origin: &Origin,
    (voucher_id, status, comment): (&str, VoucherStatus, Option<&str>),
) -> Decided {
    let now = origin.now;
    let voucher = ledger
        .voucher_by_id(&origin.tenant_id, voucher_id)
        .ok_or(DomainError::VoucherNotFound)?;
    let pk = voucher.pk;
    if voucher.status != status {
        let valid_until = match status {
            VoucherStatus::Active => Some(voucher.validity.end_from(now)),
            VoucherStatus::Inactive => None,
        };
        if status == VoucherStatus::Inactive {
            let live: Vec<usize> = ledger.holds_of(pk).to_vec();
            for index in live {
                lifecycle::end(ledger, index, HoldState::Released, now);
            }
        }
        ledger.change_voucher(pk, |v| {
            v.status = status;
            v.valid_until = valid_until;
            v.updated_at = now;
        });
        audit(
            ledger,
            origin,
            "voucher.status",
            ("voucher", voucher_id),
            json!({ "status": status.as_str(), "comment": comment }),
        );
    }
    figures(ledger, pk, now)
        .map(Answer::Voucher)
        .ok_or(DomainError::VoucherNotFound)
}

/// A voucher may be deleted while nothing but its issue entry exists and nothing is held.
pub(super) fn delete(
    ledger: &mut Ledger,
    origin: &Origin,
    (voucher_id, comment): (&str, &str),
) -> Decided {
    let now = origin.now;
    let voucher = ledger
        .voucher_by_id(&origin.tenant_id, voucher_id)
        .ok_or(DomainError::VoucherNotFound)?;
    let pk = voucher.pk;
    if !lifecycle::deletable(voucher.has_activity, ledger.held_minor(pk, now)) {
        return Err(DomainError::VoucherNotDeletable);
    }
    ledger.change_voucher(pk, |v| {
        v.deleted_at = Some(now);
        v.delete_comment = Some(comment.to_string());
        v.updated_at = now;
    });
    audit(
        ledger,
        origin,
        "voucher.delete",
        ("voucher", voucher_id),
        json!({ "comment": comment }),
    );
    Ok(Answer::Deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed details read as the objects the audit log has always shown.
    #[test]
    fn payment_audit_details_keep_their_keys_in_order() {
        let reserved = Reserved {
            voucher_id: "V\"1",
            amount_minor: 250,
        };
        assert_eq!(
            serde_json::to_string(&reserved).expect("JSON"),
            json!({ "voucher_id": "V\"1", "amount_minor": 250 }).to_string()
        );
        let charged = Charged {
            voucher_id: "V1",
            charge_id: "C1",
            amount_minor: -3,
        };
        assert_eq!(
            serde_json::to_string(&charged).expect("JSON"),
            json!({ "voucher_id": "V1", "charge_id": "C1", "amount_minor": -3 }).to_string()
        );
    }
}
