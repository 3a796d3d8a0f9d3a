//! The embedded engine: one `rusqlite` connection per database, behind an async mutex, every
//! statement run in place on the calling task's thread (see the crate docs for why), and a thread of
//! its own for the one slow operation, the WAL checkpoint.

use crate::{DbError, Kind, Query, Row, Value, Want};
use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub(crate) struct Sqlite {
    pub(crate) path: String,
    pub(crate) conn: tokio::sync::Mutex<rusqlite::Connection>,
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

impl Sqlite {
    /// Opens (creating it and its parent folder if need be) the database file at `path`, and starts
    /// its [`Checkpointer`].
    pub(crate) fn open(path: String) -> Result<Arc<Sqlite>, DbError> {
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
        Ok(sqlite)
    }

    /// Folds the WAL back into the database file, so that it is small at rest.
    pub(crate) async fn close(&self) {
        let conn = self.conn.lock().await;
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
            tracing::warn!(path = %self.path, error = %e, "final WAL checkpoint failed");
        }
    }

    /// `IMMEDIATE` takes the write lock at the start, where waiting for it (the busy timeout) is
    /// safe, rather than at the transaction's first write.
    pub(crate) async fn begin(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, rusqlite::Connection>, DbError> {
        let conn = self.conn.lock().await;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(conn)
    }
}

pub(crate) fn commit(conn: &rusqlite::Connection) -> Result<(), DbError> {
    conn.execute_batch("COMMIT")?;
    Ok(())
}

pub(crate) fn rollback(conn: &rusqlite::Connection) {
    if let Err(e) = conn.execute_batch("ROLLBACK") {
        tracing::warn!(error = %e, "rollback failed");
    }
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

pub(crate) fn run(
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::{Db, connect, query, query_scalar};

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
}
