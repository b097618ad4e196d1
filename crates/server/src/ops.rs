//! Operations endpoints: a start page for a person who opens the service's address, liveness,
//! readiness (the database answers), Prometheus metrics, the OpenAPI document and its Swagger
//! UI (vendored, served from the binary), and the JSON 404.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::AppState;

const SWAGGER_JS: &[u8] = include_bytes!("../assets/vendor/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_CSS: &[u8] = include_bytes!("../assets/vendor/swagger-ui/swagger-ui.css");
const DOCS_PAGE: &str = include_str!("../assets/docs.html");
/// What `GET /` shows: links to the console and the API documentation.
const START_PAGE: &str = include_str!("../assets/start.html");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Html(START_PAGE) }))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/docs", get(docs))
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| async { asset("application/javascript", SWAGGER_JS) }),
        )
        .route(
            "/docs/swagger-ui.css",
            get(|| async { asset("text/css", SWAGGER_CSS) }),
        )
}

fn asset(content_type: &'static str, bytes: &'static [u8]) -> Response {
    let mut r = bytes.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    r
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, json!({ "status": "ok" }).to_string())
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => json_response(StatusCode::OK, json!({ "status": "ready" }).to_string()),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "unavailable", "reason": "the database does not answer" })
                    .to_string(),
            )
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

async fn openapi() -> Response {
    json_response(StatusCode::OK, crate::openapi::document().to_string())
}

async fn docs() -> Html<&'static str> {
    Html(DOCS_PAGE)
}

/// Unknown routes answer 404 in a JSON envelope shaped like the JTL one.
pub async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        json!({ "status": 404, "code": "ROUTE.NOT_FOUND", "message": "The requested resource could not be found." }).to_string(),
    )
}

/// A refusal in the same JSON envelope.
pub fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({ "status": status.as_u16(), "code": code, "message": message }).to_string(),
    )
}

/// 429 in the same JSON envelope (the caller adds `Retry-After`).
pub fn too_many_requests() -> Response {
    json_response(
        StatusCode::TOO_MANY_REQUESTS,
        json!({ "status": 429, "code": "TOO_MANY_REQUESTS", "message": "Too many requests. Please try again later." }).to_string(),
    )
}

/// A route that exists without the method answers 405 in the same JSON envelope.
pub async fn method_not_allowed() -> Response {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({ "status": 405, "code": "METHOD.NOT_ALLOWED", "message": "The method is not allowed for this path." }).to_string(),
    )
}
