//! The `voucherd` binary itself: first start, restart, SIGTERM, and the command line.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// The binary, with JSON logs and without rate limits (the tests that start it send bursts
/// from one caller; the limits have their own tests).
pub(crate) fn voucherd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_voucherd"));
    command
        .env_remove("VOUCHERD_ADMIN_TOKEN")
        .env("VOUCHERD_LOG_FORMAT", "json")
        .env("VOUCHERD_CALLER_RATE_LIMIT", "0")
        .env("VOUCHERD_ADDRESS_RATE_LIMIT", "0");
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
#[derive(Clone)]
pub(crate) enum Logs {
    /// Read until the process ends, as a log collector would.
    Collected,
    /// Read and kept, every line (the startup lines included), for the test to inspect.
    Kept(Arc<Mutex<Vec<String>>>),
    /// The reading end is closed, as when a log collector dies.
    Abandoned,
}

/// Starts `voucherd serve` on a free port; answers the child and its address once it serves.
fn serve(database_url: &str, logs: Logs) -> (Child, String, BufReader<std::process::ChildStdout>) {
    serve_with(database_url, &[], &[], logs)
}

/// [`serve`] with more arguments and environment variables.
pub(crate) fn serve_with(
    database_url: &str,
    args: &[&str],
    env: &[(&str, &str)],
    logs: Logs,
) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut child = voucherd()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("voucherd starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut address = None;
    for line in stderr.by_ref() {
        let line = line.expect("log line");
        if let Logs::Kept(kept) = &logs {
            kept.lock().expect("lock").push(line.clone());
        }
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
        Logs::Kept(kept) => drop(std::thread::spawn(move || {
            for line in stderr.map_while(Result::ok) {
                kept.lock().expect("lock").push(line);
            }
        })),
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

#[test]
fn sigterm_as_soon_as_the_service_announces_itself_stops_it_cleanly() {
    // The signal handlers are in place before "voucherd serving" is logged: a signal sent at
    // once, before any request, must not kill the process.
    let (mut child, _address, _stdout) = serve(&temp_database(), Logs::Collected);
    assert!(terminate(&mut child).success());
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

#[test]
fn a_short_admin_token_is_warned_about_and_a_long_one_is_not() {
    for (token, warned) in [
        ("short-token", true),
        ("a-long-random-admin-token-0123456789abcdef", false),
    ] {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (mut process, _, _) = serve_with(
            &temp_database(),
            &["--admin-token", token],
            &[],
            Logs::Kept(logs.clone()),
        );
        let _ = process.kill();
        let _ = process.wait();
        let logged = logs.lock().expect("lock").join("\n");
        assert_eq!(
            logged.contains("the admin token is shorter than 32 characters"),
            warned,
            "{logged}"
        );
        assert!(!logged.contains(token), "the token reached the logs");
    }
}

#[test]
fn a_backup_into_a_missing_folder_names_the_folder() {
    let database = temp_database();
    let migrated = voucherd()
        .args(["migrate", "--database-url", &database])
        .output()
        .expect("runs");
    assert!(migrated.status.success());
    let missing = std::env::temp_dir()
        .join(format!("voucherd-missing-{}", std::process::id()))
        .join("nested");
    let output = voucherd()
        .args(["backup", "--database-url", &database, "--to"])
        .arg(missing.join("copy.db"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("the folder {} does not exist", missing.display())),
        "{stderr}"
    );
}

#[test]
fn admin_flags_work_after_the_task_too() {
    let database = temp_database();
    run(&["migrate", "--database-url", &database]);
    let created = run(&[
        "admin",
        "create-group",
        "--name",
        "Shops",
        "--scopes",
        "read",
        "--database-url",
        &database,
        "--tenant",
        "default",
    ]);
    assert!(created.contains("\"Shops\""), "{created}");
    let listed = run(&["admin", "groups", "--database-url", &database]);
    assert!(listed.contains("\"Shops\""), "{listed}");
}

#[test]
fn operators_manage_tokens_users_and_webhooks_from_the_command_line() {
    let database = temp_database();
    let admin = |task: &[&str], password: Option<&str>| {
        let mut command = voucherd();
        command.args(["admin", "--database-url", database.as_str()]);
        command.args(task);
        if let Some(password) = password {
            command.env("VOUCHERD_CONSOLE_PASSWORD", password);
        }
        let output = command.output().expect("voucherd runs");
        let stdout = String::from_utf8(output.stdout).expect("utf-8");
        let stderr = String::from_utf8(output.stderr).expect("utf-8");
        (output.status.success(), stdout, stderr)
    };
    let json = |text: &str| -> Value { serde_json::from_str(text).expect(text) };
    let (_, made, _) = admin(&["create-merchant-token", "--name", "Hotel"], None);
    let id = json(&made)["id"].as_str().expect("id").to_string();
    let (_, listed, _) = admin(&["merchant-tokens"], None);
    assert_eq!(json(&listed)["status"], "active", "{listed}");
    let (ok, revoked, _) = admin(&["revoke-merchant-token", "--id", &id], None);
    assert!(ok);
    assert_eq!(json(&revoked)["status"], "revoked");
    let (_, listed, _) = admin(&["merchant-tokens"], None);
    assert_eq!(json(&listed)["status"], "revoked", "{listed}");
    let (ok, _, stderr) = admin(&["revoke-merchant-token", "--id", "nope"], None);
    assert!(
        !ok && stderr.contains("merchant token not found"),
        "{stderr}"
    );

    let password = "a long console password";
    let (ok, _, _) = admin(&["user", "create", "--username", "kari"], Some(password));
    assert!(ok);
    let (ok, _, stderr) = admin(&["user", "create", "--username", "ola"], Some("short"));
    assert!(!ok && stderr.contains("12 to 256 characters"), "{stderr}");
    let status = |expected: &str| {
        let (_, listed, _) = admin(&["user", "list"], None);
        assert_eq!(json(&listed)["status"], expected, "{listed}");
        assert!(!listed.contains("argon2"), "{listed}");
    };
    status("active");
    let (_, disabled, _) = admin(&["user", "disable", "--username", "kari"], None);
    assert_eq!(json(&disabled)["status"], "disabled");
    status("disabled");
    admin(&["user", "enable", "--username", "kari"], None);
    let (_, unlocked, _) = admin(&["user", "unlock", "--username", "kari"], None);
    assert_eq!(json(&unlocked)["status"], "active");
    let (ok, reset, _) = admin(
        &["user", "reset-password", "--username", "kari"],
        Some("another long password"),
    );
    assert!(ok && json(&reset)["username"] == "kari", "{reset}");
    let (ok, _, stderr) = admin(
        &["user", "reset-password", "--username", "nobody"],
        Some("another long password"),
    );
    assert!(!ok && stderr.contains("console user not found"), "{stderr}");

    // Webhook endpoints: made (the secret shown once), listed without it, deleted.
    let (ok, _, stderr) = admin(&["create-webhook", "--url", "ftp://shop.example/"], None);
    assert!(!ok && stderr.contains("http://"), "{stderr}");
    let (ok, made, _) = admin(
        &[
            "create-webhook",
            "--url",
            "https://shop.example/hooks",
            "--types",
            "charge.created,hold.*",
        ],
        None,
    );
    assert!(ok, "{made}");
    let made = json(&made);
    assert!(
        made["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_"))
    );
    let (_, listed, _) = admin(&["webhooks"], None);
    assert_eq!(
        json(&listed)["types"],
        serde_json::json!(["charge.created", "hold.*"])
    );
    assert!(!listed.contains("whsec_"), "{listed}");
    let id = made["id"].as_str().expect("id");
    let (ok, rotated, _) = admin(&["rotate-webhook-secret", "--id", id], None);
    assert!(
        ok && json(&rotated)["secret"] != made["secret"],
        "{rotated}"
    );
    let (ok, again, _) = admin(&["redeliver-webhook", "--id", id, "--after", "0"], None);
    assert!(ok && json(&again)["delivered_through"] == 0, "{again}");
    let (ok, _, _) = admin(&["delete-webhook", "--id", id], None);
    assert!(ok);
    let (ok, _, stderr) = admin(&["delete-webhook", "--id", id], None);
    assert!(
        !ok && stderr.contains("webhook endpoint not found"),
        "{stderr}"
    );
}

#[test]
fn a_second_serve_on_one_sqlite_file_is_refused_naming_the_first() {
    let database = temp_database();
    let (mut first, _, _) = serve(&database, Logs::Collected);
    let output = voucherd()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database,
        ])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("is already served by process {}", first.id())),
        "{stderr}"
    );
    assert!(terminate(&mut first).success());
    // Once the first has stopped, the file may be served again.
    let (mut again, _, _) = serve(&database, Logs::Collected);
    assert!(terminate(&mut again).success());
}

/// Reads `from` until `expected` has appeared; answers everything read.
fn read_until(from: &mut impl std::io::Read, expected: &str) -> String {
    let mut seen = Vec::new();
    let mut byte = [0_u8; 1];
    while !String::from_utf8_lossy(&seen).contains(expected) {
        match from.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => panic!(
                "ended before {expected:?}: {}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// On a terminal (a pseudo-terminal made by util-linux `script`), `admin user create` asks for
/// the password twice and never shows it.
#[test]
fn a_console_password_typed_at_a_terminal_is_not_shown() {
    use std::io::Write;
    let database = temp_database();
    run(&["migrate", "--database-url", &database]);
    let password = "correct-horse-battery";
    let command = format!(
        "{} admin --database-url {database} user create --username ann",
        env!("CARGO_BIN_EXE_voucherd")
    );
    let mut terminal = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_remove("VOUCHERD_CONSOLE_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let mut input = terminal.stdin.take().expect("stdin");
    let mut output = terminal.stdout.take().expect("stdout");
    let mut shown = read_until(&mut output, "Password for ann: ");
    writeln!(input, "{password}").expect("typed");
    shown += &read_until(&mut output, "The same password again: ");
    writeln!(input, "{password}").expect("typed");
    drop(input);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut output, &mut rest).expect("output");
    shown += &rest;
    assert!(terminal.wait().expect("ends").success(), "{shown}");
    assert!(shown.contains("\"username\": \"ann\""), "{shown}");
    assert!(!shown.contains(password), "the password was shown: {shown}");
}

#[test]
fn an_unreachable_postgresql_is_named_with_the_cause() {
    // Port 1 on loopback refuses connections.
    let output = voucherd()
        .args([
            "migrate",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/shop",
        ])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cannot connect to PostgreSQL at 127.0.0.1:1 (database shop)"),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "the cause: {stderr}");
}

#[test]
fn a_port_in_use_fails_before_a_database_is_made_and_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = taken.local_addr().expect("address").to_string();
    let database = temp_database();
    let output = voucherd()
        .args(["serve", "--listen", &address, "--database-url", &database])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("admin token"), "{stdout}");
    let file = database.trim_start_matches("sqlite://");
    assert!(!std::path::Path::new(file).exists(), "{file} was made");
}

/// Runs `voucherd serve` on `database_url` (and `command`'s environment and folder), and
/// answers its log lines up to the one announcing that it serves; then stops it.
fn log_until_serving(mut command: Command, database_url: &str) -> Vec<String> {
    let mut child = command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("voucherd starts");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.expect("log line");
        let serving = line.contains("voucherd serving");
        seen.push(line);
        if serving {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

#[test]
fn the_start_up_log_names_the_sqlite_file_by_its_absolute_path() {
    let folder = std::env::temp_dir().join(format!(
        "voucherd-relative-{}-{}",
        std::process::id(),
        voucherd_domain::secret::opaque_id()
    ));
    std::fs::create_dir_all(&folder).expect("folder");
    let mut command = voucherd();
    command.current_dir(&folder);
    let named = log_until_serving(command, "sqlite://ledger.db")
        .into_iter()
        .find_map(|line| {
            let event = serde_json::from_str::<Value>(&line).ok()?;
            (event["fields"]["message"] == "voucherd serving")
                .then(|| event["fields"]["database"].as_str().map(str::to_string))?
        });
    let absolute = std::fs::canonicalize(folder.join("ledger.db")).expect("the file exists");
    assert_eq!(named, Some(format!("sqlite://{}", absolute.display())));
}

#[test]
fn text_logs_to_a_pipe_carry_no_terminal_colours() {
    let mut command = voucherd();
    command.env("VOUCHERD_LOG_FORMAT", "text");
    let seen = log_until_serving(command, &temp_database());
    assert!(
        seen.iter().any(|l| l.contains("voucherd serving")),
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|l| !l.contains('\u{1b}')),
        "colour codes in the logs: {seen:?}"
    );
}

#[test]
fn the_openapi_document_ends_quietly_when_its_reader_has_gone() {
    // The reader closes the pipe before reading anything, as `voucherd openapi | head -c0` does.
    let mut child = voucherd()
        .arg("openapi")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
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

/// The writer's metrics are process-wide: they add up exactly only in a process that serves one
/// server, as the binary does (tests sharing a process, under `cargo test`, share them too).
#[tokio::test]
async fn the_writer_metrics_of_one_process_add_up() {
    let token = "a-long-admin-token-of-at-least-32-characters";
    let (mut child, address, _stdout) = serve_with(
        &temp_database(),
        &[],
        &[("VOUCHERD_ADMIN_TOKEN", token)],
        Logs::Collected,
    );
    let http = reqwest::Client::new();
    for i in 0..3 {
        let created = http
            .post(format!("http://{address}/admin/api/v1/tenants"))
            .bearer_auth(token)
            .json(&serde_json::json!({ "id": format!("shop-{i}"), "name": "Shop" }))
            .send()
            .await
            .expect("answered");
        assert_eq!(created.status(), 201);
    }
    let metrics = http
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("text");
    // Every command the writer took waited in the queue once, and every batch was committed.
    let batches = sample(&metrics, "voucherd_writer_batch_commands_count");
    let commands = sample(&metrics, "voucherd_writer_batch_commands_sum");
    assert!(batches >= 3.0 && commands >= batches, "{metrics}");
    assert_eq!(
        sample(&metrics, "voucherd_writer_queue_wait_seconds_count"),
        commands
    );
    assert_eq!(
        sample(&metrics, "voucherd_writer_commit_seconds_count"),
        batches
    );
    assert!(terminate(&mut child).success());
}

/// The value of an unlabelled sample in a Prometheus text exposition.
fn sample(exposition: &str, name: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{exposition}"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_or_an_error_body() {
    let database = temp_database();
    let admin = "admin-token-SECRET-a1b2c3d4e5";
    let logs = Arc::new(Mutex::new(Vec::new()));
    // A known admin token and the most verbose logs.
    let (mut process, address, _) = serve_with(
        &database,
        &["--admin-token", admin],
        &[("VOUCHERD_LOG", "debug")],
        Logs::Kept(logs.clone()),
    );
    let base = format!("http://{address}");
    let http = reqwest::Client::new();
    let mut secrets: Vec<String> = vec![admin.to_string()];
    let mut bodies: Vec<String> = Vec::new();
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut request = http.post(format!("{base}{path}")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let json = |r: reqwest::Response| async move { r.json::<Value>().await.expect("json") };
    let text = |value: &Value, key: &str| value[key].as_str().expect(key).to_string();

    // JTL: a group, a client, its pin, its secret, a token; a voucher with a code and a PIN.
    let group = json(
        post(
            "/admin/api/v1/tenants/default/client-groups",
            Some(admin),
            serde_json::json!({ "name": "G", "scopes": ["read", "read-secrets", "use", "manage"] }),
        )
        .await
        .expect("sent"),
    )
    .await;
    let client = json(
        post(
            "/admin/api/v1/tenants/default/clients",
            Some(admin),
            serde_json::json!({ "name": "Till", "client_group_id": text(&group, "id") }),
        )
        .await
        .expect("sent"),
    )
    .await;
    let client_id = text(&client, "id");
    let pin = text(
        &json(
            post(
                &format!("/admin/api/v1/tenants/default/clients/{client_id}/pin"),
                Some(admin),
                serde_json::json!({}),
            )
            .await
            .expect("sent"),
        )
        .await,
        "pin",
    );
    let connected = json(
        post(
            "/v1/clients/connect",
            None,
            serde_json::json!({ "pin": pin }),
        )
        .await
        .expect("sent"),
    )
    .await;
    let client_secret = text(&connected, "secret");
    let token = json(
        http.post(format!("{base}/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.as_str()),
            ])
            .send()
            .await
            .expect("sent"),
    )
    .await;
    let access = text(&token, "access_token");
    let (code, voucher_pin) = ("CODE-SECRET-Q7W8E9R0", "PIN-SECRET-Z9X8");
    post(
        "/v1/vouchers",
        Some(&access),
        serde_json::json!({ "amount": "50.00", "currency": "EUR",
        "status": "active", "code": code, "pin": voucher_pin }),
    )
    .await
    .expect("sent");
    let wrong = post(
        "/v1/reservations",
        Some(&access),
        serde_json::json!({ "amount": "5.00", "currency": "EUR",
        "code": code, "pin": "PIN-GUESS-SECRET" }),
    )
    .await
    .expect("sent");
    assert_eq!(wrong.status(), 404);
    bodies.push(wrong.text().await.expect("body"));
    let unknown = post(
        "/v1/reservations",
        Some(&access),
        serde_json::json!({ "amount": "5.00", "currency": "EUR",
        "code": "CODE-GUESS-SECRET" }),
    )
    .await
    .expect("sent");
    bodies.push(unknown.text().await.expect("body"));
    post(
        "/v1/reservations",
        Some(&access),
        serde_json::json!({ "amount": "5.00", "currency": "EUR",
        "code": code, "pin": voucher_pin }),
    )
    .await
    .expect("sent");
    let bad_token = post(
        "/v1/reservations",
        Some("TOKEN-GUESS-SECRET"),
        serde_json::json!({}),
    )
    .await
    .expect("sent");
    bodies.push(bad_token.text().await.expect("body"));

    // Front Payment: a merchant token and its callback secret.
    let merchant = json(
        post(
            "/admin/api/v1/tenants/default/merchant-tokens",
            Some(admin),
            serde_json::json!({ "name": "Hotel" }),
        )
        .await
        .expect("sent"),
    )
    .await;
    let merchant_token = text(&merchant, "token");
    let callback_secret = text(&merchant, "callback_secret");
    let history = http
        .get(format!("{base}/api/v1/connect/reservations/history"))
        .bearer_auth(&merchant_token)
        .send()
        .await
        .expect("sent");
    assert_eq!(history.status(), 200);

    // bleepay: a payer's password and token, a wrong password.
    let password = "PASSWORD-SECRET-hunter2";
    let payer = json(
        post(
            "/api/v1/auth/sign-up",
            None,
            serde_json::json!({ "type": "email-password",
        "data": { "email": "kari@example.no", "password": password } }),
        )
        .await
        .expect("sent"),
    )
    .await;
    let payer_token = payer["authorization"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let refused = post(
        "/api/v1/auth/sign-in",
        None,
        serde_json::json!({ "type": "email-password",
        "data": { "email": "kari@example.no", "password": "PASSWORD-GUESS-SECRET" } }),
    )
    .await
    .expect("sent");
    bodies.push(refused.text().await.expect("body"));
    post(
        "/api/v1/payers/me/vouchers",
        Some(&payer_token),
        serde_json::json!({ "code": code, "pin": voucher_pin }),
    )
    .await
    .expect("sent");

    secrets.extend([
        pin,
        client_secret,
        access,
        code.to_string(),
        voucher_pin.to_string(),
        merchant_token,
        callback_secret,
        password.to_string(),
        payer_token,
    ]);
    assert!(terminate(&mut process).success());
    let logged = logs.lock().expect("lock").join("\n");
    assert!(
        logged.contains("/v1/reservations"),
        "the requests were logged"
    );
    for secret in &secrets {
        assert!(
            !logged.contains(secret.as_str()),
            "a secret reached the logs: {secret}"
        );
    }
    for guess in [
        "PIN-GUESS-SECRET",
        "CODE-GUESS-SECRET",
        "TOKEN-GUESS-SECRET",
        "PASSWORD-GUESS-SECRET",
    ] {
        assert!(
            !logged.contains(guess),
            "a guessed secret reached the logs: {guess}"
        );
        for body in &bodies {
            assert!(
                !body.contains(guess),
                "an error body echoes {guess}: {body}"
            );
        }
    }
}
