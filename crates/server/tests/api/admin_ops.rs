//! The admin API, the operations endpoints, the OpenAPI document's coverage, shutdown, and
//! several server instances over one PostgreSQL database.

use reqwest::{Method, StatusCode};
use serde_json::json;
use time::macros::datetime;
use voucherd_server::clock::ManualClock;

use crate::support::{ALL_SCOPES, Backend, TestApp};

on_both_stores!(
    the_admin_api_needs_its_token_and_validates_settings,
    generated_values_follow_the_tenant_patterns,
    the_audit_log_names_actor_action_and_request,
    operations_endpoints_answer,
    every_documented_operation_exists,
    shutdown_finishes_cleanly,
    a_revocation_reaches_every_node_within_a_second,
);

async fn the_admin_api_needs_its_token_and_validates_settings(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let refused = app
        .send(
            Method::GET,
            "/admin/api/v1/tenants",
            Some("wrong"),
            None,
            &[],
        )
        .await
        .expect(StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json["error"]["code"], "unauthenticated");
    let tenants = app
        .admin(Method::GET, "/tenants", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(tenants.json["data"][0]["id"], "default");
    let settings = app
        .admin(Method::GET, "/tenants/default/settings", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(settings.json["code_pattern"], "[A-HJ-NP-Z2-9]{12}");
    assert_eq!(settings.json["reservation_ttl_seconds"], 1800);
    let mut next = settings.json.clone();
    next["code_pattern"] = json!("[0-9]{4}");
    let weak = app
        .admin(Method::PUT, "/tenants/default/settings", Some(next.clone()))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.text.contains("bits of randomness"), "{}", weak.text);
    next["code_pattern"] = json!("[A-Z]+");
    app.admin(Method::PUT, "/tenants/default/settings", Some(next.clone()))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    next["code_pattern"] = json!("[A-Z]{10}");
    next["reservation_ttl_seconds"] = json!(10);
    app.admin(Method::PUT, "/tenants/default/settings", Some(next.clone()))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    next["reservation_ttl_seconds"] = json!(600);
    app.admin(Method::PUT, "/tenants/default/settings", Some(next))
        .await
        .expect(StatusCode::OK);
    app.admin(Method::GET, "/tenants/nowhere/settings", None)
        .await
        .expect(StatusCode::NOT_FOUND);
    app.admin(
        Method::POST,
        "/tenants",
        Some(json!({ "id": "Bad Id", "name": "x" })),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    app.admin(
        Method::POST,
        "/tenants",
        Some(json!({ "id": "shop-2", "name": "Shop 2" })),
    )
    .await
    .expect(StatusCode::CREATED);
    app.admin(
        Method::POST,
        "/tenants",
        Some(json!({ "id": "shop-2", "name": "Again" })),
    )
    .await
    .expect(StatusCode::CONFLICT);
    app.admin(
        Method::POST,
        "/tenants/default/client-groups",
        Some(json!({ "name": "G", "scopes": ["fly"] })),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    app.admin(
        Method::POST,
        "/tenants/default/clients",
        Some(json!({ "name": "T", "client_group_id": "none" })),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    app.send(
        Method::POST,
        "/admin/api/v1/tenants",
        Some(crate::support::ADMIN_TOKEN),
        Some(json!("{broken")),
        &[],
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    let merchant = app
        .admin(
            Method::POST,
            "/tenants/default/merchant-tokens",
            Some(json!({ "name": "Hotel" })),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(merchant.json["token"].as_str().map(str::len), Some(48));
    let listed = app
        .admin(Method::GET, "/tenants/default/merchant-tokens", None)
        .await
        .expect(StatusCode::OK);
    assert!(
        listed.json["data"][0].get("token").is_none(),
        "tokens are shown once"
    );
}

async fn generated_values_follow_the_tenant_patterns(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut settings = app
        .admin(Method::GET, "/tenants/default/settings", None)
        .await
        .json;
    settings["voucher_id_pattern"] = json!("GC-[0-9]{6}");
    settings["code_pattern"] = json!("(AB|CD)-[A-Z]{10}");
    settings["pin_pattern"] = json!("[0-9]{4}");
    app.admin(Method::PUT, "/tenants/default/settings", Some(settings))
        .await
        .expect(StatusCode::OK);
    let preview = app
        .admin(
            Method::POST,
            "/tenants/default/settings/preview",
            Some(json!({ "pattern": "[0-9]{4}", "count": 3 })),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(preview.json["samples"].as_array().map(Vec::len), Some(3));
    let c = app.client("default", ALL_SCOPES).await;
    let v = app
        .post(
            "/v1/vouchers",
            &c.token,
            json!({ "amount": "1.00", "currency": "EUR" }),
        )
        .await
        .expect(StatusCode::CREATED);
    let (id, code, pin) = (
        v.json["id"].as_str().unwrap_or_default(),
        v.json["code"].as_str().unwrap_or_default(),
        v.json["pin"].as_str().unwrap_or_default(),
    );
    assert!(id.starts_with("GC-") && id.len() == 9, "{id}");
    assert!(
        (code.starts_with("AB-") || code.starts_with("CD-")) && code.len() == 13,
        "{code}"
    );
    assert!(
        pin.len() == 4 && pin.bytes().all(|b| b.is_ascii_digit()),
        "{pin}"
    );
    // Without read-secrets, the create response hides code and PIN.
    let manager = app.client("default", &["manage"]).await;
    let hidden = app
        .post(
            "/v1/vouchers",
            &manager.token,
            json!({ "amount": "1.00", "currency": "EUR" }),
        )
        .await
        .expect(StatusCode::CREATED);
    assert!(
        hidden.json.get("code").is_none() && hidden.json.get("pin").is_none(),
        "{}",
        hidden.text
    );
}

async fn the_audit_log_names_actor_action_and_request(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let created = app
        .send(
            Method::POST,
            "/v1/vouchers",
            Some(&c.token),
            Some(json!({ "amount": "3.00", "currency": "EUR", "id": "AUDITED" })),
            &[("X-Request-Id", "req-audit-1")],
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(
        created
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-audit-1")
    );
    let audit = app
        .admin(
            Method::GET,
            "/tenants/default/audit?subject_id=AUDITED",
            None,
        )
        .await
        .expect(StatusCode::OK);
    let event = &audit.json["data"][0];
    assert_eq!(
        (
            event["action"].as_str(),
            event["actor_kind"].as_str(),
            event["request_id"].as_str()
        ),
        (Some("voucher.create"), Some("client"), Some("req-audit-1"))
    );
    assert_eq!(event["actor_id"], json!(c.id));
    let detail = app
        .admin(Method::GET, "/tenants/default/vouchers/AUDITED", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        detail.json["entries"],
        json!([]),
        "the issue entry is not listed as activity"
    );
    assert_eq!(detail.json["audit"][0]["action"], "voucher.create");
    let found = app
        .admin(
            Method::GET,
            &format!(
                "/tenants/default/vouchers?code={}",
                detail.json["code"].as_str().unwrap_or_default()
            ),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(found.json["total"], 1);
}

async fn operations_endpoints_answer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    app.get("/v1/vouchers", &c.token)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        app.send(Method::GET, "/healthz", None, None, &[])
            .await
            .expect(StatusCode::OK)
            .json["status"],
        "ok"
    );
    assert_eq!(
        app.send(Method::GET, "/readyz", None, None, &[])
            .await
            .expect(StatusCode::OK)
            .json["status"],
        "ready"
    );
    // A person who opens the service's address finds the console and the documentation.
    let start = app
        .send(Method::GET, "/", None, None, &[])
        .await
        .expect(StatusCode::OK);
    assert!(start.text.contains("href=\"/admin/\""), "{}", start.text);
    assert!(start.text.contains("href=\"/docs\""), "{}", start.text);
    let metrics = app
        .send(Method::GET, "/metrics", None, None, &[])
        .await
        .expect(StatusCode::OK);
    assert!(
        metrics.text.contains("voucherd_http_requests_total"),
        "{}",
        metrics.text
    );
    assert!(
        metrics.text.contains("voucherd_ledger_commands_total"),
        "{}",
        metrics.text
    );
    // Every metric says what it counts, and labels are plain words.
    for name in [
        "voucherd_http_requests_total",
        "voucherd_http_request_duration_seconds",
        "voucherd_ledger_commands_total",
        "voucherd_writer_batch_commands",
        "voucherd_writer_commit_seconds",
        "voucherd_writer_queue_wait_seconds",
    ] {
        assert!(
            metrics.text.contains(&format!("# HELP {name} ")),
            "no HELP for {name}: {}",
            metrics.text
        );
    }
    for line in metrics
        .text
        .lines()
        .filter(|l| l.starts_with("voucherd_ledger"))
    {
        let labels = line.split(['{', '}']).nth(1).unwrap_or_default();
        assert!(
            labels
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .all(|(_, value)| value
                    .trim_matches('"')
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')),
            "{line}"
        );
    }
    assert!(
        metrics
            .text
            .contains("voucherd_http_request_duration_seconds"),
        "{}",
        metrics.text
    );
    // That the writer's figures add up is checked where the process serves one server alone:
    // `binary::the_writer_metrics_of_one_process_add_up`.
    assert!(
        metrics
            .text
            .contains("voucherd_writer_batch_commands_bucket{le=\"512\"}"),
        "{}",
        metrics.text
    );
    let docs = app
        .send(Method::GET, "/docs", None, None, &[])
        .await
        .expect(StatusCode::OK);
    assert!(docs.text.contains("swagger-ui-bundle.js"));
    let bundle = app
        .send(Method::GET, "/docs/swagger-ui-bundle.js", None, None, &[])
        .await
        .expect(StatusCode::OK);
    assert!(bundle.text.len() > 100_000, "the vendored bundle is served");
}

async fn every_documented_operation_exists(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let served = app
        .send(Method::GET, "/openapi.json", None, None, &[])
        .await
        .expect(StatusCode::OK);
    assert_eq!(served.json["openapi"], "3.0.3");
    let operations = voucherd_server::openapi::operations();
    assert!(operations.len() >= 40, "{}", operations.len());
    for (method, path) in operations {
        let concrete = path
            .replace("{tenant}", "default")
            .replace("{id}", "x")
            .replace("{charge_id}", "x")
            .replace("{client}", "x")
            .replace("{voucher}", "x")
            .replace("{start}", "0")
            .replace("{end}", "1");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let reply = app
            .send(method.clone(), &concrete, Some("not-a-token"), None, &[])
            .await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is documented but not routed"
        );
        assert_ne!(
            reply.json["code"], "ROUTE.NOT_FOUND",
            "{method} {path} is documented but not routed"
        );
        assert!(
            reply.status.as_u16() < 500,
            "{method} {path}: {}",
            reply.text
        );
    }
    // And the routes that exist are documented: an undocumented path answers ROUTE.NOT_FOUND.
    app.send(Method::GET, "/v1/clients", None, None, &[])
        .await
        .jtl_error(404, "ROUTE.NOT_FOUND");
}

async fn shutdown_finishes_cleanly(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.send(Method::GET, "/healthz", None, None, &[])
        .await
        .expect(StatusCode::OK);
    app.stop().await;
}

/// Two voucherd nodes on one PostgreSQL database race for one voucher.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_postgres_never_overdraw() {
    let Some(url) = crate::support::fresh_database(Backend::Postgres).await else {
        return;
    };
    let clock = ManualClock::new(datetime!(2026-03-01 09:00 UTC));
    let first = TestApp::spawn_on(&url, clock.clone()).await;
    let second = TestApp::spawn_on(&url, clock).await;
    let c = first.client("default", ALL_SCOPES).await;
    let (id, code) = first.active_voucher(&c.token, "50.00").await;
    let nodes = std::sync::Arc::new([first, second]);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (nodes, token, code) = (nodes.clone(), c.token.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            let node = &nodes[i % 2];
            let r = node
                .post(
                    "/v1/reservations",
                    &token,
                    json!({ "amount": "1.00", "currency": "EUR", "code": code }),
                )
                .await;
            assert!(r.status.as_u16() < 500, "{}", r.text);
            let Some(rid) = r.json["id"].as_str() else {
                return false;
            };
            // Charge on the other node.
            let other = &nodes[(i + 1) % 2];
            let charge = other
                .post(
                    &format!("/v1/reservations/{rid}/charge"),
                    &token,
                    json!({ "order_number": format!("O-{i}") }),
                )
                .await;
            assert!(charge.status.as_u16() < 500, "{}", charge.text);
            charge.status == StatusCode::CREATED
        }));
    }
    let mut charged = 0;
    for task in tasks {
        if task.await.expect("task") {
            charged += 1;
        }
    }
    let voucher = nodes[0]
        .get(&format!("/v1/vouchers/{id}"), &c.token)
        .await
        .expect(StatusCode::OK);
    assert!(charged <= 50, "{charged}");
    assert_eq!(
        voucher.json["remaining_amount"],
        json!(format!("{}.00", 50 - charged))
    );
    nodes[1].integrity_is_clean("default").await;
}

async fn a_revocation_reaches_every_node_within_a_second(backend: Backend) {
    let Some(url) = crate::support::fresh_database(backend).await else {
        return;
    };
    let clock = ManualClock::new(datetime!(2026-03-01 09:00 UTC));
    let node_a = TestApp::spawn_on(&url, clock.clone()).await;
    let node_b = TestApp::spawn_on(&url, clock.clone()).await;
    let c = node_a.client("default", ALL_SCOPES).await;
    node_b
        .get("/v1/vouchers", &c.token)
        .await
        .expect(StatusCode::OK);
    node_a
        .send(
            Method::POST,
            "/v1/clients/disconnect",
            Some(&c.token),
            None,
            &[],
        )
        .await
        .expect(StatusCode::NO_CONTENT);
    // On the node that revoked it, at once; on the other, within the cache's second.
    node_a
        .get("/v1/vouchers", &c.token)
        .await
        .jtl_error(401, "UNAUTHENTICATED");
    clock.advance(time::Duration::seconds(
        voucherd_server::token_cache::TOKEN_CACHE_SECONDS,
    ));
    node_b
        .get("/v1/vouchers", &c.token)
        .await
        .jtl_error(401, "UNAUTHENTICATED");
}
