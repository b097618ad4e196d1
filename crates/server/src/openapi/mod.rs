//! The OpenAPI 3 document served at `/openapi.json`: the JTL Voucher Cloud API v1.8 face (with
//! voucherd's extensions marked `x-voucherd-extension`), the token endpoint, the admin API and
//! the operations endpoints, the Front Payment face ([`front`]) and the bleepay face
//! ([`bleepay`]). A test walks every path in it against a running server.

mod bleepay;
mod front;
mod limits;

use serde_json::{Map, Value, json};

fn money() -> Value {
    json!({ "type": "string", "pattern": "^\\d{1,6}\\.\\d{2}$", "minLength": 4, "maxLength": 9, "example": "10.53" })
}

fn timestamp() -> Value {
    json!({ "type": "string", "format": "RFC3339", "example": "2017-07-21T17:32:28+00:00" })
}

fn nullable(mut schema: Value) -> Value {
    schema["nullable"] = Value::Bool(true);
    schema
}

fn text(max: u32) -> Value {
    json!({ "type": "string", "maxLength": max })
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn response(description: &str, schema: Option<Value>) -> Value {
    match schema {
        Some(schema) => json!({ "description": description, "content": json_content(schema) }),
        None => json!({ "description": description }),
    }
}

/// The JTL error responses every authenticated operation can give.
fn jtl_errors(mut responses: Map<String, Value>, not_found: bool) -> Value {
    responses.insert(
        "401".into(),
        response(
            "Missing, unknown, expired or revoked token (`UNAUTHENTICATED`).",
            Some(reference("JtlError")),
        ),
    );
    responses.insert(
        "403".into(),
        response(
            "The token lacks the scope.",
            Some(json!({ "type": "string", "example": "Forbidden" })),
        ),
    );
    if not_found {
        responses.insert("404".into(), response("Unknown resource (`VOUCHER.NOT_FOUND`, `RESERVATION.NOT_FOUND`, `CHARGE.NOT_FOUND`).", Some(reference("JtlError"))));
    }
    responses.insert(
        "400".into(),
        response(
            "The body is not JSON, or the `Idempotency-Key` is malformed (`BAD_REQUEST`).",
            Some(reference("JtlError")),
        ),
    );
    responses.insert(
        "413".into(),
        response(
            "The body is larger than 64 KiB.",
            Some(reference("JtlError")),
        ),
    );
    responses.insert("422".into(), response("Validation failure (`<RESOURCE>.<ACTION>.UNPROCESSABLE_ENTITY` with `errors`) or business refusal.", Some(reference("JtlError"))));
    responses.insert(
        "429".into(),
        response(
            "Too many unknown codes or wrong PINs; see `Retry-After`.",
            Some(reference("JtlError")),
        ),
    );
    responses.insert(
        "503".into(),
        response(
            "The database is unavailable; retry after `Retry-After`.",
            Some(reference("JtlError")),
        ),
    );
    Value::Object(responses)
}

struct Op {
    tag: &'static str,
    summary: &'static str,
    scope: Option<&'static str>,
    params: Vec<Value>,
    body: Option<Value>,
    ok: (&'static str, Option<Value>),
    not_found: bool,
    extension: bool,
}

impl Op {
    fn new(tag: &'static str, summary: &'static str, scope: Option<&'static str>) -> Self {
        Op {
            tag,
            summary,
            scope,
            params: Vec::new(),
            body: None,
            ok: ("200", None),
            not_found: true,
            extension: false,
        }
    }
    fn path_param(mut self, name: &str) -> Self {
        self.params.push(
            json!({ "in": "path", "name": name, "required": true, "schema": { "type": "string" } }),
        );
        self
    }
    fn query(mut self, name: &str, schema: Value) -> Self {
        self.params
            .push(json!({ "in": "query", "name": name, "required": false, "schema": schema }));
        self
    }
    fn body(mut self, schema: Value) -> Self {
        self.body = Some(schema);
        self
    }
    fn ok(mut self, status: &'static str, schema: Option<Value>) -> Self {
        self.ok = (status, schema);
        self
    }
    fn no_404(mut self) -> Self {
        self.not_found = false;
        self
    }
    fn extension(mut self) -> Self {
        self.extension = true;
        self
    }
    fn build(self) -> Value {
        let mut responses = Map::new();
        responses.insert(self.ok.0.into(), response("OK", self.ok.1));
        let mut op = json!({
            "tags": [self.tag],
            "summary": self.summary,
            "parameters": self.params,
            "responses": if self.tag == "Admin" { admin_errors(responses) } else { jtl_errors(responses, self.not_found) },
        });
        if let Some(p) = op["parameters"].as_array_mut() {
            p.push(json!({ "$ref": "#/components/parameters/IdempotencyKey" }))
        }
        if let Some(body) = self.body {
            op["requestBody"] = json!({ "required": true, "content": json_content(body) });
        }
        op["security"] = match (self.tag, self.scope) {
            ("Admin", _) => json!([{ "AdminToken": [] }]),
            (_, Some(scope)) => json!([{ "BearerAuth": [scope] }]),
            (_, None) => json!([]),
        };
        if self.extension {
            op["x-voucherd-extension"] = Value::Bool(true);
        }
        op
    }
}

fn admin_errors(mut responses: Map<String, Value>) -> Value {
    for (status, description) in [
        (
            "400",
            "The body is not JSON, or the `Idempotency-Key` is malformed.",
        ),
        ("401", "Missing or wrong admin token."),
        ("404", "Unknown tenant, client or voucher."),
        ("409", "The tenant id is taken."),
        ("413", "The body is larger than 64 KiB."),
        ("422", "Invalid body or refused change."),
        ("503", "The database is unavailable."),
    ] {
        responses.insert(
            status.into(),
            response(description, Some(reference("AdminError"))),
        );
    }
    Value::Object(responses)
}

fn list_params(op: Op, filters: &[(&str, Value)]) -> Op {
    let mut op = op
        .query("page", json!({ "type": "integer", "minimum": 1, "default": 1 }))
        .query("per_page", json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 25, "description": "Larger values are clamped to 100." }));
    for (name, schema) in filters {
        op = op.query(&format!("filter[{name}]"), schema.clone());
    }
    op
}

fn jtl_paths() -> Vec<(&'static str, &'static str, Value)> {
    let date = || json!({ "type": "string", "format": "RFC3339" });
    let s = || json!({ "type": "string" });
    vec![
        ("/v1/clients/connect", "post", Op::new("Clients", "Connects a client (exchanges a connection pin for credentials)", None)
            .body(json!({ "type": "object", "required": ["pin"], "properties": { "pin": text(255) } }))
            .ok("200", Some(reference("Client"))).no_404().build()),
        ("/v1/clients/disconnect", "post", Op::new("Clients", "Disconnects the calling client and revokes all its credentials", Some("read"))
            .ok("204", None).build()),
        ("/v1/vouchers", "get", list_params(Op::new("Vouchers", "Get a list of vouchers", Some("read-lists")), &[
            ("created_from", date()), ("created_to", date()),
            ("status", json!({ "type": "string", "enum": ["active", "inactive"] })),
            ("type", json!({ "type": "string", "enum": ["digital", "print"] })),
            ("batch", s()), ("sku", s()), ("order_number", s()),
        ]).ok("200", Some(paginated("Voucher"))).no_404().build()),
        ("/v1/vouchers", "post", Op::new("Vouchers", "Create a new voucher", Some("manage"))
            .body(reference("VoucherCreate")).ok("201", Some(reference("Voucher"))).no_404().build()),
        ("/v1/vouchers/recharge", "post", Op::new("Vouchers", "Recharge a voucher", Some("recharge"))
            .body(json!({ "type": "object", "required": ["amount", "currency", "order_number"], "properties": {
                "amount": money(), "currency": text(3), "order_number": text(255), "code": text(255), "id": text(255) } }))
            .ok("201", Some(reference("Charge"))).build()),
        ("/v1/vouchers/{id}", "get", Op::new("Vouchers", "Get a voucher", Some("read")).path_param("id").ok("200", Some(reference("Voucher"))).build()),
        ("/v1/vouchers/{id}", "patch", Op::new("Vouchers", "Update a voucher (sku and batch)", Some("update")).path_param("id")
            .body(json!({ "type": "object", "properties": { "sku": nullable(text(255)), "batch": nullable(text(30)) } }))
            .ok("200", Some(reference("Voucher"))).build()),
        ("/v1/vouchers/{id}", "delete", Op::new("Vouchers", "Delete a voucher without ledger activity", Some("manage")).path_param("id")
            .body(json!({ "type": "object", "required": ["comment"], "properties": { "comment": text(255) } }))
            .ok("204", None).build()),
        ("/v1/vouchers/{id}/complete", "get", Op::new("Vouchers", "Get a complete voucher (with code and pin)", Some("read-secrets")).path_param("id")
            .ok("200", Some(reference("Voucher"))).build()),
        ("/v1/vouchers/{id}/status", "patch", Op::new("Vouchers", "Set the status for a voucher", Some("use")).path_param("id")
            .body(json!({ "type": "object", "required": ["status"], "properties": {
                "status": { "type": "string", "enum": ["active", "inactive"] }, "comment": text(255) } }))
            .ok("200", Some(reference("Voucher"))).build()),
        ("/v1/vouchers/{id}/charges", "get", list_params(Op::new("Vouchers", "Get a list of voucher charges", Some("read-lists")).path_param("id"), &[
            ("created_from", date()), ("created_to", date()), ("order_number", s()),
            ("type", json!({ "type": "string", "enum": ["charge", "recharge", "refund"] })),
        ]).ok("200", Some(paginated("Charge"))).build()),
        ("/v1/vouchers/{id}/charges/{charge_id}", "get", Op::new("Vouchers", "Get a charge of a voucher", Some("read"))
            .path_param("id").path_param("charge_id").ok("200", Some(reference("Charge"))).build()),
        ("/v1/reservations", "post", Op::new("Reservations", "Set the reservation for a specific voucher", Some("use"))
            .body(json!({ "type": "object", "required": ["amount", "currency", "code"], "properties": {
                "amount": money(), "currency": text(3), "code": text(255), "pin": text(255) } }))
            .ok("201", Some(reference("Reservation"))).build()),
        ("/v1/reservations/{id}", "get", Op::new("Reservations", "Get a reservation", Some("use")).path_param("id")
            .ok("200", Some(reference("Reservation"))).extension().build()),
        ("/v1/reservations/{id}", "delete", Op::new("Reservations", "Release a live reservation", Some("use")).path_param("id")
            .ok("204", None).extension().build()),
        ("/v1/reservations/{id}/charge", "post", Op::new("Reservations", "Charge a specific voucher reservation", Some("use")).path_param("id")
            .body(json!({ "type": "object", "required": ["order_number"], "properties": { "order_number": text(255) } }))
            .ok("201", Some(reference("Charge"))).build()),
        ("/v1/charges/{id}/refund", "post", Op::new("Charges", "Refund a specific voucher charge", Some("use")).path_param("id")
            .body(json!({ "type": "object", "required": ["amount", "currency"], "properties": { "amount": money(), "currency": text(3) } }))
            .ok("201", Some(reference("Charge"))).build()),
    ]
}

fn paginated(item: &str) -> Value {
    json!({ "type": "object", "properties": {
        "data": { "type": "array", "items": reference(item) },
        "links": { "type": "object", "properties": {
            "first": { "type": "string" }, "last": { "type": "string" },
            "prev": nullable(json!({ "type": "string" })), "next": nullable(json!({ "type": "string" })) } },
        "meta": { "type": "object", "properties": {
            "current_page": { "type": "integer" }, "per_page": { "type": "integer" },
            "from": nullable(json!({ "type": "integer" })), "to": nullable(json!({ "type": "integer" })),
            "last_page": { "type": "integer" }, "total": { "type": "integer" }, "path": { "type": "string" } } } } })
}

fn merchant_token() -> Value {
    json!({ "type": "object", "properties": {
        "id": { "type": "string" }, "name": { "type": "string" },
        "status": { "type": "string", "enum": ["active", "revoked"] },
        "created_at": timestamp(), "revoked_at": nullable(timestamp()) } })
}

fn console_user() -> Value {
    json!({ "type": "object", "properties": {
        "id": { "type": "string" }, "username": { "type": "string" },
        "status": { "type": "string", "enum": ["active", "locked", "disabled"] },
        "created_at": timestamp(), "disabled_at": nullable(timestamp()),
        "locked_until": nullable(timestamp()) } })
}

fn admin_paths() -> Vec<(&'static str, &'static str, Value)> {
    let t = |p: &'static str| p;
    let any = || json!({ "type": "object" });
    let list = || json!({ "type": "object", "properties": { "data": { "type": "array", "items": { "type": "object" } } } });
    let op = |summary: &'static str| Op::new("Admin", summary, None);
    vec![
        (t("/admin/api/v1/tenants"), "get", op("List tenants").ok("200", Some(list())).build()),
        (t("/admin/api/v1/tenants"), "post", op("Create a tenant").body(json!({ "type": "object", "required": ["name"], "properties": { "id": text(64), "name": text(255) } })).ok("201", Some(any())).build()),
        (t("/admin/api/v1/tenants/{tenant}/settings"), "get", op("Read a tenant's settings").path_param("tenant").ok("200", Some(reference("Settings"))).build()),
        (t("/admin/api/v1/tenants/{tenant}/settings"), "put", op("Replace a tenant's settings").path_param("tenant").body(reference("Settings")).ok("200", Some(reference("Settings"))).build()),
        (t("/admin/api/v1/tenants/{tenant}/branding"), "get", op("How the tenant's shop presents itself on the payment page (docs/front-face.md)").path_param("tenant").ok("200", Some(branding_schema())).build()),
        (t("/admin/api/v1/tenants/{tenant}/branding"), "put", op("Replace the payment page's branding fields (the logo stays); empty or absent fields take the defaults").path_param("tenant")
            .body(json!({ "type": "object", "properties": {
                "display_name": nullable(json!({ "type": "string", "minLength": 1, "maxLength": 80 })),
                "colour": nullable(json!({ "type": "string", "pattern": "^#[0-9A-Fa-f]{6}$" })),
                "support": nullable(json!({ "type": "string", "minLength": 1, "maxLength": 200 })),
                "terms_url": nullable(json!({ "type": "string", "format": "uri", "maxLength": 2000 })),
                "privacy_url": nullable(json!({ "type": "string", "format": "uri", "maxLength": 2000 })),
                "currency": nullable(json!({ "type": "string", "description": "ISO-4217 with two decimals; vouchers in other currencies are then refused on the page" })) } }))
            .ok("200", Some(branding_schema())).build()),
        (t("/admin/api/v1/tenants/{tenant}/branding/logo"), "put", op("Set the logo: the body is the image itself (Content-Type image/png, image/jpeg or image/webp, at most 256 KiB)").path_param("tenant").ok("200", Some(branding_schema())).build()),
        (t("/admin/api/v1/tenants/{tenant}/branding/logo"), "delete", op("Remove the logo").path_param("tenant").ok("200", Some(branding_schema())).build()),
        (t("/admin/api/v1/tenants/{tenant}/settings/preview"), "post", op("Generate samples from an id, code or PIN pattern").path_param("tenant")
            .body(json!({ "type": "object", "required": ["pattern"], "properties": { "pattern": text(500), "count": { "type": "integer", "minimum": 1, "maximum": 50 } } }))
            .ok("200", Some(json!({ "type": "object", "properties": { "samples": { "type": "array", "items": { "type": "string" } }, "entropy_bits": { "type": "number" } } }))).build()),
        (t("/admin/api/v1/tenants/{tenant}/client-groups"), "get", op("List client groups").path_param("tenant").ok("200", Some(list())).build()),
        (t("/admin/api/v1/tenants/{tenant}/client-groups"), "post", op("Create a client group").path_param("tenant")
            .body(json!({ "type": "object", "required": ["name", "scopes"], "properties": { "name": text(255), "scopes": { "type": "array", "items": { "type": "string", "enum": ["read", "read-lists", "read-secrets", "use", "manage", "update", "recharge"] } } } }))
            .ok("201", Some(any())).build()),
        (t("/admin/api/v1/tenants/{tenant}/clients"), "get", op("List clients").path_param("tenant").ok("200", Some(list())).build()),
        (t("/admin/api/v1/tenants/{tenant}/clients"), "post", op("Create a client").path_param("tenant")
            .body(json!({ "type": "object", "required": ["name", "client_group_id"], "properties": { "name": text(255), "client_group_id": { "type": "string" }, "type": text(32) } }))
            .ok("201", Some(any())).build()),
        (t("/admin/api/v1/tenants/{tenant}/clients/{client}/pin"), "post", op("Issue a 30-minute connection pin").path_param("tenant").path_param("client")
            .ok("201", Some(json!({ "type": "object", "properties": { "pin": { "type": "string" }, "expires_at": timestamp() } }))).build()),
        (t("/admin/api/v1/tenants/{tenant}/clients/{client}/disconnect"), "post", op("Revoke a client's secret and tokens").path_param("tenant").path_param("client").ok("200", Some(any())).build()),
        (t("/admin/api/v1/tenants/{tenant}/merchant-tokens"), "get", op("List merchant tokens (without the tokens)").path_param("tenant").ok("200", Some(json!({ "type": "object", "properties": { "data": { "type": "array", "items": merchant_token() } } }))).build()),
        (t("/admin/api/v1/tenants/{tenant}/merchant-tokens"), "post", op("Create a merchant token (shown once)").path_param("tenant")
            .body(json!({ "type": "object", "required": ["name"], "properties": { "name": text(255) } })).ok("201", Some(any())).build()),
        (t("/admin/api/v1/tenants/{tenant}/merchant-tokens/{token}/revoke"), "post", op("Revoke a merchant token: its next request is refused on every node (again: the same answer)").path_param("tenant").path_param("token")
            .ok("200", Some(merchant_token())).build()),
        (t("/admin/api/v1/console-users"), "get", op("List console users (no password hashes)").ok("200", Some(json!({ "type": "object", "properties": { "data": { "type": "array", "items": console_user() } } }))).build()),
        (t("/admin/api/v1/console-users"), "post", op("Create a console user").body(json!({ "type": "object", "required": ["username", "password"], "properties": { "username": text(64), "password": { "type": "string", "minLength": 12, "maxLength": 256 } } }))
            .ok("201", Some(any())).build()),
        (t("/admin/api/v1/console-users/{username}/disable"), "post", op("Disable a console user: their sessions end and logins are refused").path_param("username").ok("200", Some(console_user())).build()),
        (t("/admin/api/v1/console-users/{username}/enable"), "post", op("Enable a disabled console user").path_param("username").ok("200", Some(console_user())).build()),
        (t("/admin/api/v1/console-users/{username}/unlock"), "post", op("Lift a lockout after failed logins").path_param("username").ok("200", Some(console_user())).build()),
        (t("/admin/api/v1/console-users/{username}/password"), "post", op("Set a new password: also unlocks the user and ends their sessions").path_param("username")
            .body(json!({ "type": "object", "required": ["password"], "properties": { "password": { "type": "string", "minLength": 12, "maxLength": 256 } } }))
            .ok("200", Some(console_user())).build()),
        (t("/admin/api/v1/tenants/{tenant}/vouchers"), "get", op("Search vouchers").path_param("tenant")
            .query("id", json!({ "type": "string" })).query("code", json!({ "type": "string" })).query("batch", json!({ "type": "string" }))
            .query("sku", json!({ "type": "string" })).query("order_number", json!({ "type": "string" }))
            .query("status", json!({ "type": "string", "enum": ["active", "inactive"] })).query("type", json!({ "type": "string", "enum": ["digital", "print"] }))
            .query("created_from", json!({ "type": "string", "format": "RFC3339" })).query("created_to", json!({ "type": "string", "format": "RFC3339" }))
            .query("page", json!({ "type": "integer", "minimum": 1 })).query("per_page", json!({ "type": "integer", "minimum": 1, "maximum": 500 }))
            .ok("200", Some(list())).build()),
        (t("/admin/api/v1/tenants/{tenant}/vouchers/{voucher}"), "get", op("A voucher with its entries, holds and audit events").path_param("tenant").path_param("voucher").ok("200", Some(any())).build()),
        (t("/admin/api/v1/tenants/{tenant}/audit"), "get", op("The audit log, newest first").path_param("tenant")
            .query("subject_id", json!({ "type": "string" })).query("action", json!({ "type": "string" })).query("actor_id", json!({ "type": "string" }))
            .query("page", json!({ "type": "integer", "minimum": 1 })).query("per_page", json!({ "type": "integer", "minimum": 1, "maximum": 500 }))
            .ok("200", Some(list())).build()),
        (t("/admin/api/v1/tenants/{tenant}/events"), "get", op("The tenant's ledger events in sequence order after a cursor (see docs/events.md); wait=N long-polls until an event commits").path_param("tenant")
            .query("after", json!({ "type": "integer", "minimum": 0, "default": 0 })).query("limit", json!({ "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 }))
            .query("type", json!({ "type": "string", "description": "comma-separated event types; a family ends in .* (hold.*)" }))
            .query("voucher", json!({ "type": "string" })).query("from", json!({ "type": "string", "format": "RFC3339" })).query("to", json!({ "type": "string", "format": "RFC3339" }))
            .query("wait", json!({ "type": "integer", "minimum": 0, "maximum": 60, "default": 0 }))
            .ok("200", Some(json!({ "type": "object", "properties": {
                "data": { "type": "array", "items": { "type": "object", "properties": {
                    "id": { "type": "string" }, "seq": { "type": "integer" }, "type": { "type": "string" }, "at": timestamp(),
                    "tenant_id": { "type": "string" }, "face": { "type": "string" },
                    "actor": { "type": "object" }, "request_id": { "type": "string" },
                    "voucher_id": nullable(json!({ "type": "string" })), "data": { "type": "object" } } } },
                "next_after": { "type": "integer" } } }))).build()),
        (t("/admin/api/v1/tenants/{tenant}/webhooks"), "get", op("List webhook endpoints (without secrets)").path_param("tenant").ok("200", Some(list())).build()),
        (t("/admin/api/v1/tenants/{tenant}/webhooks"), "post", op("Create a webhook endpoint: events committed from now on are POSTed to it, signed (Standard Webhooks); the secret is shown once").path_param("tenant")
            .body(json!({ "type": "object", "required": ["url"], "properties": { "url": { "type": "string", "maxLength": 2000 },
                "types": { "type": "array", "items": { "type": "string" }, "description": "event types or families (hold.*); empty: every type" },
                "allow_private_addresses": { "type": "boolean", "default": false } } }))
            .ok("201", Some(any())).build()),
        (t("/admin/api/v1/tenants/{tenant}/webhooks/{endpoint}"), "delete", op("Delete a webhook endpoint").path_param("tenant").path_param("endpoint").ok("200", Some(any())).build()),
        (t("/admin/api/v1/tenants/{tenant}/webhooks/{endpoint}/rotate-secret"), "post", op("A new signing secret (shown once); the old one keeps signing beside it for 24 hours").path_param("tenant").path_param("endpoint").ok("200", Some(any())).build()),
        (t("/admin/api/v1/tenants/{tenant}/webhooks/{endpoint}/redeliver"), "post", op("Send the events after a number again (same webhook-id), enabling a disabled endpoint").path_param("tenant").path_param("endpoint")
            .body(json!({ "type": "object", "required": ["after"], "properties": { "after": { "type": "integer", "minimum": 0 } } })).ok("200", Some(any())).build()),
        (t("/admin/api/v1/tenants/{tenant}/webhooks/{endpoint}/test"), "post", op("Send a test event (type webhook.test, number 0) to the endpoint now and answer the attempt: status, latency_ms, error; nothing in the feed changes").path_param("tenant").path_param("endpoint")
            .ok("200", Some(json!({ "type": "object", "properties": { "seq": { "type": "integer" }, "type": { "type": "string" }, "at": timestamp(),
                "status": nullable(json!({ "type": "integer" })), "latency_ms": { "type": "integer" }, "error": nullable(json!({ "type": "string" })) } }))).build()),
        (t("/admin/api/v1/tenants/{tenant}/webhooks/{endpoint}/deliveries"), "get", op("An endpoint's latest delivery attempts, newest first").path_param("tenant").path_param("endpoint").ok("200", Some(list())).build()),
        (t("/admin/api/v1/tenants/{tenant}/integrity"), "get", op("Recompute every voucher from its ledger entries").path_param("tenant")
            .ok("200", Some(json!({ "type": "object", "properties": { "vouchers_checked": { "type": "integer" }, "violations": { "type": "array", "items": { "type": "object" } } } }))).build()),
    ]
}

fn branding_schema() -> Value {
    let text = || nullable(json!({ "type": "string" }));
    json!({ "type": "object", "properties": {
        "display_name": text(), "colour": text(), "support": text(), "terms_url": text(),
        "privacy_url": text(), "currency": text(), "has_logo": { "type": "boolean" } } })
}

fn ops_paths() -> Vec<(&'static str, &'static str, Value)> {
    let plain = |summary: &str, content: &str| json!({ "tags": ["Operations"], "summary": summary, "security": [], "responses": { "200": { "description": "OK", "content": { content: {} } } } });
    vec![
        ("/healthz", "get", plain("Liveness", "application/json")),
        (
            "/readyz",
            "get",
            json!({ "tags": ["Operations"], "summary": "Readiness: the database answers", "security": [],
            "responses": { "200": { "description": "Ready" }, "503": { "description": "The database does not answer" } } }),
        ),
        ("/metrics", "get", plain("Prometheus metrics", "text/plain")),
        (
            "/openapi.json",
            "get",
            plain("This document", "application/json"),
        ),
        ("/docs", "get", plain("Swagger UI", "text/html")),
        (
            "/",
            "get",
            plain(
                "A start page linking the console and the API documentation",
                "text/html",
            ),
        ),
        (
            "/oauth/token",
            "post",
            json!({
            "tags": ["Clients"], "summary": "OAuth 2 client credentials token", "security": [],
            "requestBody": { "required": true, "content": { "application/x-www-form-urlencoded": { "schema": { "type": "object", "required": ["grant_type"], "properties": {
                "grant_type": { "type": "string", "enum": ["client_credentials"] }, "client_id": { "type": "string" }, "client_secret": { "type": "string" },
                "scope": { "type": "string", "description": "Space-separated subset of the group's scopes; default all of them." },
                "client_type": { "type": "string", "maxLength": 32 } } } } } },
            "responses": {
                "200": response("Access token", Some(json!({ "type": "object", "properties": {
                    "token_type": { "type": "string", "example": "Bearer" }, "expires_in": { "type": "integer" },
                    "access_token": { "type": "string" }, "scope": { "type": "string" } } }))),
                "400": response("`invalid_request`, `unsupported_grant_type` or `invalid_scope`", Some(reference("OAuthError"))),
                "401": response("`invalid_client`", Some(reference("OAuthError"))),
            } }),
        ),
    ]
}

fn components() -> Value {
    let voucher_properties = json!({
        "id": text(255), "client_id": nullable(json!({ "type": "string" })), "sku": nullable(text(255)), "batch": nullable(text(30)),
        "amount": money(), "currency": text(3), "valid_until": nullable(timestamp()),
        "validity_value": { "type": "integer" }, "validity_interval": { "type": "string", "enum": ["days", "weeks", "months", "years"] },
        "status": { "type": "string", "enum": ["active", "inactive"] }, "type": { "type": "string", "enum": ["digital", "print"] },
        "taxable": { "type": "boolean" }, "tax_rate": nullable(json!({ "type": "string", "example": "19" })),
        "order_number": nullable(text(255)), "data": nullable(text(65535)), "created_at": timestamp(), "updated_at": timestamp(),
        "code": { "type": "string", "description": "Only with the read-secrets scope." },
        "pin": nullable(json!({ "type": "string", "description": "Only with the read-secrets scope." })),
        "remaining_amount": money(), "deletable": { "type": "boolean" },
    });
    json!({
        "securitySchemes": {
            "BearerAuth": { "type": "oauth2", "flows": { "clientCredentials": { "tokenUrl": "/oauth/token", "scopes": {
                "read": "Read single vouchers", "read-lists": "Read voucher lists", "read-secrets": "Read secret voucher information like code and pin",
                "use": "Use a voucher (activation, reservation, charge and cancel)", "manage": "Create and delete vouchers",
                "update": "Update vouchers", "recharge": "Recharge a voucher" } } } },
            "AdminToken": { "type": "http", "scheme": "bearer" },
            "BleepayToken": { "type": "http", "scheme": "bearer", "description": "A bleepay payer or payee token from /api/v1/auth/sign-in." },
            "MerchantToken": { "type": "http", "scheme": "bearer", "description": "A Front Payment merchant token, issued by the operator per tenant." },
        },
        "parameters": { "IdempotencyKey": { "in": "header", "name": "Idempotency-Key", "required": false,
            "description": "Extension: 1-255 visible ASCII characters. A retry with the same key and body returns the first response unchanged (header `Idempotent-Replayed: true`); the same key with another body is refused (`IDEMPOTENCY_KEY_REUSED`). Kept 24 hours.",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255 } } },
        "schemas": {
            "Voucher": { "type": "object", "properties": voucher_properties },
            "VoucherCreate": { "type": "object", "required": ["amount", "currency"], "properties": {
                "id": text(255), "code": text(255), "pin": text(255), "sku": text(255), "batch": text(30),
                "amount": json!({ "type": "string", "pattern": "^\\d{1,6}\\.\\d{2}$", "example": "10.00" }), "currency": text(3),
                "validity_value": { "type": "integer", "minimum": 1 }, "validity_interval": { "type": "string", "enum": ["days", "weeks", "months", "years"] },
                "status": { "type": "string", "enum": ["active", "inactive"], "default": "inactive" },
                "type": { "type": "string", "enum": ["digital", "print"], "default": "digital" },
                "taxable": { "type": "boolean", "default": false }, "tax_rate": { "type": "string", "description": "Required when taxable." },
                "order_number": text(255), "data": text(65535),
                "valid_until": { "type": "string", "format": "RFC3339", "description": "Only with status active." } } },
            "Reservation": { "type": "object", "properties": {
                "id": { "type": "string" }, "voucher_id": { "type": "string" }, "voucher_taxable": { "type": "boolean" },
                "voucher_tax_rate": nullable(json!({ "type": "string" })), "client_id": { "type": "string" }, "amount": money(),
                "valid_until": timestamp(), "created_at": timestamp(), "updated_at": timestamp(),
                "status": { "type": "string", "enum": ["live", "charged", "released", "superseded", "expired"], "description": "Only on GET (extension)." },
                "charge_id": nullable(json!({ "type": "string", "description": "Only on GET (extension)." })) } },
            "Charge": { "type": "object", "properties": {
                "id": { "type": "string" }, "voucher_id": { "type": "string" }, "client_id": nullable(json!({ "type": "string" })),
                "type": { "type": "string", "enum": ["charge", "recharge", "refund"] }, "amount": money(),
                "order_number": nullable(json!({ "type": "string" })), "created_at": timestamp(), "updated_at": timestamp() } },
            "Client": { "type": "object", "properties": {
                "id": { "type": "string" }, "client_group_id": { "type": "string" }, "name": { "type": "string" }, "secret": { "type": "string" },
                "scopes": { "type": "array", "items": { "type": "string", "enum": ["can_use", "can_manage"] } },
                "created_at": timestamp(), "updated_at": timestamp(), "connected_at": nullable(timestamp()), "type": { "type": "string" } } },
            "JtlError": { "type": "object", "properties": {
                "status": { "type": "integer" }, "code": { "type": "string" }, "message": { "type": "string" },
                "errors": { "type": "array", "items": { "type": "object", "properties": {
                    "code": { "type": "string" }, "property": { "type": "string" }, "rule": { "type": "string" }, "message": { "type": "string" } } } } } },
            "OAuthError": { "type": "object", "properties": { "error": { "type": "string" }, "error_description": { "type": "string" } } },
            "AdminError": { "type": "object", "properties": { "error": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } },
            "Settings": { "type": "object", "required": ["voucher_id_pattern", "code_pattern", "default_validity_value", "default_validity_interval", "reservation_ttl_seconds", "token_ttl_seconds"], "properties": {
                "voucher_id_pattern": { "type": "string", "example": "[A-Z0-9]{16}" }, "code_pattern": { "type": "string", "example": "[A-HJ-NP-Z2-9]{12}" },
                "pin_pattern": nullable(json!({ "type": "string", "example": "[0-9]{4}" })),
                "default_validity_value": { "type": "integer", "minimum": 1 }, "default_validity_interval": { "type": "string", "enum": ["days", "weeks", "months", "years"] },
                "reservation_ttl_seconds": { "type": "integer", "minimum": 60, "maximum": 86400 }, "token_ttl_seconds": { "type": "integer", "minimum": 60, "maximum": 86400 } } },
        },
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let owned = |(path, method, operation): (&str, &'static str, Value)| {
        (path.to_string(), method, operation)
    };
    for (path, method, operation) in jtl_paths()
        .into_iter()
        .chain(admin_paths())
        .chain(ops_paths())
        .map(owned)
        .chain(front::paths())
        .chain(bleepay::paths())
    {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method] = operation;
    }
    limits::add_limit_answers(&mut paths);
    let mut components = components();
    if let Some(schemas) = components["schemas"].as_object_mut() {
        for face in [front::schemas(), bleepay::schemas()] {
            if let Value::Object(face_schemas) = face {
                schemas.extend(face_schemas);
            }
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "voucherd",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Stored-value vouchers with reservations over an exact ledger. The `/v1` paths and `/oauth/token` follow the JTL-Voucher Cloud API v1.8; operations marked `x-voucherd-extension` are additions. `/api/v1/connect/reservations` and `/pay/{id}` follow Front Payment's Connect reservations with a voucher as the payment instrument. `/api/v1/auth`, `/api/v1/vouchers` and `/api/v1/payers` follow bleepay's payer/payee contexts with 6-digit voucher codes. `/admin/api/v1` is the operator's API.",
        },
        "servers": [{ "url": "/" }],
        "tags": [
            { "name": "Vouchers" }, { "name": "Reservations" }, { "name": "Charges" }, { "name": "Clients" },
            { "name": "Front Payment" }, { "name": "bleepay" }, { "name": "Admin" }, { "name": "Operations" },
        ],
        "paths": paths,
        "components": components,
    })
}

/// Every `(method, path)` the document describes, for tests.
pub fn operations() -> Vec<(String, String)> {
    let doc = document();
    let mut ops = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            if let Some(methods) = item.as_object() {
                ops.extend(methods.keys().map(|m| (m.to_uppercase(), path.clone())));
            }
        }
    }
    ops
}
