//! Money is an amount of integer minor units plus an ISO-4217 currency. There is no floating
//! point anywhere in voucherd, not even in transit: every face reads a decimal amount through
//! [`parse_decimal`] (a JSON number from its literal text) and writes one through
//! [`format_decimal`]; each face keeps only its own wire syntax on top (JTL's exactly two
//! decimals, Front Payment's signs and trailing zeros, bleepay's currency decimals).

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
        self.as_str().to_string()
    }

    /// The ISO-4217 code, without allocating.
    pub fn as_str(&self) -> &'static str {
        self.0.code()
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

/// Why a decimal amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("not a decimal number")]
    NotADecimal,
    #[error("more decimals than the currency has")]
    TooManyDecimals,
    #[error("too large")]
    TooLarge,
}

/// Reads a decimal amount written as digits, optionally followed by a point and at least one
/// more digit (`"100"`, `"12.5"`, `"12.50"`; no sign, exponent or spaces), as minor units of a
/// currency with `digits` decimals. Never rounds: more decimals than `digits` are refused, and
/// so is an amount that does not fit in minor units.
pub fn parse_decimal(text: &str, digits: u16) -> Result<i64, AmountError> {
    let (whole, fraction) = match text.split_once('.') {
        Some((_, "")) => return Err(AmountError::NotADecimal),
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !plain(whole) || !plain(fraction) {
        return Err(AmountError::NotADecimal);
    }
    let places = usize::from(digits);
    if fraction.len() > places {
        return Err(AmountError::TooManyDecimals);
    }
    let scale = 10_i64
        .checked_pow(u32::from(digits))
        .ok_or(AmountError::TooLarge)?;
    let minor_fraction = if places == 0 {
        0
    } else {
        format!("{fraction:0<places$}")
            .parse::<i64>()
            .map_err(|_| AmountError::TooLarge)?
    };
    whole
        .parse::<i64>()
        .ok()
        .and_then(|w| w.checked_mul(scale))
        .and_then(|w| w.checked_add(minor_fraction))
        .ok_or(AmountError::TooLarge)
}

/// Writes minor units of a currency with `digits` decimals (`10050`, 2 → `"100.50"`; `7`, 0 →
/// `"7"`).
pub fn format_decimal(amount_minor: i64, digits: u16) -> String {
    // Every answer and event formats amounts: the digits are written in place, without the
    // formatting machinery.
    let mut rest = amount_minor.unsigned_abs();
    let digits = usize::from(digits);
    // Digits from the last: at most 20 of an i64, the point, and zeros up to `digits`.
    let mut reversed = Vec::with_capacity(digits + 22);
    let mut written = 0;
    while rest > 0 || written <= digits {
        if written == digits && digits > 0 {
            reversed.push(b'.');
        }
        reversed.push(b'0' + (rest % 10) as u8);
        rest /= 10;
        written += 1;
    }
    let mut text = String::with_capacity(reversed.len() + 1);
    if amount_minor < 0 {
        text.push('-');
    }
    text.extend(reversed.iter().rev().map(|&b| char::from(b)));
    text
}

/// Formats minor units with exactly two decimals (`1053` → `"10.53"`), the format of the
/// two-decimal currencies every face but bleepay uses.
pub fn format_two_decimals(amount_minor: i64) -> String {
    format_decimal(amount_minor, 2)
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
    fn decimals_parse_exactly_or_not_at_all() {
        assert_eq!(parse_decimal("100", 2), Ok(10_000));
        assert_eq!(parse_decimal("12.5", 2), Ok(1_250));
        assert_eq!(parse_decimal("12.50", 2), Ok(1_250));
        assert_eq!(parse_decimal("0.05", 2), Ok(5));
        assert_eq!(parse_decimal("7", 0), Ok(7));
        assert_eq!(parse_decimal("1.234", 2), Err(AmountError::TooManyDecimals));
        assert_eq!(
            parse_decimal("0.1000000000000000000001", 2),
            Err(AmountError::TooManyDecimals)
        );
        assert_eq!(parse_decimal("1.5", 0), Err(AmountError::TooManyDecimals));
        for bad in ["", ".5", "5.", "-1", "+1", "1e3", " 1", "1,5", "1.5.0"] {
            assert_eq!(
                parse_decimal(bad, 2),
                Err(AmountError::NotADecimal),
                "{bad}"
            );
        }
        assert_eq!(
            parse_decimal("99999999999999999999", 2),
            Err(AmountError::TooLarge)
        );
        assert_eq!(
            parse_decimal("92233720368547758.08", 2),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn decimals_format_with_the_currency_digits() {
        assert_eq!(format_decimal(10_050, 2), "100.50");
        assert_eq!(format_decimal(7, 0), "7");
        assert_eq!(format_decimal(5, 3), "0.005");
        assert_eq!(format_decimal(-1_053, 2), "-10.53");
        for minor in [0, 1, 99, 100, 12_345, BALANCE_MINOR_MAX] {
            assert_eq!(parse_decimal(&format_decimal(minor, 2), 2), Ok(minor));
        }
        // Against the plain formatting it replaces, over every digit count a currency has.
        let plain = |minor: i64, digits: u16| {
            let (sign, abs) = (if minor < 0 { "-" } else { "" }, minor.unsigned_abs());
            if digits == 0 {
                return format!("{sign}{abs}");
            }
            let scale = 10_u64.pow(u32::from(digits));
            let width = usize::from(digits);
            format!("{sign}{}.{:0width$}", abs / scale, abs % scale)
        };
        for minor in [
            0,
            1,
            -1,
            9,
            10,
            99,
            100,
            101,
            -1_000,
            123_456_789,
            i64::MAX,
            i64::MIN,
        ] {
            for digits in 0..=4 {
                assert_eq!(
                    format_decimal(minor, digits),
                    plain(minor, digits),
                    "{minor} {digits}"
                );
            }
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
