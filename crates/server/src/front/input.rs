//! Front Payment request bodies → store commands. Each function checks every rule of its
//! body and answers either the command's fields or the full list of Laravel-style messages.

use serde_json::{Value, json};
use time::OffsetDateTime;
use voucherd_domain::front::{CHARGE_VALIDITY_DAYS_DEFAULT, CHARGE_VALIDITY_DAYS_MAX};
use voucherd_store::front::{FrontLineInput, LineAmount, NewFrontReservation, PostingSource};

use super::validate::{Checks, at};

/// VAT percentages Front Payment accepts.
const TAX_RATES: &[&str] = &["0", "12", "15", "25"];
/// The longest text field kept.
const TEXT_CHARS_MAX: usize = 1_000;

type Checked<T> = Result<T, Vec<String>>;

fn finish<T>(checks: Checks, value: Option<T>) -> Checked<T> {
    match value {
        Some(value) if checks.is_clean() => Ok(value),
        _ => Err(checks.errors),
    }
}

/// The body as a JSON object; anything else fails every rule at once.
pub fn object(bytes: &[u8]) -> Checked<Value> {
    let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(bytes)
            .map_err(|_| vec!["The request body must be a valid JSON object.".to_string()])?
    };
    if body.is_object() {
        Ok(body)
    } else {
        Err(vec!["The request body must be a valid JSON object.".into()])
    }
}

/// A tax rate as its canonical text (`"25"`, from `25`, `"25"` or `25.0`).
fn tax(checks: &mut Checks, body: &Value, path: &str) -> Option<String> {
    let minor = checks.money(body, path)?;
    let text = if minor % 100 == 0 {
        (minor / 100).to_string()
    } else {
        format!("{}.{:02}", minor / 100, minor % 100)
    };
    if TAX_RATES.contains(&text.as_str()) {
        Some(text)
    } else {
        checks.check(false, path, "must be one of 0, 12, 15, 25.");
        None
    }
}

/// Product lines with `name`, `productId`, `rate`, `tax`, `amount`.
fn product_lines(checks: &mut Checks, body: &Value) -> Vec<FrontLineInput> {
    let items = checks.list(body, "products");
    let mut lines = Vec::new();
    for (path, _) in &items {
        let name = checks.string(body, &format!("{path}.name"));
        let product_id = checks.optional_string(body, &format!("{path}.productId"));
        let rate = checks.money(body, &format!("{path}.rate"));
        let tax = tax(checks, body, &format!("{path}.tax"));
        let amount = checks.money(body, &format!("{path}.amount"));
        if let Some(name) = &name {
            checks.check(
                name.chars().count() <= TEXT_CHARS_MAX,
                &format!("{path}.name"),
                "must not be greater than 1000 characters.",
            );
        }
        if let (Some(name), Some(rate_minor), Some(tax), Some(amount_minor)) =
            (name, rate, tax, amount)
        {
            lines.push(FrontLineInput {
                name,
                product_id,
                rate_minor,
                tax,
                amount_minor,
            });
        }
    }
    lines
}

/// `products.*.id` + `products.*.amount` (capture and refund).
fn line_amounts(checks: &mut Checks, body: &Value) -> Vec<LineAmount> {
    let items = checks.list(body, "products");
    let mut lines = Vec::new();
    for (path, _) in &items {
        let id = checks.integer(body, &format!("{path}.id"));
        let amount = checks.money(body, &format!("{path}.amount"));
        if let (Some(line_id), Some(amount_minor)) = (id, amount) {
            lines.push(LineAmount {
                line_id,
                amount_minor,
            });
        }
    }
    lines
}

/// `grandTotal` must be positive and equal the sum of the lines.
fn grand_total(checks: &mut Checks, body: &Value, path: &str, sum: Option<i64>) -> Option<i64> {
    let total = checks.money(body, path)?;
    checks.check(total > 0, path, "must be greater than 0.");
    if let Some(sum) = sum {
        checks.check(
            total == sum,
            path,
            "must equal the sum of the products' amounts.",
        );
    }
    Some(total)
}

/// A Unix-seconds time sent as a number or a digit string.
fn unix_seconds(checks: &mut Checks, body: &Value, path: &str) -> Option<OffsetDateTime> {
    let value = checks.required(body, path)?;
    let seconds = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let at = seconds.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok());
    if at.is_none() {
        checks.check(false, path, "must be a Unix timestamp in seconds.");
    }
    at
}

/// Whether the reservation is a checkout session (`create`) rather than a sent link.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Submit,
    Session,
}

fn url(checks: &mut Checks, body: &Value, path: &str) -> Option<String> {
    let value = checks.optional_string(body, path)?;
    let ok = (value.starts_with("http://") || value.starts_with("https://"))
        && value.len() <= 2_000
        && !value.chars().any(char::is_whitespace);
    checks.check(ok, path, "must be a valid URL.");
    ok.then_some(value)
}

/// Submit or create-session body → a new reservation.
pub fn reservation(body: &Value, flow: Flow, now: OffsetDateTime) -> Checked<NewFrontReservation> {
    let mut c = Checks::default();
    let customer_given = c.object(body, "customerDetails");
    let mut email = None;
    let mut phone = None;
    if customer_given {
        let kind = c.one_of(body, "customerDetails.type", &["private", "corporate"]);
        let country_code = c.string(body, "customerDetails.countryCode");
        let msisdn = c.string(body, "customerDetails.msisdn");
        email = c.email(body, "customerDetails.email");
        c.string(body, "customerDetails.name");
        c.string(body, "customerDetails.preferredLanguage");
        if let Some(number) = c.optional_string(body, "customerDetails.personalNumber") {
            c.check(
                number.len() == 11 && number.bytes().all(|b| b.is_ascii_digit()),
                "customerDetails.personalNumber",
                "must be 11 digits.",
            );
        }
        if kind.as_deref() == Some("corporate") {
            match c.optional_string(body, "customerDetails.organizationId") {
                Some(org) => c.check(
                    org.bytes().all(|b| b.is_ascii_alphanumeric()),
                    "customerDetails.organizationId",
                    "format is invalid.",
                ),
                None => c.check(
                    false,
                    "customerDetails.organizationId",
                    "field is required when customer details.type is corporate.",
                ),
            }
        }
        if c.object(body, "customerDetails.address") {
            c.string(body, "customerDetails.address.street");
            c.string(body, "customerDetails.address.zip");
            c.string(body, "customerDetails.address.city");
            if let Some(country) = c.string(body, "customerDetails.address.country") {
                c.check(
                    country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphabetic()),
                    "customerDetails.address.country",
                    "must be 2 characters.",
                );
            }
        }
        phone = country_code.zip(msisdn).map(|(cc, n)| format!("{cc}{n}"));
    }
    let customer_id = c
        .optional_string(body, "customerDetails.uuid")
        .or_else(|| c.optional_string(body, "customerDetails.customerUuid"));
    c.string(body, "orderDate");
    let due_at = unix_seconds(&mut c, body, "dueDateForPaymentLink");
    if let Some(due) = due_at {
        c.check(
            due > now,
            "dueDateForPaymentLink",
            "must be a date after now.",
        );
    }
    c.optional_string(body, "referenceNo");
    c.optional_string(body, "customerReference");
    c.optional_string(body, "customerNotes");
    c.optional_string(body, "tnc");
    let sms = c.boolean(body, "sendOrderBy.sms");
    let by_email = c.boolean(body, "sendOrderBy.email");
    let lines = product_lines(&mut c, body);
    let sum = lines.iter().map(|l| l.amount_minor).sum::<i64>();
    c.money(body, "orderSummary.subTotal");
    c.money(body, "orderSummary.totalTax");
    let grand = grand_total(&mut c, body, "orderSummary.grandTotal", Some(sum));
    let charge_validity_days = match at(body, "chargeValidity").filter(|v| !v.is_null()) {
        None => Some(CHARGE_VALIDITY_DAYS_DEFAULT),
        Some(value) => {
            let days = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
                _ => None,
            }
            .filter(|d| (1..=CHARGE_VALIDITY_DAYS_MAX).contains(d));
            c.check(
                days.is_some(),
                "chargeValidity",
                "must be a number of days between 1 and 3650.",
            );
            days
        }
    };
    let charge_limit_minor = c.optional_money(body, "chargeLimit");
    let partially_refundable = match at(body, "settings.isChargePartiallyRefundable") {
        None | Some(Value::Null) => Some(true),
        Some(_) => c.boolean(body, "settings.isChargePartiallyRefundable"),
    };
    let callback_url = url(&mut c, body, "callback.callbackUrl");
    let (success_url, failure_url) = match flow {
        Flow::Session => {
            c.optional_string(body, "submitPayment.via");
            (
                url(&mut c, body, "callback.success"),
                url(&mut c, body, "callback.failure"),
            )
        }
        Flow::Submit => (None, None),
    };
    let sent_to = match (sms, by_email) {
        (Some(true), _) if phone.is_some() => phone,
        (_, Some(true)) => email,
        _ => None,
    };
    let value = (|| {
        Some(NewFrontReservation {
            customer_id,
            details: body.clone(),
            due_at: due_at?,
            charge_limit_minor,
            charge_validity_days: charge_validity_days?,
            charge_partially_refundable: partially_refundable?,
            lines,
            grand_total_minor: grand?,
            callback_url,
            success_url,
            failure_url,
            sent_to,
        })
    })();
    finish(c, value)
}

/// Capture body → the lines and the note.
pub fn capture(body: &Value) -> Checked<(Vec<LineAmount>, Option<String>)> {
    let mut c = Checks::default();
    let lines = line_amounts(&mut c, body);
    let sum = lines.iter().map(|l| l.amount_minor).sum();
    let total = grand_total(&mut c, body, "grandTotal", Some(sum));
    let note = c.optional_string(body, "additionalText");
    finish(c, total.map(|_| (lines, note)))
}

/// Charge body → the new lines and the note.
pub fn charge(body: &Value) -> Checked<(Vec<FrontLineInput>, Option<String>)> {
    let mut c = Checks::default();
    let lines = product_lines(&mut c, body);
    let sum = lines.iter().map(|l| l.amount_minor).sum();
    let total = grand_total(&mut c, body, "grandTotal", Some(sum));
    let note = c.optional_string(body, "additionalText");
    finish(c, total.map(|_| (lines, note)))
}

/// Cancel and complete body → the required note.
pub fn note(body: &Value) -> Checked<String> {
    let mut c = Checks::default();
    let note = c.string(body, "note");
    finish(c, note)
}

/// Resend body → where the link is said to go (phone or e-mail).
pub fn resend(body: &Value) -> Checked<Option<String>> {
    let mut c = Checks::default();
    let country_code = c.optional_string(body, "countryCode");
    let msisdn = c.optional_string(body, "msisdn");
    let email = match c.optional_string(body, "email") {
        Some(_) => c.email(body, "email"),
        None => None,
    };
    if country_code.is_some() != msisdn.is_some() {
        let missing = if country_code.is_none() {
            "countryCode"
        } else {
            "msisdn"
        };
        c.check(false, missing, "field is required for sms.");
    }
    let phone = country_code.zip(msisdn).map(|(cc, n)| format!("{cc}{n}"));
    if phone.is_none() && email.is_none() && c.is_clean() {
        c.check(
            false,
            "email",
            "field is required when msisdn is not present.",
        );
    }
    finish(c, Some(phone.or(email)))
}

/// Refund body → source, reference and lines.
pub fn refund(body: &Value) -> Checked<(PostingSource, String, Vec<LineAmount>)> {
    let mut c = Checks::default();
    let kind = c.one_of(body, "type", &["regular", "invoiced", "reservation"]);
    if kind.as_deref().is_some_and(|k| k != "reservation") {
        c.check(
            false,
            "type",
            "must be reservation for reservation refunds.",
        );
    }
    let source = c
        .one_of(body, "source", &["captured", "charged"])
        .and_then(|s| PostingSource::parse(&s));
    let reference = c.string(body, "reference");
    let lines = line_amounts(&mut c, body);
    let sum = lines.iter().map(|l| l.amount_minor).sum();
    let total = grand_total(&mut c, body, "grandTotal", Some(sum));
    let value = (|| {
        Some((source?, reference?, {
            total?;
            lines
        }))
    })();
    finish(c, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-10 12:00 UTC);

    fn submit_body() -> Value {
        json!({
            "customerDetails": {
                "type": "private", "countryCode": "+47", "msisdn": "46567468",
                "email": "kari@example.no", "name": "Kari Nordmann", "preferredLanguage": "en",
                "address": { "street": "Gate 1", "zip": "0150", "city": "Oslo", "country": "NO" }
            },
            "orderDate": "1768046400",
            "dueDateForPaymentLink": "1768132800",
            "sendOrderBy": { "sms": false, "email": true },
            "products": { "0": { "name": "Room", "productId": null, "rate": 4500, "tax": "12", "amount": 4500 },
                          "1": { "name": "Breakfast", "rate": "150.50", "tax": 15, "amount": "150.50" } },
            "orderSummary": { "subTotal": "4148.73", "totalTax": "501.77", "grandTotal": 4650.5 },
            "chargeValidity": "30",
            "callback": { "callbackUrl": "http://127.0.0.1:9/cb" }
        })
    }

    #[test]
    fn a_documented_submit_body_becomes_a_reservation() {
        let r = reservation(&submit_body(), Flow::Submit, NOW).expect("valid");
        assert_eq!(r.grand_total_minor, 465_050);
        assert_eq!(r.lines.len(), 2);
        assert_eq!(r.lines[1].tax, "15");
        assert_eq!(r.charge_validity_days, 30);
        assert_eq!(r.sent_to.as_deref(), Some("kari@example.no"));
        assert_eq!(r.callback_url.as_deref(), Some("http://127.0.0.1:9/cb"));
    }

    #[test]
    fn submit_failures_name_each_field() {
        let mut body = submit_body();
        body["products"]["0"]["rate"] = Value::Null;
        body["products"]["1"]["tax"] = json!(7);
        body["orderSummary"]["grandTotal"] = json!(1);
        body["customerDetails"]["email"] = json!("kari");
        let errors = reservation(&body, Flow::Submit, NOW).expect_err("invalid");
        assert_eq!(
            errors,
            vec![
                "The customer details.email must be a valid email address.",
                "The products.0.rate field is required.",
                "The products.1.tax must be one of 0, 12, 15, 25.",
                "The order summary.grand total must equal the sum of the products' amounts.",
            ]
        );
    }

    #[test]
    fn refunds_need_reservation_type_source_and_reference() {
        let errors = refund(
            &json!({ "type": "regular", "grandTotal": 1, "products": [{"id": 1, "amount": 1}] }),
        )
        .expect_err("invalid");
        assert_eq!(
            errors,
            vec![
                "The type must be reservation for reservation refunds.",
                "The source field is required.",
                "The reference field is required.",
            ]
        );
        let (source, reference, lines) = refund(&json!({
            "type": "reservation", "source": "charged", "reference": "CHA1", "grandTotal": "2.5",
            "products": [{"id": "9", "amount": 2.5}]
        }))
        .expect("valid");
        assert_eq!(
            (source, reference.as_str()),
            (PostingSource::Charged, "CHA1")
        );
        assert_eq!(
            lines,
            vec![LineAmount {
                line_id: 9,
                amount_minor: 250
            }]
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        assert!(object(b"[1]").is_err());
        assert!(object(b"{").is_err());
        assert_eq!(object(b"").expect("empty is {}"), json!({}));
    }
}
