//! Front Payment's shapes of reservations, lines and history: amounts as JSON numbers in
//! major units (made from the exact decimal text, never computed in floating point), times as
//! Unix seconds or, in the history, `dd.mm.yyyy HH:MM` (UTC).

use serde_json::{Number, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use voucherd_domain::money::format_two_decimals;
use voucherd_store::front::{FrontEventView, FrontReservationView, PostingSource};

/// Minor units as a JSON number in major units: `450000` → `4500`, `401786` → `4017.86`.
pub fn amount(minor: i64) -> Value {
    if minor % 100 == 0 {
        return Value::from(minor / 100);
    }
    // The number is kept as written (JSON numbers keep their literal text here), so the
    // fraction loses its trailing zero as a float's would: `45.5`, not `45.50`.
    format_two_decimals(minor)
        .trim_end_matches('0')
        .parse::<Number>()
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

/// `21.01.2024 03:49`, as Front Payment's history prints times.
pub fn history_time(at: OffsetDateTime) -> String {
    let format = format_description!("[day].[month].[year] [hour]:[minute]");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

fn detail<'a>(r: &'a FrontReservationView, pointer: &str) -> &'a Value {
    r.details.pointer(pointer).unwrap_or(&Value::Null)
}

/// The `data` of Get Reservation Details.
pub fn reservation(r: &FrontReservationView, merchant_name: &str, payment_url: &str) -> Value {
    let reserved_lines: Vec<Value> = r
        .lines
        .iter()
        .filter(|l| l.charge_id.is_none())
        .map(|l| {
            json!({
                "id": l.id, "name": l.name, "productId": l.product_id, "quantity": 1,
                "rate": amount(l.rate_minor), "discount": 0,
                "tax": l.tax.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(l.tax.clone())),
                "amount": amount(l.amount_minor), "reserved": amount(l.amount_minor),
                "captured": amount(l.captured_minor),
            })
        })
        .collect();
    let postings = |source: PostingSource| -> Vec<Value> {
        r.postings
            .iter()
            .filter(|p| p.source == source)
            .map(|p| {
                json!({
                    "at": unix(p.created_at), "amount": amount(p.amount_minor), "reference": p.id,
                    "isRefunded": p.refunded_minor > 0,
                    "refundedAmount": amount(p.refunded_minor),
                    "refundedAt": p.refunded_at.map(unix),
                })
            })
            .collect()
    };
    let reserved: Vec<Value> = r
        .reserved_at
        .map(|at| json!({ "at": unix(at), "amount": amount(r.grand_total_minor) }))
        .into_iter()
        .collect();
    let charged_lines: Vec<Value> = r
        .lines
        .iter()
        .filter(|l| l.charge_id.is_some())
        .map(|l| {
            json!({
                "id": l.id, "chargeUuid": l.charge_id, "name": l.name, "productId": l.product_id,
                "rate": amount(l.rate_minor), "tax": l.tax, "amount": amount(l.amount_minor),
            })
        })
        .collect();
    json!({
        "reservationUuid": r.id,
        "customerUuid": r.customer_id,
        "status": r.status.wire(),
        "isPaid": r.captured_minor + r.charged_minor > 0,
        "grandTotal": amount(r.grand_total_minor),
        "reservationDate": unix(r.created_at),
        "paymentLinkDueDate": unix(r.due_at),
        "paymentUrl": payment_url,
        "sendOrderBy": detail(r, "/sendOrderBy"),
        "customerDetails": {
            "countryCode": detail(r, "/customerDetails/countryCode"),
            "msisdn": detail(r, "/customerDetails/msisdn"),
            "email": detail(r, "/customerDetails/email"),
            "name": detail(r, "/customerDetails/name"),
            "address": detail(r, "/customerDetails/address"),
        },
        "referenceNumber": detail(r, "/referenceNo"),
        "chargeValidity": r.charge_validity_days,
        "chargeLimit": amount(r.charge_limit_minor),
        "customerReference": detail(r, "/customerReference"),
        "customerNotes": detail(r, "/customerNotes"),
        "termsAndCondition": detail(r, "/tnc"),
        "translationKey": r.status.as_str(),
        "productList": reserved_lines,
        "chargedProductList": charged_lines,
        "paymentDetails": {
            "paymentMethod": "voucher",
            "voucherId": r.voucher_id,
            "currency": r.currency.map(|c| c.code()),
            "reservedAt": r.reserved_at.map(unix),
            "reservedAmount": amount(if r.reserved_at.is_some() { r.grand_total_minor } else { 0 }),
            "heldAmount": amount(r.held_minor),
            "capturedAmount": amount(r.captured_minor),
            "chargedAmount": amount(r.charged_minor),
            "amountRefunded": {
                "fromCaptured": amount(r.refunded_captured_minor),
                "fromCharge": amount(r.refunded_charged_minor),
            },
            "vouchers": r.vouchers.iter().map(|v| json!({
                "voucherId": v.voucher_id,
                "heldAmount": amount(v.held_minor),
                "capturedAmount": amount(v.captured_minor),
                "chargedAmount": amount(v.charged_minor),
                "refundedAmount": amount(v.refunded_minor),
            })).collect::<Vec<_>>(),
        },
        "organizationDetails": { "name": merchant_name, "billingAddress": null },
        "paymentHistory": {
            "reserved": reserved,
            "captured": postings(PostingSource::Captured),
            "charged": postings(PostingSource::Charged),
        },
    })
}

/// One event of Reservation History.
pub fn event(e: &FrontEventView) -> Value {
    json!({
        "uuid": e.uuid,
        "reservationUuid": e.reservation_id,
        "title": e.title,
        "datetime": history_time(e.at),
        "timestamp": unix(e.at),
        "sentTo": e.sent_to,
        "actionBy": e.action_by,
        "note": e.note,
        "paymentMethod": "Voucher",
        "isRefundable": e.is_refundable,
        "amount": e.amount_minor.map(format_two_decimals),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn amounts_are_exact_major_unit_numbers() {
        assert_eq!(amount(450_000).to_string(), "4500");
        assert_eq!(amount(401_786).to_string(), "4017.86");
        assert_eq!(amount(5).to_string(), "0.05");
        assert_eq!(amount(99_999_999).to_string(), "999999.99");
        assert_eq!(amount(4_550).to_string(), "45.5");
    }

    #[test]
    fn history_times_are_day_month_year() {
        assert_eq!(
            history_time(datetime!(2024-01-21 03:49:59 UTC)),
            "21.01.2024 03:49"
        );
    }
}
