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

pub mod language;

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Form, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use voucherd_domain::DomainError;
use voucherd_domain::front::{FrontRefusal, FrontStatus};
use voucherd_domain::money::format_two_decimals;
use voucherd_store::front::FrontReservationView;
use voucherd_store::{Actor, Command, Outcome};

use crate::AppState;
use crate::submit::{Answer, submit, unrendered};
use language::{Language, negotiate};

/// The longest code or PIN the form takes.
const FIELD_CHARS_MAX: usize = 128;
/// The page's colour when the shop sets none.
const BRAND_COLOUR_DEFAULT: &str = "#1f4fbf";

const STYLE: &str = include_str!("../../../assets/pay/page.css");

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
    fn has_footer(&self) -> bool {
        self.support.is_some() || self.terms_url.is_some() || self.privacy_url.is_some()
    }
}

/// A language in the switcher.
pub struct LanguageLink {
    tag: &'static str,
    name: &'static str,
    href: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "pay/page.html")]
struct Page {
    lang: Language,
    nonce: String,
    style: &'static str,
    brand: Brand,
    languages: Vec<LanguageLink>,
    title: String,
    heading: String,
    /// Instead of the order: a page that only says this (link not found, busy).
    message: Option<String>,
    reference: String,
    lines: Vec<(String, String)>,
    total: String,
    /// The outcome so far: class (`done`, `stopped`), status word, text.
    note: Option<(&'static str, &'static str, String)>,
    open: bool,
    action: String,
    error: Option<String>,
    code: String,
    field_max: usize,
    pay_label: String,
    cancel_url: Option<String>,
}

impl Page {
    fn t(&self, key: &str) -> String {
        self.lang.text(key, &[])
    }

    fn t_with(&self, key: &str, name: &str, value: &str) -> String {
        self.lang.text(key, &[(name, value)])
    }
}

/// The amount in the reservation's currency as the language writes it; before the currency is
/// known (it is the paying voucher's), the plain decimal.
fn money(language: Language, minor: i64, r: &FrontReservationView) -> String {
    match r.currency {
        Some(currency) => language.money(minor, currency),
        None => format_two_decimals(minor),
    }
}

fn headers_for(mut response: Response, nonce: &str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let policy = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self'; \
         form-action 'self' http: https:; base-uri 'none'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

fn respond(status: StatusCode, page: Page) -> Response {
    let nonce = page.nonce.clone();
    match page.render() {
        Ok(body) => headers_for((status, Html(body)).into_response(), &nonce),
        Err(error) => {
            tracing::error!(%error, "the payment page did not render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The switcher's links: this page in each language.
fn language_links(path: &str, current: Language) -> Vec<LanguageLink> {
    Language::ALL
        .iter()
        .map(|l| LanguageLink {
            tag: l.tag(),
            name: l.own_name(),
            href: format!("{path}?lang={}", l.tag()),
            current: *l == current,
        })
        .collect()
}

/// A page with no order on it, only a heading and a message.
fn bare(language: Language, path: &str, brand: Brand, (title, text): (&str, &str)) -> Page {
    Page {
        lang: language,
        nonce: voucherd_domain::secret::opaque_id(),
        style: STYLE,
        brand,
        languages: language_links(path, language),
        title: language.text(title, &[]),
        heading: language.text(title, &[]),
        message: Some(language.text(text, &[])),
        reference: String::new(),
        lines: Vec::new(),
        total: String::new(),
        note: None,
        open: false,
        action: String::new(),
        error: None,
        code: String::new(),
        field_max: FIELD_CHARS_MAX,
        pay_label: String::new(),
        cancel_url: None,
    }
}

fn plain_brand() -> Brand {
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

fn not_found(language: Language, path: &str) -> Response {
    respond(
        StatusCode::NOT_FOUND,
        bare(
            language,
            path,
            plain_brand(),
            ("not-found-title", "not-found-text"),
        ),
    )
}

fn unavailable(language: Language, path: &str) -> Response {
    let mut r = respond(
        StatusCode::SERVICE_UNAVAILABLE,
        bare(language, path, plain_brand(), ("busy-title", "busy-text")),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// The outcome a reservation's status shows, if it is no longer open.
fn state_note(
    language: Language,
    r: &FrontReservationView,
) -> Option<(&'static str, &'static str, String)> {
    let (class, key) = match r.status {
        FrontStatus::Sent => return None,
        FrontStatus::Expired => ("stopped", "status-expired"),
        FrontStatus::Cancelled => ("stopped", "status-cancelled"),
        FrontStatus::Completed => ("done", "status-completed"),
        FrontStatus::Reserved | FrontStatus::Captured | FrontStatus::Charged => {
            ("done", "status-paid")
        }
    };
    let amount = money(language, r.grand_total_minor, r);
    Some((
        class,
        r.status.wire(),
        language.text(key, &[("amount", &amount)]),
    ))
}

/// What the customer typed, shown again after a refusal (never the PIN).
struct Typed<'a> {
    code: &'a str,
    error: Option<String>,
}

/// The page for a reservation as it stands.
fn order_page(
    language: Language,
    r: &FrontReservationView,
    brand: Brand,
    typed: Typed<'_>,
) -> Page {
    let path = format!("/pay/{}", r.id);
    let merchant = brand.name.clone();
    let lines = r
        .lines
        .iter()
        .filter(|l| l.charge_id.is_none())
        .map(|l| (l.name.clone(), money(language, l.amount_minor, r)))
        .collect();
    let total = money(language, r.grand_total_minor, r);
    let note = state_note(language, r);
    let heading = match &note {
        Some(("done", _, _)) if r.status != FrontStatus::Completed => {
            language.text("paid-heading", &[])
        }
        _ => language.text("page-title", &[("merchant", &merchant)]),
    };
    Page {
        lang: language,
        nonce: voucherd_domain::secret::opaque_id(),
        style: STYLE,
        languages: language_links(&path, language),
        title: language.text("page-title", &[("merchant", &merchant)]),
        heading,
        message: None,
        reference: r.id.clone(),
        lines,
        pay_label: language.text("pay-button", &[("amount", &total)]),
        total,
        note,
        open: r.status == FrontStatus::Sent,
        action: format!("{path}?lang={}", language.tag()),
        error: typed.error,
        code: typed.code.to_string(),
        field_max: FIELD_CHARS_MAX,
        cancel_url: r.failure_url.clone(),
        brand,
    }
}

/// Black or white: whichever has the higher contrast against `#rrggbb` (at least 4.58:1, as
/// one of the two always has).
fn text_colour_on(colour: &str) -> &'static str {
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

/// The logo of the reservation's shop, as uploaded; 404 when it has none.
pub async fn logo(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let found = state
        .store
        .front_reservation(None, &id, state.clock.now())
        .await;
    let Ok(Some(reservation)) = found else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match state.store.logo(&reservation.tenant_id).await {
        Ok(Some(logo)) => {
            let mut response = logo.bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(logo.content_type),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            );
            headers.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            response
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
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

fn request_id(request_id: Option<axum::Extension<crate::observe::RequestId>>) -> String {
    request_id.map(|r| r.0.0.clone()).unwrap_or_default()
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
            &request_id(rid),
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
        request_id: request_id(rid),
        query: PageQuery::from_raw(query),
        headers,
    };
    submit_payment(state, attempt, form).await
}
