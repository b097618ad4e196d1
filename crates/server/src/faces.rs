//! Which face a request path belongs to, and the refusals every face answers before its own
//! code runs, each in that face's envelope: too many requests (the per-address limit), a body
//! over the limit, a body that arrived too slowly or could not be read, and text the ledger
//! cannot hold ([`crate::edge`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::admin::AdminError;
use crate::jtl::error::JtlError;

/// The face a path belongs to, for the shape of its refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Jtl,
    Front,
    Bleepay,
    AdminApi,
    /// HTML pages: the console and the payment page.
    Page,
    Operations,
}

pub fn face_of(path: &str) -> Face {
    if path.starts_with("/v1/") || path.starts_with("/oauth/") {
        Face::Jtl
    } else if path.starts_with("/api/v1/connect/") {
        Face::Front
    } else if path.starts_with("/pay/") {
        Face::Page
    } else if path.starts_with("/api/") {
        Face::Bleepay
    } else if path.starts_with("/admin/api/") {
        Face::AdminApi
    } else if path == "/admin" || path.starts_with("/admin/") {
        Face::Page
    } else {
        Face::Operations
    }
}

/// Why a request is refused at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeRefusal {
    /// The caller's address is over its limit; try again after this many seconds.
    TooManyRequests(u64),
    /// The body is over the limit.
    TooLarge,
    /// The body did not arrive within the client timeout.
    TimedOut,
    /// The body could not be read.
    Unreadable,
    /// A path segment, query value or body holds the NUL character, which no text may.
    NulCharacter,
}

const NUL_MESSAGE: &str = "Text may not contain the NUL character (U+0000).";
const TOO_LARGE_MESSAGE: &str = "The request body may not exceed 64 KiB.";
const TIMED_OUT_MESSAGE: &str = "The request body was not received in time.";
const UNREADABLE_MESSAGE: &str = "The request body could not be read.";

/// The refusal in the face's envelope.
pub fn refuse(face: Face, refusal: EdgeRefusal) -> Response {
    let mut response = match face {
        Face::Jtl => jtl(refusal),
        Face::Front => front(refusal),
        Face::Bleepay => bleepay(refusal),
        Face::AdminApi => admin(refusal).into_response(),
        Face::Page => page(refusal),
        Face::Operations => operations(refusal),
    };
    if let EdgeRefusal::TooManyRequests(wait) = refusal {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    response
}

fn status(refusal: EdgeRefusal) -> StatusCode {
    match refusal {
        EdgeRefusal::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
        EdgeRefusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        EdgeRefusal::TimedOut => StatusCode::REQUEST_TIMEOUT,
        EdgeRefusal::Unreadable | EdgeRefusal::NulCharacter => StatusCode::BAD_REQUEST,
    }
}

fn jtl(refusal: EdgeRefusal) -> Response {
    match refusal {
        EdgeRefusal::TooManyRequests(wait) => JtlError::TooManyRequests(wait),
        EdgeRefusal::TooLarge => JtlError::TooLarge,
        EdgeRefusal::TimedOut => JtlError::RequestTimeout,
        EdgeRefusal::Unreadable => JtlError::BadRequest("REQUEST.BODY", UNREADABLE_MESSAGE),
        EdgeRefusal::NulCharacter => JtlError::BadRequest("REQUEST.NUL_CHARACTER", NUL_MESSAGE),
    }
    .into_response()
}

fn front(refusal: EdgeRefusal) -> Response {
    use crate::front::envelope::{error, invalid, stored, too_many_requests};
    match refusal {
        EdgeRefusal::TooManyRequests(wait) => too_many_requests(wait),
        EdgeRefusal::TooLarge => stored(error(
            413,
            "payloadTooLarge",
            vec![TOO_LARGE_MESSAGE.into()],
        )),
        EdgeRefusal::TimedOut => stored(error(408, "requestTimeout", Vec::new())),
        EdgeRefusal::Unreadable => stored(invalid(vec![UNREADABLE_MESSAGE.into()])),
        EdgeRefusal::NulCharacter => stored(invalid(vec![NUL_MESSAGE.into()])),
    }
}

fn bleepay(refusal: EdgeRefusal) -> Response {
    use crate::bleepay::reply::{error, stored, too_many};
    match refusal {
        EdgeRefusal::TooManyRequests(wait) => too_many(wait, "Too many requests."),
        EdgeRefusal::TooLarge => stored(error(413, "payload_too_large", TOO_LARGE_MESSAGE)),
        EdgeRefusal::TimedOut => stored(error(408, "request_timeout", TIMED_OUT_MESSAGE)),
        EdgeRefusal::Unreadable => stored(error(400, "validation_failed", UNREADABLE_MESSAGE)),
        EdgeRefusal::NulCharacter => stored(error(400, "validation_failed", NUL_MESSAGE)),
    }
}

fn admin(refusal: EdgeRefusal) -> AdminError {
    match refusal {
        EdgeRefusal::TooManyRequests(wait) => AdminError::too_many_requests(wait),
        EdgeRefusal::TooLarge => AdminError::new(status(refusal), "too_large", TOO_LARGE_MESSAGE),
        EdgeRefusal::TimedOut => {
            AdminError::new(status(refusal), "request_timeout", TIMED_OUT_MESSAGE)
        }
        EdgeRefusal::Unreadable => {
            AdminError::new(status(refusal), "unreadable", UNREADABLE_MESSAGE)
        }
        EdgeRefusal::NulCharacter => AdminError::new(status(refusal), "nul_character", NUL_MESSAGE),
    }
}

fn page(refusal: EdgeRefusal) -> Response {
    let text = match refusal {
        EdgeRefusal::TooManyRequests(wait) => {
            format!("Too many requests from this address. Try again in {wait} seconds.")
        }
        EdgeRefusal::TooLarge => TOO_LARGE_MESSAGE.to_string(),
        EdgeRefusal::TimedOut => TIMED_OUT_MESSAGE.to_string(),
        EdgeRefusal::Unreadable => UNREADABLE_MESSAGE.to_string(),
        EdgeRefusal::NulCharacter => NUL_MESSAGE.to_string(),
    };
    let title = status(refusal).canonical_reason().unwrap_or("Refused");
    let html = format!("<!doctype html><title>{title}</title><p>{text}</p>");
    (status(refusal), Html(html)).into_response()
}

fn operations(refusal: EdgeRefusal) -> Response {
    match refusal {
        EdgeRefusal::TooManyRequests(_) => crate::ops::too_many_requests(),
        EdgeRefusal::TooLarge => {
            crate::ops::refusal(status(refusal), "REQUEST.TOO_LARGE", TOO_LARGE_MESSAGE)
        }
        EdgeRefusal::TimedOut => {
            crate::ops::refusal(status(refusal), "REQUEST.TIMEOUT", TIMED_OUT_MESSAGE)
        }
        EdgeRefusal::Unreadable => {
            crate::ops::refusal(status(refusal), "REQUEST.BODY", UNREADABLE_MESSAGE)
        }
        EdgeRefusal::NulCharacter => {
            crate::ops::refusal(status(refusal), "REQUEST.NUL_CHARACTER", NUL_MESSAGE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_face_is_told_apart_by_its_path() {
        assert_eq!(face_of("/v1/reservations"), Face::Jtl);
        assert_eq!(face_of("/oauth/token"), Face::Jtl);
        assert_eq!(face_of("/api/v1/connect/reservations/create"), Face::Front);
        assert_eq!(face_of("/pay/abc"), Face::Page);
        assert_eq!(face_of("/api/v1/vouchers/contexts"), Face::Bleepay);
        assert_eq!(face_of("/admin/api/v1/tenants"), Face::AdminApi);
        assert_eq!(face_of("/admin/"), Face::Page);
        assert_eq!(face_of("/admin"), Face::Page);
        assert_eq!(face_of("/healthz"), Face::Operations);
    }
}
