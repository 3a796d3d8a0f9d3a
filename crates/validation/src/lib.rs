//! The validation service (`nianbao-validation`).
//!
//! - **Pipeline**: consumes `report.extracted.*` from the durable queue `nianbao.validation`, runs the
//!   single-report rules (the same [`Checker`] as `nianbao check`) and the cross-report rules
//!   ([`cross`]) against its own store of earlier reports ([`store`]), stores the report and publishes
//!   `report.validated.<region>` with every finding, then acknowledges.
//! - **gRPC** `nianbao.v1.Validation`: `Validate` (synchronous check of a document for its author:
//!   exactly what `nianbao check` gives) and `ListRules` (the catalogue with this deployment's
//!   severities), plus health and reflection.
//!
//! Delivery is at-least-once, so validation is idempotent on (report id, version): a re-delivered
//! event finds its row and re-publishes the findings stored with it, neither adding a row nor
//! comparing the report with itself.
//!
//! Observability: health is SERVING while the database answers, the broker is connected and the
//! consumer runs; `[metrics] listen` serves `nianbao_reports_total{stage="validated"}` and
//! `nianbao_findings_total{rule,severity}` among the consumer metrics.

pub mod cross;
pub mod fingerprint;
pub mod store;

use cross::{Context, ReportRow, Similarity};
use nianbao_bus::{
    Bus, BusConfig, BusError, Envelope, Handler, Message, Outcome, QueueSpec, Stage,
};
use nianbao_directory::{Basis, Claims, Directory, Identification};
use nianbao_model::finding::RuleScope;
use nianbao_model::{Extraction, Finding, RuleId};
use nianbao_proto::v1;
use nianbao_proto::v1::validation_server::{Validation, ValidationServer};
use nianbao_rules::{AgencyKind, AgencyLevel, AgencyProfile, Checker, RuleConfig};
use nianbao_service::{
    Metrics, Observability, Readiness, ServiceError, grpc_health, grpc_reflection, load_config,
    now_ms,
};
use prost::Message as _;
use serde::Deserialize;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use store::{Store, StoreError};
use tokio::sync::{Mutex, watch};
use tonic_health::ServingStatus;
use tracing::Instrument;

/// The work queue of this service.
pub const QUEUE: &str = "nianbao.validation";
/// The stage name in `ReportFailed` events.
pub const STAGE: &str = "validation";

const DEFAULTS: &str = include_str!("../../../deploy/config/validation.toml");

/// `[similarity]`: thresholds of the duplicate rules (see `deploy/config/validation.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SimilarityConfig {
    pub threshold: f64,
    pub max_hamming: u32,
    pub min_shingles: u32,
    /// Sketches (2 KiB each) of the most recent reports kept in memory.
    pub sketch_cache: usize,
}

impl Default for SimilarityConfig {
    fn default() -> Self {
        let s = Similarity::default();
        SimilarityConfig {
            threshold: s.threshold,
            max_hamming: s.max_hamming,
            min_shingles: s.min_shingles,
            sketch_cache: DEFAULT_SKETCH_CACHE,
        }
    }
}

/// Sketches kept in memory by default: 32 MiB. Every sketch a new report is compared with that is
/// not in memory is read from the store and decoded (4 KiB of hex); with 4,096, a run of 16,000
/// generated reports spent a tenth of validation's time doing that.
pub const DEFAULT_SKETCH_CACHE: usize = 16_384;

/// The service's configuration; every key is documented in `deploy/config/validation.toml`. Its
/// `Debug` hides the passwords of the database and broker URLs.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub rules_config: String,
    /// The directory file (as ingest and notification read it): reports are known by their
    /// directory agency id, not by the name they print. Empty: by the printed name.
    pub directory: String,
    pub max_bytes: usize,
    /// `[limits]`: what reading one document may cost (as in the extraction workers).
    pub limits: nianbao_extract::LimitsConfig,
    pub similarity: SimilarityConfig,
    /// `Validate` calls run at once (each extracts a document on the blocking pool); more wait.
    pub validate_concurrency: usize,
    /// A `Validate` call not done within this many milliseconds ends with DEADLINE_EXCEEDED.
    pub validate_timeout_ms: u64,
    pub tls: nianbao_auth::ServerTlsConfig,
    pub auth: nianbao_auth::AuthConfig,
    pub grpc: nianbao_service::GrpcLimits,
    pub bus: BusConfig,
    pub log: nianbao_telemetry::LogConfig,
    pub telemetry: nianbao_telemetry::TraceConfig,
    pub metrics: nianbao_service::MetricsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:50053".into(),
            data_dir: "data/validation".into(),
            database_url: String::new(),
            rules_config: String::new(),
            directory: String::new(),
            max_bytes: 20 * 1024 * 1024,
            limits: nianbao_extract::LimitsConfig::default(),
            similarity: SimilarityConfig::default(),
            validate_concurrency: 2,
            validate_timeout_ms: 30_000,
            tls: nianbao_auth::ServerTlsConfig::default(),
            auth: nianbao_auth::AuthConfig::default(),
            grpc: nianbao_service::GrpcLimits::default(),
            bus: BusConfig::default(),
            log: nianbao_telemetry::LogConfig::default(),
            telemetry: nianbao_telemetry::TraceConfig::default(),
            metrics: nianbao_service::MetricsConfig::default(),
        }
    }
}

/// Every field, the URLs without passwords. Destructured so that a new field cannot be forgotten
/// (a new secret must be hidden here).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config {
            listen,
            data_dir,
            database_url,
            rules_config,
            directory,
            max_bytes,
            limits,
            similarity,
            validate_concurrency,
            validate_timeout_ms,
            tls,
            auth,
            grpc,
            bus,
            log,
            telemetry,
            metrics,
        } = self;
        f.debug_struct("Config")
            .field("listen", listen)
            .field("data_dir", data_dir)
            .field("database_url", &nianbao_service::redact(database_url))
            .field("rules_config", rules_config)
            .field("directory", directory)
            .field("max_bytes", max_bytes)
            .field("limits", limits)
            .field("similarity", similarity)
            .field("validate_concurrency", validate_concurrency)
            .field("validate_timeout_ms", validate_timeout_ms)
            .field("tls", tls)
            .field("auth", auth)
            .field("grpc", grpc)
            .field("bus", bus)
            .field("log", log)
            .field("telemetry", telemetry)
            .field("metrics", metrics)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("rule configuration {path}: {source}")]
    Rules {
        path: String,
        source: nianbao_rules::ConfigError,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] nianbao_directory::DirectoryError),
    #[error(transparent)]
    Auth(#[from] nianbao_auth::AuthError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("gRPC server task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Loads the configuration: embedded defaults, then `file`, then `NIANBAO_*` variables.
pub fn load(file: Option<&Path>) -> Result<Config, Error> {
    Ok(load_config(DEFAULTS, file)?)
}

impl Config {
    /// The database URL: the configured one, else SQLite under `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database_url.trim().is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("validation.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }

    /// The rule configuration named by `rules_config`, or the catalogue's defaults.
    pub fn rule_config(&self) -> Result<RuleConfig, Error> {
        let path = self.rules_config.trim();
        if path.is_empty() {
            return Ok(RuleConfig::default());
        }
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_string(),
            source,
        })?;
        RuleConfig::from_toml(&text).map_err(|source| Error::Rules {
            path: path.to_string(),
            source,
        })
    }

    /// The directory named by `directory`, or none (reports known by the names they print).
    pub fn load_directory(&self) -> Result<Directory, Error> {
        Ok(match self.directory.trim() {
            "" => Directory::empty("default"),
            path => Directory::load(Path::new(path))?,
        })
    }

    pub fn similarity(&self) -> Similarity {
        Similarity {
            threshold: self.similarity.threshold,
            max_hamming: self.similarity.max_hamming,
            min_shingles: self.similarity.min_shingles,
        }
    }
}

/// The queue this service consumes.
pub fn queue_spec() -> QueueSpec {
    QueueSpec::new(QUEUE, &[Stage::Extracted.pattern()])
}

/// The advisory lock (PostgreSQL) that serialises the decision section across the instances of
/// validation sharing one database.
const DECISION_LOCK: &str = "nianbao-validation:decide";

/// Single-report plus cross-report validation against the store.
pub struct Validator {
    checker: Arc<Checker>,
    sim: Similarity,
    store: Store,
    /// Who each report is (its directory agency id): the key of every same-agency rule.
    directory: Arc<Directory>,
    /// Validation of one report reads the store, decides and writes its row; serialising that
    /// section keeps two near-identical reports arriving together from missing each other and keeps
    /// `received_order` unique. The single-report check runs outside it. The lock also guards an
    /// in-memory index of what the store holds, so that a report costs a constant number of queries
    /// however many reports came before it (the store is the truth; the index is rebuilt from it on
    /// first use after a start).
    lock: Mutex<Index>,
}

/// Light rows (no sketch) per year and the next arrival number, mirroring the store, and the
/// sketches of recent reports.
struct Index {
    next_order: Option<i64>,
    years: std::collections::HashMap<i32, YearIndex>,
    sketches: SketchCache,
}

impl Index {
    fn with_cache(capacity: usize) -> Index {
        Index {
            next_order: None,
            years: Default::default(),
            sketches: SketchCache::with_capacity(capacity),
        }
    }

    /// Drops what the index holds (it may hold rows that were not stored): it is read from the
    /// store again on next use.
    fn forget(&mut self) {
        *self = Index::with_cache(self.sketches.capacity);
    }
}

/// One year's stored reports, as every new report of that year is checked against them: the light
/// rows, their simhash and size side by side (the prefilter scans every row of the year for each
/// new report; a province's year is tens of thousands of rows, so the scan touches two integers a
/// row instead of the row's strings), and each agency's rows (the same-agency rules look only
/// there).
#[derive(Default)]
struct YearIndex {
    rows: Vec<cross::ReportRow>,
    /// Per row: (simhash, distinct shingles); 0 shingles for a row without an agency, which is
    /// nobody's peer (the prefilter refuses small texts).
    prints: Vec<(u64, u32)>,
    by_agency: std::collections::HashMap<String, Vec<usize>>,
}

impl YearIndex {
    fn new(rows: Vec<cross::ReportRow>) -> YearIndex {
        let mut year = YearIndex::default();
        for row in rows {
            year.push(row);
        }
        year
    }

    /// Appends a row (its sketch is not kept here; see `SketchCache`).
    fn push(&mut self, mut row: cross::ReportRow) {
        row.fingerprint.sketch = Vec::new();
        let shingles = if row.agency.is_empty() {
            0
        } else {
            row.fingerprint.shingles
        };
        self.prints.push((row.fingerprint.simhash, shingles));
        if !row.agency.is_empty() {
            self.by_agency
                .entry(row.agency.clone())
                .or_default()
                .push(self.rows.len());
        }
        self.rows.push(row);
    }

    /// The agency's rows, in arrival order.
    fn of_agency<'a>(&'a self, agency: &str) -> impl Iterator<Item = &'a cross::ReportRow> {
        self.by_agency
            .get(agency)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.rows.get(i))
    }

    /// Rows of other agencies whose simhash and size pass the prefilter against `cur`.
    fn candidates<'a>(
        &'a self,
        cur: &'a cross::ReportRow,
        sim: &'a Similarity,
    ) -> impl Iterator<Item = &'a cross::ReportRow> {
        let fp = &cur.fingerprint;
        // A text too short to be called a copy has no peers: skip the scan.
        let scan = if fp.shingles >= sim.min_shingles {
            self.prints.as_slice()
        } else {
            &[]
        };
        scan.iter()
            .enumerate()
            .filter(move |(_, (simhash, shingles))| {
                sim.prefilter_parts(fp.simhash, fp.shingles, *simhash, *shingles)
            })
            .filter_map(|(i, _)| self.rows.get(i))
            .filter(move |o| o.agency != cur.agency)
    }
}

/// The full sketches (2 KiB each) of the most recent reports, by (report id, version). The index
/// keeps rows light so that a province's year fits in memory; but the peers a new report is
/// compared with are mostly recent reports, and reading and decoding their stored sketches again
/// for every new report was a large part of validation's time.
struct SketchCache {
    capacity: usize,
    /// Report id → version → sketch: nested so that a lookup, made for every peer compared, borrows
    /// its keys instead of allocating a `(String, String)`.
    map: std::collections::HashMap<String, std::collections::HashMap<String, Vec<u64>>>,
    /// Insertion order, for evicting the oldest.
    order: std::collections::VecDeque<(String, String)>,
}

impl SketchCache {
    fn with_capacity(capacity: usize) -> SketchCache {
        SketchCache {
            capacity,
            map: Default::default(),
            order: Default::default(),
        }
    }

    fn get(&self, report_id: &str, version: &str) -> Option<&Vec<u64>> {
        self.map.get(report_id)?.get(version)
    }

    fn put(&mut self, report_id: &str, version: &str, sketch: &[u64]) {
        if sketch.is_empty() {
            return;
        }
        let versions = self.map.entry(report_id.to_string()).or_default();
        if versions
            .insert(version.to_string(), sketch.to_vec())
            .is_none()
        {
            self.order
                .push_back((report_id.to_string(), version.to_string()));
        }
        while self.order.len() > self.capacity {
            let Some((id, version)) = self.order.pop_front() else {
                break;
            };
            if let Some(versions) = self.map.get_mut(&id) {
                versions.remove(&version);
                if versions.is_empty() {
                    self.map.remove(&id);
                }
            }
        }
    }
}

impl Validator {
    pub fn new(checker: Arc<Checker>, sim: Similarity, store: Store) -> Validator {
        Validator {
            checker,
            sim,
            store,
            directory: Arc::new(Directory::empty("default")),
            lock: Mutex::new(Index::with_cache(DEFAULT_SKETCH_CACHE)),
        }
    }

    /// This validator, knowing reports by their agency in `directory`.
    pub fn with_directory(mut self, directory: Arc<Directory>) -> Validator {
        self.directory = directory;
        self
    }

    /// Whose report it is: the one decision both the rules' key and the published event use.
    fn who(&self, named: &str, region: &str, x: &Extraction) -> Identification<'_> {
        self.directory.identify(&Claims {
            named: Some(named),
            region: Some(region),
            document: x.agency.as_deref(),
        })
    }

    /// The row of one input, keyed by its directory agency when it can be told, that agency's
    /// place (kind and level) for the rules, and the disagreements between submission and document
    /// as findings.
    fn identify(&self, i: &Input<'_>) -> (ReportRow, Option<AgencyProfile>, Vec<Finding>) {
        let mut row =
            ReportRow::from_extraction(i.report_id, i.version, i.agency_hint, i.year_hint, i.x);
        let who = self.who(i.named, i.region, i.x);
        let rules = self.checker.config();
        if let Some(a) = who.agency {
            row.agency = a.id.clone();
            row.agency_name = a.name.clone();
        }
        let findings = who
            .conflicts
            .iter()
            .filter(|_| rules.is_enabled(RuleId::AgencyConflict))
            .map(|c| {
                let mut f = Finding::new(RuleId::AgencyConflict, c.to_string());
                f.severity = rules.severity(RuleId::AgencyConflict);
                f
            })
            .collect();
        (row, who.agency.map(profile_of), findings)
    }

    /// This validator, keeping the sketches of the `capacity` most recent reports in memory.
    pub fn with_sketch_cache(mut self, capacity: usize) -> Validator {
        *self.lock.get_mut() = Index::with_cache(capacity);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// All findings for one extracted report (single-report, then cross-report), storing the report.
    /// Idempotent on (report id, version).
    pub async fn validate(
        &self,
        report_id: &str,
        version: &str,
        agency_hint: &str,
        year_hint: i32,
        x: &Extraction,
    ) -> Result<Vec<Finding>, StoreError> {
        let input = Input {
            report_id,
            version,
            agency_hint,
            named: "",
            region: "",
            year_hint,
            x,
        };
        self.validate_batch(&[input])
            .await
            .pop()
            .unwrap_or_else(|| Err(StoreError::Batch("no result".into())))
    }

    /// [`Validator::validate`] for several reports, in order, as if one after the other: a report
    /// is compared with the earlier ones of the same batch too. The store is read with a few
    /// queries for the whole batch and written with one insert, so a batch costs about as many
    /// round trips as one report. One result per input.
    pub async fn validate_batch(
        &self,
        inputs: &[Input<'_>],
    ) -> Vec<Result<Vec<Finding>, StoreError>> {
        use std::collections::HashMap;
        // The single-report checks need no store: outside the lock.
        let mut checked: Vec<(Vec<Finding>, ReportRow)> = inputs
            .iter()
            .map(|i| {
                let (row, profile, conflicts) = self.identify(i);
                let mut findings = self.checker.check_as(i.x, profile);
                findings.extend(conflicts);
                (findings, row)
            })
            .collect();
        let mut index = self.lock.lock().await;
        // The same section across instances: the lock is held until this batch's rows are
        // stored, and the index first takes in what other instances stored meanwhile.
        let section = match self.store.db().exclusive(&[DECISION_LOCK]).await {
            Ok(s) => s,
            Err(e) => return all_failed(&e.into(), inputs.len()),
        };
        if let Err(e) = self.catch_up(&mut index).await {
            index.forget();
            return all_failed(&e, inputs.len());
        }
        let keys: Vec<(&str, &str)> = inputs.iter().map(|i| (i.report_id, i.version)).collect();
        let known = match self.store.findings_of_many(&keys).await {
            Ok(k) => k,
            Err(e) => return all_failed(&e, inputs.len()),
        };
        let prev_keys: Vec<(&str, i32)> = checked
            .iter()
            .filter(|(_, r)| !r.agency.is_empty() && r.year > 0)
            .map(|(_, r)| (r.agency.as_str(), r.year - 1))
            .collect();
        let previous = match self.store.latest_of_many(&prev_keys).await {
            Ok(p) => p,
            Err(e) => return all_failed(&e, inputs.len()),
        };
        // What this batch decided: by (report id, version) the findings, in order the new rows.
        let mut decided: HashMap<(String, String), Vec<Finding>> = HashMap::new();
        let mut new_rows: Vec<(ReportRow, String)> = Vec::new();
        let mut results = Vec::with_capacity(inputs.len());
        for (findings, row) in checked.iter_mut() {
            let key = (row.report_id.clone(), row.version.clone());
            if let Some(json) = known.get(&key) {
                results.push(
                    serde_json::from_str::<Vec<Finding>>(json)
                        .map_err(|e| StoreError::Corrupt(key.0.clone(), e.to_string())),
                );
                continue;
            }
            if let Some(f) = decided.get(&key) {
                results.push(Ok(f.clone()));
                continue;
            }
            let decision = self
                .decide(row, findings, &mut index, &previous, &new_rows)
                .await;
            match decision {
                Ok(json) => {
                    decided.insert(key, findings.clone());
                    results.push(Ok(std::mem::take(findings)));
                    new_rows.push((row.clone(), json));
                }
                Err(e) => {
                    // The index may now hold rows that will not be stored: rebuild it from the
                    // store next time.
                    index.forget();
                    return all_failed(&e, inputs.len());
                }
            }
        }
        let rows: Vec<(&ReportRow, &str)> = new_rows.iter().map(|(r, j)| (r, j.as_str())).collect();
        if let Err(e) = self.store.insert_many(&rows, now_ms()).await {
            index.forget();
            return all_failed(&e, inputs.len());
        }
        if let Err(e) = section.release().await {
            // The rows are stored; the lock goes with the transaction anyway.
            tracing::warn!(error = %e, "could not end the decision section cleanly");
        }
        results
    }

    /// Takes into the index the rows other instances stored since it was last read (several
    /// validation instances share one database): without them a report would not be compared
    /// with reports another instance decided, and arrival numbers would repeat. On PostgreSQL
    /// only: one process owns a SQLite file.
    async fn catch_up(&self, index: &mut Index) -> Result<(), StoreError> {
        let Some(next) = index.next_order else {
            return Ok(());
        };
        if !self.store.db().is_postgres() {
            return Ok(());
        }
        let rows = self.store.stored_since(next).await?;
        if let Some(last) = rows.last() {
            index.next_order = Some(last.received_order + 1);
            tracing::debug!(
                rows = rows.len(),
                next = last.received_order + 1,
                "took in reports validated by other instances"
            );
        }
        for row in rows {
            if let Some(year) = index.years.get_mut(&row.year) {
                year.push(row);
            }
        }
        Ok(())
    }

    /// Cross-report findings for one new row (appended to `findings`), its arrival number, and the
    /// row in the index; returns the findings JSON to store. `pending` are the rows of this batch
    /// decided before it, not stored yet.
    async fn decide(
        &self,
        row: &mut ReportRow,
        findings: &mut Vec<Finding>,
        index: &mut Index,
        previous: &std::collections::HashMap<(String, i32), ReportRow>,
        pending: &[(ReportRow, String)],
    ) -> Result<String, StoreError> {
        let order = match index.next_order {
            Some(n) => n,
            None => self.store.next_order().await?,
        };
        row.received_order = order;
        let ctx = self.context(row, index, previous, pending).await?;
        findings.extend(cross::evaluate(row, &ctx, &self.sim, self.checker.config()));
        let json = serde_json::to_string(&findings)
            .map_err(|e| StoreError::Corrupt(row.report_id.clone(), e.to_string()))?;
        index.next_order = Some(order + 1);
        index
            .sketches
            .put(&row.report_id, &row.version, &row.fingerprint.sketch);
        if row.year > 0
            && let Some(year) = index.years.get_mut(&row.year)
        {
            // Light: the sketch stays out of the copy (the cache above holds it).
            let sketch = std::mem::take(&mut row.fingerprint.sketch);
            year.push(row.clone());
            row.fingerprint.sketch = sketch;
        }
        Ok(json)
    }

    /// What the cross-report rules need: from the store, the index and the rows of this batch
    /// decided before this one.
    async fn context(
        &self,
        row: &ReportRow,
        index: &mut Index,
        previous: &std::collections::HashMap<(String, i32), ReportRow>,
        pending: &[(ReportRow, String)],
    ) -> Result<Context, StoreError> {
        let mut ctx = Context::default();
        if row.agency.is_empty() || row.year <= 0 {
            return Ok(ctx);
        }
        // The latest report of the year before: of this batch if any (they arrived later), else
        // from the store.
        ctx.previous_year = pending
            .iter()
            .rev()
            .map(|(r, _)| r)
            .find(|r| r.agency == row.agency && r.year == row.year - 1)
            .or_else(|| previous.get(&(row.agency.clone(), row.year - 1)))
            .cloned();
        if let std::collections::hash_map::Entry::Vacant(slot) = index.years.entry(row.year) {
            let rows = self
                .store
                .same_year_before(row.year, row.received_order)
                .await?;
            slot.insert(YearIndex::new(rows));
        }
        let Some(year) = index.years.get(&row.year) else {
            return Ok(ctx);
        };
        // `report-changed` names the latest earlier version that differs: only that row is copied.
        ctx.same_agency_year.extend(
            year.of_agency(&row.agency)
                .filter(|o| o.version != row.version)
                .max_by_key(|o| o.received_order)
                .cloned(),
        );
        // Many rows of a year may pass the prefilter (boilerplate narratives), few are near-identical:
        // compare each candidate with the sketch where it lies (this batch, the cache) and copy only
        // the matches into the context, which `duplicate_peer` reads. Only rows whose sketch is in
        // neither place are copied, to load their sketches from the store.
        let near = |other: &ReportRow, sketch: &[u64]| {
            let fp = &other.fingerprint;
            self.sim
                .near_identical_parts(&row.fingerprint, fp.simhash, fp.shingles, sketch)
                .is_some()
        };
        let mut unloaded = Vec::new();
        for other in year.candidates(row, &self.sim) {
            let in_batch = pending
                .iter()
                .find(|(p, _)| p.report_id == other.report_id && p.version == other.version)
                .map(|(p, _)| &p.fingerprint.sketch);
            match in_batch.or_else(|| index.sketches.get(&other.report_id, &other.version)) {
                Some(sketch) if near(other, sketch) => {
                    let mut peer = other.clone();
                    peer.fingerprint.sketch = sketch.clone();
                    ctx.peers.push(peer);
                }
                Some(_) => {}
                None => unloaded.push(other.clone()),
            }
        }
        self.store.load_sketches(&mut unloaded).await?;
        for peer in &unloaded {
            index
                .sketches
                .put(&peer.report_id, &peer.version, &peer.fingerprint.sketch);
        }
        ctx.peers.extend(
            unloaded
                .into_iter()
                .filter(|peer| near(peer, &peer.fingerprint.sketch)),
        );
        Ok(ctx)
    }
}

/// What the directory says about an agency's place, as the rules read it.
fn profile_of(a: &nianbao_directory::Agency) -> AgencyProfile {
    use nianbao_directory::{AgencyKind as Dk, Level};
    let kind = match a.kind() {
        Dk::Government => AgencyKind::Government,
        Dk::Department => AgencyKind::Department,
        Dk::Township => AgencyKind::Township,
        Dk::Street => AgencyKind::Street,
    };
    let level = match (kind, a.level()) {
        (AgencyKind::Township | AgencyKind::Street, _) => AgencyLevel::Township,
        (_, Some(Level::National | Level::Province)) => AgencyLevel::Province,
        (_, Some(Level::City)) => AgencyLevel::City,
        (_, Some(Level::County)) => AgencyLevel::County,
        (_, None) => AgencyProfile::from_name(&a.name).level,
    };
    AgencyProfile { level, kind }
}

/// One report for [`Validator::validate_batch`].
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub report_id: &'a str,
    pub version: &'a str,
    /// The agency the event names, used when the document names none.
    pub agency_hint: &'a str,
    /// The agency the submission named (its submitter's credential, or an operator's or crawler's
    /// naming): an id or a name; "" for none.
    pub named: &'a str,
    /// The region code given at submission ("000000" or "" for none).
    pub region: &'a str,
    pub year_hint: i32,
    pub x: &'a Extraction,
}

fn all_failed(e: &StoreError, n: usize) -> Vec<Result<Vec<Finding>, StoreError>> {
    (0..n)
        .map(|_| Err(StoreError::Batch(e.to_string())))
        .collect()
}

/// The `nianbao.validation` consumer.
pub struct Worker {
    validator: Arc<Validator>,
    bus: Bus,
    /// Where findings are counted.
    metrics: Metrics,
}

impl Worker {
    pub fn new(validator: Arc<Validator>, bus: Bus) -> Worker {
        Worker {
            validator,
            bus,
            metrics: Metrics::default(),
        }
    }

    /// This worker, counting the findings of the reports it validates into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Worker {
        self.metrics = metrics;
        self
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A decoded `report.extracted` event.
struct Extracted {
    meta: v1::EventMeta,
    ev: v1::ReportExtracted,
    x: Extraction,
}

fn decode_extracted(msg: &Message) -> Result<Extracted, String> {
    let ev = v1::ReportExtracted::decode(msg.body.as_slice())
        .map_err(|e| format!("not a ReportExtracted: {e}"))?;
    let Some(meta) = ev.meta.clone().filter(|m| !m.report_id.is_empty()) else {
        return Err("ReportExtracted without report id".into());
    };
    let x: Extraction = serde_json::from_slice(&ev.extraction_json)
        .map_err(|e| format!("extraction_json is not an Extraction: {e}"))?;
    Ok(Extracted { meta, ev, x })
}

impl Worker {
    /// Publishes `report.validated` for one validated report.
    async fn publish(&self, msg: &Message, e: &Extracted, findings: &[Finding]) -> Outcome {
        let meta = &e.meta;
        // The same decision as the one the rules keyed the report by (a lookup, not stored).
        let who = self.validator.who(&e.ev.agency_hint, &meta.region, &e.x);
        let agency = who.agency;
        // Only a crawler submits unverified, names the agency and states a publication date (an
        // agency may not state the date; an operator naming an agency is verified).
        let witnessed = !e.ev.agency_verified
            && agency.is_some()
            && who.basis == Basis::Submission
            && !e.ev.published_on.trim().is_empty();
        let out = v1::ReportValidated {
            meta: Some(v1::EventMeta {
                attempt: 1,
                emitted_at_ms: now_ms(),
                ..meta.clone()
            }),
            agency: agency.map_or_else(|| e.ev.agency.clone(), |a| a.name.clone()),
            year: e.ev.year,
            findings: findings.iter().map(v1::Finding::from).collect(),
            published_on: e.ev.published_on.clone(),
            agency_verified: e.ev.agency_verified,
            agency_id: agency.map(|a| a.id.clone()).unwrap_or_default(),
            publication_witnessed: witnessed,
            backfill: e.ev.backfill,
        };
        let env = Envelope {
            message_id: format!("{}:{}:validated", meta.report_id, meta.version),
            traceparent: non_empty(&meta.traceparent).or_else(|| msg.traceparent.clone()),
        };
        match self
            .bus
            .publish(Stage::Validated, &meta.region, &out.encode_to_vec(), &env)
            .await
        {
            Ok(()) => {
                tracing::debug!(report_id = %meta.report_id, findings = findings.len(), "validated");
                for f in findings {
                    self.metrics.finding(f.rule.as_str(), f.severity.as_str());
                }
                Outcome::Done
            }
            Err(e) => Outcome::Retry(format!("publish report.validated: {e}")),
        }
    }
}

impl Handler for Worker {
    async fn handle(&self, msg: &Message) -> Outcome {
        self.handle_batch(std::slice::from_ref(msg))
            .await
            .pop()
            .unwrap_or_else(|| Outcome::Retry("internal: no outcome".into()))
    }

    /// Validation reads and writes the store and publishes for every report: batches share the
    /// round trips (see [`Validator::validate_batch`]) and their publisher confirms overlap.
    fn batched(&self) -> bool {
        true
    }

    async fn handle_batch(&self, msgs: &[Message]) -> Vec<Outcome> {
        let decoded: Vec<Result<Extracted, String>> = msgs.iter().map(decode_extracted).collect();
        let valid: Vec<&Extracted> = decoded.iter().filter_map(|d| d.as_ref().ok()).collect();
        let inputs: Vec<Input<'_>> = valid
            .iter()
            .map(|e| Input {
                report_id: &e.meta.report_id,
                version: &e.meta.version,
                agency_hint: &e.ev.agency,
                named: &e.ev.agency_hint,
                region: &e.meta.region,
                year_hint: e.ev.year,
                x: &e.x,
            })
            .collect();
        let mut validated = self.validator.validate_batch(&inputs).await.into_iter();
        let outcomes = decoded.iter().zip(msgs).map(|(d, msg)| {
            let result = d.as_ref().map(|e| (e, validated.next()));
            async move {
                match result {
                    Err(invalid) => Outcome::Invalid(invalid.clone()),
                    Ok((e, Some(Ok(findings)))) => {
                        // In the delivery's span: the next stage's trace continues from it.
                        self.publish(msg, e, &findings)
                            .instrument(msg.span.clone())
                            .await
                    }
                    Ok((_, Some(Err(err)))) => Outcome::Retry(format!("store: {err}")),
                    Ok((_, None)) => Outcome::Retry("internal: no validation result".into()),
                }
            }
        });
        let outcomes: Vec<_> = outcomes.collect();
        futures_util::future::join_all(outcomes).await
    }

    async fn parked(&self, msg: &Message, reason: &str) {
        publish_failed(&self.bus, msg, reason).await;
    }
}

/// Publishes `report.failed` for a message parked after its last attempt (ingest marks the report).
async fn publish_failed(bus: &Bus, msg: &Message, reason: &str) {
    if let Some(meta) = v1::ReportExtracted::decode(msg.body.as_slice())
        .ok()
        .and_then(|e| e.meta)
    {
        nianbao_service::report_failed(bus, &meta, msg, STAGE, reason).await;
    }
}

/// The gRPC `nianbao.v1.Validation` service.
pub struct Api {
    checker: Arc<Checker>,
    limits: nianbao_extract::Limits,
    /// `validate_concurrency`: a flood of Validate calls queues here instead of filling the
    /// blocking pool (the consumer's extractions share it).
    slots: Arc<tokio::sync::Semaphore>,
    deadline: Duration,
}

impl Api {
    pub fn new(checker: Arc<Checker>, limits: nianbao_extract::Limits) -> Api {
        Api::bounded(checker, limits, 2, Duration::from_secs(30))
    }

    pub fn bounded(
        checker: Arc<Checker>,
        limits: nianbao_extract::Limits,
        concurrency: usize,
        deadline: Duration,
    ) -> Api {
        Api {
            checker,
            limits,
            slots: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            deadline,
        }
    }
}

/// Who may self-check a report with `Validate` (and list the rules): every credential but the
/// extraction workers'.
const CHECKERS: &[nianbao_auth::Role] = &[
    nianbao_auth::Role::Agency,
    nianbao_auth::Role::Office,
    nianbao_auth::Role::Crawler,
    nianbao_auth::Role::Operator,
];

fn scope_str(s: RuleScope) -> &'static str {
    match s {
        RuleScope::Single => "single",
        RuleScope::CrossReport => "cross-report",
        RuleScope::Roster => "roster",
    }
}

/// The catalogue as this deployment applies it.
pub fn rule_infos(cfg: &RuleConfig) -> Vec<v1::RuleInfo> {
    RuleId::ALL
        .iter()
        .map(|&r| v1::RuleInfo {
            id: r.as_str().into(),
            severity: cfg.severity(r).as_str().into(),
            title: r.title().into(),
            scope: scope_str(r.scope()).into(),
            enabled: cfg.is_enabled(r),
        })
        .collect()
}

#[tonic::async_trait]
impl Validation for Api {
    async fn validate(
        &self,
        request: tonic::Request<v1::ValidateRequest>,
    ) -> Result<tonic::Response<v1::ValidateResponse>, tonic::Status> {
        nianbao_auth::grpc::require(&request, CHECKERS, "自查报告 Validate")?;
        let req = request.into_inner();
        let checker = self.checker.clone();
        let limits = self.limits.clone();
        let too_slow = || {
            tonic::Status::deadline_exceeded(format!(
                "检查未能在 {} 秒内完成，请稍后重试 / validation did not finish within {} s",
                self.deadline.as_secs(),
                self.deadline.as_secs()
            ))
        };
        let started = tokio::time::Instant::now();
        let _slot = tokio::time::timeout(self.deadline, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| too_slow())?
            .map_err(|_| tonic::Status::unavailable("the service is stopping"))?;
        // Extraction of a large document takes milliseconds of CPU: keep it off the async workers.
        // The document's own time limit (`[limits] max_time_ms`) stops the work itself; the deadline
        // answers the caller.
        let work = tokio::task::spawn_blocking(move || {
            let x = nianbao_extract::extract_bytes_with(&req.content, &limits);
            let findings = checker.check(&x);
            (x, findings)
        });
        let (x, findings) =
            tokio::time::timeout(self.deadline.saturating_sub(started.elapsed()), work)
                .await
                .map_err(|_| too_slow())?
                .map_err(|e| tonic::Status::internal(format!("validation task failed: {e}")))?;
        let extraction_json = serde_json::to_vec(&x)
            .map_err(|e| tonic::Status::internal(format!("cannot encode the extraction: {e}")))?;
        Ok(tonic::Response::new(v1::ValidateResponse {
            agency: x.agency.clone().unwrap_or_default(),
            year: x.year.unwrap_or(0),
            findings: findings.iter().map(v1::Finding::from).collect(),
            extraction_json,
        }))
    }

    async fn list_rules(
        &self,
        request: tonic::Request<v1::ListRulesRequest>,
    ) -> Result<tonic::Response<v1::ListRulesResponse>, tonic::Status> {
        nianbao_auth::grpc::require(&request, CHECKERS, "规则目录 ListRules")?;
        Ok(tonic::Response::new(v1::ListRulesResponse {
            rules: rule_infos(self.checker.config()),
        }))
    }
}

/// Resolves once `rx` has seen `true`.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// Runs the service until `shutdown` resolves: the gRPC server on `listener` at once (Validate works
/// without the broker), then the database and the broker (retrying the connection until it
/// succeeds), then the consumer. Health turns SERVING once the database and the broker are up.
/// Graceful: on shutdown the consumer stops taking messages and finishes those in hand, and the
/// server finishes its calls.
pub async fn run(
    cfg: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let obs = Observability::bind("validation", &cfg.metrics).await?;
    run_with(cfg, listener, shutdown, obs).await
}

/// [`run`], recording metrics into `obs.metrics` and serving them on `obs.listener` (instead of
/// what `cfg.metrics` says).
pub async fn run_with(
    cfg: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut obs: Observability,
) -> Result<(), Error> {
    let rules = cfg.rule_config()?;
    let checker = Arc::new(Checker::new(rules));
    let addr = nianbao_service::local_addr(&listener);
    let grpc_server = nianbao_service::grpc_server(&cfg.tls, addr, &cfg.grpc)?;
    let authenticator = cfg.auth.authenticator(addr)?;
    let directory = Arc::new(cfg.load_directory()?);
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    let (reporter, health) = grpc_health();
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    reporter.set_not_serving::<ValidationServer<Api>>().await;
    let readiness = Readiness::new(
        reporter,
        &["", "nianbao.v1.Validation"],
        &["database", "broker", "consumer"],
        obs.metrics.clone(),
    );
    let metrics_server = obs.serve(&readiness, stop_rx.clone());
    let api = tonic::service::interceptor::InterceptedService::new(
        ValidationServer::new(Api::bounded(
            checker.clone(),
            cfg.limits.limits(cfg.max_bytes),
            cfg.validate_concurrency,
            Duration::from_millis(cfg.validate_timeout_ms),
        ))
        .max_decoding_message_size(cfg.max_bytes.saturating_add(64 * 1024)),
        authenticator,
    );
    let server = grpc_server
        .trace_fn(nianbao_telemetry::grpc_server_span("validation"))
        .add_service(health)
        .add_service(grpc_reflection()?)
        .add_service(api)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            stopped(stop_rx.clone()),
        );
    let server = tokio::spawn(server);

    let pipeline = async {
        let db = nianbao_db::connect(&cfg.database_url())
            .await
            .map_err(StoreError::from)?;
        let store = Store::open(db.clone()).await?;
        let validator = Arc::new(
            Validator::new(checker.clone(), cfg.similarity(), store)
                .with_sketch_cache(cfg.similarity.sketch_cache)
                .with_directory(directory),
        );
        let Some(bus) =
            nianbao_service::connect_bus(&cfg.bus, "nianbao-validation", None, stop_rx.clone())
                .await
        else {
            return Ok::<(), Error>(());
        };
        let bus = bus.with_metrics(obs.metrics.clone());
        nianbao_service::probe_readiness(&readiness, Some(&bus), Some(&db)).await;
        let watchdog = tokio::spawn(nianbao_service::watch_readiness(
            readiness.clone(),
            Some(bus.clone()),
            Some(db),
            Duration::from_secs(1),
            stop_rx.clone(),
        ));
        let spec = queue_spec();
        let worker =
            Arc::new(Worker::new(validator, bus.clone()).with_metrics(obs.metrics.clone()));
        consume_until_stopped(&bus, &spec, worker, &readiness, stop_rx.clone()).await;
        readiness.stopping().await;
        bus.close().await;
        let _ = watchdog.await;
        Ok(())
    };
    // Wait for the shutdown signal before stopping the server, unless the pipeline failed: the
    // server would otherwise keep running without a pipeline. The caller logs the error (the
    // binary's `main`), so that it is logged once.
    if let Err(e) = pipeline.await {
        readiness.stopping().await;
        server.abort();
        if let Some(m) = &metrics_server {
            m.abort();
        }
        return Err(e);
    }
    server.await??;
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    Ok(())
}

/// Declares the queue and consumes until shutdown; re-declares and resumes if the broker cancels the
/// consumer (queue deleted, node restarted).
async fn consume_until_stopped<H: Handler>(
    bus: &Bus,
    spec: &QueueSpec,
    handler: Arc<H>,
    readiness: &Readiness,
    stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        match bus.declare(spec).await {
            Ok(()) => {
                readiness.set("consumer", true).await;
                match bus
                    .consume(spec, handler.clone(), stopped(stop.clone()))
                    .await
                {
                    Ok(()) => break,
                    Err(e) => tracing::warn!(error = %e, "consumer ended; resuming"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot declare {}; retrying", spec.name),
        }
        readiness.set("consumer", false).await;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = stopped(stop.clone()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_sketch_cache_keeps_the_most_recent_reports() {
        let mut c = SketchCache::with_capacity(2);
        c.put("a", "1", &[1]);
        c.put("b", "1", &[2]);
        c.put("a", "1", &[1]); // again: not a second entry
        c.put("a", "2", &[3]);
        c.put("x", "1", &[]); // a report without narrative has nothing to cache
        assert_eq!(c.get("a", "1"), None);
        assert_eq!(c.get("b", "1"), Some(&vec![2]));
        assert_eq!(c.get("a", "2"), Some(&vec![3]));
        assert_eq!(c.get("x", "1"), None);
        let entries: usize = c.map.values().map(|v| v.len()).sum();
        assert_eq!(entries, c.order.len());
        // Evicting a report's last version forgets the report.
        c.put("c", "1", &[4]);
        assert_eq!(c.get("b", "1"), None);
        assert!(!c.map.contains_key("b"));
        assert_eq!(c.get("a", "2"), Some(&vec![3]));
    }

    #[test]
    fn debug_hides_the_database_and_broker_passwords() {
        let mut cfg = Config {
            database_url: "postgres://nb:db-hunter2@db.example/nb?password=db-hunter3".into(),
            ..Config::default()
        };
        cfg.bus.url = "amqp://nb:mq-hunter2@mq.example/%2f".into();
        let shown = format!("{cfg:?}");
        for secret in ["db-hunter2", "db-hunter3", "mq-hunter2"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("postgres://nb:***@db.example/nb?password=***"),
            "{shown}"
        );
    }

    #[test]
    fn defaults_load_and_are_documented() {
        let cfg = load(None).unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:50053");
        assert!(cfg.database_url().starts_with("sqlite://"));
        assert_eq!(cfg.similarity(), Similarity::default());
        assert_eq!(cfg.similarity.sketch_cache, DEFAULT_SKETCH_CACHE);
        assert_eq!(cfg.rule_config().unwrap(), RuleConfig::default());
        assert_eq!(
            queue_spec().bindings,
            vec!["report.extracted.*".to_string()]
        );
        assert_eq!(
            nianbao_service::undocumented_keys(DEFAULTS),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_broken_rules_file_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.toml");
        std::fs::write(&p, "disabled = [\"no-such-rule\"]").unwrap();
        let cfg = Config {
            rules_config: p.display().to_string(),
            ..Config::default()
        };
        assert!(matches!(cfg.rule_config(), Err(Error::Rules { .. })));
    }

    #[tokio::test]
    async fn the_directory_decides_the_agency_and_its_level() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/v.db?mode=rwc", dir.path().display());
        let store = Store::open(nianbao_db::connect(&url).await.unwrap())
            .await
            .unwrap();
        let directory = Directory::from_toml(
            r#"
default_office = "city"
[[offices]]
id = "city"
name = "江州市人民政府办公室"
level = "city"
[[agencies]]
name = "枫桥市人民政府"
office = "city"
region = "390181"
"#,
        )
        .unwrap();
        let v = Validator::new(Arc::new(Checker::default()), Similarity::default(), store)
            .with_directory(Arc::new(directory));
        // A city government reporting 规章 (legitimate for a 设区的市, which its name says), that
        // the directory knows as a county-level city (region code 390281).
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../deploy/samples/0062_tab_临川市人民政府_2022.txt"),
        )
        .unwrap()
        .replace("临川市", "枫桥市");
        let x = nianbao_extract::extract_text(&text);
        assert!(
            Checker::default()
                .check(&x)
                .iter()
                .all(|f| f.rule != RuleId::T2RegulationScope)
        );
        let input = Input {
            report_id: "r1",
            version: "v1",
            agency_hint: "",
            named: "",
            region: "",
            year_hint: 0,
            x: &x,
        };
        let found = v.validate_batch(&[input]).await.pop().unwrap().unwrap();
        assert!(
            found.iter().any(|f| f.rule == RuleId::T2RegulationScope),
            "{found:?}"
        );
    }

    #[tokio::test]
    async fn validator_is_idempotent_and_sees_replacements() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/v.db?mode=rwc", dir.path().display());
        let store = Store::open(nianbao_db::connect(&url).await.unwrap())
            .await
            .unwrap();
        let v = Validator::new(Arc::new(Checker::default()), Similarity::default(), store);
        let text = "清河县财政局2024年政府信息公开工作年度报告\n一、总体情况\n2024年，本局认真贯彻落实政府信息公开条例。\n";
        let x = nianbao_extract::extract_text(text);
        let first = v.validate("r1", "v1", "", 0, &x).await.unwrap();
        assert_eq!(first, Checker::default().check(&x));
        let again = v.validate("r1", "v1", "", 0, &x).await.unwrap();
        assert_eq!(again, first);
        assert_eq!(v.store().count().await.unwrap(), 1);
        let replaced = v.validate("r1", "v2", "", 0, &x).await.unwrap();
        assert_eq!(
            replaced
                .iter()
                .filter(|f| f.rule == RuleId::ReportChanged)
                .count(),
            1
        );
        assert_eq!(v.store().count().await.unwrap(), 2);
        // Re-delivery of v1 after v2: still exactly the first answer.
        assert_eq!(v.validate("r1", "v1", "", 0, &x).await.unwrap(), first);
    }
}
