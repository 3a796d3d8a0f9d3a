//! What extraction yields from one document.

use crate::cells::{T2Cell, T3Col, T3Row, T4Cell};
use serde::{Deserialize, Serialize};

/// Which official format the document follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Template {
    /// 国办公开办函〔2021〕30号.
    #[serde(rename = "2021")]
    V2021,
    /// The 2019 trial format (国办公开办函〔2019〕60号), outdated from reporting year 2021.
    #[serde(rename = "2019")]
    V2019,
    #[default]
    #[serde(rename = "unknown")]
    Unknown,
}

impl Template {
    pub fn as_str(self) -> &'static str {
        match self {
            Template::V2021 => "2021",
            Template::V2019 => "2019",
            Template::Unknown => "unknown",
        }
    }
}

/// The six parts of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Part {
    /// 一、总体情况
    Overview = 1,
    /// 二、主动公开政府信息情况
    Proactive = 2,
    /// 三、收到和处理政府信息公开申请情况
    Requests = 3,
    /// 四、政府信息公开行政复议、行政诉讼情况
    ReviewLitigation = 4,
    /// 五、存在的主要问题及改进情况
    Problems = 5,
    /// 六、其他需要报告的事项
    Other = 6,
}

impl Part {
    pub const ALL: [Part; 6] = [
        Part::Overview,
        Part::Proactive,
        Part::Requests,
        Part::ReviewLitigation,
        Part::Problems,
        Part::Other,
    ];

    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<Part> {
        Part::ALL.get(usize::from(n).checked_sub(1)?).copied()
    }

    /// The canonical heading without its numeral.
    pub fn heading(self) -> &'static str {
        match self {
            Part::Overview => "总体情况",
            Part::Proactive => "主动公开政府信息情况",
            Part::Requests => "收到和处理政府信息公开申请情况",
            Part::ReviewLitigation => "政府信息公开行政复议、行政诉讼情况",
            Part::Problems => "存在的主要问题及改进情况",
            Part::Other => "其他需要报告的事项",
        }
    }

    /// The Chinese numeral of the heading (一 … 六).
    pub fn numeral(self) -> &'static str {
        ["一", "二", "三", "四", "五", "六"][usize::from(self.number()) - 1]
    }

    /// "二、主动公开政府信息情况".
    pub fn title(self) -> String {
        format!("{}、{}", self.numeral(), self.heading())
    }
}

/// One line of the document's text after normalisation (full-width ASCII folded to half-width, spaces
/// between Chinese characters removed), with the 1-based line number in the original so that findings
/// can point at it. The text itself lives in [`Extraction::text`] (`start..end`, byte offsets): one
/// buffer per document instead of one allocation per line; read it with [`Extraction::text_of`].
///
/// Serialized as `[no, start, end]` (see [`compact_serialize`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct TextLine {
    pub no: u32,
    pub start: u32,
    pub end: u32,
}

/// Serializes a struct as the array of its fields, in declaration order.
///
/// An [`Extraction`] travels as JSON from extraction to validation, once per report and into two
/// queues; its hundreds of lines and cells made up most of its size as `{"no":…,"start":…}` maps.
/// As arrays it is about 40 % smaller and quicker to parse. Derived `Deserialize` reads a struct
/// from an array of its fields as well as from a map, so both forms are read back.
macro_rules! compact_serialize {
    ($t:ty: $($field:ident),+) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeTuple;
                let mut t = s.serialize_tuple([$(stringify!($field)),+].len())?;
                $(t.serialize_element(&self.$field)?;)+
                t.end()
            }
        }
    };
}

compact_serialize!(TextLine: no, start, end);
compact_serialize!(Cell: raw, value, line);

/// Where a line of [`Extraction::lines`] came from in the original file, so that a finding's line can
/// be shown where an official will look for it: a line of a text file, a row of a table in a web page
/// or Word file, a paragraph there, or a page of a PDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SourceLocation {
    /// 1-based line of a text file.
    Line { line: u32 },
    /// 1-based paragraph (block of text outside tables) of an HTML or DOCX document.
    Paragraph { paragraph: u32 },
    /// 1-based table of an HTML or DOCX document, 1-based row of that table.
    TableRow { table: u32, row: u32 },
    /// 1-based page of a PDF.
    Page { page: u32 },
}

impl SourceLocation {
    /// How an official is told where to look, e.g. "第3页", "第2个表格第5行".
    pub fn describe(&self) -> String {
        match self {
            SourceLocation::Line { line } => format!("第{line}行"),
            SourceLocation::Paragraph { paragraph } => format!("第{paragraph}段"),
            SourceLocation::TableRow { table, row } => format!("第{table}个表格第{row}行"),
            SourceLocation::Page { page } => format!("第{page}页"),
        }
    }
}

/// Where one part sits in [`Extraction::lines`]: `start..end` are indices into that vector, the heading
/// included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartSpan {
    pub part: Part,
    /// 1-based source line of the heading, or of the part's table when the heading itself is missing.
    pub heading_line: u32,
    pub start: usize,
    pub end: usize,
    /// False when the part was inferred from its table because the heading is missing or garbled.
    pub heading_found: bool,
}

/// One table cell as written.
///
/// Blank: no `value` and no `raw`. A plain non-negative integer (the overwhelming majority of cells)
/// has its `value` and no `raw`, so that extraction does not allocate a string per cell. Anything
/// else written keeps its text in `raw`: negative or fractional numbers, numbers with units, and
/// text that is not a number (then `value` is `None`).
///
/// Serialized as `[raw, value, line]` (see [`compact_serialize`]).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Cell {
    /// The text as written, where it says more than `value`.
    pub raw: Option<String>,
    /// The number read from the cell; `None` when blank or not a number.
    pub value: Option<f64>,
    /// 1-based source line.
    pub line: Option<u32>,
}

impl Cell {
    pub fn number(value: f64, line: Option<u32>) -> Cell {
        let plain = value >= 0.0 && value.fract() == 0.0;
        Cell {
            raw: (!plain).then(|| format_number(value)),
            value: Some(value),
            line,
        }
    }

    pub fn is_blank(&self) -> bool {
        self.raw.is_none() && self.value.is_none()
    }

    /// What was written, for messages: the text, or the number as a report writes it.
    pub fn written(&self) -> Option<String> {
        match (&self.raw, self.value) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(v)) => Some(format_number(v)),
            (None, None) => None,
        }
    }

    /// Written but not a number ("若干", "—" is blank, not invalid).
    pub fn is_unparsable(&self) -> bool {
        self.raw.is_some() && self.value.is_none()
    }

    /// The value for arithmetic: a blank counts as 0 (`format-2021.md` §3).
    pub fn arith(&self) -> f64 {
        self.value.unwrap_or(0.0)
    }
}

/// Formats a number the way the report would write it: integers without a decimal point.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// 表二 as extracted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table2 {
    pub cells: [Cell; 10],
    /// 1-based source line where the table starts.
    pub line: u32,
}

impl Table2 {
    pub fn get(&self, c: T2Cell) -> &Cell {
        &self.cells[c.index()]
    }
    pub fn get_mut(&mut self, c: T2Cell) -> &mut Cell {
        &mut self.cells[c.index()]
    }
}

/// 表三 as extracted: 25 rows × 7 columns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table3 {
    pub rows: [[Cell; 7]; 25],
    /// 1-based source line of each row's label, `None` where the row was not found.
    pub row_lines: [Option<u32>; 25],
    pub line: u32,
}

impl Table3 {
    pub fn get(&self, r: T3Row, c: T3Col) -> &Cell {
        &self.rows[r.index()][c.index()]
    }
    pub fn get_mut(&mut self, r: T3Row, c: T3Col) -> &mut Cell {
        &mut self.rows[r.index()][c.index()]
    }
    pub fn row(&self, r: T3Row) -> &[Cell; 7] {
        &self.rows[r.index()]
    }
    pub fn row_line(&self, r: T3Row) -> Option<u32> {
        self.row_lines[r.index()]
    }
}

/// 表四 as extracted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table4 {
    pub cells: [Cell; 15],
    pub line: u32,
}

impl Table4 {
    pub fn get(&self, c: T4Cell) -> &Cell {
        &self.cells[c.index()]
    }
    pub fn get_mut(&mut self, c: T4Cell) -> &mut Cell {
        &mut self.cells[c.index()]
    }
}

/// A label that differs from the official text but was recognised (e.g. 本年度止件数 for 本年废止件数).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelDeviation {
    pub part: u8,
    /// The cell or row id the label belongs to, where it names one.
    pub cell: Option<String>,
    pub expected: String,
    pub actual: String,
    pub line: u32,
}

/// A trace of the 2019 trial format found in the document (`format-2021.md` §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSignature {
    pub text: String,
    pub line: u32,
}

/// Everything extraction learned from one document. Rules read only this.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Extraction {
    pub agency: Option<String>,
    pub year: Option<i32>,
    pub template: Template,
    /// The parts found, in document order.
    pub parts: Vec<PartSpan>,
    pub table2: Option<Table2>,
    pub table3: Option<Table3>,
    pub table4: Option<Table4>,
    /// The title line, when one was recognised.
    pub title: Option<TextLine>,
    /// The lines of the document in order; parts index into this vector.
    pub lines: Vec<TextLine>,
    /// The normalised text the lines point into.
    pub text: String,
    pub deviations: Vec<LabelDeviation>,
    pub outdated_signatures: Vec<TemplateSignature>,
    /// Set when the document could not be decoded or parsed at all; the reason is for people.
    pub unreadable: Option<String>,
    /// The detected input kind and encoding, e.g. `text/GB18030`.
    pub source_kind: String,
    /// For documents that are not plain text (HTML, DOCX, PDF): where line `no` came from is
    /// `locations[no - 1]`. Empty for text files, whose line numbers are already the location.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<SourceLocation>,
}

impl Extraction {
    /// The numbers of the parts found, ascending (`contract.md` §2 `parts`).
    pub fn part_numbers(&self) -> Vec<u8> {
        let mut v: Vec<u8> = self.parts.iter().map(|p| p.part.number()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn part(&self, part: Part) -> Option<&PartSpan> {
        self.parts.iter().find(|p| p.part == part)
    }

    /// The lines of a part (heading included), empty when the part is absent.
    pub fn part_lines(&self, part: Part) -> &[TextLine] {
        match self.part(part) {
            Some(span) => self.lines.get(span.start..span.end).unwrap_or(&[]),
            None => &[],
        }
    }

    /// The normalised text of a line.
    pub fn text_of(&self, line: &TextLine) -> &str {
        self.text
            .get(line.start as usize..line.end as usize)
            .unwrap_or_default()
    }

    /// Appends a line (for builders of extractions: extractors, tests).
    pub fn push_line(&mut self, no: u32, text: &str) -> TextLine {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        let start = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str(text);
        let end = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        let line = TextLine { no, start, end };
        self.lines.push(line);
        line
    }

    /// Where 1-based line `no` is in the original file: its page, table row or paragraph for
    /// documents that have them, the line itself for text.
    pub fn location_of(&self, no: u32) -> SourceLocation {
        usize::try_from(no)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.locations.get(i))
            .copied()
            .unwrap_or(SourceLocation::Line { line: no })
    }

    /// Where a finding's line is in the original file, for documents that are not plain text (for
    /// text the line is the location: `None`).
    pub fn location_of_finding(&self, f: &crate::Finding) -> Option<SourceLocation> {
        if self.locations.is_empty() {
            return None;
        }
        f.line.map(|l| self.location_of(l))
    }

    /// The lines before the first part: title, navigation, introduction.
    pub fn preamble_lines(&self) -> &[TextLine] {
        let end = self.parts.first().map_or(self.lines.len(), |p| p.start);
        self.lines.get(..end).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_cells_travel_as_arrays_and_are_read_in_both_forms() {
        let line = TextLine {
            no: 3,
            start: 10,
            end: 25,
        };
        assert_eq!(serde_json::to_string(&line).unwrap(), "[3,10,25]");
        let back: TextLine = serde_json::from_str("[3,10,25]").unwrap();
        assert_eq!(back, line);
        let old: TextLine = serde_json::from_str(r#"{"no":3,"start":10,"end":25}"#).unwrap();
        assert_eq!(old, line);

        for cell in [
            Cell::default(),
            Cell::number(12.0, Some(40)),
            Cell::number(-1.5, None),
            Cell {
                raw: Some("若干".into()),
                value: None,
                line: Some(7),
            },
        ] {
            let json = serde_json::to_string(&cell).unwrap();
            assert!(json.starts_with('['), "{json}");
            assert_eq!(serde_json::from_str::<Cell>(&json).unwrap(), cell);
        }
        assert_eq!(
            serde_json::to_string(&Cell::number(12.0, Some(40))).unwrap(),
            "[null,12.0,40]"
        );
        let old: Cell = serde_json::from_str(r#"{"raw":"若干","value":null,"line":7}"#).unwrap();
        assert_eq!(old.raw.as_deref(), Some("若干"));
    }

    #[test]
    fn parts_and_numbers() {
        assert_eq!(Part::from_number(3), Some(Part::Requests));
        assert_eq!(Part::from_number(0), None);
        assert_eq!(Part::from_number(7), None);
        assert_eq!(Part::Other.title(), "六、其他需要报告的事项");
    }

    #[test]
    fn lines_point_into_one_buffer() {
        let mut x = Extraction::default();
        let a = x.push_line(1, "一、总体情况");
        let b = x.push_line(2, "正文");
        assert_eq!(x.text_of(&a), "一、总体情况");
        assert_eq!(x.text_of(&b), "正文");
        assert_eq!(x.text, "一、总体情况\n正文");
    }

    #[test]
    fn findings_are_located_in_the_original() {
        let mut x = Extraction::default();
        x.push_line(1, "一、总体情况");
        x.push_line(2, "规章\t1");
        let f = crate::Finding::new(crate::RuleId::CellMissing, "m").line(Some(2));
        assert_eq!(
            x.location_of_finding(&f),
            None,
            "text: the line is the location"
        );
        x.locations = vec![
            SourceLocation::Paragraph { paragraph: 1 },
            SourceLocation::TableRow { table: 1, row: 3 },
        ];
        assert_eq!(
            x.location_of_finding(&f),
            Some(SourceLocation::TableRow { table: 1, row: 3 })
        );
        assert_eq!(x.location_of(9), SourceLocation::Line { line: 9 });
        assert_eq!(SourceLocation::Page { page: 4 }.describe(), "第4页");
    }

    #[test]
    fn numbers_format_like_a_report() {
        assert_eq!(format_number(3119.0), "3119");
        assert_eq!(format_number(96171.6), "96171.6");
        assert_eq!(format_number(-2.0), "-2");
        assert_eq!(format_number(0.25), "0.25");
    }
}
