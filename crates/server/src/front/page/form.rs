//! What the payment form sends, and the vouchers it carries from one try to the next. The
//! customer types one voucher at a time; when the vouchers so far do not cover the total, the
//! page shows what each covers and asks for another, carrying the earlier ones (code and PIN)
//! in hidden fields of the form, so that the page works without JavaScript and the server keeps
//! no state between tries. Every try sends all of them, and the ledger holds on all of them
//! together or on none.

use voucherd_domain::events::masked_code;
use voucherd_domain::front::{PAYING_VOUCHERS_MAX, PayingVoucher};

/// The longest code or PIN the form takes.
pub const FIELD_CHARS_MAX: usize = 128;

/// What the form sends: the vouchers added on earlier tries, in order, and the one typed now.
#[derive(Debug, Default)]
pub struct PayForm {
    pub added: Vec<Added>,
    pub code: String,
    pub pin: String,
}

/// Why a form cannot be tried as sent.
#[derive(Debug, PartialEq, Eq)]
pub enum FormProblem {
    /// No code typed (and, with vouchers added, none to add).
    CodeMissing,
    /// A code or PIN longer than [`FIELD_CHARS_MAX`].
    TooLong,
    /// The code typed is one already added.
    Repeated,
    /// More than [`PAYING_VOUCHERS_MAX`] vouchers.
    TooMany,
}

fn optional(pin: &str) -> Option<String> {
    let pin = pin.trim();
    (!pin.is_empty()).then(|| pin.to_string())
}

impl PayForm {
    /// The form from its fields: `code` and `pin`, and `added-code`/`added-pin`/`added-covers`
    /// triples in order. What an added voucher covers is only shown again, never trusted: the
    /// ledger decides afresh on every try. Other fields are ignored.
    pub fn from_fields(fields: Vec<(String, String)>) -> PayForm {
        let mut form = PayForm::default();
        let (mut codes, mut pins, mut covers) = (Vec::new(), Vec::new(), Vec::new());
        for (name, value) in fields {
            match name.as_str() {
                "code" => form.code = value.trim().to_string(),
                "pin" => form.pin = value.trim().to_string(),
                "added-code" => codes.push(value.trim().to_string()),
                "added-pin" => pins.push(value),
                "added-covers" => covers.push(value.trim().parse().unwrap_or(0)),
                _ => {}
            }
        }
        pins.resize(codes.len(), String::new());
        covers.resize(codes.len(), 0);
        form.added = codes
            .into_iter()
            .zip(pins)
            .zip(covers)
            .filter(|((code, _), _)| !code.is_empty())
            .map(|((code, pin), covers_minor)| Added {
                voucher: PayingVoucher {
                    pin: optional(&pin),
                    code,
                },
                covers_minor,
            })
            .collect();
        form
    }

    /// Every voucher to pay with, in order: those added, then the one typed now.
    pub fn vouchers(&self) -> Result<Vec<PayingVoucher>, FormProblem> {
        let too_long = |text: &str| text.chars().count() > FIELD_CHARS_MAX;
        let added_too_long = self
            .added
            .iter()
            .any(|a| too_long(&a.voucher.code) || a.voucher.pin.as_deref().is_some_and(too_long));
        if too_long(&self.code) || too_long(&self.pin) || added_too_long {
            return Err(FormProblem::TooLong);
        }
        if self.code.is_empty() {
            return Err(FormProblem::CodeMissing);
        }
        if self.added.iter().any(|a| a.voucher.code == self.code) {
            return Err(FormProblem::Repeated);
        }
        if self.added.len() >= PAYING_VOUCHERS_MAX {
            return Err(FormProblem::TooMany);
        }
        let mut all: Vec<PayingVoucher> = self.added.iter().map(|a| a.voucher.clone()).collect();
        all.push(PayingVoucher {
            code: self.code.clone(),
            pin: optional(&self.pin),
        });
        Ok(all)
    }
}

/// A voucher carried to the next try, with what it covers.
#[derive(Debug, Clone)]
pub struct Added {
    pub voucher: PayingVoucher,
    pub covers_minor: i64,
}

impl Added {
    /// The code as the page shows it again: its last four characters.
    pub fn masked(&self) -> String {
        bulleted(&masked_code(&self.voucher.code))
    }
}

/// A masked code (`****1234`) as the page shows it: bullets for the hidden characters.
pub fn bulleted(masked: &str) -> String {
    masked.replace('*', "•")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn added_vouchers_come_in_order_then_the_one_typed() {
        let form = PayForm::from_fields(fields(&[
            ("added-code", "AAA1"),
            ("added-pin", ""),
            ("added-covers", "500"),
            ("added-code", " BBB2 "),
            ("added-pin", "1234"),
            ("added-covers", "not a number"),
            ("code", "CCC3"),
            ("pin", " 99 "),
            ("other", "x"),
        ]));
        let covers: Vec<i64> = form.added.iter().map(|a| a.covers_minor).collect();
        assert_eq!(covers, [500, 0]);
        let all = form.vouchers().expect("valid");
        let codes: Vec<&str> = all.iter().map(|v| v.code.as_str()).collect();
        assert_eq!(codes, ["AAA1", "BBB2", "CCC3"]);
        let pins: Vec<Option<&str>> = all.iter().map(|v| v.pin.as_deref()).collect();
        assert_eq!(pins, [None, Some("1234"), Some("99")]);
    }

    #[test]
    fn missing_repeated_overlong_and_too_many_are_refused() {
        let typed = |code: &str, added: usize| PayForm {
            added: (0..added)
                .map(|n| Added {
                    voucher: PayingVoucher {
                        code: format!("V{n}"),
                        pin: None,
                    },
                    covers_minor: 1,
                })
                .collect(),
            code: code.to_string(),
            pin: String::new(),
        };
        assert_eq!(typed("", 1).vouchers(), Err(FormProblem::CodeMissing));
        assert_eq!(typed("V0", 2).vouchers(), Err(FormProblem::Repeated));
        let long = "x".repeat(FIELD_CHARS_MAX + 1);
        assert_eq!(typed(&long, 0).vouchers(), Err(FormProblem::TooLong));
        assert_eq!(
            typed("NEW", PAYING_VOUCHERS_MAX).vouchers(),
            Err(FormProblem::TooMany)
        );
        assert_eq!(
            typed("NEW", PAYING_VOUCHERS_MAX - 1)
                .vouchers()
                .map(|v| v.len()),
            Ok(PAYING_VOUCHERS_MAX)
        );
    }

    #[test]
    fn a_code_shows_only_its_last_four_characters() {
        let added = Added {
            voucher: PayingVoucher {
                code: "GIFT-1234".into(),
                pin: None,
            },
            covers_minor: 0,
        };
        assert_eq!(added.masked(), "••••1234");
    }
}
