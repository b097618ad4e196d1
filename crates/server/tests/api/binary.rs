//! The `voucherd` binary itself: first start, restart, SIGTERM, and the command line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn voucherd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_voucherd"));
    command
        .env_remove("VOUCHERD_ADMIN_TOKEN")
        .env("VOUCHERD_LOG_FORMAT", "json");
    command
}

fn temp_database() -> String {
    let dir = std::env::temp_dir().join(format!(
        "voucherd-bin-{}-{}",
        std::process::id(),
        voucherd_domain::secret::opaque_id()
    ));
    format!("sqlite://{}/voucherd.db", dir.display())
}

/// What happens to the service's logs once it serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Logs {
    /// Read until the process ends, as a log collector would.
    Collected,
    /// The reading end is closed, as when a log collector dies.
    Abandoned,
}

/// Starts `voucherd serve` on a free port; answers the child and its address once it serves.
fn serve(database_url: &str, logs: Logs) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut child = voucherd()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("voucherd starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut address = None;
    for line in stderr.by_ref() {
        let line = line.expect("log line");
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if event["fields"]["message"] == "voucherd serving" {
            address = event["fields"]["listen"].as_str().map(str::to_string);
            break;
        }
    }
    match logs {
        Logs::Collected => drop(std::thread::spawn(move || stderr.for_each(drop))),
        Logs::Abandoned => drop(stderr),
    }
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    (
        child,
        address.expect("the service logged its address"),
        stdout,
    )
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    child.wait().expect("voucherd exits")
}

#[tokio::test]
async fn first_start_prints_the_admin_token_once_and_sigterm_stops_cleanly() {
    let database = temp_database();
    let (mut child, address, mut stdout) = serve(&database, Logs::Collected);
    let mut printed = String::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).expect("stdout") > 0 {
        printed.push_str(&line);
        if line.trim().len() == 40 {
            break;
        }
        line.clear();
    }
    let token = line.trim().to_string();
    assert!(printed.contains("generated the admin token"), "{printed}");
    let http = reqwest::Client::new();
    let tenants = http
        .get(format!("http://{address}/admin/api/v1/tenants"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(tenants.status(), 200);
    assert!(
        terminate(&mut child).success(),
        "SIGTERM ends the service cleanly"
    );

    // A restart on the same database keeps the stored token and prints nothing. (A new client:
    // the restarted server may get the same port, and a pooled connection to the old one is dead.)
    let http = reqwest::Client::new();
    let (mut again, address, mut stdout) = serve(&database, Logs::Collected);
    let tenants = http
        .get(format!("http://{address}/admin/api/v1/tenants"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(tenants.status(), 200);
    assert!(terminate(&mut again).success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("stdout");
    assert_eq!(rest, "", "the token is shown only at the first start");
}

fn run(args: &[&str]) -> String {
    let output = voucherd().args(args).output().expect("voucherd runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn the_command_line_runs_admin_tasks_migrations_and_prints_the_openapi_document() {
    let database = temp_database();
    assert!(run(&["migrate", "--database-url", &database]).contains("up to date"));
    let admin = |task: &[&str]| {
        let mut args = vec!["admin", "--database-url", database.as_str()];
        args.extend_from_slice(task);
        run(&args)
    };
    let group: Value = serde_json::from_str(&admin(&[
        "create-group",
        "--name",
        "Shops",
        "--scopes",
        "read use",
    ]))
    .expect("json");
    assert_eq!(group["scopes"], "read use");
    let client: Value = serde_json::from_str(&admin(&[
        "create-client",
        "--name",
        "Till",
        "--group",
        group["id"].as_str().expect("id"),
    ]))
    .expect("json");
    let pin: Value = serde_json::from_str(&admin(&[
        "pin",
        "--client",
        client["id"].as_str().expect("id"),
    ]))
    .expect("json");
    assert_eq!(pin["pin"].as_str().map(str::len), Some(8));
    let settings: Value = serde_json::from_str(&admin(&["settings"])).expect("json");
    assert_eq!(settings["code_pattern"], "[A-HJ-NP-Z2-9]{12}");
    admin(&[
        "set-settings",
        "--pin-pattern",
        "[0-9]{4}",
        "--reservation-ttl-seconds",
        "900",
    ]);
    let settings: Value = serde_json::from_str(&admin(&["settings"])).expect("json");
    assert_eq!(
        (
            settings["pin_pattern"].as_str(),
            settings["reservation_ttl_seconds"].as_i64()
        ),
        (Some("[0-9]{4}"), Some(900))
    );
    let integrity: Value = serde_json::from_str(&admin(&["integrity"])).expect("json");
    assert_eq!(integrity["violations"], serde_json::json!([]));
    let refused = voucherd()
        .args([
            "admin",
            "--database-url",
            &database,
            "create-group",
            "--name",
            "X",
            "--scopes",
            "fly",
        ])
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let document: Value = serde_json::from_str(&run(&["openapi"])).expect("OpenAPI JSON");
    assert_eq!(document["openapi"], "3.0.3");
}

#[tokio::test]
async fn the_service_keeps_answering_when_nobody_reads_its_logs() {
    let (mut child, address, _stdout) = serve(&temp_database(), Logs::Abandoned);
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let health = http
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .expect("the request is answered");
        assert_eq!(health.status(), 200);
    }
    assert!(terminate(&mut child).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_is_a_complete_database_to_restore_from() {
    use crate::support::{ALL_SCOPES, Backend, TestApp};
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let c = app.client("default", ALL_SCOPES).await;
    let (voucher_id, code) = app.active_voucher(&c.token, "25.00").await;
    let file = std::env::temp_dir().join(format!(
        "voucherd-backup-{}-{}.db",
        std::process::id(),
        voucherd_domain::secret::opaque_id()
    ));
    // Taken while the service runs.
    let output = voucherd()
        .args(["backup", "--database-url", &app.database_url, "--to"])
        .arg(&file)
        .output()
        .expect("voucherd runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Writes after the backup are not in it.
    app.active_voucher(&c.token, "99.00").await;
    // A backup never overwrites a file.
    let again = voucherd()
        .args(["backup", "--database-url", &app.database_url, "--to"])
        .arg(&file)
        .output()
        .expect("voucherd runs");
    assert!(!again.status.success());
    let (clock, token) = (app.clock.clone(), c.token.clone());
    app.stop().await;

    // Restored: the backup file serves as the database.
    let restored = TestApp::spawn_on(&format!("sqlite://{}", file.display()), clock).await;
    let v = restored
        .get(&format!("/v1/vouchers/{voucher_id}"), &token)
        .await
        .expect(reqwest::StatusCode::OK);
    assert_eq!(v.json["remaining_amount"], "25.00");
    assert_eq!(restored.voucher_count("default").await, 1);
    restored
        .post(
            "/v1/reservations",
            &token,
            serde_json::json!({ "code": code, "amount": "5.00", "currency": "EUR" }),
        )
        .await
        .expect(reqwest::StatusCode::CREATED);
    restored.integrity_is_clean("default").await;
    restored.stop().await;
    // PostgreSQL is backed up with its own tools.
    let pg = voucherd()
        .args([
            "backup",
            "--database-url",
            "postgres://x@127.0.0.1/x",
            "--to",
            "/tmp/never",
        ])
        .output()
        .expect("voucherd runs");
    assert!(String::from_utf8_lossy(&pg.stderr).contains("pg_dump"));
}
