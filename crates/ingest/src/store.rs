//! Ingest's own database: the raw bytes (content-addressed) and one row per report.
//!
//! Portable SQL only (SQLite by default, PostgreSQL by URL, both through `sqlx::AnyPool`): `$n`
//! placeholders each used once, BIGINT/TEXT/BLOB-or-BYTEA columns, tables created at start-up with
//! `CREATE TABLE IF NOT EXISTS`, upserts with `ON CONFLICT`. Every column is `NOT NULL` with a
//! default so that rows decode the same way on both engines.
//!
//! Status changes go through a compare-and-set on `(status, progress)`: the status follower handles
//! several events at once, and two events of one report must never overwrite each other's step.

use crate::status::{Status, StatusChange, decide};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, AssertSqlSafe, Row};

/// Everything known about one report (one row of `reports`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    pub report_id: String,
    /// sha256 of the raw bytes (hex): also the key of the bytes in `blobs`.
    pub version: String,
    pub file_name: String,
    /// The agency named at submission ("" if none): part of the report id.
    pub agency_hint: String,
    /// The agency as extracted ("" until then).
    pub agency: String,
    pub region: String,
    /// 0 while unknown.
    pub year: i64,
    pub status: Status,
    pub failure_reason: String,
    /// JSON array of [`StoredFinding`].
    pub findings_json: String,
    /// JSON array of alert ids.
    pub alert_ids_json: String,
    pub received_at_ms: i64,
    pub updated_at_ms: i64,
    pub source_url: String,
    pub published_on: String,
    pub size: i64,
    /// Whether the broker confirmed `report.received` (the outbox flag).
    pub published: bool,
    /// Rank of the furthest successful stage (see [`Status::rank`]); kept apart from `status` so
    /// that a failure does not forget how far the report got.
    pub progress: i64,
    /// W3C trace context of the submission, carried by every event of the report.
    pub traceparent: String,
}

pub use nianbao_proto::StoredFinding;

/// Filters of `ListReports`; `None` means "any".
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Matches the extracted agency or the agency given at submission, exactly.
    pub agency: Option<String>,
    pub region: Option<String>,
    pub year: Option<i64>,
    pub status: Option<Status>,
    pub limit: i64,
    pub offset: i64,
}

/// What a status event carries besides the status itself.
#[derive(Clone, Debug, Default)]
pub struct EventData {
    /// Extracted agency ("" → leave as is).
    pub agency: String,
    /// Extracted year (0 → leave as is).
    pub year: i64,
    /// Findings of the validation (only `ReportValidated` sets them).
    pub findings: Option<Vec<StoredFinding>>,
    /// Alert ids (only `ReportNotified` sets them).
    pub alert_ids: Option<Vec<String>>,
}

/// What applying a status event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// No such report here (an event of another ingest): ignore it.
    UnknownReport,
    /// The event is about other bytes than the stored ones: ignore it.
    OtherVersion,
    /// Stored; `moved` says whether the status changed (else only the data was merged).
    Stored { status: Status, moved: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database: {0}")]
    Service(#[from] nianbao_service::ServiceError),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("report {0}: the status kept changing under us; try again")]
    Contention(String),
}

const COLUMNS: &str = "report_id, version, file_name, agency_hint, agency, region, year, status, \
    failure_reason, findings_json, alert_ids_json, received_at_ms, updated_at_ms, source_url, \
    published_on, size, published, progress, traceparent";

/// The ingest database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    /// The connection pool, for the readiness probe (`SELECT 1`).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Connects and creates the tables if they do not exist yet.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let pool = nianbao_service::connect_db(url).await?;
        let blob = if nianbao_service::is_postgres(url) {
            "BYTEA"
        } else {
            "BLOB"
        };
        let blobs = format!(
            "CREATE TABLE IF NOT EXISTS blobs (
                sha256 TEXT PRIMARY KEY,
                content {blob} NOT NULL,
                size BIGINT NOT NULL
            )"
        );
        sqlx::query(AssertSqlSafe(blobs)).execute(&pool).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS reports (
                report_id TEXT PRIMARY KEY,
                version TEXT NOT NULL,
                file_name TEXT NOT NULL DEFAULT '',
                agency_hint TEXT NOT NULL DEFAULT '',
                agency TEXT NOT NULL DEFAULT '',
                region TEXT NOT NULL DEFAULT '000000',
                year BIGINT NOT NULL DEFAULT 0,
                status TEXT NOT NULL DEFAULT 'received',
                failure_reason TEXT NOT NULL DEFAULT '',
                findings_json TEXT NOT NULL DEFAULT '[]',
                alert_ids_json TEXT NOT NULL DEFAULT '[]',
                received_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                source_url TEXT NOT NULL DEFAULT '',
                published_on TEXT NOT NULL DEFAULT '',
                size BIGINT NOT NULL DEFAULT 0,
                published BIGINT NOT NULL DEFAULT 0,
                progress BIGINT NOT NULL DEFAULT 0,
                traceparent TEXT NOT NULL DEFAULT ''
            )",
        )
        .execute(&pool)
        .await?;
        for index in [
            "CREATE INDEX IF NOT EXISTS reports_unpublished ON reports (published, received_at_ms)",
            "CREATE INDEX IF NOT EXISTS reports_received ON reports (received_at_ms)",
        ] {
            sqlx::query(index).execute(&pool).await?;
        }
        Ok(Store { pool })
    }

    /// Stores the bytes under their hash; the same bytes twice are stored once.
    pub async fn put_blob(&self, sha256: &str, content: &[u8]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO blobs (sha256, content, size) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256.to_string())
        .bind(content.to_vec())
        .bind(i64::try_from(content.len()).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Inserts a new report row; `false` if a row with that id already exists (a re-submission).
    pub async fn insert_report(&self, r: &ReportRow) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO reports ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
             ON CONFLICT (report_id) DO NOTHING"
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(r.report_id.clone())
            .bind(r.version.clone())
            .bind(r.file_name.clone())
            .bind(r.agency_hint.clone())
            .bind(r.agency.clone())
            .bind(r.region.clone())
            .bind(r.year)
            .bind(r.status.as_str().to_string())
            .bind(r.failure_reason.clone())
            .bind(r.findings_json.clone())
            .bind(r.alert_ids_json.clone())
            .bind(r.received_at_ms)
            .bind(r.updated_at_ms)
            .bind(r.source_url.clone())
            .bind(r.published_on.clone())
            .bind(r.size)
            .bind(i64::from(r.published))
            .bind(r.progress)
            .bind(r.traceparent.clone())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn get(&self, report_id: &str) -> Result<Option<ReportRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM reports WHERE report_id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(report_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode_row).transpose()
    }

    /// The raw bytes of a report, with its row.
    pub async fn fetch(&self, report_id: &str) -> Result<Option<(ReportRow, Vec<u8>)>, StoreError> {
        let Some(row) = self.get(report_id).await? else {
            return Ok(None);
        };
        let content: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT content FROM blobs WHERE sha256 = $1")
                .bind(row.version.clone())
                .fetch_optional(&self.pool)
                .await?;
        Ok(content.map(|c| (row, c)))
    }

    /// One page of reports matching `f`, newest first, and how many match in all.
    pub async fn list(&self, f: &ListFilter) -> Result<(Vec<ReportRow>, u64), StoreError> {
        enum Arg {
            Text(String),
            Int(i64),
        }
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if let Some(a) = &f.agency {
            conds.push(format!("(agency = {} OR agency_hint = {})", next(), next()));
            args.push(Arg::Text(a.clone()));
            args.push(Arg::Text(a.clone()));
        }
        if let Some(r) = &f.region {
            conds.push(format!("region = {}", next()));
            args.push(Arg::Text(r.clone()));
        }
        if let Some(y) = f.year {
            conds.push(format!("year = {}", next()));
            args.push(Arg::Int(y));
        }
        if let Some(s) = f.status {
            conds.push(format!("status = {}", next()));
            args.push(Arg::Text(s.as_str().to_string()));
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let (limit_p, offset_p) = (next(), next());

        let count_sql = format!("SELECT COUNT(*) FROM reports{filter}");
        let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql));
        for a in &args {
            count = match a {
                Arg::Text(s) => count.bind(s.clone()),
                Arg::Int(i) => count.bind(*i),
            };
        }
        let total = count.fetch_one(&self.pool).await?;

        let page_sql = format!(
            "SELECT {COLUMNS} FROM reports{filter} \
             ORDER BY received_at_ms DESC, report_id LIMIT {limit_p} OFFSET {offset_p}"
        );
        let mut page = sqlx::query(AssertSqlSafe(page_sql));
        for a in args {
            page = match a {
                Arg::Text(s) => page.bind(s),
                Arg::Int(i) => page.bind(i),
            };
        }
        let rows = page
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(&self.pool)
            .await?;
        let reports = rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?;
        Ok((reports, u64::try_from(total).unwrap_or(0)))
    }

    /// Records that the broker confirmed the report's `report.received`.
    pub async fn mark_published(&self, report_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE reports SET published = 1 WHERE report_id = $1")
            .bind(report_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The oldest reports whose `report.received` was never confirmed.
    pub async fn unpublished(&self, limit: i64) -> Result<Vec<ReportRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM reports WHERE published = 0 \
             ORDER BY received_at_ms, report_id LIMIT $1"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// Applies one stage event to its report: merges the event's data, and moves the status if
    /// [`decide`] allows it. Retries the compare-and-set a few times when another event of the same
    /// report was stored in between.
    pub async fn apply(
        &self,
        report_id: &str,
        version: &str,
        change: &StatusChange,
        data: &EventData,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        for _ in 0..8 {
            let Some(row) = self.get(report_id).await? else {
                return Ok(Applied::UnknownReport);
            };
            if !version.is_empty() && row.version != version {
                return Ok(Applied::OtherVersion);
            }
            let decision = decide(row.progress, change);
            let (status, progress, reason) = match &decision {
                Some((s, p)) => {
                    let reason = match change {
                        StatusChange::Failed { reason, .. } => reason.clone(),
                        StatusChange::Reached(_) => String::new(),
                    };
                    (*s, *p, reason)
                }
                None => (row.status, row.progress, row.failure_reason.clone()),
            };
            let agency = if data.agency.is_empty() {
                row.agency.clone()
            } else {
                data.agency.clone()
            };
            let year = if data.year == 0 { row.year } else { data.year };
            let findings_json = match &data.findings {
                Some(f) => serde_json::to_string(f)?,
                None => row.findings_json.clone(),
            };
            let alert_ids_json = match &data.alert_ids {
                Some(a) => serde_json::to_string(a)?,
                None => row.alert_ids_json.clone(),
            };
            let done = sqlx::query(
                "UPDATE reports SET status = $1, progress = $2, failure_reason = $3, agency = $4, \
                 year = $5, findings_json = $6, alert_ids_json = $7, updated_at_ms = $8 \
                 WHERE report_id = $9 AND status = $10 AND progress = $11",
            )
            .bind(status.as_str().to_string())
            .bind(progress)
            .bind(reason)
            .bind(agency)
            .bind(year)
            .bind(findings_json)
            .bind(alert_ids_json)
            .bind(now_ms.max(row.updated_at_ms))
            .bind(report_id.to_string())
            .bind(row.status.as_str().to_string())
            .bind(row.progress)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 1 {
                return Ok(Applied::Stored {
                    status,
                    moved: decision.is_some(),
                });
            }
        }
        Err(StoreError::Contention(report_id.to_string()))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn decode_row(r: &AnyRow) -> Result<ReportRow, StoreError> {
    let status: String = r.try_get("status")?;
    Ok(ReportRow {
        report_id: r.try_get("report_id")?,
        version: r.try_get("version")?,
        file_name: r.try_get("file_name")?,
        agency_hint: r.try_get("agency_hint")?,
        agency: r.try_get("agency")?,
        region: r.try_get("region")?,
        year: r.try_get("year")?,
        // A status this build does not know cannot be written by it; treat it as the start.
        status: status.parse().unwrap_or(Status::Received),
        failure_reason: r.try_get("failure_reason")?,
        findings_json: r.try_get("findings_json")?,
        alert_ids_json: r.try_get("alert_ids_json")?,
        received_at_ms: r.try_get("received_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        source_url: r.try_get("source_url")?,
        published_on: r.try_get("published_on")?,
        size: r.try_get("size")?,
        published: r.try_get::<i64, _>("published")? != 0,
        progress: r.try_get("progress")?,
        traceparent: r.try_get("traceparent")?,
    })
}
