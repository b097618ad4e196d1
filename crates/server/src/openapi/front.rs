//! The Front Payment "Connect" face in the OpenAPI document: the ten reservation operations
//! under `/api/v1/connect/reservations/`, the hosted payment page, and their schemas.

use serde_json::{Value, json};

use super::{json_content, reference, response};

const TAG: &str = "Front Payment";
const BASE: &str = "/api/v1/connect/reservations";

/// A number in major units, sent as a JSON number or a numeric string (at most two decimals).
fn amount() -> Value {
    json!({ "oneOf": [
        { "type": "number", "minimum": 0, "multipleOf": 0.01 },
        { "type": "string", "pattern": "^\\d{1,9}(\\.\\d{1,2})?$" },
    ], "example": 4500 })
}

fn unix_seconds() -> Value {
    json!({ "oneOf": [{ "type": "integer" }, { "type": "string", "pattern": "^\\d{1,12}$" }], "example": 1768132800 })
}

fn string() -> Value {
    json!({ "type": "string" })
}

/// `products` as an array or an index-keyed object (`{"0": {...}}`).
fn products(item: &str) -> Value {
    json!({ "oneOf": [
        { "type": "array", "minItems": 1, "items": reference(item) },
        { "type": "object", "additionalProperties": reference(item) },
    ] })
}

/// The answers every merchant operation can give besides its success.
fn failures(not_found: &str) -> Value {
    let envelope = || Some(reference("FrontEnvelope"));
    json!({
        "400": response("`Conflict of Business Logic`: a business rule refused the action; `message` is its key (`paymentChargeRunwayExceed`, `paymentCaptureDeadlineExceed`, `prerequisiteFailedToCancelReservation`, `reservationStatusAlreadyCompleted`, ...).", envelope()),
        "401": response("`unauthenticated`: missing or unknown merchant token.", envelope()),
        "404": response(not_found, envelope()),
        "417": response("`payloadValidationErrors`: `errors` lists Laravel-style sentences (`The products.0.rate field is required.`).", envelope()),
        "503": response("The store is busy or unreachable; retry after `Retry-After`.", envelope()),
    })
}

fn operation(summary: &str, body: Option<Value>, ok: (&str, Value), not_found: &str) -> Value {
    let mut responses = failures(not_found);
    responses[ok.0] = response("OK", Some(ok.1));
    let mut op = json!({
        "tags": [TAG],
        "summary": summary,
        "security": [{ "MerchantToken": [] }],
        "parameters": [],
        "responses": responses,
    });
    if let Some(body) = body {
        op["requestBody"] = json!({ "required": true, "content": json_content(body) });
    }
    op
}

fn with_path_params(mut op: Value, names: &[&str]) -> Value {
    op["parameters"] = names
        .iter()
        .map(|name| json!({ "in": "path", "name": name, "required": true, "schema": string() }))
        .collect();
    op
}

/// The envelope with `data` of the given shape.
fn data(schema: Value) -> Value {
    json!({ "allOf": [reference("FrontEnvelope"), { "type": "object", "properties": { "data": schema } }] })
}

fn no_data() -> Value {
    reference("FrontEnvelope")
}

const RESERVATION_MISSING: &str = "`reservationNotFound`: no such reservation for this merchant; `paymentCardNotFound`: not paid yet.";
const ORDER_MISSING: &str = "`orderNotFound`: no such reservation for this merchant.";

pub(super) fn paths() -> Vec<(String, &'static str, Value)> {
    let on = |name: &str| format!("{BASE}/{name}/{{id}}");
    let note =
        json!({ "type": "object", "required": ["note"], "properties": { "note": string() } });
    let posting = data(
        json!({ "type": "object", "properties": { "uuid": { "type": "string", "example": "CAP4Q2Z8W9R1K7M3" } } }),
    );
    let created = data(reference("FrontCreated"));
    let history = data(json!({ "type": "array", "items": reference("FrontHistoryEvent") }));
    vec![
        (
            format!("{BASE}/submit"),
            "post",
            operation(
                "Submit a reservation: its payment link goes to the customer",
                Some(reference("FrontReservationRequest")),
                ("201", created.clone()),
                RESERVATION_MISSING,
            ),
        ),
        (
            format!("{BASE}/create"),
            "post",
            operation(
                "Create a reservation checkout session (with callback.success / failure)",
                Some(reference("FrontReservationRequest")),
                ("201", created),
                RESERVATION_MISSING,
            ),
        ),
        (
            on("details"),
            "get",
            with_path_params(
                operation(
                    "Get reservation details",
                    None,
                    ("200", data(reference("FrontReservation"))),
                    RESERVATION_MISSING,
                ),
                &["id"],
            ),
        ),
        (
            on("capture"),
            "post",
            with_path_params(
                operation(
                    "Capture reserved lines (partially, several times, until the capture deadline)",
                    Some(
                        json!({ "type": "object", "required": ["products", "grandTotal"], "properties": {
            "products": products("FrontLineAmount"), "grandTotal": amount(), "additionalText": string() } }),
                    ),
                    ("202", posting.clone()),
                    RESERVATION_MISSING,
                ),
                &["id"],
            ),
        ),
        (
            on("charge"),
            "post",
            with_path_params(
                operation(
                    "Merchant-initiated charge of new lines within chargeLimit and chargeValidity",
                    Some(
                        json!({ "type": "object", "required": ["products", "grandTotal"], "properties": {
            "products": products("FrontLine"), "grandTotal": amount(), "additionalText": string() } }),
                    ),
                    ("202", posting),
                    RESERVATION_MISSING,
                ),
                &["id"],
            ),
        ),
        (
            on("cancel"),
            "post",
            with_path_params(
                operation(
                    "Cancel a reservation before any capture or charge (also GET with the same body)",
                    Some(note.clone()),
                    ("202", no_data()),
                    ORDER_MISSING,
                ),
                &["id"],
            ),
        ),
        (
            on("cancel"),
            "get",
            with_path_params(
                operation(
                    "Cancel a reservation (GET with a JSON body, as Front Payment documents it)",
                    Some(note.clone()),
                    ("202", no_data()),
                    ORDER_MISSING,
                ),
                &["id"],
            ),
        ),
        (
            on("complete"),
            "post",
            with_path_params(
                operation(
                    "Complete a reservation: release what is still held",
                    Some(note),
                    ("202", no_data()),
                    RESERVATION_MISSING,
                ),
                &["id"],
            ),
        ),
        (
            on("resend"),
            "post",
            with_path_params(
                operation(
                    "Resend the payment link (recorded; voucherd sends no SMS or e-mail itself)",
                    Some(json!({ "type": "object", "properties": {
            "countryCode": string(), "msisdn": string(), "email": { "type": "string", "format": "email" } } })),
                    ("202", no_data()),
                    ORDER_MISSING,
                ),
                &["id"],
            ),
        ),
        (
            on("refund"),
            "post",
            with_path_params(
                operation(
                    "Refund lines of one capture (CAP...) or charge (CHA...)",
                    Some(
                        json!({ "type": "object", "required": ["type", "source", "reference", "products", "grandTotal"], "properties": {
            "type": { "type": "string", "enum": ["reservation"] }, "source": { "type": "string", "enum": ["captured", "charged"] },
            "reference": string(), "products": products("FrontLineAmount"), "grandTotal": amount() } }),
                    ),
                    ("202", no_data()),
                    ORDER_MISSING,
                ),
                &["id"],
            ),
        ),
        (
            format!("{BASE}/history"),
            "get",
            operation(
                "Reservation events of the last 24 hours",
                None,
                ("200", history.clone()),
                RESERVATION_MISSING,
            ),
        ),
        (
            format!("{BASE}/history/{{start}}/{{end}}"),
            "get",
            with_path_params(
                operation(
                    "Reservation events between two Unix times (seconds, inclusive)",
                    None,
                    ("200", history),
                    RESERVATION_MISSING,
                ),
                &["start", "end"],
            ),
        ),
        (
            "/pay/{id}".into(),
            "get",
            json!({ "tags": [TAG], "summary": "The hosted payment page (HTML, no JavaScript), in the customer's language (docs/front-face.md)", "security": [],
            "parameters": [{ "in": "path", "name": "id", "required": true, "schema": string() },
                { "in": "query", "name": "lang", "required": false, "schema": { "type": "string", "enum": ["en", "nb", "sv", "da", "fi", "de"] } }],
            "responses": {
                "200": { "description": "The page with the merchant, lines and total: the voucher form while the link can be paid, otherwise the reservation's state (paid, expired, closed)", "content": { "text/html": {} } },
                "404": { "description": "Unknown reservation", "content": { "text/html": {} } },
                "503": { "description": "The store is unavailable", "content": { "text/html": {} } } } }),
        ),
        (
            "/pay/{id}/logo".into(),
            "get",
            json!({ "tags": [TAG], "summary": "The logo of the reservation's shop (PNG, JPEG or WebP), as set in its branding", "security": [],
            "parameters": [{ "in": "path", "name": "id", "required": true, "schema": string() }],
            "responses": {
                "200": { "description": "The image", "content": { "image/png": {}, "image/jpeg": {}, "image/webp": {} } },
                "404": { "description": "Unknown reservation, or its shop has no logo" } } }),
        ),
        (
            "/pay/{id}".into(),
            "post",
            json!({ "tags": [TAG], "summary": "Pay with a voucher code and PIN: holds the grand total and confirms the reservation", "security": [],
            "parameters": [{ "in": "path", "name": "id", "required": true, "schema": string() }],
            "requestBody": { "required": true, "content": { "application/x-www-form-urlencoded": { "schema": { "type": "object", "required": ["code"], "properties": {
                "code": string(), "pin": string() } } } } },
            "responses": {
                "200": { "description": "Confirmation page (RESERVED)", "content": { "text/html": {} } },
                "303": { "description": "Paid; redirect to callback.success" },
                "404": { "description": "Unknown reservation", "content": { "text/html": {} } },
                "409": { "description": "Already paid, cancelled or completed", "content": { "text/html": {} } },
                "410": { "description": "The link has expired", "content": { "text/html": {} } },
                "422": { "description": "Missing or wrong code or PIN, inactive or expired voucher, insufficient balance, a voucher in another currency than the page shows", "content": { "text/html": {} } },
                "429": { "description": "Too many wrong codes from this address; see Retry-After", "content": { "text/html": {} } } } }),
        ),
    ]
}

pub(super) fn schemas() -> Value {
    let line = json!({ "type": "object", "required": ["name", "rate", "tax", "amount"], "properties": {
        "name": { "type": "string", "maxLength": 1000 }, "productId": { "type": "string", "nullable": true },
        "rate": amount(), "tax": { "oneOf": [{ "type": "integer", "enum": [0, 12, 15, 25] }, { "type": "string", "enum": ["0", "12", "15", "25"] }] },
        "amount": amount() } });
    let payers = json!({ "type": "array",
        "description": "Each paying voucher in the order the customer gave them; the first is voucherId.",
        "items": { "type": "object", "properties": {
            "voucherId": string(), "heldAmount": { "type": "number" }, "capturedAmount": { "type": "number" },
            "chargedAmount": { "type": "number" }, "refundedAmount": { "type": "number" } } } });
    json!({
        "FrontEnvelope": { "type": "object", "required": ["status_code", "status_message", "message"], "properties": {
            "status_code": { "type": "integer", "description": "Equal to the HTTP status." },
            "status_message": { "type": "string", "example": "OK" },
            "message": { "type": "string", "description": "A message key.", "example": "reservationCapturedSuccessfully" },
            "is_data": { "type": "boolean" }, "data": {},
            "is_error": { "type": "boolean" }, "errors": { "type": "array", "items": { "type": "string" } } } },
        "FrontLine": line,
        "FrontLineAmount": { "type": "object", "required": ["id", "amount"], "properties": {
            "id": { "oneOf": [{ "type": "integer" }, { "type": "string", "pattern": "^\\d+$" }], "description": "A line id from productList." },
            "amount": amount() } },
        "FrontReservationRequest": { "type": "object", "required": ["customerDetails", "orderDate", "dueDateForPaymentLink", "products", "orderSummary"], "properties": {
            "customerDetails": { "type": "object", "required": ["type", "countryCode", "msisdn", "email", "name", "preferredLanguage"], "properties": {
                "type": { "type": "string", "enum": ["private", "corporate"] }, "countryCode": string(), "msisdn": string(),
                "email": { "type": "string", "format": "email" }, "name": string(), "preferredLanguage": string(),
                "personalNumber": string(), "organizationId": { "type": "string", "description": "Required for corporate customers." },
                "address": { "type": "object", "properties": { "street": string(), "zip": string(), "city": string(), "country": string() } },
                "uuid": { "type": "string", "description": "An existing customer." } } },
            "orderDate": unix_seconds(), "dueDateForPaymentLink": unix_seconds(),
            "referenceNo": string(), "customerReference": string(), "customerNotes": string(), "tnc": string(),
            "sendOrderBy": { "type": "object", "properties": { "sms": { "type": "boolean" }, "email": { "type": "boolean" } } },
            "products": products("FrontLine"),
            "orderSummary": { "type": "object", "required": ["subTotal", "totalTax", "grandTotal"], "properties": {
                "subTotal": amount(), "totalTax": amount(), "grandTotal": { "allOf": [amount()], "description": "Must equal the sum of the lines' amount." } } },
            "chargeValidity": { "oneOf": [{ "type": "integer", "minimum": 1, "maximum": 3650 }, { "type": "string" }], "description": "Days after reservedAt during which charges are allowed (default 90)." },
            "chargeLimit": { "allOf": [amount()], "description": "voucherd extension: the most all charges may add up to (default the grand total)." },
            "settings": { "type": "object", "properties": { "isChargePartiallyRefundable": { "type": "boolean", "default": true } } },
            "submitPayment": { "type": "object", "properties": { "via": string() } },
            "callback": { "type": "object", "properties": {
                "callbackUrl": { "type": "string", "format": "uri", "description": "Receives GET status callbacks with a SHA-256 checksum (http only)." },
                "success": { "type": "string", "format": "uri" }, "failure": { "type": "string", "format": "uri" } } } } },
        "FrontCreated": { "type": "object", "properties": {
            "reservationUuid": string(), "customerUuid": string(),
            "status": { "type": "string", "enum": ["SENT"] }, "paymentUrl": { "type": "string", "format": "uri" } } },
        "FrontReservation": { "type": "object", "properties": {
            "reservationUuid": string(), "customerUuid": string(),
            "status": { "type": "string", "enum": ["SENT", "RESERVED", "CAPTURED", "CHARGED", "COMPLETED", "CANCELLED", "EXPIRED"] },
            "isPaid": { "type": "boolean" }, "grandTotal": { "type": "number" },
            "reservationDate": { "type": "integer" }, "paymentLinkDueDate": { "type": "integer" }, "paymentUrl": string(),
            "chargeValidity": { "type": "integer" }, "chargeLimit": { "type": "number" },
            "productList": { "type": "array", "items": { "type": "object" } },
            "chargedProductList": { "type": "array", "items": { "type": "object" } },
            "paymentDetails": { "type": "object", "properties": {
                "paymentMethod": { "type": "string", "enum": ["voucher"] }, "voucherId": { "type": "string", "nullable": true },
                "currency": { "type": "string", "nullable": true }, "reservedAt": { "type": "integer", "nullable": true },
                "reservedAmount": { "type": "number" }, "heldAmount": { "type": "number" },
                "capturedAmount": { "type": "number" }, "chargedAmount": { "type": "number" },
                "amountRefunded": { "type": "object", "properties": { "fromCaptured": { "type": "number" }, "fromCharge": { "type": "number" } } },
                "vouchers": payers } },
            "organizationDetails": { "type": "object" },
            "paymentHistory": { "type": "object", "properties": {
                "reserved": { "type": "array", "items": { "type": "object" } },
                "captured": { "type": "array", "items": { "type": "object" } },
                "charged": { "type": "array", "items": { "type": "object" } } } } } },
        "FrontHistoryEvent": { "type": "object", "properties": {
            "uuid": string(), "reservationUuid": string(), "title": { "type": "string", "example": "Reservation captured" },
            "datetime": { "type": "string", "example": "21.01.2024 03:49" }, "timestamp": { "type": "integer" },
            "sentTo": { "type": "string", "nullable": true }, "actionBy": { "type": "string", "nullable": true },
            "note": { "type": "string", "nullable": true }, "paymentMethod": { "type": "string", "example": "Voucher" },
            "isRefundable": { "type": "boolean" }, "amount": { "type": "string", "nullable": true, "example": "150.50" } } },
    })
}
