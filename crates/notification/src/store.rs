//! The service's own database: alerts and the log of every delivery attempt.
//!
//! Portable SQL for SQLite and PostgreSQL through `sqlx::AnyPool`: `$n` placeholders each used once,
//! BIGINT/TEXT only, no NULLs (0 / '' mean "not yet"), `ON CONFLICT … DO NOTHING` for the idempotent
//! insert. The unique key `(report_id, version, office_id)` is what makes a redelivered
//! `report.validated` event harmless.

use crate::alert::{AlertRecord, FindingRecord, STATUS_ACKNOWLEDGED, STATUS_OPEN};
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyRow;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("connecting to the database: {0}")]
    Connect(#[from] nianbao_service::ServiceError),
    #[error("stored findings of alert {0} are not valid JSON: {1}")]
    Findings(String, serde_json::Error),
}

/// Outcome of one delivery attempt (the `deliveries.status` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Queued for a background sender (webhooks), attempt 0.
    Pending,
    Delivered,
    /// This attempt failed; another follows.
    Failed,
    /// The last attempt failed; no more follow. The alert stays in the inbox.
    GaveUp,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::GaveUp => "gave_up",
        }
    }
}

/// One row of `deliveries`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    pub alert_id: String,
    pub channel: String,
    pub attempt: i64,
    pub status: String,
    pub error: String,
    pub at_ms: i64,
}

/// A webhook delivery that was queued but neither delivered nor given up (the process stopped in
/// between): resumed at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingDelivery {
    pub alert_id: String,
    pub channel: String,
    pub last_attempt: i64,
}

/// Filters of `ListAlerts`.
#[derive(Clone, Debug, Default)]
pub struct AlertQuery {
    pub office_id: Option<String>,
    pub status: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

const ALERT_COLUMNS: &str = "alert_id, office_id, office_name, report_id, version, agency, year, \
     region, status, kind, findings_json, message, route_note, created_at_ms, acknowledged_at_ms, \
     acknowledged_by";

impl Store {
    /// The connection pool, for the readiness probe (`SELECT 1`).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Connects and creates the tables if they are missing.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let pool = nianbao_service::connect_db(url).await?;
        let store = Store { pool };
        store.create_tables().await?;
        Ok(store)
    }

    async fn create_tables(&self) -> Result<(), StoreError> {
        for sql in [
            "CREATE TABLE IF NOT EXISTS alerts (
                alert_id TEXT PRIMARY KEY,
                office_id TEXT NOT NULL,
                office_name TEXT NOT NULL,
                report_id TEXT NOT NULL,
                version TEXT NOT NULL,
                agency TEXT NOT NULL,
                year BIGINT NOT NULL,
                region TEXT NOT NULL,
                status TEXT NOT NULL,
                kind TEXT NOT NULL,
                findings_json TEXT NOT NULL,
                message TEXT NOT NULL,
                route_note TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                acknowledged_at_ms BIGINT NOT NULL DEFAULT 0,
                acknowledged_by TEXT NOT NULL DEFAULT '',
                UNIQUE (report_id, version, office_id)
            )",
            "CREATE INDEX IF NOT EXISTS alerts_office_created ON alerts (office_id, created_at_ms)",
            "CREATE INDEX IF NOT EXISTS alerts_created ON alerts (created_at_ms)",
            "CREATE TABLE IF NOT EXISTS deliveries (
                alert_id TEXT NOT NULL,
                channel TEXT NOT NULL,
                attempt BIGINT NOT NULL,
                status TEXT NOT NULL,
                error TEXT NOT NULL,
                at_ms BIGINT NOT NULL
            )",
            "CREATE INDEX IF NOT EXISTS deliveries_alert ON deliveries (alert_id, channel)",
        ] {
            sqlx::query(sql).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Inserts the alert unless one exists for its (report, version, office). `true` if it is new.
    pub async fn insert_alert(&self, a: &AlertRecord) -> Result<bool, StoreError> {
        let findings = serde_json::to_string(&a.findings)
            .map_err(|e| StoreError::Findings(a.alert_id.clone(), e))?;
        let r = sqlx::query(
            "INSERT INTO alerts (alert_id, office_id, office_name, report_id, version, agency, year, \
             region, status, kind, findings_json, message, route_note, created_at_ms, \
             acknowledged_at_ms, acknowledged_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT (report_id, version, office_id) DO NOTHING",
        )
        .bind(a.alert_id.clone())
        .bind(a.office_id.clone())
        .bind(a.office_name.clone())
        .bind(a.report_id.clone())
        .bind(a.version.clone())
        .bind(a.agency.clone())
        .bind(i64::from(a.year))
        .bind(a.region.clone())
        .bind(a.status.clone())
        .bind(a.kind.clone())
        .bind(findings)
        .bind(a.message.clone())
        .bind(a.route_note.clone())
        .bind(a.created_at_ms)
        .bind(a.acknowledged_at_ms)
        .bind(a.acknowledged_by.clone())
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The alert for a (report, version, office), whoever created it.
    pub async fn find_alert(
        &self,
        report_id: &str,
        version: &str,
        office_id: &str,
    ) -> Result<Option<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE report_id = $1 AND version = $2 AND office_id = $3"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(report_id.to_string())
            .bind(version.to_string())
            .bind(office_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| alert_from_row(&r)).transpose()
    }

    pub async fn get_alert(&self, alert_id: &str) -> Result<Option<AlertRecord>, StoreError> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(alert_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| alert_from_row(&r)).transpose()
    }

    /// A page of alerts, newest first, and the total matching the filters.
    pub async fn list_alerts(&self, q: &AlertQuery) -> Result<(Vec<AlertRecord>, u64), StoreError> {
        let mut conds = Vec::new();
        let mut args = Vec::new();
        if let Some(o) = &q.office_id {
            args.push(o.clone());
            conds.push(format!("office_id = ${}", args.len()));
        }
        if let Some(s) = &q.status {
            args.push(s.clone());
            conds.push(format!("status = ${}", args.len()));
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM alerts{filter}");
        let mut count = sqlx::query(sqlx::AssertSqlSafe(count_sql));
        for a in &args {
            count = count.bind(a.clone());
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get(0)?;
        let n = args.len();
        let page_sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts{filter} \
             ORDER BY created_at_ms DESC, alert_id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut page = sqlx::query(sqlx::AssertSqlSafe(page_sql));
        for a in &args {
            page = page.bind(a.clone());
        }
        let rows = page
            .bind(i64::from(q.limit))
            .bind(i64::from(q.offset))
            .fetch_all(&self.pool)
            .await?;
        let alerts = rows
            .iter()
            .map(alert_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((alerts, u64::try_from(total).unwrap_or(0)))
    }

    /// Open alerts (of one office, or all), oldest first: what a stream sends before new ones.
    pub async fn open_alerts(
        &self,
        office_id: Option<&str>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let rows = match office_id {
            Some(o) => {
                let sql = format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE status = $1 AND office_id = $2 \
                     ORDER BY created_at_ms, alert_id"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(STATUS_OPEN)
                    .bind(o.to_string())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE status = $1 ORDER BY created_at_ms, alert_id"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(STATUS_OPEN)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(alert_from_row).collect()
    }

    /// Marks an open alert acknowledged by `by` at `at_ms`. An alert acknowledged before keeps its
    /// first acknowledgement (idempotent). `None` if there is no such alert.
    pub async fn acknowledge(
        &self,
        alert_id: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<Option<AlertRecord>, StoreError> {
        sqlx::query(
            "UPDATE alerts SET status = $1, acknowledged_at_ms = $2, acknowledged_by = $3 \
             WHERE alert_id = $4 AND status = $5",
        )
        .bind(STATUS_ACKNOWLEDGED)
        .bind(at_ms)
        .bind(by.to_string())
        .bind(alert_id.to_string())
        .bind(STATUS_OPEN)
        .execute(&self.pool)
        .await?;
        self.get_alert(alert_id).await
    }

    pub async fn record_delivery(
        &self,
        alert_id: &str,
        channel: &str,
        attempt: i64,
        status: DeliveryStatus,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO deliveries (alert_id, channel, attempt, status, error, at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(alert_id.to_string())
        .bind(channel.to_string())
        .bind(attempt)
        .bind(status.as_str())
        .bind(error.to_string())
        .bind(nianbao_service::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every delivery attempt of an alert, by channel then attempt.
    pub async fn deliveries(&self, alert_id: &str) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT alert_id, channel, attempt, status, error, at_ms FROM deliveries \
             WHERE alert_id = $1 ORDER BY channel, attempt, at_ms",
        )
        .bind(alert_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRow {
                    alert_id: r.try_get(0)?,
                    channel: r.try_get(1)?,
                    attempt: r.try_get(2)?,
                    status: r.try_get(3)?,
                    error: r.try_get(4)?,
                    at_ms: r.try_get(5)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Webhook deliveries queued but neither delivered nor given up.
    pub async fn pending_webhooks(&self) -> Result<Vec<PendingDelivery>, StoreError> {
        let rows = sqlx::query(
            "SELECT alert_id, channel, MAX(attempt) FROM deliveries WHERE channel LIKE $1 \
             GROUP BY alert_id, channel \
             HAVING SUM(CASE WHEN status = $2 OR status = $3 THEN 1 ELSE 0 END) = 0",
        )
        .bind("webhook:%")
        .bind(DeliveryStatus::Delivered.as_str())
        .bind(DeliveryStatus::GaveUp.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingDelivery {
                    alert_id: r.try_get(0)?,
                    channel: r.try_get(1)?,
                    last_attempt: r.try_get(2)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn alert_from_row(r: &AnyRow) -> Result<AlertRecord, StoreError> {
    let alert_id: String = r.try_get(0)?;
    let findings_json: String = r.try_get(10)?;
    let findings: Vec<FindingRecord> = serde_json::from_str(&findings_json)
        .map_err(|e| StoreError::Findings(alert_id.clone(), e))?;
    let year: i64 = r.try_get(6)?;
    Ok(AlertRecord {
        alert_id,
        office_id: r.try_get(1)?,
        office_name: r.try_get(2)?,
        report_id: r.try_get(3)?,
        version: r.try_get(4)?,
        agency: r.try_get(5)?,
        year: i32::try_from(year).unwrap_or(0),
        region: r.try_get(7)?,
        status: r.try_get(8)?,
        kind: r.try_get(9)?,
        findings,
        message: r.try_get(11)?,
        route_note: r.try_get(12)?,
        created_at_ms: r.try_get(13)?,
        acknowledged_at_ms: r.try_get(14)?,
        acknowledged_by: r.try_get(15)?,
    })
}
