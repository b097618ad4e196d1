//! Reading bleepay request bodies and list parameters. Each reader answers the typed values
//! or every problem at once, as `(field, problem)` pairs for `validation_failed`.

use std::collections::HashMap;

use serde_json::Value;
use time::OffsetDateTime;
use voucherd_domain::Currency;
use voucherd_domain::bleepay::{self as rules, CodeFormat, CodeStatus};
use voucherd_store::bleepay::{ContextAddress, ListWindow, PayerKind};

/// Problems found in a request, as `(field, problem)`.
pub type Problems = Vec<(String, String)>;

/// The most items a list answers, and its default (bleepay's `limit` default is 100).
const LIST_LIMIT_MAX: i64 = 100;

#[derive(Default)]
struct Checks {
    problems: Problems,
}

impl Checks {
    fn fail(&mut self, field: &str, problem: &str) {
        self.problems.push((field.to_string(), problem.to_string()));
    }

    /// A required string of `min..=max` characters.
    fn text(&mut self, body: &Value, field: &str, min: usize, max: usize) -> Option<String> {
        match lookup(body, field) {
            None | Some(Value::Null) => {
                self.fail(field, "is required");
                None
            }
            Some(Value::String(s)) => self.length(field, s, min, max),
            Some(_) => {
                self.fail(field, "must be a string");
                None
            }
        }
    }

    /// An optional string of `min..=max` characters (`null` counts as absent).
    fn optional_text(
        &mut self,
        body: &Value,
        field: &str,
        min: usize,
        max: usize,
    ) -> Option<String> {
        match lookup(body, field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => self.length(field, s, min, max),
            Some(_) => {
                self.fail(field, "must be a string");
                None
            }
        }
    }

    fn length(&mut self, field: &str, s: &str, min: usize, max: usize) -> Option<String> {
        let chars = s.chars().count();
        if chars < min || chars > max {
            self.fail(
                field,
                &format!("must be between {min} and {max} characters long"),
            );
            return None;
        }
        Some(s.to_string())
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, Problems> {
        match value {
            Some(value) if self.problems.is_empty() => Ok(value),
            _ => Err(self.problems),
        }
    }
}

/// `a.b` inside a JSON object.
fn lookup<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(body, |value, key| value.get(key))
}

/// The body as a JSON object (an empty body reads as `{}`).
pub fn object(bytes: &[u8]) -> Result<Value, Problems> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(vec![("body".into(), "must be a JSON object".into())]),
        Err(_) => Err(vec![("body".into(), "is not valid JSON".into())]),
    }
}

/// How someone signs in.
pub enum SignIn {
    Payer {
        kind: PayerKind,
        identifier: String,
        password: String,
    },
    /// A payee with `voucher::context::code::<CODE>`.
    Resource { context_code: String },
}

const RESOURCE_PREFIX: &str = "voucher::context::code::";

/// The credentials of a payer account (`email-password` or `mobile-device`).
fn payer_credentials(c: &mut Checks, body: &Value, kind: PayerKind) -> Option<SignIn> {
    let (identifier, password) = match kind {
        PayerKind::EmailPassword => {
            let email = c.text(body, "data.email", 3, 128);
            if let Some(email) = &email {
                let (local, domain) = email.split_once('@').unwrap_or_default();
                if local.is_empty() || domain.is_empty() || email.chars().any(char::is_whitespace) {
                    c.fail("data.email", "must be an e-mail address");
                }
            }
            (
                email.map(|e| e.to_lowercase()),
                c.text(body, "data.password", 8, 256),
            )
        }
        PayerKind::MobileDevice => (
            c.text(body, "data.installationId", 32, 128),
            c.text(body, "data.password", 32, 256),
        ),
    };
    Some(SignIn::Payer {
        kind,
        identifier: identifier?,
        password: password?,
    })
}

fn sign_in_kind(c: &mut Checks, body: &Value, resource_allowed: bool) -> Option<String> {
    let kind = c.text(body, "type", 1, 32)?;
    let allowed: &[&str] = if resource_allowed {
        &["email-password", "mobile-device", "resource"]
    } else {
        &["email-password", "mobile-device"]
    };
    if !allowed.contains(&kind.as_str()) {
        c.fail("type", &format!("must be one of {}", allowed.join(", ")));
        return None;
    }
    Some(kind)
}

pub fn sign_up(body: &Value) -> Result<SignIn, Problems> {
    let mut c = Checks::default();
    let value = sign_in_kind(&mut c, body, false)
        .and_then(|kind| PayerKind::parse(&kind))
        .and_then(|kind| payer_credentials(&mut c, body, kind));
    c.finish(value)
}

pub fn sign_in(body: &Value) -> Result<SignIn, Problems> {
    let mut c = Checks::default();
    let value = match sign_in_kind(&mut c, body, true).as_deref() {
        Some("resource") => {
            c.text(body, "data.resource", 4, 128).and_then(|resource| {
                match resource.strip_prefix(RESOURCE_PREFIX) {
                    Some(code) if !code.is_empty() => Some(SignIn::Resource {
                        context_code: code.to_string(),
                    }),
                    _ => {
                        c.fail(
                            "data.resource",
                            "must be voucher::context::code::<context code>",
                        );
                        None
                    }
                }
            })
        }
        Some(kind) => PayerKind::parse(kind).and_then(|kind| payer_credentials(&mut c, body, kind)),
        None => None,
    };
    c.finish(value)
}

/// Adding a voucher to a payer account: its code and PIN.
pub fn add_voucher(body: &Value) -> Result<(String, Option<String>), Problems> {
    let mut c = Checks::default();
    let code = c.text(body, "code", 1, 255);
    let pin = c.optional_text(body, "pin", 1, 255);
    c.finish(code.map(|code| (code, pin)))
}

pub fn open_context(body: &Value) -> Result<(CodeFormat, Vec<ContextAddress>), Problems> {
    let mut c = Checks::default();
    let format = c.text(body, "format", 1, 16).and_then(|f| {
        let parsed = CodeFormat::parse(&f);
        if parsed.is_none() {
            c.fail("format", "must be one of numeric, alphanum");
        }
        parsed
    });
    let mut addresses = Vec::new();
    match body.get("payers") {
        Some(Value::Array(items))
            if !items.is_empty() && items.len() <= rules::CONTEXT_VOUCHERS_MAX =>
        {
            for (i, item) in items.iter().enumerate() {
                let code = c.text(item, "address", 1, 255);
                let pin = c.optional_text(item, "pin", 1, 255);
                if let Some(code) = code {
                    if addresses.iter().any(|a: &ContextAddress| a.code == code) {
                        c.fail(&format!("payers.{i}.address"), "is named twice");
                    }
                    addresses.push(ContextAddress { code, pin });
                }
            }
        }
        None | Some(Value::Null) => c.fail("payers", "is required"),
        Some(_) => c.fail(
            "payers",
            &format!(
                "must be an array of 1 to {} {{address}} objects",
                rules::CONTEXT_VOUCHERS_MAX
            ),
        ),
    }
    c.finish(format.map(|format| (format, addresses)))
}

/// `payeeId` is a required key whose value may be null.
pub fn close_context(body: &Value) -> Result<Option<String>, Problems> {
    let mut c = Checks::default();
    if body.get("payeeId").is_none() {
        c.fail("payeeId", "is required (null when no payee took part)");
    }
    let payee = c.optional_text(body, "payeeId", 1, 64);
    c.finish(Some(payee))
}

pub fn reserve(body: &Value) -> Result<String, Problems> {
    let mut c = Checks::default();
    let code = c.text(body, "code", 1, 64);
    c.finish(code)
}

/// A SIMPLE `expectedPayment` in a fiat currency: its currency and amount in minor units.
/// `network`, `currencyAddress` and `wallet` are accepted and ignored.
pub fn redeem(body: &Value) -> Result<(i64, Currency), Problems> {
    let mut c = Checks::default();
    for custom in ["networks", "payments", "extras"] {
        if body.get(custom).is_some_and(|v| !v.is_null()) {
            c.fail(
                custom,
                "is not supported: only SIMPLE vouchers (expectedPayment) are",
            );
        }
    }
    if !body.get("expectedPayment").is_some_and(Value::is_object) {
        c.fail("expectedPayment", "is required");
        return c.finish(None);
    }
    let currency = c
        .text(body, "expectedPayment.currency", 3, 3)
        .and_then(|code| match Currency::parse(&code) {
            Ok(currency) if currency.minor_unit_digits().is_some() => Some(currency),
            _ => {
                c.fail(
                    "expectedPayment.currency",
                    "must be an ISO 4217 currency code",
                );
                None
            }
        });
    let text = match lookup(body, "expectedPayment.amount") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        None | Some(Value::Null) => {
            c.fail("expectedPayment.amount", "is required");
            None
        }
        Some(_) => {
            c.fail("expectedPayment.amount", "must be a decimal string");
            None
        }
    };
    let amount = match (text, currency) {
        (Some(text), Some(currency)) => {
            let digits = currency.minor_unit_digits().unwrap_or(2);
            match rules::parse_amount(&text, digits) {
                Some(minor) if minor > 0 && minor <= voucherd_domain::BALANCE_MINOR_MAX => {
                    Some(minor)
                }
                _ => {
                    c.fail(
                        "expectedPayment.amount",
                        &format!(
                            "must be a positive decimal string with at most {digits} decimals"
                        ),
                    );
                    None
                }
            }
        }
        _ => None,
    };
    c.finish(amount.zip(currency))
}

/// `receipts` is optional here (voucherd is the ledger); when sent it must be 1–5
/// `{paymentId}` objects.
pub fn resolve(body: &Value) -> Result<(), Problems> {
    let mut c = Checks::default();
    match body.get("receipts") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if (1..=5).contains(&items.len()) => {
            for item in items {
                c.text(item, "paymentId", 1, 128);
            }
        }
        Some(_) => c.fail("receipts", "must be an array of 1 to 5 {paymentId} objects"),
    }
    c.finish(Some(()))
}

/// `limit`, `offset`, `since`, `until` (Unix milliseconds) and, for vouchers, `status`.
pub fn window(
    query: &HashMap<String, String>,
    with_status: bool,
) -> Result<(ListWindow, Option<CodeStatus>), Problems> {
    let mut c = Checks::default();
    let mut number = |name: &str, min: i64, max: i64| -> Option<i64> {
        let text = query.get(name)?;
        match text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                c.fail(name, &format!("must be an integer from {min} to {max}"));
                None
            }
        }
    };
    let limit = number("limit", 1, LIST_LIMIT_MAX).unwrap_or(LIST_LIMIT_MAX);
    let offset = number("offset", 0, 1_000_000).unwrap_or(0);
    let since = number("since", 0, 253_402_300_799_999);
    let until = number("until", 0, 253_402_300_799_999);
    let at = |ms: i64| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok();
    let status = match query.get("status") {
        Some(text) if with_status => {
            let parsed = CodeStatus::parse(text);
            if parsed.is_none() {
                c.fail(
                    "status",
                    "must be one of RESERVED, REDEEMED, RESOLVED, DISCARDED",
                );
            }
            parsed
        }
        _ => None,
    };
    let window = ListWindow {
        limit,
        offset,
        since: since.and_then(at),
        until: until.and_then(at),
    };
    c.finish(Some((window, status)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sign_in_reads_each_type() {
        let resource = sign_in(&json!({ "type": "resource",
            "data": { "resource": "voucher::context::code::A1B2C3" } }));
        assert!(
            matches!(resource, Ok(SignIn::Resource { context_code }) if context_code == "A1B2C3")
        );
        let email = sign_in(&json!({ "type": "email-password",
            "data": { "email": "Kari@Example.NO", "password": "secret-pass" } }));
        assert!(
            matches!(email, Ok(SignIn::Payer { identifier, .. }) if identifier == "kari@example.no")
        );
        let problems = sign_in(&json!({ "type": "mobile-device",
            "data": { "installationId": "short", "password": "short" } }))
        .err()
        .expect("invalid");
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["data.installationId", "data.password"]);
        assert!(sign_up(&json!({ "type": "resource", "data": {} })).is_err());
    }

    #[test]
    fn redeem_takes_simple_fiat_payments_only() {
        let ok = redeem(
            &json!({ "expectedPayment": { "currency": "EUR", "amount": "12.5",
            "network": "polygon" } }),
        );
        assert_eq!(
            ok.map(|(minor, c)| (minor, c.code())),
            Ok((1_250, "EUR".to_string()))
        );
        for bad in [
            json!({ "expectedPayment": { "currency": "EUR", "amount": "1.234" } }),
            json!({ "expectedPayment": { "currency": "EUR", "amount": "0" } }),
            json!({ "expectedPayment": { "currency": "XXX1", "amount": "1" } }),
            json!({ "expectedPayment": { "currency": "EUR" } }),
            json!({ "networks": [], "expectedPayment": { "currency": "EUR", "amount": "1" } }),
            json!({}),
            // Read from its literal text, not rounded to 0.10 through a float.
            serde_json::from_str(
                r#"{ "expectedPayment": { "currency": "EUR", "amount": 0.1000000000000000000001 } }"#,
            )
            .expect("json"),
        ] {
            assert!(redeem(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contexts_bind_one_to_ten_distinct_vouchers() {
        let ok = open_context(&json!({ "format": "numeric",
            "payers": [{ "address": "GIFT-1", "pin": "1234" }, { "address": "GIFT-2" }] }));
        assert_eq!(ok.map(|(_, a)| a.len()), Ok(2));
        assert!(open_context(&json!({ "format": "numeric", "payers": [] })).is_err());
        assert!(open_context(&json!({ "format": "hex", "payers": [{ "address": "A" }] })).is_err());
        assert!(
            open_context(&json!({ "format": "numeric",
                "payers": [{ "address": "A" }, { "address": "A" }] }))
            .is_err()
        );
        assert!(close_context(&json!({})).is_err());
        assert_eq!(close_context(&json!({ "payeeId": null })), Ok(None));
    }
}
