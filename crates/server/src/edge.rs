//! The one rule at the edge, before any face reads a request: a path or query that holds the
//! NUL character, a body over the limit, a body that arrives too slowly or cannot be read, and
//! a body whose text holds the NUL character are refused here, each in the envelope of the face
//! the path belongs to ([`crate::faces`]). No text the stores cannot hold (PostgreSQL refuses
//! U+0000 in text) reaches a face, so both stores answer alike; and every face answers 413 for
//! a body over 64 KiB. A body over the limit is read on, up to [`DRAIN_BYTES_MAX`] more, so that
//! a client still sending it reads the 413 instead of a reset connection.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;

use crate::faces::{EdgeRefusal, face_of, refuse};
use crate::wire::{self, REQUEST_BODY_BYTES_MAX};

/// How much of a body past its limit is read (and dropped) before the 413 is sent.
pub const DRAIN_BYTES_MAX: usize = 1024 * 1024;

/// Middleware: applies the rule, then hands the request on with its body read.
pub async fn layer(request: Request, next: Next) -> Response {
    let face = face_of(request.uri().path());
    if uri_holds_nul(request.uri()) {
        return refuse(face, EdgeRefusal::NulCharacter);
    }
    let limit = body_limit(request.method(), request.uri().path());
    let kind = BodyKind::of(
        request.headers().get(header::CONTENT_TYPE),
        request.uri().path(),
    );
    let (parts, body) = request.into_parts();
    match read_bounded(body, limit).await {
        Ok(bytes) if kind.holds_nul(&bytes) => refuse(face, EdgeRefusal::NulCharacter),
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(refusal) => refuse(face, refusal),
    }
}

/// The console's voucher import and the logo uploads take files; every other route takes at
/// most 64 KiB.
fn body_limit(method: &Method, path: &str) -> usize {
    if method == Method::POST && path.starts_with("/admin/") && path.ends_with("/import") {
        crate::console::IMPORT_BYTES_MAX
    } else if (method == Method::POST || method == Method::PUT)
        && path.starts_with("/admin/")
        && path.ends_with("/branding/logo")
    {
        crate::admin::branding::LOGO_REQUEST_BYTES_MAX
    } else {
        REQUEST_BODY_BYTES_MAX
    }
}

/// A path segment or query value that decodes to NUL.
fn uri_holds_nul(uri: &Uri) -> bool {
    let percent_nul = |text: &str| {
        text.as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"%00"))
    };
    percent_nul(uri.path()) || uri.query().is_some_and(percent_nul)
}

/// How NUL is written in a body, by its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// `application/x-www-form-urlencoded`: `%00`.
    Form,
    /// Files (`multipart/*`, `text/*`): only the byte itself.
    File,
    /// JSON, or whatever a face reads as JSON: the escape `\u0000`.
    Json,
    /// An image (a logo, raw or in a form): bytes, where NUL is just a byte.
    Image,
}

impl BodyKind {
    fn of(content_type: Option<&header::HeaderValue>, path: &str) -> BodyKind {
        let text = content_type
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let logo = path.starts_with("/admin/") && path.ends_with("/branding/logo");
        if logo && (text.starts_with("image/") || text.starts_with("multipart/form-data")) {
            BodyKind::Image
        } else if text.starts_with("application/x-www-form-urlencoded") {
            BodyKind::Form
        } else if text.starts_with("multipart/") || text.starts_with("text/") {
            BodyKind::File
        } else {
            BodyKind::Json
        }
    }

    fn holds_nul(self, bytes: &[u8]) -> bool {
        match self {
            BodyKind::Image => false,
            BodyKind::File => bytes.contains(&0),
            BodyKind::Form => {
                bytes.contains(&0) || bytes.windows(3).any(|w| w.eq_ignore_ascii_case(b"%00"))
            }
            BodyKind::Json => bytes.contains(&0) || wire::json_escapes_nul(bytes),
        }
    }
}

/// Reads the body, at most `limit` bytes of it; past that, reads on (dropping) up to
/// [`DRAIN_BYTES_MAX`] more and answers that it is too large.
async fn read_bounded(mut body: Body, limit: usize) -> Result<Bytes, EdgeRefusal> {
    let mut bytes = Vec::new();
    let mut dropped = 0_usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if wire::caused_by::<crate::connections::BodyTooSlow>(&e) {
                EdgeRefusal::TimedOut
            } else {
                EdgeRefusal::Unreadable
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if dropped > 0 || bytes.len() + data.len() > limit {
            dropped += data.len();
            if dropped > DRAIN_BYTES_MAX {
                break;
            }
        } else {
            bytes.extend_from_slice(&data);
        }
    }
    if dropped > 0 {
        return Err(EdgeRefusal::TooLarge);
    }
    Ok(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_as_each_body_writes_it() {
        assert!(BodyKind::Json.holds_nul(br#"{"batch":"a\u0000b"}"#));
        assert!(
            !BodyKind::Json.holds_nul(br#"{"batch":"a\\u0000b"}"#),
            "an escaped backslash"
        );
        assert!(BodyKind::Json.holds_nul(br#"{"batch":"a\\\u0000b"}"#));
        assert!(BodyKind::Form.holds_nul(b"client_id=a%00b"));
        assert!(!BodyKind::Form.holds_nul(b"client_id=a%20b"));
        assert!(!BodyKind::File.holds_nul(b"code;\\u0000;%00"));
        assert!(BodyKind::File.holds_nul(b"code;\0"));
    }

    #[test]
    fn nul_in_a_path_or_query_is_found_in_either_case() {
        let uri = |text: &str| text.parse::<Uri>().expect("uri");
        assert!(uri_holds_nul(&uri("/v1/vouchers/%00")));
        assert!(uri_holds_nul(&uri("/v1/vouchers?code=a%00")));
        assert!(!uri_holds_nul(&uri("/v1/vouchers/%2000")));
        assert!(!uri_holds_nul(&uri("/v1/vouchers?amount=100")));
    }
}
