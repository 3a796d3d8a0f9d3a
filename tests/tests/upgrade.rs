//! Schema upgrades keep all data (issue #23 point 4): databases written by the release before
//! versioned migrations (`tests/fixtures/pre-migrations/*.sql`, `sqlite3 .dump` of the three
//! services' databases after `deploy/local/run.sh` processed the bundled samples) are opened by
//! today's stores, on SQLite and on PostgreSQL: every row is still there and readable, the
//! columns added since have their defaults, and the migrations are recorded once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_db::{Db, query, query_scalar};
use nianbao_e2e::{new_database, repo_root, shared_postgres};

#[derive(Clone, Copy, Debug)]
enum Engine {
    Sqlite,
    Postgres,
}

/// The statements of a `sqlite3 .dump` (one per line, or a CREATE over several lines ending with
/// `;`), for `engine`: on PostgreSQL with BYTEA for BLOB and `decode(…, 'hex')` for `X'…'`.
fn statements(dump: &str, engine: Engine) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in dump.lines() {
        if cur.is_empty()
            && (line.starts_with("PRAGMA")
                || line.starts_with("BEGIN TRANSACTION")
                || line.starts_with("COMMIT"))
        {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if line.ends_with(';') {
            let mut s = std::mem::take(&mut cur);
            s.truncate(s.trim_end().len() - 1);
            if let Engine::Postgres = engine {
                s = s.replace(" BLOB ", " BYTEA ");
                s = hex_literals(&s);
            }
            out.push(s);
        }
    }
    out
}

/// `X'0a1b'` → `decode('0a1b', 'hex')`.
fn hex_literals(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("X'") {
        let before_ok = i == 0 || !rest[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        match tail[2..].find('\'') {
            Some(end) if before_ok && tail[2..2 + end].bytes().all(|b| b.is_ascii_hexdigit()) => {
                out.push_str(&format!("decode('{}', 'hex')", &tail[2..2 + end]));
                rest = &tail[2 + end + 1..];
            }
            _ => {
                out.push_str("X'");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A database of `engine` holding the old release's `service` database; its URL.
async fn old_database(engine: Engine, service: &str, dir: &std::path::Path) -> String {
    let url = match engine {
        Engine::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            dir.join(format!("{service}.db")).display()
        ),
        Engine::Postgres => new_database(shared_postgres(), &format!("upgrade_{service}")).unwrap(),
    };
    let dump = std::fs::read_to_string(
        repo_root().join(format!("tests/fixtures/pre-migrations/{service}.sql")),
    )
    .unwrap();
    let db = nianbao_db::connect(&url).await.unwrap();
    for s in statements(&dump, engine) {
        query(s.clone())
            .execute(&db)
            .await
            .unwrap_or_else(|e| panic!("{e}: {}", &s[..s.len().min(200)]));
    }
    db.close().await;
    url
}

async fn count(db: &Db, table: &str) -> i64 {
    query_scalar(format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(db)
        .await
        .unwrap()
}

/// The versions a store's code has: after the upgrade, every one of them is applied.
fn versions(migrations: &[nianbao_db::migrate::Migration]) -> Vec<i64> {
    migrations.iter().map(|m| m.version).collect()
}

async fn migrations(db: &Db, component: &str) -> Vec<i64> {
    query_scalar::<i64>(
        "SELECT version FROM schema_migrations WHERE component = $1 ORDER BY version",
    )
    .bind(component)
    .fetch_all(db)
    .await
    .unwrap()
}

/// Delivery records in the notification fixture (`grep -c '^INSERT INTO deliveries'`).
const DELIVERIES: i64 = 16;

async fn upgrade(engine: Engine) {
    let tmp = tempfile::tempdir().unwrap();

    // Ingest: 13 reports with their bytes; the provenance columns are new.
    let url = old_database(engine, "ingest", tmp.path()).await;
    let store = nianbao_ingest::store::Store::open(&url).await.unwrap();
    let (rows, total) = store
        .list(&nianbao_ingest::store::ListFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 13, "{engine:?}");
    for r in &rows {
        let (row, bytes) = store.fetch(&r.report_id).await.unwrap().unwrap();
        assert_eq!(bytes.len() as i64, row.size, "{}", row.report_id);
        assert!(!row.backfill && row.first_seen_at_ms == 0);
    }
    assert!(rows.iter().any(|r| r.status.to_string() == "notified"));
    assert_eq!(
        migrations(store.db(), "ingest").await,
        versions(nianbao_ingest::store::MIGRATIONS)
    );
    // Opening again applies nothing.
    drop(store);
    let store = nianbao_ingest::store::Store::open(&url).await.unwrap();
    assert_eq!(count(store.db(), "blobs").await, 13);

    // Validation: every validated row with its findings.
    let url = old_database(engine, "validation", tmp.path()).await;
    let db = nianbao_db::connect(&url).await.unwrap();
    let before = count(&db, "validated").await;
    assert_eq!(before, 13);
    let store = nianbao_validation::store::Store::open(db.clone())
        .await
        .unwrap();
    let findings = store
        .findings_of(
            "c3782f24a96dfc794571c73c",
            "9dc158023f59e1288ed683a13a3a20fc722064cee5dc2d578884f0e926687039",
        )
        .await
        .unwrap()
        .unwrap();
    assert!(findings.contains("subitem-missing"), "{findings}");
    assert!(
        store
            .latest_of("临江街道办事处", 2024)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.next_order().await.unwrap(), before + 1);
    assert_eq!(
        migrations(&db, "validation").await,
        versions(nianbao_validation::store::MIGRATIONS)
    );

    // Notification: alerts, their deliveries and arrivals.
    let url = old_database(engine, "notification", tmp.path()).await;
    let store = nianbao_notification::store::Store::connect(&url)
        .await
        .unwrap();
    let (alerts, total) = store
        .list_alerts(&nianbao_notification::store::AlertQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 8, "{engine:?}");
    let with_findings = alerts.iter().filter(|a| !a.findings.is_empty()).count();
    assert!(with_findings >= 6, "{alerts:#?}");
    assert!(alerts.iter().any(|a| a.agency == "临江区临江街道办事处"));
    let deliveries = count(store.db(), "deliveries").await;
    assert_eq!(deliveries, DELIVERIES, "{engine:?}");
    assert_eq!(
        migrations(store.db(), "notification").await,
        versions(nianbao_notification::store::MIGRATIONS)
    );
}

#[tokio::test]
async fn the_pre_migration_release_upgrades_on_sqlite() {
    upgrade(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pre_migration_release_upgrades_on_postgres() {
    upgrade(Engine::Postgres).await;
}

/// Instances starting together on one PostgreSQL: each migration is applied once, the others wait
/// for the lock and find it recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_apply_each_migration_once() {
    use nianbao_db::{Migration, Step};
    const M: &[Migration] = &[
        Migration {
            version: 1,
            name: "t",
            steps: &[Step::Sql("CREATE TABLE t (id BIGINT PRIMARY KEY)")],
        },
        Migration {
            version: 2,
            name: "t.label",
            // Not idempotent on purpose: a second application would fail.
            steps: &[Step::Sql(
                "ALTER TABLE t ADD COLUMN label TEXT NOT NULL DEFAULT ''",
            )],
        },
    ];
    let url = new_database(shared_postgres(), "upgrade_race").unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let db = nianbao_db::connect(&url).await.unwrap();
            nianbao_db::migrate(&db, "race", M).await.unwrap()
        }));
    }
    let mut applied = Vec::new();
    for t in tasks {
        let m = t.await.unwrap();
        assert_eq!(m.current, 2);
        applied.extend(m.applied);
    }
    applied.sort_unstable();
    assert_eq!(applied, [1, 2]);
}
