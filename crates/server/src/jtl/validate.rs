//! Laravel-style validation of JTL request bodies: each field is checked rule by rule and the
//! first failing rule is reported (`errors[]` names every failing field at once), with the
//! stock Laravel messages the JTL API answers with.

use serde_json::{Map, Value};
use voucherd_domain::Currency;

use super::error::{FieldError, JtlError, field_error};
use crate::wire::{parse_datetime, parse_money};

/// Collects the failures of one request body.
pub struct Validator<'a> {
    action: &'static str,
    body: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

/// The smallest amount a field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountMin {
    /// `min:0` (create).
    Zero,
    /// `min:0.01` (reserve, recharge, refund).
    OneCent,
}

impl<'a> Validator<'a> {
    pub fn new(action: &'static str, body: &'a Map<String, Value>) -> Self {
        Validator {
            action,
            body,
            errors: Vec::new(),
        }
    }

    fn fail(&mut self, property: &str, rule: &str, params: &str, message: String) {
        self.errors
            .push(field_error(self.action, property, rule, params, message));
    }

    /// Present and not null.
    fn present(&self, field: &str) -> Option<&'a Value> {
        self.body.get(field).filter(|v| !v.is_null())
    }

    /// Records a failure for `property` unless the field is present.
    pub fn require(&mut self, field: &str, property: &str) -> Option<&'a Value> {
        let value = self.present(field);
        if value.is_none() {
            self.fail(
                property,
                "required",
                "",
                format!("The {property} field is required."),
            );
        }
        value
    }

    /// A string of at most `max` characters; `property` names it in errors.
    pub fn string(
        &mut self,
        field: &str,
        property: &str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        let value = if required {
            self.require(field, property)?
        } else {
            self.present(field)?
        };
        let Some(text) = value.as_str() else {
            self.fail(
                property,
                "string",
                "",
                format!("The {property} must be a string."),
            );
            return None;
        };
        if text.chars().count() > max {
            self.fail(
                property,
                "max",
                &max.to_string(),
                format!("The {property} may not be greater than {max} characters."),
            );
            return None;
        }
        Some(text.to_string())
    }

    /// A JTL money string `^\d{1,6}\.\d{2}$`, in minor units.
    pub fn amount(&mut self, field: &str, min: AmountMin) -> Option<i64> {
        let value = self.require(field, field)?;
        let Some(text) = value.as_str() else {
            self.fail(
                field,
                "string",
                "",
                format!("The {field} must be a string."),
            );
            return None;
        };
        let Some(number) = PhpNumber::parse(text) else {
            self.fail(
                field,
                "numeric",
                "",
                format!("The {field} must be a number."),
            );
            return None;
        };
        let (below, min_text) = match min {
            AmountMin::Zero => (number.is_negative(), "0"),
            AmountMin::OneCent => (number.is_below_one_cent(), "0.01"),
        };
        if below {
            self.fail(
                field,
                "min",
                min_text,
                format!("The {field} must be at least {min_text}."),
            );
            return None;
        }
        match parse_money(text) {
            Some(minor) => Some(minor),
            None => {
                self.fail(
                    field,
                    "regex",
                    "",
                    format!("The {field} format is invalid."),
                );
                None
            }
        }
    }

    /// An ISO-4217 code with exactly two decimals (the JTL money format has two).
    pub fn currency(&mut self, field: &str) -> Option<Currency> {
        let value = self.require(field, field)?;
        let Some(text) = value.as_str() else {
            self.fail(
                field,
                "string",
                "",
                format!("The {field} must be a string."),
            );
            return None;
        };
        if text.chars().count() != 3 {
            self.fail(
                field,
                "size",
                "3",
                format!("The {field} must be 3 characters."),
            );
            return None;
        }
        match Currency::parse(text) {
            Ok(currency) if currency.minor_unit_digits() == Some(2) => Some(currency),
            _ => {
                self.fail(
                    field,
                    "valid_currency",
                    "",
                    "Currency must be a valid currency code".into(),
                );
                None
            }
        }
    }

    /// A JSON boolean.
    pub fn boolean(&mut self, field: &str) -> Option<bool> {
        let value = self.present(field)?;
        match value.as_bool() {
            Some(b) => Some(b),
            None => {
                self.fail(
                    field,
                    "boolean",
                    "",
                    format!("The {field} field must be true or false."),
                );
                None
            }
        }
    }

    /// A JSON integer within `min..=max`.
    pub fn integer(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        let value = self.present(field)?;
        let Some(number) = value.as_i64() else {
            self.fail(
                field,
                "integer",
                "",
                format!("The {field} must be an integer."),
            );
            return None;
        };
        if number < min {
            self.fail(
                field,
                "min",
                &min.to_string(),
                format!("The {field} must be at least {min}."),
            );
            return None;
        }
        if number > max {
            self.fail(
                field,
                "max",
                &max.to_string(),
                format!("The {field} may not be greater than {max}."),
            );
            return None;
        }
        Some(number)
    }

    /// A string that is one of `allowed`.
    pub fn one_of(&mut self, field: &str, required: bool, allowed: &[&str]) -> Option<String> {
        let text = self.string(field, field, required, 255)?;
        if allowed.contains(&text.as_str()) {
            Some(text)
        } else {
            self.fail(
                field,
                "in",
                &allowed.join(","),
                format!("The selected {field} is invalid."),
            );
            None
        }
    }

    /// An RFC 3339 date-time.
    pub fn datetime(&mut self, field: &str) -> Option<time::OffsetDateTime> {
        let text = self.string(field, field, false, 64)?;
        match parse_datetime(&text) {
            Some(at) => Some(at),
            None => {
                self.fail(
                    field,
                    "date",
                    "",
                    format!("The {field} is not a valid date."),
                );
                None
            }
        }
    }

    /// Records a rule that the caller checked itself.
    pub fn reject(&mut self, property: &str, rule: &str, params: &str, message: String) {
        self.fail(property, rule, params, message);
    }

    /// Whether a field was sent (even as null).
    pub fn has(&self, field: &str) -> bool {
        self.body.contains_key(field)
    }

    /// Ends validation: every failure at once, or success.
    pub fn finish(self) -> Result<(), JtlError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(JtlError::Validation {
                action: self.action,
                errors: self.errors,
            })
        }
    }
}

/// A number as PHP's `is_numeric` accepts it (what Laravel's `numeric` rule checks), kept as
/// digits so no floating point is involved.
struct PhpNumber {
    negative: bool,
    /// Mantissa digits without leading zeros ("" for zero).
    digits: String,
    /// The power of ten of the mantissa's last digit.
    exponent: i64,
}

impl PhpNumber {
    fn parse(text: &str) -> Option<Self> {
        let s = text.trim_start_matches([' ', '\t', '\n', '\r']);
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return None;
        }
        let mut exponent = -i64::try_from(frac.len()).ok()?;
        if let Some(exp) = exp {
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || digits.len() > 6 || !all_digits(digits) {
                return None;
            }
            let value: i64 = digits.parse().ok()?;
            exponent += if exp.starts_with('-') { -value } else { value };
        }
        let digits = format!("{int}{frac}").trim_start_matches('0').to_string();
        Some(PhpNumber {
            negative,
            digits,
            exponent,
        })
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    fn is_negative(&self) -> bool {
        self.negative && !self.is_zero()
    }

    /// Whether the value is below 0.01. With `d` mantissa digits the value lies in
    /// `[10^(d-1+exponent), 10^(d+exponent))`, so it is below `10^-2` exactly when
    /// `d + exponent <= -2`.
    fn is_below_one_cent(&self) -> bool {
        if self.is_negative() || self.is_zero() {
            return true;
        }
        let magnitude = i64::try_from(self.digits.len()).unwrap_or(i64::MAX) + self.exponent;
        magnitude <= -2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(amount: Value, min: AmountMin) -> Result<i64, String> {
        let body = json!({ "amount": amount });
        let mut v = Validator::new("X.Y", body.as_object().expect("object"));
        let parsed = v.amount("amount", min);
        match v.finish() {
            Ok(()) => Ok(parsed.expect("parsed")),
            Err(JtlError::Validation { errors, .. }) => Err(errors[0].code.clone()),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn money_strings_parse_to_minor_units() {
        assert_eq!(check(json!("10.53"), AmountMin::Zero), Ok(1053));
        assert_eq!(check(json!("0.00"), AmountMin::Zero), Ok(0));
        assert_eq!(
            check(json!("999999.99"), AmountMin::OneCent),
            Ok(99_999_999)
        );
    }

    #[test]
    fn malformed_money_names_the_first_failing_rule() {
        assert_eq!(
            check(Value::Null, AmountMin::Zero),
            Err("X.Y.AMOUNT.REQUIRED".into())
        );
        assert_eq!(
            check(json!(10.00), AmountMin::Zero),
            Err("X.Y.AMOUNT.STRING".into())
        );
        assert_eq!(
            check(json!("abc"), AmountMin::Zero),
            Err("X.Y.AMOUNT.NUMERIC".into())
        );
        assert_eq!(
            check(json!("-1.00"), AmountMin::Zero),
            Err("X.Y.AMOUNT.MIN:0".into())
        );
        assert_eq!(
            check(json!("0.00"), AmountMin::OneCent),
            Err("X.Y.AMOUNT.MIN:0.01".into())
        );
        assert_eq!(
            check(json!("0.001"), AmountMin::OneCent),
            Err("X.Y.AMOUNT.MIN:0.01".into())
        );
        assert_eq!(
            check(json!("10.5"), AmountMin::Zero),
            Err("X.Y.AMOUNT.REGEX".into())
        );
        assert_eq!(
            check(json!("1e3"), AmountMin::Zero),
            Err("X.Y.AMOUNT.REGEX".into())
        );
        assert_eq!(
            check(json!("1234567.00"), AmountMin::Zero),
            Err("X.Y.AMOUNT.REGEX".into())
        );
        assert_eq!(
            check(json!("0.01e0"), AmountMin::OneCent),
            Err("X.Y.AMOUNT.REGEX".into())
        );
    }

    #[test]
    fn currencies_must_be_iso_with_two_decimals() {
        for (input, code) in [
            (json!("EUR"), None),
            (json!("JPY"), Some("X.Y.CURRENCY.VALID_CURRENCY")),
            (json!("ZZZ"), Some("X.Y.CURRENCY.VALID_CURRENCY")),
            (json!("EURO"), Some("X.Y.CURRENCY.SIZE:3")),
            (json!(978), Some("X.Y.CURRENCY.STRING")),
        ] {
            let body = json!({ "currency": input });
            let mut v = Validator::new("X.Y", body.as_object().expect("object"));
            v.currency("currency");
            let got = v.finish().err().map(|e| match e {
                JtlError::Validation { errors, .. } => errors[0].code.clone(),
                other => format!("{other:?}"),
            });
            assert_eq!(got.as_deref(), code);
        }
    }

    #[test]
    fn dates_accept_an_offset_whose_plus_became_a_space() {
        assert!(parse_datetime("2017-07-21T17:32:28+00:00").is_some());
        assert!(parse_datetime("2017-07-21T17:32:28 00:00").is_some());
        assert!(parse_datetime("2017-07-21").is_none());
        assert!(parse_datetime("2017-13-21T17:32:28Z").is_none());
    }
}
