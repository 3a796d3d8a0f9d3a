//! nianbao-directory: which office supervises which agency, and how each office is reached.
//!
//! A crate of its own because more than one service reads the same file: notification routes
//! alerts with it, ingest decides with it which office may read which report. It knows offices,
//! agencies, deadlines and the office tree; how an office is told (its channel strings) is
//! notification's business and is checked there.
//!
//! A TOML file (format in `deploy/directory/README.md`) lists the supervising offices (政务公开办 of the
//! province, cities and counties) and the agencies that publish reports, each with its office. The
//! agency named in a report rarely matches the roster letter for letter — titles drop the county in
//! front of a 街道, add the city and 人民政府 in front of it, use full-width letters or stray
//! spaces — so [`Directory::resolve`] tries, in order: the exact name, an exact alias, a comparison
//! after folding width and dropping whitespace, and finally a comparison of the *core* name with the
//! region prefixes (省/市/县/区 names, 人民政府) stripped, the prefixes then deciding between
//! candidates. Whatever cannot be resolved to exactly one agency goes to the default office, with the
//! reason kept on the alert so that a person can fix the directory.
//!
//! The office tree (`parent`) bounds jurisdiction: [`Directory::subtree`] and
//! [`Directory::is_within`]. [`date`] holds the calendar dates the deadlines are in.

pub mod date;
pub mod roster;

pub use date::{Date, MonthDay};
pub use roster::{Roster, RowError, RowErrors, RowLocation, RowProblem};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DirectoryError {
    #[error("cannot read the directory {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the directory {path} is not valid TOML: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("directory: {0}")]
    Invalid(String),
    #[error("agencies CSV {path}, line {line}: {message}")]
    Csv {
        path: String,
        line: usize,
        message: String,
    },
    /// Rows of a roster (CSV or XLSX) with problems: all of them, each with its row number.
    #[error("{0}")]
    Roster(RowErrors),
    /// A roster file that cannot be read as a table at all.
    #[error("名录文件 {path}：{message}")]
    RosterFile { path: String, message: String },
}

/// Administrative level of a supervising office. `national` exists for the one report a province
/// directory cannot route inside the province: the provincial government's own, which 国务院办公厅
/// supervises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    National,
    Province,
    City,
    County,
}

/// A supervising office as the directory file writes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Office {
    /// Stable id, used in the API (`ListAlerts { office_id }`) and stored on alerts.
    pub id: String,
    /// Display name (江州市人民政府办公室).
    pub name: String,
    pub level: Level,
    /// Region code of the office (6 digits).
    #[serde(default)]
    pub region: String,
    /// The office one level up: where an unacknowledged error alert is escalated (督办, see
    /// `escalate_after_hours`), and whose jurisdiction includes this office's.
    #[serde(default)]
    pub parent: Option<String>,
    /// How the office is told; empty → the service's `default_channels`. Kept as text: the syntax
    /// belongs to the notification service, which checks every entry when it loads the directory.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Lowest severity that alerts this office ("warning" | "error"); absent → the service's
    /// `min_severity`.
    #[serde(default)]
    pub min_severity: Option<String>,
    /// Digest grouping: 0 sends every alert at once; N collects the office's alerts for N minutes
    /// after the first one and sends them as one message (the inbox always has them at once).
    #[serde(default)]
    pub digest_minutes: u64,
    /// What a corrected version with some findings still there says: `full` lists every finding
    /// again, `quiet` spells out only the new ones and counts those already reported.
    #[serde(default)]
    pub repeats: Repeats,
    /// Hours an error alert may stay unacknowledged before it is escalated (once) to `parent`;
    /// absent → the service's `escalation.after_hours`; 0 → never.
    #[serde(default)]
    pub escalate_after_hours: Option<u64>,
}

/// See [`Office::repeats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Repeats {
    #[default]
    Full,
    Quiet,
}

/// What kind of body an agency is; decides its statutory reporting deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgencyKind {
    /// 人民政府: publishes its report by 3月31日 (条例 第五十条).
    Government,
    /// 政府工作部门 (县级以上): reports by 1月31日.
    Department,
    /// 乡、镇人民政府: the directory's `deadlines.township`.
    Township,
    /// 街道办事处: the directory's `deadlines.street`.
    Street,
}

impl AgencyKind {
    /// The kind a name suggests when the directory does not say: `nianbao_model`'s classification,
    /// the same the rules use, so a name is never a government here and a department there. A name
    /// that tells nothing is treated as a department (the earliest statutory deadline).
    pub fn guess(name: &str) -> AgencyKind {
        use nianbao_model::AgencyKind as K;
        match nianbao_model::AgencyProfile::from_name(&fold(name)).kind {
            K::Street => AgencyKind::Street,
            K::Township => AgencyKind::Township,
            K::Government => AgencyKind::Government,
            K::Department | K::Unknown => AgencyKind::Department,
        }
    }

    pub fn chinese(self) -> &'static str {
        match self {
            AgencyKind::Government => "人民政府",
            AgencyKind::Department => "政府部门",
            AgencyKind::Township => "乡镇",
            AgencyKind::Street => "街道",
        }
    }
}

/// Yearly reporting deadlines by kind (`MM-DD` of the year after the reporting year).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Deadlines {
    pub government: String,
    pub department: String,
    pub township: String,
    pub street: String,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            government: "03-31".into(),
            department: "01-31".into(),
            township: "03-31".into(),
            street: "03-31".into(),
        }
    }
}

/// An agency as the directory file writes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    /// The agency's identity: its reports, alerts, arrival, carry-over and 雷同 are keyed by it,
    /// never by the name a report prints (two counties each have a 城关镇人民政府). Written in the
    /// file (a roster's 机关代码, e.g. the 统一社会信用代码) or, when absent, [`default_ids`]: the
    /// name, or `region/name` for agencies sharing a name.
    #[serde(default)]
    pub id: String,
    /// The full official name.
    pub name: String,
    /// Other names its reports use (short and long forms).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Id of the supervising office.
    pub office: String,
    /// Region code of the agency.
    #[serde(default)]
    pub region: String,
    /// government | department | township | street; absent → guessed from the name.
    #[serde(default)]
    pub kind: Option<AgencyKind>,
    /// The level of the government it belongs to (national | province | city | county): a
    /// county-level city (县级市) or a 分局 is county-level whatever its name says. Absent → from
    /// the region code ([`Agency::level`]).
    #[serde(default)]
    pub level: Option<Level>,
    /// This agency's own deadline (`MM-DD`), instead of its kind's.
    #[serde(default)]
    pub deadline: Option<String>,
    /// The agency's 政府信息公开专栏 (http or https): where its reports are published, so that they
    /// can be fetched and a missing one looked for.
    #[serde(default)]
    pub url: Option<String>,
    /// How the agency itself is told what to fix (the console's 通知机关): the same channel kinds
    /// as an office's (`webhook:…`, `wecom:…`, `dingtalk:…`, `email:…`); empty → it cannot be told
    /// directly. Kept as text, checked by the notification service like the offices'.
    #[serde(default)]
    pub channels: Vec<String>,
}

impl Agency {
    pub fn kind(&self) -> AgencyKind {
        self.kind.unwrap_or_else(|| AgencyKind::guess(&self.name))
    }

    /// The level as written, else the one its region code implies (`390000` a province, `390100`
    /// a city, `390181` a county-level unit); `None` when neither says.
    pub fn level(&self) -> Option<Level> {
        self.level
            .or_else(|| roster::level_of_region(self.region.trim()))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectoryFile {
    default_office: String,
    #[serde(default)]
    deadlines: Deadlines,
    #[serde(default)]
    offices: Vec<Office>,
    #[serde(default)]
    agencies: Vec<Agency>,
    /// A CSV file with more agencies (path relative to the TOML file): the roster as an office
    /// keeps it in a spreadsheet.
    #[serde(default)]
    agencies_csv: Option<String>,
    /// Roster files (CSV or XLSX with Chinese headers, see [`roster`]) with more agencies and
    /// offices, paths relative to the TOML file: the TOML keeps what a spreadsheet cannot (the
    /// default office, deadlines, channels), the roster stays the office's own spreadsheet.
    #[serde(default)]
    rosters: Vec<String>,
}

/// How an agency name was matched to the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchKind {
    Name,
    Alias,
    /// Equal after folding full-width characters and dropping whitespace.
    Normalised,
    /// Equal core name once region prefixes (and 人民政府/办事处 decorations) are stripped.
    Core,
    /// Not resolved: the default office.
    Default,
}

impl fmt::Display for MatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchKind::Name => "name",
            MatchKind::Alias => "alias",
            MatchKind::Normalised => "normalised",
            MatchKind::Core => "core",
            MatchKind::Default => "default",
        })
    }
}

/// Where an agency's alerts go.
#[derive(Clone, Debug)]
pub struct Route<'a> {
    pub office: &'a Office,
    /// The directory's name of the agency, when it was found.
    pub agency: Option<&'a str>,
    /// Its id ([`Agency::id`]), when it was found.
    pub id: Option<&'a str>,
    pub how: MatchKind,
    /// Why the route is not an exact match (Chinese, shown on the alert); `None` for an exact one.
    pub note: Option<String>,
}

/// What a report's submission and text say about whose report it is ([`Directory::identify`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Claims<'a> {
    /// The agency the submission was made for: the submitter's own (an agency credential), or
    /// the one an operator or crawler named; an id or a name.
    pub named: Option<&'a str>,
    /// The region code given at submission.
    pub region: Option<&'a str>,
    /// The agency name the document prints.
    pub document: Option<&'a str>,
}

/// What decided a report's agency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// The submitter (its credential, or the agency it named).
    Submission,
    /// The name the document prints (with the region given at submission, if any).
    Document,
    /// Nothing: no directory agency.
    Unknown,
}

/// A disagreement between what a submission and a report say about the agency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// The document prints a name of other directory agencies than the submitter's.
    Document {
        printed: String,
        /// The directory agencies the printed name stands for.
        names: String,
        agency: String,
    },
    /// The region given at submission is not the agency's.
    Region {
        region: String,
        agency: String,
        agency_region: String,
    },
    /// The agency named at submission is not in the directory.
    UnknownNamed(String),
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::Document {
                printed,
                names,
                agency,
            } => write!(
                f,
                "报告署名「{printed}」（名录中为{names}）与提交机关「{agency}」不一致，请核对是否上传了其他机关的报告"
            ),
            Conflict::Region {
                region,
                agency,
                agency_region,
            } => write!(
                f,
                "提交时填写的地区代码 {region} 与机关「{agency}」所在地区 {agency_region} 不一致"
            ),
            Conflict::UnknownNamed(n) => {
                write!(f, "提交时指定的机关「{n}」不在机关名录中，已按报告署名识别")
            }
        }
    }
}

/// Whose report it is: the directory agency (if any), what decided it, where its alerts go, and
/// the disagreements found on the way.
#[derive(Clone, Debug)]
pub struct Identification<'a> {
    pub agency: Option<&'a Agency>,
    pub basis: Basis,
    pub route: Route<'a>,
    pub conflicts: Vec<Conflict>,
}

/// A region code worth filtering by: six digits, not the unknown region `000000`.
fn is_region_hint(r: &str) -> bool {
    r.len() == 6 && r.bytes().all(|b| b.is_ascii_digit()) && r != "000000"
}

/// Whether the region `hint` (a province `xx0000`, a city `xxxx00` or a county code) contains the
/// agency's region `of`.
fn region_covers(hint: &str, of: &str) -> bool {
    if hint == of {
        return true;
    }
    if !is_region_hint(hint) || of.len() != 6 {
        return false;
    }
    if let Some(p) = hint.strip_suffix("0000") {
        return of.starts_with(p);
    }
    if let Some(c) = hint.strip_suffix("00") {
        return of.starts_with(c);
    }
    false
}

/// One indexed form of an agency name.
#[derive(Clone, Debug)]
struct CoreEntry {
    agency: usize,
}

/// The loaded, checked and indexed directory.
#[derive(Clone, Debug)]
pub struct Directory {
    default_office: String,
    deadlines: [MonthDay; 4],
    offices: Vec<Office>,
    office_index: HashMap<String, usize>,
    /// For each office (by index), the offices whose `parent` it is, in file order.
    children: Vec<Vec<usize>>,
    agencies: Vec<Agency>,
    by_id: HashMap<String, usize>,
    /// Several agencies may share a name (in different regions).
    by_name: HashMap<String, Vec<usize>>,
    by_alias: HashMap<String, Vec<usize>>,
    by_folded: HashMap<String, Vec<usize>>,
    by_core: HashMap<String, Vec<CoreEntry>>,
    /// Region prefixes seen in each agency's name forms (for disambiguating core matches).
    prefixes: Vec<HashSet<String>>,
    /// Whether this directory came from a file (else every alert goes to the default office).
    configured: bool,
}

impl Directory {
    /// No directory file: one office, `default_office`, receives everything.
    pub fn empty(default_office: &str) -> Directory {
        let office = Office {
            id: default_office.to_string(),
            name: default_office.to_string(),
            level: Level::Province,
            region: String::new(),
            parent: None,
            channels: Vec::new(),
            min_severity: None,
            digest_minutes: 0,
            repeats: Repeats::Full,
            escalate_after_hours: None,
        };
        let mut d = Directory::build(
            default_office.to_string(),
            default_deadlines(),
            vec![office],
            Vec::new(),
        );
        d.configured = false;
        d
    }

    /// Loads and checks a directory file: a TOML file (with the rosters it names), or a roster
    /// on its own (`.csv`, `.xlsx`: offices and agencies, the default office the one without a
    /// parent). Which by the extension, so that the services' `directory = …` takes either.
    pub fn load(path: &Path) -> Result<Directory, DirectoryError> {
        Directory::load_all(&[path])
    }

    /// Loads several files as one directory: at most one TOML file and any rosters
    /// (see [`Roster::read`]).
    pub fn load_all(paths: &[&Path]) -> Result<Directory, DirectoryError> {
        Roster::read(paths)?.into_directory()
    }

    /// Parses and checks directory TOML text (an `agencies_csv` or `rosters` needs
    /// [`Directory::load`]).
    pub fn from_toml(text: &str) -> Result<Directory, DirectoryError> {
        let file = parse(text, None)?;
        if !file.rosters.is_empty() {
            return Err(DirectoryError::Invalid(format!(
                "rosters {:?} need the directory to be loaded from a file",
                file.rosters
            )));
        }
        finish(file)
    }
}

/// Parses directory TOML text and reads its `agencies_csv` (relative to `base`), unchecked.
fn parse(text: &str, base: Option<&Path>) -> Result<DirectoryFile, DirectoryError> {
    let mut file: DirectoryFile = toml::from_str(text).map_err(|e| DirectoryError::Parse {
        path: "<text>".into(),
        source: Box::new(e),
    })?;
    if let Some(csv) = file.agencies_csv.take() {
        let Some(base) = base else {
            return Err(DirectoryError::Invalid(format!(
                "agencies_csv {csv:?} needs the directory to be loaded from a file"
            )));
        };
        let path = base.join(&csv);
        let text = std::fs::read_to_string(&path).map_err(|source| DirectoryError::Read {
            path: path.display().to_string(),
            source,
        })?;
        file.agencies
            .extend(agencies_from_csv(&text, &path.display().to_string())?);
    }
    Ok(file)
}

/// Reads a directory TOML file (and its `agencies_csv`), unchecked.
fn read_toml(path: &Path) -> Result<DirectoryFile, DirectoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| DirectoryError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, Some(base)).map_err(|e| match e {
        DirectoryError::Parse { source, .. } => DirectoryError::Parse {
            path: path.display().to_string(),
            source,
        },
        other => other,
    })
}

/// Checks a whole directory and indexes it.
fn finish(mut file: DirectoryFile) -> Result<Directory, DirectoryError> {
    default_ids(&mut file.agencies)?;
    let deadlines = check(&file)?;
    Ok(Directory::build(
        file.default_office,
        deadlines,
        file.offices,
        file.agencies,
    ))
}

impl Directory {
    fn build(
        default_office: String,
        deadlines: [MonthDay; 4],
        offices: Vec<Office>,
        agencies: Vec<Agency>,
    ) -> Directory {
        let office_index: HashMap<String, usize> = offices
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id.clone(), i))
            .collect();
        let mut children = vec![Vec::new(); offices.len()];
        for (i, o) in offices.iter().enumerate() {
            if let Some(&p) = o.parent.as_deref().and_then(|p| office_index.get(p)) {
                children[p].push(i);
            }
        }
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_id = HashMap::new();
        let mut by_alias: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_folded: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_core: HashMap<String, Vec<CoreEntry>> = HashMap::new();
        let mut prefixes = Vec::with_capacity(agencies.len());
        for (i, a) in agencies.iter().enumerate() {
            by_name.entry(a.name.clone()).or_default().push(i);
            by_id.insert(a.id.clone(), i);
            let mut seen = HashSet::new();
            for alias in &a.aliases {
                let v = by_alias.entry(alias.clone()).or_default();
                if !v.contains(&i) {
                    v.push(i);
                }
            }
            let mut own_prefixes = HashSet::new();
            for form in std::iter::once(&a.name).chain(&a.aliases) {
                let folded = fold(form);
                let v = by_folded.entry(folded.clone()).or_default();
                if !v.contains(&i) {
                    v.push(i);
                }
                let (core, pre) = core_of(&folded);
                own_prefixes.extend(pre);
                if seen.insert(core.clone()) {
                    by_core
                        .entry(core)
                        .or_default()
                        .push(CoreEntry { agency: i });
                }
            }
            prefixes.push(own_prefixes);
        }
        Directory {
            default_office,
            deadlines,
            offices,
            office_index,
            children,
            agencies,
            by_id,
            by_name,
            by_alias,
            by_folded,
            by_core,
            prefixes,
            configured: true,
        }
    }

    pub fn offices(&self) -> &[Office] {
        &self.offices
    }

    pub fn agencies(&self) -> &[Agency] {
        &self.agencies
    }

    pub fn office(&self, id: &str) -> Option<&Office> {
        self.office_index.get(id).map(|&i| &self.offices[i])
    }

    /// The ids of `office_id` and of every office below it through `parent` (children, their
    /// children…), the office itself first, then breadth-first in file order; empty for an unknown
    /// id. Jurisdiction: an office may see what the offices it supervises see.
    pub fn subtree(&self, office_id: &str) -> Vec<&str> {
        let Some(&root) = self.office_index.get(office_id) else {
            return Vec::new();
        };
        // `check` does not refuse a cycle of parents, so each office is taken once.
        let mut seen = vec![false; self.offices.len()];
        seen[root] = true;
        let mut order = vec![root];
        let mut next = 0;
        while let Some(&i) = order.get(next) {
            next += 1;
            for &c in &self.children[i] {
                if !std::mem::replace(&mut seen[c], true) {
                    order.push(c);
                }
            }
        }
        order
            .into_iter()
            .map(|i| self.offices[i].id.as_str())
            .collect()
    }

    /// Whether `office_id` is `ancestor` or below it through `parent` (the same relation as
    /// `subtree(ancestor).contains(&office_id)`, without building the list); false when either id is
    /// unknown.
    pub fn is_within(&self, office_id: &str, ancestor: &str) -> bool {
        let mut current = self.office(office_id);
        // At most one step per office: a cycle of parents ends the walk rather than hanging it.
        for _ in 0..self.offices.len() {
            let Some(o) = current else {
                return false;
            };
            if o.id == ancestor {
                return true;
            }
            current = o.parent.as_deref().and_then(|p| self.office(p));
        }
        false
    }

    /// The agency the directory lists under exactly this (official) name, when only one has it.
    pub fn agency(&self, name: &str) -> Option<&Agency> {
        match self.by_name.get(name).map(Vec::as_slice) {
            Some([i]) => Some(&self.agencies[*i]),
            _ => None,
        }
    }

    /// The agency with this [`Agency::id`].
    pub fn agency_by_id(&self, id: &str) -> Option<&Agency> {
        self.by_id.get(id).map(|&i| &self.agencies[i])
    }

    /// Whether the directory came from a file (else it only knows the default office).
    pub fn is_configured(&self) -> bool {
        self.configured
    }

    /// The last day on which `agency` may publish its report for `year` (in `year + 1`).
    pub fn deadline(&self, agency: &Agency, year: i32) -> Date {
        let md = agency
            .deadline
            .as_deref()
            .and_then(MonthDay::parse)
            .unwrap_or(match agency.kind() {
                AgencyKind::Government => self.deadlines[0],
                AgencyKind::Department => self.deadlines[1],
                AgencyKind::Township => self.deadlines[2],
                AgencyKind::Street => self.deadlines[3],
            });
        md.in_year(year + 1)
    }

    pub fn default_office(&self) -> &Office {
        // `check` guarantees the default office exists; `empty` creates it.
        self.office(&self.default_office)
            .unwrap_or_else(|| &self.offices[0])
    }

    /// The office an agency's alerts go to.
    pub fn resolve(&self, agency: &str) -> Route<'_> {
        self.resolve_in(agency, None)
    }

    /// [`Directory::resolve`], told the region the report comes from (the `--region` given at
    /// submission): among agencies sharing a name or core name, the one of that region.
    pub fn resolve_in(&self, agency: &str, region: Option<&str>) -> Route<'_> {
        let name = agency.trim();
        let (found, how) = match self.matches(name) {
            Ok(m) => m,
            Err(note) => return self.fallback(note),
        };
        let within: Vec<usize> = match region.filter(|r| is_region_hint(r)) {
            Some(r) => found
                .iter()
                .copied()
                .filter(|&i| region_covers(r, &self.agencies[i].region))
                .collect(),
            None => Vec::new(),
        };
        // A region that fits none of them does not override the name (the caller reports the
        // contradiction, see `identify`).
        let found = if within.is_empty() { found } else { within };
        match found.as_slice() {
            [i] => {
                let a = &self.agencies[*i];
                let note = match how {
                    MatchKind::Name | MatchKind::Alias => None,
                    MatchKind::Normalised => Some(format!(
                        "机关名称「{name}」按规范化比较匹配为「{}」",
                        a.name
                    )),
                    _ => Some(format!(
                        "机关名称「{name}」按去除地区前缀比较匹配为「{}」",
                        a.name
                    )),
                };
                self.route_to(a, how, note)
            }
            many => self.fallback(self.ambiguous(name, many)),
        }
    }

    /// Where alerts about `agency` (a directory agency) go.
    pub fn route_to<'a>(
        &'a self,
        agency: &'a Agency,
        how: MatchKind,
        note: Option<String>,
    ) -> Route<'a> {
        Route {
            office: self
                .office(&agency.office)
                .unwrap_or_else(|| self.default_office()),
            agency: Some(agency.name.as_str()),
            id: Some(agency.id.as_str()),
            how,
            note,
        }
    }

    fn fallback(&self, note: String) -> Route<'_> {
        Route {
            office: self.default_office(),
            agency: None,
            id: None,
            how: MatchKind::Default,
            note: Some(note),
        }
    }

    /// The agencies `name` may stand for, at the first kind of match that finds any (exact name,
    /// alias, normalised, core name); `Err` with the reason (Chinese) when none does.
    fn matches(&self, name: &str) -> Result<(Vec<usize>, MatchKind), String> {
        if !self.configured {
            return Err("未配置机关名录，发往默认办公室".to_string());
        }
        if fold(name).is_empty() {
            return Err("报告未识别出机关名称，发往默认办公室".to_string());
        }
        if let Some(v) = self.by_name.get(name) {
            return Ok((v.clone(), MatchKind::Name));
        }
        if let Some(v) = self.by_alias.get(name)
            && let [i] = v.as_slice()
        {
            return Ok((vec![*i], MatchKind::Alias));
        }
        let folded = fold(name);
        if let Some(v) = self.by_folded.get(&folded) {
            return Ok((v.clone(), MatchKind::Normalised));
        }
        let (core, pre) = core_of(&folded);
        let mut candidates: Vec<usize> = Vec::new();
        for e in self
            .by_core
            .get(&core)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let own = &self.prefixes[e.agency];
            // The query's most specific region prefix (清河县 in 江州市清河县…) must be one the roster
            // uses for the candidate, unless either side names no region at all (then nothing
            // contradicts). Outer prefixes are not required: the roster may omit the city.
            let compatible = match pre.last() {
                None => true,
                Some(p) => own.is_empty() || own.contains(p),
            };
            if compatible && !candidates.contains(&e.agency) {
                candidates.push(e.agency);
            }
        }
        if candidates.is_empty() {
            return Err(format!("机关「{name}」不在名录中，发往默认办公室"));
        }
        Ok((candidates, MatchKind::Core))
    }

    /// Which directory agency a report is, from what its submission and its text say (issue #22:
    /// the submitter's agency first, then the `--agency`/`--region` named at submission, then the
    /// name the document prints). Where they disagree the first wins and the disagreement is
    /// returned: it is a finding, never a silent choice.
    pub fn identify(&self, claims: &Claims<'_>) -> Identification<'_> {
        let named = claims.named.map(str::trim).filter(|n| !n.is_empty());
        let document = claims.document.map(str::trim).filter(|n| !n.is_empty());
        let region = claims.region.filter(|r| is_region_hint(r));
        let mut conflicts = Vec::new();
        let mut route = None;
        let mut by = Basis::Unknown;
        if let Some(n) = named {
            if let Some(a) = self.agency_by_id(n) {
                route = Some(self.route_to(a, MatchKind::Name, None));
            } else {
                let r = self.resolve_in(n, region);
                if r.id.is_some() {
                    route = Some(r);
                } else if self.configured && self.matches(n).is_err() {
                    conflicts.push(Conflict::UnknownNamed(n.to_string()));
                }
            }
            if route.is_some() {
                by = Basis::Submission;
            }
        }
        if route.is_none()
            && let Some(d) = document
        {
            let r = self.resolve_in(d, region);
            by = if r.id.is_some() {
                Basis::Document
            } else {
                Basis::Unknown
            };
            route = Some(r);
        }
        let route = route.unwrap_or_else(|| match named.or(document) {
            Some(n) => self.resolve_in(n, region),
            None => self.fallback("报告未识别出机关名称，发往默认办公室".to_string()),
        });
        let agency = route.id.and_then(|id| self.agency_by_id(id));
        if let Some(a) = agency {
            if by == Basis::Submission
                && let Some(d) = document
                && let Ok((found, _)) = self.matches(d)
                && !found.iter().any(|&i| self.agencies[i].id == a.id)
            {
                let printed: Vec<&str> = found
                    .iter()
                    .take(3)
                    .map(|&i| self.agencies[i].name.as_str())
                    .collect();
                conflicts.push(Conflict::Document {
                    printed: d.to_string(),
                    names: printed.join("、"),
                    agency: a.name.clone(),
                });
            }
            if let Some(r) = region
                && !a.region.is_empty()
                && !region_covers(r, &a.region)
            {
                conflicts.push(Conflict::Region {
                    region: r.to_string(),
                    agency: a.name.clone(),
                    agency_region: a.region.clone(),
                });
            }
        }
        Identification {
            agency,
            basis: by,
            route,
            conflicts,
        }
    }

    fn ambiguous(&self, name: &str, many: &[usize]) -> String {
        let names: Vec<&str> = many
            .iter()
            .take(5)
            .map(|&i| self.agencies[i].name.as_str())
            .collect();
        format!(
            "机关「{name}」在名录中对应多个机关（{}），发往默认办公室",
            names.join("、")
        )
    }
}

/// A CSV record: the line it starts on, and its fields (a blank line is a record of one empty
/// field, so that record *n* is the row Excel shows as *n*).
pub(crate) struct CsvRecord {
    pub line: usize,
    pub fields: Vec<String>,
}

/// An unterminated quoted field: the line and the record (1-based) it starts on.
pub(crate) struct UnterminatedQuote {
    pub line: usize,
    pub record: usize,
}

/// Splits CSV text (RFC 4180: quoted fields with `""`, commas and line breaks inside quotes) into
/// records, every line outside quotes ending one (blank lines too); a leading BOM is skipped. A
/// quote opens a quoted field when nothing but spaces stands before it in the field.
pub(crate) fn csv_records(text: &str) -> Result<Vec<CsvRecord>, UnterminatedQuote> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                fields.push(std::mem::take(&mut field));
                records.push(CsvRecord {
                    line: start,
                    fields: std::mem::take(&mut fields),
                });
                line += 1;
                start = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(UnterminatedQuote {
            line: start,
            record: records.len() + 1,
        });
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push(CsvRecord {
            line: start,
            fields,
        });
    }
    Ok(records)
}

/// The agencies of a CSV roster: a header row naming the columns (`name`, `office` required;
/// `aliases` separated by `;` or `、`, `kind`, `region`, `deadline` optional), one agency per row.
pub fn agencies_from_csv(text: &str, path: &str) -> Result<Vec<Agency>, DirectoryError> {
    let err = |line: usize, message: String| DirectoryError::Csv {
        path: path.to_string(),
        line,
        message,
    };
    let records = csv_records(text).map_err(|q| err(q.line, "unterminated quoted field".into()))?;
    let mut it = records
        .into_iter()
        .filter(|r| r.fields.iter().any(|f| !f.trim().is_empty()))
        .map(|r| (r.line, r.fields));
    let Some((_, header)) = it.next() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    const KNOWN: [&str; 6] = ["name", "aliases", "kind", "office", "region", "deadline"];
    for h in &header {
        if !KNOWN.contains(&h.as_str()) {
            return Err(err(
                1,
                format!("unknown column {h:?} (known: {})", KNOWN.join(", ")),
            ));
        }
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(name_col), Some(office_col)) = (col("name"), col("office")) else {
        return Err(err(
            1,
            "the header needs the columns name and office".into(),
        ));
    };
    let mut out = Vec::new();
    for (line, rec) in it {
        let get = |c: Option<usize>| {
            c.and_then(|i| rec.get(i))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let kind = match get(col("kind")) {
            None => None,
            Some(k) => Some(match k.as_str() {
                "government" | "人民政府" => AgencyKind::Government,
                "department" | "部门" | "政府部门" => AgencyKind::Department,
                "township" | "乡镇" => AgencyKind::Township,
                "street" | "街道" => AgencyKind::Street,
                other => return Err(err(line, format!("unknown kind {other:?}"))),
            }),
        };
        out.push(Agency {
            id: get(col("id")).unwrap_or_default(),
            name: get(Some(name_col)).ok_or_else(|| err(line, "empty name".into()))?,
            aliases: get(col("aliases"))
                .map(|a| {
                    a.split([';', '；', '、'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            office: get(Some(office_col)).ok_or_else(|| err(line, "empty office".into()))?,
            region: get(col("region")).unwrap_or_default(),
            kind,
            level: None,
            deadline: get(col("deadline")),
            url: None,
            channels: get(col("channels"))
                .map(|c| {
                    c.split([';', '；'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    Ok(out)
}

fn default_deadlines() -> [MonthDay; 4] {
    let d = Deadlines::default();
    [d.government, d.department, d.township, d.street]
        .map(|s| MonthDay::parse(&s).unwrap_or(MonthDay { month: 3, day: 31 }))
}

/// Checks the file; returns its deadlines (government, department, township, street).
fn check(file: &DirectoryFile) -> Result<[MonthDay; 4], DirectoryError> {
    let bad = |m: String| Err(DirectoryError::Invalid(m));
    let d = &file.deadlines;
    let mut deadlines = default_deadlines();
    for (i, (what, v)) in [
        ("government", &d.government),
        ("department", &d.department),
        ("township", &d.township),
        ("street", &d.street),
    ]
    .into_iter()
    .enumerate()
    {
        match MonthDay::parse(v) {
            Some(md) => deadlines[i] = md,
            None => return bad(format!("deadlines.{what} {v:?} is not MM-DD")),
        }
    }
    let mut ids = HashSet::new();
    for o in &file.offices {
        if o.id.trim().is_empty() {
            return bad(format!("office {:?} has an empty id", o.name));
        }
        if !ids.insert(o.id.as_str()) {
            return bad(format!("office id {:?} appears twice", o.id));
        }
        if let Some(m) = &o.min_severity
            && !matches!(m.as_str(), "warning" | "error")
        {
            return bad(format!(
                "office {:?}: min_severity {m:?} must be \"warning\" or \"error\"",
                o.id
            ));
        }
    }
    for o in &file.offices {
        if let Some(p) = &o.parent
            && !ids.contains(p.as_str())
        {
            return bad(format!("office {:?}: parent {p:?} is not an office", o.id));
        }
    }
    if !ids.contains(file.default_office.as_str()) {
        return bad(format!(
            "default_office {:?} is not an office",
            file.default_office
        ));
    }
    let mut agency_ids = HashSet::new();
    for a in &file.agencies {
        if a.name.trim().is_empty() {
            return bad("an agency has an empty name".into());
        }
        if !agency_ids.insert(a.id.as_str()) {
            return bad(format!(
                "agency id {:?} appears twice (agency {:?}); agencies sharing a name need distinct \
                 region codes or ids",
                a.id, a.name
            ));
        }
        if !ids.contains(a.office.as_str()) {
            return bad(format!(
                "agency {:?}: office {:?} is not an office",
                a.name, a.office
            ));
        }
        if let Some(dl) = &a.deadline
            && MonthDay::parse(dl).is_none()
        {
            return bad(format!("agency {:?}: deadline {dl:?} is not MM-DD", a.name));
        }
        if let Some(u) = &a.url
            && !roster::url_ok(u)
        {
            return bad(format!(
                "agency {:?}: url {u:?} is not an http(s) URL",
                a.name
            ));
        }
    }
    Ok(deadlines)
}

/// Fills in the ids a file leaves out: an agency's name when no other agency has that name, else
/// `region/name` (two counties' 城关镇人民政府 are `390121/城关镇人民政府` and
/// `390122/城关镇人民政府`). Agencies sharing a name and a region (or with no region) need ids
/// written in the file.
pub fn default_ids(agencies: &mut [Agency]) -> Result<(), DirectoryError> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for a in agencies.iter() {
        *count.entry(a.name.trim()).or_default() += 1;
    }
    let shared: HashSet<String> = count
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(name, _)| name.to_string())
        .collect();
    for a in agencies.iter_mut() {
        a.id = a.id.trim().to_string();
        if !a.id.is_empty() {
            continue;
        }
        let name = a.name.trim();
        if !shared.contains(name) {
            a.id = name.to_string();
        } else if a.region.trim().is_empty() {
            return Err(DirectoryError::Invalid(format!(
                "机关「{name}」与其他机关同名，请为其填写行政区划代码或机关代码（agency {name:?} shares \
                 its name with another: give it a region code or an id）"
            )));
        } else {
            a.id = format!("{}/{name}", a.region.trim());
        }
    }
    Ok(())
}

/// Folds full-width ASCII (Ａ, １, （) to half-width, drops whitespace of every width and zero-width
/// characters, lower-cases ASCII.
pub fn fold(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' => None,
            c if c.is_whitespace() => None,
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0),
            c => Some(c),
        })
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Suffixes that end a region name at the start of an agency name, longest first.
const REGION_SUFFIXES: [&str; 9] = [
    "自治州",
    "自治县",
    "自治旗",
    "省",
    "市",
    "县",
    "区",
    "盟",
    "旗",
];
/// Characters a region name before its suffix never contains (so 江州市市场监督管理局 strips 江州市 and
/// stops at 市场).
const REGION_CHARS: [char; 4] = ['省', '市', '县', '区'];

/// Splits a folded name into its core and the region prefixes in front of it:
/// `江州市清河县人民政府河西街道办事处` → (`河西街道`, `[江州市, 清河县]`); `清河县人民政府` →
/// (`人民政府`, `[清河县]`); `城关镇人民政府` → (`城关镇`, `[]`).
pub fn core_of(folded: &str) -> (String, Vec<String>) {
    let mut rest = folded;
    let mut prefixes = Vec::new();
    while let Some(p) = region_prefix(rest) {
        prefixes.push(p.to_string());
        rest = &rest[p.len()..];
    }
    if !prefixes.is_empty()
        && let Some(after) = rest.strip_prefix("人民政府")
        && !after.is_empty()
    {
        rest = after;
    }
    // A township is named with or without its body: 河西街道 / 河西街道办事处, 城关镇 / 城关镇人民政府.
    let mut core = rest;
    if let Some(s) = core.strip_suffix("办事处")
        && s.ends_with("街道")
    {
        core = s;
    }
    if let Some(s) = core.strip_suffix("人民政府")
        && (s.ends_with('镇') || s.ends_with('乡'))
    {
        core = s;
    }
    (core.to_string(), prefixes)
}

/// The region name at the start of `s` (e.g. `江州市`), if any: 1 to 8 characters free of 省市县区,
/// then a region suffix, with something left after it.
fn region_prefix(s: &str) -> Option<&str> {
    for (stem_chars, (i, c)) in s.char_indices().enumerate() {
        if stem_chars >= 1 {
            let tail = &s[i..];
            for suf in REGION_SUFFIXES {
                if tail.starts_with(suf) {
                    let end = i + suf.len();
                    return (end < s.len()).then(|| &s[..end]);
                }
            }
        }
        if REGION_CHARS.contains(&c) || stem_chars >= 8 {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guess is the model's classification (issue #20.3): 行政公署 is a government and a bare
    /// 镇/乡 a township, as the rules read them.
    #[test]
    fn guess_agrees_with_the_rules_classification() {
        assert_eq!(
            AgencyKind::guess("大兴安岭地区行政公署"),
            AgencyKind::Government
        );
        assert_eq!(AgencyKind::guess("叶县辛店镇"), AgencyKind::Township);
        assert_eq!(AgencyKind::guess("郑县东城街道办事处"), AgencyKind::Street);
        assert_eq!(AgencyKind::guess("郑县人民政府"), AgencyKind::Government);
        assert_eq!(AgencyKind::guess("郑县教育局"), AgencyKind::Department);
        assert_eq!(AgencyKind::guess("某某单位"), AgencyKind::Department);
    }

    const SAMPLE: &str = r#"
default_office = "province"

[[offices]]
id = "province"
name = "楚江省人民政府办公厅"
level = "province"
region = "390000"

[[offices]]
id = "390100"
name = "江州市人民政府办公室"
level = "city"
region = "390100"
parent = "province"

[[offices]]
id = "390121"
name = "清河县人民政府办公室"
level = "county"
region = "390121"
parent = "390100"
channels = ["inbox", "webhook:http://127.0.0.1:9/hook"]

[[offices]]
id = "zheng"
name = "郑县人民政府办公室"
level = "county"
parent = "390100"

[[agencies]]
name = "清河县河西街道办事处"
aliases = ["河西街道办事处", "江州市清河县人民政府河西街道办事处"]
office = "390121"
region = "390121"

[[agencies]]
name = "清河县人民政府"
office = "390100"
region = "390121"

[[agencies]]
name = "江州市人民政府"
office = "province"
region = "390100"

[[agencies]]
name = "江州市市场监督管理局"
office = "390100"

[[agencies]]
name = "郑县东城街道办事处"
office = "zheng"

[[agencies]]
name = "郑县城关镇人民政府"
office = "zheng"

[[agencies]]
name = "清河县城关镇人民政府"
office = "390121"
"#;

    fn dir() -> Directory {
        Directory::from_toml(SAMPLE).unwrap()
    }

    #[test]
    fn exact_name_and_alias() {
        let d = dir();
        let r = d.resolve("清河县河西街道办事处");
        assert_eq!((r.office.id.as_str(), r.how), ("390121", MatchKind::Name));
        assert!(r.note.is_none());
        let r = d.resolve("江州市清河县人民政府河西街道办事处");
        assert_eq!((r.office.id.as_str(), r.how), ("390121", MatchKind::Alias));
    }

    #[test]
    fn width_and_spaces_are_folded() {
        let d = dir();
        let r = d.resolve("清河县 河西街道\u{3000}办事处");
        assert_eq!(r.how, MatchKind::Normalised);
        assert_eq!(r.agency, Some("清河县河西街道办事处"));
        assert!(r.note.unwrap().contains("规范化"));
    }

    #[test]
    fn region_prefix_is_stripped_both_ways() {
        let d = dir();
        // The roster has the county in front, the report does not.
        let r = d.resolve("东城街道办事处");
        assert_eq!((r.office.id.as_str(), r.how), ("zheng", MatchKind::Core));
        assert_eq!(r.agency, Some("郑县东城街道办事处"));
        // The report adds the city and 人民政府, and drops 办事处.
        let r = d.resolve("江州市郑县人民政府东城街道");
        assert_eq!(r.agency, Some("郑县东城街道办事处"));
        // A government is told apart by its region prefix.
        let r = d.resolve("江州市 清河县人民政府");
        assert_eq!(r.agency, Some("清河县人民政府"));
        let r = d.resolve("江州市清河县人民政府");
        assert_eq!(r.agency, Some("清河县人民政府"));
        assert_eq!(r.office.id, "390100");
    }

    #[test]
    fn ambiguous_and_unknown_go_to_the_default_office_with_a_reason() {
        let d = dir();
        let r = d.resolve("城关镇人民政府");
        assert_eq!(
            (r.office.id.as_str(), r.how),
            ("province", MatchKind::Default)
        );
        assert!(r.note.unwrap().contains("多个机关"));
        // …unless the prefix decides.
        assert_eq!(
            d.resolve("清河县城关镇").agency,
            Some("清河县城关镇人民政府")
        );
        let r = d.resolve("云阳市人民政府");
        assert_eq!(r.how, MatchKind::Default);
        assert!(r.note.unwrap().contains("不在名录中"));
        let r = d.resolve("  ");
        assert_eq!(r.how, MatchKind::Default);
    }

    #[test]
    fn core_names() {
        assert_eq!(
            core_of("江州市市场监督管理局"),
            ("市场监督管理局".to_string(), vec!["江州市".to_string()])
        );
        assert_eq!(core_of("城关镇人民政府").0, "城关镇");
        assert_eq!(core_of("楚江省人民政府").0, "人民政府");
        assert_eq!(core_of("江州市生态环境局清河分局").0, "生态环境局清河分局");
        assert_eq!(fold("ＡＢ（１）\u{3000}x"), "ab(1)x");
    }

    #[test]
    fn empty_directory_routes_everything_to_the_default() {
        let d = Directory::empty("province");
        let r = d.resolve("清河县人民政府");
        assert_eq!(
            (r.office.id.as_str(), r.how),
            ("province", MatchKind::Default)
        );
        assert!(r.note.is_some());
    }

    #[test]
    fn kinds_and_deadlines() {
        let d = Directory::from_toml(&format!(
            "{SAMPLE}\n[deadlines]\nstreet = \"02-28\"\n\n[[agencies]]\nname = \"清河县审计局\"\noffice = \"390121\"\ndeadline = \"02-15\"\n"
        ))
        .unwrap();
        let a = |n: &str| d.agency(n).unwrap();
        assert_eq!(a("清河县人民政府").kind(), AgencyKind::Government);
        assert_eq!(a("江州市市场监督管理局").kind(), AgencyKind::Department);
        assert_eq!(a("郑县东城街道办事处").kind(), AgencyKind::Street);
        assert_eq!(a("郑县城关镇人民政府").kind(), AgencyKind::Township);
        // Statutory: departments 1月31日, governments 3月31日 of the following year.
        assert_eq!(
            d.deadline(a("江州市市场监督管理局"), 2025).chinese(),
            "2026年1月31日"
        );
        assert_eq!(
            d.deadline(a("清河县人民政府"), 2025).chinese(),
            "2026年3月31日"
        );
        // Configured: 街道 in the file's [deadlines], 乡镇 the default, one agency its own date.
        assert_eq!(
            d.deadline(a("郑县东城街道办事处"), 2025).to_string(),
            "2026-02-28"
        );
        assert_eq!(
            d.deadline(a("郑县城关镇人民政府"), 2025).to_string(),
            "2026-03-31"
        );
        assert_eq!(
            d.deadline(a("清河县审计局"), 2025).to_string(),
            "2026-02-15"
        );
        let e = Directory::from_toml(&format!("{SAMPLE}\n[deadlines]\nstreet = \"31-02\"\n"))
            .unwrap_err();
        assert!(e.to_string().contains("deadlines.street"));
    }

    #[test]
    fn agencies_can_come_from_a_csv_roster() {
        let dir = std::env::temp_dir().join(format!("nianbao-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("roster.csv"),
            "\u{feff}name,aliases,kind,office,region,deadline\r\n\
             清河县水利局,,department,390121,390121,\r\n\
             \"清河县东关街道办事处\",\"东关街道办事处;江州市清河县人民政府东关街道办事处\",街道,390121,390121,02-28\r\n\
             \r\n",
        )
        .unwrap();
        // A top-level key, before the first table.
        let toml = SAMPLE.replacen(
            "default_office = \"province\"\n",
            "default_office = \"province\"\nagencies_csv = \"roster.csv\"\n",
            1,
        );
        std::fs::write(dir.join("d.toml"), &toml).unwrap();
        let d = Directory::load(&dir.join("d.toml")).unwrap();
        let r = d.resolve("东关街道");
        assert_eq!(r.agency, Some("清河县东关街道办事处"));
        assert_eq!(r.office.id, "390121");
        let a = d.agency("清河县东关街道办事处").unwrap();
        assert_eq!(a.kind(), AgencyKind::Street);
        assert_eq!(d.deadline(a, 2025).to_string(), "2026-02-28");
        assert_eq!(d.resolve("清河县水利局").how, MatchKind::Name);
        // From text alone a CSV cannot be found.
        assert!(Directory::from_toml(&toml).is_err());
        // Broken rows name their line.
        let e = agencies_from_csv("name,office\n清河县林业局,\n", "r.csv").unwrap_err();
        assert_eq!(e.to_string(), "agencies CSV r.csv, line 2: empty office");
        let e = agencies_from_csv("name,office,colour\n", "r.csv").unwrap_err();
        assert!(e.to_string().contains("unknown column \"colour\""));
        let e = agencies_from_csv("name,office\n\"x,390121\n", "r.csv").unwrap_err();
        assert!(e.to_string().contains("unterminated"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn subtree_is_the_office_and_everything_below_it() {
        let d = dir();
        assert_eq!(
            d.subtree("province"),
            ["province", "390100", "390121", "zheng"]
        );
        assert_eq!(d.subtree("390100"), ["390100", "390121", "zheng"]);
        assert_eq!(d.subtree("390121"), ["390121"]);
        assert!(d.subtree("390000").is_empty());
        assert!(d.subtree("").is_empty());
        assert_eq!(
            Directory::empty("province").subtree("province"),
            ["province"]
        );
    }

    #[test]
    fn is_within_follows_parents_up() {
        let d = dir();
        assert!(d.is_within("390121", "390121"));
        assert!(d.is_within("390121", "390100"));
        assert!(d.is_within("390121", "province"));
        assert!(d.is_within("zheng", "province"));
        assert!(!d.is_within("390121", "zheng"));
        assert!(!d.is_within("province", "390100"));
        assert!(!d.is_within("nowhere", "province"));
        assert!(!d.is_within("390121", "nowhere"));
        // The same relation as subtree.
        for o in d.offices() {
            for a in d.offices() {
                assert_eq!(
                    d.is_within(&o.id, &a.id),
                    d.subtree(&a.id).contains(&o.id.as_str()),
                    "{} in {}",
                    o.id,
                    a.id
                );
            }
        }
    }

    #[test]
    fn a_cycle_of_parents_ends() {
        let d = Directory::from_toml(
            "default_office = \"a\"\n\
             [[offices]]\nid = \"a\"\nname = \"A\"\nlevel = \"city\"\nparent = \"b\"\n\
             [[offices]]\nid = \"b\"\nname = \"B\"\nlevel = \"city\"\nparent = \"a\"\n\
             [[offices]]\nid = \"c\"\nname = \"C\"\nlevel = \"county\"\n",
        )
        .unwrap();
        assert_eq!(d.subtree("a"), ["a", "b"]);
        assert_eq!(d.subtree("b"), ["b", "a"]);
        assert!(d.is_within("a", "b") && d.is_within("b", "a"));
        assert!(!d.is_within("a", "c") && !d.is_within("c", "a"));
    }

    #[test]
    fn channels_are_left_to_the_service() {
        // Channel syntax is notification's (nianbao_notification::check_channels); the directory
        // keeps the text.
        let d = Directory::from_toml(
            "default_office = \"a\"\n[[offices]]\nid = \"a\"\nname = \"A\"\nlevel = \"city\"\nchannels = [\"pigeon\"]\n",
        )
        .unwrap();
        assert_eq!(d.default_office().channels, ["pigeon"]);
    }

    #[test]
    fn broken_directories_are_refused() {
        let e = Directory::from_toml("default_office = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("default_office"));
        let e = Directory::from_toml(
            "default_office = \"a\"\n[[offices]]\nid = \"a\"\nname = \"A\"\nlevel = \"city\"\n[[agencies]]\nname = \"X\"\noffice = \"b\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("not an office"));
    }
}
