//! Synthetic 政府信息公开工作年度报告 with known truth, for testing extraction and rules at scale.
//!
//! # Layout
//! - [`directory`]: the fictional province 楚江省 and every agency in it (levels, kinds, codes,
//!   supervising offices); exposed as data for the roster.
//! - `values`: table values at a realistic scale per kind of agency, built so that every relation
//!   of the format holds.
//! - `defects`: the defects real reports have, injected at a given rate.
//! - `check`: our own reading of the single-report rules over the final tables; it computes the
//!   arithmetic consequences of every injected defect for `expected_findings`.
//! - `narrative`, `doc`, `style`, `render`: the text of parts 一/五/六 and the five layout families.
//! - `truth`: the `*.truth.json` record (shape of `../shared/seeds`).
//!
//! Everything is a pure function of `(seed, index, options)`: the same inputs give the same bytes.

pub mod directory;

mod check;
mod defects;
mod doc;
mod narrative;
mod office;
mod render;
mod rng;
mod style;
mod truth;
mod values;

pub use check::Expected;
pub use defects::DefectKind;
pub use directory::{AgencySpec, Directory, Kind, Level, directory};
pub use truth::{TRUTH_SCHEMA, Truth};

use nianbao_model::{RuleId, T3Row, Template};
use rng::Dice;
use serde::Serialize;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::LazyLock;

/// The layout families of the seeds (see `render` for what each looks like).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Tab,
    Cells,
    Markdown,
    Web,
    Prose,
}

impl Layout {
    pub const ALL: [Layout; 5] = [
        Layout::Tab,
        Layout::Cells,
        Layout::Markdown,
        Layout::Web,
        Layout::Prose,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Tab => "tab",
            Layout::Cells => "cells",
            Layout::Markdown => "markdown",
            Layout::Web => "web",
            Layout::Prose => "prose",
        }
    }

    /// Parses a comma-separated list such as `tab,cells,prose`.
    pub fn parse_list(s: &str) -> Result<Vec<Layout>, SynthError> {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::parse)
            .collect()
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Layout {
    type Err = SynthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layout::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| SynthError::UnknownLayout(s.to_string()))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SynthError {
    #[error("unknown layout {0:?} (expected tab, cells, markdown, web or prose)")]
    UnknownLayout(String),
    #[error("unknown format {0:?} (expected text, html, html-gbk or docx)")]
    UnknownFormat(String),
}

/// How the bytes of a report are encoded. Real files arrive in all of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Gb18030,
    Utf16LeBom,
}

impl Encoding {
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => text.as_bytes().to_vec(),
            Encoding::Utf8Bom => {
                let mut v = vec![0xEF, 0xBB, 0xBF];
                v.extend_from_slice(text.as_bytes());
                v
            }
            Encoding::Gb18030 => encoding_rs::GB18030.encode(text).0.into_owned(),
            Encoding::Utf16LeBom => {
                let mut v = vec![0xFF, 0xFE];
                for u in text.encode_utf16() {
                    v.extend_from_slice(&u.to_le_bytes());
                }
                v
            }
        }
    }

    fn describe(self) -> Option<&'static str> {
        match self {
            Encoding::Utf8 => None,
            Encoding::Utf8Bom => Some("UTF-8 with BOM"),
            Encoding::Gb18030 => Some("GB18030-encoded"),
            Encoding::Utf16LeBom => Some("UTF-16LE with BOM"),
        }
    }
}

/// The file format a report is written in: the text layouts of the seeds, or the formats agencies
/// publish (a web page, a Word file). The content and the truth are the same in every format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// The report's text layout and encoding ([`SynthReport::bytes`]).
    Text,
    /// A government web page in UTF-8.
    HtmlUtf8,
    /// A government web page declared GBK/GB2312, written in GB18030.
    HtmlGbk,
    /// A Word file with the official tables as merged-cell grids.
    Docx,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::Text,
        OutputFormat::HtmlUtf8,
        OutputFormat::HtmlGbk,
        OutputFormat::Docx,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::HtmlUtf8 => "html",
            OutputFormat::HtmlGbk => "html-gbk",
            OutputFormat::Docx => "docx",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Text => "txt",
            OutputFormat::HtmlUtf8 | OutputFormat::HtmlGbk => "html",
            OutputFormat::Docx => "docx",
        }
    }
}

impl FromStr for OutputFormat {
    type Err = SynthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| SynthError::UnknownFormat(s.to_string()))
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthOptions {
    pub count: usize,
    pub seed: u64,
    /// Probability (0..=1) that a report carries at least one defect.
    pub defect_rate: f64,
    /// Layouts to mix; empty means all.
    pub layouts: Vec<Layout>,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            count: 100,
            seed: 0,
            defect_rate: 0.3,
            layouts: Layout::ALL.to_vec(),
        }
    }
}

/// One generated report.
#[derive(Clone, Debug)]
pub struct SynthReport {
    /// File stem, unique within a corpus: `0007_cells_清河县财政局_2024`.
    pub name: String,
    /// The text as a reader sees it (no BOM).
    pub text: String,
    /// The file's bytes in `encoding`.
    pub bytes: Vec<u8>,
    /// The `NAME.truth.json` record as a JSON value.
    pub truth: serde_json::Value,
    pub layout: Layout,
    pub agency: AgencySpec,
    pub defects: Vec<DefectKind>,
    pub year: i32,
    pub template: Template,
    pub encoding: Encoding,
    /// The findings of `truth.expected_findings`, typed.
    pub expected: Vec<Expected>,
    /// The truth record, typed (written with the seeds' field order).
    pub truth_record: Truth,
    /// The content before layout, to render the report in the other formats.
    source: std::sync::Arc<Source>,
}

/// A report's content before layout: what every format renders.
#[derive(Debug)]
struct Source {
    doc: doc::Doc,
    tables: values::Tables,
    labels: style::LabelStyle,
    seed: u64,
    index: usize,
}

impl SynthReport {
    /// The report's bytes in `format`. Deterministic: the same report gives the same bytes. The
    /// truth ([`SynthReport::truth`], [`SynthReport::expected`]) holds for every format.
    pub fn render(&self, format: OutputFormat) -> std::io::Result<Vec<u8>> {
        let s = &self.source;
        // Page chrome choices come from their own stream, so the text stays what it was.
        let mut d = Dice::new(s.seed ^ 0x6874_6d6c, s.index as u64);
        match format {
            OutputFormat::Text => Ok(self.bytes.clone()),
            OutputFormat::HtmlUtf8 => Ok(office::html(
                &s.doc,
                &s.tables,
                &s.labels,
                office::HtmlCharset::Utf8,
                &mut d,
            )),
            OutputFormat::HtmlGbk => Ok(office::html(
                &s.doc,
                &s.tables,
                &s.labels,
                office::HtmlCharset::Gbk,
                &mut d,
            )),
            OutputFormat::Docx => office::docx(&s.doc, &s.tables, &s.labels),
        }
    }
}

/// The whole corpus, in index order.
pub fn generate(opts: &SynthOptions) -> Vec<SynthReport> {
    (0..opts.count)
        .map(|i| generate_one(opts.seed, i, opts))
        .collect()
}

/// Writes `NAME.txt` (the bytes) and `NAME.truth.json` (pretty, like the seeds) for every report;
/// returns how many reports were written.
pub fn write_corpus(opts: &SynthOptions, dir: &Path) -> std::io::Result<usize> {
    write_corpus_as(opts, dir, OutputFormat::Text)
}

/// [`write_corpus`] in another format: `NAME.html` or `NAME.docx` and its truth (whose `file`
/// names the written file).
pub fn write_corpus_as(
    opts: &SynthOptions,
    dir: &Path,
    format: OutputFormat,
) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut n = 0;
    for i in 0..opts.count {
        let r = generate_one(opts.seed, i, opts);
        let file = format!("{}.{}", r.name, format.extension());
        std::fs::write(dir.join(&file), r.render(format)?)?;
        let mut record = r.truth_record.clone();
        record.file = file;
        let json = truth::to_pretty(&record).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(format!("{}.truth.json", r.name)), json)?;
        n += 1;
    }
    Ok(n)
}

/// Relative share of each class of agency in a corpus: most reports come from 乡镇/街道 and county
/// departments, as in a real province.
fn class_weight(a: &AgencySpec) -> f64 {
    match (a.level, a.kind) {
        (Level::Township, _) => 0.35,
        (Level::County, Kind::Government) => 0.08,
        (Level::County, _) => 0.25,
        (Level::City, Kind::Government) => 0.04,
        (Level::City, _) => 0.17,
        (Level::Province, Kind::Government) => 0.03,
        (Level::Province, _) => 0.08,
    }
}

fn pick_agency(d: &mut Dice) -> &'static AgencySpec {
    /// Per-agency weights: a class's share spread evenly over its members.
    static WEIGHTS: LazyLock<Vec<f64>> = LazyLock::new(|| {
        let dir = directory();
        let class_of = |a: &AgencySpec| (a.level, a.kind == Kind::Government);
        dir.agencies
            .iter()
            .map(|a| {
                let n = dir
                    .agencies
                    .iter()
                    .filter(|b| class_of(b) == class_of(a))
                    .count()
                    .max(1);
                class_weight(a) / n as f64
            })
            .collect()
    });
    let dir = directory();
    let i = d.weighted(&WEIGHTS);
    &dir.agencies[i.min(dir.agencies.len() - 1)]
}

const YEARS: [(i32, f64); 6] = [
    (2019, 0.05),
    (2020, 0.07),
    (2021, 0.12),
    (2022, 0.18),
    (2023, 0.25),
    (2024, 0.33),
];

fn pick_year(d: &mut Dice) -> i32 {
    let w: Vec<f64> = YEARS.iter().map(|y| y.1).collect();
    YEARS[d.weighted(&w)].0
}

/// When the report goes online: departments by 31 January (Art. 49), governments by 31 March,
/// 乡镇/街道 on the county's schedule.
fn publication(d: &mut Dice, a: &AgencySpec, year: i32) -> (i32, u32, u32) {
    let (m, day) = match a.kind {
        Kind::Department => (1, d.range(10, 31)),
        Kind::Government => {
            let m = d.range(1, 3);
            (
                m,
                if m == 1 {
                    d.range(15, 31)
                } else {
                    d.range(1, 28)
                },
            )
        }
        _ => {
            let m = d.range(1, 2);
            (m, d.range(5, 28))
        }
    };
    (year + 1, m as u32, day as u32)
}

fn title_of(d: &mut Dice, agency_form: &str, year: i32) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let mut t = match d.weighted(&[0.45, 0.45, 0.1]) {
        0 => format!("{agency_form} {year} 年政府信息公开工作年度报告"),
        1 => format!("{agency_form}{year}年政府信息公开工作年度报告"),
        _ => format!("{agency_form}{year}年度政府信息公开工作年度报告"),
    };
    if d.chance(0.1) {
        t = format!("{}年度 报告", t.trim_end_matches("年度报告"));
        notes.push("title has a stray space in 年度 报告".to_string());
    }
    (t, notes)
}

/// One report: deterministic in `(seed, index)` and the options.
pub fn generate_one(seed: u64, index: usize, opts: &SynthOptions) -> SynthReport {
    let mut d = Dice::new(seed, index as u64);
    let layouts: &[Layout] = if opts.layouts.is_empty() {
        &Layout::ALL
    } else {
        &opts.layouts
    };
    let layout = *d.pick(layouts);
    let agency = pick_agency(&mut d);
    let year = pick_year(&mut d);

    let kinds = defects::choose(&mut d, opts.defect_rate, agency, year);
    let template = if year <= 2020 || kinds.contains(&DefectKind::OutdatedTemplate) {
        Template::V2019
    } else {
        Template::V2021
    };
    let mut tables = values::tables_for(&mut d, agency, template);
    let outcome = defects::inject(&mut d, &kinds, agency, year, &mut tables);

    let mut labels = style::LabelStyle::draw(&mut d);
    labels.typo_abolished = outcome.typo_abolished;
    labels.typo_carryover = outcome.typo_carryover;
    let mut text_style = style::TextStyle::draw(&mut d);
    let mut ro = render::RenderOpts::draw(layout, &mut d);
    if layout == Layout::Prose {
        // PDF text layers write 2024年 without spaces; spaced numerals come from Word copies.
        text_style.spaced_numbers = false;
    }
    // A blank cell in a row whose tab quirk moves its cells would make the row ambiguous (the
    // shifted (七)总计 with a blank first cell looks like the normal row with a blank last cell): real
    // files have this ambiguity, the acceptance corpus must not.
    let blank_in = |r: T3Row| (0..7).any(|k| tables.t3(r, k) == values::Val::Blank);
    if blank_in(T3Row::R24) {
        ro.total_shift = false;
    }
    if blank_in(T3Row::R23) {
        ro.other_first_col = false;
    }
    let halfwidth = match layout {
        Layout::Web => ro.web_cells && d.chance(0.6),
        Layout::Cells => d.chance(0.4),
        _ => false,
    };

    // Title and agency form.
    let forms = agency.acceptable_names();
    let title_agency = if forms.len() > 1 {
        let w: Vec<f64> = (0..forms.len())
            .map(|i| match i {
                0 => 0.45,
                1 => 0.4,
                _ => 0.15,
            })
            .collect();
        forms[d.weighted(&w)].clone()
    } else {
        agency.name.clone()
    };
    let (title, title_notes) = title_of(&mut d, &title_agency, year);
    let published = publication(&mut d, agency, year);

    let writer = narrative::Writer::new(&mut d, agency, year, &tables, &text_style, &outcome.flags);
    let presence = outcome.presence;
    let mut blocks = Vec::new();
    if presence.part(1) {
        blocks.extend(writer.part1(&mut d));
    }
    for n in 2..=4u8 {
        if presence.part(n) {
            blocks.push(doc::Block::Heading(n));
            if n == 2 {
                blocks.extend(writer.part2_claim());
            }
            if presence.table(n) {
                blocks.push(doc::Block::Table(n));
            }
        }
    }
    if presence.part(5) {
        blocks.extend(writer.part5(&mut d));
    }
    if presence.part(6) {
        blocks.extend(writer.part6(&mut d));
    }
    let preamble = d.chance(0.45).then(|| writer.preamble(&mut d));
    let (py, pm, pd) = published;
    let document = doc::Doc {
        title: title.clone(),
        title_agency: title_agency.clone(),
        preamble,
        blocks,
        signature: Some((title_agency.clone(), format!("{py}年{pm}月{pd}日"))),
        published,
        nav_city: agency
            .city_name
            .clone()
            .or_else(|| (agency.level == Level::City).then(|| agency.region_name.clone())),
    };
    let text = render::render(&document, &tables, &labels, &mut ro, halfwidth, &mut d);
    let source = std::sync::Arc::new(Source {
        doc: document,
        tables: tables.clone(),
        labels: labels.clone(),
        seed,
        index,
    });

    let encoding = match d.weighted(&[0.75, 0.08, 0.12, 0.05]) {
        0 => Encoding::Utf8,
        1 => Encoding::Utf8Bom,
        2 => Encoding::Gb18030,
        _ => Encoding::Utf16LeBom,
    };
    let bytes = encoding.encode(&text);

    let mut expected = check::check(&tables, &presence, agency, year);
    expected.extend(outcome.text_findings.iter().cloned());
    expected.sort();
    expected.dedup();

    let notes = layout_notes(
        layout,
        &ro,
        title_notes,
        &presence,
        halfwidth,
        template,
        encoding,
    );

    let safe_agency: String = agency
        .name
        .chars()
        .filter(|c| !matches!(c, '/' | '\\' | ':' | ' '))
        .collect();
    let name = format!("{index:04}_{}_{safe_agency}_{year}", layout.as_str());
    let parts: Vec<u8> = (1..=6u8).filter(|n| presence.part(*n)).collect();
    let record = Truth {
        schema: TRUTH_SCHEMA,
        file: format!("{name}.txt"),
        agency_any: {
            let mut v = vec![agency.name.clone()];
            if title_agency != agency.name {
                v.push(title_agency.clone());
            }
            v
        },
        year,
        template: template.as_str(),
        parts,
        table2: presence.table(2).then(|| truth::table2(&tables)),
        table3: presence.table(3).then(|| truth::table3(&tables)),
        table4: presence.table(4).then(|| truth::table4(&tables)),
        expected_findings: expected.clone(),
        note: truth::NOTE,
        layout: notes,
        defects: outcome.applied.clone(),
    };
    let truth = serde_json::to_value(&record).unwrap_or(serde_json::Value::Null);
    SynthReport {
        name,
        text,
        bytes,
        truth,
        layout,
        agency: agency.clone(),
        defects: outcome.applied,
        year,
        template,
        encoding,
        expected,
        truth_record: record,
        source,
    }
}

/// The truth's `layout` sentence: the family, then whatever in this file is unusual.
fn layout_notes(
    layout: Layout,
    ro: &render::RenderOpts,
    title_notes: Vec<String>,
    presence: &check::Presence,
    halfwidth: bool,
    template: Template,
    encoding: Encoding,
) -> String {
    let mut notes = vec![layout_sentence(layout, ro)];
    notes.extend(title_notes);
    notes.extend(ro.notes.iter().cloned());
    if matches!(layout, Layout::Tab | Layout::Web | Layout::Markdown) && !ro.md_pipe {
        let tabbed = layout != Layout::Web || !ro.web_cells;
        if tabbed && presence.table(3) {
            if ro.other_first_col {
                notes.push("(六)3.其他 row label starts in the first column".into());
            }
            if ro.total_shift {
                notes.push("(七)总计 row shifted one cell left".into());
            }
        }
    }
    if halfwidth {
        notes.push("full-width punctuation folded to ASCII".into());
    }
    if template == Template::V2019 {
        notes.push("2019 trial template (表二 2019 columns, one (六)其他处理 row)".into());
    }
    if let Some(e) = encoding.describe() {
        notes.push(e.to_string());
    }

    notes.join("; ")
}

fn layout_sentence(layout: Layout, o: &render::RenderOpts) -> String {
    match layout {
        Layout::Tab => "tab-separated tables with ragged padding as copied from Word".into(),
        Layout::Cells => "web copy: one table cell per line ending in U+00A0, an empty line after each cell, header labels split over lines".into(),
        Layout::Markdown if o.md_pipe => "markdown headings; tables as markdown pipe tables, blank cells empty between pipes".into(),
        Layout::Markdown => "markdown headings; tab-separated tables".into(),
        Layout::Web if o.web_cells => "web page copy: site navigation, breadcrumb, time/source line, title repeated, one table cell per line, signature and footer".into(),
        Layout::Web => "web page copy: site navigation, breadcrumb, time/source line, tab-separated tables, signature and footer".into(),
        Layout::Prose => format!(
            "PDF-to-text: no tabs, table cells separated by runs of spaces, blank cells as —, paragraphs hard-wrapped at {} characters",
            o.wrap
        ),
    }
}

/// Rules this generator can provoke; a test checks every one appears in a large corpus.
pub fn provoked_rules() -> Vec<RuleId> {
    vec![
        RuleId::PartMissing,
        RuleId::SubitemMissing,
        RuleId::TableMissing,
        RuleId::CellMissing,
        RuleId::CellInvalid,
        RuleId::TemplateOutdated,
        RuleId::LabelMismatch,
        RuleId::T3RowTotal,
        RuleId::T3ResultTotal,
        RuleId::T3Balance,
        RuleId::T4Total,
        RuleId::T2RegulationScope,
        RuleId::T2FeeScale,
        RuleId::NarrativeTableMismatch,
        RuleId::YearMismatch,
        RuleId::RectificationMissing,
        RuleId::FeeStatementMissing,
        RuleId::TableBlank,
        RuleId::T2DecisionScale,
        RuleId::FeeNoticeMissing,
        RuleId::FeeAmountMismatch,
        RuleId::ProblemsThin,
    ]
}

/// The relations of the format over a report's truth tables, for tests that read `truth` back.
pub fn truth_relations_hold(truth: &serde_json::Value) -> bool {
    let t3 = &truth["table3"];
    if t3.is_null() {
        return true;
    }
    let cell = |r: T3Row, k: usize| t3[r.id()][k].as_f64().unwrap_or(0.0);
    let rows_ok = T3Row::ALL.iter().all(|r| {
        t3[r.id()][6].is_null()
            || ((0..6).map(|k| cell(*r, k)).sum::<f64>() - cell(*r, 6)).abs() < 1e-6
    });
    let cols_ok = (0..7).all(|k| {
        let sum: f64 = T3Row::results().map(|r| cell(r, k)).sum();
        (sum - cell(T3Row::R24, k)).abs() < 1e-6
            && (cell(T3Row::R01, k) + cell(T3Row::R02, k)
                - cell(T3Row::R24, k)
                - cell(T3Row::R25, k))
            .abs()
                < 1e-6
    });
    rows_ok && cols_ok
}
