//! bleepay's shapes of contexts, voucher codes and payer vouchers: camelCase keys, times as
//! ISO 8601 UTC strings with milliseconds, amounts as decimal strings with the currency's
//! decimals.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use voucherd_domain::Currency;
use voucherd_domain::bleepay::{CodeStatus, format_amount};
use voucherd_store::bleepay::{CodeView, ContextView, PayerVoucherView};

/// `2026-03-01T12:00:00.000Z`.
pub fn time(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

pub fn amount(minor: i64, currency: Currency) -> String {
    format_amount(minor, currency.minor_unit_digits().unwrap_or(2))
}

pub fn context(c: &ContextView, now: OffsetDateTime) -> Value {
    let payers: Vec<Value> = c
        .bindings
        .iter()
        .map(|b| json!({ "address": b.address, "voucherId": b.voucher_id }))
        .collect();
    json!({
        "id": c.id,
        "code": c.code,
        "status": c.status_at(now).as_str(),
        "format": c.format.as_str(),
        "payers": payers,
        "payeeId": c.payee_id,
        "closedReason": c.closed_reason.clone().or_else(|| {
            (c.status_at(now) != c.status).then(|| "expired".to_string())
        }),
        "expiresAt": time(c.expires_at),
        "createdAt": time(c.created_at),
        "updatedAt": time(c.updated_at),
    })
}

pub fn code(v: &CodeView, now: OffsetDateTime) -> Value {
    let expected = match (v.amount_minor, v.currency) {
        (Some(minor), Some(currency)) => {
            json!({ "currency": currency.code(), "amount": amount(minor, currency) })
        }
        _ => Value::Null,
    };
    let payments: Vec<Value> = match (&v.charge_id, v.amount_minor, v.currency) {
        (Some(charge_id), Some(minor), Some(currency)) => vec![json!({
            "id": charge_id, "voucherId": v.voucher_id,
            "currency": currency.code(), "amount": amount(minor, currency),
        })],
        _ => Vec::new(),
    };
    json!({
        "id": v.id,
        "code": v.code,
        "status": v.status_at(now).as_str(),
        "type": if expected.is_null() { Value::Null } else { json!("SIMPLE") },
        "contextId": v.context_id,
        "expectedPayment": expected,
        "suppliedPayment": null,
        "payments": payments,
        "networks": [],
        "extras": [],
        "expiresAt": time(v.expires_at),
        "createdAt": time(v.created_at),
        "updatedAt": time(v.updated_at),
    })
}

/// What resolve-voucher answers.
pub fn resolved(v: &CodeView) -> Value {
    json!({ "id": v.id, "status": CodeStatus::Resolved.as_str(), "chargeId": v.charge_id })
}

pub fn payer_voucher(v: &PayerVoucherView) -> Value {
    json!({
        "voucherId": v.voucher_id,
        "currency": v.currency.code(),
        "remainingAmount": amount(v.remaining_minor, v.currency),
        "availableAmount": amount(v.available_minor, v.currency),
        "status": if v.active { "active" } else { "inactive" },
        "validUntil": v.valid_until.map(time),
        "addedAt": time(v.added_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(
            time(datetime!(2026-03-01 12:00:05.123456 +01:00)),
            "2026-03-01T11:00:05.123Z"
        );
    }
}
