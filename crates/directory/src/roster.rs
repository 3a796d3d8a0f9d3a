//! The directory from rosters as offices keep them: an Excel workbook (XLSX) or a CSV file that
//! Excel saved, with Chinese column headers (机关名称, 上级单位, 行政区划代码, 类型, 网址, 别名; for
//! offices 办公室编号, 名称, 上级).
//!
//! Why a module of its own: a province's roster is hundreds of rows typed by people, and the
//! official who fixes it wants every bad row at once with the row number Excel shows, not the first
//! error of a TOML parser. So rows are read leniently (header variants, optional and extra columns,
//! UTF-8 or GBK), every problem is collected as a [`RowError`] naming its file, sheet and row, and
//! only a roster without any becomes a [`Directory`]. Format and examples:
//! `deploy/directory/README.md`.

use crate::{
    Agency, AgencyKind, Directory, DirectoryError, DirectoryFile, Level, MonthDay, Office, Repeats,
    fold,
};
use std::collections::HashMap;
use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Where a row is: the row number is the one Excel shows at the left of the sheet (1-based, title
/// and blank rows counted), so that an official can go straight to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowLocation {
    pub file: String,
    /// The worksheet, for a workbook.
    pub sheet: Option<String>,
    pub row: usize,
}

impl fmt::Display for RowLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(s) = &self.sheet {
            write!(f, "〔{s}〕")?;
        }
        write!(f, " 第{}行", self.row)
    }
}

/// What is wrong with a row. Officials read these: Chinese, with the English phrase beside it for
/// the operators and the logs.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RowProblem {
    #[error("缺少「{0}」列（missing column）")]
    MissingColumn(&'static str),
    #[error("机关名称为空（empty name）")]
    EmptyName,
    #[error("未填写上级单位（no supervising office）")]
    NoOffice,
    #[error("上级单位「{0}」不是名录中的办公室（unknown supervising office）")]
    UnknownOffice(String),
    #[error("「{0}」对应多个办公室，请填写办公室编号（ambiguous office name）")]
    AmbiguousOffice(String),
    #[error(
        "「{name}」在同一办公室下重复，已见于{first}，同名机关请填写不同的行政区划代码或机关代码（duplicate name within the same office）"
    )]
    DuplicateName { name: String, first: String },
    #[error(
        "「{name}」已在{first}列于办公室「{office}」下，同名机关请填写不同的行政区划代码或机关代码（duplicate name under another office）"
    )]
    DuplicateElsewhere {
        name: String,
        office: String,
        first: String,
    },
    #[error("类型「{0}」无法识别，应为 政府、部门、乡镇 或 街道（unknown kind）")]
    UnknownKind(String),
    #[error("行政区划代码「{0}」应为6位数字（bad region code）")]
    BadRegion(String),
    #[error("网址「{0}」不是以 http:// 或 https:// 开头的完整网址（bad URL）")]
    BadUrl(String),
    #[error("报送期限「{0}」应为 MM-DD（bad deadline）")]
    BadDeadline(String),
    #[error("办公室编号为空（empty office id）")]
    EmptyOfficeId,
    #[error("办公室名称为空（empty office name）")]
    EmptyOfficeName,
    #[error("办公室编号「{id}」重复，已见于{first}（duplicate office id）")]
    DuplicateOfficeId { id: String, first: String },
    #[error("上级「{0}」不是名录中的办公室（unknown parent office）")]
    UnknownParent(String),
    #[error("级别「{0}」无法识别，应为 省、市 或 县（unknown level）")]
    UnknownLevel(String),
}

/// One problem of one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub at: RowLocation,
    pub problem: RowProblem,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}：{}", self.at, self.problem)
    }
}

/// Every problem of a roster, so that one round of corrections fixes them all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowErrors(pub Vec<RowError>);

impl fmt::Display for RowErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "名录中有 {n} 处错误（{n} errors in the roster）：")?;
        for e in &self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

/// A table as read from a CSV file or a worksheet: cells as text.
struct Table {
    file: String,
    sheet: Option<String>,
    /// Excel's number of `rows[0]`.
    first_row: usize,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn at(&self, i: usize) -> RowLocation {
        RowLocation {
            file: self.file.clone(),
            sheet: self.sheet.clone(),
            row: self.first_row + i,
        }
    }
}

/// An agency name already listed: where, and what tells it apart from a namesake.
struct Seen {
    office: String,
    at: String,
    region: String,
    id: String,
}

/// The columns a roster may have. Header text is compared after [`header_key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    AgencyName,
    AgencyOffice,
    Region,
    Kind,
    Url,
    Aliases,
    Deadline,
    Channels,
    AgencyId,
    OfficeId,
    OfficeName,
    OfficeParent,
    OfficeLevel,
    AgencyLevel,
}

/// A roster cell of channels: one per line, or separated by `;` or `；` (a channel may hold a
/// comma: `email:a@x,b@y`).
fn split_channels(cell: &str) -> Vec<String> {
    cell.split([';', '；', '\n'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// Header spellings seen in offices' spreadsheets (and the English names of the older
/// `agencies_csv` format), by table.
const AGENCY_HEADERS: [(Column, &[&str]); 10] = [
    (Column::AgencyLevel, &["级别", "层级", "行政级别", "level"]),
    (
        Column::AgencyId,
        &[
            "机关代码",
            "机关编号",
            "统一社会信用代码",
            "信用代码",
            "机构代码",
            "agency_id",
        ],
    ),
    (
        Column::AgencyName,
        &["机关名称", "单位名称", "机关全称", "机关", "name", "agency"],
    ),
    (
        Column::AgencyOffice,
        &["上级单位", "主管办公室", "主管单位", "上级", "office"],
    ),
    (
        Column::Region,
        &["行政区划代码", "区划代码", "行政区划", "region"],
    ),
    (Column::Kind, &["类型", "机关类型", "类别", "kind"]),
    (
        Column::Url,
        &[
            "网址",
            "专栏网址",
            "公开专栏网址",
            "政府信息公开专栏",
            "政府信息公开专栏网址",
            "url",
        ],
    ),
    (
        Column::Aliases,
        &["别名", "简称", "其他名称", "aliases", "alias"],
    ),
    (Column::Deadline, &["报送期限", "截止日期", "deadline"]),
    (
        Column::Channels,
        &["通知渠道", "联系渠道", "渠道", "channels"],
    ),
];

const OFFICE_HEADERS: [(Column, &[&str]); 5] = [
    (Column::OfficeId, &["办公室编号", "编号", "id"]),
    (Column::OfficeName, &["名称", "办公室名称", "name"]),
    (
        Column::OfficeParent,
        &["上级", "上级办公室", "上级单位", "parent"],
    ),
    (Column::OfficeLevel, &["级别", "层级", "level"]),
    (
        Column::Region,
        &["行政区划代码", "区划代码", "行政区划", "region"],
    ),
];

/// A header cell as compared: width folded, whitespace dropped, a required-marker `*` and a
/// trailing colon removed. The variant with a trailing bracketed note (`网址（专栏）`) dropped is
/// tried second.
fn header_key(h: &str) -> (String, String) {
    let k = fold(h);
    let k = k
        .trim_start_matches(['*', '＊'])
        .trim_end_matches([':', '：'])
        .to_string();
    let short = match k.find(['(', '[', '【']) {
        Some(i) if i > 0 => k[..i].to_string(),
        _ => k.clone(),
    };
    (k, short)
}

fn map_header(row: &[String], table: &[(Column, &[&str])]) -> Vec<Option<Column>> {
    row.iter()
        .map(|h| {
            let (full, short) = header_key(h);
            [full, short].iter().find_map(|k| {
                table
                    .iter()
                    .find(|(_, names)| names.contains(&k.as_str()))
                    .map(|(c, _)| *c)
            })
        })
        .collect()
}

/// An agency row read, its office not yet resolved.
/// Its problems so far travel with it, so that the office and duplicate checks add theirs and the
/// row's problems are said together.
struct AgencyRow {
    at: RowLocation,
    agency: Agency,
    problems: Vec<RowProblem>,
}

/// An office row read, its parent not yet resolved.
struct OfficeRow {
    at: RowLocation,
    office: Office,
    /// 级别 was given (else it follows from the region code or the tree).
    level_given: bool,
    problems: Vec<RowProblem>,
}

/// What the given files hold, read and checked row by row: the offices and agencies whose rows are
/// good and every problem of the others. [`Roster::into_directory`] makes the directory of a roster
/// without problems; `nianbao directory check` prints it either way.
pub struct Roster {
    files: Vec<String>,
    default_office: Option<String>,
    deadlines: crate::Deadlines,
    offices: Vec<Office>,
    agencies: Vec<Agency>,
    errors: Vec<RowError>,
    notes: Vec<String>,
}

/// Extensions read as spreadsheets; anything else is a directory TOML file.
fn roster_kind(path: &Path) -> Option<&'static str> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)?;
    match ext.as_str() {
        "csv" => Some("csv"),
        "xlsx" | "xlsm" => Some("xlsx"),
        "xls" | "xlsb" | "ods" => Some("workbook"),
        _ => None,
    }
}

impl Roster {
    /// Reads the files as one directory: at most one TOML file (default office, deadlines, offices
    /// with their channels, agencies, and the `rosters` it names), and any number of CSV and XLSX
    /// rosters. Unreadable files and broken TOML are errors at once; problems of rows are collected.
    pub fn read(paths: &[&Path]) -> Result<Roster, DirectoryError> {
        let mut toml: Option<(PathBuf, DirectoryFile)> = None;
        let mut rosters: Vec<PathBuf> = Vec::new();
        for p in paths {
            if roster_kind(p).is_some() {
                rosters.push(p.to_path_buf());
                continue;
            }
            if let Some((first, _)) = &toml {
                return Err(DirectoryError::Invalid(format!(
                    "only one directory TOML file at a time ({} and {})",
                    first.display(),
                    p.display()
                )));
            }
            let file = crate::read_toml(p)?;
            let base = p.parent().unwrap_or(Path::new("."));
            // The TOML's own rosters come first, in its order.
            let own: Vec<PathBuf> = file.rosters.iter().map(|r| base.join(r)).collect();
            rosters.splice(0..0, own);
            toml = Some((p.to_path_buf(), file));
        }
        let mut tables = Vec::new();
        for p in &rosters {
            tables.extend(read_tables(p)?);
        }
        let mut files: Vec<String> = Vec::new();
        if let Some((p, _)) = &toml {
            files.push(p.display().to_string());
        }
        files.extend(rosters.iter().map(|p| p.display().to_string()));
        let toml_name = toml.as_ref().map(|(p, _)| p.display().to_string());
        Ok(Roster::from_tables(
            files,
            toml.map(|(_, f)| f),
            toml_name,
            tables,
        ))
    }

    /// Reads one roster text as if it were a CSV file called `name` (tests, tools).
    pub fn from_csv_bytes(name: &str, bytes: &[u8]) -> Result<Roster, DirectoryError> {
        let table = csv_table(name, bytes)?;
        Ok(Roster::from_tables(
            vec![name.to_string()],
            None,
            None,
            vec![table],
        ))
    }

    fn from_tables(
        files: Vec<String>,
        toml: Option<DirectoryFile>,
        toml_name: Option<String>,
        tables: Vec<Table>,
    ) -> Roster {
        let mut errors = Vec::new();
        let mut notes = Vec::new();
        let mut office_rows = Vec::new();
        let mut agency_rows = Vec::new();
        for t in &tables {
            read_table(
                t,
                &mut office_rows,
                &mut agency_rows,
                &mut errors,
                &mut notes,
            );
        }
        let (default_office, deadlines, mut offices, toml_agencies) = match toml {
            Some(f) => (Some(f.default_office), f.deadlines, f.offices, f.agencies),
            None => (None, crate::Deadlines::default(), Vec::new(), Vec::new()),
        };
        let toml_name = toml_name.unwrap_or_default();

        // Offices: the TOML's, then the rows', ids unique. A row with other problems still
        // counts as an office, so that its agencies are not reported as well.
        let mut first_id: HashMap<String, String> = offices
            .iter()
            .map(|o| (o.id.clone(), toml_name.clone()))
            .collect();
        let from_toml = offices.len();
        let mut kept: Vec<(usize, Option<String>, bool)> = Vec::new();
        for (i, r) in office_rows.iter_mut().enumerate() {
            if r.office.id.is_empty() {
                continue;
            }
            if let Some(first) = first_id.get(&r.office.id) {
                r.problems.push(RowProblem::DuplicateOfficeId {
                    id: r.office.id.clone(),
                    first: first.clone(),
                });
                continue;
            }
            first_id.insert(r.office.id.clone(), r.at.to_string());
            let mut o = r.office.clone();
            kept.push((i, o.parent.take(), r.level_given));
            offices.push(o);
        }
        let lookup = OfficeLookup::new(&offices);
        for (k, (i, parent, _)) in kept.iter().enumerate() {
            let Some(p) = parent else { continue };
            match lookup.find(p) {
                Found::One(id) => offices[from_toml + k].parent = Some(id),
                Found::Many => office_rows[*i]
                    .problems
                    .push(RowProblem::AmbiguousOffice(p.clone())),
                Found::None => office_rows[*i]
                    .problems
                    .push(RowProblem::UnknownParent(p.clone())),
            }
        }
        for r in office_rows {
            errors.extend(r.problems.into_iter().map(|problem| RowError {
                at: r.at.clone(),
                problem,
            }));
        }
        // Levels not given: one below the parent's, the root a province.
        let mut known: Vec<bool> = (0..offices.len())
            .map(|i| i < from_toml || kept[i - from_toml].2)
            .collect();
        let index: HashMap<String, usize> = offices
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id.clone(), i))
            .collect();
        for _ in 0..offices.len() {
            let mut changed = false;
            for i in 0..offices.len() {
                if known[i] {
                    continue;
                }
                let parent = offices[i]
                    .parent
                    .as_deref()
                    .and_then(|p| index.get(p).copied());
                let level = match parent {
                    None => Some(Level::Province),
                    Some(p) if known[p] => Some(match offices[p].level {
                        Level::National => Level::Province,
                        Level::Province => Level::City,
                        Level::City | Level::County => Level::County,
                    }),
                    Some(_) => None,
                };
                if let Some(l) = level {
                    offices[i].level = l;
                    known[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }

        // Agencies: the TOML's first (the service checks them), then the rows', each office
        // resolved and each name once.
        // Names are checked once per region and id: two counties' 城关镇人民政府 are two agencies
        // when their region codes (or ids) tell them apart, a repeated row when not.
        let mut seen: HashMap<String, Vec<Seen>> = HashMap::new();
        for a in &toml_agencies {
            seen.entry(fold(&a.name)).or_default().push(Seen {
                office: a.office.clone(),
                at: toml_name.clone(),
                region: a.region.clone(),
                id: a.id.clone(),
            });
        }
        let mut agencies = toml_agencies;
        for mut r in agency_rows {
            let office = if r.agency.office.is_empty() {
                None
            } else {
                match lookup.find(&r.agency.office) {
                    Found::One(id) => Some(id),
                    Found::Many => {
                        r.problems
                            .push(RowProblem::AmbiguousOffice(r.agency.office.clone()));
                        None
                    }
                    Found::None => {
                        r.problems
                            .push(RowProblem::UnknownOffice(r.agency.office.clone()));
                        None
                    }
                }
            };
            let key = fold(&r.agency.name);
            if !key.is_empty() {
                let same = seen.entry(key).or_default();
                let clash = same.iter().find(|s| {
                    let distinct_ids =
                        !s.id.is_empty() && !r.agency.id.is_empty() && s.id != r.agency.id;
                    !distinct_ids && s.region == r.agency.region
                });
                match clash {
                    Some(first) if office.as_ref() == Some(&first.office) => {
                        r.problems.push(RowProblem::DuplicateName {
                            name: r.agency.name.clone(),
                            first: first.at.clone(),
                        });
                    }
                    Some(first) => r.problems.push(RowProblem::DuplicateElsewhere {
                        name: r.agency.name.clone(),
                        office: first.office.clone(),
                        first: first.at.clone(),
                    }),
                    None => same.push(Seen {
                        office: office.clone().unwrap_or_default(),
                        at: r.at.to_string(),
                        region: r.agency.region.clone(),
                        id: r.agency.id.clone(),
                    }),
                }
            }
            match office {
                Some(office) if r.problems.is_empty() => {
                    agencies.push(Agency { office, ..r.agency });
                }
                _ => errors.extend(r.problems.into_iter().map(|problem| RowError {
                    at: r.at.clone(),
                    problem,
                })),
            }
        }
        Roster {
            files,
            default_office,
            deadlines,
            offices,
            agencies,
            errors,
            notes,
        }
    }

    /// The files read, the TOML file first.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The offices (the TOML's and the good office rows').
    pub fn offices(&self) -> &[Office] {
        &self.offices
    }

    /// The agencies of good rows (and the TOML's), `office` an office id.
    pub fn agencies(&self) -> &[Agency] {
        &self.agencies
    }

    /// Every problem found, in file and row order per kind of check.
    pub fn errors(&self) -> &[RowError] {
        &self.errors
    }

    /// What was read but not used: ignored columns, sheets without a roster header.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The directory, if no row has a problem and the whole passes the directory's checks. Without
    /// a TOML file the default office is the one office without a parent.
    pub fn into_directory(self) -> Result<Directory, DirectoryError> {
        if !self.errors.is_empty() {
            return Err(DirectoryError::Roster(RowErrors(self.errors)));
        }
        let default_office = match self.default_office {
            Some(d) => d,
            None => {
                let roots: Vec<&str> = self
                    .offices
                    .iter()
                    .filter(|o| o.parent.is_none())
                    .map(|o| o.id.as_str())
                    .collect();
                match roots.as_slice() {
                    [one] => one.to_string(),
                    [] => {
                        return Err(DirectoryError::Invalid(
                            "名录中没有办公室（the roster has no offices: give an office sheet or a directory TOML file）"
                                .into(),
                        ));
                    }
                    many => {
                        return Err(DirectoryError::Invalid(format!(
                            "名录中有多个最上级办公室（{}），请用目录 TOML 文件指定 default_office（several offices without a parent）",
                            many.join("、")
                        )));
                    }
                }
            }
        };
        let file = DirectoryFile {
            default_office,
            deadlines: self.deadlines,
            offices: self.offices,
            agencies: self.agencies,
            agencies_csv: None,
            rosters: Vec::new(),
        };
        crate::finish(file)
    }
}

enum Found {
    One(String),
    Many,
    None,
}

/// Finds an office by what a person typed: its id, its name, the name folded, or the name of the
/// government whose office it is (清河县人民政府 → 清河县人民政府办公室).
struct OfficeLookup {
    ids: HashMap<String, String>,
    names: HashMap<String, Vec<String>>,
}

impl OfficeLookup {
    fn new(offices: &[Office]) -> OfficeLookup {
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        for o in offices {
            let v = names.entry(fold(&o.name)).or_default();
            if !v.contains(&o.id) {
                v.push(o.id.clone());
            }
        }
        OfficeLookup {
            ids: offices
                .iter()
                .map(|o| (o.id.clone(), o.id.clone()))
                .collect(),
            names,
        }
    }

    fn find(&self, text: &str) -> Found {
        let text = text.trim();
        if let Some(id) = self.ids.get(text) {
            return Found::One(id.clone());
        }
        let f = fold(text);
        for key in [f.clone(), format!("{f}办公室"), format!("{f}办公厅")] {
            match self.names.get(&key).map(Vec::as_slice) {
                Some([one]) => return Found::One(one.clone()),
                Some([_, _, ..]) => return Found::Many,
                _ => {}
            }
        }
        Found::None
    }
}

/// Sorts a table's rows into offices or agencies by its header row: the first of its first ten
/// rows that names 办公室编号 (offices) or 机关名称 (agencies); rows above it are titles. A sheet
/// with neither (说明, 填表须知) is skipped with a note.
fn read_table(
    t: &Table,
    offices: &mut Vec<OfficeRow>,
    agencies: &mut Vec<AgencyRow>,
    errors: &mut Vec<RowError>,
    notes: &mut Vec<String>,
) {
    let place = match &t.sheet {
        Some(s) => format!("{}〔{s}〕", t.file),
        None => t.file.clone(),
    };
    for (h, row) in t.rows.iter().enumerate().take(10) {
        let office_cols = map_header(row, &OFFICE_HEADERS);
        let agency_cols = map_header(row, &AGENCY_HEADERS);
        let is_office = office_cols.contains(&Some(Column::OfficeId));
        let is_agency = agency_cols.contains(&Some(Column::AgencyName));
        if !is_office && !is_agency {
            continue;
        }
        let cols = if is_office { office_cols } else { agency_cols };
        let ignored: Vec<String> = row
            .iter()
            .zip(&cols)
            .filter(|(h, c)| c.is_none() && !h.trim().is_empty())
            .map(|(h, _)| format!("「{}」", h.trim()))
            .collect();
        if !ignored.is_empty() {
            notes.push(format!(
                "{place}：忽略列 {}（columns ignored）",
                ignored.join("")
            ));
        }
        let pos = |c: Column| cols.iter().position(|x| *x == Some(c));
        let required: &[(Column, &'static str)] = if is_office {
            &[
                (Column::OfficeId, "办公室编号"),
                (Column::OfficeName, "名称"),
            ]
        } else {
            &[
                (Column::AgencyName, "机关名称"),
                (Column::AgencyOffice, "上级单位"),
            ]
        };
        let mut missing = false;
        for (c, name) in required {
            if pos(*c).is_none() {
                errors.push(RowError {
                    at: t.at(h),
                    problem: RowProblem::MissingColumn(name),
                });
                missing = true;
            }
        }
        if missing {
            return;
        }
        for (i, row) in t.rows.iter().enumerate().skip(h + 1) {
            if row.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let get = |c: Column| {
                pos(c)
                    .and_then(|i| row.get(i))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            };
            let at = t.at(i);
            let mut problems = Vec::new();
            let region = get(Column::Region);
            if !region.is_empty() && !region_ok(&region) {
                problems.push(RowProblem::BadRegion(region.clone()));
            }
            if is_office {
                let id = get(Column::OfficeId);
                let name = get(Column::OfficeName);
                if id.is_empty() {
                    problems.push(RowProblem::EmptyOfficeId);
                }
                if name.is_empty() {
                    problems.push(RowProblem::EmptyOfficeName);
                }
                let level_text = get(Column::OfficeLevel);
                let level = if level_text.is_empty() {
                    level_of_region(&region)
                } else {
                    let l = parse_level(&level_text);
                    if l.is_none() {
                        problems.push(RowProblem::UnknownLevel(level_text.clone()));
                    }
                    l
                };
                let parent = Some(get(Column::OfficeParent)).filter(|p| !p.is_empty());
                offices.push(OfficeRow {
                    at,
                    level_given: level.is_some(),
                    problems,
                    office: Office {
                        id,
                        name,
                        level: level.unwrap_or(Level::County),
                        region,
                        parent,
                        channels: Vec::new(),
                        min_severity: None,
                        digest_minutes: 0,
                        repeats: Repeats::Full,
                        escalate_after_hours: None,
                    },
                });
                continue;
            }
            let name = get(Column::AgencyName);
            if name.is_empty() {
                problems.push(RowProblem::EmptyName);
            }
            let office = get(Column::AgencyOffice);
            if office.is_empty() {
                problems.push(RowProblem::NoOffice);
            }
            let kind_text = get(Column::Kind);
            let kind = if kind_text.is_empty() {
                None
            } else {
                let k = parse_kind(&kind_text);
                if k.is_none() {
                    problems.push(RowProblem::UnknownKind(kind_text.clone()));
                }
                k
            };
            let level_text = get(Column::AgencyLevel);
            let level = if level_text.is_empty() {
                None
            } else {
                let l = parse_level(&level_text);
                if l.is_none() {
                    problems.push(RowProblem::UnknownLevel(level_text.clone()));
                }
                l
            };
            let url = Some(get(Column::Url)).filter(|u| !u.is_empty());
            if let Some(u) = &url
                && !url_ok(u)
            {
                problems.push(RowProblem::BadUrl(u.clone()));
            }
            let deadline = Some(get(Column::Deadline)).filter(|d| !d.is_empty());
            if let Some(d) = &deadline
                && MonthDay::parse(d).is_none()
            {
                problems.push(RowProblem::BadDeadline(d.clone()));
            }
            agencies.push(AgencyRow {
                at,
                problems,
                agency: Agency {
                    id: get(Column::AgencyId),
                    level,
                    aliases: split_aliases(&get(Column::Aliases)),
                    name,
                    office,
                    region,
                    kind,
                    deadline,
                    url,
                    channels: split_channels(&get(Column::Channels)),
                },
            });
        }
        return;
    }
    if t.rows
        .iter()
        .any(|r| r.iter().any(|c| !c.trim().is_empty()))
    {
        notes.push(format!(
            "{place}：没有「机关名称」或「办公室编号」表头，已跳过（no roster header, skipped）"
        ));
    }
}

/// Aliases in one cell: separated by 、 or ; (either width), or put on lines of their own
/// (Alt+Enter in Excel).
fn split_aliases(cell: &str) -> Vec<String> {
    cell.split(['、', ';', '；', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The kind as rosters write it, in Chinese or as the TOML does.
pub fn parse_kind(text: &str) -> Option<AgencyKind> {
    Some(match fold(text).as_str() {
        "government" | "政府" | "人民政府" | "县政府" | "市政府" | "区政府" | "省政府" => {
            AgencyKind::Government
        }
        "department" | "部门" | "政府部门" | "工作部门" | "政府工作部门" => {
            AgencyKind::Department
        }
        "township" | "乡镇" | "乡" | "镇" | "乡镇政府" | "乡镇人民政府" | "乡人民政府"
        | "镇人民政府" => AgencyKind::Township,
        "street" | "街道" | "街道办" | "街道办事处" => AgencyKind::Street,
        _ => return None,
    })
}

fn parse_level(text: &str) -> Option<Level> {
    Some(match fold(text).as_str() {
        "national" | "国家" | "国家级" | "中央" => Level::National,
        "province" | "省" | "省级" | "自治区" => Level::Province,
        "city" | "市" | "市级" | "地市" | "地市级" | "设区的市" | "州" => Level::City,
        "county" | "县" | "县级" | "区" | "县区" | "县市区" | "县级市" | "旗" => {
            Level::County
        }
        _ => return None,
    })
}

/// The level a 6-digit region code implies: `390000` a province, `390100` a city, else a county.
pub(crate) fn level_of_region(region: &str) -> Option<Level> {
    if region.len() != 6 {
        return None;
    }
    Some(if region.ends_with("0000") {
        Level::Province
    } else if region.ends_with("00") {
        Level::City
    } else {
        Level::County
    })
}

/// A region code: 6 digits (county and above), or the 9 or 12 of the statistical code of a
/// 乡镇/街道.
pub fn region_ok(region: &str) -> bool {
    matches!(region.len(), 6 | 9 | 12) && region.bytes().all(|b| b.is_ascii_digit())
}

/// An http(s) URL with a host, as copied from a browser's address bar; what people type instead
/// (no scheme, spaces, a bare 政府网) is refused, since the crawler would not find the column.
pub fn url_ok(url: &str) -> bool {
    if url.chars().any(char::is_whitespace) {
        return false;
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let name = host.split(':').next().unwrap_or_default();
    !name.is_empty()
        && (name.contains('.') || name == "localhost")
        && !name.starts_with('.')
        && !name.ends_with('.')
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | ':'))
}

/// CSV text as Excel saves it: UTF-8 (with or without a byte-order mark) when the bytes are valid
/// UTF-8, else GBK (「CSV（逗号分隔）」 on Chinese Windows). Returns the text and the encoding's name.
pub fn decode_csv(bytes: &[u8]) -> Option<(String, &'static str)> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(body) {
        return Some((s.to_string(), "UTF-8"));
    }
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| (s.into_owned(), "GBK"))
}

fn csv_table(name: &str, bytes: &[u8]) -> Result<Table, DirectoryError> {
    let bad = |message: String| DirectoryError::RosterFile {
        path: name.to_string(),
        message,
    };
    let (text, _) = decode_csv(bytes)
        .ok_or_else(|| bad("既不是 UTF-8 也不是 GBK 编码（neither UTF-8 nor GBK text）".into()))?;
    // Excel's rows are the CSV's records (a line break inside quotes stays in its cell).
    let rows = crate::csv_records(&text)
        .map_err(|q| {
            bad(format!(
                "第{}行的引号没有闭合（unterminated quoted field）",
                q.record
            ))
        })?
        .into_iter()
        .map(|r| r.fields)
        .collect();
    Ok(Table {
        file: name.to_string(),
        sheet: None,
        first_row: 1,
        rows,
    })
}

/// The tables of one roster file: the CSV's, or each worksheet's.
fn read_tables(path: &Path) -> Result<Vec<Table>, DirectoryError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| DirectoryError::Read {
        path: name.clone(),
        source,
    })?;
    match roster_kind(path) {
        Some("csv") => Ok(vec![csv_table(&name, &bytes)?]),
        Some("xlsx") => {
            let wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
                .map_err(|e| workbook_error(&name, &e))?;
            sheets(&name, wb)
        }
        _ => {
            let wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
                .map_err(|e| workbook_error(&name, &e))?;
            sheets(&name, wb)
        }
    }
}

fn workbook_error(name: &str, e: &dyn fmt::Display) -> DirectoryError {
    DirectoryError::RosterFile {
        path: name.to_string(),
        message: format!("无法作为 Excel 工作簿读取（not a readable workbook: {e}）"),
    }
}

fn sheets<R: calamine::Reader<Cursor<Vec<u8>>>>(
    name: &str,
    mut wb: R,
) -> Result<Vec<Table>, DirectoryError>
where
    R::Error: fmt::Display,
{
    let mut tables = Vec::new();
    for sheet in wb.sheet_names() {
        let range = wb
            .worksheet_range(&sheet)
            .map_err(|e| workbook_error(name, &e))?;
        let first_row = range.start().map_or(0, |(r, _)| r as usize) + 1;
        let rows = range
            .rows()
            .map(|r| r.iter().map(cell_text).collect())
            .collect();
        tables.push(Table {
            file: name.to_string(),
            sheet: Some(sheet),
            first_row,
            rows,
        });
    }
    Ok(tables)
}

/// A cell as the text a person sees: a region code typed as a number is `390121`, not `390121.0`.
fn cell_text(c: &calamine::Data) -> String {
    use calamine::Data;
    match c {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}
