//! Test helper: a clean, complete, all-zero 2021-format report that a test bends into the case it needs.

use nianbao_model::report::{LabelDeviation, TemplateSignature};
use nianbao_model::{
    Cell, Extraction, Finding, Part, PartSpan, RuleId, T2Cell, T3Col, T3Row, T4Cell, Table2,
    Table3, Table4, Template,
};

pub(crate) fn only(f: &[Finding], rule: RuleId) -> Vec<&Finding> {
    f.iter().filter(|f| f.rule == rule).collect()
}

/// The source line of the first line containing `needle`.
pub(crate) fn line_of(x: &Extraction, needle: &str) -> Option<u32> {
    x.lines
        .iter()
        .find(|l| x.text_of(l).contains(needle))
        .map(|l| l.no)
}

fn zero() -> Cell {
    Cell::number(0.0, None)
}

fn filled<const N: usize>() -> [Cell; N] {
    std::array::from_fn(|_| zero())
}

pub(crate) struct ReportBuilder {
    agency: Option<String>,
    year: Option<i32>,
    template: Template,
    preamble: Vec<String>,
    removed: [bool; 6],
    custom: [Option<Vec<String>>; 6],
    line_overrides: Vec<(Part, usize, String)>,
    table2: Option<Table2>,
    table3: Option<Table3>,
    table4: Option<Table4>,
    deviations: Vec<LabelDeviation>,
    signatures: Vec<TemplateSignature>,
}

impl ReportBuilder {
    pub(crate) fn new() -> ReportBuilder {
        let mut t3 = Table3::default();
        for row in t3.rows.iter_mut() {
            *row = filled::<7>();
        }
        ReportBuilder {
            agency: Some("淮安市交通运输局".into()),
            year: Some(2024),
            template: Template::V2021,
            preamble: Vec::new(),
            removed: [false; 6],
            custom: Default::default(),
            line_overrides: Vec::new(),
            table2: Some(Table2 {
                cells: filled::<10>(),
                line: 0,
            }),
            table3: Some(t3),
            table4: Some(Table4 {
                cells: filled::<15>(),
                line: 0,
            }),
            deviations: Vec::new(),
            signatures: Vec::new(),
        }
    }

    pub(crate) fn agency(mut self, name: &str) -> Self {
        self.agency = Some(name.into());
        self
    }
    pub(crate) fn no_agency(mut self) -> Self {
        self.agency = None;
        self
    }
    pub(crate) fn year(mut self, y: i32) -> Self {
        self.year = Some(y);
        self
    }
    pub(crate) fn template(mut self, t: Template) -> Self {
        self.template = t;
        self
    }
    pub(crate) fn preamble(mut self, lines: &[&str]) -> Self {
        self.preamble = lines.iter().map(|s| s.to_string()).collect();
        self
    }
    pub(crate) fn remove_part(mut self, p: Part) -> Self {
        self.removed[usize::from(p.number()) - 1] = true;
        self
    }
    /// Replaces the body (everything after the heading) of a part.
    pub(crate) fn part_text(mut self, p: Part, lines: &[&str]) -> Self {
        self.custom[usize::from(p.number()) - 1] =
            Some(lines.iter().map(|s| s.to_string()).collect());
        self
    }
    /// Replaces one body line (0-based, after the heading) of a part.
    pub(crate) fn part_line(mut self, p: Part, index: usize, text: &str) -> Self {
        self.line_overrides.push((p, index, text.into()));
        self
    }
    pub(crate) fn deviation(mut self, d: LabelDeviation) -> Self {
        self.deviations.push(d);
        self
    }
    pub(crate) fn signature(mut self, s: TemplateSignature) -> Self {
        self.signatures.push(s);
        self
    }

    pub(crate) fn no_table2(mut self) -> Self {
        self.table2 = None;
        self
    }
    pub(crate) fn no_table4(mut self) -> Self {
        self.table4 = None;
        self
    }

    fn t2_cell(&mut self, c: T2Cell) -> Option<&mut Cell> {
        self.table2.as_mut().map(|t| t.get_mut(c))
    }
    fn t3_cell(&mut self, r: T3Row, c: T3Col) -> Option<&mut Cell> {
        self.table3.as_mut().map(|t| t.get_mut(r, c))
    }
    fn t4_cell(&mut self, c: T4Cell) -> Option<&mut Cell> {
        self.table4.as_mut().map(|t| t.get_mut(c))
    }

    pub(crate) fn t2(mut self, c: T2Cell, v: f64) -> Self {
        if let Some(cell) = self.t2_cell(c) {
            *cell = Cell::number(v, None);
        }
        self
    }
    pub(crate) fn blank_t2(mut self, c: T2Cell) -> Self {
        if let Some(cell) = self.t2_cell(c) {
            *cell = Cell::default();
        }
        self
    }
    pub(crate) fn t3(mut self, r: T3Row, c: T3Col, v: f64) -> Self {
        if let Some(cell) = self.t3_cell(r, c) {
            *cell = Cell::number(v, None);
        }
        self
    }
    pub(crate) fn t3_row(mut self, r: T3Row, values: [f64; 7]) -> Self {
        for (c, v) in T3Col::ALL.into_iter().zip(values) {
            self = self.t3(r, c, v);
        }
        self
    }
    pub(crate) fn t3_raw(mut self, r: T3Row, c: T3Col, raw: &str) -> Self {
        if let Some(cell) = self.t3_cell(r, c) {
            *cell = Cell {
                raw: Some(raw.into()),
                value: None,
                line: None,
            };
        }
        self
    }
    pub(crate) fn blank_t3(mut self, r: T3Row, c: T3Col) -> Self {
        if let Some(cell) = self.t3_cell(r, c) {
            *cell = Cell::default();
        }
        self
    }
    pub(crate) fn blank_t3_row(mut self, r: T3Row) -> Self {
        for c in T3Col::ALL {
            self = self.blank_t3(r, c);
        }
        self
    }
    pub(crate) fn t4(mut self, c: T4Cell, v: f64) -> Self {
        if let Some(cell) = self.t4_cell(c) {
            *cell = Cell::number(v, None);
        }
        self
    }
    pub(crate) fn blank_t4(mut self, c: T4Cell) -> Self {
        if let Some(cell) = self.t4_cell(c) {
            *cell = Cell::default();
        }
        self
    }

    fn default_body(part: Part, year: i32) -> Vec<String> {
        let v: Vec<String> = match part {
            Part::Overview => vec![
                format!(
                    "{year}年,本机关认真贯彻落实《中华人民共和国政府信息公开条例》,扎实推进政府信息公开工作。"
                ),
                "(一)主动公开。全年主动公开政府信息120条。".into(),
                "(二)依申请公开。依法依规办理政府信息公开申请。".into(),
                "(三)政府信息管理。严格落实保密审查制度。".into(),
                "(四)政府信息公开平台建设。持续优化政府网站信息公开专栏。".into(),
                "(五)监督保障。将政府信息公开工作纳入年度绩效考核。".into(),
            ],
            Part::Proactive => vec![
                "第二十条第(一)项\t\t\t".into(),
                "信息内容\t本年制发件数\t本年废止件数\t现行有效件数".into(),
                "规章\t0\t0\t0".into(),
                "行政规范性文件\t0\t0\t0".into(),
                "行政许可\t0".into(),
                "行政处罚\t0".into(),
                "行政强制\t0".into(),
                "行政事业性收费\t0".into(),
            ],
            Part::Requests => {
                let mut v = vec!["\t申请人情况\t\t\t\t\t\t总计".to_string()];
                for r in T3Row::ALL {
                    v.push(format!("{}\t0\t0\t0\t0\t0\t0\t0", r.label()));
                }
                v
            }
            Part::ReviewLitigation => vec![
                "行政复议\t\t\t\t\t行政诉讼".into(),
                "0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0".into(),
            ],
            Part::Problems => vec![
                "(一)存在的主要问题。政府信息公开的深度和广度还有不足。".into(),
                "(二)改进情况。下一步将加强业务培训,完善工作制度。".into(),
            ],
            Part::Other => vec!["本年度未收取信息处理费。".into()],
        };
        v
    }

    pub(crate) fn build(self) -> Extraction {
        let year = self.year.unwrap_or(2024);
        // Lines accumulate in a scratch extraction: it owns the text buffer they point into.
        let mut buf = Extraction::default();
        let push = |buf: &mut Extraction, text: String| {
            let no = buf.lines.len() as u32 + 1;
            buf.push_line(no, &text);
            no
        };
        let title_text = format!(
            "{}{year}年政府信息公开工作年度报告",
            self.agency.clone().unwrap_or_default()
        );
        push(&mut buf, title_text);
        let title_line = buf.lines[0];
        for l in &self.preamble {
            push(&mut buf, l.clone());
        }
        let mut parts = Vec::new();
        let mut first_body_line = [0u32; 6];
        for p in Part::ALL {
            let i = usize::from(p.number()) - 1;
            if self.removed[i] {
                continue;
            }
            let start = buf.lines.len();
            let heading_line = push(&mut buf, p.title());
            let mut body = self.custom[i]
                .clone()
                .unwrap_or_else(|| Self::default_body(p, year));
            for (op, index, text) in &self.line_overrides {
                if *op == p {
                    match body.get_mut(*index) {
                        Some(l) => *l = text.clone(),
                        None => body.push(text.clone()),
                    }
                }
            }
            first_body_line[i] = buf.lines.len() as u32 + 1;
            for l in body {
                push(&mut buf, l);
            }
            parts.push(PartSpan {
                part: p,
                heading_line,
                start,
                end: buf.lines.len(),
                heading_found: true,
            });
        }
        let mut table2 = self.table2;
        if let Some(t) = table2.as_mut() {
            t.line = first_body_line[1].max(1);
            for c in t.cells.iter_mut().filter(|c| !c.is_blank()) {
                c.line = c.line.or(Some(t.line + 2));
            }
        }
        let mut table3 = self.table3;
        if let Some(t) = table3.as_mut() {
            t.line = first_body_line[2].max(1);
            for r in T3Row::ALL {
                let row_line = t.line + 1 + r.index() as u32;
                t.row_lines[r.index()] = Some(row_line);
                for c in t.rows[r.index()].iter_mut().filter(|c| !c.is_blank()) {
                    c.line = c.line.or(Some(row_line));
                }
            }
        }
        let mut table4 = self.table4;
        if let Some(t) = table4.as_mut() {
            t.line = first_body_line[3].max(1);
            for c in t.cells.iter_mut().filter(|c| !c.is_blank()) {
                c.line = c.line.or(Some(t.line + 1));
            }
        }
        Extraction {
            agency: self.agency,
            year: self.year,
            template: self.template,
            parts,
            table2,
            table3,
            table4,
            title: Some(title_line),
            lines: buf.lines,
            text: buf.text,
            deviations: self.deviations,
            outdated_signatures: self.signatures,
            unreadable: None,
            source_kind: "text/UTF-8".into(),
            locations: Vec::new(),
        }
    }
}
