//! The behaviour every engine must show, asserted on an empty database: run by this crate's tests
//! on SQLite and by `tests/tests/stores.rs` on PostgreSQL (feature `testing`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed check

use crate::{Db, DbError, query, query_scalar};

/// Every kind and its typed NULL, bound out of order and read by position and by name; the types
/// expressions return; `execute`'s row count; transactions that commit or roll back when dropped;
/// errors that leave the connection usable.
pub async fn check_engine(db: &Db) {
    db.ping().await.unwrap();
    let blob = if db.is_postgres() { "BYTEA" } else { "BLOB" };
    query(format!(
        "CREATE TABLE t (i BIGINT, r DOUBLE PRECISION, s TEXT, b {blob}, n DOUBLE PRECISION)"
    ))
    .execute(db)
    .await
    .unwrap();
    // `$n` is the n-th bind, wherever it stands in the text.
    let done =
        query("INSERT INTO t (s, i, r, b, n) VALUES ($3, $1, $2, $4, $5), ($8, $6, $7, $9, $10)")
            .bind(7_i64)
            .bind(2.5_f64)
            .bind("七")
            .bind(vec![0_u8, 255])
            .bind(None::<f64>)
            .bind(true)
            .bind(3.0_f64)
            .bind(None::<String>)
            .bind(None::<Vec<u8>>)
            .bind(Some(1.5_f64))
            .execute(db)
            .await
            .unwrap();
    assert_eq!(done.rows_affected(), 2);
    let rows = query("SELECT i, r, s, b, n, i > 5 AS big, 1 AS one FROM t ORDER BY i DESC")
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].try_get::<i64, _>("i").unwrap(), 7);
    assert_eq!(rows[0].try_get::<f64, _>(1).unwrap(), 2.5);
    assert_eq!(rows[0].try_get::<String, _>("s").unwrap(), "七");
    assert_eq!(rows[0].try_get::<Vec<u8>, _>("b").unwrap(), vec![0, 255]);
    assert_eq!(rows[0].try_get::<Option<f64>, _>("n").unwrap(), None);
    assert!(rows[0].try_get::<bool, _>("big").unwrap());
    assert_eq!(rows[0].try_get::<i64, _>("one").unwrap(), 1);
    assert!(rows[1].try_get::<bool, _>("i").unwrap());
    // A whole DOUBLE PRECISION (SQLite may store it as an integer) still reads as f64.
    assert_eq!(rows[1].try_get::<f64, _>("r").unwrap(), 3.0);
    assert_eq!(rows[1].try_get::<Option<String>, _>("s").unwrap(), None);
    assert_eq!(rows[1].try_get::<Option<Vec<u8>>, _>("b").unwrap(), None);
    assert_eq!(rows[1].try_get::<Option<f64>, _>("n").unwrap(), Some(1.5));
    // Wrong type, unknown column: errors that name the column, not panics.
    let e = rows[0].try_get::<i64, _>("s").unwrap_err();
    assert!(e.to_string().contains("column s"), "{e}");
    assert!(rows[0].try_get::<i64, _>("nope").is_err());
    assert!(rows[0].try_get::<i64, _>(9).is_err());

    let updated = query("UPDATE t SET n = $1 WHERE i = $2")
        .bind(Some(9.0_f64))
        .bind(7_i64)
        .execute(db)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 1);
    let n = query_scalar::<i64>("SELECT COUNT(*) FROM t WHERE i > $1")
        .bind(0)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let none = query("SELECT i FROM t WHERE i = $1")
        .bind(99_i64)
        .fetch_optional(db)
        .await
        .unwrap();
    assert!(none.is_none());
    // Only the first row is read, and a write whose returned rows are not all read (or none are)
    // still writes every row.
    let first = query("SELECT i FROM t ORDER BY i DESC")
        .fetch_optional(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.try_get::<i64, _>("i").unwrap(), 7);
    let one = query_scalar::<i64>("UPDATE t SET r = $1 RETURNING i")
        .bind(0.5_f64)
        .fetch_one(db)
        .await
        .unwrap();
    assert!(one == 7 || one == 1, "{one}");
    let halves = || query_scalar::<i64>("SELECT COUNT(*) FROM t WHERE r = $1");
    assert_eq!(halves().bind(0.5_f64).fetch_one(db).await.unwrap(), 2);
    let done = query("UPDATE t SET r = $1 RETURNING i")
        .bind(0.25_f64)
        .execute(db)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 2);
    assert_eq!(halves().bind(0.25_f64).fetch_one(db).await.unwrap(), 2);
    assert!(matches!(
        query("SELECT i FROM t WHERE i = $1")
            .bind(99_i64)
            .fetch_one(db)
            .await,
        Err(DbError::NoRow)
    ));

    let count = || query_scalar::<i64>("SELECT COUNT(*) FROM t").fetch_one(db);
    let mut tx = db.begin().await.unwrap();
    query("INSERT INTO t (i) VALUES ($1)")
        .bind(3_i64)
        .execute(&mut tx)
        .await
        .unwrap();
    let inside = query_scalar::<i64>("SELECT COUNT(*) FROM t")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(inside, 3);
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

    assert!(query("SELEC nonsense").execute(db).await.is_err());
    db.ping().await.unwrap();
}

/// Instances sharing the database (see [`crate::coord`]): on PostgreSQL a second
/// [`Db::exclusive`] over an overlapping set waits for the first to be released (also when the
/// first is dropped, as by a crash), a disjoint one does not; on every engine one lease holder at
/// a time (SQLite: one process owns the file, whoever asks holds it).
pub async fn check_coordination(db: &Db) {
    use crate::coord::{Claim, Lease};
    use std::time::Duration;
    if db.is_postgres() {
        let first = db.exclusive(&["agency-1", "agency-2"]).await.unwrap();
        // Disjoint: not held up.
        tokio::time::timeout(Duration::from_secs(5), db.exclusive(&["agency-3"]))
            .await
            .expect("a disjoint section waited")
            .unwrap()
            .release()
            .await
            .unwrap();
        let other = db.clone();
        let waiting = tokio::spawn(async move {
            let g = other.exclusive(&["agency-2", "agency-9"]).await.unwrap();
            g.release().await.unwrap();
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiting.is_finished(),
            "an overlapping section did not wait"
        );
        first.release().await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting section never got the lock")
            .unwrap();
        // Dropped without release (a crash ends the same way: the connection goes): free again.
        drop(db.exclusive(&["agency-1"]).await.unwrap());
        tokio::time::timeout(Duration::from_secs(5), db.exclusive(&["agency-1"]))
            .await
            .expect("a dropped section kept its lock")
            .unwrap()
            .release()
            .await
            .unwrap();
    }
    if !db.is_postgres() {
        return;
    }
    let ttl = Duration::from_secs(10);
    let a = Lease::new(db, "check", "a", ttl).await.unwrap();
    let b = Lease::new(db, "check", "b", ttl).await.unwrap();
    // Both ask at once: exactly one wins.
    let (ra, rb) = tokio::join!(a.hold(1_000), b.hold(1_000));
    let won = [ra.unwrap(), rb.unwrap()]
        .iter()
        .filter(|c| matches!(c, Claim::Held { .. }))
        .count();
    assert_eq!(won, 1, "two holders of one lease");
    let (winner, loser) = match Lease::current(db, "check").await.unwrap() {
        Some((h, _)) if h == "a" => (a, b),
        _ => (b, a),
    };
    assert_eq!(
        winner.hold(5_000).await.unwrap(),
        Claim::Held { until_ms: 15_000 }
    );
    assert_eq!(loser.hold(14_999).await.unwrap(), Claim::Elsewhere);
    // Not renewed: the claim ends, the other takes over, the old holder is out.
    assert_eq!(
        loser.hold(15_001).await.unwrap(),
        Claim::Held { until_ms: 25_001 }
    );
    assert_eq!(winner.hold(15_002).await.unwrap(), Claim::Elsewhere);
    // Given up at shutdown: taken over at once.
    loser.release().await.unwrap();
    assert_eq!(
        winner.hold(16_000).await.unwrap(),
        Claim::Held { until_ms: 26_000 }
    );
}
