//! Table upkeep on a fresh PostgreSQL database: tables with enough changes are analysed or
//! vacuumed, tables without are left alone, a round gives way to another node's, and a store
//! on a server without autovacuum runs the rounds itself.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use voucherd_store_postgres::testing::fresh_database_url;
use voucherd_store_postgres::{UPKEEP_LOCK_KEY, UpkeepReport, upkeep_round};

/// Polls for something the server does on its own (publishing a session's table counters, at
/// most once a second and at the latest when the session ends; a store's upkeep round, every
/// 10 s): attempts × interval bounds the wait.
const POLL_ATTEMPTS: usize = 600;
const POLL_INTERVAL_MILLISECONDS: u64 = 100;

struct Database {
    url: String,
    options: PgConnectOptions,
    pool: PgPool,
}

async fn fresh_database() -> Option<Database> {
    let url = fresh_database_url().await?;
    let options: PgConnectOptions = url.parse().expect("URL");
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.clone())
        .await
        .expect("pool");
    Some(Database { url, options, pool })
}

async fn poll() {
    tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MILLISECONDS)).await;
}

/// Creates `table`, writes `inserted` rows and deletes `deleted` of them, from a session that
/// then ends; waits until the server counts the changes.
async fn churn(db: &Database, table: &str, inserted: i64, deleted: i64) {
    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    let script = format!(
        "CREATE TABLE {table} (n BIGINT PRIMARY KEY); \
         INSERT INTO {table} SELECT generate_series(1, {inserted}); \
         DELETE FROM {table} WHERE n <= {deleted};"
    );
    sqlx::Executor::execute(&mut conn, script.as_str())
        .await
        .expect("churn");
    conn.close().await.expect("close");
    for _ in 0..POLL_ATTEMPTS {
        let counted: Option<i64> =
            sqlx::query_scalar("SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = $1")
                .bind(table)
                .fetch_optional(&db.pool)
                .await
                .expect("counters");
        if counted == Some(inserted) {
            return;
        }
        poll().await;
    }
    panic!("the server never counted the rows written to {table}");
}

async fn analysed(db: &Database, table: &str) -> bool {
    sqlx::query_scalar::<_, bool>(
        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = $1",
    )
    .bind(table)
    .fetch_one(&db.pool)
    .await
    .expect("last_analyze")
}

async fn autovacuum_runs(db: &Database) -> bool {
    sqlx::query_scalar::<_, String>("SELECT current_setting('autovacuum')")
        .fetch_one(&db.pool)
        .await
        .expect("autovacuum")
        == "on"
}

fn names(tables: &[String]) -> Vec<&str> {
    tables.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn tables_with_enough_changes_are_vacuumed_or_analysed_and_others_left_alone() {
    let Some(db) = fresh_database().await else {
        return;
    };
    // 500 rows, 300 of them deleted: past the dead-row threshold (50 + 20 % of the 200 left).
    churn(&db, "upkeep_dead", 500, 300).await;
    // 200 new rows: past the analyze threshold (50 + 10 %), not the vacuum ones.
    churn(&db, "upkeep_grown", 200, 0).await;
    // 10 rows: below every threshold.
    churn(&db, "upkeep_quiet", 10, 0).await;

    let report = upkeep_round(&db.options).await.expect("round");
    assert_eq!(
        (
            names(&report.vacuumed),
            names(&report.analyzed),
            report.skipped
        ),
        (vec!["upkeep_dead"], vec!["upkeep_grown"], false)
    );
    assert!(analysed(&db, "upkeep_dead").await);
    assert!(analysed(&db, "upkeep_grown").await);
    assert!(!analysed(&db, "upkeep_quiet").await);
    let dead_rows: i64 = sqlx::query_scalar(
        "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'upkeep_dead'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("dead rows");
    assert_eq!(dead_rows, 0);

    // Done once, nothing is due until the tables change again.
    assert_eq!(
        upkeep_round(&db.options).await.expect("round"),
        UpkeepReport::default()
    );
}

#[tokio::test]
async fn a_round_gives_way_while_another_node_holds_the_upkeep_lock() {
    let Some(db) = fresh_database().await else {
        return;
    };
    churn(&db, "upkeep_grown", 200, 0).await;
    let mut other_node = PgConnection::connect(&db.url).await.expect("connect");
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(UPKEEP_LOCK_KEY)
        .fetch_one(&mut other_node)
        .await
        .expect("lock");
    assert!(locked);

    let report = upkeep_round(&db.options).await.expect("round");
    assert_eq!(
        report,
        UpkeepReport {
            skipped: true,
            ..UpkeepReport::default()
        }
    );
    assert!(!analysed(&db, "upkeep_grown").await);

    // The lock goes with the other node's session (which may take a moment to end on the
    // server); then a round does the work.
    other_node.close().await.expect("close");
    for _ in 0..POLL_ATTEMPTS {
        let report = upkeep_round(&db.options).await.expect("round");
        if !report.skipped {
            assert_eq!(names(&report.analyzed), vec!["upkeep_grown"]);
            return;
        }
        poll().await;
    }
    panic!("the upkeep lock was never released");
}

#[tokio::test]
async fn a_store_on_a_server_without_autovacuum_analyses_its_tables_itself() {
    let Some(db) = fresh_database().await else {
        return;
    };
    if autovacuum_runs(&db).await {
        eprintln!("autovacuum is on here: the store leaves upkeep to the server");
        return;
    }
    let store = voucherd_store_postgres::open(&db.url).await.expect("open");
    churn(&db, "upkeep_grown", 200, 0).await;
    for _ in 0..POLL_ATTEMPTS {
        if analysed(&db, "upkeep_grown").await {
            drop(store);
            return;
        }
        poll().await;
    }
    panic!("the store never analysed a table with 200 new rows");
}
