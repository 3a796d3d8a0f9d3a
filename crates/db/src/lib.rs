//! The services' SQL layer: one small query API over the two databases a deployment may use.
//!
//! - **SQLite** (the embedded default): one `rusqlite` connection per database, behind an async
//!   mutex, and every statement runs in place on the calling task's thread. Statements take
//!   microseconds (WAL, `synchronous=NORMAL`, no fsync per commit), so running them in place is
//!   cheaper than anything else: sqlx's SQLite driver, used before, sent every statement and every
//!   result row through channels to a worker thread, and those thread hand-offs were a large part
//!   of the pipeline's CPU. The one slow SQLite operation, the WAL checkpoint with its fsync, runs on
//!   a thread of its own (see [`Checkpointer`]).
//! - **PostgreSQL** (a province deployment): a sqlx pool.
//!
//! The stores write portable SQL once: `$1, $2, …` placeholders (rewritten to SQLite's `?1, ?2, …`,
//! which bind by position without a name lookup), BIGINT/DOUBLE PRECISION/TEXT and BLOB-or-BYTEA
//! columns. The API mirrors sqlx's (`query(sql).bind(v).fetch_all(&db)`) so a store reads the same
//! on both engines; rows come back as owned [`Value`]s.

pub mod coord;
pub mod migrate;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use coord::{Claim, Exclusive, Lease, holder_id};
pub use migrate::{MigrateError, Migrated, Migration, Step, migrate};

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

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

struct Sqlite {
    path: String,
    conn: tokio::sync::Mutex<rusqlite::Connection>,
}

/// WAL so that readers (an operator's `sqlite3`, a test) do not block the writer;
/// `synchronous=NORMAL` syncs at checkpoints, not at every commit (a power loss may lose the last
/// commits, never corrupt the file; a process crash loses nothing). Checkpoints are the
/// [`Checkpointer`]'s job, off the callers' threads. Temporary storage in memory: a multi-row
/// `INSERT … ON CONFLICT` inside a transaction keeps a statement journal, which otherwise spills to
/// a temporary file created and deleted each time. The file is read through a memory map (up to
/// 256 MiB): a service's store grows all year, and once it outgrows SQLite's 2 MiB page cache every
/// lookup read its pages with a system call each (a sixth of notification's time at 16,000
/// reports). A larger page cache instead costs a scan of the cache's hash table at every commit.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
    PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864; PRAGMA temp_store=MEMORY; \
    PRAGMA mmap_size=268435456;";

/// Distinct statements kept prepared per SQLite connection: the stores' fixed statements plus the
/// multi-row ones, whose text depends on the batch size.
const STATEMENT_CACHE: usize = 256;

/// How often the WAL is folded back into the database file when it was written to. Each checkpoint
/// writes every page of the WAL once, so a page rewritten many times in between costs one write;
/// under full load a second of WAL is a few MiB.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Connects to `url`: `sqlite://PATH[?mode=rwc]` (the parent folder is created) or
/// `postgres://…` / `postgresql://…`.
pub async fn connect(url: &str) -> Result<Db, DbError> {
    if is_postgres(url) {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await?;
        return Ok(Db(Engine::Postgres(pool)));
    }
    let Some(rest) = url.strip_prefix("sqlite://") else {
        return Err(DbError::Url(url_shown(url)));
    };
    let path = rest.split('?').next().unwrap_or_default().to_string();
    if path.is_empty() {
        return Err(DbError::Url(url_shown(url)));
    }
    if let Some(parent) = Path::new(&path).parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let conn = open_sqlite(&path)?;
    conn.execute_batch(SQLITE_PRAGMAS)?;
    let sqlite = Arc::new(Sqlite {
        path: path.clone(),
        conn: tokio::sync::Mutex::new(conn),
    });
    Checkpointer::start(path, Arc::downgrade(&sqlite));
    Ok(Db(Engine::Sqlite(sqlite)))
}

fn open_sqlite(path: &str) -> Result<rusqlite::Connection, DbError> {
    let conn = rusqlite::Connection::open(path)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// Folds the WAL back into the database file (see [`CHECKPOINT_EVERY`]) on a thread with its own
/// connection, so that the checkpoint's writes and fsync never stall a service's async threads.
/// It stops when the database is dropped. A PASSIVE checkpoint never waits for the writer; the
/// writer starts the WAL over once a checkpoint has caught up.
struct Checkpointer;

impl Checkpointer {
    fn start(path: String, db: Weak<Sqlite>) {
        let spawned = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let conn = match open_sqlite(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(%path, error = %e, "no WAL checkpoints: cannot open a second connection");
                        return;
                    }
                };
                let wal = format!("{path}-wal");
                let written = || std::fs::metadata(&wal).and_then(|m| m.modified()).ok();
                let mut seen = None;
                loop {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    if db.strong_count() == 0 {
                        break;
                    }
                    // An idle service's WAL is left alone (the file keeps its size when it is
                    // reused, so its modification time is what tells news).
                    let now = written();
                    if now.is_none() || now == seen {
                        continue;
                    }
                    seen = now;
                    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                        tracing::warn!(%path, error = %e, "WAL checkpoint failed");
                    }
                }
                // The last one after the service let go, so that the WAL is small at rest.
                let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no WAL checkpoint thread");
        }
    }
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
            Engine::Sqlite(s) => {
                let conn = s.conn.lock().await;
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                    tracing::warn!(path = %s.path, error = %e, "final WAL checkpoint failed");
                }
            }
            Engine::Postgres(pool) => pool.close().await,
        }
    }

    /// Starts a transaction; it rolls back when dropped without [`Tx::commit`]. On SQLite it holds
    /// the connection until then, so keep it short.
    pub async fn begin(&self) -> Result<Tx<'_>, DbError> {
        match &self.0 {
            Engine::Sqlite(s) => {
                let conn = s.conn.lock().await;
                conn.execute_batch("BEGIN IMMEDIATE")?;
                Ok(Tx(TxEngine::Sqlite { conn, open: true }))
            }
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
                conn.execute_batch("COMMIT")?;
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
        if let TxEngine::Sqlite { conn, open: true } = &mut self.0
            && let Err(e) = conn.execute_batch("ROLLBACK")
        {
            tracing::warn!(error = %e, "rollback failed");
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

/// A value bound to a statement or read from a row. `Null` carries the type it stands for, which
/// PostgreSQL needs to type the parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null(Kind),
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// The column types the stores use: BIGINT, DOUBLE PRECISION, TEXT, BLOB/BYTEA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Blob,
}

/// A Rust type that binds as one [`Kind`] (so that its `None` can be typed).
pub trait Typed: Into<Value> {
    const KIND: Kind;
}

macro_rules! typed {
    ($kind:ident: $($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from($v: $t) -> Value {
                Value::$kind($e)
            }
        }
        impl Typed for $t {
            const KIND: Kind = Kind::$kind;
        }
    )*};
}

typed!(Int:
    i64 => |v| v,
    i32 => |v| i64::from(v),
    bool => |v| i64::from(v),
);
typed!(Real: f64 => |v| v);
typed!(Text:
    String => |v| v,
    &str => |v| v.to_string(),
    &String => |v| v.clone(),
);
typed!(Blob:
    Vec<u8> => |v| v,
    &[u8] => |v| v.to_vec(),
);

impl<T: Typed> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null(T::KIND), Into::into)
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
                    sqlite_run(&conn, &self, rows)
                }
                Engine::Postgres(pool) => pg_run(pool, self, rows).await,
            },
            Target::Tx(tx) => match &mut tx.0 {
                TxEngine::Sqlite { conn, .. } => sqlite_run(conn, &self, rows),
                TxEngine::Postgres(Some(t)) => pg_run(&mut **t, self, rows).await,
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

/// One result row: its values by position, with the column names.
#[derive(Clone, Debug)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

/// A column by position (`0`, `1`, …) or by name.
pub trait ColumnIndex {
    fn position(&self, columns: &[String]) -> Result<usize, DbError>;
}

impl ColumnIndex for usize {
    fn position(&self, columns: &[String]) -> Result<usize, DbError> {
        if *self < columns.len() {
            Ok(*self)
        } else {
            Err(DbError::NoColumn(self.to_string()))
        }
    }
}

impl ColumnIndex for &str {
    fn position(&self, columns: &[String]) -> Result<usize, DbError> {
        columns
            .iter()
            .position(|c| c == self)
            .ok_or_else(|| DbError::NoColumn((*self).to_string()))
    }
}

impl Row {
    pub fn try_get<T: Decode, I: ColumnIndex>(&self, index: I) -> Result<T, DbError> {
        let i = index.position(&self.columns)?;
        let v = self
            .values
            .get(i)
            .ok_or_else(|| DbError::NoColumn(i.to_string()))?;
        T::decode(v).map_err(|problem| DbError::Decode {
            column: self.columns.get(i).cloned().unwrap_or_default(),
            problem,
        })
    }
}

/// A Rust type read from a column.
pub trait Decode: Sized {
    fn decode(v: &Value) -> Result<Self, String>;
}

fn unexpected(want: &str, v: &Value) -> String {
    format!("expected {want}, found {v:?}")
}

impl Decode for i64 {
    fn decode(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i),
            other => Err(unexpected("an integer", other)),
        }
    }
}

impl Decode for i32 {
    fn decode(v: &Value) -> Result<Self, String> {
        i32::try_from(i64::decode(v)?).map_err(|e| e.to_string())
    }
}

impl Decode for bool {
    fn decode(v: &Value) -> Result<Self, String> {
        Ok(i64::decode(v)? != 0)
    }
}

impl Decode for f64 {
    fn decode(v: &Value) -> Result<Self, String> {
        match v {
            Value::Real(f) => Ok(*f),
            // SQLite stores a whole REAL as an integer when it can.
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Ok(*i as f64),
            other => Err(unexpected("a number", other)),
        }
    }
}

impl Decode for String {
    fn decode(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(unexpected("text", other)),
        }
    }
}

impl Decode for Vec<u8> {
    fn decode(v: &Value) -> Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            other => Err(unexpected("bytes", other)),
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null(_) => Ok(None),
            other => T::decode(other).map(Some),
        }
    }
}

// ---- SQLite ----

/// `$n` → `?n` outside string literals: SQLite binds `?n` to position n directly, where a `$n`
/// name would be looked up among all the statement's names for every parameter (quadratic in a
/// multi-row insert's thousands of parameters).
fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '$' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null(_) => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
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

fn sqlite_run(
    conn: &rusqlite::Connection,
    q: &Query,
    want: Want,
) -> Result<(Vec<Row>, u64), DbError> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare_cached(&sqlite_sql(&q.sql))?;
    let expected = stmt.parameter_count();
    if expected != q.args.len() {
        return Err(DbError::Sqlite(rusqlite::Error::InvalidParameterCount(
            q.args.len(),
            expected,
        )));
    }
    for (i, v) in q.args.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, v)?;
    }
    let width = stmt.column_count();
    let columns: Arc<[String]> = stmt
        .column_names()
        .iter()
        .map(|c| (*c).to_string())
        .collect();
    let mut out = Vec::new();
    let mut rows = stmt.raw_query();
    while let Some(r) = rows.next()? {
        if want == Want::Nothing {
            // Stepping on is what runs a statement to its end (a `RETURNING` writes on the first
            // step, a plain write has no rows); the rows themselves are not wanted.
            continue;
        }
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null(Kind::Text),
                ValueRef::Integer(n) => Value::Int(n),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => {
                    Value::Text(String::from_utf8(t.to_vec()).map_err(|e| DbError::Decode {
                        column: columns.get(i).cloned().unwrap_or_default(),
                        problem: e.to_string(),
                    })?)
                }
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            });
        }
        out.push(Row {
            columns: columns.clone(),
            values,
        });
        if want == Want::First {
            // Dropping `rows` resets the statement; SQLite makes a `RETURNING` statement's
            // changes on its first step, so stopping here loses no write.
            break;
        }
    }
    Ok((out, conn.changes()))
}

// ---- PostgreSQL ----

async fn pg_run<'e, E>(on: E, q: Query, rows: Want) -> Result<(Vec<Row>, u64), DbError>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    let mut pq = sqlx::query(sqlx::AssertSqlSafe(q.sql.into_owned()));
    for v in q.args {
        pq = match v {
            Value::Null(Kind::Int) => pq.bind(None::<i64>),
            Value::Null(Kind::Real) => pq.bind(None::<f64>),
            Value::Null(Kind::Text) => pq.bind(None::<String>),
            Value::Null(Kind::Blob) => pq.bind(None::<Vec<u8>>),
            Value::Int(i) => pq.bind(i),
            Value::Real(f) => pq.bind(f),
            Value::Text(s) => pq.bind(s),
            Value::Blob(b) => pq.bind(b),
        };
    }
    let fetched = match rows {
        Want::Nothing => return Ok((Vec::new(), pq.execute(on).await?.rows_affected())),
        Want::First => pq.fetch_optional(on).await?.into_iter().collect(),
        Want::All => pq.fetch_all(on).await?,
    };
    let Some(first) = fetched.first() else {
        return Ok((Vec::new(), 0));
    };
    use sqlx::{Column, Row as _, TypeInfo};
    let columns: Arc<[String]> = first
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let kinds: Vec<String> = first
        .columns()
        .iter()
        .map(|c| c.type_info().name().to_string())
        .collect();
    let n = fetched.len() as u64;
    let mut out = Vec::with_capacity(fetched.len());
    for r in &fetched {
        let mut values = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.iter().enumerate() {
            values.push(pg_value(r, i, kind)?);
        }
        out.push(Row {
            columns: columns.clone(),
            values,
        });
    }
    Ok((out, n))
}

fn pg_value(r: &sqlx::postgres::PgRow, i: usize, kind: &str) -> Result<Value, DbError> {
    use sqlx::Row as _;
    Ok(match kind {
        "INT8" => r
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null(Kind::Int), Value::Int),
        "INT4" => r
            .try_get::<Option<i32>, _>(i)?
            .map_or(Value::Null(Kind::Int), |v| Value::Int(v.into())),
        "INT2" => r
            .try_get::<Option<i16>, _>(i)?
            .map_or(Value::Null(Kind::Int), |v| Value::Int(v.into())),
        "BOOL" => r
            .try_get::<Option<bool>, _>(i)?
            .map_or(Value::Null(Kind::Int), |v| Value::Int(v.into())),
        "FLOAT8" => r
            .try_get::<Option<f64>, _>(i)?
            .map_or(Value::Null(Kind::Real), Value::Real),
        "FLOAT4" => r
            .try_get::<Option<f32>, _>(i)?
            .map_or(Value::Null(Kind::Real), |v| Value::Real(v.into())),
        "BYTEA" => r
            .try_get::<Option<Vec<u8>>, _>(i)?
            .map_or(Value::Null(Kind::Blob), Value::Blob),
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => r
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null(Kind::Text), Value::Text),
        other => {
            return Err(DbError::Decode {
                column: i.to_string(),
                problem: format!("unsupported PostgreSQL type {other}"),
            });
        }
    })
}

// ---- SQL helpers ----

/// Whether `url` names a PostgreSQL database (for the few statements whose SQL differs).
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

    async fn sqlite(dir: &tempfile::TempDir) -> Db {
        connect(&format!(
            "sqlite://{}/sub/t.db?mode=rwc",
            dir.path().display()
        ))
        .await
        .unwrap()
    }

    #[test]
    fn placeholders_become_positional_outside_literals() {
        assert_eq!(sqlite_sql("SELECT 1"), "SELECT 1");
        assert_eq!(
            sqlite_sql("SELECT a FROM t WHERE b = $2 AND c = '$1' AND d IN ($10, $1)"),
            "SELECT a FROM t WHERE b = ?2 AND c = '$1' AND d IN (?10, ?1)"
        );
        assert_eq!(sql_params(3, 2), "$3, $4");
        assert_eq!(sql_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(sql_rows(0, 3), "");
        assert!(rows_per_statement(23) * 23 <= 30_000);
        assert_eq!(rows_per_statement(0), 30_000);
    }

    #[tokio::test]
    async fn sqlite_behaves_as_every_engine_must() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite(&dir).await;
        assert!(!db.is_postgres());
        crate::testing::check_engine(&db).await;
        crate::testing::check_coordination(&db).await;
        // SQLite only: too few or too many binds are an error, never a silent NULL.
        assert!(
            query("SELECT i FROM t WHERE i = $1")
                .fetch_all(&db)
                .await
                .is_err()
        );
        assert!(query("SELECT 1").bind(1_i64).fetch_all(&db).await.is_err());
        db.ping().await.unwrap();
    }

    #[tokio::test]
    async fn a_second_connection_sees_the_commits_and_the_wal_is_checkpointed() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite(&dir).await;
        query("CREATE TABLE t (i BIGINT)")
            .execute(&db)
            .await
            .unwrap();
        for i in 0..50_i64 {
            query("INSERT INTO t (i) VALUES ($1)")
                .bind(i)
                .execute(&db)
                .await
                .unwrap();
        }
        let other = sqlite(&dir).await;
        let n = query_scalar::<i64>("SELECT COUNT(*) FROM t")
            .fetch_one(&other)
            .await
            .unwrap();
        assert_eq!(n, 50);
        // The checkpointer folds the WAL into the database file; then the file alone has the rows.
        let file = dir.path().join("sub/t.db");
        let mut size = 0;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            size = std::fs::metadata(&file).unwrap().len();
            if size > 4096 {
                break;
            }
        }
        assert!(size > 4096, "database file still {size} bytes");
    }

    #[tokio::test]
    async fn bad_urls_are_rejected_with_the_url() {
        for url in ["mysql://x", "sqlite://", "x.db"] {
            let e = connect(url).await.unwrap_err();
            assert!(e.to_string().contains(url), "{e}");
        }
    }
}
