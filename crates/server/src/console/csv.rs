//! JTL's semicolon CSV of vouchers (`custom_id;code;pin;batch;amount;taxable;tax_rate;currency;
//! status;type;validity_value;validity_interval;sku;valid_until`), written as a stream in key
//! order so that an export of any size never sits in memory.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use time::format_description::well_known::Rfc3339;
use voucherd_domain::money::format_two_decimals;
use voucherd_store::Store;
use voucherd_store::model::VoucherView;

use crate::clock::Clock;

/// The header line.
pub const HEADER: &str = "custom_id;code;pin;batch;amount;taxable;tax_rate;currency;status;type;validity_value;validity_interval;sku;valid_until";
/// Vouchers read per query while streaming.
const ROWS_PER_READ: i64 = 1_000;

/// A field, quoted when it holds a separator, a quote or a line break.
fn field(text: &str) -> String {
    if text.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// One voucher as a CSV line (with its line break).
pub fn line(v: &VoucherView) -> String {
    let fields = [
        field(&v.id),
        field(&v.code),
        field(v.pin.as_deref().unwrap_or_default()),
        field(v.batch.as_deref().unwrap_or_default()),
        format_two_decimals(v.amount_minor),
        (if v.taxable { "1" } else { "0" }).to_string(),
        field(v.tax_rate.as_deref().unwrap_or_default()),
        v.currency.code(),
        v.status.as_str().to_string(),
        v.kind.as_str().to_string(),
        v.validity.value.to_string(),
        v.validity.interval.as_str().to_string(),
        field(v.sku.as_deref().unwrap_or_default()),
        v.valid_until
            .and_then(|at| at.format(&Rfc3339).ok())
            .unwrap_or_default(),
    ];
    let mut text = fields.join(";");
    text.push('\n');
    text
}

/// Streams the vouchers of a tenant (or of one series) as a CSV download named `filename`.
pub fn download(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tenant_id: String,
    series_id: Option<String>,
    filename: &str,
) -> Response {
    let start = (store, clock, tenant_id, series_id, 0_i64, false);
    let body = futures_util::stream::unfold(
        start,
        |(store, clock, tenant, series, after, finished)| async move {
            if finished {
                return None;
            }
            let first = after == 0;
            let rows = store
                .vouchers_after(
                    &tenant,
                    series.as_deref(),
                    after,
                    ROWS_PER_READ,
                    clock.now(),
                )
                .await;
            let rows = match rows {
                Ok(rows) => rows,
                Err(error) => {
                    tracing::warn!(%error, "export stopped: the store failed");
                    let failed: Result<String, std::io::Error> =
                        Err(std::io::Error::other(error.to_string()));
                    return Some((failed, (store, clock, tenant, series, after, true)));
                }
            };
            let mut chunk = String::new();
            if first {
                chunk.push_str(HEADER);
                chunk.push('\n');
            }
            let last = rows.last().map(|(pk, _)| *pk);
            for (_, voucher) in &rows {
                chunk.push_str(&line(voucher));
            }
            let done = (rows.len() as i64) < ROWS_PER_READ;
            let next = (store, clock, tenant, series, last.unwrap_or(after), done);
            if chunk.is_empty() {
                return None;
            }
            Some((Ok(chunk), next))
        },
    );
    let mut r = Body::from_stream(body).into_response();
    let headers = r.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_separators_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a;b"), "\"a;b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(HEADER.split(';').count(), 14);
    }
}
