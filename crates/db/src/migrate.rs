//! Versioned schema migrations, the same mechanism for every store on both engines.
//!
//! A store lists its [`Migration`]s in order; [`migrate`] applies the ones its database has not
//! recorded yet, each in its own transaction together with its row in `schema_migrations`, at
//! start, under a lock: on PostgreSQL a transaction-scoped advisory lock per component (several
//! instances starting at once apply each migration once; the others wait, then see it recorded);
//! on SQLite the write lock `BEGIN IMMEDIATE` takes.
//!
//! Databases created before migrations existed have the tables but no `schema_migrations`: every
//! store's migration 1 is written to be idempotent (`CREATE … IF NOT EXISTS`, [`Step::AddColumn`]
//! adds a column only if missing), so such a database is taken over with all its rows.
//!
//! A migration, once released, is never edited: its checksum is recorded, and a database whose
//! recorded checksum differs is refused (the schema would not be what the code believes). A
//! database with versions the code does not know (a newer release ran) is used with a warning:
//! migrations only add, so an older instance in a rolling upgrade keeps working.

use crate::{Db, DbError, Tx, query, query_scalar};

/// One step of a migration.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Portable SQL (see the crate docs: `$n` placeholders, BIGINT/TEXT/DOUBLE PRECISION).
    Sql(&'static str),
    /// SQL that differs between the engines (BLOB vs BYTEA, …).
    Engine {
        sqlite: &'static str,
        postgres: &'static str,
    },
    /// `ALTER TABLE table ADD COLUMN column definition`, unless the column exists.
    AddColumn {
        table: &'static str,
        column: &'static str,
        definition: &'static str,
    },
}

/// A numbered, named change of a component's schema.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// 1, 2, 3… in order; never reused.
    pub version: i64,
    pub name: &'static str,
    pub steps: &'static [Step],
}

impl Migration {
    /// A stable fingerprint of the steps (FNV-1a over their text), recorded when applied.
    pub fn checksum(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |s: &str| {
            for b in s.bytes().chain(std::iter::once(0)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for step in self.steps {
            match step {
                Step::Sql(s) => feed(s),
                Step::Engine { sqlite, postgres } => {
                    feed(sqlite);
                    feed(postgres);
                }
                Step::AddColumn {
                    table,
                    column,
                    definition,
                } => {
                    feed(table);
                    feed(column);
                    feed(definition);
                }
            }
        }
        format!("{h:016x}")
    }
}

/// What [`migrate`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Versions applied now, in order.
    pub applied: Vec<i64>,
    /// The highest version recorded in the database afterwards.
    pub current: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(
        "{component}: migration {version} ({name}) was applied with checksum {recorded}, the code's is {expected}: a released migration was edited; restore it and add a new one"
    )]
    Changed {
        component: String,
        version: i64,
        name: String,
        recorded: String,
        expected: String,
    },
    #[error(
        "{component}: migrations must be numbered 1, 2, 3… in order (found {found} after {after})"
    )]
    Order {
        component: String,
        found: i64,
        after: i64,
    },
}

const TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at_ms BIGINT NOT NULL,
    PRIMARY KEY (component, version)
)";

/// Applies `migrations` of `component` (e.g. `"ingest"`) that `db` has not recorded yet.
pub async fn migrate(
    db: &Db,
    component: &str,
    migrations: &[Migration],
) -> Result<Migrated, MigrateError> {
    let mut after = 0;
    for m in migrations {
        if m.version != after + 1 {
            return Err(MigrateError::Order {
                component: component.to_string(),
                found: m.version,
                after,
            });
        }
        after = m.version;
    }
    {
        // The table itself, under the lock: two instances creating it at once on PostgreSQL would
        // race on the catalogue.
        let mut tx = db.begin().await?;
        lock(db, &mut tx, component).await?;
        query(TABLE).execute(&mut tx).await?;
        tx.commit().await?;
    }
    let mut migrated = Migrated::default();
    for m in migrations {
        let mut tx = db.begin().await?;
        lock(db, &mut tx, component).await?;
        let recorded: Option<String> = query_scalar(
            "SELECT checksum FROM schema_migrations WHERE component = $1 AND version = $2",
        )
        .bind(component)
        .bind(m.version)
        .fetch_all(&mut tx)
        .await?
        .into_iter()
        .next();
        let expected = m.checksum();
        if let Some(recorded) = recorded {
            if recorded != expected {
                return Err(MigrateError::Changed {
                    component: component.to_string(),
                    version: m.version,
                    name: m.name.to_string(),
                    recorded,
                    expected,
                });
            }
            continue;
        }
        for step in m.steps {
            apply(db, &mut tx, step).await?;
        }
        query(
            "INSERT INTO schema_migrations (component, version, name, checksum, applied_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(component)
        .bind(m.version)
        .bind(m.name)
        .bind(expected)
        .bind(now_ms())
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        tracing::info!(
            component,
            version = m.version,
            name = m.name,
            "schema migration applied"
        );
        migrated.applied.push(m.version);
    }
    migrated.current = query_scalar::<i64>(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = $1",
    )
    .bind(component)
    .fetch_one(db)
    .await?;
    if migrated.current > after {
        tracing::warn!(
            component,
            database = migrated.current,
            code = after,
            "the database has schema migrations this release does not know (a newer release ran); continuing"
        );
    }
    Ok(migrated)
}

/// Serialises migrations of one component across instances (PostgreSQL; SQLite's `BEGIN
/// IMMEDIATE` already holds the write lock).
async fn lock(db: &Db, tx: &mut Tx<'_>, component: &str) -> Result<(), DbError> {
    if db.is_postgres() {
        // A fixed key per component.
        let key = crate::coord::advisory_key(&format!("nianbao-migrate:{component}"));
        query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(tx)
            .await?;
    }
    Ok(())
}

async fn apply(db: &Db, tx: &mut Tx<'_>, step: &Step) -> Result<(), DbError> {
    match *step {
        Step::Sql(sql) => {
            query(sql).execute(tx).await?;
        }
        Step::Engine { sqlite, postgres } => {
            let sql = if db.is_postgres() { postgres } else { sqlite };
            query(sql).execute(tx).await?;
        }
        Step::AddColumn {
            table,
            column,
            definition,
        } => {
            if db.is_postgres() {
                query(format!(
                    "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}"
                ))
                .execute(tx)
                .await?;
            } else {
                // A failed probe would be harmless on SQLite, but the catalogue says it directly.
                let n: i64 = query_scalar(format!(
                    "SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = $1"
                ))
                .bind(column)
                .fetch_one(&mut *tx)
                .await?;
                if n == 0 {
                    query(format!(
                        "ALTER TABLE {table} ADD COLUMN {column} {definition}"
                    ))
                    .execute(tx)
                    .await?;
                }
            }
        }
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: Migration = Migration {
        version: 1,
        name: "things",
        steps: &[Step::Sql(
            "CREATE TABLE IF NOT EXISTS things (id TEXT PRIMARY KEY, n BIGINT NOT NULL)",
        )],
    };
    const V2: Migration = Migration {
        version: 2,
        name: "things.label",
        steps: &[Step::AddColumn {
            table: "things",
            column: "label",
            definition: "TEXT NOT NULL DEFAULT ''",
        }],
    };

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::connect(&format!("sqlite://{}/m.db?mode=rwc", dir.path().display()))
            .await
            .unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn applies_each_migration_once_and_keeps_rows() {
        let (_dir, db) = sqlite().await;
        let m = migrate(&db, "t", &[V1]).await.unwrap();
        assert_eq!(
            m,
            Migrated {
                applied: vec![1],
                current: 1
            }
        );
        query("INSERT INTO things (id, n) VALUES ('a', 1)")
            .execute(&db)
            .await
            .unwrap();
        let m = migrate(&db, "t", &[V1, V2]).await.unwrap();
        assert_eq!(
            m,
            Migrated {
                applied: vec![2],
                current: 2
            }
        );
        let label: String = query_scalar("SELECT label FROM things WHERE id = 'a'")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(label, "");
        assert!(
            migrate(&db, "t", &[V1, V2])
                .await
                .unwrap()
                .applied
                .is_empty()
        );
        // Another component's history is its own.
        assert_eq!(migrate(&db, "u", &[]).await.unwrap().current, 0);
        // An older release (knowing only V1) still starts.
        assert_eq!(migrate(&db, "t", &[V1]).await.unwrap().current, 2);
    }

    #[tokio::test]
    async fn a_column_that_exists_is_not_added_again() {
        let (_dir, db) = sqlite().await;
        // A database of the time before migrations: the table already has the column.
        query("CREATE TABLE things (id TEXT PRIMARY KEY, n BIGINT NOT NULL, label TEXT NOT NULL DEFAULT 'x')")
            .execute(&db)
            .await
            .unwrap();
        query("INSERT INTO things (id, n, label) VALUES ('a', 1, 'kept')")
            .execute(&db)
            .await
            .unwrap();
        migrate(&db, "t", &[V1, V2]).await.unwrap();
        let label: String = query_scalar("SELECT label FROM things WHERE id = 'a'")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(label, "kept");
    }

    #[tokio::test]
    async fn an_edited_or_misnumbered_migration_is_refused() {
        let (_dir, db) = sqlite().await;
        migrate(&db, "t", &[V1]).await.unwrap();
        let edited = Migration {
            steps: &[Step::Sql("CREATE TABLE IF NOT EXISTS things (id TEXT)")],
            ..V1
        };
        let e = migrate(&db, "t", &[edited]).await.unwrap_err();
        assert!(matches!(e, MigrateError::Changed { version: 1, .. }), "{e}");
        let e = migrate(&db, "t", &[V2]).await.unwrap_err();
        assert!(
            matches!(
                e,
                MigrateError::Order {
                    found: 2,
                    after: 0,
                    ..
                }
            ),
            "{e}"
        );
    }
}
