//! The hosted payment page `/pay/{reservationUuid}`: a server-rendered form that works without
//! JavaScript, laid out for phones first. The customer sees the shop, the lines and the total
//! with their currency, in their language ([`language`]), enters a voucher code (and PIN), and
//! the grand total is held on that voucher: the reservation is confirmed (`RESERVED`). Then the
//! browser goes to `callback.success` if the merchant gave one, or sees the confirmation here.
//! Wrong codes are throttled per address.
//!
//! Every text comes from the language's message catalogue. The page loads nothing from
//! elsewhere: its style is inline under a per-response nonce, and the content security policy
//! allows nothing else.

mod brand;
pub mod language;
mod render;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use voucherd_domain::DomainError;
use voucherd_domain::front::{FrontRefusal, FrontStatus};
use voucherd_store::front::FrontReservationView;
use voucherd_store::{Actor, Command, Outcome};

use crate::AppState;
use crate::submit::{Answer, submit, unrendered};
use brand::{BRAND_COLOUR_DEFAULT, Brand, text_colour_on};
pub use brand::{logo, logo_response};
use language::{Language, negotiate};
use render::{Typed, not_found, order_page, respond, unavailable};

/// The longest code or PIN the form takes.
const FIELD_CHARS_MAX: usize = 128;

/// What the form sends.
#[derive(Deserialize)]
pub struct PayForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    pin: String,
}

/// The query of the page: the language the customer picked, if any.
#[derive(Default)]
pub struct PageQuery {
    lang: Option<String>,
}

impl PageQuery {
    /// `lang=xx` from a query string; anything else in it is ignored.
    fn from_raw(raw: Option<String>) -> PageQuery {
        let lang = raw.as_deref().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("lang="))
                .map(str::to_string)
        });
        PageQuery { lang }
    }
}

/// The reservation, how its tenant presents itself, and the currency the page shows amounts in
/// (the paying voucher's once paid, else the tenant's page currency, if it set one).
async fn load(state: &AppState, id: &str) -> Result<Option<(FrontReservationView, Brand)>, ()> {
    let found = state
        .store
        .front_reservation(None, id, state.clock.now())
        .await
        .map_err(|_| ())?;
    let Some(mut reservation) = found else {
        return Ok(None);
    };
    let tenant = state
        .store
        .tenant(&reservation.tenant_id)
        .await
        .map_err(|_| ())?;
    let digit_pins = tenant
        .as_ref()
        .and_then(|t| t.settings.pin_pattern.as_deref())
        .and_then(|p| voucherd_domain::pattern::Pattern::parse(p).ok())
        .is_some_and(|p| p.only_digits());
    let branding = state
        .store
        .branding(&reservation.tenant_id)
        .await
        .map_err(|_| ())?;
    if reservation.currency.is_none() {
        reservation.currency = branding.currency;
    }
    let colour = branding
        .colour
        .unwrap_or_else(|| BRAND_COLOUR_DEFAULT.to_string())
        .to_ascii_lowercase();
    let brand = Brand {
        name: branding
            .display_name
            .or_else(|| tenant.map(|t| t.name))
            .unwrap_or_default(),
        on_colour: text_colour_on(&colour),
        colour,
        logo_url: branding.has_logo.then(|| format!("/pay/{id}/logo")),
        support: branding.support,
        terms_url: branding.terms_url,
        privacy_url: branding.privacy_url,
        pin_mode: if digit_pins { "numeric" } else { "text" },
    };
    Ok(Some((reservation, brand)))
}

/// The language for this request: `?lang=`, the reservation's `preferredLanguage`, the
/// browser's `Accept-Language`.
fn language_for(
    query: &PageQuery,
    reservation: Option<&FrontReservationView>,
    headers: &HeaderMap,
) -> Language {
    let preferred = reservation.and_then(|r| {
        r.details
            .pointer("/customerDetails/preferredLanguage")
            .and_then(|v| v.as_str())
    });
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    negotiate(query.lang.as_deref(), preferred, accept)
}

/// The reservation, its shop's brand and the language to speak; the page to answer when the
/// link does not exist or the store does not answer.
async fn opened(
    state: &AppState,
    id: &str,
    query: &PageQuery,
    headers: &HeaderMap,
) -> Result<(FrontReservationView, Brand, Language), Response> {
    let path = format!("/pay/{id}");
    match load(state, id).await {
        Ok(Some((reservation, brand))) => {
            let language = language_for(query, Some(&reservation), headers);
            Ok((reservation, brand, language))
        }
        Ok(None) => Err(not_found(language_for(query, None, headers), &path)),
        Err(()) => Err(unavailable(language_for(query, None, headers), &path)),
    }
}

pub async fn page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    rid: Option<axum::Extension<crate::observe::RequestId>>,
) -> Response {
    let query = PageQuery::from_raw(query);
    let (reservation, brand, language) = match opened(&state, &id, &query, &headers).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    if reservation.status == FrontStatus::Sent {
        // Recorded once, for the history; a failure here must not keep the customer from paying.
        let _ = submit(
            &state,
            &reservation.tenant_id,
            Actor::Anonymous,
            &crate::observe::RequestId::of(rid),
            Command::FrontOpenLink {
                reservation_id: id.clone(),
            },
            None,
            unrendered(),
        )
        .await;
    }
    let typed = Typed {
        code: "",
        error: None,
    };
    respond(
        StatusCode::OK,
        order_page(language, &reservation, brand, typed),
    )
}

/// The catalogue key of the text a refusal shows.
fn refusal_key(refusal: &DomainError) -> &'static str {
    match refusal {
        DomainError::VoucherNotFound => "error-not-found",
        DomainError::InsufficientBalance => "error-insufficient",
        DomainError::VoucherInactive => "error-inactive",
        DomainError::VoucherExpired => "error-expired",
        DomainError::CurrencyMismatch => "error-currency",
        DomainError::Front(FrontRefusal::LinkExpired) => "error-link-expired",
        DomainError::Front(FrontRefusal::LinkAlreadyUsed) => "error-already-paid",
        _ => "error-other",
    }
}

/// One payment attempt: who asked, in which language.
pub struct Attempt {
    pub id: String,
    pub peer: SocketAddr,
    pub request_id: String,
    pub query: PageQuery,
    pub headers: HeaderMap,
}

pub async fn submit_payment(state: AppState, attempt: Attempt, form: PayForm) -> Response {
    let Attempt {
        id,
        peer,
        request_id: rid,
        query,
        headers,
    } = attempt;
    let (reservation, brand, language) = match opened(&state, &id, &query, &headers).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let code = form.code.trim().to_string();
    let refused = |status: StatusCode, error: String, reservation: &FrontReservationView, brand| {
        let typed = Typed {
            code: &code,
            error: Some(error),
        };
        respond(status, order_page(language, reservation, brand, typed))
    };
    let now = state.clock.now();
    let throttle_key = format!("pay/{}", peer.ip());
    if let Some(wait) = state.code_misses.blocked_for(&throttle_key, now) {
        let error = language.text("error-throttled", &[("seconds", &wait.to_string())]);
        return refused(StatusCode::TOO_MANY_REQUESTS, error, &reservation, brand);
    }
    let pin = form.pin.trim().to_string();
    if code.is_empty()
        || code.chars().count() > FIELD_CHARS_MAX
        || pin.chars().count() > FIELD_CHARS_MAX
    {
        let error = language.text("error-code-missing", &[]);
        return refused(StatusCode::UNPROCESSABLE_ENTITY, error, &reservation, brand);
    }
    let command = Command::FrontPay {
        reservation_id: id.clone(),
        code: code.clone(),
        pin: (!pin.is_empty()).then_some(pin),
        currency: reservation.currency,
    };
    let answer = submit(
        &state,
        &reservation.tenant_id,
        Actor::Anonymous,
        &rid,
        command,
        None,
        unrendered(),
    )
    .await;
    match answer {
        Answer::Fresh {
            result: Ok(Outcome::FrontReservation(paid)),
            ..
        } => match &paid.success_url {
            Some(url) => Redirect::to(url).into_response(),
            None => {
                let typed = Typed {
                    code: "",
                    error: None,
                };
                respond(StatusCode::OK, order_page(language, &paid, brand, typed))
            }
        },
        Answer::Fresh {
            result: Err(refusal),
            ..
        } => {
            if refusal == DomainError::VoucherNotFound {
                state.code_misses.record(&throttle_key, now);
            }
            let status = match refusal {
                DomainError::Front(FrontRefusal::LinkExpired) => StatusCode::GONE,
                DomainError::Front(FrontRefusal::LinkAlreadyUsed) => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            // Show the reservation as it stands now (it may have been paid meanwhile).
            let current = match load(&state, &id).await {
                Ok(Some((current, _))) => current,
                _ => reservation,
            };
            let error = language.text(refusal_key(&refusal), &[]);
            refused(status, error, &current, brand)
        }
        _ => unavailable(language, &format!("/pay/{id}")),
    }
}

pub async fn pay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    rid: Option<axum::Extension<crate::observe::RequestId>>,
    form: Result<Form<PayForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or(PayForm {
        code: String::new(),
        pin: String::new(),
    });
    let attempt = Attempt {
        id,
        peer,
        request_id: crate::observe::RequestId::of(rid),
        query: PageQuery::from_raw(query),
        headers,
    };
    submit_payment(state, attempt, form).await
}
