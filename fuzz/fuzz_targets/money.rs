//! The one decimal reader and the money syntaxes of the three faces on top of it: none panics,
//! every accepted amount is in range, and formatting an accepted amount reads back as the same
//! number of minor units.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use voucherd_domain::BALANCE_MINOR_MAX;
use voucherd_domain::bleepay::{format_amount, parse_amount};
use voucherd_domain::money::{format_decimal, parse_decimal};
use voucherd_server::front::validate::minor_units;
use voucherd_server::wire::parse_money;

/// The largest JTL amount, `999999.99`.
const JTL_AMOUNT_MINOR_MAX: i64 = 99_999_999;

fn two_decimals(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Some(minor) = parse_money(text) {
        assert!((0..=JTL_AMOUNT_MINOR_MAX).contains(&minor), "{text:?}");
        assert_eq!(parse_money(&two_decimals(minor)), Some(minor), "{text:?}");
    }

    for digits in [0_u16, 2, 3] {
        if let Ok(minor) = parse_decimal(text, digits) {
            assert!(minor >= 0, "{text:?}");
            assert_eq!(
                parse_decimal(&format_decimal(minor, digits), digits),
                Ok(minor),
                "{text:?} with {digits} decimals"
            );
        }
        if let Some(minor) = parse_amount(text, digits) {
            assert!(minor >= 0, "{text:?}");
            assert_eq!(
                parse_amount(&format_amount(minor, digits), digits),
                Some(minor),
                "{text:?} with {digits} decimals"
            );
        }
    }

    let as_json = serde_json::from_str::<Value>(text).ok();
    for value in as_json.into_iter().chain([Value::String(text.to_string())]) {
        if let Ok(minor) = minor_units(&value) {
            assert!((0..=BALANCE_MINOR_MAX).contains(&minor), "{value}");
            let again = Value::String(two_decimals(minor));
            assert_eq!(minor_units(&again), Ok(minor), "{value}");
        }
    }
});
