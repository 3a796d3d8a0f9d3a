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

/// The SQL layer on PostgreSQL: every kind and its NULL, by position and by name, the integer and
/// boolean types PostgreSQL returns for expressions, transactions, and the errors the stores rely on.
#[tokio::test]
async fn the_sql_layer_round_trips_every_kind_on_postgres() {
    use nianbao_db::{DbError, query, query_scalar};
    let url = new_database(shared_postgres(), "dblayer").unwrap();
    let db = nianbao_db::connect(&url).await.unwrap();
    assert!(db.is_postgres());
    db.ping().await.unwrap();
    query("CREATE TABLE t (i BIGINT, r DOUBLE PRECISION, s TEXT, b BYTEA, n DOUBLE PRECISION)")
        .execute(&db)
        .await
        .unwrap();
    let done =
        query("INSERT INTO t (s, i, r, b, n) VALUES ($3, $1, $2, $4, $5), ($8, $6, $7, $9, $10)")
            .bind(7_i64)
            .bind(2.5_f64)
            .bind("七")
            .bind(vec![0_u8, 255])
            .bind(None::<f64>)
            .bind(1_i64)
            .bind(3.0_f64)
            .bind(None::<String>)
            .bind(None::<Vec<u8>>)
            .bind(Some(1.5_f64))
            .execute(&db)
            .await
            .unwrap();
    assert_eq!(done.rows_affected(), 2);
    let rows = query("SELECT i, r, s, b, n, i > 5 AS big, 1 AS one FROM t ORDER BY i DESC")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(rows[0].try_get::<i64, _>("i").unwrap(), 7);
    assert_eq!(rows[0].try_get::<f64, _>(1).unwrap(), 2.5);
    assert_eq!(rows[0].try_get::<String, _>("s").unwrap(), "七");
    assert_eq!(rows[0].try_get::<Vec<u8>, _>("b").unwrap(), vec![0, 255]);
    assert_eq!(rows[0].try_get::<Option<f64>, _>("n").unwrap(), None);
    assert!(rows[0].try_get::<bool, _>("big").unwrap());
    assert_eq!(rows[0].try_get::<i64, _>("one").unwrap(), 1);
    assert_eq!(rows[1].try_get::<Option<String>, _>("s").unwrap(), None);
    assert_eq!(rows[1].try_get::<Option<Vec<u8>>, _>("b").unwrap(), None);
    assert_eq!(rows[1].try_get::<Option<f64>, _>("n").unwrap(), Some(1.5));
    assert!(rows[0].try_get::<i64, _>("s").is_err());

    let updated = query("UPDATE t SET n = $1 WHERE i = $2")
        .bind(Some(9.0_f64))
        .bind(7_i64)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 1);
    let count = || query_scalar::<i64>("SELECT COUNT(*) FROM t").fetch_one(&db);
    let mut tx = db.begin().await.unwrap();
    query("INSERT INTO t (i) VALUES ($1)")
        .bind(3_i64)
        .execute(&mut tx)
        .await
        .unwrap();
    drop(tx);
    assert_eq!(count().await.unwrap(), 2);
    let mut tx = db.begin().await.unwrap();
    let back = query_scalar::<i64>("INSERT INTO t (i) VALUES ($1) RETURNING i")
        .bind(4_i64)
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(back, vec![4]);
    tx.commit().await.unwrap();
    assert_eq!(count().await.unwrap(), 3);
    assert!(matches!(
        query("SELECT i FROM t WHERE i = $1")
            .bind(99_i64)
            .fetch_one(&db)
            .await,
        Err(DbError::NoRow)
    ));
    assert!(query("SELEC nonsense").execute(&db).await.is_err());
    db.ping().await.unwrap();
}
