//! Lists of the JTL face: `page` and `per_page` (1..100, default 25, larger clamped to 100),
//! `filter[...]` parameters, and the Laravel pagination envelope with absolute links that keep
//! the filters.

use axum::http::HeaderMap;
use serde::Serialize;
use serde_json::{Map, Value};
use voucherd_store::model::{Page, PageRequest};

use super::error::JtlError;
use super::validate::Validator;
use crate::wire::parse_datetime;

/// Items per page when none is asked for.
pub const PAGE_SIZE_DEFAULT: i64 = 25;
/// Items per page at most; larger requests are clamped.
pub const PAGE_SIZE_MAX: i64 = 100;
/// Pages beyond this are refused (keeps offsets bounded).
const PAGE_NUMBER_MAX: i64 = 10_000_000;

/// A list request's query string, decoded.
pub struct ListQuery {
    pairs: Vec<(String, String)>,
    /// Filters as a JSON object, for validation with the usual rules.
    filters: Map<String, Value>,
}

impl ListQuery {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let filters = pairs
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("filter[")?.strip_suffix(']')?;
                Some((name.to_string(), Value::String(v.clone())))
            })
            .collect();
        ListQuery { pairs, filters }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The page asked for, checked.
    pub fn page(&self, v: &mut Validator<'_>) -> PageRequest {
        let mut number = |field: &str, default: i64, max: i64| match self.get(field) {
            None => default,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n >= 1 => n.min(max),
                Ok(_) => {
                    v.reject(
                        field,
                        "min",
                        "1",
                        format!("The {field} must be at least 1."),
                    );
                    default
                }
                Err(_) => {
                    v.reject(
                        field,
                        "integer",
                        "",
                        format!("The {field} must be an integer."),
                    );
                    default
                }
            },
        };
        let page = number("page", 1, PAGE_NUMBER_MAX);
        let per_page = number("per_page", PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX);
        PageRequest { page, per_page }
    }

    /// A filter's text, if given.
    pub fn filter(&self, name: &str) -> Option<String> {
        self.filters
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// A date filter; a broken date is recorded as `filter[name]` `date`.
    pub fn date_filter(&self, v: &mut Validator<'_>, name: &str) -> Option<time::OffsetDateTime> {
        let text = self.filter(name)?;
        let parsed = parse_datetime(&text);
        if parsed.is_none() {
            let property = format!("filter[{name}]");
            v.reject(
                &property,
                "date",
                "",
                format!("The {property} is not a valid date."),
            );
        }
        parsed
    }

    /// A filter that must be one of `allowed`.
    pub fn enum_filter(
        &self,
        v: &mut Validator<'_>,
        name: &str,
        allowed: &[&str],
    ) -> Option<String> {
        let text = self.filter(name)?;
        if allowed.contains(&text.as_str()) {
            Some(text)
        } else {
            let property = format!("filter[{name}]");
            v.reject(
                &property,
                "in",
                &allowed.join(","),
                format!("The selected {property} is invalid."),
            );
            None
        }
    }

    fn link(&self, base: &str, page: i64) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs.iter().filter(|(k, _)| k != "page") {
            query.append_pair(k, v);
        }
        query.append_pair("page", &page.to_string());
        format!("{base}?{}", query.finish())
    }
}

/// The absolute URL of the list, without query.
pub fn list_url(public_url: Option<&str>, headers: &HeaderMap, path: &str) -> String {
    let base = public_url.map(str::to_string).unwrap_or_else(|| {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    });
    format!("{base}{path}")
}

#[derive(Serialize)]
pub struct Links {
    first: String,
    last: String,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Serialize)]
pub struct Meta {
    current_page: i64,
    per_page: i64,
    from: Option<i64>,
    to: Option<i64>,
    last_page: i64,
    total: i64,
    path: String,
}

/// The pagination envelope.
#[derive(Serialize)]
pub struct Paginated<T: Serialize> {
    data: Vec<T>,
    links: Links,
    meta: Meta,
}

pub fn paginate<S, T: Serialize>(
    page: Page<S>,
    request: PageRequest,
    query: &ListQuery,
    url: String,
    present: impl Fn(&S) -> T,
) -> Paginated<T> {
    let last_page = ((page.total + request.per_page - 1) / request.per_page).max(1);
    let count = i64::try_from(page.items.len()).unwrap_or(0);
    let first_index = (request.page - 1) * request.per_page;
    Paginated {
        data: page.items.iter().map(present).collect(),
        links: Links {
            first: query.link(&url, 1),
            last: query.link(&url, last_page),
            prev: (request.page > 1).then(|| query.link(&url, (request.page - 1).min(last_page))),
            next: (request.page < last_page).then(|| query.link(&url, request.page + 1)),
        },
        meta: Meta {
            current_page: request.page,
            per_page: request.per_page,
            from: (count > 0).then_some(first_index + 1),
            to: (count > 0).then_some(first_index + count),
            last_page,
            total: page.total,
            path: url,
        },
    }
}

/// Validates a list query's paging and filters together.
pub fn checked<T>(v: Validator<'_>, value: T) -> Result<T, JtlError> {
    v.finish().map(|()| value)
}
