//! What the service decides, independent of the broker: the alert a validated report gives (or not),
//! resolution of earlier alerts, and the timers (escalation, digests, roster deadlines).
//!
//! - **Routing**: the report's agency is resolved in the directory; the alert goes to its
//!   supervising office (unmatched: the default office, with the reason on the alert), with the
//!   findings at or above the office's minimum severity, errors first. Info never alerts.
//! - **One alert per report version**, and "the same report" across versions is the directory's
//!   agency and the year (`report_key`): a version with exactly the findings of the office's
//!   current alert about that report creates nothing (dedup); one with other findings creates a new
//!   alert that says what was fixed, what is still there and what is new (the office's `repeats`
//!   decides whether the old ones are spelled out again) and supersedes (resolves) the old one; one
//!   without alerting findings resolves it with a 已整改 message. While an alert about the report is
//!   open, validation's `report-changed` warning is not counted: the new version is the
//!   correction the office asked for.
//! - **Escalation** (tick): an open error alert (or missing report) not acknowledged within the
//!   office's period goes, once, to the parent office.
//! - **Digests** (tick): an office with `digest_minutes` gets its alerts as one message per window.
//! - **Roster** (tick, when enabled): an agency of the directory without a report for the tracked
//!   year after its deadline gets a `report-missing` alert; a report published after its deadline
//!   carries a `report-late` finding; a missing report that arrives closes the alert (已补报).
//!
//! Every "now" comes from the injected [`Clock`](crate::clock::Clock). Decisions about one report
//! (`report_key`) are serialised by [`KeyLocks`], within this process: run one notification
//! service per database (like validation).

use crate::alert::{
    AlertRecord, Changes, DIGEST_PENDING, FindingRecord, KIND_ESCALATION, KIND_FINDINGS,
    KIND_MISSING, KIND_RESOLUTION, RULE_MISSING, STATUS_OPEN, STATUS_RESOLVED, alerting_findings,
    fingerprint, format_arrived_message, format_escalation_message, format_message,
    format_missing_message, format_resolution_message, format_update_message, late_finding, level,
};
use crate::clock::{DAY_MS, Date, HOUR_MS, MINUTE_MS, SharedClock};
use crate::config::RosterConfig;
use crate::deliver::{Channel, DeliverError, Deliverer};
use crate::directory::{Directory, Office, Repeats};
use crate::render;
use crate::store::{Store, StoreError};
use nianbao_model::Severity;
use nianbao_proto::v1;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::broadcast;

/// Validation's rule for a replaced report version.
const RULE_REPORT_CHANGED: &str = "report-changed";

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Deliver(#[from] DeliverError),
}

/// The service-wide settings the engine applies (offices may override some).
#[derive(Clone, Debug)]
pub struct Policy {
    pub min_severity: Severity,
    pub default_channels: Vec<Channel>,
    /// Hours before an unacknowledged error alert escalates; 0 → never.
    pub escalate_after_hours: u64,
    pub roster: RosterConfig,
}

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub escalated: Vec<String>,
    pub digests: Vec<String>,
    pub missing: Vec<String>,
}

/// One async lock per report (`report_key`), so that two versions of a report handled at once
/// (the consumer runs `prefetch` events concurrently) and the timers see each other's decisions
/// in order. Entries go when their last holder does.
#[derive(Default)]
pub struct KeyLocks {
    map: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds a [`KeyLocks`] entry; removes it when nobody else waits for it.
pub struct KeyGuard<'a> {
    locks: &'a KeyLocks,
    key: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyLocks {
    pub async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let lock = match self.map.lock() {
            Ok(mut m) => m.entry(key.to_string()).or_default().clone(),
            // A panic while holding the map lock cannot leave it inconsistent (one insert);
            // without the map there is no serialisation, which the store's idempotency survives.
            Err(p) => p.into_inner().entry(key.to_string()).or_default().clone(),
        };
        let guard = lock.clone().lock_owned().await;
        KeyGuard {
            locks: self,
            key: key.to_string(),
            lock,
            guard: Some(guard),
        }
    }

    /// Keys currently held or awaited (tests).
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        if let Ok(mut m) = self.locks.map.lock()
            // Ours and the map's: nobody else holds or awaits it.
            && Arc::strong_count(&self.lock) == 2
        {
            m.remove(&self.key);
        }
    }
}

pub struct Engine {
    pub store: Store,
    pub directory: Arc<Directory>,
    pub deliverer: Arc<Deliverer>,
    pub clock: SharedClock,
    pub policy: Policy,
    pub alerts: broadcast::Sender<Arc<AlertRecord>>,
    pub locks: KeyLocks,
}

impl Engine {
    /// The channels of an office: its own list, else the configured defaults. Entries were checked
    /// when the directory was loaded; one that still does not parse is skipped with a warning.
    pub fn channels(&self, office: &Office) -> Vec<Channel> {
        if office.channels.is_empty() {
            return self.policy.default_channels.clone();
        }
        office
            .channels
            .iter()
            .filter_map(|c| match c.parse() {
                Ok(ch) => Some(ch),
                Err(e) => {
                    tracing::warn!(office = %office.id, error = %e, "skipping a channel");
                    None
                }
            })
            .collect()
    }

    /// The channels of the office with this id (the default office's for an unknown id).
    pub fn channels_of(&self, office_id: &str) -> Vec<Channel> {
        let office = self
            .directory
            .office(office_id)
            .unwrap_or_else(|| self.directory.default_office());
        self.channels(office)
    }

    fn min_severity(&self, office: &Office) -> Severity {
        office
            .min_severity
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(self.policy.min_severity)
            .max(Severity::Warning)
    }

    fn escalate_after_hours(&self, office: &Office) -> u64 {
        office
            .escalate_after_hours
            .unwrap_or(self.policy.escalate_after_hours)
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A new alert for `office` with the fields every kind shares.
    fn new_alert(&self, office: &Office, kind: &str, id: String) -> AlertRecord {
        AlertRecord {
            alert_id: id,
            office_id: office.id.clone(),
            office_name: office.name.clone(),
            report_id: String::new(),
            version: String::new(),
            agency: String::new(),
            year: 0,
            region: String::new(),
            status: STATUS_OPEN.to_string(),
            kind: kind.to_string(),
            findings: Vec::new(),
            message: String::new(),
            route_note: String::new(),
            created_at_ms: self.now(),
            acknowledged_at_ms: 0,
            acknowledged_by: String::new(),
            report_key: String::new(),
            fingerprint: String::new(),
            has_error: false,
            escalated_at_ms: 0,
            resolved_at_ms: 0,
            source_alert_id: String::new(),
            digest_state: if office.digest_minutes > 0 {
                DIGEST_PENDING.to_string()
            } else {
                String::new()
            },
        }
    }

    /// Stores the alert (or finds it, when it exists: a redelivered event) and sends it: at once
    /// through the office's channels, or later in the office's digest. The stream hears of new ones.
    async fn publish(&self, alert: AlertRecord) -> Result<AlertRecord, EngineError> {
        let created = self.store.insert_alert(&alert).await?;
        let alert = if created {
            tracing::info!(alert_id = %alert.alert_id, kind = %alert.kind, office = %alert.office_id, agency = %alert.agency, year = alert.year, findings = alert.findings.len(), "alert created");
            // No receiver (no stream open) is not an error.
            let _ = self.alerts.send(Arc::new(alert.clone()));
            alert
        } else {
            match self.store.get_alert(&alert.alert_id).await? {
                Some(stored) => stored,
                None => alert,
            }
        };
        if alert.digest_state.is_empty() {
            let notice = render::alert_notice(&alert);
            self.deliverer
                .deliver(&notice, &self.channels_of(&alert.office_id))
                .await?;
        }
        Ok(alert)
    }

    /// Handles one validated report; returns the alerts it concerns (created now, or found: a
    /// redelivery, or the unchanged alert of an earlier version).
    pub async fn on_validated(
        &self,
        ev: &v1::ReportValidated,
        meta: &v1::EventMeta,
    ) -> Result<Vec<AlertRecord>, EngineError> {
        let now = self.now();
        let route = self.directory.resolve(&ev.agency);
        let office = route.office;
        if let Some(note) = &route.note {
            tracing::debug!(report_id = %meta.report_id, agency = %ev.agency, office = %office.id, how = %route.how, %note, "agency routed");
        }
        let note = route.note.clone().unwrap_or_default();
        // The office knows the agency by the directory's name; the reported form, if different,
        // is in the note.
        let agency = route.agency.unwrap_or(ev.agency.trim()).to_string();
        let report_key = if route.agency.is_some() {
            format!("{agency}|{}", ev.year)
        } else {
            format!("?{agency}|{}", ev.year)
        };
        let _held = self.locks.lock(&report_key).await;
        let min = self.min_severity(office);
        let mut findings = alerting_findings(&ev.findings, min);
        let mut out = Vec::new();

        // A redelivered event: the alerts this version made before are the answer (delivered
        // again where a channel has no record yet).
        let this_id =
            AlertRecord::id_for(&meta.report_id, &meta.version, &office.id, KIND_FINDINGS);
        let res_id =
            AlertRecord::id_for(&meta.report_id, &meta.version, &office.id, KIND_RESOLUTION);
        for id in [&this_id, &res_id] {
            if let Some(a) = self.store.get_alert(id).await? {
                out.push(self.publish(a).await?);
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }

        // The roster: arrival, lateness, and a missing-report alert that this report closes.
        if self.policy.roster.enabled
            && ev.year > 0
            && let Some(a) = route.agency.and_then(|n| self.directory.agency(n))
        {
            // Arrival: the publication date given at submission, else now (the service's clock;
            // the event arrives seconds after the submission). What counts is the report's first
            // arrival: a correction sent after the deadline does not make a report late.
            let published = Date::parse(&ev.published_on);
            let at_ms = published.map_or(now, |d| d.start_ms_cst());
            self.store
                .record_arrival(&report_key, &a.name, ev.year, &meta.report_id, at_ms)
                .await?;
            let first_ms = self.store.arrival_ms(&report_key).await?.unwrap_or(at_ms);
            let arrived = Date::from_ms_cst(first_ms);
            let deadline = self.directory.deadline(a, ev.year);
            if arrived > deadline && min <= Severity::Warning {
                findings.push(late_finding(
                    &arrived.chinese(),
                    &deadline.chinese(),
                    published.is_some() && first_ms == at_ms,
                ));
                findings.sort_by_key(|f| std::cmp::Reverse(level(f)));
            }
            if let Some(missing) = self
                .store
                .current_alert(&report_key, &office.id, KIND_MISSING)
                .await?
            {
                let id = AlertRecord::id_for(&meta.report_id, &meta.version, &office.id, "arrived");
                let mut r = self.new_alert(office, KIND_RESOLUTION, id);
                self.fill_report(&mut r, ev, meta, &agency, &report_key);
                r.status = STATUS_RESOLVED.to_string();
                r.resolved_at_ms = now;
                r.source_alert_id = missing.alert_id.clone();
                r.message = format_arrived_message(&agency, ev.year, &missing);
                let r = self.publish(r).await?;
                self.store.resolve(&missing.alert_id, now).await?;
                out.push(r);
            }
        }

        let previous = self
            .store
            .current_alert(&report_key, &office.id, KIND_FINDINGS)
            .await?;
        if previous.is_some() {
            // The office asked for a correction: that the report was replaced is expected here,
            // not news (report-changed keeps flagging replacements nobody asked for).
            findings.retain(|f| f.rule != RULE_REPORT_CHANGED);
        }
        if findings.is_empty() {
            if let Some(prev) = previous {
                let mut r = self.new_alert(office, KIND_RESOLUTION, res_id);
                self.fill_report(&mut r, ev, meta, &agency, &report_key);
                r.status = STATUS_RESOLVED.to_string();
                r.resolved_at_ms = now;
                r.source_alert_id = prev.alert_id.clone();
                r.message = format_resolution_message(&agency, ev.year, &prev);
                r.route_note = note;
                let r = self.publish(r).await?;
                self.store.resolve(&prev.alert_id, now).await?;
                out.push(r);
            }
            return Ok(out);
        }
        let fp = fingerprint(&findings);
        if let Some(prev) = &previous
            && prev.fingerprint == fp
        {
            tracing::info!(alert_id = %prev.alert_id, report_id = %meta.report_id, "same findings as the open alert about this report: nothing sent");
            out.push(prev.clone());
            return Ok(out);
        }
        let mut a = self.new_alert(office, KIND_FINDINGS, this_id);
        self.fill_report(&mut a, ev, meta, &agency, &report_key);
        a.message = match &previous {
            Some(prev) => format_update_message(
                &agency,
                ev.year,
                &findings,
                &Changes::between(&prev.findings, &findings),
                office.repeats == Repeats::Quiet,
                &note,
            ),
            None => format_message(&agency, ev.year, &findings, &note),
        };
        a.has_error = findings.iter().any(|f| level(f) == Severity::Error);
        a.fingerprint = fp;
        a.findings = findings;
        a.route_note = note;
        if let Some(prev) = &previous {
            a.source_alert_id = prev.alert_id.clone();
        }
        let a = self.publish(a).await?;
        if let Some(prev) = previous {
            // Superseded by the newer version's alert.
            self.store.resolve(&prev.alert_id, now).await?;
        }
        out.push(a);
        Ok(out)
    }

    fn fill_report(
        &self,
        a: &mut AlertRecord,
        ev: &v1::ReportValidated,
        meta: &v1::EventMeta,
        agency: &str,
        report_key: &str,
    ) {
        a.report_id = meta.report_id.clone();
        a.version = meta.version.clone();
        a.agency = agency.to_string();
        a.year = ev.year;
        a.region = meta.region.clone();
        a.report_key = report_key.to_string();
    }

    /// Runs the timers once: escalation, digests, roster.
    pub async fn tick(&self) -> Result<TickReport, EngineError> {
        Ok(TickReport {
            escalated: self.escalate().await?,
            missing: self.roster().await?,
            digests: self.digests().await?,
        })
    }

    /// Escalates, once, every open error alert older than its office's period to the parent office.
    pub async fn escalate(&self) -> Result<Vec<String>, EngineError> {
        let now = self.now();
        let mut done = Vec::new();
        for a in self.store.escalation_candidates().await? {
            let Some(office) = self.directory.office(&a.office_id) else {
                continue;
            };
            let hours = self.escalate_after_hours(office);
            let Ok(period) = i64::try_from(hours) else {
                continue;
            };
            if hours == 0
                || now
                    < a.created_at_ms
                        .saturating_add(period.saturating_mul(HOUR_MS))
            {
                continue;
            }
            let Some(parent) = office
                .parent
                .as_deref()
                .and_then(|p| self.directory.office(p))
            else {
                continue;
            };
            let id = AlertRecord::id_for(&a.alert_id, "", &parent.id, KIND_ESCALATION);
            let mut e = self.new_alert(parent, KIND_ESCALATION, id);
            e.report_id = a.report_id.clone();
            e.version = a.version.clone();
            e.agency = a.agency.clone();
            e.year = a.year;
            e.region = a.region.clone();
            e.report_key = a.report_key.clone();
            e.fingerprint = a.fingerprint.clone();
            e.findings = a.findings.clone();
            e.source_alert_id = a.alert_id.clone();
            e.message = format_escalation_message(&a, hours);
            // Publish first (idempotent by id), then mark: a crash in between sends it again at
            // the next tick under the same id, never twice.
            let e = self.publish(e).await?;
            if self.store.mark_escalated(&a.alert_id, now).await? {
                tracing::info!(alert_id = %a.alert_id, to = %parent.id, escalation = %e.alert_id, "alert escalated");
            }
            done.push(e.alert_id);
        }
        Ok(done)
    }

    /// Sends the digests whose window has passed.
    pub async fn digests(&self) -> Result<Vec<String>, EngineError> {
        let now = self.now();
        let mut by_office: BTreeMap<String, Vec<AlertRecord>> = BTreeMap::new();
        for a in self.store.pending_digest().await? {
            by_office.entry(a.office_id.clone()).or_default().push(a);
        }
        let mut sent = Vec::new();
        for (office_id, alerts) in by_office {
            let office = self
                .directory
                .office(&office_id)
                .unwrap_or_else(|| self.directory.default_office());
            let window = i64::try_from(office.digest_minutes)
                .unwrap_or(i64::MAX / MINUTE_MS)
                .saturating_mul(MINUTE_MS);
            let oldest = alerts.iter().map(|a| a.created_at_ms).min().unwrap_or(now);
            if now < oldest.saturating_add(window) {
                continue;
            }
            let notice = render::digest_notice(office, &alerts, now);
            self.deliverer
                .deliver(&notice, &self.channels(office))
                .await?;
            for a in &alerts {
                self.store.set_digest(&a.alert_id, &notice.id).await?;
            }
            tracing::info!(office = %office.id, digest = %notice.id, alerts = alerts.len(), "digest sent");
            sent.push(notice.id);
        }
        Ok(sent)
    }

    /// The reporting year the roster tracks now.
    pub fn roster_year(&self) -> i32 {
        if self.policy.roster.year > 0 {
            self.policy.roster.year
        } else {
            Date::from_ms_cst(self.now()).year - 1
        }
    }

    /// Sends `report-missing` for every agency of the directory whose report for the tracked year
    /// had not arrived when its deadline (plus the grace days) passed.
    pub async fn roster(&self) -> Result<Vec<String>, EngineError> {
        if !self.policy.roster.enabled || !self.directory.is_configured() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let year = self.roster_year();
        let arrived = self.store.arrived(year).await?;
        let existing = self.store.alert_ids(KIND_MISSING, year).await?;
        let grace = i64::from(self.policy.roster.grace_days) * DAY_MS;
        let mut sent = Vec::new();
        for agency in self.directory.agencies() {
            if arrived.contains(&agency.name) {
                continue;
            }
            let deadline = self.directory.deadline(agency, year);
            if now < deadline.end_ms_cst() + grace {
                continue;
            }
            let office = self
                .directory
                .office(&agency.office)
                .unwrap_or_else(|| self.directory.default_office());
            let id = AlertRecord::id_for(
                &format!("missing:{}", agency.name),
                &year.to_string(),
                &office.id,
                KIND_MISSING,
            );
            if existing.contains(&id) {
                continue;
            }
            let kind = agency.kind();
            let mut a = self.new_alert(office, KIND_MISSING, id);
            a.agency = agency.name.clone();
            a.year = year;
            a.region = agency.region.clone();
            a.report_key = format!("{}|{year}", agency.name);
            a.has_error = true;
            a.findings = vec![FindingRecord {
                rule: RULE_MISSING.to_string(),
                severity: Severity::Error.as_str().to_string(),
                message: format!(
                    "截至{}（{}报送期限）未收到{year}年度报告",
                    deadline.chinese(),
                    kind.chinese()
                ),
                part: None,
                cell: None,
                column: None,
                expected: Some(deadline.to_string()),
                actual: None,
                line: None,
            }];
            a.fingerprint = fingerprint(&a.findings);
            a.message =
                format_missing_message(&agency.name, year, &deadline.chinese(), kind.chinese());
            let a = self.publish(a).await?;
            sent.push(a.alert_id);
        }
        if !sent.is_empty() {
            tracing::info!(year, count = sent.len(), "report-missing alerts sent");
        }
        Ok(sent)
    }
}
