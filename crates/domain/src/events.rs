//! The ledger's events: one immutable record of every change of money or voucher state, written
//! in the transaction that makes the change. This module holds the catalogue of event types and
//! the shape every event shares: who caused it (face, actor, request), the subject's ids, amounts
//! in minor units and as decimal strings with their currency, and the voucher's balance and held
//! amount right after the change. An event never carries a voucher code or PIN: the code is
//! masked to its last four characters.
//!
//! The engine records the events of the commands it decides ([`crate::engine`]); the store
//! records those of the commands it runs itself (creation, import, series, submissions) with the
//! helpers here, and numbers them per tenant when it writes them.

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::bleepay::CodeStatus;
use crate::front::FrontStatus;
use crate::money::format_decimal;
use crate::{Currency, VoucherStatus};

/// Every event type, as the feed and webhooks name them.
pub const EVENT_TYPES: &[&str] = &[
    VOUCHER_CREATED,
    VOUCHER_STATUS_CHANGED,
    VOUCHER_DELETED,
    VOUCHER_RECHARGED,
    HOLD_PLACED,
    HOLD_RELEASED,
    HOLD_EXPIRED,
    CHARGE_CREATED,
    REFUND_CREATED,
    "front.reservation.sent",
    "front.reservation.reserved",
    "front.reservation.captured",
    "front.reservation.charged",
    "front.reservation.completed",
    "front.reservation.cancelled",
    "bleepay.code.reserved",
    "bleepay.code.redeemed",
    "bleepay.code.resolved",
    "bleepay.code.discarded",
    SERIES_COMPLETED,
    IMPORT_COMPLETED,
];

pub const VOUCHER_CREATED: &str = "voucher.created";
pub const VOUCHER_STATUS_CHANGED: &str = "voucher.status_changed";
pub const VOUCHER_DELETED: &str = "voucher.deleted";
pub const VOUCHER_RECHARGED: &str = "voucher.recharged";
pub const HOLD_PLACED: &str = "hold.placed";
pub const HOLD_RELEASED: &str = "hold.released";
pub const HOLD_EXPIRED: &str = "hold.expired";
pub const CHARGE_CREATED: &str = "charge.created";
pub const REFUND_CREATED: &str = "refund.created";
pub const SERIES_COMPLETED: &str = "series.completed";
pub const IMPORT_COMPLETED: &str = "import.completed";

/// The event type of a Front Payment reservation reaching `status` (`None` for `expired`,
/// which is read from the time, never written).
pub fn front_reservation_type(status: FrontStatus) -> Option<&'static str> {
    Some(match status {
        FrontStatus::Sent => "front.reservation.sent",
        FrontStatus::Reserved => "front.reservation.reserved",
        FrontStatus::Captured => "front.reservation.captured",
        FrontStatus::Charged => "front.reservation.charged",
        FrontStatus::Completed => "front.reservation.completed",
        FrontStatus::Cancelled => "front.reservation.cancelled",
        FrontStatus::Expired => return None,
    })
}

/// The event type of a bleepay voucher code reaching `status`.
pub fn bleepay_code_type(status: CodeStatus) -> &'static str {
    match status {
        CodeStatus::Reserved => "bleepay.code.reserved",
        CodeStatus::Redeemed => "bleepay.code.redeemed",
        CodeStatus::Resolved => "bleepay.code.resolved",
        CodeStatus::Discarded => "bleepay.code.discarded",
    }
}

/// Whether `pattern` names event types: an exact type, or a prefix ending in `.*`
/// (`front.reservation.*`).
pub fn is_type_pattern(pattern: &str) -> bool {
    match pattern.strip_suffix(".*") {
        Some(prefix) => EVENT_TYPES
            .iter()
            .any(|t| t.starts_with(prefix) && t.as_bytes().get(prefix.len()) == Some(&b'.')),
        None => EVENT_TYPES.contains(&pattern),
    }
}

/// The first of `patterns` that names no event type, if any.
pub fn unknown_type(patterns: &[String]) -> Option<&str> {
    patterns
        .iter()
        .map(String::as_str)
        .find(|p| !is_type_pattern(p))
}

/// One event, before the store gives it its place in the tenant's sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEvent {
    pub tenant_id: String,
    /// One of [`EVENT_TYPES`].
    pub kind: &'static str,
    pub at: OffsetDateTime,
    /// Through which face the change came: `jtl`, `front_payment`, `bleepay`, `console`,
    /// `admin` or `system`.
    pub face: &'static str,
    pub actor_kind: &'static str,
    pub actor_id: String,
    pub request_id: String,
    /// The voucher the event is about, if any.
    pub voucher_id: Option<String>,
    /// The subject's ids, amounts and the voucher's figures after the change: a JSON object,
    /// as text.
    pub data: String,
}

/// The face a change came through, from who made it: API clients speak JTL, merchants Front
/// Payment, payers and payees bleepay; operators act in the console (`console:<user>`) or
/// through the admin API and command line.
pub fn face_of(actor_kind: &str, actor_id: &str) -> &'static str {
    match actor_kind {
        "client" => "jtl",
        "merchant" => "front_payment",
        "payer" | "payee" => "bleepay",
        "admin" if actor_id.starts_with("console:") => "console",
        "admin" => "admin",
        _ => "system",
    }
}

/// An amount: minor units, the decimal string, and the currency.
pub fn money(amount_minor: i64, currency: Currency) -> Value {
    json!(Amount::of(amount_minor, currency))
}

/// [`money`]'s fields, serialised straight to text where an event's data is written.
#[derive(Debug, Serialize)]
pub struct Amount {
    minor: i64,
    amount: String,
    currency: &'static str,
}

impl Amount {
    pub fn of(amount_minor: i64, currency: Currency) -> Amount {
        let digits = currency.minor_unit_digits().unwrap_or(2);
        Amount {
            minor: amount_minor,
            amount: format_decimal(amount_minor, digits),
            currency: currency.as_str(),
        }
    }
}

/// A voucher code as events show it: its last four characters, the rest starred.
pub fn masked_code(code: &str) -> String {
    let shown_from = code.char_indices().rev().nth(3).map_or(0, |(at, _)| at);
    let mut masked = String::with_capacity(4 + code.len() - shown_from);
    masked.push_str("****");
    masked.push_str(&code[shown_from..]);
    masked
}

/// A time as events show it (RFC 3339, UTC).
pub fn timestamp(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A voucher's figures right after a change.
#[derive(Debug, Clone, Copy)]
pub struct VoucherAfter<'a> {
    pub id: &'a str,
    pub code: &'a str,
    pub status: VoucherStatus,
    pub currency: Currency,
    pub balance_minor: i64,
    pub held_minor: i64,
}

/// The `voucher` object of an event.
#[derive(Serialize)]
struct VoucherFields<'a> {
    id: &'a str,
    code: String,
    status: &'static str,
    balance: Amount,
    held: Amount,
}

impl<'a> From<&VoucherAfter<'a>> for VoucherFields<'a> {
    fn from(after: &VoucherAfter<'a>) -> Self {
        VoucherFields {
            id: after.id,
            code: masked_code(after.code),
            status: after.status.as_str(),
            balance: Amount::of(after.balance_minor, after.currency),
            held: Amount::of(after.held_minor, after.currency),
        }
    }
}

/// An event's own fields as JSON text: the members of the object `fields` serialises to,
/// without its braces (nothing for an empty object). The engine writes them as soon as a change
/// is made, typed where the change is frequent, and [`data`] adds the voucher's figures once
/// the command is done.
pub fn members(fields: &impl Serialize) -> String {
    // Text keys and plain values only: serde_json has nothing to refuse.
    let mut text = serde_json::to_string(fields).unwrap_or_default();
    if text.len() >= 2 && text.starts_with('{') && text.ends_with('}') {
        text.pop();
        text.remove(0);
        text
    } else {
        String::new()
    }
}

/// Builds an event's data as JSON text: its fields ([`members`]), then the voucher's figures
/// under `voucher` (which the fields must not name).
pub fn data(members: &str, voucher: Option<&VoucherAfter<'_>>) -> String {
    debug_assert!(
        !members.starts_with("\"voucher\":") && !members.contains(",\"voucher\":{\"id\""),
        "an event's fields name `voucher`"
    );
    let mut data = String::with_capacity(members.len() + 256);
    data.push('{');
    data.push_str(members);
    if let Some(voucher) = voucher {
        if !members.is_empty() {
            data.push(',');
        }
        data.push_str("\"voucher\":");
        data.push_str(&serde_json::to_string(&VoucherFields::from(voucher)).unwrap_or_default());
    }
    data.push('}');
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_masked_to_their_last_four_characters() {
        assert_eq!(masked_code("ABCD2345EFGH"), "****EFGH");
        assert_eq!(masked_code("AB"), "****AB");
        assert_eq!(masked_code("ÄÖÜßABC"), "****ßABC");
        assert_eq!(masked_code(""), "****");
    }

    #[test]
    fn amounts_carry_minor_units_a_decimal_string_and_the_currency() {
        let eur = Currency::parse("EUR").expect("EUR");
        assert_eq!(
            money(1750, eur),
            json!({ "minor": 1750, "amount": "17.50", "currency": "EUR" })
        );
        let jpy = Currency::parse("JPY").expect("JPY");
        assert_eq!(money(500, jpy)["amount"], "500");
    }

    #[test]
    fn an_event_s_data_is_its_fields_then_the_voucher_s_figures() {
        let eur = Currency::parse("EUR").expect("EUR");
        let after = VoucherAfter {
            id: "V-\"1\"\\\n",
            code: "ABCD2345EFGH",
            status: VoucherStatus::Active,
            currency: eur,
            balance_minor: 99_999_999,
            held_minor: -5,
        };
        let fields = members(&json!({ "hold": { "id": "H1", "amount": money(250, eur) } }));
        let text = data(&fields, Some(&after));
        assert!(text.starts_with("{\"hold\":"), "{text}");
        let parsed: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            parsed,
            json!({
                "hold": { "id": "H1", "amount": { "minor": 250, "amount": "2.50", "currency": "EUR" } },
                "voucher": {
                    "id": "V-\"1\"\\\n",
                    "code": "****EFGH",
                    "status": "active",
                    "balance": { "minor": 99_999_999, "amount": "999999.99", "currency": "EUR" },
                    "held": { "minor": -5, "amount": "-0.05", "currency": "EUR" },
                }
            })
        );
        let alone = data(&members(&json!({})), Some(&after));
        let parsed: Value = serde_json::from_str(&alone).expect("JSON");
        assert_eq!(parsed["voucher"]["code"], "****EFGH");
        assert_eq!(data("", None), "{}");
        assert_eq!(
            data(&members(&json!({ "reason": "expired" })), None),
            r#"{"reason":"expired"}"#
        );
    }

    #[test]
    fn type_patterns_name_known_types_or_their_families() {
        assert!(is_type_pattern("charge.created"));
        assert!(is_type_pattern("front.reservation.*"));
        assert!(is_type_pattern("hold.*"));
        assert!(!is_type_pattern("hold"));
        assert!(!is_type_pattern("front.res.*"));
        assert!(!is_type_pattern("charge.made"));
    }

    #[test]
    fn every_front_and_bleepay_status_has_its_type_in_the_catalogue() {
        for status in [
            FrontStatus::Sent,
            FrontStatus::Reserved,
            FrontStatus::Captured,
            FrontStatus::Charged,
            FrontStatus::Completed,
            FrontStatus::Cancelled,
        ] {
            let kind = front_reservation_type(status).expect("a type");
            assert!(EVENT_TYPES.contains(&kind), "{kind}");
        }
        for status in [
            CodeStatus::Reserved,
            CodeStatus::Redeemed,
            CodeStatus::Resolved,
            CodeStatus::Discarded,
        ] {
            assert!(EVENT_TYPES.contains(&bleepay_code_type(status)));
        }
    }
}
