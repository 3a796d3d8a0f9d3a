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
    AlertRecord, Changes, DIGEST_PENDING, KIND_ESCALATION, KIND_FINDINGS, KIND_MISSING,
    KIND_RESOLUTION, RULE_MISSING, STATUS_OPEN, STATUS_RESOLVED, alerting_findings, fingerprint,
    format_arrived_message, format_escalation_message, format_message, format_missing_message,
    format_resolution_message, format_update_message, late_finding, level,
};
use crate::clock::{DAY_MS, HOUR_MS, MINUTE_MS, SharedClock};
use crate::config::RosterConfig;
use crate::deliver::{Channel, DeliverError, Deliverer};
use crate::render;
use crate::store::{Arrival, Store, StoreError};
use nianbao_directory::{Date, Directory, MatchKind, Office, Repeats};
use nianbao_model::Severity;
use nianbao_model::StoredFinding;
use nianbao_proto::v1;
use std::collections::{BTreeMap, HashMap, HashSet};
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
    /// Reminders sent for a 整改期限 that passed (notice ids).
    pub overdue: Vec<String>,
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

/// One event of a batch, routed.
struct Routed<'e> {
    ev: &'e v1::ReportValidated,
    meta: &'e v1::EventMeta,
    office: &'e Office,
    /// The agency's id in the directory, when it is there.
    directory_agency: Option<&'e str>,
    note: String,
    agency: String,
    report_key: String,
    this_id: String,
    res_id: String,
}

/// The state a batch of decisions reads, loaded once and kept up to date by the decisions
/// themselves, and the writes they make.
#[derive(Default)]
struct Work {
    /// Alerts by id: the ids this batch's events would create (a redelivery finds them), and
    /// those created by the batch so far.
    by_id: HashMap<String, AlertRecord>,
    /// The latest unresolved alert per (report key, office, kind), as `Store::current_alert`.
    open: HashMap<(String, String, String), AlertRecord>,
    /// First arrival per report key (roster).
    arrivals: HashMap<String, i64>,
    new_arrivals: Vec<Arrival>,
    new_alerts: Vec<AlertRecord>,
    resolved: Vec<String>,
    /// Ids of the alerts to deliver (created or found again), in order.
    deliver: Vec<String>,
}

impl Work {
    /// Keeps `a` as the current alert of its (report, office, kind) if it is the latest
    /// unresolved one (newest first, then the greatest id: `Store::current_alert`'s order).
    fn consider_open(&mut self, a: AlertRecord) {
        if a.status == STATUS_RESOLVED {
            return;
        }
        let key = (a.report_key.clone(), a.office_id.clone(), a.kind.clone());
        match self.open.get(&key) {
            Some(cur) if (cur.created_at_ms, &cur.alert_id) >= (a.created_at_ms, &a.alert_id) => {}
            _ => {
                self.open.insert(key, a);
            }
        }
    }

    fn current(&self, report_key: &str, office_id: &str, kind: &str) -> Option<AlertRecord> {
        self.open
            .get(&(
                report_key.to_string(),
                office_id.to_string(),
                kind.to_string(),
            ))
            .cloned()
    }

    /// A new alert (written at the end of the batch, then delivered); returns it. An unresolved
    /// one becomes its report's current alert: it is the newest.
    fn create(&mut self, a: AlertRecord) -> AlertRecord {
        self.by_id.insert(a.alert_id.clone(), a.clone());
        if a.status != STATUS_RESOLVED {
            let key = (a.report_key.clone(), a.office_id.clone(), a.kind.clone());
            self.open.insert(key, a.clone());
        }
        self.new_alerts.push(a.clone());
        self.deliver.push(a.alert_id.clone());
        a
    }

    /// An alert found again (a redelivered event): delivered again where a channel has no record.
    fn found(&mut self, a: &AlertRecord) -> AlertRecord {
        self.deliver.push(a.alert_id.clone());
        a.clone()
    }

    fn resolve(&mut self, alert_id: &str) {
        self.open.retain(|_, a| a.alert_id != alert_id);
        self.resolved.push(alert_id.to_string());
    }

    /// Records an arrival unless the report arrived before; returns the first arrival's time.
    fn arrive(&mut self, a: Arrival) -> i64 {
        if let Some(&first) = self.arrivals.get(&a.report_key) {
            return first;
        }
        self.arrivals.insert(a.report_key.clone(), a.at_ms);
        let first = a.at_ms;
        self.new_arrivals.push(a);
        first
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
        let mut all = self.on_validated_batch(&[(ev, meta)]).await?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Handles validated reports that arrived together, in their order, as
    /// [`Engine::on_validated`] would one after the other, with a few round trips for the whole
    /// batch: the state the decisions read (alerts by id, the unresolved alerts and first arrivals
    /// of these reports) is loaded at once, the decisions are made in memory (a later event of
    /// the batch sees what an earlier one decided), their writes go in one transaction, then the
    /// notices in one delivery. One result per event; an error fails the whole batch.
    pub async fn on_validated_batch(
        &self,
        events: &[(&v1::ReportValidated, &v1::EventMeta)],
    ) -> Result<Vec<Vec<AlertRecord>>, EngineError> {
        let now = self.now();
        let routed: Vec<Routed<'_>> = events
            .iter()
            .map(|&(ev, meta)| self.route(ev, meta))
            .collect();
        let mut keys: Vec<String> = routed.iter().map(|r| r.report_key.clone()).collect();
        keys.sort();
        keys.dedup();
        // Sorted, so that two batches sharing keys cannot wait for each other.
        let mut held = Vec::with_capacity(keys.len());
        for k in &keys {
            held.push(self.locks.lock(k).await);
        }

        let ids: Vec<String> = routed
            .iter()
            .flat_map(|r| [r.this_id.clone(), r.res_id.clone()])
            .collect();
        let mut work = Work {
            by_id: self
                .store
                .alerts_by_ids(&ids)
                .await?
                .into_iter()
                .map(|a| (a.alert_id.clone(), a))
                .collect(),
            ..Work::default()
        };
        for a in self.store.unresolved_of_keys(&keys).await? {
            work.consider_open(a);
        }
        if self.policy.roster.enabled {
            work.arrivals = self.store.arrivals_of(&keys).await?;
        }

        let mut out: Vec<Vec<AlertRecord>> = routed
            .iter()
            .map(|r| self.decide(r, now, &mut work))
            .collect();

        let created = self
            .store
            .apply(&crate::store::Changes {
                arrivals: &work.new_arrivals,
                alerts: &work.new_alerts,
                resolved: &work.resolved,
                resolved_at_ms: now,
            })
            .await?
            .created;
        // An id that existed already (another writer got there first) stands for what is stored.
        let lost: Vec<String> = work
            .new_alerts
            .iter()
            .filter(|a| !created.contains(&a.alert_id))
            .map(|a| a.alert_id.clone())
            .collect();
        let stored: HashMap<String, AlertRecord> = if lost.is_empty() {
            HashMap::new()
        } else {
            self.store
                .alerts_by_ids(&lost)
                .await?
                .into_iter()
                .map(|a| (a.alert_id.clone(), a))
                .collect()
        };
        for a in out.iter_mut().flatten() {
            if let Some(s) = stored.get(&a.alert_id) {
                *a = s.clone();
            }
        }
        let handed = self.carry_assignments(&work.new_alerts, &created).await?;
        for a in work
            .new_alerts
            .iter()
            .filter(|a| created.contains(&a.alert_id))
        {
            tracing::info!(alert_id = %a.alert_id, kind = %a.kind, office = %a.office_id, agency = %a.agency, year = a.year, findings = a.findings.len(), "alert created");
            // No receiver (no stream open) is not an error.
            let _ = self.alerts.send(Arc::new(a.clone()));
        }
        let deliver: HashSet<&String> = work.deliver.iter().collect();
        let notices: Vec<(crate::render::Notice, Vec<Channel>)> = out
            .iter()
            .flatten()
            .filter(|a| a.digest_state.is_empty() && deliver.contains(&a.alert_id))
            .map(|a| {
                let mut n = render::alert_notice(a);
                if let Some(office) = handed.get(&a.alert_id) {
                    n.office_id.clone_from(office);
                }
                let channels = self.channels_of(&n.office_id);
                (n, channels)
            })
            .collect();
        self.deliverer.deliver_many(&notices).await?;
        drop(held);
        Ok(out)
    }

    /// An alert handed to another office (`ReassignAlert`) stays with it: the alerts created now
    /// about it (a newer version's, its resolution) are handed to that office too. Returns the
    /// office each such alert went to, by alert id. (Escalations are left to the parent of the
    /// office the alert was routed to.)
    async fn carry_assignments(
        &self,
        new_alerts: &[AlertRecord],
        created: &HashSet<String>,
    ) -> Result<HashMap<String, String>, EngineError> {
        let sources: Vec<String> = new_alerts
            .iter()
            .filter(|a| created.contains(&a.alert_id) && !a.source_alert_id.is_empty())
            .map(|a| a.source_alert_id.clone())
            .collect();
        let mut handed = HashMap::new();
        if sources.is_empty() {
            return Ok(handed);
        }
        let work = self.store.work_of(&sources).await?;
        for a in new_alerts.iter().filter(|a| created.contains(&a.alert_id)) {
            let Some(w) = work.get(&a.source_alert_id) else {
                continue;
            };
            if w.assigned_office_id.is_empty() || w.assigned_office_id == a.office_id {
                continue;
            }
            self.store
                .reassign(&a.alert_id, &w.assigned_office_id, &w.assigned_office_name)
                .await?;
            tracing::info!(alert_id = %a.alert_id, source = %a.source_alert_id, office = %w.assigned_office_id, "alert follows its reassigned predecessor");
            handed.insert(a.alert_id.clone(), w.assigned_office_id.clone());
        }
        Ok(handed)
    }

    /// Where an event's alerts go and under which ids.
    fn route<'e>(&'e self, ev: &'e v1::ReportValidated, meta: &'e v1::EventMeta) -> Routed<'e> {
        // Validation tells the agency (submitter, region, printed name); an event without that
        // (no directory there) is routed by the name.
        let route = match self.directory.agency_by_id(&ev.agency_id) {
            Some(a) => self.directory.route_to(a, MatchKind::Name, None),
            None => self.directory.resolve(&ev.agency),
        };
        let office = route.office;
        if let Some(note) = &route.note {
            tracing::debug!(report_id = %meta.report_id, agency = %ev.agency, office = %office.id, how = %route.how, %note, "agency routed");
        }
        // The office knows the agency by the directory's name; the reported form, if different,
        // is in the note.
        let agency = route.agency.unwrap_or(ev.agency.trim()).to_string();
        // Keyed by the agency's id: two counties' 城关镇人民政府 are two reports.
        let report_key = match route.id {
            Some(id) => format!("{id}|{}", ev.year),
            None => format!("?{agency}|{}", ev.year),
        };
        Routed {
            ev,
            meta,
            office,
            directory_agency: route.id,
            note: route.note.clone().unwrap_or_default(),
            agency,
            report_key,
            this_id: AlertRecord::id_for(&meta.report_id, &meta.version, &office.id, KIND_FINDINGS),
            res_id: AlertRecord::id_for(
                &meta.report_id,
                &meta.version,
                &office.id,
                KIND_RESOLUTION,
            ),
        }
    }

    /// The decisions about one event, against the batch's state (which it updates).
    fn decide(&self, r: &Routed<'_>, now: i64, work: &mut Work) -> Vec<AlertRecord> {
        let (ev, meta, office) = (r.ev, r.meta, r.office);
        let (agency, report_key) = (r.agency.as_str(), r.report_key.as_str());
        let min = self.min_severity(office);
        let mut findings = alerting_findings(&ev.findings, min);
        let mut out = Vec::new();

        // A redelivered event: the alerts this version made before are the answer (delivered
        // again where a channel has no record yet).
        for id in [&r.this_id, &r.res_id] {
            if let Some(a) = work.by_id.get(id).cloned() {
                out.push(work.found(&a));
            }
        }
        if !out.is_empty() {
            return out;
        }
        // An earlier year's report loaded for the cross-report rules (backfill): stored by
        // validation for carry-over and 雷同, but news to nobody and no agency's arrival.
        if ev.backfill {
            tracing::debug!(report_id = %meta.report_id, "backfilled report: no alert");
            return out;
        }

        // The roster: arrival, lateness, and a missing-report alert that this report closes.
        // Only a report whose agency is verified (submitted with the agency's own credential, or by
        // an operator naming it) closes an alert: a document merely printing the name speaks for
        // nobody. A crawler's find on the agency's own 专栏, with the date it was first seen there,
        // is evidence of publication: it counts as the arrival (and for lateness), closing nothing.
        let verified = ev.agency_verified;
        if self.policy.roster.enabled
            && (verified || ev.publication_witnessed)
            && ev.year > 0
            && let Some(a) = r
                .directory_agency
                .and_then(|id| self.directory.agency_by_id(id))
        {
            // Arrival: the publication date given at submission, else now (the service's clock;
            // the event arrives seconds after the submission). What counts is the report's first
            // arrival: a correction sent after the deadline does not make a report late.
            let published = Date::parse(&ev.published_on);
            let at_ms = published.map_or(now, |d| d.start_ms_cst());
            let first_ms = work.arrive(Arrival {
                report_key: report_key.to_string(),
                agency: a.id.clone(),
                year: ev.year,
                report_id: meta.report_id.clone(),
                at_ms,
            });
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
            if verified && let Some(missing) = work.current(report_key, &office.id, KIND_MISSING) {
                let id = AlertRecord::id_for(&meta.report_id, &meta.version, &office.id, "arrived");
                let mut res = self.new_alert(office, KIND_RESOLUTION, id);
                self.fill_report(&mut res, ev, meta, agency, report_key);
                res.status = STATUS_RESOLVED.to_string();
                res.resolved_at_ms = now;
                res.source_alert_id = missing.alert_id.clone();
                res.message = format_arrived_message(agency, ev.year, &missing);
                out.push(work.create(res));
                work.resolve(&missing.alert_id);
            }
        }

        let previous = if verified {
            work.current(report_key, &office.id, KIND_FINDINGS)
        } else {
            None
        };
        if previous.is_some() {
            // The office asked for a correction: that the report was replaced is expected here,
            // not news (report-changed keeps flagging replacements nobody asked for).
            findings.retain(|f| f.rule != RULE_REPORT_CHANGED);
        }
        if findings.is_empty() {
            if let Some(prev) = previous {
                let mut res = self.new_alert(office, KIND_RESOLUTION, r.res_id.clone());
                self.fill_report(&mut res, ev, meta, agency, report_key);
                res.status = STATUS_RESOLVED.to_string();
                res.resolved_at_ms = now;
                res.source_alert_id = prev.alert_id.clone();
                res.message = format_resolution_message(agency, ev.year, &prev);
                res.route_note = r.note.clone();
                out.push(work.create(res));
                work.resolve(&prev.alert_id);
            }
            return out;
        }
        let fp = fingerprint(&findings);
        if let Some(prev) = &previous
            && prev.fingerprint == fp
        {
            tracing::info!(alert_id = %prev.alert_id, report_id = %meta.report_id, "same findings as the open alert about this report: nothing sent");
            out.push(prev.clone());
            return out;
        }
        let mut a = self.new_alert(office, KIND_FINDINGS, r.this_id.clone());
        self.fill_report(&mut a, ev, meta, agency, report_key);
        a.message = match &previous {
            Some(prev) => format_update_message(
                agency,
                ev.year,
                &findings,
                &Changes::between(&prev.findings, &findings),
                office.repeats == Repeats::Quiet,
                &r.note,
            ),
            None => format_message(agency, ev.year, &findings, &r.note),
        };
        a.has_error = findings.iter().any(|f| level(f) == Severity::Error);
        a.fingerprint = fp;
        a.findings = findings;
        a.route_note = r.note.clone();
        if let Some(prev) = &previous {
            a.source_alert_id = prev.alert_id.clone();
        }
        out.push(work.create(a));
        if let Some(prev) = previous {
            // Superseded by the newer version's alert.
            work.resolve(&prev.alert_id);
        }
        out
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
            overdue: self.rectify_reminders().await?,
        })
    }

    /// Reminds, once per deadline, the office an alert is with that the alert's 整改期限 passed
    /// (the day after it, Beijing time) while the report was not corrected.
    pub async fn rectify_reminders(&self) -> Result<Vec<String>, EngineError> {
        let now = self.now();
        let today = nianbao_directory::Date::from_ms_cst(now).to_string();
        let mut sent = Vec::new();
        for (a, rectify_by, office_id) in self.store.rectify_overdue(&today).await? {
            let office = self
                .directory
                .office(&office_id)
                .unwrap_or_else(|| self.directory.default_office());
            let notice = render::rectify_overdue_notice(&a, office, &rectify_by, now);
            // Delivered first (idempotent by notice id), then marked: a crash in between sends
            // it again at the next tick under the same id.
            self.deliverer
                .deliver(&notice, &self.channels(office))
                .await?;
            if self
                .store
                .mark_rectify_reminded(&a.alert_id, &rectify_by)
                .await?
            {
                tracing::info!(alert_id = %a.alert_id, office = %office.id, rectify_by = %rectify_by, "整改期限 passed; office reminded");
                sent.push(notice.id);
            }
        }
        Ok(sent)
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
            if arrived.contains(&agency.id) {
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
                &format!("missing:{}", agency.id),
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
            a.report_key = format!("{}|{year}", agency.id);
            a.has_error = true;
            a.findings = vec![StoredFinding {
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
