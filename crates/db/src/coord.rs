//! Coordination between instances of one service that share a PostgreSQL database.
//!
//! Two tools, for the two shapes of work a service does:
//!
//! - [`Exclusive`]: a critical section that every instance may run, one at a time (validation's
//!   decision about a report, which must see every report decided before it). It is a PostgreSQL
//!   advisory lock held by an open transaction, so a crashed instance's lock goes with its
//!   connection and nobody is left waiting for a dead holder.
//! - [`Lease`]: work that must run in one instance only (notification's escalation, digests and
//!   roster checks; ingest's republishing of unconfirmed events). A row in `leases` names the
//!   holder and the time its claim ends; the holder renews it well before then, and another
//!   instance takes over once a claim has ended without renewal (the holder crashed or lost the
//!   database). The times are the instances' clocks: hosts must be NTP-synchronised, and the
//!   holder stops acting `margin` before its claim ends so that modest skew cannot give two
//!   holders.
//!
//! On SQLite both are trivial: one process owns a SQLite file (it is the one-machine setup), so the
//! section needs no lock across processes and whoever asks holds the lease (a restarted process
//! does not wait out its predecessor's claim); the `leases` row is still written, so that what an
//! operator reads is the same on both engines.

use crate::{Db, DbError, Engine, Migration, Step, migrate, query};
use std::time::Duration;

/// The key of an advisory lock: FNV-1a of `name`, as PostgreSQL's signed 64-bit lock id. Stable
/// across releases and processes (unlike `std`'s hasher), so every instance names the same lock.
pub fn advisory_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// A held critical section (see [`Db::exclusive`]). Dropping it releases it too (the transaction
/// rolls back); [`Exclusive::release`] does so at once and reports a failure.
#[must_use = "the section ends when this is dropped"]
pub struct Exclusive(Option<sqlx::Transaction<'static, sqlx::Postgres>>);

impl Exclusive {
    pub async fn release(mut self) -> Result<(), DbError> {
        if let Some(tx) = self.0.take() {
            tx.commit().await?;
        }
        Ok(())
    }
}

impl Db {
    /// Waits until no other instance holds any of `names`, then holds them all until the returned
    /// guard is released or dropped. Locks are taken in one fixed order (by key), so two callers
    /// asking for overlapping sets cannot wait for each other. Holds one pooled connection
    /// meanwhile; the section's own queries use others.
    pub async fn exclusive(&self, names: &[&str]) -> Result<Exclusive, DbError> {
        let Engine::Postgres(pool) = &self.0 else {
            return Ok(Exclusive(None));
        };
        let mut keys: Vec<i64> = names.iter().map(|n| advisory_key(n)).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut tx = pool.begin().await?;
        if !keys.is_empty() {
            // The keys are our own integers, never input: written into the statement so that any
            // number of them costs one round trip. The inner ORDER BY fixes the locking order.
            let values: Vec<String> = keys.iter().map(|k| format!("({k})")).collect();
            let sql = format!(
                "SELECT pg_advisory_xact_lock(k) FROM \
                 (SELECT k FROM (VALUES {}) AS v(k) ORDER BY k) AS s",
                values.join(", ")
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        Ok(Exclusive(Some(tx)))
    }
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "leases",
    steps: &[Step::Sql(
        "CREATE TABLE IF NOT EXISTS leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            until_ms BIGINT NOT NULL
        )",
    )],
}];

/// A claim that one instance does some work (see the module's doc).
#[derive(Debug, Clone)]
pub struct Lease {
    db: Db,
    name: String,
    holder: String,
    ttl: Duration,
    margin: Duration,
}

/// What [`Lease::hold`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This instance holds the lease until `until_ms` (its clock), and may act until
    /// `until_ms - margin`.
    Held { until_ms: i64 },
    /// Another instance holds it.
    Elsewhere,
}

impl Lease {
    /// A lease named `name` (one per kind of work, e.g. `"notification.timers"`) claimed for `ttl`
    /// at a time by `holder` (unique per process: see [`holder_id`]). Creates the `leases` table
    /// if needed (under the migration lock).
    pub async fn new(
        db: &Db,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease, crate::MigrateError> {
        migrate(db, "leases", MIGRATIONS).await?;
        Ok(Lease {
            db: db.clone(),
            name: name.to_string(),
            holder: holder.to_string(),
            ttl,
            // A third of the claim: the holder renews at least that often (see `renew_every`).
            margin: ttl / 3,
        })
    }

    /// How often the holder should call [`Lease::hold`]: often enough that one missed renewal
    /// (a slow database) does not lose the claim.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 4
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Claims or renews the lease at `now_ms`: it becomes this instance's when nobody holds it,
    /// when this instance already does, or when the last claim ended. One statement, so two
    /// instances asking at once cannot both win.
    pub async fn hold(&self, now_ms: i64) -> Result<Claim, DbError> {
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let until = now_ms.saturating_add(ttl);
        if !self.db.is_postgres() {
            // One process owns a SQLite file: whoever asks holds it (a restarted process must
            // not wait out its crashed predecessor's claim).
            query(
                "INSERT INTO leases (name, holder, until_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms",
            )
            .bind(self.name.clone())
            .bind(self.holder.clone())
            .bind(until)
            .execute(&self.db)
            .await?;
            return Ok(Claim::Held { until_ms: until });
        }
        let done = query(
            "INSERT INTO leases (name, holder, until_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
             WHERE leases.holder = excluded.holder OR leases.until_ms < $4",
        )
        .bind(self.name.clone())
        .bind(self.holder.clone())
        .bind(until)
        .bind(now_ms)
        .execute(&self.db)
        .await?;
        Ok(if done.rows_affected() > 0 {
            Claim::Held { until_ms: until }
        } else {
            Claim::Elsewhere
        })
    }

    /// Whether a claim that runs until `until_ms` still allows acting at `now_ms`.
    pub fn may_act(&self, until_ms: i64, now_ms: i64) -> bool {
        let margin = i64::try_from(self.margin.as_millis()).unwrap_or(i64::MAX / 2);
        now_ms < until_ms.saturating_sub(margin)
    }

    /// Gives the lease up (at shutdown), so that another instance takes over at once rather than
    /// when the claim ends. Only this holder's claim is touched.
    pub async fn release(&self) -> Result<(), DbError> {
        query("UPDATE leases SET until_ms = 0 WHERE name = $1 AND holder = $2")
            .bind(self.name.clone())
            .bind(self.holder.clone())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Who holds `name` and until when, if anyone ever did (for operators and tests).
    pub async fn current(db: &Db, name: &str) -> Result<Option<(String, i64)>, DbError> {
        let row = query("SELECT holder, until_ms FROM leases WHERE name = $1")
            .bind(name.to_string())
            .fetch_optional(db)
            .await?;
        match row {
            Some(r) => Ok(Some((r.try_get(0)?, r.try_get(1)?))),
            None => Ok(None),
        }
    }
}

/// A name for this process among the instances of a deployment: the host (a pod's name in
/// Kubernetes), the process id and the start time, so that a restarted process on the same host
/// is a new holder (it must not inherit a claim its predecessor may still be acting on).
pub fn holder_id(service: &str) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "localhost".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{service}@{host}:{}:{started:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/l.db", dir.path().display());
        let db = crate::connect(&url).await.unwrap();
        (dir, db)
    }

    #[test]
    fn advisory_keys_are_stable_and_distinct() {
        // The value every release computes for this name: instances of two releases in a rolling
        // upgrade must name the same lock.
        assert_eq!(
            advisory_key(""),
            i64::from_ne_bytes(0xcbf2_9ce4_8422_2325u64.to_ne_bytes())
        );
        assert_ne!(advisory_key("a"), advisory_key("b"));
    }

    /// The takeover rules are checked on PostgreSQL (`testing::check_coordination`, run by
    /// tests/tests/stores.rs); on SQLite the one process always holds the lease.
    #[tokio::test]
    async fn on_sqlite_whoever_asks_holds_the_lease() {
        let (_d, db) = sqlite().await;
        let ttl = Duration::from_secs(10);
        let a = Lease::new(&db, "timers", "a", ttl).await.unwrap();
        let b = Lease::new(&db, "timers", "b", ttl).await.unwrap();
        assert_eq!(
            a.hold(1_000).await.unwrap(),
            Claim::Held { until_ms: 11_000 }
        );
        // A restarted process (a new holder) does not wait for the old claim to end.
        assert_eq!(
            b.hold(2_000).await.unwrap(),
            Claim::Held { until_ms: 12_000 }
        );
        assert_eq!(
            Lease::current(&db, "timers").await.unwrap(),
            Some(("b".to_string(), 12_000))
        );
        b.release().await.unwrap();
        assert_eq!(
            Lease::current(&db, "timers").await.unwrap(),
            Some(("b".to_string(), 0))
        );
    }

    #[tokio::test]
    async fn the_holder_stops_acting_before_its_claim_ends() {
        let (_d, db) = sqlite().await;
        let l = Lease::new(&db, "timers", "a", Duration::from_millis(9_000))
            .await
            .unwrap();
        assert_eq!(l.renew_every(), Duration::from_millis(2_250));
        assert!(l.may_act(10_000, 6_999));
        assert!(
            !l.may_act(10_000, 7_000),
            "a third of the claim is kept as margin"
        );
    }

    #[tokio::test]
    async fn exclusive_on_sqlite_is_a_no_op() {
        let (_d, db) = sqlite().await;
        let held = db.exclusive(&["x", "y"]).await.unwrap();
        // The section's own queries still run (no connection is held on SQLite).
        crate::query("SELECT 1").execute(&db).await.unwrap();
        held.release().await.unwrap();
    }

    #[test]
    fn holders_differ_between_processes_of_one_host() {
        let a = holder_id("notification");
        std::thread::sleep(Duration::from_millis(1));
        let b = holder_id("notification");
        assert!(a.starts_with("notification@"));
        assert_ne!(a, b);
    }
}
