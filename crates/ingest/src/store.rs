//! Ingest's own database: the raw bytes (content-addressed) and one row per report.
//!
//! Portable SQL only (SQLite by default, PostgreSQL by URL, both through [`nianbao_db`]): `$n`
//! placeholders each used once, BIGINT/TEXT/BLOB-or-BYTEA columns, tables created at start-up with
//! `CREATE TABLE IF NOT EXISTS`, upserts with `ON CONFLICT`. Every column is `NOT NULL` with a
//! default so that rows decode the same way on both engines.
//!
//! Status changes go through a compare-and-set on `(status, progress)`: the status follower handles
//! several events at once, and two events of one report must never overwrite each other's step.

use crate::status::{Status, StatusChange, decide};
use nianbao_db::{Db, Migration, Row, Step, query, query_scalar, sql_params, sql_rows};

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
    /// Who submitted it: the credential's id, role and holder (`nianbao_auth::Identity::describe`).
    pub submitted_by: String,
    /// The agency is the submitter's own (an agency's credential, or an operator naming it), not
    /// only what a crawler or the document says: only such a report may close an alert.
    pub agency_verified: bool,
    /// The supervising office responsible for the report's agency, as the directory resolves it
    /// ("" until the agency is known, or without a directory): decides which offices may read it.
    pub office_id: String,
    /// An earlier year's report loaded for the cross-report rules: alerts nobody (operators and
    /// crawlers only, see `SubmitReportRequest.backfill`).
    pub backfill: bool,
    /// A crawler's provenance of the bytes (0 / "" when not crawled): when it first saw the URL,
    /// the response's validators and HTTP status. Kept so that 按时发布 can be argued from evidence.
    pub first_seen_at_ms: i64,
    pub etag: String,
    pub last_modified: String,
    pub http_status: i64,
}

use nianbao_model::StoredFinding;

/// Filters of `ListReports`; `None` means "any".
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Matches the extracted agency or the agency given at submission, exactly.
    pub agency: Option<String>,
    pub region: Option<String>,
    pub year: Option<i64>,
    pub status: Option<Status>,
    /// Only reports submitted for this agency (an agency's credential reads only its own).
    pub submitted_for: Option<String>,
    /// Only reports one of these offices is responsible for (an office reads its jurisdiction).
    pub offices: Option<Vec<String>>,
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
    /// The office responsible for the extracted agency ("" → leave as is).
    pub office_id: String,
    /// The directory agency validation told (not stored: it decides `office_id`).
    pub agency_id: String,
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
    Db(#[from] nianbao_db::DbError),
    #[error("database schema: {0}")]
    Migrate(#[from] nianbao_db::MigrateError),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("database: {0}")]
    Batch(String),
    #[error("report {0}: the status kept changing under us; try again")]
    Contention(String),
}

const COLUMNS: &str = "report_id, version, file_name, agency_hint, agency, region, year, status, \
    failure_reason, findings_json, alert_ids_json, received_at_ms, updated_at_ms, source_url, \
    published_on, size, published, progress, traceparent, submitted_by, agency_verified, office_id, \
    backfill, first_seen_at_ms, etag, last_modified, http_status";

/// How many columns [`COLUMNS`] names (the placeholders of one inserted row).
const COLUMN_COUNT: usize = 27;

/// The ingest schema, in order (see [`nianbao_db::migrate`]). Migration 1 is the schema as it
/// stood when migrations were introduced, written so that it takes over a database of that time
/// (tables kept, missing columns added); later changes are new migrations, never edits.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "reports and blobs",
    steps: &[
        Step::Engine {
            sqlite: "CREATE TABLE IF NOT EXISTS blobs (
                sha256 TEXT PRIMARY KEY,
                content BLOB NOT NULL,
                size BIGINT NOT NULL
            )",
            postgres: "CREATE TABLE IF NOT EXISTS blobs (
                sha256 TEXT PRIMARY KEY,
                content BYTEA NOT NULL,
                size BIGINT NOT NULL
            )",
        },
        Step::Sql(
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
        ),
        add("submitted_by", "TEXT NOT NULL DEFAULT ''"),
        add("agency_verified", "BIGINT NOT NULL DEFAULT 0"),
        add("office_id", "TEXT NOT NULL DEFAULT ''"),
        // Backfill and the crawler's provenance (issue #22).
        add("backfill", "BIGINT NOT NULL DEFAULT 0"),
        add("first_seen_at_ms", "BIGINT NOT NULL DEFAULT 0"),
        add("etag", "TEXT NOT NULL DEFAULT ''"),
        add("last_modified", "TEXT NOT NULL DEFAULT ''"),
        add("http_status", "BIGINT NOT NULL DEFAULT 0"),
        Step::Sql(
            "CREATE INDEX IF NOT EXISTS reports_unpublished ON reports (published, received_at_ms)",
        ),
        Step::Sql("CREATE INDEX IF NOT EXISTS reports_received ON reports (received_at_ms)"),
        Step::Sql(
            "CREATE INDEX IF NOT EXISTS reports_office ON reports (office_id, received_at_ms)",
        ),
    ],
}];

const fn add(column: &'static str, definition: &'static str) -> Step {
    Step::AddColumn {
        table: "reports",
        column,
        definition,
    }
}

/// The ingest database.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
}

impl Store {
    /// The database, for the readiness probe (`SELECT 1`).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Connects and brings the schema up to date ([`MIGRATIONS`]).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let db = nianbao_db::connect(url).await?;
        nianbao_db::migrate(&db, "ingest", MIGRATIONS).await?;
        Ok(Store { db })
    }

    /// Stores several reports with their bytes (see [`crate::submit`]): one multi-row insert per
    /// table. Returns the ids of the rows that were new; the others already existed.
    pub async fn insert_many(
        &self,
        items: &[(&ReportRow, &[u8])],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        if items.is_empty() {
            return Ok(Default::default());
        }
        let mut blobs: Vec<(&str, &[u8])> = items
            .iter()
            .map(|(r, c)| (r.version.as_str(), *c))
            .collect();
        blobs.sort_unstable_by_key(|(sha, _)| *sha);
        blobs.dedup_by_key(|(sha, _)| *sha);
        let sql = format!(
            "INSERT INTO blobs (sha256, content, size) VALUES {} ON CONFLICT (sha256) DO NOTHING",
            sql_rows(blobs.len(), 3)
        );
        let mut q = query(sql);
        for (sha, content) in &blobs {
            q = q
                .bind(sha.to_string())
                .bind(content.to_vec())
                .bind(i64::try_from(content.len()).unwrap_or(i64::MAX));
        }
        q.execute(&self.db).await?;

        let sql = format!(
            "INSERT INTO reports ({COLUMNS}) VALUES {} \
             ON CONFLICT (report_id) DO NOTHING RETURNING report_id",
            sql_rows(items.len(), COLUMN_COUNT)
        );
        let mut q = query_scalar::<String>(sql);
        for (r, _) in items {
            q = q
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
                .bind(r.submitted_by.clone())
                .bind(i64::from(r.agency_verified))
                .bind(r.office_id.clone())
                .bind(i64::from(r.backfill))
                .bind(r.first_seen_at_ms)
                .bind(r.etag.clone())
                .bind(r.last_modified.clone())
                .bind(r.http_status);
        }
        Ok(q.fetch_all(&self.db).await?.into_iter().collect())
    }

    pub async fn get(&self, report_id: &str) -> Result<Option<ReportRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM reports WHERE report_id = $1");
        let row = query(sql)
            .bind(report_id.to_string())
            .fetch_optional(&self.db)
            .await?;
        row.as_ref().map(decode_row).transpose()
    }

    /// The raw bytes of a report, with its row.
    pub async fn fetch(&self, report_id: &str) -> Result<Option<(ReportRow, Vec<u8>)>, StoreError> {
        // One query: every extraction worker fetches every report.
        let cols: Vec<String> = COLUMNS
            .split(',')
            .map(|c| format!("r.{}", c.trim()))
            .collect();
        let sql = format!(
            "SELECT {}, b.content FROM reports r JOIN blobs b ON b.sha256 = r.version \
             WHERE r.report_id = $1",
            cols.join(", ")
        );
        let row = query(sql)
            .bind(report_id.to_string())
            .fetch_optional(&self.db)
            .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some((decode_row(&r)?, r.try_get("content")?))),
        }
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
        if let Some(a) = &f.submitted_for {
            conds.push(format!("agency_hint = {}", next()));
            args.push(Arg::Text(a.clone()));
        }
        if let Some(offices) = &f.offices {
            if offices.is_empty() {
                conds.push("1 = 0".to_string());
            } else {
                let ps: Vec<String> = offices.iter().map(|_| next()).collect();
                conds.push(format!("office_id IN ({})", ps.join(", ")));
                args.extend(offices.iter().map(|o| Arg::Text(o.clone())));
            }
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
        let mut count = query_scalar::<i64>(count_sql);
        for a in &args {
            count = match a {
                Arg::Text(s) => count.bind(s.clone()),
                Arg::Int(i) => count.bind(*i),
            };
        }
        let total = count.fetch_one(&self.db).await?;

        let page_sql = format!(
            "SELECT {COLUMNS} FROM reports{filter} \
             ORDER BY received_at_ms DESC, report_id LIMIT {limit_p} OFFSET {offset_p}"
        );
        let mut page = query(page_sql);
        for a in args {
            page = match a {
                Arg::Text(s) => page.bind(s),
                Arg::Int(i) => page.bind(i),
            };
        }
        let rows = page
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(&self.db)
            .await?;
        let reports = rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?;
        Ok((reports, u64::try_from(total).unwrap_or(0)))
    }

    /// Bytes stored for reports submitted for `agency` (every version), for its quota.
    pub async fn stored_bytes(&self, agency: &str) -> Result<u64, StoreError> {
        let total = query_scalar::<i64>(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM reports WHERE agency_hint = $1",
        )
        .bind(agency.to_string())
        .fetch_one(&self.db)
        .await?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// Records that the broker confirmed the report's `report.received`.
    pub async fn mark_published(&self, report_id: &str) -> Result<(), StoreError> {
        query("UPDATE reports SET published = 1 WHERE report_id = $1")
            .bind(report_id.to_string())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// [`Store::mark_published`] for several reports in one statement.
    pub async fn mark_published_many(&self, report_ids: &[String]) -> Result<(), StoreError> {
        if report_ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE reports SET published = 1 WHERE report_id IN ({})",
            sql_params(1, report_ids.len())
        );
        let mut q = query(sql);
        for id in report_ids {
            q = q.bind(id.clone());
        }
        q.execute(&self.db).await?;
        Ok(())
    }

    /// The oldest reports received at or before `received_by_ms` whose `report.received` was never
    /// confirmed.
    pub async fn unpublished(
        &self,
        limit: i64,
        received_by_ms: i64,
    ) -> Result<Vec<ReportRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM reports WHERE published = 0 AND received_at_ms <= $1 \
             ORDER BY received_at_ms, report_id LIMIT $2"
        );
        let rows = query(sql)
            .bind(received_by_ms)
            .bind(limit)
            .fetch_all(&self.db)
            .await?;
        rows.iter().map(decode_row).collect()
    }

    /// The ids of what [`Store::unpublished`] returns, without decoding the rows: the outbox reads
    /// the rows one by one through this when one of them does not decode, so that a corrupt row
    /// holds up only itself.
    pub async fn unpublished_ids(
        &self,
        limit: i64,
        received_by_ms: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(query_scalar::<String>(
            "SELECT report_id FROM reports WHERE published = 0 AND received_at_ms <= $1 \
             ORDER BY received_at_ms, report_id LIMIT $2",
        )
        .bind(received_by_ms)
        .bind(limit)
        .fetch_all(&self.db)
        .await?)
    }

    /// Takes a report out of the outbox for good (`published = -1`) and marks it failed with
    /// `reason`: its `report.received` cannot be published (the row does not decode, or the broker
    /// kept refusing it while taking the others). Written without decoding the row.
    pub async fn give_up_publishing(
        &self,
        report_id: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        query(
            "UPDATE reports SET published = -1, status = 'failed', failure_reason = $1, \
             updated_at_ms = $2 WHERE report_id = $3 AND published = 0",
        )
        .bind(reason.to_string())
        .bind(now_ms)
        .bind(report_id.to_string())
        .execute(&self.db)
        .await?;
        Ok(())
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
            let mut new = row.clone();
            let applied = merge(&mut new, version, change, data, now_ms)?;
            if !matches!(applied, Applied::Stored { .. }) {
                return Ok(applied);
            }
            let done = query(
                "UPDATE reports SET status = $1, progress = $2, failure_reason = $3, agency = $4, \
                 year = $5, findings_json = $6, alert_ids_json = $7, updated_at_ms = $8, \
                 office_id = $12 \
                 WHERE report_id = $9 AND status = $10 AND progress = $11",
            )
            .bind(new.status.as_str().to_string())
            .bind(new.progress)
            .bind(new.failure_reason)
            .bind(new.agency)
            .bind(new.year)
            .bind(new.findings_json)
            .bind(new.alert_ids_json)
            .bind(new.updated_at_ms)
            .bind(report_id.to_string())
            .bind(row.status.as_str().to_string())
            .bind(row.progress)
            .bind(new.office_id)
            .execute(&self.db)
            .await?;
            if done.rows_affected() == 1 {
                return Ok(applied);
            }
        }
        Err(StoreError::Contention(report_id.to_string()))
    }

    /// Applies many stage events at once (the status follower's batch): one read of every report
    /// concerned, the events folded in order in memory, one compare-and-set update for all changed
    /// rows. Reports whose update lost the compare-and-set (another ingest instance wrote them in
    /// between) go through [`Store::apply`] one event at a time. Returns one result per event.
    pub async fn apply_batch(
        &self,
        events: &[StatusEvent<'_>],
        now_ms: i64,
    ) -> Result<Vec<Applied>, StoreError> {
        use std::collections::HashMap;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<&str> = events.iter().map(|e| e.report_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let sql = format!(
            "SELECT {COLUMNS} FROM reports WHERE report_id IN ({})",
            sql_params(1, ids.len())
        );
        let mut q = query(sql);
        for id in &ids {
            q = q.bind(id.to_string());
        }
        let rows = q.fetch_all(&self.db).await?;
        // report id → (row as read, row after the events)
        let mut state: HashMap<String, (ReportRow, ReportRow)> = HashMap::new();
        for r in &rows {
            let row = decode_row(r)?;
            state.insert(row.report_id.clone(), (row.clone(), row));
        }
        let mut results = Vec::with_capacity(events.len());
        for e in events {
            let applied = match state.get_mut(e.report_id) {
                None => Applied::UnknownReport,
                Some((_, new)) => merge(new, e.version, e.change, e.data, now_ms)?,
            };
            results.push(applied);
        }
        let changed: Vec<&(ReportRow, ReportRow)> =
            state.values().filter(|(old, new)| old != new).collect();
        if changed.is_empty() {
            return Ok(results);
        }
        let sql = format!(
            "UPDATE reports SET status = v.column2, progress = v.column3, \
             failure_reason = v.column4, agency = v.column5, year = v.column6, \
             findings_json = v.column7, alert_ids_json = v.column8, updated_at_ms = v.column9, \
             office_id = v.column12 \
             FROM (VALUES {}) AS v \
             WHERE reports.report_id = v.column1 AND reports.status = v.column10 \
             AND reports.progress = v.column11 \
             RETURNING reports.report_id",
            sql_rows(changed.len(), 12)
        );
        let mut q = query_scalar::<String>(sql);
        for (old, new) in &changed {
            q = q
                .bind(new.report_id.clone())
                .bind(new.status.as_str().to_string())
                .bind(new.progress)
                .bind(new.failure_reason.clone())
                .bind(new.agency.clone())
                .bind(new.year)
                .bind(new.findings_json.clone())
                .bind(new.alert_ids_json.clone())
                .bind(new.updated_at_ms)
                .bind(old.status.as_str().to_string())
                .bind(old.progress)
                .bind(new.office_id.clone());
        }
        let updated: std::collections::HashSet<String> =
            q.fetch_all(&self.db).await?.into_iter().collect();
        for (old, _) in changed {
            if updated.contains(&old.report_id) {
                continue;
            }
            // Lost the compare-and-set: redo this report's events against what is stored now.
            for (e, result) in events.iter().zip(results.iter_mut()) {
                if e.report_id == old.report_id {
                    *result = self
                        .apply(e.report_id, e.version, e.change, e.data, now_ms)
                        .await?;
                }
            }
        }
        Ok(results)
    }

    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// One stage event for [`Store::apply_batch`].
#[derive(Clone, Copy, Debug)]
pub struct StatusEvent<'a> {
    pub report_id: &'a str,
    /// The event's version ("" → any).
    pub version: &'a str,
    pub change: &'a StatusChange,
    pub data: &'a EventData,
}

/// Folds one event into a row in memory: the event's data merged, the status moved if [`decide`]
/// allows it. Leaves the row untouched for an event about other bytes.
fn merge(
    row: &mut ReportRow,
    version: &str,
    change: &StatusChange,
    data: &EventData,
    now_ms: i64,
) -> Result<Applied, StoreError> {
    if !version.is_empty() && row.version != version {
        return Ok(Applied::OtherVersion);
    }
    let decision = decide(row.progress, change);
    if let Some((status, progress)) = decision {
        row.failure_reason = match change {
            StatusChange::Failed { reason, .. } => reason.clone(),
            StatusChange::Reached(_) => String::new(),
        };
        row.status = status;
        row.progress = progress;
    }
    if !data.agency.is_empty() {
        row.agency = data.agency.clone();
    }
    if data.year != 0 {
        row.year = data.year;
    }
    if !data.office_id.is_empty() {
        row.office_id = data.office_id.clone();
    }
    if let Some(f) = &data.findings {
        row.findings_json = serde_json::to_string(f)?;
    }
    if let Some(a) = &data.alert_ids {
        row.alert_ids_json = serde_json::to_string(a)?;
    }
    row.updated_at_ms = now_ms.max(row.updated_at_ms);
    Ok(Applied::Stored {
        status: row.status,
        moved: decision.is_some(),
    })
}

fn decode_row(r: &Row) -> Result<ReportRow, StoreError> {
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
        submitted_by: r.try_get("submitted_by")?,
        agency_verified: r.try_get::<i64, _>("agency_verified")? != 0,
        office_id: r.try_get("office_id")?,
        backfill: r.try_get::<i64, _>("backfill")? != 0,
        first_seen_at_ms: r.try_get("first_seen_at_ms")?,
        etag: r.try_get("etag")?,
        last_modified: r.try_get("last_modified")?,
        http_status: r.try_get("http_status")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, version: &str) -> ReportRow {
        ReportRow {
            report_id: id.into(),
            version: version.into(),
            file_name: format!("{id}.txt"),
            agency_hint: String::new(),
            agency: String::new(),
            region: "390100".into(),
            year: 0,
            status: Status::Received,
            failure_reason: String::new(),
            findings_json: "[]".into(),
            alert_ids_json: "[]".into(),
            received_at_ms: 1,
            updated_at_ms: 1,
            source_url: String::new(),
            published_on: String::new(),
            size: 3,
            published: false,
            progress: 0,
            traceparent: String::new(),
            submitted_by: "k-1 (agency)".into(),
            agency_verified: true,
            office_id: "390100".into(),
            backfill: true,
            first_seen_at_ms: 1_737_331_200_000,
            etag: "\"abc\"".into(),
            last_modified: "Mon, 20 Jan 2025 08:00:00 GMT".into(),
            http_status: 200,
        }
    }

    /// A database written before the identity columns existed opens with its rows intact, and
    /// the office filter of an office's listing applies.
    #[tokio::test]
    async fn an_older_table_gains_the_identity_columns_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/old.db?mode=rwc", dir.path().display());
        let db = nianbao_db::connect(&url).await.unwrap();
        query(
            "CREATE TABLE reports (report_id TEXT PRIMARY KEY, version TEXT NOT NULL, \
             file_name TEXT NOT NULL DEFAULT '', agency_hint TEXT NOT NULL DEFAULT '', \
             agency TEXT NOT NULL DEFAULT '', region TEXT NOT NULL DEFAULT '000000', \
             year BIGINT NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'received', \
             failure_reason TEXT NOT NULL DEFAULT '', findings_json TEXT NOT NULL DEFAULT '[]', \
             alert_ids_json TEXT NOT NULL DEFAULT '[]', received_at_ms BIGINT NOT NULL, \
             updated_at_ms BIGINT NOT NULL, source_url TEXT NOT NULL DEFAULT '', \
             published_on TEXT NOT NULL DEFAULT '', size BIGINT NOT NULL DEFAULT 0, \
             published BIGINT NOT NULL DEFAULT 0, progress BIGINT NOT NULL DEFAULT 0, \
             traceparent TEXT NOT NULL DEFAULT '')",
        )
        .execute(&db)
        .await
        .unwrap();
        query("INSERT INTO reports (report_id, version, received_at_ms, updated_at_ms) VALUES ('old', 'v', 1, 1)")
            .execute(&db)
            .await
            .unwrap();
        db.close().await;
        let store = Store::open(&url).await.unwrap();
        let old = store.get("old").await.unwrap().unwrap();
        assert_eq!((old.office_id.as_str(), old.agency_verified), ("", false));
        assert_eq!(
            (old.backfill, old.first_seen_at_ms, old.etag.as_str()),
            (false, 0, "")
        );
        let new = row("new", "v2");
        store.insert_many(&[(&new, &b"x"[..])]).await.unwrap();
        assert_eq!(store.get("new").await.unwrap().unwrap(), new);
        let list = |offices: Vec<&str>| ListFilter {
            offices: Some(offices.into_iter().map(str::to_string).collect()),
            limit: 10,
            ..ListFilter::default()
        };
        let (rows, total) = store.list(&list(vec!["390100", "390102"])).await.unwrap();
        assert_eq!((rows.len(), total), (1, 1));
        assert_eq!(rows[0].report_id, "new");
        assert_eq!(store.list(&list(vec![])).await.unwrap().1, 0);
        assert_eq!(store.stored_bytes("").await.unwrap(), 3);
    }

    async fn store_with(dir: &tempfile::TempDir, name: &str, ids: &[&str]) -> Store {
        let url = format!("sqlite://{}/{name}.db?mode=rwc", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        let rows: Vec<ReportRow> = ids.iter().map(|id| row(id, "v")).collect();
        let items: Vec<(&ReportRow, &[u8])> = rows.iter().map(|r| (r, &b"abc"[..])).collect();
        let new = store.insert_many(&items).await.unwrap();
        assert_eq!(new.len(), ids.len());
        store
    }

    #[tokio::test]
    async fn insert_many_reports_only_new_rows_and_fetch_joins_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(&dir, "s", &["a", "b"]).await;
        let (c, a) = (row("c", "v"), row("a", "v"));
        let again = store
            .insert_many(&[(&c, &b"abc"[..]), (&a, &b"abc"[..])])
            .await
            .unwrap();
        assert_eq!(again, ["c".to_string()].into_iter().collect());
        let (r, bytes) = store.fetch("c").await.unwrap().unwrap();
        assert_eq!((r.report_id.as_str(), bytes.as_slice()), ("c", &b"abc"[..]));
        assert!(store.fetch("nope").await.unwrap().is_none());
        store
            .mark_published_many(&["a".into(), "c".into()])
            .await
            .unwrap();
        let unpublished = store.unpublished(10, 1).await.unwrap();
        assert_eq!(unpublished.len(), 1);
        assert_eq!(unpublished[0].report_id, "b");
        // Received after the cut-off (its publish may still be waiting for the confirm): left.
        assert!(store.unpublished(10, 0).await.unwrap().is_empty());
    }

    /// A batch gives the same results and the same rows as the events applied one by one,
    /// including several events of one report in one batch, in any order.
    #[tokio::test]
    async fn apply_batch_equals_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let ids = ["a", "b", "c", "d"];
        let one = store_with(&dir, "one", &ids).await;
        let batched = store_with(&dir, "batched", &ids).await;
        let reached = |s| StatusChange::Reached(s);
        let failed = StatusChange::Failed {
            stage: "validation".into(),
            reason: "超时".into(),
        };
        let extracted = EventData {
            agency: "清河县财政局".into(),
            year: 2024,
            ..EventData::default()
        };
        let validated = EventData {
            findings: Some(Vec::new()),
            ..EventData::default()
        };
        let notified = EventData {
            alert_ids: Some(vec!["al-1".into()]),
            ..EventData::default()
        };
        let none = EventData::default();
        let (ext, val, notif) = (
            reached(Status::Extracted),
            reached(Status::Validated),
            reached(Status::Notified),
        );
        let events = [
            ("a", "v", &ext, &extracted),
            ("a", "v", &val, &validated),
            ("b", "v", &val, &validated), // out of order: validated before extracted
            ("b", "v", &ext, &extracted),
            ("c", "v", &ext, &extracted),
            ("c", "v", &failed, &none),
            ("a", "v", &notif, &notified),
            ("zz", "v", &ext, &extracted),    // not ours
            ("d", "other", &ext, &extracted), // other bytes
            ("a", "v", &ext, &extracted),     // a late duplicate
        ];
        let mut expected = Vec::new();
        for (id, v, change, data) in events {
            expected.push(one.apply(id, v, change, data, 10).await.unwrap());
        }
        let batch: Vec<StatusEvent<'_>> = events
            .iter()
            .map(|(id, v, change, data)| StatusEvent {
                report_id: id,
                version: v,
                change,
                data,
            })
            .collect();
        let (first, second) = batch.split_at(4);
        let mut got = batched.apply_batch(first, 10).await.unwrap();
        got.extend(batched.apply_batch(second, 10).await.unwrap());
        assert_eq!(got, expected);
        for id in ids {
            assert_eq!(
                batched.get(id).await.unwrap(),
                one.get(id).await.unwrap(),
                "report {id}"
            );
        }
        let a = batched.get("a").await.unwrap().unwrap();
        assert_eq!(
            (a.status, a.agency.as_str(), a.alert_ids_json.as_str()),
            (Status::Notified, "清河县财政局", "[\"al-1\"]")
        );
        assert_eq!(
            batched.get("c").await.unwrap().unwrap().status,
            Status::Failed
        );
    }
}
