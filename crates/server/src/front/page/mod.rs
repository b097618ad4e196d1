//! The hosted payment page `/pay/{reservationUuid}`: a server-rendered form that works without
//! JavaScript, laid out for phones first. The customer sees the shop, the lines and the total
//! with their currency, in their language ([`language`]), enters a voucher code (and PIN), and
//! the grand total is held on that voucher: the reservation is confirmed (`RESERVED`). When the
//! voucher does not cover the total, the page shows what it covers and what is left, and the
//! customer adds another ([`form`]), up to five; the total is then held on all of them together.
//! Then the browser goes to `callback.success` if the merchant gave one, or sees the
//! confirmation here. Wrong codes are throttled per address.
//!
//! Every text comes from the language's message catalogue. The page loads nothing from
//! elsewhere: its style is inline under a per-response nonce, and the content security policy
//! allows nothing else.

mod brand;
mod form;
pub mod language;
mod render;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use voucherd_domain::DomainError;
use voucherd_domain::front::{FrontRefusal, FrontStatus, PAYING_VOUCHERS_MAX};
use voucherd_store::front::FrontReservationView;
use voucherd_store::{Actor, Command, Outcome};

use crate::AppState;
use crate::submit::{Answer, submit, unrendered};
use brand::{BRAND_COLOUR_DEFAULT, Brand, text_colour_on};
pub use brand::{logo, logo_response};
use form::{Added, FormProblem, PayForm};
use language::{Language, negotiate};
use render::{Typed, not_found, order_page, respond, unavailable};

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
    respond(
        StatusCode::OK,
        order_page(language, &reservation, brand, Typed::default()),
    )
}

/// The catalogue key of the text a refusal shows.
fn refusal_key(refusal: &DomainError) -> &'static str {
    match refusal {
        DomainError::VoucherNotFound => "error-not-found",
        DomainError::InsufficientBalance | DomainError::VouchersShort { .. } => {
            "error-insufficient"
        }
        DomainError::VoucherInactive => "error-inactive",
        DomainError::VoucherExpired => "error-expired",
        DomainError::CurrencyMismatch => "error-currency",
        DomainError::Front(FrontRefusal::LinkExpired) => "error-link-expired",
        DomainError::Front(FrontRefusal::LinkAlreadyUsed) => "error-already-paid",
        DomainError::Front(FrontRefusal::VoucherRepeated) => "error-repeated",
        DomainError::Front(FrontRefusal::VoucherCountInvalid) => "error-too-many",
        DomainError::PayingVoucher { refusal, .. } => refusal_key(refusal),
        _ => "error-other",
    }
}

/// The text a refusal shows.
fn refusal_text(language: Language, refusal: &DomainError) -> String {
    let count = PAYING_VOUCHERS_MAX.to_string();
    language.text(refusal_key(refusal), &[("count", &count)])
}

/// The text of a form that cannot be tried as sent.
fn problem_text(language: Language, problem: &FormProblem) -> String {
    let refusal = match problem {
        FormProblem::CodeMissing | FormProblem::TooLong => {
            return language.text("error-code-missing", &[]);
        }
        FormProblem::Repeated => DomainError::Front(FrontRefusal::VoucherRepeated),
        FormProblem::TooMany => DomainError::Front(FrontRefusal::VoucherCountInvalid),
    };
    refusal_text(language, &refusal)
}

/// One payment attempt: who asked, in which language.
struct Attempt {
    id: String,
    peer: SocketAddr,
    request_id: String,
    query: PageQuery,
    headers: HeaderMap,
}

/// What the page shows after a try that did not pay: the vouchers added so far, the code typed
/// (kept when it is the one to correct), an error, or the note that more is to pay.
struct Retry {
    status: StatusCode,
    added: Vec<Added>,
    code: String,
    error: Option<String>,
    short: bool,
}

/// The page after a refusal of the ledger: which voucher it concerns decides what is kept.
fn after_refusal(
    language: Language,
    refusal: &DomainError,
    form: PayForm,
    given: &[voucherd_domain::front::PayingVoucher],
) -> Retry {
    let typed = given.len() - 1;
    let status = match refusal {
        DomainError::Front(FrontRefusal::LinkExpired) => StatusCode::GONE,
        DomainError::Front(FrontRefusal::LinkAlreadyUsed) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    match refusal {
        // Short of the total: every voucher that covers something is kept; the one typed now
        // covering nothing is an error on its field.
        DomainError::VouchersShort { covers_minor } => {
            let added: Vec<Added> = given
                .iter()
                .zip(covers_minor)
                .filter(|(_, covers)| **covers > 0)
                .map(|(voucher, covers)| Added {
                    voucher: voucher.clone(),
                    covers_minor: *covers,
                })
                .collect();
            if covers_minor.get(typed).copied().unwrap_or(0) == 0 {
                Retry {
                    status,
                    added,
                    code: form.code,
                    error: Some(refusal_text(language, refusal)),
                    short: false,
                }
            } else {
                Retry {
                    status: StatusCode::OK,
                    added,
                    code: String::new(),
                    error: None,
                    short: true,
                }
            }
        }
        // A voucher added earlier that no longer pays is dropped and named.
        DomainError::PayingVoucher { position, refusal } if *position < typed => {
            let mut added = form.added;
            let dropped = added.remove(*position);
            let reason = refusal_text(language, refusal);
            let error = language.text(
                "error-added-voucher",
                &[("code", &dropped.masked()), ("reason", &reason)],
            );
            Retry {
                status,
                added,
                code: form.code,
                error: Some(error),
                short: false,
            }
        }
        _ => Retry {
            status,
            added: form.added,
            code: form.code,
            error: Some(refusal_text(language, refusal)),
            short: false,
        },
    }
}

/// Whether a refusal was an unknown code or wrong PIN, which the throttle counts.
fn missed_code(refusal: &DomainError) -> bool {
    match refusal {
        DomainError::VoucherNotFound => true,
        DomainError::PayingVoucher { refusal, .. } => missed_code(refusal),
        _ => false,
    }
}

async fn submit_payment(state: AppState, attempt: Attempt, form: PayForm) -> Response {
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
    let show = |retry: Retry, reservation: &FrontReservationView, brand| {
        let typed = Typed {
            code: &retry.code,
            error: retry.error,
            added: &retry.added,
            short: retry.short,
        };
        respond(
            retry.status,
            order_page(language, reservation, brand, typed),
        )
    };
    let now = state.clock.now();
    let throttle_key = format!("pay/{}", peer.ip());
    if let Some(wait) = state.code_misses.blocked_for(&throttle_key, now) {
        let error = language.text("error-throttled", &[("seconds", &wait.to_string())]);
        let retry = Retry {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: form.code,
            added: form.added,
            error: Some(error),
            short: false,
        };
        return show(retry, &reservation, brand);
    }
    let vouchers = match form.vouchers() {
        Ok(vouchers) => vouchers,
        Err(problem) => {
            let retry = Retry {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                error: Some(problem_text(language, &problem)),
                code: form.code,
                added: form.added,
                short: false,
            };
            return show(retry, &reservation, brand);
        }
    };
    let command = Command::FrontPay {
        reservation_id: id.clone(),
        vouchers: vouchers.clone(),
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
            None => respond(
                StatusCode::OK,
                order_page(language, &paid, brand, Typed::default()),
            ),
        },
        Answer::Fresh {
            result: Err(refusal),
            ..
        } => {
            if missed_code(&refusal) {
                state.code_misses.record(&throttle_key, now);
            }
            // Show the reservation as it stands now (it may have been paid meanwhile).
            let current = match load(&state, &id).await {
                Ok(Some((current, _))) => current,
                _ => reservation,
            };
            let retry = after_refusal(language, &refusal, form, &vouchers);
            show(retry, &current, brand)
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
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form
        .map(|Form(fields)| PayForm::from_fields(fields))
        .unwrap_or_default();
    let attempt = Attempt {
        id,
        peer,
        request_id: crate::observe::RequestId::of(rid),
        query: PageQuery::from_raw(query),
        headers,
    };
    submit_payment(state, attempt, form).await
}
