//! The bleepay face in the OpenAPI document: sign-up and sign-in, the payer's wallet,
//! contexts, voucher codes, and their schemas.

use serde_json::{Value, json};

use super::{json_content, reference, response};

const TAG: &str = "bleepay";

fn string(min: u32, max: u32) -> Value {
    json!({ "type": "string", "minLength": min, "maxLength": max })
}

fn error(description: &str) -> Value {
    response(description, Some(reference("BleepayError")))
}

/// An operation with its success, the errors every bleepay call can give, and `extra`.
fn operation(
    summary: &str,
    secured: bool,
    body: Option<Value>,
    ok: Value,
    extra: &[(&str, &str)],
) -> Value {
    let mut responses = json!({
        "200": response("OK", Some(ok)),
        "400": error("`validation_failed` (with `errors`), or a business refusal: `invalid_code`, `already_closed`, `not_redeemed`, `already_redeemed`, `already_resolved`, `already_discarded`, `expired`, `insufficient_funds`, `voucher_not_registered`, `invalid_voucher`, `already_registered`, `already_added`, `voucher_unusable`."),
        "503": error("`service_unavailable`: the store is busy or unreachable; see `Retry-After`."),
    });
    if secured {
        responses["401"] = error(
            "`unauthorized`: missing, unknown or expired token (a payee token also ends with its context).",
        );
    }
    for (status, description) in extra {
        responses[*status] = error(description);
    }
    let mut op = json!({
        "tags": [TAG],
        "summary": summary,
        "security": if secured { json!([{ "BleepayToken": [] }]) } else { json!([]) },
        "parameters": [],
        "responses": responses,
    });
    if let Some(body) = body {
        op["requestBody"] = json!({ "required": true, "content": json_content(body) });
    }
    op
}

fn with_id(mut op: Value) -> Value {
    op["parameters"] =
        json!([{ "in": "path", "name": "id", "required": true, "schema": { "type": "string" } }]);
    op
}

fn with_window(mut op: Value, status: bool) -> Value {
    let mut params = vec![
        json!({ "in": "query", "name": "limit", "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 100 } }),
        json!({ "in": "query", "name": "offset", "schema": { "type": "integer", "minimum": 0, "default": 0 } }),
        json!({ "in": "query", "name": "since", "description": "Unix milliseconds, inclusive.", "schema": { "type": "integer", "minimum": 0 } }),
        json!({ "in": "query", "name": "until", "description": "Unix milliseconds, inclusive.", "schema": { "type": "integer", "minimum": 0 } }),
    ];
    if status {
        params.push(json!({ "in": "query", "name": "status", "schema": { "type": "string", "enum": ["RESERVED", "REDEEMED", "RESOLVED", "DISCARDED"] } }));
    }
    op["parameters"] = Value::Array(params);
    op
}

const PAYER_ONLY: (&str, &str) = ("403", "`forbidden`: a payee token on a payer-only call.");
const NOT_FOUND: (&str, &str) = (
    "404",
    "`not_found`: no such context or voucher code for this caller.",
);
const THROTTLED: (&str, &str) = (
    "429",
    "`too_many_requests`: too many wrong codes; see `Retry-After`.",
);

pub(super) fn paths() -> Vec<(String, &'static str, Value)> {
    let token = reference("BleepayAuthorization");
    let code = reference("BleepayVoucher");
    let context = reference("BleepayContext");
    let list = |item: &Value| json!({ "type": "array", "items": item });
    let path = |p: &str| format!("/api/v1{p}");
    vec![
        (
            path("/auth/sign-up"),
            "post",
            operation(
                "Create a payer account (`X-Tenant-Id` names the tenant, default `default`)",
                false,
                Some(reference("BleepaySignUp")),
                json!({ "allOf": [token.clone(), { "type": "object", "properties": { "id": { "type": "string", "example": "usr_4f1c0d2a9b7e6c5d4a3b2" } } }] }),
                &[],
            ),
        ),
        (
            path("/auth/sign-in"),
            "post",
            operation(
                "Sign in: a payer by e-mail or device, a payee with `voucher::context::code::<code>`",
                false,
                Some(reference("BleepaySignIn")),
                token,
                &[
                    (
                        "401",
                        "`invalid_credentials`: wrong e-mail, installation or password.",
                    ),
                    (
                        "429",
                        "`too_many_requests`: too many failed sign-ins from this address.",
                    ),
                ],
            ),
        ),
        (
            path("/payers/me/vouchers"),
            "get",
            operation(
                "The vouchers in the payer's account (voucherd extension)",
                true,
                None,
                list(&reference("BleepayPayerVoucher")),
                &[PAYER_ONLY],
            ),
        ),
        (
            path("/payers/me/vouchers"),
            "post",
            operation(
                "Add a voucher to the payer's account, proving possession with its code and PIN (voucherd extension)",
                true,
                Some(
                    json!({ "type": "object", "required": ["code"], "properties": { "code": string(1, 255), "pin": string(1, 255) } }),
                ),
                reference("BleepayPayerVoucher"),
                &[PAYER_ONLY, THROTTLED],
            ),
        ),
        (
            path("/vouchers/contexts/context-open"),
            "post",
            operation(
                "Open a context over some of the payer's vouchers; its 6-character code is valid 10 minutes",
                true,
                Some(
                    json!({ "type": "object", "required": ["format", "payers"], "properties": {
                "format": { "type": "string", "enum": ["numeric", "alphanum"] },
                "payers": { "type": "array", "minItems": 1, "maxItems": 10, "items": { "type": "object", "required": ["address"], "properties": {
                    "address": { "type": "string", "description": "A voucher code in the payer's account." },
                    "pin": { "type": "string", "description": "Required when the voucher has a PIN." } } } } } }),
                ),
                context.clone(),
                &[PAYER_ONLY, THROTTLED],
            ),
        ),
        (
            path("/vouchers/contexts"),
            "get",
            with_window(
                operation(
                    "The payer's contexts, newest first",
                    true,
                    None,
                    list(&context),
                    &[PAYER_ONLY],
                ),
                false,
            ),
        ),
        (
            path("/vouchers/contexts/{id}"),
            "get",
            with_id(operation(
                "A context of the payer",
                true,
                None,
                context.clone(),
                &[PAYER_ONLY, NOT_FOUND],
            )),
        ),
        (
            path("/vouchers/contexts/{id}/context-close"),
            "post",
            with_id(operation(
                "Close a context: no new voucher codes, its payee tokens end; existing codes continue",
                true,
                Some(
                    json!({ "type": "object", "required": ["payeeId"], "properties": { "payeeId": { "type": "string", "maxLength": 64, "nullable": true } } }),
                ),
                context,
                &[PAYER_ONLY, NOT_FOUND],
            )),
        ),
        (
            path("/vouchers/reserve-voucher"),
            "post",
            operation(
                "Reserve a fresh 6-digit voucher code in the context with this code (valid 2 minutes)",
                true,
                Some(
                    json!({ "type": "object", "required": ["code"], "properties": { "code": { "type": "string", "description": "The context code." } } }),
                ),
                code.clone(),
                &[THROTTLED],
            ),
        ),
        (
            path("/vouchers"),
            "get",
            with_window(
                operation(
                    "The voucher codes the caller may see, oldest first",
                    true,
                    None,
                    list(&code),
                    &[],
                ),
                true,
            ),
        ),
        (
            path("/vouchers/{id}"),
            "get",
            with_id(operation(
                "A voucher code (the polling target)",
                true,
                None,
                code.clone(),
                &[NOT_FOUND],
            )),
        ),
        (
            path("/vouchers/{id}/redeem-voucher"),
            "post",
            with_id(operation(
                "State the amount: held on the first bound voucher that can carry it",
                true,
                Some(
                    json!({ "type": "object", "required": ["expectedPayment"], "properties": { "expectedPayment": { "type": "object", "required": ["currency", "amount"], "properties": {
                "currency": { "type": "string", "example": "EUR" },
                "amount": { "type": "string", "pattern": "^\\d{1,12}(\\.\\d+)?$", "example": "100", "description": "A decimal string with at most the currency's decimals." },
                "network": { "type": "string", "description": "Accepted and ignored." },
                "currencyAddress": { "type": "string", "description": "Accepted and ignored." },
                "wallet": { "type": "object", "description": "Accepted and ignored." } } } } }),
                ),
                code.clone(),
                &[NOT_FOUND],
            )),
        ),
        (
            path("/vouchers/{id}/resolve-voucher"),
            "post",
            with_id(operation(
                "The payer confirms: the held amount is charged",
                true,
                Some(
                    json!({ "type": "object", "properties": { "receipts": { "type": "array", "minItems": 1, "maxItems": 5, "items": { "type": "object", "properties": { "paymentId": string(1, 128) } } } } }),
                ),
                json!({ "type": "object", "properties": { "id": { "type": "string" }, "status": { "type": "string", "enum": ["RESOLVED"] }, "chargeId": { "type": "string" } } }),
                &[PAYER_ONLY, NOT_FOUND],
            )),
        ),
        (
            path("/vouchers/{id}/discard-voucher"),
            "post",
            with_id(operation(
                "Discard a reserved or redeemed voucher code: its hold is released",
                true,
                None,
                code,
                &[NOT_FOUND],
            )),
        ),
    ]
}

pub(super) fn schemas() -> Value {
    let time = || json!({ "type": "string", "format": "date-time", "example": "2026-03-01T12:00:00.000Z" });
    json!({
        "BleepayError": { "type": "object", "required": ["statusCode", "code", "message"], "properties": {
            "statusCode": { "type": "integer" }, "code": { "type": "string", "example": "invalid_code" },
            "message": { "type": "string" },
            "errors": { "type": "array", "items": { "type": "object", "properties": {
                "property": { "type": "string" }, "message": { "type": "string" } } } } } },
        "BleepaySignUp": { "type": "object", "required": ["type", "data"], "properties": {
            "type": { "type": "string", "enum": ["email-password", "mobile-device"] },
            "data": { "type": "object", "properties": {
                "email": string(3, 128), "password": string(8, 256),
                "installationId": string(32, 128) } } } },
        "BleepaySignIn": { "type": "object", "required": ["type", "data"], "properties": {
            "type": { "type": "string", "enum": ["email-password", "mobile-device", "resource"] },
            "data": { "type": "object", "properties": {
                "email": string(3, 128), "password": string(8, 256), "installationId": string(32, 128),
                "resource": { "type": "string", "minLength": 4, "maxLength": 128, "example": "voucher::context::code::482913" } } } } },
        "BleepayAuthorization": { "type": "object", "properties": { "authorization": { "type": "object", "properties": {
            "token": { "type": "string" }, "expiresAt": time() } } } },
        "BleepayPayerVoucher": { "type": "object", "properties": {
            "voucherId": { "type": "string" }, "currency": { "type": "string" },
            "remainingAmount": { "type": "string", "example": "50.00" }, "availableAmount": { "type": "string", "example": "30.00" },
            "status": { "type": "string", "enum": ["active", "inactive"] }, "validUntil": { "type": "string", "nullable": true },
            "addedAt": time() } },
        "BleepayContext": { "type": "object", "properties": {
            "id": { "type": "string", "example": "ctx_0c1d2e3f4a5b6c7d8e9f0" }, "code": { "type": "string", "example": "482913" },
            "status": { "type": "string", "enum": ["OPEN", "CLOSED"] }, "format": { "type": "string", "enum": ["numeric", "alphanum"] },
            "payers": { "type": "array", "items": { "type": "object", "properties": { "address": { "type": "string" }, "voucherId": { "type": "string" } } } },
            "payeeId": { "type": "string", "nullable": true },
            "closedReason": { "type": "string", "nullable": true, "enum": ["expired", "locked", null] },
            "expiresAt": time(), "createdAt": time(), "updatedAt": time() } },
        "BleepayVoucher": { "type": "object", "properties": {
            "id": { "type": "string", "example": "vch_9a8b7c6d5e4f3a2b1c0d9" }, "code": { "type": "string", "example": "058214" },
            "status": { "type": "string", "enum": ["RESERVED", "REDEEMED", "RESOLVED", "DISCARDED"] },
            "type": { "type": "string", "enum": ["SIMPLE"], "nullable": true }, "contextId": { "type": "string" },
            "expectedPayment": { "type": "object", "nullable": true, "properties": { "currency": { "type": "string" }, "amount": { "type": "string" } } },
            "suppliedPayment": { "nullable": true },
            "payments": { "type": "array", "items": { "type": "object", "properties": {
                "id": { "type": "string" }, "voucherId": { "type": "string" }, "currency": { "type": "string" }, "amount": { "type": "string" } } } },
            "networks": { "type": "array", "items": {} }, "extras": { "type": "array", "items": {} },
            "expiresAt": time(), "createdAt": time(), "updatedAt": time() } },
    })
}
