//! How a shop presents itself on its payment page: the brand drawn from the tenant's branding
//! (name, colour with a readable text colour, logo, support, links, the PIN field's input mode),
//! and the logo itself, served for a reservation so that no tenant id is in the page.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use voucherd_store::branding::Logo;

use crate::AppState;

/// The page's colour when the shop sets none.
pub const BRAND_COLOUR_DEFAULT: &str = "#1f4fbf";

/// How the shop presents itself on the page.
pub struct Brand {
    pub name: String,
    pub colour: String,
    /// Black or white, whichever reads better on [`Brand::colour`].
    pub on_colour: &'static str,
    pub logo_url: Option<String>,
    pub support: Option<String>,
    pub terms_url: Option<String>,
    pub privacy_url: Option<String>,
    /// `numeric` when the shop's PINs are digits only (a phone offers its number pad), else
    /// `text`.
    pub pin_mode: &'static str,
}

impl Brand {
    pub fn has_footer(&self) -> bool {
        self.support.is_some() || self.terms_url.is_some() || self.privacy_url.is_some()
    }
}

/// The brand of a page whose shop is unknown (a link that does not exist).
pub fn plain_brand() -> Brand {
    Brand {
        name: String::new(),
        colour: BRAND_COLOUR_DEFAULT.to_string(),
        on_colour: "#ffffff",
        logo_url: None,
        support: None,
        terms_url: None,
        privacy_url: None,
        pin_mode: "text",
    }
}

/// Black or white: whichever has the higher contrast against `#rrggbb` (at least 4.58:1, as
/// one of the two always has).
pub fn text_colour_on(colour: &str) -> &'static str {
    let channel = |at: usize| {
        let value =
            f64::from(u8::from_str_radix(colour.get(at..at + 2).unwrap_or("00"), 16).unwrap_or(0))
                / 255.0;
        if value <= 0.040_45 {
            value / 12.92
        } else {
            ((value + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    // Contrast with white (1.05 / (L + 0.05)) against contrast with black ((L + 0.05) / 0.05).
    if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 {
        "#ffffff"
    } else {
        "#000000"
    }
}

/// The logo of the reservation's shop, as uploaded; 404 when it has none.
pub async fn logo(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let found = state
        .store
        .front_reservation(None, &id, state.clock.now())
        .await;
    let reservation = match found {
        Ok(Some(reservation)) => reservation,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    match state.store.logo(&reservation.tenant_id).await {
        Ok(Some(logo)) => logo_response(logo),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A logo as an image answer: its own type, never sniffed as another, nothing it could run.
pub fn logo_response(logo: Logo) -> Response {
    (
        [
            (header::CONTENT_TYPE, logo.content_type),
            (header::CACHE_CONTROL, "private, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ),
        ],
        logo.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_button_text_is_whichever_of_black_and_white_reads_better() {
        assert_eq!(text_colour_on("#1f4fbf"), "#ffffff");
        assert_eq!(text_colour_on("#0a6e5a"), "#ffffff");
        assert_eq!(text_colour_on("#fcd34d"), "#000000");
        assert_eq!(text_colour_on("#ffffff"), "#000000");
        assert_eq!(text_colour_on("#000000"), "#ffffff");
        // Mid grey: black reads at 4.69:1, white at 4.48:1.
        assert_eq!(text_colour_on("#777777"), "#000000");
    }
}
