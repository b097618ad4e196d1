//! Money is an amount of integer minor units plus an ISO-4217 currency. There is no floating
//! point anywhere in voucherd; each face parses and formats its own decimal wire format.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest balance a voucher may hold, in minor units (999 999.99 in a two-decimal
/// currency). Recharges that would pass it are refused.
pub const BALANCE_MINOR_MAX: i64 = 99_999_999;

/// An ISO-4217 alphabetic currency code known to the ISO list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(iso_currency::Currency);

/// The text was not a currency of the ISO-4217 list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO-4217 currency code")]
pub struct UnknownCurrency;

impl Currency {
    /// Parses an upper-case alpha-3 code such as `EUR`. Lower case is refused: the wire formats
    /// all use upper case and silently normalising would hide client bugs.
    pub fn parse(code: &str) -> Result<Self, UnknownCurrency> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(UnknownCurrency);
        }
        iso_currency::Currency::from_code(code)
            .map(Currency)
            .ok_or(UnknownCurrency)
    }

    /// The alpha-3 code.
    pub fn code(&self) -> String {
        self.0.code().to_string()
    }

    /// How many decimal digits the minor unit has (2 for EUR, 0 for JPY). Currencies without a
    /// defined minor unit (gold, SDR, ...) report `None`.
    pub fn minor_unit_digits(&self) -> Option<u16> {
        self.0.exponent()
    }
}

impl TryFrom<String> for Currency {
    type Error = UnknownCurrency;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.code()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.code())
    }
}

/// Formats minor units with exactly two decimals (`1053` → `"10.53"`). Callers guarantee a
/// two-decimal currency; negative amounts never reach a wire format.
pub fn format_two_decimals(amount_minor: i64) -> String {
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_currencies_parse_and_report_their_minor_unit() {
        let eur = Currency::parse("EUR").expect("EUR");
        assert_eq!(eur.code(), "EUR");
        assert_eq!(eur.minor_unit_digits(), Some(2));
        assert_eq!(
            Currency::parse("JPY").expect("JPY").minor_unit_digits(),
            Some(0)
        );
    }

    #[test]
    fn unknown_or_lower_case_codes_are_refused() {
        for bad in ["eur", "EU", "EURO", "ZZZ", "", "E1R"] {
            assert_eq!(Currency::parse(bad), Err(UnknownCurrency), "{bad}");
        }
    }

    #[test]
    fn two_decimal_formatting_pads_the_minor_part() {
        assert_eq!(format_two_decimals(1053), "10.53");
        assert_eq!(format_two_decimals(5), "0.05");
        assert_eq!(format_two_decimals(0), "0.00");
        assert_eq!(format_two_decimals(BALANCE_MINOR_MAX), "999999.99");
    }
}
