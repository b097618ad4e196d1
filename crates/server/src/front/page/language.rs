//! The payment page's languages: which one a customer sees, its message catalogue, and how it
//! writes an amount of money.
//!
//! Catalogues are `assets/pay/<tag>.ftl`, in the plain subset of Fluent's syntax (`key = text`,
//! `{ $name }` placeholders, `#` comments), compiled into the binary; every language has every
//! key of English with the same placeholders (a unit test checks it). The language is the one
//! the customer picked (`?lang=`), else the reservation's `preferredLanguage`, else the
//! browser's `Accept-Language`, else English.

use std::collections::HashMap;
use std::sync::LazyLock;

use voucherd_domain::Currency;
use voucherd_domain::money::format_decimal;

/// A language the page speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    NorwegianBokmal,
    Swedish,
    Danish,
    Finnish,
    German,
}

impl Language {
    /// Every language, in the order the switcher lists them.
    pub const ALL: [Language; 6] = [
        Language::English,
        Language::NorwegianBokmal,
        Language::Swedish,
        Language::Danish,
        Language::Finnish,
        Language::German,
    ];

    /// The BCP 47 tag, as in `<html lang>` and `?lang=`.
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::NorwegianBokmal => "nb",
            Language::Swedish => "sv",
            Language::Danish => "da",
            Language::Finnish => "fi",
            Language::German => "de",
        }
    }

    /// The language's name in itself, for the switcher.
    pub fn own_name(self) -> &'static str {
        match self {
            Language::English => "English",
            Language::NorwegianBokmal => "Norsk bokmål",
            Language::Swedish => "Svenska",
            Language::Danish => "Dansk",
            Language::Finnish => "Suomi",
            Language::German => "Deutsch",
        }
    }

    /// The language a tag names: its primary subtag, any case; `no` and `nn` read as Bokmål
    /// (Front Payment sends `no`).
    pub fn parse(tag: &str) -> Option<Language> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Some(match primary.as_str() {
            "en" => Language::English,
            "nb" | "no" | "nn" => Language::NorwegianBokmal,
            "sv" => Language::Swedish,
            "da" => Language::Danish,
            "fi" => Language::Finnish,
            "de" => Language::German,
            _ => return None,
        })
    }

    fn catalogue(self) -> &'static Catalogue {
        // The variants are declared in the order of ALL and of SOURCES.
        &CATALOGUES[self as usize]
    }

    /// The message `key` with its placeholders filled; the key itself if it is missing, which
    /// the catalogue tests rule out.
    pub fn text(self, key: &str, args: &[(&str, &str)]) -> String {
        let Some(message) = self
            .catalogue()
            .get(key)
            .or_else(|| Language::English.catalogue().get(key))
        else {
            return key.to_string();
        };
        let mut text = message.clone();
        for (name, value) in args {
            text = text.replace(&format!("{{ ${name} }}"), value);
        }
        text
    }

    /// An amount as this language writes it: `€45.00` in English, `45,00 €` in German and
    /// Finnish, `45,00 kr` in Norwegian and Swedish for their own crowns (`45,00 kr.` in
    /// Danish), the ISO code where a symbol would be ambiguous (`NOK 45.00` in English,
    /// `45,00 SEK` in Norwegian). Thousands are grouped the language's way.
    pub fn money(self, amount_minor: i64, currency: Currency) -> String {
        let digits = currency.minor_unit_digits().unwrap_or(2);
        let plain = format_decimal(amount_minor, digits);
        let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, ""));
        let (group, decimal) = match self {
            Language::English => (",", "."),
            Language::German | Language::Danish => (".", ","),
            // A no-break space, so that an amount never wraps between its digits.
            Language::NorwegianBokmal | Language::Swedish | Language::Finnish => ("\u{a0}", ","),
        };
        let number = if fraction.is_empty() {
            grouped(whole, group)
        } else {
            format!("{}{decimal}{fraction}", grouped(whole, group))
        };
        let code = currency.code();
        let own_crown = matches!(
            (self, code.as_str()),
            (Language::NorwegianBokmal, "NOK")
                | (Language::Swedish, "SEK")
                | (Language::Danish, "DKK")
        );
        let symbol = match code.as_str() {
            "EUR" => Some("€"),
            "USD" if self == Language::English => Some("$"),
            "GBP" => Some("£"),
            _ => None,
        };
        match (self, own_crown, symbol) {
            (Language::Danish, true, _) => format!("{number}\u{a0}kr."),
            (_, true, _) => format!("{number}\u{a0}kr"),
            (Language::English, _, Some(symbol)) => format!("{symbol}{number}"),
            (Language::English, _, None) => format!("{code}\u{a0}{number}"),
            (_, _, Some(symbol)) => format!("{number}\u{a0}{symbol}"),
            (_, _, None) => format!("{number}\u{a0}{code}"),
        }
    }
}

/// `1234567` → `1,234,567` with `group` between thousands; a leading `-` stays in front.
fn grouped(whole: &str, group: &str) -> String {
    let (sign, digits) = match whole.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", whole),
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(group);
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// Which language to speak: the customer's pick, else the reservation's, else the browser's
/// first supported one (by its `q` weights), else English.
pub fn negotiate(
    picked: Option<&str>,
    preferred: Option<&str>,
    accept_language: Option<&str>,
) -> Language {
    if let Some(language) = picked.and_then(Language::parse) {
        return language;
    }
    if let Some(language) = preferred.and_then(Language::parse) {
        return language;
    }
    accept_language
        .and_then(from_accept_language)
        .unwrap_or(Language::English)
}

/// The supported language an `Accept-Language` header ranks highest.
fn from_accept_language(header: &str) -> Option<Language> {
    let mut ranked: Vec<(u16, usize, Language)> = header
        .split(',')
        .enumerate()
        .filter_map(|(order, item)| {
            let mut parts = item.split(';');
            let language = Language::parse(parts.next()?)?;
            let weight =
                parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1000), |q| {
                        q.trim()
                            .parse::<f32>()
                            .ok()
                            .filter(|q| (0.0..=1.0).contains(q))
                            // Weights have at most three decimals: whole thousandths are exact.
                            .map(|q| (q * 1000.0).round() as u16)
                    })?;
            (weight > 0).then_some((weight, order, language))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.first().map(|(_, _, language)| *language)
}

type Catalogue = HashMap<String, String>;

/// The catalogues' text, in the order of [`Language::ALL`].
const SOURCES: [&str; 6] = [
    include_str!("../../../assets/pay/en.ftl"),
    include_str!("../../../assets/pay/nb.ftl"),
    include_str!("../../../assets/pay/sv.ftl"),
    include_str!("../../../assets/pay/da.ftl"),
    include_str!("../../../assets/pay/fi.ftl"),
    include_str!("../../../assets/pay/de.ftl"),
];

static CATALOGUES: LazyLock<Vec<Catalogue>> =
    LazyLock::new(|| SOURCES.iter().map(|source| parse(source)).collect());

/// `key = text` lines; blank lines and `#` comments are skipped.
fn parse(source: &str) -> Catalogue {
    source
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, text)| (key.trim().to_string(), text.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(text: &str) -> Vec<&str> {
        let mut found: Vec<&str> = text
            .split("{ $")
            .skip(1)
            .filter_map(|rest| rest.split(" }").next())
            .collect();
        found.sort_unstable();
        found
    }

    #[test]
    fn every_language_has_every_message_with_the_same_placeholders() {
        let english = Language::English.catalogue();
        assert!(english.len() > 20, "the English catalogue parsed");
        for language in Language::ALL {
            let catalogue = language.catalogue();
            for (key, text) in english {
                let theirs = catalogue
                    .get(key)
                    .unwrap_or_else(|| panic!("{} lacks {key}", language.tag()));
                assert_eq!(
                    placeholders(theirs),
                    placeholders(text),
                    "{} {key}",
                    language.tag()
                );
            }
            for key in catalogue.keys() {
                assert!(
                    english.contains_key(key),
                    "{} has the unknown key {key}",
                    language.tag()
                );
            }
            // Every line of the source is a comment, blank, or a message.
            let source = SOURCES[language as usize];
            for line in source.lines().map(str::trim) {
                assert!(
                    line.is_empty() || line.starts_with('#') || line.contains(" = "),
                    "{}: {line:?}",
                    language.tag()
                );
            }
        }
    }

    #[test]
    fn each_language_reads_its_own_catalogue() {
        let expected = ["Total", "Totalt", "Totalt", "I alt", "Yhteensä", "Summe"];
        for (index, language) in Language::ALL.into_iter().enumerate() {
            assert_eq!(language as usize, index);
            assert_eq!(
                language.text("total", &[]),
                expected[index],
                "{}",
                language.tag()
            );
        }
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            Language::English.text("pay-button", &[("amount", "€5.00")]),
            "Pay €5.00"
        );
        assert_eq!(Language::German.text("no-such-key", &[]), "no-such-key");
    }

    #[test]
    fn amounts_are_written_the_language_s_way() {
        let c = |code| Currency::parse(code).expect("currency");
        assert_eq!(Language::English.money(4_500, c("EUR")), "€45.00");
        assert_eq!(
            Language::English.money(123_456_789, c("USD")),
            "$1,234,567.89"
        );
        assert_eq!(Language::English.money(4_500, c("NOK")), "NOK\u{a0}45.00");
        assert_eq!(
            Language::NorwegianBokmal.money(4_500, c("NOK")),
            "45,00\u{a0}kr"
        );
        assert_eq!(
            Language::NorwegianBokmal.money(123_456, c("NOK")),
            "1\u{a0}234,56\u{a0}kr"
        );
        assert_eq!(
            Language::NorwegianBokmal.money(4_500, c("SEK")),
            "45,00\u{a0}SEK"
        );
        assert_eq!(Language::Swedish.money(4_500, c("SEK")), "45,00\u{a0}kr");
        assert_eq!(
            Language::Danish.money(123_456, c("DKK")),
            "1.234,56\u{a0}kr."
        );
        assert_eq!(Language::German.money(123_456, c("EUR")), "1.234,56\u{a0}€");
        assert_eq!(Language::Finnish.money(4_500, c("EUR")), "45,00\u{a0}€");
        assert_eq!(Language::German.money(4_500, c("USD")), "45,00\u{a0}USD");
        assert_eq!(Language::English.money(500, c("JPY")), "JPY\u{a0}500");
        assert_eq!(Language::English.money(5, c("EUR")), "€0.05");
    }

    #[test]
    fn the_customer_s_pick_beats_the_reservation_which_beats_the_browser() {
        assert_eq!(
            negotiate(Some("de"), Some("no"), Some("sv")),
            Language::German
        );
        assert_eq!(
            negotiate(Some("xx"), Some("no"), Some("sv")),
            Language::NorwegianBokmal
        );
        assert_eq!(
            negotiate(None, Some("klingon"), Some("sv-SE,sv;q=0.9")),
            Language::Swedish
        );
        assert_eq!(
            negotiate(None, None, Some("fr-CH, fr;q=0.9, da;q=0.5, de;q=0.7")),
            Language::German
        );
        assert_eq!(
            negotiate(None, None, Some("fi;q=0, en-GB;q=0.1")),
            Language::English
        );
        assert_eq!(negotiate(None, None, Some("fi;q=abc")), Language::English);
        assert_eq!(negotiate(None, None, None), Language::English);
        assert_eq!(Language::parse("NB-no"), Some(Language::NorwegianBokmal));
    }
}
