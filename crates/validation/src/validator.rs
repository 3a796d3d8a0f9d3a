//! The validator: single-report rules, then the cross-report decision against the store (one
//! section at a time, across instances too), with an in-memory index of what the store holds.

use crate::*;
use cross::{Context, ReportRow, Similarity};
use nianbao_directory::{Claims, Directory, Identification};
use nianbao_model::{Extraction, Finding, RuleId};
use nianbao_rules::{AgencyKind, AgencyLevel, AgencyProfile, Checker};
use nianbao_service::now_ms;
use std::sync::Arc;
use store::{Store, StoreError};
use tokio::sync::Mutex;

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
        row.found = Vec::new();
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
    pub(crate) fn who(&self, named: &str, region: &str, x: &Extraction) -> Identification<'_> {
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
        // This report's own findings so far (single-report, and agency-conflict, which
        // `previous-findings-recurring` does not count): what next year's report is compared with
        // too, as the row of this batch that a later report of the batch may find as its Y−1.
        row.found = findings.iter().map(|f| (f.rule, f.severity)).collect();
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

    /// `previous-findings-recurring` through the store: last year's published findings are read
    /// back with last year's row (from the store, and from the same batch), compared with this
    /// year's, and a re-delivery gets the same answer.
    #[tokio::test]
    async fn last_years_findings_recurring_are_read_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            let url = format!("sqlite://{}/{name}.db?mode=rwc", dir.path().display());
            async move {
                let store = Store::open(nianbao_db::connect(&url).await.unwrap())
                    .await
                    .unwrap();
                // The sample's 行政事业性收费 is out of scale (t2-fee-scale) in both years: off, so
                // that only the injected defect recurs.
                let rules = nianbao_rules::RuleConfig::default().disable(RuleId::T2FeeScale);
                Validator::new(Arc::new(Checker::new(rules)), Similarity::default(), store)
            }
        };
        let sample = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../deploy/samples/0062_tab_临川市人民政府_2022.txt"),
        )
        .unwrap();
        let fee = "按照《国务院办公厅关于印发〈政府信息公开信息处理费管理办法〉的通知》（国办函〔2020〕109号）规定的按件、按量收费标准，本年度没有产生政府信息公开信息处理费。";
        assert!(sample.contains(fee));
        let no_fee = |t: &str| t.replace(fee, "无其他需要报告的事项。");
        // 2021: the sample a year earlier, without its fee statement (fee-statement-missing).
        let prev = nianbao_extract::extract_text(&no_fee(
            &sample.replace("2021", "2020").replace("2022", "2021"),
        ));
        assert_eq!(prev.year, Some(2021));
        // 2022: the same defect again; and the sample as published (the defect gone).
        let again = nianbao_extract::extract_text(&no_fee(&sample));
        let fixed = nianbao_extract::extract_text(&sample);
        let rule = |f: &[Finding], r: RuleId| -> Vec<Finding> {
            f.iter().filter(|x| x.rule == r).cloned().collect()
        };

        let v = open("one").await;
        let first = v.validate("lc2021", "a", "", 0, &prev).await.unwrap();
        assert_eq!(
            rule(&first, RuleId::FeeStatementMissing).len(),
            1,
            "{first:?}"
        );
        assert!(rule(&first, RuleId::PreviousFindingsRecurring).is_empty());
        let got = v.validate("lc2022", "b", "", 0, &again).await.unwrap();
        let rec = rule(&got, RuleId::PreviousFindingsRecurring);
        assert_eq!(rec.len(), 1, "{got:?}");
        assert_eq!(
            rec[0].message,
            "本机关2021年度报告经检查发现的问题在本年度报告中再次出现：未说明信息处理费收取情况（fee-statement-missing），请核实上年度检查发现的问题是否已整改"
        );
        assert_eq!(rec[0].severity, nianbao_model::Severity::Warning);
        // A re-delivery, and the same event after a restart: the same findings.
        assert_eq!(v.validate("lc2022", "b", "", 0, &again).await.unwrap(), got);
        drop(v);
        let v = open("one").await;
        assert_eq!(v.validate("lc2022", "b", "", 0, &again).await.unwrap(), got);
        // Near miss: a corrected version (fee statement back) does not repeat last year's problem
        // (it is a replacement, report-changed, which is not a problem that recurs).
        let corrected = v.validate("lc2022", "c", "", 0, &fixed).await.unwrap();
        assert!(
            rule(&corrected, RuleId::PreviousFindingsRecurring).is_empty(),
            "{corrected:?}"
        );
        assert_eq!(rule(&corrected, RuleId::ReportChanged).len(), 1);

        // Both years in one batch: last year's row is not stored yet, its findings are the ones
        // just decided.
        let v = open("batch").await;
        fn input<'a>(id: &'a str, x: &'a Extraction) -> Input<'a> {
            Input {
                report_id: id,
                version: id,
                agency_hint: "",
                named: "",
                region: "",
                year_hint: 0,
                x,
            }
        }
        let out = v
            .validate_batch(&[input("p", &prev), input("c", &again)])
            .await;
        let cur = out[1].as_ref().unwrap();
        assert_eq!(rule(cur, RuleId::PreviousFindingsRecurring), rec);
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
