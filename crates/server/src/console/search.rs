//! Reading a search form's query string: trimmed fields, empty ones as absent, the page.

use std::collections::HashMap;

/// The trimmed value of field `name`; empty when absent.
pub fn text(query: &HashMap<String, String>, name: &str) -> String {
    query
        .get(name)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// A field's value, or `None` when it is empty.
pub fn filled(value: &str) -> Option<String> {
    Some(value.to_string()).filter(|v| !v.is_empty())
}

/// The page asked for: a number from 1, else 1.
pub fn page(query: &HashMap<String, String>) -> i64 {
    text(query, "page")
        .parse::<i64>()
        .ok()
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}
