//! The payment page's HTML: the template's data for an order in a language (lines, total,
//! outcome, form, switcher), the bare pages (link not found, busy), and the security headers
//! every page answers with.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use voucherd_domain::front::{FrontStatus, PAYING_VOUCHERS_MAX};
use voucherd_domain::money::format_two_decimals;
use voucherd_store::front::FrontReservationView;

use super::brand::{Brand, plain_brand};
use super::form::{Added, FIELD_CHARS_MAX, bulleted};
use super::language::Language;

const STYLE: &str = include_str!("../../../assets/pay/page.css");

/// A voucher added on an earlier try: shown with what it covers, and sent again in hidden
/// fields.
pub struct AddedRow {
    masked: String,
    covers: String,
    code: String,
    pin: String,
    covers_minor: i64,
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
pub(super) struct Page {
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
    /// The vouchers added so far, what they leave to pay, and whether to say so.
    added: Vec<AddedRow>,
    still: String,
    short: Option<String>,
    /// Whether another voucher may be added (fewer than the most one order takes).
    more: bool,
    code_label: String,
    /// This page without anything typed: to start over.
    start_over: String,
    /// After paying with several vouchers: each one's part.
    paid_with: Vec<(String, String)>,
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

pub(super) fn respond(status: StatusCode, page: Page) -> Response {
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
        added: Vec::new(),
        still: String::new(),
        short: None,
        more: true,
        code_label: String::new(),
        start_over: path.to_string(),
        paid_with: Vec::new(),
    }
}

pub fn not_found(language: Language, path: &str) -> Response {
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

pub fn unavailable(language: Language, path: &str) -> Response {
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

/// What the customer typed, shown again after a try that did not pay: the code to correct (never
/// its PIN), the error, and the vouchers added so far, with whether to say that more is to pay.
#[derive(Default)]
pub struct Typed<'a> {
    pub code: &'a str,
    pub error: Option<String>,
    pub added: &'a [Added],
    pub short: bool,
}

/// The page for a reservation as it stands.
pub fn order_page(
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
    let covered: i64 = typed.added.iter().map(|a| a.covers_minor).sum();
    let left = money(language, r.grand_total_minor - covered, r);
    let short = typed.short.then(|| {
        let covered = money(language, covered, r);
        language.text("short-note", &[("covered", &covered), ("left", &left)])
    });
    let added = typed
        .added
        .iter()
        .map(|a| AddedRow {
            masked: a.masked(),
            covers: money(language, a.covers_minor, r),
            code: a.voucher.code.clone(),
            pin: a.voucher.pin.clone().unwrap_or_default(),
            covers_minor: a.covers_minor,
        })
        .collect();
    let paid_with = if r.vouchers.len() > 1 {
        r.vouchers
            .iter()
            .map(|v| {
                let part = v.held_minor + v.captured_minor;
                (bulleted(&v.masked_code), money(language, part, r))
            })
            .collect()
    } else {
        Vec::new()
    };
    let code_label = if typed.added.is_empty() {
        language.text("code-label", &[])
    } else {
        language.text("code-label-more", &[])
    };
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
        more: typed.added.len() < PAYING_VOUCHERS_MAX,
        added,
        still: left,
        short,
        code_label,
        start_over: format!("{path}?lang={}", language.tag()),
        paid_with,
        brand,
    }
}
