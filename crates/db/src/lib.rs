//! The services' SQL layer: one small query API over the two databases a deployment may use.
//!
//! - **SQLite** (the embedded default): one `rusqlite` connection per database, behind an async
//!   mutex, and every statement runs in place on the calling task's thread. Statements take
//!   microseconds (WAL, `synchronous=NORMAL`, no fsync per commit), so running them in place is
//!   cheaper than anything else: sqlx's SQLite driver, used before, sent every statement and every
//!   result row through channels to a worker thread, and those thread hand-offs were a large part
//!   of the pipeline's CPU. The one slow SQLite operation, the WAL checkpoint with its fsync, runs on
//!   a thread of its own (see `sqlite::Checkpointer`).
//! - **PostgreSQL** (a province deployment): a sqlx pool.
//!
//! The stores write portable SQL once: `$1, $2, …` placeholders (rewritten to SQLite's `?1, ?2, …`,
//! which bind by position without a name lookup), BIGINT/DOUBLE PRECISION/TEXT and BLOB-or-BYTEA
//! columns. The API mirrors sqlx's (`query(sql).bind(v).fetch_all(&db)`) so a store reads the same
//! on both engines; rows come back as owned [`Value`]s.

pub mod coord;
pub mod migrate;
mod postgres;
mod sqlite;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod value;

pub use coord::{Claim, Exclusive, Lease, holder_id};
pub use migrate::{MigrateError, Migrated, Migration, Step, migrate};
pub use value::{ColumnIndex, Decode, Kind, Row, Typed, Value};

use sqlite::Sqlite;
use std::borrow::Cow;
use std::sync::Arc;

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    /// Carries the URL as [`url_shown`] shows it: without a password.
    #[error("database URL {0:?}: expected sqlite://PATH[?mode=rwc] or postgres://…")]
    Url(String),
    #[error("column {0}: no such column")]
    NoColumn(String),
    #[error("column {column}: {problem}")]
    Decode { column: String, problem: String },
    #[error("the query returned no row")]
    NoRow,
    #[error("the database connection is gone: {0}")]
    Gone(String),
}

/// A database: SQLite or PostgreSQL. Cheap to clone (clones share the connection or pool).
#[derive(Clone)]
pub struct Db(Engine);

#[derive(Clone)]
enum Engine {
    Sqlite(Arc<Sqlite>),
    Postgres(sqlx::PgPool),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Engine::Sqlite(s) => write!(f, "Db(sqlite {})", s.path),
            Engine::Postgres(_) => f.write_str("Db(postgres)"),
        }
    }
}

/// Connects to `url`: `sqlite://PATH[?mode=rwc]` (the parent folder is created) or
/// `postgres://…` / `postgresql://…`.
pub async fn connect(url: &str) -> Result<Db, DbError> {
    if is_postgres(url) {
        return Ok(Db(Engine::Postgres(postgres::connect(url).await?)));
    }
    let Some(rest) = url.strip_prefix("sqlite://") else {
        return Err(DbError::Url(url_shown(url)));
    };
    let path = rest.split('?').next().unwrap_or_default().to_string();
    if path.is_empty() {
        return Err(DbError::Url(url_shown(url)));
    }
    Ok(Db(Engine::Sqlite(Sqlite::open(path)?)))
}

impl Db {
    pub fn is_postgres(&self) -> bool {
        matches!(self.0, Engine::Postgres(_))
    }

    /// `SELECT 1`: the readiness probe.
    pub async fn ping(&self) -> Result<(), DbError> {
        query("SELECT 1").execute(self).await.map(|_| ())
    }

    /// At shutdown: PostgreSQL's pool closes its connections; SQLite folds the WAL back into the
    /// database file (its connection closes with the last clone of this `Db`).
    pub async fn close(&self) {
        match &self.0 {
            Engine::Sqlite(s) => s.close().await,
            Engine::Postgres(pool) => pool.close().await,
        }
    }

    /// Starts a transaction; it rolls back when dropped without [`Tx::commit`]. On SQLite it holds
    /// the connection until then, so keep it short.
    pub async fn begin(&self) -> Result<Tx<'_>, DbError> {
        match &self.0 {
            Engine::Sqlite(s) => Ok(Tx(TxEngine::Sqlite {
                conn: s.begin().await?,
                open: true,
            })),
            Engine::Postgres(pool) => Ok(Tx(TxEngine::Postgres(Some(pool.begin().await?)))),
        }
    }
}

/// An open transaction (see [`Db::begin`]).
pub struct Tx<'a>(TxEngine<'a>);

enum TxEngine<'a> {
    Sqlite {
        conn: tokio::sync::MutexGuard<'a, rusqlite::Connection>,
        open: bool,
    },
    /// `None` once committed.
    Postgres(Option<sqlx::Transaction<'static, sqlx::Postgres>>),
}

impl Tx<'_> {
    pub async fn commit(mut self) -> Result<(), DbError> {
        match &mut self.0 {
            TxEngine::Sqlite { conn, open } => {
                sqlite::commit(conn)?;
                *open = false;
            }
            TxEngine::Postgres(tx) => {
                if let Some(tx) = tx.take() {
                    tx.commit().await?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        // PostgreSQL's transaction rolls itself back when dropped.
        if let TxEngine::Sqlite { conn, open: true } = &mut self.0 {
            sqlite::rollback(conn);
        }
    }
}

/// Where a query runs: the database, or an open transaction.
pub enum Target<'c, 't> {
    Db(&'c Db),
    Tx(&'c mut Tx<'t>),
}

impl<'c> From<&'c Db> for Target<'c, 'static> {
    fn from(db: &'c Db) -> Self {
        Target::Db(db)
    }
}

impl<'c, 't> From<&'c mut Tx<'t>> for Target<'c, 't> {
    fn from(tx: &'c mut Tx<'t>) -> Self {
        Target::Tx(tx)
    }
}

/// A statement and its parameters; see [`query`].
#[derive(Clone, Debug)]
pub struct Query {
    sql: Cow<'static, str>,
    args: Vec<Value>,
}

/// A statement with `$1, $2, …` placeholders, each bound in order with [`Query::bind`].
pub fn query(sql: impl Into<Cow<'static, str>>) -> Query {
    Query {
        sql: sql.into(),
        args: Vec::new(),
    }
}

/// A statement whose rows are read as their first column, of type `T`.
pub fn query_scalar<T: Decode>(sql: impl Into<Cow<'static, str>>) -> Scalar<T> {
    Scalar {
        q: query(sql),
        _t: std::marker::PhantomData,
    }
}

/// What [`Query::execute`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

impl Query {
    #[must_use]
    pub fn bind(mut self, v: impl Into<Value>) -> Self {
        self.args.push(v.into());
        self
    }

    pub async fn execute<'c, 't: 'c>(self, on: impl Into<Target<'c, 't>>) -> Result<Done, DbError> {
        let (_, n) = self.run(on.into(), Want::Nothing).await?;
        Ok(Done { rows_affected: n })
    }

    pub async fn fetch_all<'c, 't: 'c>(
        self,
        on: impl Into<Target<'c, 't>>,
    ) -> Result<Vec<Row>, DbError> {
        Ok(self.run(on.into(), Want::All).await?.0)
    }

    pub async fn fetch_optional<'c, 't: 'c>(
        self,
        on: impl Into<Target<'c, 't>>,
    ) -> Result<Option<Row>, DbError> {
        Ok(self.run(on.into(), Want::First).await?.0.into_iter().next())
    }

    pub async fn fetch_one<'c, 't: 'c>(
        self,
        on: impl Into<Target<'c, 't>>,
    ) -> Result<Row, DbError> {
        self.fetch_optional(on).await?.ok_or(DbError::NoRow)
    }

    async fn run(self, on: Target<'_, '_>, rows: Want) -> Result<(Vec<Row>, u64), DbError> {
        match on {
            Target::Db(db) => match &db.0 {
                Engine::Sqlite(s) => {
                    let conn = s.conn.lock().await;
                    sqlite::run(&conn, &self, rows)
                }
                Engine::Postgres(pool) => postgres::run(pool, self, rows).await,
            },
            Target::Tx(tx) => match &mut tx.0 {
                TxEngine::Sqlite { conn, .. } => sqlite::run(conn, &self, rows),
                TxEngine::Postgres(Some(t)) => postgres::run(&mut **t, self, rows).await,
                TxEngine::Postgres(None) => {
                    Err(DbError::Gone("transaction already committed".into()))
                }
            },
        }
    }
}

/// [`query_scalar`]'s statement.
#[derive(Clone, Debug)]
pub struct Scalar<T> {
    q: Query,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: Decode> Scalar<T> {
    #[must_use]
    pub fn bind(mut self, v: impl Into<Value>) -> Self {
        self.q = self.q.bind(v);
        self
    }

    pub async fn fetch_all<'c, 't: 'c>(
        self,
        on: impl Into<Target<'c, 't>>,
    ) -> Result<Vec<T>, DbError> {
        self.q
            .fetch_all(on)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
    }

    pub async fn fetch_one<'c, 't: 'c>(self, on: impl Into<Target<'c, 't>>) -> Result<T, DbError> {
        self.q.fetch_one(on).await?.try_get(0)
    }
}

/// Which result rows a statement's caller reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// None (`execute`): the statement still runs to completion.
    Nothing,
    /// The first row only (`fetch_optional`, `fetch_one`): the rest are never read or converted.
    First,
    All,
}

// ---- SQL helpers ----

/// What an error may say about a database URL it refuses: the URL with everything up to its last
/// `@` (a userinfo, password included) and its query (`?password=…`) replaced by `***`. Cruder than
/// `nianbao_service::redact`, which this crate sits below, and enough to recognise a typo.
fn url_shown(url: &str) -> String {
    let (body, query) = match url.split_once('?') {
        Some((b, _)) => (b, "?***"),
        None => (url, ""),
    };
    let (scheme, rest) = match body.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), body),
    };
    let rest = match rest.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => rest.to_string(),
    };
    format!("{scheme}{rest}{query}")
}

/// Whether `url` names a PostgreSQL database (for the few statements whose SQL differs).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres")
}

/// `$from, $from+1, …` (`n` placeholders): an `IN (…)` list or one row of a multi-row insert.
pub fn sql_params(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, …, $per_row), ($per_row+1, …), …`: the `VALUES` of a multi-row insert. One statement for
/// many rows is one round trip to the database (and one commit), which is what batches save.
pub fn sql_rows(rows: usize, per_row: usize) -> String {
    (0..rows)
        .map(|i| format!("({})", sql_params(i * per_row + 1, per_row)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row statement, so that `per_row` parameters each stay far below the databases'
/// limits (SQLite 32,766, PostgreSQL 65,535).
pub fn rows_per_statement(per_row: usize) -> usize {
    (30_000 / per_row.max(1)).max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_url_is_quoted_without_its_password() {
        for (url, shown) in [
            (
                "mysql://nb:hunter2@db.example/nb",
                "\"mysql://***@db.example/nb\"",
            ),
            ("sqlite://?password=hunter2", "\"sqlite://?***\""),
            ("nb:hunter2@db.example", "\"***@db.example\""),
        ] {
            let Err(e) = connect(url).await else {
                panic!("{url} connected");
            };
            let text = e.to_string();
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains(shown), "{text}");
        }
    }

    #[test]
    fn placeholder_lists_and_rows() {
        assert_eq!(sql_params(3, 2), "$3, $4");
        assert_eq!(sql_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(sql_rows(0, 3), "");
        assert!(rows_per_statement(23) * 23 <= 30_000);
        assert_eq!(rows_per_statement(0), 30_000);
    }

    #[tokio::test]
    async fn bad_urls_are_rejected_with_the_url() {
        for url in ["mysql://x", "sqlite://", "x.db"] {
            let e = connect(url).await.unwrap_err();
            assert!(e.to_string().contains(url), "{e}");
        }
    }
}
