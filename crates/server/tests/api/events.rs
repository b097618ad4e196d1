//! The ledger's event feed over real HTTP: every change of money or voucher state through every
//! face is one event, numbered per tenant without gaps; a consumer that keeps the last number it
//! processed rebuilds every voucher's balance from the feed alone; events never carry a code;
//! a long-poll answers when an event commits; bad queries get the admin envelope.

use std::collections::{BTreeMap, HashMap};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::front_flow::{BASE, merchant, pay, submit_body};
use crate::support::{ALL_SCOPES, Backend, TestApp};

on_both_stores!(
    a_consumer_rebuilds_every_voucher_from_the_feed_alone,
    a_long_poll_answers_as_soon_as_an_event_commits,
    bad_feed_queries_are_refused_in_the_admin_envelope,
);

/// Every event of the default tenant after `after`, read a page of `limit` at a time, as a
/// consumer that stores its cursor would.
async fn read_feed(app: &TestApp, mut after: i64, limit: usize) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let page = app
            .admin(
                Method::GET,
                &format!("/tenants/default/events?after={after}&limit={limit}"),
                None,
            )
            .await
            .expect(StatusCode::OK);
        let data = page.json["data"].as_array().expect("data").clone();
        let next = page.json["next_after"].as_i64().expect("cursor");
        if data.is_empty() {
            assert_eq!(next, after, "an empty page keeps the cursor");
            return events;
        }
        assert!(data.len() <= limit);
        assert_eq!(
            next,
            data.last().expect("last")["seq"].as_i64().expect("seq")
        );
        after = next;
        events.extend(data);
    }
}

/// A long-poll of the feed after `last` (waiting up to a minute), running in the background.
fn long_poll(app: &TestApp, last: impl std::fmt::Display) -> tokio::task::JoinHandle<Value> {
    let url = format!(
        "{}/admin/api/v1/tenants/default/events?after={last}&wait=60",
        app.base
    );
    let http = app.http.clone();
    tokio::spawn(async move {
        http.get(url)
            .bearer_auth(crate::support::ADMIN_TOKEN)
            .send()
            .await
            .expect("answered")
            .json::<Value>()
            .await
            .expect("json")
    })
}

fn minor(value: &Value) -> i64 {
    value["minor"]
        .as_i64()
        .unwrap_or_else(|| panic!("no minor in {value}"))
}

/// What a consumer knows of a voucher from the feed.
#[derive(Debug, Default, PartialEq)]
struct Rebuilt {
    balance: i64,
    held: i64,
    deleted: bool,
}

/// Folds the feed into each voucher's balance by the amounts the events carry, checking on the
/// way that each event's own figures agree with the sum so far.
fn rebuild(events: &[Value]) -> BTreeMap<String, Rebuilt> {
    let mut vouchers: BTreeMap<String, Rebuilt> = BTreeMap::new();
    for event in events {
        let Some(id) = event["voucher_id"].as_str() else {
            continue;
        };
        let data = &event["data"];
        let v = vouchers.entry(id.to_string()).or_default();
        match event["type"].as_str().expect("type") {
            "voucher.created" => v.balance = minor(&data["amount"]),
            "charge.created" => v.balance -= minor(&data["charge"]["amount"]),
            "refund.created" => v.balance += minor(&data["refund"]["amount"]),
            "voucher.recharged" => v.balance += minor(&data["recharge"]["amount"]),
            "voucher.deleted" => v.deleted = true,
            _ => {}
        }
        assert_eq!(
            v.balance,
            minor(&data["voucher"]["balance"]),
            "event {event} disagrees with the sum of the amounts before it"
        );
        v.held = minor(&data["voucher"]["held"]);
    }
    vouchers
}

async fn a_consumer_rebuilds_every_voucher_from_the_feed_alone(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let mut codes = HashMap::new();
    let mut ids = Vec::new();
    for amount in ["100.00", "50.00", "20.00", "5.00"] {
        let (id, code) = app.active_voucher(&c.token, amount).await;
        codes.insert(id.clone(), code);
        ids.push(id);
    }
    let code = |i: usize| codes[&ids[i]].clone();
    // JTL: reserve and charge, refund part, recharge, a reservation released, one left live.
    let reserved = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": "30.00", "currency": "EUR", "code": code(0) }),
        )
        .await
        .expect(StatusCode::CREATED);
    let rid = reserved.json["id"].as_str().expect("id").to_string();
    let charge = app
        .post(
            &format!("/v1/reservations/{rid}/charge"),
            &c.token,
            json!({ "order_number": "O-1" }),
        )
        .await
        .expect(StatusCode::CREATED);
    let charge_id = charge.json["id"].as_str().expect("charge").to_string();
    app.post(
        &format!("/v1/charges/{charge_id}/refund"),
        &c.token,
        json!({ "amount": "12.50", "currency": "EUR" }),
    )
    .await
    .expect(StatusCode::CREATED);
    app.post(
        "/v1/vouchers/recharge",
        &c.token,
        json!({ "code": code(1), "amount": "7.25", "currency": "EUR", "order_number": "R-1" }),
    )
    .await
    .expect(StatusCode::CREATED);
    let released = app
        .post(
            "/v1/reservations",
            &c.token,
            json!({ "amount": "10.00", "currency": "EUR", "code": code(1) }),
        )
        .await
        .expect(StatusCode::CREATED);
    app.send(
        Method::DELETE,
        &format!(
            "/v1/reservations/{}",
            released.json["id"].as_str().expect("id")
        ),
        Some(&c.token),
        None,
        &[],
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.post(
        "/v1/reservations",
        &c.token,
        json!({ "amount": "4.00", "currency": "EUR", "code": code(2) }),
    )
    .await
    .expect(StatusCode::CREATED);
    app.patch(
        &format!("/v1/vouchers/{}/status", ids[3]),
        &c.token,
        json!({ "status": "inactive" }),
    )
    .await
    .expect(StatusCode::OK);
    let (deleted, _) = app.active_voucher(&c.token, "1.00").await;
    app.send(
        Method::DELETE,
        &format!("/v1/vouchers/{deleted}"),
        Some(&c.token),
        Some(json!({ "comment": "twice" })),
        &[],
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    // Front Payment: paid with voucher 1 on the payment page, captured in part.
    let m = merchant(&app).await;
    let submitted = app
        .post(&format!("{BASE}/submit"), &m.token, submit_body(&app, None))
        .await
        .expect(StatusCode::CREATED);
    let rid = submitted.json["data"]["reservationUuid"]
        .as_str()
        .expect("id")
        .to_string();
    let (status, page) = pay(&app, &rid, &code(1)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let details = app
        .get(&format!("{BASE}/details/{rid}"), &m.token)
        .await
        .expect(StatusCode::OK);
    let room = details.json["data"]["productList"][0]["id"]
        .as_i64()
        .expect("line");
    app.post(
        &format!("{BASE}/capture/{rid}"),
        &m.token,
        json!({ "products": [{"id": room, "amount": 30}], "grandTotal": 30 }),
    )
    .await
    .expect(StatusCode::ACCEPTED);

    // The consumer reads everything, a few events at a time, and once more from its cursor.
    let events = read_feed(&app, 0, 3).await;
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "dense, in order"
    );
    let last = *seqs.last().expect("events");
    assert!(read_feed(&app, last, 100).await.is_empty());
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    for expected in [
        "voucher.created",
        "hold.placed",
        "charge.created",
        "refund.created",
        "voucher.recharged",
        "hold.released",
        "voucher.status_changed",
        "voucher.deleted",
        "front.reservation.sent",
        "front.reservation.reserved",
        "front.reservation.captured",
    ] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    let charge_event = events
        .iter()
        .find(|e| e["type"] == "charge.created")
        .expect("charge");
    assert_eq!(charge_event["face"], "jtl");
    assert_eq!(charge_event["actor"]["kind"], "client");
    assert_eq!(charge_event["data"]["charge"]["id"], json!(charge_id));
    assert_eq!(
        charge_event["data"]["charge"]["amount"],
        json!({ "minor": 3000, "amount": "30.00", "currency": "EUR" })
    );
    assert!(
        charge_event["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert!(events.iter().any(|e| e["face"] == "front_payment"));

    // Every voucher's balance and held amount, from the feed alone, equal the ledger's.
    let rebuilt = rebuild(&events);
    for id in ids.iter().chain([&deleted]) {
        let from_feed = &rebuilt[id];
        if *id == deleted {
            assert!(from_feed.deleted);
            continue;
        }
        let voucher = app
            .admin(
                Method::GET,
                &format!("/tenants/default/vouchers/{id}"),
                None,
            )
            .await
            .expect(StatusCode::OK);
        let stored = &voucher.json;
        assert_eq!(
            (from_feed.balance, from_feed.held),
            (
                stored["remaining_minor"].as_i64().expect("remaining"),
                stored["held_minor"].as_i64().expect("held")
            ),
            "voucher {id}"
        );
    }
    // No event carries a code: only its last four characters.
    let text = serde_json::to_string(&events).expect("json");
    for code in codes.values() {
        assert!(!text.contains(code.as_str()), "a code leaked into the feed");
        assert!(text.contains(&format!("****{}", &code[code.len() - 4..])));
    }
    // Filters: by type (a family too) and by voucher.
    let charges = app
        .admin(
            Method::GET,
            "/tenants/default/events?type=charge.created,refund.created",
            None,
        )
        .await
        .expect(StatusCode::OK);
    let filtered: Vec<&str> = charges.json["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert!(
        !filtered.is_empty()
            && filtered
                .iter()
                .all(|t| *t == "charge.created" || *t == "refund.created"),
        "{filtered:?}"
    );
    let holds = app
        .admin(Method::GET, "/tenants/default/events?type=hold.*", None)
        .await
        .expect(StatusCode::OK);
    assert!(
        holds.json["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|e| e["type"].as_str().is_some_and(|t| t.starts_with("hold.")))
    );
    let one = app
        .admin(
            Method::GET,
            &format!("/tenants/default/events?voucher={}", ids[0]),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert!(
        one.json["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|e| e["voucher_id"] == json!(ids[0]))
    );
    app.integrity_is_clean("default").await;
    app.stop().await;
}

async fn a_long_poll_answers_as_soon_as_an_event_commits(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let last = read_feed(&app, 0, 100).await.len();
    let waiting = long_poll(&app, last);
    // The long-poll is waiting (it has nothing to answer yet); a voucher made now wakes it.
    let (id, _) = app.active_voucher(&c.token, "9.00").await;
    let answer = waiting.await.expect("the long-poll ends");
    let data = answer["data"].as_array().expect("data");
    assert_eq!(
        data.first().map(|e| e["voucher_id"].clone()),
        Some(json!(id)),
        "{answer}"
    );
    assert_eq!(data[0]["type"], "voucher.created");
    // Without events to come, a short wait answers an empty page with the same cursor.
    let quiet = app
        .admin(
            Method::GET,
            &format!(
                "/tenants/default/events?after={}&wait=1",
                data.last().expect("event")["seq"]
            ),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(quiet.json["data"], json!([]));
    app.stop().await;
}

async fn bad_feed_queries_are_refused_in_the_admin_envelope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for query in [
        "after=-1",
        "limit=0x",
        "wait=3600",
        "type=charge.made",
        "from=monday",
    ] {
        let refused = app
            .admin(
                Method::GET,
                &format!("/tenants/default/events?{query}"),
                None,
            )
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            refused.json["error"]["code"], "invalid_request",
            "{query}: {}",
            refused.text
        );
    }
    app.admin(Method::GET, "/tenants/nowhere/events", None)
        .await
        .expect(StatusCode::NOT_FOUND);
    let refused = app
        .send(
            Method::GET,
            "/admin/api/v1/tenants/default/events",
            Some("wrong"),
            None,
            &[],
        )
        .await
        .expect(StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json["error"]["code"], "unauthenticated");
    app.stop().await;
}

/// Two nodes on one PostgreSQL database charge vouchers at once: the tenant's events are one
/// sequence without gaps, every acknowledged charge is in it exactly once, and a long-poll on
/// one node wakes for a commit on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_write_one_gapless_sequence_and_wake_each_other() {
    let Some(url) = crate::support::fresh_database(Backend::Postgres).await else {
        return;
    };
    let clock =
        voucherd_server::clock::ManualClock::new(time::macros::datetime!(2026-03-01 09:00 UTC));
    let first = TestApp::spawn_on(&url, clock.clone()).await;
    let second = TestApp::spawn_on(&url, clock).await;
    let c = first.client("default", ALL_SCOPES).await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(first.active_voucher(&c.token, "100.00").await.1);
    }
    let nodes = std::sync::Arc::new([first, second]);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (nodes, token, code) = (nodes.clone(), c.token.clone(), codes[i % 8].clone());
        tasks.push(tokio::spawn(async move {
            let node = &nodes[i % 2];
            let r = node
                .post(
                    "/v1/reservations",
                    &token,
                    json!({ "amount": "1.00", "currency": "EUR", "code": code }),
                )
                .await;
            let rid = r.json["id"].as_str()?.to_string();
            let charged = nodes[(i + 1) % 2]
                .post(
                    &format!("/v1/reservations/{rid}/charge"),
                    &token,
                    json!({ "order_number": format!("O-{i}") }),
                )
                .await;
            (charged.status == StatusCode::CREATED)
                .then(|| charged.json["id"].as_str().expect("charge id").to_string())
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.expect("task"));
    }
    assert!(!acknowledged.is_empty());
    let events = read_feed(&nodes[1], 0, 50).await;
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "one gapless sequence"
    );
    let mut charged: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "charge.created")
        .map(|e| e["data"]["charge"]["id"].as_str().expect("id").to_string())
        .collect();
    charged.sort();
    acknowledged.sort();
    assert_eq!(
        charged, acknowledged,
        "each acknowledged charge exactly once"
    );

    // A long-poll on the second node, woken by a commit on the first.
    let last = *seqs.last().expect("events");
    let waiting = long_poll(&nodes[1], last);
    let (id, _) = nodes[0].active_voucher(&c.token, "3.00").await;
    let answer = waiting.await.expect("the long-poll ends");
    assert_eq!(answer["data"][0]["voucher_id"], json!(id), "{answer}");
}
