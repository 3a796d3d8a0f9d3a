//! The service's own database: alerts, the notices delivered for them (an alert, or an office's
//! digest), the log of every delivery attempt, and the reports that arrived (for the roster).
//!
//! Portable SQL for SQLite and PostgreSQL through [`nianbao_db`]: `$n` placeholders each used once,
//! BIGINT/TEXT only, no NULLs (0 / '' mean "not yet"), `ON CONFLICT … DO NOTHING` for the idempotent
//! inserts. Alert ids are derived from what makes an alert unique (report, version, office, kind —
//! see `AlertRecord::id_for`), so the primary key is what makes a redelivered `report.validated`
//! event harmless. State changes that must happen once (escalation, resolution) are conditional
//! updates whose affected-row count says who won.

use crate::alert::{
    AlertRecord, DIGEST_PENDING, STATUS_ACKNOWLEDGED, STATUS_OPEN, STATUS_RESOLVED,
};
use crate::render::Notice;
use nianbao_db::{
    Db, Migration, Query, Row, Step, query, rows_per_statement, sql_params, sql_rows,
};
use nianbao_model::StoredFinding;
use std::collections::{HashMap, HashSet};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] nianbao_db::DbError),
    #[error("database schema: {0}")]
    Migrate(#[from] nianbao_db::MigrateError),
    #[error("stored findings of alert {0} are not valid JSON: {1}")]
    Findings(String, serde_json::Error),
    #[error("stored notice {0} is not valid JSON: {1}")]
    Notice(String, serde_json::Error),
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
    /// The notice delivered: an alert's id, a digest's (`dg-…`), a reassignment's (`ra-…`) or an
    /// agency notice's (`ag-…`).
    pub notice_id: String,
    pub channel: String,
    pub attempt: i64,
    pub status: String,
    pub error: String,
    pub at_ms: i64,
}

/// A remote delivery that was queued but neither delivered nor given up (the process stopped in
/// between): resumed at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingDelivery {
    pub notice_id: String,
    pub channel: String,
    pub last_attempt: i64,
}

/// Filters of `ListAlerts`.
#[derive(Clone, Debug, Default)]
pub struct AlertQuery {
    pub office_id: Option<String>,
    /// Only alerts of these offices (a caller's jurisdiction); `None`: any office.
    pub offices: Option<Vec<String>>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// One record of the acknowledgement audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AckAudit {
    pub alert_id: String,
    /// The credential holder's name (what the alert's `acknowledged_by` shows).
    pub by_name: String,
    pub credential_id: String,
    /// The caller as `nianbao_auth::Identity::describe` writes it.
    pub caller: String,
    /// The caller's address.
    pub peer: String,
    pub note: String,
    /// `acknowledged`, `already-acknowledged`, `denied`.
    pub outcome: String,
    pub at_ms: i64,
}

/// A first arrival of a report, for [`Store::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub report_key: String,
    pub agency: String,
    pub year: i32,
    pub report_id: String,
    pub at_ms: i64,
}

/// The writes of a batch of decisions ([`Store::apply`]).
#[derive(Clone, Debug, Default)]
pub struct Changes<'a> {
    pub arrivals: &'a [Arrival],
    pub alerts: &'a [AlertRecord],
    /// Alert ids to resolve (with their escalations), after the inserts.
    pub resolved: &'a [String],
    pub resolved_at_ms: i64,
}

/// What [`Store::apply`] changed.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Arrivals recorded (the others had arrived before).
    pub arrivals: u64,
    /// Ids of the alerts created.
    pub created: HashSet<String>,
    /// Ids of the alerts this call resolved (the others were resolved already).
    pub resolved: HashSet<String>,
}

#[derive(Clone)]
pub struct Store {
    db: Db,
}

const ALERT_COLUMN_COUNT: usize = 23;
const ALERT_COLUMNS: &str = "alert_id, office_id, office_name, report_id, version, agency, year, \
     region, status, kind, findings_json, message, route_note, created_at_ms, acknowledged_at_ms, \
     acknowledged_by, report_key, fingerprint, has_error, escalated_at_ms, resolved_at_ms, \
     source_alert_id, digest_state";

/// Health of one channel, from its delivery log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelHealth {
    pub channel: String,
    pub delivered: u64,
    pub failed: u64,
    pub gave_up: u64,
    pub pending: u64,
    pub consecutive_failures: u64,
    pub last_error: String,
    pub last_delivered_ms: i64,
    pub last_failed_ms: i64,
}

/// The notification schema, in order (see [`nianbao_db::migrate`]). Migration 1 is the schema as
/// it stood when migrations were introduced, idempotent so that it takes over a database of that
/// time; later changes are new migrations, never edits.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "alerts, notices, arrivals, deliveries, acknowledgements",
        steps: &[
            Step::Sql(
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
                report_key TEXT NOT NULL DEFAULT '',
                fingerprint TEXT NOT NULL DEFAULT '',
                has_error BIGINT NOT NULL DEFAULT 0,
                escalated_at_ms BIGINT NOT NULL DEFAULT 0,
                resolved_at_ms BIGINT NOT NULL DEFAULT 0,
                source_alert_id TEXT NOT NULL DEFAULT '',
                digest_state TEXT NOT NULL DEFAULT ''
            )",
            ),
            Step::Sql(
                "CREATE INDEX IF NOT EXISTS alerts_office_created ON alerts (office_id, created_at_ms)",
            ),
            Step::Sql("CREATE INDEX IF NOT EXISTS alerts_created ON alerts (created_at_ms)"),
            Step::Sql(
                "CREATE INDEX IF NOT EXISTS alerts_report_key ON alerts (report_key, office_id)",
            ),
            Step::Sql("CREATE INDEX IF NOT EXISTS alerts_status ON alerts (status, has_error)"),
            Step::Sql("CREATE INDEX IF NOT EXISTS alerts_digest ON alerts (digest_state)"),
            // Resolving an alert resolves its escalations (`resolve`, `apply`).
            Step::Sql("CREATE INDEX IF NOT EXISTS alerts_source ON alerts (source_alert_id)"),
            Step::Sql(
                "CREATE TABLE IF NOT EXISTS notices (
                notice_id TEXT PRIMARY KEY,
                office_id TEXT NOT NULL,
                notice_json TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL
            )",
            ),
            Step::Sql(
                "CREATE TABLE IF NOT EXISTS arrivals (
                report_key TEXT PRIMARY KEY,
                agency TEXT NOT NULL,
                year BIGINT NOT NULL,
                report_id TEXT NOT NULL,
                arrived_at_ms BIGINT NOT NULL
            )",
            ),
            Step::Sql(
                "CREATE TABLE IF NOT EXISTS deliveries (
                alert_id TEXT NOT NULL,
                channel TEXT NOT NULL,
                attempt BIGINT NOT NULL,
                status TEXT NOT NULL,
                error TEXT NOT NULL,
                at_ms BIGINT NOT NULL
            )",
            ),
            Step::Sql(
                "CREATE INDEX IF NOT EXISTS deliveries_alert ON deliveries (alert_id, channel)",
            ),
            // Every acknowledgement asked for, granted or not: who (from the credential, never
            // from the request), when, from where, with the note.
            Step::Sql(
                "CREATE TABLE IF NOT EXISTS acknowledgements (
                alert_id TEXT NOT NULL,
                by_name TEXT NOT NULL,
                credential_id TEXT NOT NULL,
                caller TEXT NOT NULL,
                peer TEXT NOT NULL,
                note TEXT NOT NULL,
                outcome TEXT NOT NULL,
                at_ms BIGINT NOT NULL
            )",
            ),
            Step::Sql(
                "CREATE INDEX IF NOT EXISTS acknowledgements_alert ON acknowledgements (alert_id, at_ms)",
            ),
        ],
    },
    Migration {
        version: 2,
        name: "deliveries.notice_id; alerts reassigned, 整改期限, agency notices; alert_actions",
        steps: &[
            // The column always held notice ids (an alert's, a digest's), not alert ids.
            Step::Sql("ALTER TABLE deliveries RENAME COLUMN alert_id TO notice_id"),
            Step::Sql("DROP INDEX IF EXISTS deliveries_alert"),
            Step::Sql(
                "CREATE INDEX IF NOT EXISTS deliveries_notice ON deliveries (notice_id, channel)",
            ),
            // The office now responsible for an alert ('' : the office it was routed to).
            Step::AddColumn {
                table: "alerts",
                column: "assigned_office_id",
                definition: "TEXT NOT NULL DEFAULT ''",
            },
            Step::AddColumn {
                table: "alerts",
                column: "assigned_office_name",
                definition: "TEXT NOT NULL DEFAULT ''",
            },
            // 整改期限 set by the clerk, YYYY-MM-DD ('' : none).
            Step::AddColumn {
                table: "alerts",
                column: "rectify_by",
                definition: "TEXT NOT NULL DEFAULT ''",
            },
            // When the alert's notice last went to the agency itself (0 : never).
            Step::AddColumn {
                table: "alerts",
                column: "agency_notified_at_ms",
                definition: "BIGINT NOT NULL DEFAULT 0",
            },
            Step::Sql(
                "CREATE INDEX IF NOT EXISTS alerts_assigned ON alerts (assigned_office_id, created_at_ms)",
            ),
            // Every reassignment, 整改期限 change and notice to the agency asked for, granted or not:
            // who (from the credential), when, from where, what.
            Step::Sql(
                "CREATE TABLE IF NOT EXISTS alert_actions (
                alert_id TEXT NOT NULL,
                action TEXT NOT NULL,
                by_name TEXT NOT NULL,
                credential_id TEXT NOT NULL,
                caller TEXT NOT NULL,
                peer TEXT NOT NULL,
                detail TEXT NOT NULL,
                outcome TEXT NOT NULL,
                at_ms BIGINT NOT NULL
            )",
            ),
            Step::Sql(
                "CREATE INDEX IF NOT EXISTS alert_actions_alert ON alert_actions (alert_id, at_ms)",
            ),
        ],
    },
    Migration {
        version: 3,
        name: "alerts.rectify_reminded_for: the 整改期限 whose passing was announced",
        steps: &[
            // The 整改期限 (YYYY-MM-DD) the office was reminded of when it passed ('' : none): a
            // new deadline set later is reminded of again.
            Step::AddColumn {
                table: "alerts",
                column: "rectify_reminded_for",
                definition: "TEXT NOT NULL DEFAULT ''",
            },
        ],
    },
];

/// The office an alert is with now: the one it was reassigned to, else the one it was routed to.
const CURRENT_OFFICE: &str =
    "(CASE WHEN assigned_office_id = '' THEN office_id ELSE assigned_office_id END)";

/// What the clerks did to an alert beyond acknowledging it ([`Store::work_of`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertWork {
    /// The office it was reassigned to ('' : not reassigned).
    pub assigned_office_id: String,
    pub assigned_office_name: String,
    /// 整改期限, YYYY-MM-DD ('' : none).
    pub rectify_by: String,
    /// When its notice last went to the agency (0 : never).
    pub agency_notified_at_ms: i64,
    /// Its actions, oldest first.
    pub actions: Vec<AlertAction>,
}

/// Actions of [`AlertAction::action`].
pub const ACTION_REASSIGN: &str = "reassign";
pub const ACTION_RECTIFY_BY: &str = "rectify-by";
pub const ACTION_NOTIFY_AGENCY: &str = "notify-agency";

/// One record of the audit trail of reassignments, 整改期限 and notices to agencies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertAction {
    pub alert_id: String,
    /// [`ACTION_REASSIGN`], [`ACTION_RECTIFY_BY`], [`ACTION_NOTIFY_AGENCY`].
    pub action: String,
    /// The credential holder's name.
    pub by_name: String,
    pub credential_id: String,
    /// The caller as `nianbao_auth::Identity::describe` writes it.
    pub caller: String,
    /// The caller's address (and the browser's, when the console forwards it).
    pub peer: String,
    /// What was done: `390202 → 390203：note`, the date, the channels.
    pub detail: String,
    /// `done`, `denied`, `failed`.
    pub outcome: String,
    pub at_ms: i64,
}

impl Store {
    /// The database, for the readiness probe (`SELECT 1`).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Connects and creates the tables if they are missing.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let db = nianbao_db::connect(url).await?;
        let store = Store { db };
        store.create_tables().await?;
        Ok(store)
    }

    async fn create_tables(&self) -> Result<(), StoreError> {
        nianbao_db::migrate(&self.db, "notification", MIGRATIONS).await?;
        Ok(())
    }

    /// Inserts the alert unless one exists for its (report, version, office). `true` if it is new.
    pub async fn insert_alert(&self, a: &AlertRecord) -> Result<bool, StoreError> {
        let created = self
            .apply(&Changes {
                alerts: std::slice::from_ref(a),
                ..Changes::default()
            })
            .await?;
        Ok(created.created.contains(&a.alert_id))
    }

    /// The alerts with these ids that exist.
    pub async fn alerts_by_ids(&self, ids: &[String]) -> Result<Vec<AlertRecord>, StoreError> {
        self.alerts_in("alert_id", ids, false).await
    }

    /// Every alert about these reports (`report_key`s) that is not resolved: what
    /// [`Store::current_alert`] chooses from, for a batch at once.
    pub async fn unresolved_of_keys(
        &self,
        report_keys: &[String],
    ) -> Result<Vec<AlertRecord>, StoreError> {
        self.alerts_in("report_key", report_keys, true).await
    }

    /// The alerts whose `column` is one of `values` (and that are not resolved, if asked), with
    /// one query per chunk of values.
    async fn alerts_in(
        &self,
        column: &'static str,
        values: &[String],
        unresolved: bool,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let mut out = Vec::new();
        for chunk in values.chunks(rows_per_statement(1) - 1) {
            let mut sql = format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE {column} IN ({})",
                sql_params(1, chunk.len())
            );
            if unresolved {
                sql.push_str(&format!(" AND status <> ${}", chunk.len() + 1));
            }
            let mut q = query(sql);
            for v in chunk {
                q = q.bind(v.clone());
            }
            if unresolved {
                q = q.bind(STATUS_RESOLVED);
            }
            for r in q.fetch_all(&self.db).await? {
                out.push(alert_from_row(&r)?);
            }
        }
        Ok(out)
    }

    /// The first arrivals recorded for these reports (`report_key` → Unix ms).
    pub async fn arrivals_of(
        &self,
        report_keys: &[String],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut out = HashMap::new();
        for chunk in report_keys.chunks(rows_per_statement(1)) {
            let sql = format!(
                "SELECT report_key, arrived_at_ms FROM arrivals WHERE report_key IN ({})",
                sql_params(1, chunk.len())
            );
            let mut q = query(sql);
            for k in chunk {
                q = q.bind(k.clone());
            }
            for r in q.fetch_all(&self.db).await? {
                out.insert(r.try_get(0)?, r.try_get(1)?);
            }
        }
        Ok(out)
    }

    /// What the decisions about a batch of reports changed, in one transaction: the first
    /// arrivals, the new alerts (an id that exists is left as it is), then the alerts resolved at
    /// `resolved_at_ms` with their escalations. Says what it did (what existed already is left).
    pub async fn apply(&self, changes: &Changes<'_>) -> Result<Applied, StoreError> {
        let mut done = Applied::default();
        let mut tx = self.db.begin().await?;
        for chunk in changes.arrivals.chunks(rows_per_statement(5)) {
            let sql = format!(
                "INSERT INTO arrivals (report_key, agency, year, report_id, arrived_at_ms) \
                 VALUES {} ON CONFLICT (report_key) DO NOTHING",
                sql_rows(chunk.len(), 5)
            );
            let mut q = query(sql);
            for a in chunk {
                q = q
                    .bind(a.report_key.clone())
                    .bind(a.agency.clone())
                    .bind(i64::from(a.year))
                    .bind(a.report_id.clone())
                    .bind(a.at_ms);
            }
            done.arrivals += q.execute(&mut tx).await?.rows_affected();
        }
        for chunk in changes
            .alerts
            .chunks(rows_per_statement(ALERT_COLUMN_COUNT))
        {
            let sql = format!(
                "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES {} \
                 ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id",
                sql_rows(chunk.len(), ALERT_COLUMN_COUNT)
            );
            let mut q = query(sql);
            for a in chunk {
                let findings = serde_json::to_string(&a.findings)
                    .map_err(|e| StoreError::Findings(a.alert_id.clone(), e))?;
                q = bind_alert(q, a, findings);
            }
            for r in q.fetch_all(&mut tx).await? {
                done.created.insert(r.try_get::<String, _>(0)?);
            }
        }
        for chunk in changes.resolved.chunks(rows_per_statement(1) - 4) {
            let ids = sql_params(4, chunk.len());
            let sql = format!(
                "UPDATE alerts SET status = $1, resolved_at_ms = $2 WHERE status <> $3 \
                 AND alert_id IN ({ids}) RETURNING alert_id"
            );
            let mut q = query(sql)
                .bind(STATUS_RESOLVED)
                .bind(changes.resolved_at_ms)
                .bind(STATUS_RESOLVED);
            for id in chunk {
                q = q.bind(id.clone());
            }
            for r in q.fetch_all(&mut tx).await? {
                done.resolved.insert(r.try_get::<String, _>(0)?);
            }
            let sql = format!(
                "UPDATE alerts SET status = $1, resolved_at_ms = $2 WHERE status <> $3 \
                 AND kind = $4 AND source_alert_id IN ({})",
                sql_params(5, chunk.len())
            );
            let mut q = query(sql)
                .bind(STATUS_RESOLVED)
                .bind(changes.resolved_at_ms)
                .bind(STATUS_RESOLVED)
                .bind(crate::alert::KIND_ESCALATION);
            for id in chunk {
                q = q.bind(id.clone());
            }
            q.execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// The latest alert of `kind` about `report_key` at `office_id` that is not resolved.
    pub async fn current_alert(
        &self,
        report_key: &str,
        office_id: &str,
        kind: &str,
    ) -> Result<Option<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE report_key = $1 AND office_id = $2 \
             AND kind = $3 AND status <> $4 ORDER BY created_at_ms DESC, alert_id DESC LIMIT 1"
        );
        let row = query(sql)
            .bind(report_key.to_string())
            .bind(office_id.to_string())
            .bind(kind.to_string())
            .bind(STATUS_RESOLVED)
            .fetch_optional(&self.db)
            .await?;
        row.map(|r| alert_from_row(&r)).transpose()
    }

    /// Resolves an alert that is not resolved yet, and the alerts derived from it (its
    /// escalation). `true` if this call resolved it.
    pub async fn resolve(&self, alert_id: &str, at_ms: i64) -> Result<bool, StoreError> {
        let done = self
            .apply(&Changes {
                resolved: &[alert_id.to_string()],
                resolved_at_ms: at_ms,
                ..Changes::default()
            })
            .await?;
        Ok(done.resolved.contains(alert_id))
    }

    /// Open alerts that escalate and have not been escalated, oldest first.
    pub async fn escalation_candidates(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE status = $1 AND has_error = $2 \
             AND escalated_at_ms = $3 ORDER BY created_at_ms, alert_id"
        );
        let rows = query(sql)
            .bind(STATUS_OPEN)
            .bind(1i64)
            .bind(0i64)
            .fetch_all(&self.db)
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// Marks an alert escalated unless it was already (or is no longer open). `true` if this call
    /// did it: only then is the escalation sent.
    pub async fn mark_escalated(&self, alert_id: &str, at_ms: i64) -> Result<bool, StoreError> {
        let r = query(
            "UPDATE alerts SET escalated_at_ms = $1 WHERE alert_id = $2 AND escalated_at_ms = $3 \
             AND status = $4",
        )
        .bind(at_ms)
        .bind(alert_id.to_string())
        .bind(0i64)
        .bind(STATUS_OPEN)
        .execute(&self.db)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Alerts waiting for their office's digest, oldest first.
    pub async fn pending_digest(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE digest_state = $1 ORDER BY created_at_ms, alert_id"
        );
        let rows = query(sql).bind(DIGEST_PENDING).fetch_all(&self.db).await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// Records that `alert_id` went out in the digest `notice_id`.
    pub async fn set_digest(&self, alert_id: &str, notice_id: &str) -> Result<(), StoreError> {
        query("UPDATE alerts SET digest_state = $1 WHERE alert_id = $2 AND digest_state = $3")
            .bind(notice_id.to_string())
            .bind(alert_id.to_string())
            .bind(DIGEST_PENDING)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Ids of the alerts of `kind` about reports of `year`.
    pub async fn alert_ids(&self, kind: &str, year: i32) -> Result<HashSet<String>, StoreError> {
        let rows = query("SELECT alert_id FROM alerts WHERE kind = $1 AND year = $2")
            .bind(kind.to_string())
            .bind(i64::from(year))
            .fetch_all(&self.db)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .collect()
    }

    /// Records the first arrival of a report for `report_key`. `true` if it is the first.
    pub async fn record_arrival(
        &self,
        report_key: &str,
        agency: &str,
        year: i32,
        report_id: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let arrival = Arrival {
            report_key: report_key.to_string(),
            agency: agency.to_string(),
            year,
            report_id: report_id.to_string(),
            at_ms,
        };
        let done = self
            .apply(&Changes {
                arrivals: std::slice::from_ref(&arrival),
                ..Changes::default()
            })
            .await?;
        Ok(done.arrivals == 1)
    }

    /// When the first report for `report_key` arrived (Unix ms), if one did.
    pub async fn arrival_ms(&self, report_key: &str) -> Result<Option<i64>, StoreError> {
        let mut first = self.arrivals_of(&[report_key.to_string()]).await?;
        Ok(first.remove(report_key))
    }

    /// The agencies (directory names) whose report for `year` arrived.
    pub async fn arrived(&self, year: i32) -> Result<HashSet<String>, StoreError> {
        let rows = query("SELECT agency FROM arrivals WHERE year = $1")
            .bind(i64::from(year))
            .fetch_all(&self.db)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .collect()
    }

    /// Stores a notice (once; a second put of the same id is a no-op).
    pub async fn put_notice(&self, n: &Notice) -> Result<(), StoreError> {
        self.put_notices(std::slice::from_ref(n)).await
    }

    /// Stores notices with one insert per chunk; ids stored before are left as they are.
    pub async fn put_notices(&self, notices: &[Notice]) -> Result<(), StoreError> {
        for chunk in notices.chunks(rows_per_statement(4)) {
            let sql = format!(
                "INSERT INTO notices (notice_id, office_id, notice_json, created_at_ms) \
                 VALUES {} ON CONFLICT (notice_id) DO NOTHING",
                sql_rows(chunk.len(), 4)
            );
            let mut q = query(sql);
            for n in chunk {
                let json =
                    serde_json::to_string(n).map_err(|e| StoreError::Notice(n.id.clone(), e))?;
                q = q
                    .bind(n.id.clone())
                    .bind(n.office_id.clone())
                    .bind(json)
                    .bind(n.created_at_ms);
            }
            q.execute(&self.db).await?;
        }
        Ok(())
    }

    pub async fn get_notice(&self, id: &str) -> Result<Option<Notice>, StoreError> {
        let row = query("SELECT notice_json FROM notices WHERE notice_id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.db)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let json: String = row.try_get(0)?;
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| StoreError::Notice(id.to_string(), e))
    }

    /// The findings alert for a (report, version, office), whoever created it.
    pub async fn find_alert(
        &self,
        report_id: &str,
        version: &str,
        office_id: &str,
    ) -> Result<Option<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE report_id = $1 AND version = $2 AND office_id = $3 \
             AND kind = $4"
        );
        let row = query(sql)
            .bind(report_id.to_string())
            .bind(version.to_string())
            .bind(office_id.to_string())
            .bind(crate::alert::KIND_FINDINGS)
            .fetch_optional(&self.db)
            .await?;
        row.map(|r| alert_from_row(&r)).transpose()
    }

    pub async fn get_alert(&self, alert_id: &str) -> Result<Option<AlertRecord>, StoreError> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = $1");
        let row = query(sql)
            .bind(alert_id.to_string())
            .fetch_optional(&self.db)
            .await?;
        row.map(|r| alert_from_row(&r)).transpose()
    }

    /// A page of alerts, newest first, and the total matching the filters.
    pub async fn list_alerts(&self, q: &AlertQuery) -> Result<(Vec<AlertRecord>, u64), StoreError> {
        let mut conds = Vec::new();
        let mut args = Vec::new();
        if let Some(o) = &q.office_id {
            args.push(o.clone());
            conds.push(format!("{CURRENT_OFFICE} = ${}", args.len()));
        }
        if let Some(offices) = &q.offices {
            if offices.is_empty() {
                conds.push("1 = 0".to_string());
            } else {
                let mut ps = Vec::new();
                for o in offices {
                    args.push(o.clone());
                    ps.push(format!("${}", args.len()));
                }
                conds.push(format!("{CURRENT_OFFICE} IN ({})", ps.join(", ")));
            }
        }
        if let Some(s) = &q.status {
            args.push(s.clone());
            conds.push(format!("status = ${}", args.len()));
        }
        if let Some(k) = &q.kind {
            args.push(k.clone());
            conds.push(format!("kind = ${}", args.len()));
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM alerts{filter}");
        let mut count = query(count_sql);
        for a in &args {
            count = count.bind(a.clone());
        }
        let total: i64 = count.fetch_one(&self.db).await?.try_get(0)?;
        let n = args.len();
        let page_sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts{filter} \
             ORDER BY created_at_ms DESC, alert_id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut page = query(page_sql);
        for a in &args {
            page = page.bind(a.clone());
        }
        let rows = page
            .bind(i64::from(q.limit))
            .bind(i64::from(q.offset))
            .fetch_all(&self.db)
            .await?;
        let alerts = rows
            .iter()
            .map(alert_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((alerts, u64::try_from(total).unwrap_or(0)))
    }

    /// Alerts created after the key (`created_at_ms`, `alert_id`) `after`, oldest first, at most
    /// `limit`: what an instance that does not create alerts itself (see `leader`) passes on to
    /// its alert streams, page by page.
    pub async fn created_after(
        &self,
        after: (i64, &str),
        limit: i64,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE created_at_ms > $1 \
             OR (created_at_ms = $2 AND alert_id > $3) ORDER BY created_at_ms, alert_id LIMIT $4"
        );
        let rows = query(sql)
            .bind(after.0)
            .bind(after.0)
            .bind(after.1.to_string())
            .bind(limit)
            .fetch_all(&self.db)
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// Open alerts (of one office, or all), oldest first: what a stream sends before new ones.
    pub async fn open_alerts(
        &self,
        office_id: Option<&str>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let rows = match office_id {
            Some(o) => {
                let sql = format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE status = $1 AND {CURRENT_OFFICE} = $2 \
                     ORDER BY created_at_ms, alert_id"
                );
                query(sql)
                    .bind(STATUS_OPEN)
                    .bind(o.to_string())
                    .fetch_all(&self.db)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE status = $1 ORDER BY created_at_ms, alert_id"
                );
                query(sql).bind(STATUS_OPEN).fetch_all(&self.db).await?
            }
        };
        rows.iter().map(alert_from_row).collect()
    }

    /// Marks an open alert acknowledged by `by` at `at_ms`, and its open escalation with it. An
    /// alert acknowledged before keeps its first acknowledgement (idempotent). `None` if there is no
    /// such alert.
    pub async fn acknowledge(
        &self,
        alert_id: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<Option<AlertRecord>, StoreError> {
        query(
            "UPDATE alerts SET status = $1, acknowledged_at_ms = $2, acknowledged_by = $3 \
             WHERE alert_id = $4 AND status = $5",
        )
        .bind(STATUS_ACKNOWLEDGED)
        .bind(at_ms)
        .bind(by.to_string())
        .bind(alert_id.to_string())
        .bind(STATUS_OPEN)
        .execute(&self.db)
        .await?;
        let alert = self.get_alert(alert_id).await?;
        // The office above learns that the office it was told about has taken the alert up: an
        // open escalation of it is acknowledged too, in that office's name.
        if let Some(a) = &alert
            && a.status == STATUS_ACKNOWLEDGED
            && a.kind != crate::alert::KIND_ESCALATION
        {
            query(
                "UPDATE alerts SET status = $1, acknowledged_at_ms = $2, acknowledged_by = $3 \
                 WHERE source_alert_id = $4 AND kind = $5 AND status = $6",
            )
            .bind(STATUS_ACKNOWLEDGED)
            .bind(a.acknowledged_at_ms)
            .bind(format!("{}（{}）", a.acknowledged_by, a.office_name))
            .bind(alert_id.to_string())
            .bind(crate::alert::KIND_ESCALATION)
            .bind(STATUS_OPEN)
            .execute(&self.db)
            .await?;
        }
        Ok(alert)
    }

    /// What the clerks did to these alerts (reassignment, 整改期限, notices to the agency, with
    /// their audit trail); alerts nobody touched are absent.
    pub async fn work_of(&self, ids: &[String]) -> Result<HashMap<String, AlertWork>, StoreError> {
        let mut out: HashMap<String, AlertWork> = HashMap::new();
        for chunk in ids.chunks(rows_per_statement(1)) {
            let params = sql_params(1, chunk.len());
            let sql = format!(
                "SELECT alert_id, assigned_office_id, assigned_office_name, rectify_by, \
                 agency_notified_at_ms FROM alerts WHERE alert_id IN ({params}) \
                 AND (assigned_office_id <> '' OR rectify_by <> '' OR agency_notified_at_ms <> 0)"
            );
            let mut q = query(sql);
            for id in chunk {
                q = q.bind(id.clone());
            }
            for r in q.fetch_all(&self.db).await? {
                let id: String = r.try_get(0)?;
                let w = out.entry(id).or_default();
                w.assigned_office_id = r.try_get(1)?;
                w.assigned_office_name = r.try_get(2)?;
                w.rectify_by = r.try_get(3)?;
                w.agency_notified_at_ms = r.try_get(4)?;
            }
            let sql = format!(
                "SELECT alert_id, action, by_name, credential_id, caller, peer, detail, outcome, at_ms \
                 FROM alert_actions WHERE alert_id IN ({params}) ORDER BY at_ms, action"
            );
            let mut q = query(sql);
            for id in chunk {
                q = q.bind(id.clone());
            }
            for r in q.fetch_all(&self.db).await? {
                let a = AlertAction {
                    alert_id: r.try_get(0)?,
                    action: r.try_get(1)?,
                    by_name: r.try_get(2)?,
                    credential_id: r.try_get(3)?,
                    caller: r.try_get(4)?,
                    peer: r.try_get(5)?,
                    detail: r.try_get(6)?,
                    outcome: r.try_get(7)?,
                    at_ms: r.try_get(8)?,
                };
                out.entry(a.alert_id.clone()).or_default().actions.push(a);
            }
        }
        Ok(out)
    }

    /// The work on one alert (default when nobody touched it).
    pub async fn work(&self, alert_id: &str) -> Result<AlertWork, StoreError> {
        Ok(self
            .work_of(&[alert_id.to_string()])
            .await?
            .remove(alert_id)
            .unwrap_or_default())
    }

    /// Hands an alert (and its open escalation) to another office. `false` if there is no such
    /// alert.
    pub async fn reassign(
        &self,
        alert_id: &str,
        office_id: &str,
        office_name: &str,
    ) -> Result<bool, StoreError> {
        let n = query(
            "UPDATE alerts SET assigned_office_id = $1, assigned_office_name = $2 WHERE alert_id = $3",
        )
        .bind(office_id.to_string())
        .bind(office_name.to_string())
        .bind(alert_id.to_string())
        .execute(&self.db)
        .await?;
        Ok(n.rows_affected() > 0)
    }

    /// Sets (or, with '', clears) an alert's 整改期限. `false` if there is no such alert.
    pub async fn set_rectify_by(&self, alert_id: &str, date: &str) -> Result<bool, StoreError> {
        let n = query("UPDATE alerts SET rectify_by = $1 WHERE alert_id = $2")
            .bind(date.to_string())
            .bind(alert_id.to_string())
            .execute(&self.db)
            .await?;
        Ok(n.rows_affected() > 0)
    }

    /// Alerts not yet resolved whose 整改期限 is before `today` (YYYY-MM-DD, Beijing) and whose
    /// passing was not announced yet, with their 整改期限 and the office they are with now.
    pub async fn rectify_overdue(
        &self,
        today: &str,
    ) -> Result<Vec<(AlertRecord, String, String)>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS}, rectify_by, {CURRENT_OFFICE} FROM alerts \
             WHERE status <> $1 AND rectify_by <> '' AND rectify_by < $2 \
             AND rectify_reminded_for <> rectify_by ORDER BY rectify_by, alert_id"
        );
        let rows = query(sql)
            .bind(STATUS_RESOLVED)
            .bind(today.to_string())
            .fetch_all(&self.db)
            .await?;
        let extra = ALERT_COLUMNS.split(',').count();
        rows.iter()
            .map(|r| Ok((alert_from_row(r)?, r.try_get(extra)?, r.try_get(extra + 1)?)))
            .collect()
    }

    /// Records that the passing of 整改期限 `rectify_by` was announced; `false` when the deadline
    /// changed meanwhile or it was already announced (then nothing is sent again).
    pub async fn mark_rectify_reminded(
        &self,
        alert_id: &str,
        rectify_by: &str,
    ) -> Result<bool, StoreError> {
        let n = query(
            "UPDATE alerts SET rectify_reminded_for = $1 WHERE alert_id = $2 AND rectify_by = $3 \
             AND rectify_reminded_for <> $4",
        )
        .bind(rectify_by.to_string())
        .bind(alert_id.to_string())
        .bind(rectify_by.to_string())
        .bind(rectify_by.to_string())
        .execute(&self.db)
        .await?;
        Ok(n.rows_affected() > 0)
    }

    /// Records that the alert's notice went to its agency at `at_ms`.
    pub async fn mark_agency_notified(&self, alert_id: &str, at_ms: i64) -> Result<(), StoreError> {
        query("UPDATE alerts SET agency_notified_at_ms = $1 WHERE alert_id = $2")
            .bind(at_ms)
            .bind(alert_id.to_string())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Adds one record to the audit trail of reassignments, 整改期限 and agency notices.
    pub async fn record_action(&self, a: &AlertAction) -> Result<(), StoreError> {
        query(
            "INSERT INTO alert_actions (alert_id, action, by_name, credential_id, caller, peer, \
             detail, outcome, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(a.alert_id.clone())
        .bind(a.action.clone())
        .bind(a.by_name.clone())
        .bind(a.credential_id.clone())
        .bind(a.caller.clone())
        .bind(a.peer.clone())
        .bind(a.detail.clone())
        .bind(a.outcome.clone())
        .bind(a.at_ms)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// Adds one record to the acknowledgement audit trail.
    pub async fn record_acknowledgement(&self, a: &AckAudit) -> Result<(), StoreError> {
        query(
            "INSERT INTO acknowledgements (alert_id, by_name, credential_id, caller, peer, note, \
             outcome, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(a.alert_id.clone())
        .bind(a.by_name.clone())
        .bind(a.credential_id.clone())
        .bind(a.caller.clone())
        .bind(a.peer.clone())
        .bind(a.note.clone())
        .bind(a.outcome.clone())
        .bind(a.at_ms)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// The audit trail of an alert's acknowledgements, oldest first.
    pub async fn acknowledgements(&self, alert_id: &str) -> Result<Vec<AckAudit>, StoreError> {
        let rows = query(
            "SELECT alert_id, by_name, credential_id, caller, peer, note, outcome, at_ms \
             FROM acknowledgements WHERE alert_id = $1 ORDER BY at_ms, by_name",
        )
        .bind(alert_id.to_string())
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AckAudit {
                    alert_id: r.try_get("alert_id")?,
                    by_name: r.try_get("by_name")?,
                    credential_id: r.try_get("credential_id")?,
                    caller: r.try_get("caller")?,
                    peer: r.try_get("peer")?,
                    note: r.try_get("note")?,
                    outcome: r.try_get("outcome")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect()
    }

    pub async fn record_delivery(
        &self,
        notice_id: &str,
        channel: &str,
        attempt: i64,
        status: DeliveryStatus,
        error: &str,
    ) -> Result<(), StoreError> {
        self.record_deliveries(&[DeliveryRow {
            notice_id: notice_id.to_string(),
            channel: channel.to_string(),
            attempt,
            status: status.as_str().to_string(),
            error: error.to_string(),
            at_ms: nianbao_service::now_ms(),
        }])
        .await
    }

    /// Appends delivery attempts to the log, one insert per chunk.
    pub async fn record_deliveries(&self, rows: &[DeliveryRow]) -> Result<(), StoreError> {
        for chunk in rows.chunks(rows_per_statement(6)) {
            let sql = format!(
                "INSERT INTO deliveries (notice_id, channel, attempt, status, error, at_ms) VALUES {}",
                sql_rows(chunk.len(), 6)
            );
            let mut q = query(sql);
            for d in chunk {
                q = q
                    .bind(d.notice_id.clone())
                    .bind(d.channel.clone())
                    .bind(d.attempt)
                    .bind(d.status.clone())
                    .bind(d.error.clone())
                    .bind(d.at_ms);
            }
            q.execute(&self.db).await?;
        }
        Ok(())
    }

    /// Every delivery attempt of a notice (an alert's id is its own notice's), by channel then
    /// attempt.
    pub async fn deliveries(&self, notice_id: &str) -> Result<Vec<DeliveryRow>, StoreError> {
        self.deliveries_of(&[notice_id.to_string()]).await
    }

    /// Every delivery attempt of these notices, by notice, channel, then attempt.
    pub async fn deliveries_of(&self, ids: &[String]) -> Result<Vec<DeliveryRow>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(rows_per_statement(1)) {
            let sql = format!(
                "SELECT notice_id, channel, attempt, status, error, at_ms FROM deliveries \
                 WHERE notice_id IN ({}) ORDER BY notice_id, channel, attempt, at_ms",
                sql_params(1, chunk.len())
            );
            let mut q = query(sql);
            for id in chunk {
                q = q.bind(id.clone());
            }
            for r in q.fetch_all(&self.db).await? {
                out.push(DeliveryRow {
                    notice_id: r.try_get(0)?,
                    channel: r.try_get(1)?,
                    attempt: r.try_get(2)?,
                    status: r.try_get(3)?,
                    error: r.try_get(4)?,
                    at_ms: r.try_get(5)?,
                });
            }
        }
        Ok(out)
    }

    /// Remote deliveries queued but neither delivered nor given up.
    pub async fn pending_remote(&self) -> Result<Vec<PendingDelivery>, StoreError> {
        let rows = query(
            "SELECT notice_id, channel, MAX(attempt) FROM deliveries \
             WHERE channel LIKE $1 OR channel LIKE $2 OR channel LIKE $3 OR channel LIKE $4 \
             GROUP BY notice_id, channel \
             HAVING SUM(CASE WHEN status = $5 OR status = $6 THEN 1 ELSE 0 END) = 0",
        )
        .bind("webhook:%")
        .bind("wecom:%")
        .bind("dingtalk:%")
        .bind("email:%")
        .bind(DeliveryStatus::Delivered.as_str())
        .bind(DeliveryStatus::GaveUp.as_str())
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingDelivery {
                    notice_id: r.try_get(0)?,
                    channel: r.try_get(1)?,
                    last_attempt: r.try_get(2)?,
                })
            })
            .collect::<Result<_, nianbao_db::DbError>>()
            .map_err(StoreError::from)
    }

    /// Number of alerts by (office, kind, status).
    pub async fn alert_counts(&self) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        let rows = query(
            "SELECT office_id, kind, status, COUNT(*) FROM alerts GROUP BY office_id, kind, status \
             ORDER BY office_id, kind, status",
        )
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_, nianbao_db::DbError>>()
            .map_err(StoreError::from)
    }

    /// Failed attempts on `channel` since its last successful delivery.
    pub async fn consecutive_failures(&self, channel: &str) -> Result<u64, StoreError> {
        let row = query(
            "SELECT COUNT(*) FROM deliveries WHERE channel = $1 AND (status = $2 OR status = $3) \
             AND at_ms > (SELECT COALESCE(MAX(at_ms), 0) FROM deliveries WHERE channel = $4 AND status = $5)",
        )
        .bind(channel.to_string())
        .bind(DeliveryStatus::Failed.as_str())
        .bind(DeliveryStatus::GaveUp.as_str())
        .bind(channel.to_string())
        .bind(DeliveryStatus::Delivered.as_str())
        .fetch_one(&self.db)
        .await?;
        let n: i64 = row.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Every channel's health, from the delivery log: counts by outcome, the failures since the
    /// last success, the last error.
    pub async fn channel_health(&self) -> Result<Vec<ChannelHealth>, StoreError> {
        let rows = query(
            "SELECT channel, status, COUNT(*), MAX(at_ms) FROM deliveries GROUP BY channel, status",
        )
        .fetch_all(&self.db)
        .await?;
        let mut by: std::collections::BTreeMap<String, ChannelHealth> = Default::default();
        for r in &rows {
            let channel: String = r.try_get(0)?;
            let status: String = r.try_get(1)?;
            let n: i64 = r.try_get(2)?;
            let at: i64 = r.try_get(3)?;
            let h = by.entry(channel.clone()).or_insert_with(|| ChannelHealth {
                channel,
                ..ChannelHealth::default()
            });
            let n = u64::try_from(n).unwrap_or(0);
            match status.as_str() {
                "delivered" => {
                    h.delivered = n;
                    h.last_delivered_ms = at;
                }
                "failed" => {
                    h.failed = n;
                    h.last_failed_ms = h.last_failed_ms.max(at);
                }
                "gave_up" => {
                    h.gave_up = n;
                    h.last_failed_ms = h.last_failed_ms.max(at);
                }
                "pending" => h.pending = n,
                _ => {}
            }
        }
        // "pending" rows are the queueing marks; what is still under way is what has no outcome yet.
        let pending = self.pending_remote().await?;
        for h in by.values_mut() {
            h.pending = pending.iter().filter(|p| p.channel == h.channel).count() as u64;
            let rows = query(
                "SELECT COUNT(*) FROM deliveries WHERE channel = $1 AND (status = $2 OR status = $3) \
                 AND at_ms > $4",
            )
            .bind(h.channel.clone())
            .bind(DeliveryStatus::Failed.as_str())
            .bind(DeliveryStatus::GaveUp.as_str())
            .bind(h.last_delivered_ms)
            .fetch_one(&self.db)
            .await?;
            let n: i64 = rows.try_get(0)?;
            h.consecutive_failures = u64::try_from(n).unwrap_or(0);
            if h.last_failed_ms > 0 {
                let row = query(
                    "SELECT error FROM deliveries WHERE channel = $1 AND (status = $2 OR status = $3) \
                     ORDER BY at_ms DESC LIMIT 1",
                )
                .bind(h.channel.clone())
                .bind(DeliveryStatus::Failed.as_str())
                .bind(DeliveryStatus::GaveUp.as_str())
                .fetch_optional(&self.db)
                .await?;
                if let Some(row) = row {
                    h.last_error = row.try_get(0)?;
                }
            }
        }
        Ok(by.into_values().collect())
    }

    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// Binds the [`ALERT_COLUMNS`] of one alert, in their order.
fn bind_alert(q: Query, a: &AlertRecord, findings_json: String) -> Query {
    q.bind(a.alert_id.clone())
        .bind(a.office_id.clone())
        .bind(a.office_name.clone())
        .bind(a.report_id.clone())
        .bind(a.version.clone())
        .bind(a.agency.clone())
        .bind(i64::from(a.year))
        .bind(a.region.clone())
        .bind(a.status.clone())
        .bind(a.kind.clone())
        .bind(findings_json)
        .bind(a.message.clone())
        .bind(a.route_note.clone())
        .bind(a.created_at_ms)
        .bind(a.acknowledged_at_ms)
        .bind(a.acknowledged_by.clone())
        .bind(a.report_key.clone())
        .bind(a.fingerprint.clone())
        .bind(i64::from(a.has_error))
        .bind(a.escalated_at_ms)
        .bind(a.resolved_at_ms)
        .bind(a.source_alert_id.clone())
        .bind(a.digest_state.clone())
}

fn alert_from_row(r: &Row) -> Result<AlertRecord, StoreError> {
    let alert_id: String = r.try_get(0)?;
    let findings_json: String = r.try_get(10)?;
    let findings: Vec<StoredFinding> = serde_json::from_str(&findings_json)
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
        report_key: r.try_get(16)?,
        fingerprint: r.try_get(17)?,
        has_error: r.try_get::<i64, _>(18)? != 0,
        escalated_at_ms: r.try_get(19)?,
        resolved_at_ms: r.try_get(20)?,
        source_alert_id: r.try_get(21)?,
        digest_state: r.try_get(22)?,
    })
}
