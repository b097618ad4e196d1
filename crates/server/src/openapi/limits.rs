//! The answers the abuse limits add to operations of every face: 429 (the caller or its
//! address is over its rate limit) everywhere but the health and metrics endpoints, and 408
//! (the body came too slowly) on the JSON write operations, each in its face's envelope.

use serde_json::{Map, Value, json};

use super::{reference, response};

/// Paths no rate limit applies to.
const UNLIMITED: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// The error schema of the face `path` belongs to; `None` for HTML pages.
fn envelope(path: &str) -> Option<Value> {
    let name = if path.starts_with("/pay/") {
        return None;
    } else if path.starts_with("/api/v1/connect/") {
        "FrontEnvelope"
    } else if path.starts_with("/api/") {
        "BleepayError"
    } else if path.starts_with("/admin/api/") {
        "AdminError"
    } else {
        "JtlError"
    };
    Some(reference(name))
}

fn html(description: &str) -> Value {
    json!({ "description": description, "content": { "text/html": {} } })
}

/// Adds the 429 and 408 answers to every operation of `paths`.
pub(super) fn add_limit_answers(paths: &mut Map<String, Value>) {
    const RATE: &str = "The caller or its address is over its rate limit; see `Retry-After`.";
    const SLOW: &str = "The body was not received in time (the client sent it too slowly).";
    for (path, operations) in paths.iter_mut() {
        if UNLIMITED.contains(&path.as_str()) {
            continue;
        }
        let Some(operations) = operations.as_object_mut() else {
            continue;
        };
        let schema = envelope(path);
        let answer = |description: &str| match &schema {
            Some(schema) => response(description, Some(schema.clone())),
            None => html(description),
        };
        for operation in operations.values_mut() {
            let json_body = operation
                .pointer("/requestBody/content/application~1json")
                .is_some();
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            match responses.get_mut("429") {
                Some(existing) => {
                    if let Some(Value::String(text)) = existing.get_mut("description") {
                        text.push_str(" Also: ");
                        text.push_str(RATE);
                    }
                }
                None => {
                    responses.insert("429".into(), answer(RATE));
                }
            }
            if json_body {
                responses.entry("408").or_insert_with(|| answer(SLOW));
            }
        }
    }
}
