//! Wire helpers every face shares: reading a bounded body (telling a too slow client from a
//! broken one), the `Idempotency-Key` header, the request digest, the one timestamp format, the
//! bearer token of an `Authorization` header, and the two-decimal money text and RFC 3339 times
//! that the JTL face, the admin API and the console read.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::Digest;
use time::OffsetDateTime;
use time::macros::format_description;

/// The largest request body accepted, on every face.
pub const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024;
/// The most integer digits a two-decimal money text may have (999999.99 at most).
pub const AMOUNT_INTEGER_DIGITS_MAX: usize = 6;
/// The longest `Idempotency-Key`.
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    Unreadable,
    /// The client sent the body too slowly ([`crate::connections`] sets the pace).
    TimedOut,
}

/// Reads the whole body, refusing more than [`REQUEST_BODY_BYTES_MAX`] bytes.
pub async fn read_body(body: Body) -> Result<Bytes, BodyError> {
    axum::body::to_bytes(body, REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|e| {
            if caused_by::<http_body_util::LengthLimitError>(&e) {
                BodyError::TooLarge
            } else if caused_by::<crate::connections::BodyTooSlow>(&e) {
                BodyError::TimedOut
            } else {
                BodyError::Unreadable
            }
        })
}

/// Whether JSON text holds the escape `\u0000` (NUL): a `\` that is not itself escaped,
/// followed by `u0000`.
pub fn json_escapes_nul(bytes: &[u8]) -> bool {
    let pattern = b"\\u0000";
    (0..bytes.len().saturating_sub(pattern.len() - 1))
        .filter(|&i| bytes[i..].starts_with(pattern))
        .any(|i| {
            let backslashes = bytes[..=i]
                .iter()
                .rev()
                .take_while(|&&b| b == b'\\')
                .count();
            backslashes % 2 == 1
        })
}

/// Whether `error` or one of its sources is an `E`.
pub fn caused_by<E: std::error::Error + 'static>(
    error: &(dyn std::error::Error + 'static),
) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<E>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// A write request's body and what idempotency needs of it, before any face parses it.
pub struct WriteRequest {
    pub bytes: Bytes,
    pub request_id: String,
    /// The `Idempotency-Key` and the digest of the request it came with.
    pub idempotency: Option<(String, String)>,
}

/// Why a write request could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteRequestError {
    KeyInvalid,
    Body(BodyError),
}

/// Reads a write request: its `Idempotency-Key`, its bounded body, its request id.
pub async fn read_write_request(request: Request) -> Result<WriteRequest, WriteRequestError> {
    let (parts, body) = request.into_parts();
    let request_id = parts
        .extensions
        .get::<crate::observe::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let key = idempotency_key(&parts.headers).map_err(|()| WriteRequestError::KeyInvalid)?;
    let bytes = read_body(body).await.map_err(WriteRequestError::Body)?;
    let idempotency = key.map(|key| {
        let digest = request_digest(parts.method.as_str(), parts.uri.path(), &bytes);
        (key, digest)
    });
    Ok(WriteRequest {
        bytes,
        request_id,
        idempotency,
    })
}

/// The `Idempotency-Key` header: absent, valid (1–255 visible ASCII characters), or invalid.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ()> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty()
        || bytes.len() > IDEMPOTENCY_KEY_CHARS_MAX
        || !bytes.iter().all(|b| (0x21..=0x7e).contains(b))
    {
        return Err(());
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// What makes two requests "the same" for idempotency: method, path and body.
pub fn request_digest(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SS+00:00`, in UTC, as the JTL documents show every time.
pub fn timestamp(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Money written `^\d{1,6}\.\d{2}$` (the JTL face's and the console's syntax), as minor units.
pub fn parse_money(text: &str) -> Option<i64> {
    let (whole, cents) = text.split_once('.')?;
    if whole.len() > AMOUNT_INTEGER_DIGITS_MAX || cents.len() != 2 {
        return None;
    }
    voucherd_domain::money::parse_decimal(text, 2).ok()
}

/// An RFC 3339 date-time. A space where the offset's `+` belongs is read as `+`: an unencoded
/// `+` in a query string arrives as a space.
pub fn parse_datetime(text: &str) -> Option<time::OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .or_else(|| {
            let (head, tail) = text.rsplit_once(' ')?;
            time::OffsetDateTime::parse(&format!("{head}+{tail}"), &Rfc3339).ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_are_utc_with_a_numeric_offset() {
        assert_eq!(
            timestamp(datetime!(2017-07-21 19:32:28.9 +02:00)),
            "2017-07-21T17:32:28+00:00"
        );
    }

    #[test]
    fn idempotency_keys_must_be_visible_ascii() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers), Ok(None));
        headers.insert("idempotency-key", "abc-123".parse().expect("header"));
        assert_eq!(idempotency_key(&headers), Ok(Some("abc-123".into())));
        headers.insert("idempotency-key", "has space".parse().expect("header"));
        assert_eq!(idempotency_key(&headers), Err(()));
        headers.insert("idempotency-key", "k".repeat(256).parse().expect("header"));
        assert_eq!(idempotency_key(&headers), Err(()));
    }
}
