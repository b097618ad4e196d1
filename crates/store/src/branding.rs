//! How a tenant's shop presents itself on the payment page, as the operator sets it: display
//! name, colour, logo, support contact, terms and privacy links, and the page's currency. Every
//! field is checked here, once, for the admin API and the console alike; every limit is a
//! constant below.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use voucherd_domain::Currency;

/// The longest display name, in characters.
pub const DISPLAY_NAME_CHARS_MAX: usize = 80;
/// The longest support contact (an e-mail address, a phone number, a sentence), in characters.
pub const SUPPORT_CHARS_MAX: usize = 200;
/// The longest terms or privacy link, in characters.
pub const LINK_CHARS_MAX: usize = 2_000;
/// The largest logo, in bytes.
pub const LOGO_BYTES_MAX: usize = 256 * 1024;

/// The shop's presentation; `None` fields take the page's defaults.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Branding {
    /// The shop's name on the page (else the tenant's name).
    pub display_name: Option<String>,
    /// `#rrggbb`: the page's accent and button colour.
    pub colour: Option<String>,
    pub support: Option<String>,
    pub terms_url: Option<String>,
    pub privacy_url: Option<String>,
    /// The currency amounts are shown in before a voucher pays; a voucher in another currency
    /// is then refused. `None`: amounts show without one until the voucher decides it.
    #[serde(serialize_with = "currency_code")]
    pub currency: Option<Currency>,
    /// Whether a logo is set (the image itself is read on its own: [`Logo`]).
    pub has_logo: bool,
}

fn currency_code<S: serde::Serializer>(
    currency: &Option<Currency>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match currency {
        Some(c) => serializer.serialize_some(&c.code()),
        None => serializer.serialize_none(),
    }
}

/// A logo image: PNG, JPEG or WebP (never SVG, which can carry script).
#[derive(Debug, Clone, PartialEq)]
pub struct Logo {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl Logo {
    /// The image in `bytes`, by what its first bytes say it is, or what is wrong with it.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Logo, String> {
        if bytes.is_empty() {
            return Err("the logo is empty".into());
        }
        if bytes.len() > LOGO_BYTES_MAX {
            return Err(format!(
                "the logo is {} bytes; at most {LOGO_BYTES_MAX} are accepted",
                bytes.len()
            ));
        }
        let content_type = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            "image/png"
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            "image/jpeg"
        } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            "image/webp"
        } else {
            return Err("the logo must be a PNG, JPEG or WebP image".into());
        };
        Ok(Logo {
            content_type,
            bytes,
        })
    }

    /// The image as stored: base64 text.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(&self.bytes)
    }

    /// The image as stored, read back.
    pub fn from_stored(content_type: &str, base64: &str) -> Option<Logo> {
        let logo = Logo::from_bytes(STANDARD.decode(base64).ok()?).ok()?;
        (logo.content_type == content_type).then_some(logo)
    }
}

/// What is wrong with a branding, if anything.
pub fn branding_problem(b: &Branding) -> Option<String> {
    let too_long = |value: &Option<String>, max: usize| {
        value
            .as_ref()
            .is_some_and(|v| v.chars().count() > max || v.trim().is_empty())
    };
    if too_long(&b.display_name, DISPLAY_NAME_CHARS_MAX) {
        return Some(format!(
            "display_name must be 1 to {DISPLAY_NAME_CHARS_MAX} characters"
        ));
    }
    if let Some(colour) = &b.colour
        && !is_hex_colour(colour)
    {
        return Some("colour must be #rrggbb, like #1f4fbf".into());
    }
    if too_long(&b.support, SUPPORT_CHARS_MAX) {
        return Some(format!(
            "support must be 1 to {SUPPORT_CHARS_MAX} characters"
        ));
    }
    for (name, link) in [("terms_url", &b.terms_url), ("privacy_url", &b.privacy_url)] {
        if let Some(link) = link
            && !is_web_link(link)
        {
            return Some(format!(
                "{name} must be an http or https URL of at most {LINK_CHARS_MAX} characters"
            ));
        }
    }
    let controls = [&b.display_name, &b.support]
        .into_iter()
        .flatten()
        .any(|v| v.chars().any(char::is_control));
    controls.then(|| "display_name and support must be one line of text".into())
}

fn is_hex_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn is_web_link(text: &str) -> bool {
    text.chars().count() <= LINK_CHARS_MAX
        && (text.starts_with("https://") || text.starts_with("http://"))
        && text.len() > "https://".len()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_are_known_images_within_the_limit() {
        assert_eq!(
            Logo::from_bytes(b"\x89PNG\r\n\x1a\nrest".to_vec()).map(|l| l.content_type),
            Ok("image/png")
        );
        assert_eq!(
            Logo::from_bytes(vec![0xff, 0xd8, 0xff, 0xe0]).map(|l| l.content_type),
            Ok("image/jpeg")
        );
        assert_eq!(
            Logo::from_bytes(b"RIFF\0\0\0\0WEBPVP8 ".to_vec()).map(|l| l.content_type),
            Ok("image/webp")
        );
        assert!(Logo::from_bytes(b"<svg onload=alert(1)>".to_vec()).is_err());
        assert!(Logo::from_bytes(Vec::new()).is_err());
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(LOGO_BYTES_MAX + 1, 0);
        assert!(Logo::from_bytes(big).is_err());
        let logo = Logo::from_bytes(vec![0xff, 0xd8, 0xff, 1, 2]).expect("jpeg");
        assert_eq!(
            Logo::from_stored("image/jpeg", &logo.to_base64()),
            Some(logo)
        );
    }

    #[test]
    fn branding_fields_are_checked() {
        let ok = Branding {
            display_name: Some("Hotel Fjord".into()),
            colour: Some("#0A7f3C".into()),
            support: Some("help@fjord.example, +47 22 00 00 00".into()),
            terms_url: Some("https://fjord.example/terms".into()),
            privacy_url: None,
            currency: Currency::parse("NOK").ok(),
            has_logo: false,
        };
        assert_eq!(branding_problem(&ok), None);
        assert_eq!(branding_problem(&Branding::default()), None);
        for bad in [
            Branding {
                colour: Some("blue".into()),
                ..ok.clone()
            },
            Branding {
                colour: Some("#12345g".into()),
                ..ok.clone()
            },
            Branding {
                display_name: Some(" ".into()),
                ..ok.clone()
            },
            Branding {
                display_name: Some("x".repeat(DISPLAY_NAME_CHARS_MAX + 1)),
                ..ok.clone()
            },
            Branding {
                support: Some("line\nbreak".into()),
                ..ok.clone()
            },
            Branding {
                terms_url: Some("javascript:alert(1)".into()),
                ..ok.clone()
            },
            Branding {
                privacy_url: Some("https://a.example/\"onmouseover".into()),
                ..ok.clone()
            },
        ] {
            assert!(branding_problem(&bad).is_some(), "{bad:?}");
        }
    }
}
