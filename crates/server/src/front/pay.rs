//! The hosted payment page `/pay/{reservationUuid}`: a server-rendered form that works
//! without JavaScript. The customer sees the merchant, the lines and the total, enters a
//! voucher code (and PIN), and the grand total is held on that voucher: the reservation is
//! confirmed (`RESERVED`). Then the browser goes to `callback.success` if the merchant gave
//! one, or sees the confirmation here. Wrong codes are throttled per address.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use voucherd_domain::DomainError;
use voucherd_domain::front::{FrontRefusal, FrontStatus};
use voucherd_domain::money::format_two_decimals;
use voucherd_store::front::FrontReservationView;
use voucherd_store::{Actor, Command, Outcome};

use crate::AppState;
use crate::submit::{Answer, submit, unrendered};

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

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;\
padding:0 1rem;color:#1d2433}table{width:100%;border-collapse:collapse}td{padding:.4rem 0;\
border-bottom:1px solid #dde}td.amount{text-align:right}tfoot td{font-weight:700;border:0}\
label{display:block;margin-top:1rem}input{font-size:1.1rem;padding:.4rem;width:100%;\
box-sizing:border-box}button{margin-top:1.2rem;font-size:1.1rem;padding:.6rem 1.2rem}\
.error{background:#fde8e8;color:#8a1c1c;padding:.6rem;border-radius:4px}\
.done{background:#e6f6ea;color:#14532d;padding:.6rem;border-radius:4px}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

fn money(minor: i64, r: &FrontReservationView) -> String {
    let currency = r
        .currency
        .map(|c| format!(" {}", c.code()))
        .unwrap_or_default();
    format!("{}{currency}", format_two_decimals(minor))
}

fn summary(r: &FrontReservationView, merchant: &str) -> String {
    let rows: String = r
        .lines
        .iter()
        .filter(|l| l.charge_id.is_none())
        .map(|l| {
            format!(
                "<tr><td>{}</td><td class=\"amount\">{}</td></tr>",
                escape(&l.name),
                money(l.amount_minor, r)
            )
        })
        .collect();
    format!(
        "<h1>{}</h1><p>Reservation <strong id=\"reservation\">{}</strong></p>\
         <table><tbody>{rows}</tbody><tfoot><tr><td>Total</td>\
         <td class=\"amount\" id=\"total\">{}</td></tr></tfoot></table>",
        escape(merchant),
        escape(&r.id),
        money(r.grand_total_minor, r)
    )
}

fn form(r: &FrontReservationView) -> String {
    let back = r
        .failure_url
        .as_deref()
        .map(|url| {
            format!(
                "<p><a href=\"{}\">Cancel and return to the shop</a></p>",
                escape(url)
            )
        })
        .unwrap_or_default();
    format!(
        "<form method=\"post\" action=\"/pay/{}\">\
         <label for=\"code\">Voucher code</label>\
         <input id=\"code\" name=\"code\" autocomplete=\"off\" required maxlength=\"{FIELD_CHARS_MAX}\">\
         <label for=\"pin\">PIN (if your voucher has one)</label>\
         <input id=\"pin\" name=\"pin\" type=\"password\" autocomplete=\"off\" maxlength=\"{FIELD_CHARS_MAX}\">\
         <button type=\"submit\" id=\"pay\">Reserve {}</button></form>{back}",
        escape(&r.id),
        money(r.grand_total_minor, r)
    )
}

fn state_note(r: &FrontReservationView) -> String {
    let text = match r.status {
        FrontStatus::Sent => return String::new(),
        FrontStatus::Expired => "This payment link has expired.",
        FrontStatus::Cancelled => "This reservation was cancelled.",
        FrontStatus::Completed => "This reservation is completed.",
        FrontStatus::Reserved | FrontStatus::Captured | FrontStatus::Charged => {
            "Thank you: the amount is reserved on your voucher."
        }
    };
    let class = if r.status == FrontStatus::Expired || r.status == FrontStatus::Cancelled {
        "error"
    } else {
        "done"
    };
    format!(
        "<p class=\"{class}\" id=\"status\" data-status=\"{}\">{text}</p>",
        r.status.wire()
    )
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
        ),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        document(
            "Payment link not found",
            "<h1>Payment link not found</h1><p class=\"error\">This payment link does not exist.</p>",
        ),
    )
}

fn unavailable() -> Response {
    let mut r = html(
        StatusCode::SERVICE_UNAVAILABLE,
        document(
            "Please try again",
            "<h1>Please try again</h1><p class=\"error\">The payment service is busy. Please try again in a moment.</p>",
        ),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// The page for a reservation as it stands, with an optional error above the form.
fn render(
    r: &FrontReservationView,
    merchant: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let form = if r.status == FrontStatus::Sent {
        form(r)
    } else {
        String::new()
    };
    let error = error
        .map(|e| {
            format!(
                "<p class=\"error\" id=\"error\" role=\"alert\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let body = format!("{}{error}{}{form}", summary(r, merchant), state_note(r));
    html(status, document(&format!("Pay {merchant}"), &body))
}

async fn load(state: &AppState, id: &str) -> Result<(FrontReservationView, String), Response> {
    let found = state
        .store
        .front_reservation(None, id, state.clock.now())
        .await
        .map_err(|_| unavailable())?;
    let reservation = found.ok_or_else(not_found)?;
    let merchant = state
        .store
        .tenant(&reservation.tenant_id)
        .await
        .map_err(|_| unavailable())?
        .map(|t| t.name)
        .unwrap_or_default();
    Ok((reservation, merchant))
}

fn request_id(request_id: Option<axum::Extension<crate::observe::RequestId>>) -> String {
    request_id.map(|r| r.0.0.clone()).unwrap_or_default()
}

pub async fn page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    rid: Option<axum::Extension<crate::observe::RequestId>>,
) -> Response {
    let (reservation, merchant) = match load(&state, &id).await {
        Ok(found) => found,
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
    render(&reservation, &merchant, None, StatusCode::OK)
}

fn refusal_text(refusal: &DomainError) -> &'static str {
    match refusal {
        DomainError::VoucherNotFound => "The voucher code or PIN is not correct.",
        DomainError::InsufficientBalance => {
            "The available balance of this voucher is too low for this payment."
        }
        DomainError::VoucherInactive => "This voucher is not active.",
        DomainError::VoucherExpired => "This voucher has expired.",
        DomainError::CurrencyMismatch => "This voucher cannot pay in this currency.",
        DomainError::Front(FrontRefusal::LinkExpired) => "This payment link has expired.",
        DomainError::Front(FrontRefusal::LinkAlreadyUsed) => {
            "This reservation was already paid or closed."
        }
        _ => "This payment could not be made.",
    }
}

pub async fn submit_payment(
    state: AppState,
    id: String,
    peer: SocketAddr,
    rid: String,
    form: PayForm,
) -> Response {
    let (reservation, merchant) = match load(&state, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let now = state.clock.now();
    let throttle_key = format!("pay/{}", peer.ip());
    if let Some(wait) = state.code_misses.blocked_for(&throttle_key, now) {
        let message = format!("Too many wrong codes. Please try again in {wait} seconds.");
        return render(
            &reservation,
            &merchant,
            Some(&message),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let code = form.code.trim().to_string();
    let pin = form.pin.trim().to_string();
    if code.is_empty()
        || code.chars().count() > FIELD_CHARS_MAX
        || pin.chars().count() > FIELD_CHARS_MAX
    {
        return render(
            &reservation,
            &merchant,
            Some("Please enter the code of your voucher."),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let command = Command::FrontPay {
        reservation_id: id.clone(),
        code,
        pin: (!pin.is_empty()).then_some(pin),
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
            None => render(&paid, &merchant, None, StatusCode::OK),
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
            let current = load(&state, &id)
                .await
                .map(|(r, _)| r)
                .unwrap_or(reservation);
            render(&current, &merchant, Some(refusal_text(&refusal)), status)
        }
        _ => unavailable(),
    }
}

pub async fn pay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    rid: Option<axum::Extension<crate::observe::RequestId>>,
    form: Result<Form<PayForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or(PayForm {
        code: String::new(),
        pin: String::new(),
    });
    submit_payment(state, id, peer, request_id(rid), form).await
}
