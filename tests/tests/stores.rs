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
    nianbao_db::testing::check_coordination(&db).await;
}

/// The latest report of each (agency, year) asked for, and only of those, however many versions
/// the store holds: what `latest_of` gives one by one.
async fn latest_of_many_takes_the_latest_row_of_each_key(store: &Store) {
    let mut order = 0;
    for (agency, year, versions) in [("甲局", 2023, 3), ("甲局", 2024, 2), ("乙局", 2023, 4)]
    {
        for v in 0..versions {
            order += 1;
            let row = ReportRow {
                report_id: format!("{agency}-{year}"),
                version: format!("v{v}"),
                agency: agency.into(),
                year,
                received_order: order,
                a: [Some(f64::from(v)), None, None, None, None, None],
                ..Default::default()
            };
            store.insert(&row, "[]", order).await.unwrap();
        }
    }
    let got = store
        .latest_of_many(&[("甲局", 2023), ("乙局", 2023), ("乙局", 2024)])
        .await
        .unwrap();
    let mut keys: Vec<_> = got.keys().cloned().collect();
    keys.sort();
    // (甲局, 2024) is in the cross product of the agencies and years asked for, but was not asked.
    assert_eq!(
        keys,
        [("乙局".to_string(), 2023), ("甲局".to_string(), 2023)]
    );
    for ((agency, year), row) in &got {
        let one = store.latest_of(agency, *year).await.unwrap().unwrap();
        assert_eq!(
            (&row.version, row.received_order),
            (&one.version, one.received_order)
        );
    }
    assert_eq!(got[&("甲局".to_string(), 2023)].version, "v2");
    assert_eq!(got[&("乙局".to_string(), 2023)].version, "v3");
    assert_eq!(got[&("乙局".to_string(), 2023)].a[0], Some(3.0));
}

#[tokio::test]
async fn latest_of_many_on_postgres() {
    let url = new_database(shared_postgres(), "latest").unwrap();
    let store = Store::open(nianbao_db::connect(&url).await.unwrap())
        .await
        .unwrap();
    latest_of_many_takes_the_latest_row_of_each_key(&store).await;
}

#[tokio::test]
async fn latest_of_many_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("v.db").display());
    let store = Store::open(nianbao_db::connect(&url).await.unwrap())
        .await
        .unwrap();
    latest_of_many_takes_the_latest_row_of_each_key(&store).await;
}
