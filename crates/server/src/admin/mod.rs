//! The operator's API under `/admin/api/v1`: tenants and their settings, client groups,
//! clients and their connection pins, merchant tokens, and read access to vouchers with their
//! ledger, the audit log and the integrity check. JSON in and out; errors are
//! `{"error": {"code", "message"}}`. Every call needs `Authorization: Bearer <admin token>`.

mod present;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use voucherd_domain::pattern::Pattern;
use voucherd_domain::{DomainError, Scope, Validity, ValidityInterval, VoucherKind, VoucherStatus};
use voucherd_store::model::{
    AuditFilter, PageRequest, RESERVATION_TTL_SECONDS_RANGE, TOKEN_TTL_SECONDS_RANGE,
    TenantSettings, VoucherFilter,
};
use voucherd_store::{Actor, Command, CommandResult, StoreError, StoredResponse};

use crate::AppState;
use crate::submit::{Answer, Keyed, Render, submit};
use crate::wire::{self, BodyError, WriteRequestError};

/// Codes generated from a pattern with less randomness than this are too easy to guess.
pub const CODE_PATTERN_ENTROPY_BITS_MIN: f64 = 40.0;
/// Samples a pattern preview returns at most.
const PREVIEW_SAMPLES_MAX: usize = 50;
/// Items per page at most in admin lists.
const ADMIN_PAGE_SIZE_MAX: i64 = 500;
/// Longest names.
const NAME_CHARS_MAX: usize = 255;
/// Longest client type (`pos`, `shop`, ...).
const CLIENT_TYPE_CHARS_MAX: usize = 32;

/// The routes.
pub fn router() -> Router<AppState> {
    let t = "/admin/api/v1/tenants/{tenant}";
    Router::new()
        .route(
            "/admin/api/v1/tenants",
            get(list_tenants).post(create_tenant),
        )
        .route(
            &format!("{t}/settings"),
            get(get_settings).put(put_settings),
        )
        .route(&format!("{t}/settings/preview"), post(preview_pattern))
        .route(
            &format!("{t}/client-groups"),
            get(list_groups).post(create_group),
        )
        .route(
            &format!("{t}/clients"),
            get(list_clients).post(create_client),
        )
        .route(&format!("{t}/clients/{{client}}/pin"), post(issue_pin))
        .route(
            &format!("{t}/clients/{{client}}/disconnect"),
            post(disconnect_client),
        )
        .route(
            &format!("{t}/merchant-tokens"),
            get(list_merchant_tokens).post(create_merchant_token),
        )
        .route(&format!("{t}/vouchers"), get(list_vouchers))
        .route(&format!("{t}/vouchers/{{voucher}}"), get(show_voucher))
        .route(&format!("{t}/audit"), get(audit))
        .route(&format!("{t}/integrity"), get(integrity))
}

/// An admin API failure.
#[derive(Debug)]
pub struct AdminError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl AdminError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AdminError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 429: the address sent more than its rate limit.
    pub(crate) fn too_many_requests(wait_seconds: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("too many requests; retry in {wait_seconds} s"),
        )
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    fn store(error: &StoreError) -> Self {
        match error {
            StoreError::Other(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            ),
            _ => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable; retry",
            ),
        }
    }

    fn refusal(refusal: &DomainError) -> Self {
        use DomainError as D;
        match refusal {
            D::TenantNotFound => Self::not_found("tenant"),
            D::ClientNotFound => Self::not_found("client"),
            D::ClientGroupNotFound => Self::not_found("client group"),
            D::VoucherNotFound => Self::not_found("voucher"),
            D::TenantIdTaken => {
                Self::new(StatusCode::CONFLICT, "conflict", "tenant id already taken")
            }
            other => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "refused",
                other.to_string(),
            ),
        }
    }

    fn body(&self) -> String {
        json!({ "error": { "code": self.code, "message": self.message } }).to_string()
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.body()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// Proof that the request carries the admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        match crate::jtl::auth::bearer(parts) {
            Some(token) if state.is_admin_token(token) => Ok(Admin),
            _ => Err(AdminError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a valid admin token is required",
            )),
        }
    }
}

/// A JSON admin request body, with its idempotency key.
struct AdminBody<T> {
    value: T,
    keyed: Option<Keyed>,
    request_id: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for AdminBody<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, _state: &AppState) -> Result<Self, AdminError> {
        let raw = wire::read_write_request(request)
            .await
            .map_err(|e| match e {
                WriteRequestError::KeyInvalid => AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1 to 255 visible ASCII characters",
                ),
                WriteRequestError::Body(BodyError::TimedOut) => AdminError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "the body was not received in time",
                ),
                WriteRequestError::Body(BodyError::TooLarge) => AdminError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "the body may not exceed 64 KiB",
                ),
                WriteRequestError::Body(BodyError::Unreadable) => AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "unreadable",
                    "the body could not be read",
                ),
            })?;
        let text: &[u8] = if raw.bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &raw.bytes
        };
        let value = serde_json::from_slice::<T>(text).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    "the body is not valid JSON",
                )
            } else {
                AdminError::invalid(e.to_string())
            }
        })?;
        let keyed = raw.idempotency.map(|(key, request_digest)| Keyed {
            caller: "admin".into(),
            key,
            request_digest,
        });
        Ok(AdminBody {
            value,
            keyed,
            request_id: raw.request_id,
        })
    }
}

/// Path parameters; a segment that is not valid UTF-8 answers in the admin envelope.
pub struct AdminPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for AdminPath<T> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| AdminPath(value))
            .map_err(|_| {
                AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    "the request path is not valid",
                )
            })
    }
}

/// Names of tenants, groups, clients and tokens: 1 to 255 characters, not blank.
fn check_name(name: &str) -> Result<(), AdminError> {
    if name.trim().is_empty() || name.chars().count() > NAME_CHARS_MAX {
        return Err(AdminError::invalid("name must be 1 to 255 characters"));
    }
    Ok(())
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut r = (status, value.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn renderer(
    status: StatusCode,
    success: impl Fn(&voucherd_store::Outcome) -> Value + Send + Sync + 'static,
) -> Render {
    std::sync::Arc::new(move |result: &CommandResult| match result {
        Ok(outcome) => StoredResponse {
            status: status.as_u16(),
            body: success(outcome).to_string(),
        },
        Err(refusal) => {
            let e = AdminError::refusal(refusal);
            StoredResponse {
                status: e.status.as_u16(),
                body: e.body(),
            }
        }
    })
}

async fn run(
    state: &AppState,
    tenant_id: &str,
    body_meta: (String, Option<Keyed>),
    command: Command,
    render: Render,
) -> Response {
    let (request_id, keyed) = body_meta;
    let answer = submit(
        state,
        tenant_id,
        Actor::Admin("admin".into()),
        &request_id,
        command,
        keyed,
        render,
    )
    .await;
    let stored = |r: StoredResponse, replayed: bool| {
        let mut response = json_response(
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &serde_json::from_str(&r.body).unwrap_or(Value::Null),
        );
        if replayed {
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    };
    match answer {
        Answer::Fresh { response, .. } => stored(response, false),
        Answer::Replayed(r) => stored(r, true),
        Answer::KeyReused => AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "the Idempotency-Key was used with a different request",
        )
        .into_response(),
        Answer::Failed(e) => AdminError::store(&e).into_response(),
    }
}

async fn existing_tenant(
    state: &AppState,
    tenant_id: &str,
) -> Result<voucherd_store::model::Tenant, AdminError> {
    state
        .store
        .tenant(tenant_id)
        .await
        .map_err(|e| AdminError::store(&e))?
        .ok_or_else(|| AdminError::not_found("tenant"))
}

// ------------------------------------------------------------------ tenants and settings

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    id: Option<String>,
    name: String,
}

fn valid_tenant_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

async fn list_tenants(_: Admin, State(state): State<AppState>) -> Result<Response, AdminError> {
    let tenants = state
        .store
        .tenants()
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": tenants.iter().map(present::tenant).collect::<Vec<_>>() }),
    ))
}

async fn create_tenant(
    _: Admin,
    State(state): State<AppState>,
    body: AdminBody<NewTenant>,
) -> Result<Response, AdminError> {
    let NewTenant { id, name } = body.value;
    if id.as_deref().is_some_and(|id| !valid_tenant_id(id)) {
        return Err(AdminError::invalid(
            "id must be 1 to 64 lower-case letters, digits, '-' or '_'",
        ));
    }
    check_name(&name)?;
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::Tenant(t) => present::tenant(t),
        _ => Value::Null,
    });
    let tenant_id = id.clone().unwrap_or_default();
    Ok(run(
        &state,
        &tenant_id,
        (body.request_id, body.keyed),
        Command::CreateTenant { id, name },
        render,
    )
    .await)
}

async fn get_settings(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    let tenant = existing_tenant(&state, &tenant).await?;
    Ok(json_response(
        StatusCode::OK,
        &present::settings(&tenant.settings),
    ))
}

/// A tenant's settings as an operator sends them (admin API body, console form).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsBody {
    pub(crate) voucher_id_pattern: String,
    pub(crate) code_pattern: String,
    pub(crate) pin_pattern: Option<String>,
    pub(crate) default_validity_value: i64,
    pub(crate) default_validity_interval: String,
    pub(crate) reservation_ttl_seconds: i64,
    pub(crate) token_ttl_seconds: i64,
}

fn checked_settings(b: SettingsBody) -> Result<TenantSettings, AdminError> {
    settings_from(b).map_err(AdminError::invalid)
}

/// Checks settings an operator sent; the problem in words otherwise.
pub(crate) fn settings_from(b: SettingsBody) -> Result<TenantSettings, String> {
    let pattern = |name: &str, text: &str| Pattern::parse(text).map_err(|e| format!("{name}: {e}"));
    pattern("voucher_id_pattern", &b.voucher_id_pattern)?;
    let code = pattern("code_pattern", &b.code_pattern)?;
    if code.entropy_bits() < CODE_PATTERN_ENTROPY_BITS_MIN {
        return Err(format!(
            "code_pattern: codes must carry at least {CODE_PATTERN_ENTROPY_BITS_MIN} bits of randomness (this one has {:.1})",
            code.entropy_bits()
        ));
    }
    if let Some(pin) = &b.pin_pattern {
        pattern("pin_pattern", pin)?;
    }
    let interval = ValidityInterval::parse(&b.default_validity_interval)
        .ok_or("default_validity_interval must be days, weeks, months or years")?;
    if !(1..=voucherd_domain::validity::VALIDITY_VALUE_MAX).contains(&b.default_validity_value) {
        return Err("default_validity_value must be 1 to 36500".into());
    }
    if !RESERVATION_TTL_SECONDS_RANGE.contains(&b.reservation_ttl_seconds) {
        return Err("reservation_ttl_seconds must be 60 to 86400".into());
    }
    if !TOKEN_TTL_SECONDS_RANGE.contains(&b.token_ttl_seconds) {
        return Err("token_ttl_seconds must be 60 to 86400".into());
    }
    Ok(TenantSettings {
        voucher_id_pattern: b.voucher_id_pattern,
        code_pattern: b.code_pattern,
        pin_pattern: b.pin_pattern,
        default_validity: Validity {
            value: b.default_validity_value,
            interval,
        },
        reservation_ttl_seconds: b.reservation_ttl_seconds,
        token_ttl_seconds: b.token_ttl_seconds,
    })
}

async fn put_settings(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<SettingsBody>,
) -> Result<Response, AdminError> {
    let settings = checked_settings(body.value)?;
    let render = renderer(StatusCode::OK, |o| match o {
        voucherd_store::Outcome::Settings(s) => present::settings(s),
        _ => Value::Null,
    });
    Ok(run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::UpdateSettings(settings),
        render,
    )
    .await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    pattern: String,
    count: Option<usize>,
}

async fn preview_pattern(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<PreviewBody>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let pattern =
        Pattern::parse(&body.value.pattern).map_err(|e| AdminError::invalid(e.to_string()))?;
    let count = body.value.count.unwrap_or(5).clamp(1, PREVIEW_SAMPLES_MAX);
    let samples: Vec<String> = (0..count).map(|_| pattern.generate()).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "samples": samples, "entropy_bits": (pattern.entropy_bits() * 10.0).round() / 10.0 }),
    ))
}

// ------------------------------------------------------------------ groups, clients, tokens

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    name: String,
    scopes: Vec<String>,
}

async fn list_groups(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let groups = state
        .store
        .client_groups(&tenant)
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": groups.iter().map(present::group).collect::<Vec<_>>() }),
    ))
}

async fn create_group(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<NewGroup>,
) -> Result<Response, AdminError> {
    let NewGroup { name, scopes } = body.value;
    check_name(&name)?;
    let scopes = scopes
        .iter()
        .map(|s| Scope::parse(s).ok_or_else(|| AdminError::invalid(format!("unknown scope {s:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::ClientGroup(g) => present::group(g),
        _ => Value::Null,
    });
    Ok(run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::CreateClientGroup { name, scopes },
        render,
    )
    .await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClient {
    name: String,
    client_group_id: String,
    #[serde(rename = "type")]
    client_type: Option<String>,
}

async fn list_clients(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let clients = state
        .store
        .clients(&tenant)
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "data": clients.iter().map(present::client).collect::<Vec<_>>() }),
    ))
}

async fn create_client(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<NewClient>,
) -> Result<Response, AdminError> {
    let NewClient {
        name,
        client_group_id,
        client_type,
    } = body.value;
    let client_type = client_type.unwrap_or_else(|| "pos".into());
    check_name(&name)?;
    if client_type.is_empty() || client_type.chars().count() > CLIENT_TYPE_CHARS_MAX {
        return Err(AdminError::invalid("type must be 1 to 32 characters"));
    }
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::Client(c) => present::client(c),
        _ => Value::Null,
    });
    Ok(run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::CreateClient {
            name,
            client_group_id,
            client_type,
        },
        render,
    )
    .await)
}

async fn issue_pin(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, client)): AdminPath<(String, String)>,
    body: AdminBody<Value>,
) -> Result<Response, AdminError> {
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::ConnectionPin { pin, expires_at } => {
            json!({ "pin": pin, "expires_at": crate::wire::timestamp(*expires_at) })
        }
        _ => Value::Null,
    });
    // A pin is a secret shown once: a replay must not show it again, so no key is kept.
    Ok(run(
        &state,
        &tenant,
        (body.request_id, None),
        Command::IssueConnectionPin { client_id: client },
        render,
    )
    .await)
}

async fn disconnect_client(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, client)): AdminPath<(String, String)>,
    body: AdminBody<Value>,
) -> Result<Response, AdminError> {
    let render = renderer(StatusCode::OK, |_| json!({ "disconnected": true }));
    let response = run(
        &state,
        &tenant,
        (body.request_id, body.keyed),
        Command::DisconnectClient {
            client_id: client.clone(),
        },
        render,
    )
    .await;
    state.tokens.forget_client(&client);
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMerchantToken {
    name: String,
}

async fn list_merchant_tokens(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let tokens = state
        .store
        .merchant_tokens(&tenant)
        .await
        .map_err(|e| AdminError::store(&e))?;
    let data: Vec<Value> = tokens
        .iter()
        .map(|t| json!({ "id": t.id, "name": t.name, "created_at": crate::wire::timestamp(t.created_at) }))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "data": data })))
}

async fn create_merchant_token(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    body: AdminBody<NewMerchantToken>,
) -> Result<Response, AdminError> {
    let name = body.value.name;
    check_name(&name)?;
    let render = renderer(StatusCode::CREATED, |o| match o {
        voucherd_store::Outcome::MerchantToken {
            id,
            name,
            token,
            callback_secret,
        } => {
            json!({ "id": id, "name": name, "token": token, "callback_secret": callback_secret })
        }
        _ => Value::Null,
    });
    // The token is shown once; a replay must not show it again, so no key is kept.
    Ok(run(
        &state,
        &tenant,
        (body.request_id, None),
        Command::CreateMerchantToken { name },
        render,
    )
    .await)
}

// ------------------------------------------------------------------ vouchers, audit, integrity

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn page_of(pairs: &[(String, String)]) -> Result<PageRequest, AdminError> {
    let get =
        |name: &str, default: i64| -> Result<i64, AdminError> {
            match pairs.iter().find(|(k, _)| k == name) {
                None => Ok(default),
                Some((_, v)) => v.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    AdminError::invalid(format!("{name} must be a positive integer"))
                }),
            }
        };
    Ok(PageRequest {
        page: get("page", 1)?.min(10_000_000),
        per_page: get("per_page", 50)?.min(ADMIN_PAGE_SIZE_MAX),
    })
}

async fn list_vouchers(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let pairs = query_pairs(raw.as_deref());
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let date = |name: &str| -> Result<Option<time::OffsetDateTime>, AdminError> {
        get(name)
            .map(|v| {
                crate::jtl::validate::parse_datetime(&v).ok_or_else(|| {
                    AdminError::invalid(format!("{name} must be an RFC 3339 date-time"))
                })
            })
            .transpose()
    };
    let filter = VoucherFilter {
        created_from: date("created_from")?,
        created_to: date("created_to")?,
        status: get("status")
            .map(|s| {
                VoucherStatus::parse(&s)
                    .ok_or_else(|| AdminError::invalid("status must be active or inactive"))
            })
            .transpose()?,
        kind: get("type")
            .map(|s| {
                VoucherKind::parse(&s)
                    .ok_or_else(|| AdminError::invalid("type must be digital or print"))
            })
            .transpose()?,
        batch: get("batch"),
        sku: get("sku"),
        order_number: get("order_number"),
        id: get("id"),
        code: get("code"),
        order: Default::default(),
    };
    let page = page_of(&pairs)?;
    let found = state
        .store
        .vouchers(&tenant, &filter, page, state.clock.now())
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "data": found.items.iter().map(present::voucher).collect::<Vec<_>>(),
            "page": page.page, "per_page": page.per_page, "total": found.total,
        }),
    ))
}

async fn show_voucher(
    _: Admin,
    State(state): State<AppState>,
    AdminPath((tenant, voucher)): AdminPath<(String, String)>,
) -> Result<Response, AdminError> {
    let now = state.clock.now();
    let store_err = |e: StoreError| AdminError::store(&e);
    let found = state
        .store
        .voucher(&tenant, &voucher, now)
        .await
        .map_err(store_err)?
        .ok_or_else(|| AdminError::not_found("voucher"))?;
    let all = PageRequest {
        page: 1,
        per_page: ADMIN_PAGE_SIZE_MAX,
    };
    let entries = state
        .store
        .entries(&tenant, &voucher, &Default::default(), all)
        .await
        .map_err(store_err)?
        .map(|p| p.items)
        .unwrap_or_default();
    let holds = state
        .store
        .voucher_holds(&tenant, &voucher, now)
        .await
        .map_err(store_err)?;
    let audit = state
        .store
        .audit(
            &tenant,
            &AuditFilter {
                subject_id: Some(voucher.clone()),
                ..Default::default()
            },
            all,
        )
        .await
        .map_err(store_err)?;
    let mut body = present::voucher(&found);
    body["entries"] = entries.iter().map(present::entry).collect();
    body["holds"] = holds.iter().map(present::hold).collect();
    body["audit"] = audit.items.iter().map(present::audit_event).collect();
    Ok(json_response(StatusCode::OK, &body))
}

async fn audit(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let pairs = query_pairs(raw.as_deref());
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let filter = AuditFilter {
        subject_id: get("subject_id"),
        action: get("action"),
        actor_id: get("actor_id"),
    };
    let page = page_of(&pairs)?;
    let found = state
        .store
        .audit(&tenant, &filter, page)
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "data": found.items.iter().map(present::audit_event).collect::<Vec<_>>(),
            "page": page.page, "per_page": page.per_page, "total": found.total,
        }),
    ))
}

async fn integrity(
    _: Admin,
    State(state): State<AppState>,
    AdminPath(tenant): AdminPath<String>,
) -> Result<Response, AdminError> {
    existing_tenant(&state, &tenant).await?;
    let report = state
        .store
        .integrity(&tenant, state.clock.now())
        .await
        .map_err(|e| AdminError::store(&e))?;
    Ok(json_response(StatusCode::OK, &json!(report)))
}
