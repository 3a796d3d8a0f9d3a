//! Service stores on PostgreSQL, for what SQLite would not catch.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_e2e::{new_database, shared_postgres};
use nianbao_validation::cross::ReportRow;
use nianbao_validation::store::Store;

/// A blank 表二 cell stored first must not break the next report's non-blank one: a NULL must be
/// sent with its column's type (sqlx 0.9.0's Any driver, used before, sent a NULL f64 as float4, and
/// PostgreSQL then rejected every later double sent to the same cached statement).
#[tokio::test]
async fn validation_store_takes_blank_then_filled_cells() {
    let url = new_database(shared_postgres(), "valstore").unwrap();
    let pool = nianbao_db::connect(&url).await.unwrap();
    let store = Store::open(pool).await.unwrap();
    let mut blank = ReportRow {
        report_id: "r1".into(),
        version: "v1".into(),
        agency: "某街道办事处".into(),
        year: 2024,
        received_order: 1,
        ..Default::default()
    };
    blank.a = [Some(0.0), None, Some(0.0), Some(1.0), None, Some(3.0)];
    store.insert(&blank, "[]", 1).await.unwrap();
    let mut filled = blank.clone();
    filled.report_id = "r2".into();
    filled.received_order = 2;
    filled.a = [
        Some(1.0),
        Some(2.0),
        Some(3.0),
        Some(4.0),
        Some(5.0),
        Some(6.0),
    ];
    for _ in 0..3 {
        store.insert(&filled, "[]", 2).await.unwrap();
    }
    assert_eq!(store.count().await.unwrap(), 2);
    let back = store
        .latest_of("某街道办事处", 2024)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.a, filled.a);
}

/// The SQL layer on PostgreSQL: the same checks as on SQLite (`nianbao_db::testing`).
#[tokio::test]
async fn the_sql_layer_behaves_on_postgres_as_on_sqlite() {
    let url = new_database(shared_postgres(), "dblayer").unwrap();
    let db = nianbao_db::connect(&url).await.unwrap();
    assert!(db.is_postgres());
    nianbao_db::testing::check_engine(&db).await;
}
