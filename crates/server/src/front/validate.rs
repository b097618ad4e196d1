//! Front Payment's request validation, Laravel style: every rule of a body is checked, every
//! failure becomes one message such as `"The products.0.rate field is required."`, and the
//! attribute names are humanised the way Laravel does (`customerDetails.email` →
//! `customer details.email`). Numbers are accepted as JSON numbers or numeric strings, lists
//! (`products`) as JSON arrays or objects keyed by index; money has at most two decimals.

use serde_json::{Map, Value};
use voucherd_domain::BALANCE_MINOR_MAX;
use voucherd_domain::money::{self, AmountError};

/// `customerDetails.personalNumber` → `customer details.personal number`.
pub fn humanise(path: &str) -> String {
    path.split('.')
        .map(|segment| {
            let mut words = String::new();
            for (i, c) in segment.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    words.push(' ');
                }
                if c == '_' {
                    words.push(' ');
                } else {
                    words.push(c.to_ascii_lowercase());
                }
            }
            words
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Collects the failures of one body.
#[derive(Default)]
pub struct Checks {
    pub errors: Vec<String>,
}

/// Follows a dotted path through objects (and index-keyed lists).
pub fn at<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(body, |value, key| match value {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => true,
    })
}

/// A JSON number or numeric string in major units → minor units, if it has at most two
/// decimals and fits the ledger.
pub fn minor_units(value: &Value) -> Result<i64, MoneyError> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(MoneyError::NotANumber),
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    // Front Payment's syntax on top of the one decimal reader: a sign, and trailing zeros
    // (`12.500`, `5.`) that carry nothing.
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let fraction = fraction.trim_end_matches('0');
    let plain = if fraction.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{fraction}")
    };
    let minor = match money::parse_decimal(&plain, 2) {
        Ok(minor) if minor <= BALANCE_MINOR_MAX => minor,
        Ok(_) | Err(AmountError::TooLarge) => return Err(MoneyError::TooLarge),
        Err(AmountError::TooManyDecimals) => return Err(MoneyError::TooManyDecimals),
        Err(AmountError::NotADecimal) => return Err(MoneyError::NotANumber),
    };
    if negative && minor != 0 {
        return Err(MoneyError::Negative);
    }
    Ok(minor)
}

/// Why a money value was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum MoneyError {
    NotANumber,
    TooManyDecimals,
    Negative,
    TooLarge,
}

impl Checks {
    fn fail(&mut self, path: &str, rest: &str) {
        self.errors.push(format!("The {} {rest}", humanise(path)));
    }

    /// `required`: answers the value when present.
    pub fn required<'a>(&mut self, body: &'a Value, path: &str) -> Option<&'a Value> {
        let value = present(at(body, path));
        if value.is_none() {
            self.fail(path, "field is required.");
        }
        value
    }

    /// `required|string`.
    pub fn string(&mut self, body: &Value, path: &str) -> Option<String> {
        match self.required(body, path)? {
            Value::String(s) => Some(s.trim().to_string()),
            _ => {
                self.fail(path, "must be a string.");
                None
            }
        }
    }

    /// `nullable|string`.
    pub fn optional_string(&mut self, body: &Value, path: &str) -> Option<String> {
        match present(at(body, path))? {
            Value::String(s) => Some(s.trim().to_string()),
            _ => {
                self.fail(path, "must be a string.");
                None
            }
        }
    }

    /// `required|boolean` (also 0/1 and "true"/"false", as Laravel accepts).
    pub fn boolean(&mut self, body: &Value, path: &str) -> Option<bool> {
        let value = at(body, path).filter(|v| !v.is_null());
        let Some(value) = value else {
            self.fail(path, "field is required.");
            return None;
        };
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ => None,
            },
            Value::String(s) => match s.as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            self.fail(path, "field must be true or false.");
        }
        parsed
    }

    /// `required|numeric` money in major units, as minor units.
    pub fn money(&mut self, body: &Value, path: &str) -> Option<i64> {
        let value = self.required(body, path)?;
        self.money_value(value, path)
    }

    /// `nullable|numeric` money.
    pub fn optional_money(&mut self, body: &Value, path: &str) -> Option<i64> {
        let value = present(at(body, path))?;
        self.money_value(value, path)
    }

    fn money_value(&mut self, value: &Value, path: &str) -> Option<i64> {
        match minor_units(value) {
            Ok(minor) => Some(minor),
            Err(MoneyError::NotANumber) => {
                self.fail(path, "must be a number.");
                None
            }
            Err(MoneyError::TooManyDecimals) => {
                self.fail(path, "field must have 0-2 decimal places.");
                None
            }
            Err(MoneyError::Negative) => {
                self.fail(path, "must be at least 0.");
                None
            }
            Err(MoneyError::TooLarge) => {
                self.fail(path, "must not be greater than 999999.99.");
                None
            }
        }
    }

    /// `required|numeric` for an integer id.
    pub fn integer(&mut self, body: &Value, path: &str) -> Option<i64> {
        let value = self.required(body, path)?;
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.fail(path, "must be an integer.");
        }
        parsed
    }

    /// `in:...`: the value must be one of `allowed`.
    pub fn one_of(&mut self, body: &Value, path: &str, allowed: &[&str]) -> Option<String> {
        let value = self.string(body, path)?;
        if allowed.contains(&value.as_str()) {
            Some(value)
        } else {
            self.errors
                .push(format!("The selected {} is invalid.", humanise(path)));
            None
        }
    }

    /// `required|email`.
    pub fn email(&mut self, body: &Value, path: &str) -> Option<String> {
        let value = self.string(body, path)?;
        if looks_like_email(&value) {
            Some(value)
        } else {
            self.fail(path, "must be a valid email address.");
            None
        }
    }

    /// `required|array` for a list sent as a JSON array or an index-keyed object: the items
    /// with their index path (`products.0`).
    pub fn list(&mut self, body: &Value, path: &str) -> Vec<(String, Value)> {
        match self.required(body, path) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{path}.{i}"), v.clone()))
                .collect(),
            Some(Value::Object(map)) => indexed(map)
                .into_iter()
                .map(|(key, v)| (format!("{path}.{key}"), v))
                .collect(),
            Some(_) => {
                self.fail(path, "must be an array.");
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// `required|array` for an object of fields.
    pub fn object(&mut self, body: &Value, path: &str) -> bool {
        match self.required(body, path) {
            Some(Value::Object(_)) => true,
            Some(_) => {
                self.fail(path, "must be an array.");
                false
            }
            None => false,
        }
    }

    /// A rule with its own message (`The {attribute} {rest}`).
    pub fn check(&mut self, ok: bool, path: &str, rest: &str) {
        if !ok {
            self.fail(path, rest);
        }
    }

    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The entries of an index-keyed object in index order (non-numeric keys last, as sent).
fn indexed(map: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut items: Vec<(String, Value)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    items.sort_by_key(|(k, _)| k.parse::<u64>().unwrap_or(u64::MAX));
    items
}

fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_are_humanised_like_laravel() {
        assert_eq!(humanise("products.0.rate"), "products.0.rate");
        assert_eq!(humanise("customerDetails.email"), "customer details.email");
        assert_eq!(
            humanise("customerDetails.personalNumber"),
            "customer details.personal number"
        );
        assert_eq!(humanise("grandTotal"), "grand total");
    }

    #[test]
    fn money_is_a_number_or_numeric_string_with_two_decimals_at_most() {
        assert_eq!(minor_units(&json!(4017.86)), Ok(401_786));
        assert_eq!(minor_units(&json!("150")), Ok(15_000));
        assert_eq!(minor_units(&json!("0.5")), Ok(50));
        assert_eq!(minor_units(&json!(1500)), Ok(150_000));
        assert_eq!(minor_units(&json!(1.005)), Err(MoneyError::TooManyDecimals));
        assert_eq!(minor_units(&json!("1e3")), Err(MoneyError::NotANumber));
        let literal: Value = serde_json::from_str("0.1000000000000000000001").expect("json");
        assert_eq!(minor_units(&literal), Err(MoneyError::TooManyDecimals));
        assert_eq!(minor_units(&json!("abc")), Err(MoneyError::NotANumber));
        assert_eq!(minor_units(&json!(true)), Err(MoneyError::NotANumber));
        assert_eq!(minor_units(&json!(-1)), Err(MoneyError::Negative));
        assert_eq!(minor_units(&json!(1_000_000)), Err(MoneyError::TooLarge));
    }

    #[test]
    fn lists_come_as_arrays_or_index_keyed_objects() {
        let mut checks = Checks::default();
        let body = json!({ "a": [{"x": 1}], "b": {"1": {"x": 2}, "0": {"x": 1}} });
        assert_eq!(checks.list(&body, "a")[0].0, "a.0");
        let b = checks.list(&body, "b");
        assert_eq!(b[0], ("b.0".to_string(), json!({"x": 1})));
        assert_eq!(b[1].0, "b.1");
        assert!(checks.is_clean());
        checks.list(&body, "c");
        assert_eq!(checks.errors, vec!["The c field is required."]);
    }

    #[test]
    fn every_failure_is_one_laravel_message() {
        let mut checks = Checks::default();
        let body = json!({ "products": {"0": {"rate": "x"}}, "customerDetails": {"email": "no"} });
        checks.string(&body, "products.0.name");
        checks.money(&body, "products.0.rate");
        checks.email(&body, "customerDetails.email");
        checks.one_of(&json!({"type": "other"}), "type", &["private", "corporate"]);
        assert_eq!(
            checks.errors,
            vec![
                "The products.0.name field is required.",
                "The products.0.rate must be a number.",
                "The customer details.email must be a valid email address.",
                "The selected type is invalid.",
            ]
        );
    }
}
