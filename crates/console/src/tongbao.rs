//! The 通报 draft of an office for a scope and date (DOCX for the document, XLSX with the 整改台账
//! for the work), and the 汇总 of 表二/表三/表四 by region and level for the office's own upward
//! report.
//!
//! The DOCX is written by hand (a WordprocessingML package of three parts, the fonts of official
//! documents: 方正小标宋简体 title, 黑体 headings, 仿宋_GB2312 text), the XLSX with
//! rust_xlsxwriter.

use crate::data::{self, AgencyRow, Counts, Standing};
use nianbao_directory::{Date, Directory, Level};
use nianbao_model::{Extraction, T2Cell, T3Col, T3Row, T4Cell};
use nianbao_proto::v1::Report;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, XlsxError};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;

/// What a draft is made from.
pub struct Input {
    pub office_id: String,
    pub office_name: String,
    pub year: i32,
    /// 截至日期: the reports received up to its end count.
    pub date: Date,
    /// 整改期限.
    pub due: Date,
    pub reports: Vec<Report>,
    pub directory: Arc<Directory>,
}

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("writing the DOCX: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing the DOCX: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the XLSX: {0}")]
    Xlsx(#[from] XlsxError),
}

/// One line of the 整改台账.
#[derive(Clone, Debug, PartialEq)]
pub struct LedgerRow {
    pub agency: String,
    pub office: String,
    /// 问题类型: the rule's title, or 未报送/逾期报送.
    pub problem: String,
    pub rule: String,
    pub severity: &'static str,
    pub message: String,
    pub location: String,
    pub due: Date,
}

/// A problem kind with the agencies that have it.
pub struct ProblemGroup {
    pub rule: String,
    pub title: String,
    pub agencies: usize,
    pub findings: usize,
    /// (agency, message), the first few.
    pub examples: Vec<(String, String)>,
}

/// The draft's content, shared by the DOCX and the XLSX.
pub struct Draft<'a> {
    pub input: &'a Input,
    pub rows: Vec<AgencyRow<'a>>,
    pub counts: Counts,
    pub groups: Vec<ProblemGroup>,
    pub ledger: Vec<LedgerRow>,
}

fn location(f: &nianbao_proto::v1::Finding) -> String {
    let mut parts = Vec::new();
    if let Some(p) = f.part {
        parts.push(format!(
            "第{}部分",
            ["", "一", "二", "三", "四", "五", "六"]
                .get(p as usize)
                .copied()
                .unwrap_or("?")
        ));
    }
    if let Some(c) = &f.cell {
        parts.push(format!("单元格{c}"));
    }
    if let Some(l) = f.line {
        parts.push(format!("第{l}行"));
    }
    parts.join("，")
}

impl<'a> Draft<'a> {
    pub fn of(input: &'a Input) -> Draft<'a> {
        let rows = data::season(
            &input.directory,
            &input.office_id,
            input.year,
            &input.reports,
            input.date,
        );
        let counts = Counts::of(&rows);
        let mut by_rule: BTreeMap<String, ProblemGroup> = BTreeMap::new();
        let mut ledger = Vec::new();
        for r in &rows {
            match r.standing {
                Standing::Overdue => ledger.push(LedgerRow {
                    agency: r.agency.name.clone(),
                    office: r.office.name.clone(),
                    problem: "逾期未报送年度报告".into(),
                    rule: "report-missing".into(),
                    severity: "错误",
                    message: format!(
                        "报送期限为{}，截至{}未报送",
                        r.deadline.chinese(),
                        input.date.chinese()
                    ),
                    location: String::new(),
                    due: input.due,
                }),
                Standing::Late => ledger.push(LedgerRow {
                    agency: r.agency.name.clone(),
                    office: r.office.name.clone(),
                    problem: "逾期报送年度报告".into(),
                    rule: "report-late".into(),
                    severity: "警告",
                    message: format!(
                        "报送期限为{}，{}报送",
                        r.deadline.chinese(),
                        r.reported_on.map(|d| d.chinese()).unwrap_or_default()
                    ),
                    location: String::new(),
                    due: input.due,
                }),
                _ => {}
            }
            let Some(rep) = r.latest() else { continue };
            let mut seen_rules = std::collections::BTreeSet::new();
            for f in &rep.findings {
                if f.severity != "error" && f.severity != "warning" {
                    continue;
                }
                let g = by_rule
                    .entry(f.rule.clone())
                    .or_insert_with(|| ProblemGroup {
                        rule: f.rule.clone(),
                        title: data::rule_title(&f.rule),
                        agencies: 0,
                        findings: 0,
                        examples: Vec::new(),
                    });
                g.findings += 1;
                if seen_rules.insert(f.rule.clone()) {
                    g.agencies += 1;
                    if g.examples.len() < 3 {
                        g.examples.push((r.agency.name.clone(), f.message.clone()));
                    }
                }
                ledger.push(LedgerRow {
                    agency: r.agency.name.clone(),
                    office: r.office.name.clone(),
                    problem: data::rule_title(&f.rule),
                    rule: f.rule.clone(),
                    severity: if f.severity == "error" {
                        "错误"
                    } else {
                        "警告"
                    },
                    message: f.message.clone(),
                    location: location(f),
                    due: input.due,
                });
            }
        }
        let mut groups: Vec<ProblemGroup> = by_rule.into_values().collect();
        groups.sort_by_key(|g| std::cmp::Reverse((g.agencies, g.findings)));
        Draft {
            input,
            rows,
            counts,
            groups,
            ledger,
        }
    }

    fn names(&self, pred: impl Fn(&AgencyRow<'_>) -> bool) -> Vec<&AgencyRow<'a>> {
        self.rows.iter().filter(|r| pred(r)).collect()
    }

    /// The paragraphs of the draft: (kind, text); kinds: title, subtitle, heading, body.
    pub fn paragraphs(&self) -> Vec<(&'static str, String)> {
        let i = self.input;
        let c = &self.counts;
        let on_time = self.names(|r| r.standing == Standing::OnTime).len();
        let late = self.names(|r| r.standing == Standing::Late);
        let overdue = self.names(|r| r.standing == Standing::Overdue);
        let pending = self.names(|r| r.standing == Standing::Missing);
        let with_warnings = self.rows.iter().filter(|r| r.warnings > 0).count();
        let errors: usize = self.rows.iter().map(|r| r.errors).sum();
        let warnings: usize = self.rows.iter().map(|r| r.warnings).sum();
        let mut p = vec![
            (
                "title",
                format!(
                    "关于{}年度政府信息公开工作年度报告报送和检查情况的通报",
                    i.year
                ),
            ),
            ("subtitle", "（草稿）".to_string()),
            ("body", "各有关单位：".to_string()),
            (
                "body",
                format!(
                    "根据《中华人民共和国政府信息公开条例》第四十九条、第五十条和《国务院办公厅政府信息与政务公开办公室关于印发〈中华人民共和国政府信息公开工作年度报告格式〉的通知》（国办公开办函〔2021〕30号）的要求，{}对所辖{}个机关{}年度政府信息公开工作年度报告的报送和内容进行了检查。现将截至{}的情况通报如下。",
                    i.office_name,
                    c.due,
                    i.year,
                    i.date.chinese()
                ),
            ),
            ("heading", "一、总体情况".to_string()),
            (
                "body",
                format!(
                    "应报送年度报告的机关{}个，已报送{}个（其中按时报送{}个，逾期报送{}个），未报送{}个（其中已过报送期限{}个）。已报送的报告中，{}个存在错误，{}个存在需核实的问题，共发现错误{}项、警告{}项。",
                    c.due,
                    c.reported,
                    on_time,
                    late.len(),
                    c.missing,
                    overdue.len(),
                    c.with_errors,
                    with_warnings,
                    errors,
                    warnings
                ),
            ),
            ("heading", "二、未报送和逾期报送的机关".to_string()),
        ];
        let list = |rows: &[&AgencyRow<'_>], with_dates: bool| -> String {
            rows.iter()
                .map(|r| {
                    if with_dates {
                        format!(
                            "{}（{}报送，期限{}）",
                            r.agency.name,
                            r.reported_on.map(|d| d.chinese()).unwrap_or_default(),
                            r.deadline.chinese()
                        )
                    } else {
                        format!("{}（期限{}）", r.agency.name, r.deadline.chinese())
                    }
                })
                .collect::<Vec<_>>()
                .join("、")
        };
        if overdue.is_empty() && late.is_empty() && pending.is_empty() {
            p.push(("body", "所有应报机关均已按时报送。".into()));
        }
        if !overdue.is_empty() {
            p.push((
                "body",
                format!(
                    "（一）逾期未报送（{}个）：{}。",
                    overdue.len(),
                    list(&overdue, false)
                ),
            ));
        }
        if !late.is_empty() {
            p.push((
                "body",
                format!(
                    "（二）逾期报送（{}个）：{}。",
                    late.len(),
                    list(&late, true)
                ),
            ));
        }
        if !pending.is_empty() {
            p.push((
                "body",
                format!(
                    "（三）尚未报送、报送期限未到（{}个）：{}。",
                    pending.len(),
                    list(&pending, false)
                ),
            ));
        }
        p.push(("heading", "三、发现的主要问题".into()));
        if self.groups.is_empty() {
            p.push(("body", "已报送的报告未发现错误或需核实的问题。".into()));
        }
        for (n, g) in self.groups.iter().enumerate() {
            let examples = g
                .examples
                .iter()
                .map(|(a, m)| format!("{a}：{m}"))
                .collect::<Vec<_>>()
                .join("；");
            p.push((
                "body",
                format!(
                    "（{}）{}（{}个机关，{}项）。例如，{}。",
                    chinese_number(n + 1),
                    g.title,
                    g.agencies,
                    g.findings,
                    examples.trim_end_matches('。')
                ),
            ));
        }
        p.push(("heading", "四、整改要求".into()));
        p.push(("body", format!(
            "请未报送的机关立即报送并公开年度报告；请存在问题的机关对照附件整改台账逐项核实，于{}前完成整改，在政府信息公开专栏更正并重新发布年度报告，同时将整改情况报{}。",
            i.due.chinese(), i.office_name
        )));
        p.push(("body", "附件：整改台账".into()));
        p.push(("signature", i.office_name.clone()));
        p.push(("signature", i.date.chinese()));
        p
    }
}

/// 一, 二, … 二十 for the numbered items.
pub fn chinese_number(n: usize) -> String {
    const D: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0 => "零".into(),
        1..=9 => D[n].into(),
        10 => "十".into(),
        11..=19 => format!("十{}", D[n - 10]),
        20..=99 => format!("{}十{}", D[n / 10], D[n % 10]),
        _ => n.to_string(),
    }
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Characters XML 1.0 does not allow.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn run(text: &str, font: &str, half_points: u32, bold: bool) -> String {
    format!(
        "<w:r><w:rPr><w:rFonts w:ascii=\"{font}\" w:eastAsia=\"{font}\" w:hAnsi=\"{font}\"/>{}<w:sz w:val=\"{half_points}\"/><w:szCs w:val=\"{half_points}\"/></w:rPr><w:t xml:space=\"preserve\">{}</w:t></w:r>",
        if bold { "<w:b/>" } else { "" },
        xml(text)
    )
}

fn paragraph(kind: &str, text: &str) -> String {
    let (jc, indent, font, size) = match kind {
        "title" => ("center", "", "方正小标宋简体", 44),
        "subtitle" => ("center", "", "楷体_GB2312", 32),
        "heading" => ("both", "<w:ind w:firstLine=\"640\"/>", "黑体", 32),
        "signature" => ("right", "", "仿宋_GB2312", 32),
        _ if text.ends_with('：') && !text.starts_with("附件") => {
            ("both", "", "仿宋_GB2312", 32)
        }
        _ => ("both", "<w:ind w:firstLine=\"640\"/>", "仿宋_GB2312", 32),
    };
    format!(
        "<w:p><w:pPr><w:spacing w:line=\"560\" w:lineRule=\"exact\"/>{indent}<w:jc w:val=\"{jc}\"/></w:pPr>{}</w:p>",
        run(text, font, size, false)
    )
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = String::from(
        "<w:tbl><w:tblPr><w:tblW w:w=\"5000\" w:type=\"pct\"/><w:tblBorders>\
         <w:top w:val=\"single\" w:sz=\"4\"/><w:left w:val=\"single\" w:sz=\"4\"/><w:bottom w:val=\"single\" w:sz=\"4\"/>\
         <w:right w:val=\"single\" w:sz=\"4\"/><w:insideH w:val=\"single\" w:sz=\"4\"/><w:insideV w:val=\"single\" w:sz=\"4\"/>\
         </w:tblBorders></w:tblPr>",
    );
    let cell = |text: &str, bold: bool| {
        format!(
            "<w:tc><w:p><w:pPr><w:spacing w:line=\"320\" w:lineRule=\"auto\"/></w:pPr>{}</w:p></w:tc>",
            run(text, if bold { "黑体" } else { "仿宋_GB2312" }, 21, false)
        )
    };
    t.push_str("<w:tr><w:trPr><w:tblHeader/></w:trPr>");
    for h in header {
        t.push_str(&cell(h, true));
    }
    t.push_str("</w:tr>");
    for r in rows {
        t.push_str("<w:tr>");
        for v in r {
            t.push_str(&cell(v, false));
        }
        t.push_str("</w:tr>");
    }
    t.push_str("</w:tbl>");
    t
}

const LEDGER_HEADER: [&str; 8] = [
    "序号",
    "机关",
    "问题类型",
    "级别",
    "问题描述",
    "位置",
    "整改期限",
    "整改情况",
];

fn ledger_rows(d: &Draft<'_>) -> Vec<Vec<String>> {
    d.ledger
        .iter()
        .enumerate()
        .map(|(n, l)| {
            vec![
                (n + 1).to_string(),
                l.agency.clone(),
                l.problem.clone(),
                l.severity.to_string(),
                l.message.clone(),
                l.location.clone(),
                l.due.chinese(),
                String::new(),
            ]
        })
        .collect()
}

/// The 通报 draft as a Word document.
pub fn docx(input: &Input) -> Result<Vec<u8>, DraftError> {
    let d = Draft::of(input);
    let mut body = String::new();
    for (kind, text) in d.paragraphs() {
        body.push_str(&paragraph(kind, &text));
    }
    // The ledger on a landscape page of its own.
    body.push_str(
        "<w:p><w:pPr><w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/><w:pgMar w:top=\"2098\" w:right=\"1474\" w:bottom=\"1984\" w:left=\"1588\" w:header=\"851\" w:footer=\"992\" w:gutter=\"0\"/></w:sectPr></w:pPr></w:p>",
    );
    body.push_str(&paragraph("body", "附件"));
    body.push_str(&paragraph(
        "title",
        &format!("{}年度政府信息公开工作年度报告整改台账", input.year),
    ));
    body.push_str(&table(&LEDGER_HEADER, &ledger_rows(&d)));
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><w:body>{body}<w:sectPr><w:pgSz w:w=\"16838\" w:h=\"11906\" w:orient=\"landscape\"/><w:pgMar w:top=\"1588\" w:right=\"1440\" w:bottom=\"1588\" w:left=\"1440\" w:header=\"851\" w:footer=\"992\" w:gutter=\"0\"/></w:sectPr></w:body></w:document>"
    );
    let content_types = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";
    let rels = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>";
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in [
            ("[Content_Types].xml", content_types),
            ("_rels/.rels", rels),
            ("word/document.xml", document.as_str()),
        ] {
            z.start_file(name, opts)?;
            z.write_all(data.as_bytes())?;
        }
        z.finish()?;
    }
    Ok(buf.into_inner())
}

fn formats() -> (Format, Format, Format) {
    let title = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);
    let head = Format::new()
        .set_bold()
        .set_background_color("#D9E1F2")
        .set_border(FormatBorder::Thin)
        .set_text_wrap();
    let cell = Format::new()
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
        .set_align(FormatAlign::Top);
    (title, head, cell)
}

fn col(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

fn row(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// The 通报 draft as a workbook: 概况 (the text and the counts per office), 未报逾期, 整改台账.
pub fn xlsx(input: &Input) -> Result<Vec<u8>, DraftError> {
    let d = Draft::of(input);
    let (title, head, cell) = formats();
    let mut wb = Workbook::new();

    let ws = wb.add_worksheet();
    ws.set_name("概况")?;
    ws.set_column_width(0, 110)?;
    let mut r = 0;
    for (kind, text) in d.paragraphs() {
        let f = if kind == "title" {
            &title
        } else {
            &Format::new().set_text_wrap()
        };
        ws.write_string_with_format(row(r), 0, &text, f)?;
        r += 1;
    }
    r += 1;
    let header = ["办公室", "应报", "已报", "未报", "逾期", "有错误"];
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(row(r), col(c), *h, &head)?;
    }
    r += 1;
    let dir = &input.directory;
    let mut groups: Vec<(String, Counts)> = Vec::new();
    let own = Counts::of(d.rows.iter().filter(|x| x.office.id == input.office_id));
    if own.due > 0 {
        groups.push((format!("{}（本级）", input.office_name), own));
    }
    for child in data::children(dir, &input.office_id) {
        let sub: std::collections::HashSet<&str> = dir.subtree(&child.id).into_iter().collect();
        groups.push((
            child.name.clone(),
            Counts::of(d.rows.iter().filter(|x| sub.contains(x.office.id.as_str()))),
        ));
    }
    groups.push(("合计".into(), d.counts));
    for (name, c) in groups {
        ws.write_string_with_format(row(r), 0, &name, &cell)?;
        for (i, n) in [c.due, c.reported, c.missing, c.late, c.with_errors]
            .iter()
            .enumerate()
        {
            ws.write_number_with_format(row(r), col(i + 1), *n as f64, &cell)?;
        }
        r += 1;
    }

    let ws = wb.add_worksheet();
    ws.set_name("报送情况")?;
    let header = [
        "序号",
        "机关",
        "类型",
        "主管办公室",
        "报送期限",
        "状态",
        "报送日期",
        "错误",
        "警告",
    ];
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, col(c), *h, &head)?;
    }
    let mut rows: Vec<&AgencyRow<'_>> = d.rows.iter().collect();
    rows.sort_by_key(|x| (x.standing, x.agency.name.clone()));
    for (i, a) in rows.iter().enumerate() {
        let values = [
            (i + 1).to_string(),
            a.agency.name.clone(),
            a.agency.kind().chinese().to_string(),
            a.office.name.clone(),
            a.deadline.to_string(),
            a.standing.chinese().to_string(),
            a.reported_on.map(|x| x.to_string()).unwrap_or_default(),
            a.errors.to_string(),
            a.warnings.to_string(),
        ];
        for (c, v) in values.iter().enumerate() {
            ws.write_string_with_format(row(i + 1), col(c), v, &cell)?;
        }
    }
    for (c, w) in [6, 30, 10, 24, 12, 10, 12, 6, 6].iter().enumerate() {
        ws.set_column_width(col(c), *w)?;
    }
    ws.autofilter(0, 0, row(rows.len()), col(header.len() - 1))?;

    let ws = wb.add_worksheet();
    ws.set_name("整改台账")?;
    ws.merge_range(
        0,
        0,
        0,
        col(LEDGER_HEADER.len() - 1),
        &format!(
            "{}{}年度政府信息公开工作年度报告整改台账（截至{}）",
            input.office_name,
            input.year,
            input.date.chinese()
        ),
        &title,
    )?;
    for (c, h) in LEDGER_HEADER.iter().enumerate() {
        ws.write_string_with_format(1, col(c), *h, &head)?;
    }
    let lr = ledger_rows(&d);
    for (i, values) in lr.iter().enumerate() {
        for (c, v) in values.iter().enumerate() {
            // Texts from the reports stay texts (no formulas).
            ws.write_string_with_format(row(i + 2), col(c), v, &cell)?;
        }
    }
    for (c, w) in [6, 28, 20, 6, 60, 24, 14, 24].iter().enumerate() {
        ws.set_column_width(col(c), *w)?;
    }
    ws.set_freeze_panes(2, 0)?;
    ws.autofilter(1, 0, row(lr.len() + 1), col(LEDGER_HEADER.len() - 1))?;
    Ok(wb.save_to_buffer()?)
}

fn level_zh(l: Option<Level>) -> &'static str {
    match l {
        Some(Level::National) => "国家级",
        Some(Level::Province) => "省级",
        Some(Level::City) => "市级",
        Some(Level::County) => "县级",
        None => "未定",
    }
}

/// Sums of one group of agencies.
#[derive(Clone, Debug)]
struct Sums {
    agencies: usize,
    t2: [f64; 10],
    t3: [[f64; 7]; 25],
    t4: [f64; 15],
}

impl Default for Sums {
    fn default() -> Self {
        Sums {
            agencies: 0,
            t2: [0.0; 10],
            t3: [[0.0; 7]; 25],
            t4: [0.0; 15],
        }
    }
}

impl Sums {
    fn add(&mut self, x: &Extraction) {
        self.agencies += 1;
        if let Some(t) = &x.table2 {
            for c in T2Cell::ALL {
                self.t2[c.index()] += t.get(c).arith();
            }
        }
        if let Some(t) = &x.table3 {
            for r in T3Row::ALL {
                for c in T3Col::ALL {
                    self.t3[r.index()][c.index()] += t.get(r, c).arith();
                }
            }
        }
        if let Some(t) = &x.table4 {
            for c in T4Cell::ALL {
                self.t4[c.index()] += t.get(c).arith();
            }
        }
    }
}

/// The 汇总 workbook: 表二, 表三 (总计 column per row) and 表四 summed by region and by level, and
/// the whole 表三 grid of the scope. `tables`: (agency id, extraction of its newest report).
pub fn huizong(input: &Input, tables: &[(String, Extraction)]) -> Result<Vec<u8>, DraftError> {
    let dir = &input.directory;
    let mut by_region: BTreeMap<String, Sums> = BTreeMap::new();
    let mut by_level: BTreeMap<&'static str, Sums> = BTreeMap::new();
    let mut all = Sums::default();
    for (id, x) in tables {
        let Some(a) = dir.agency_by_id(id) else {
            continue;
        };
        let region = if a.region.is_empty() {
            "（未填地区）".to_string()
        } else {
            match dir.offices().iter().find(|o| o.region == a.region) {
                Some(o) => format!(
                    "{} {}",
                    a.region,
                    o.name
                        .trim_end_matches("人民政府办公室")
                        .trim_end_matches("人民政府办公厅")
                ),
                None => a.region.clone(),
            }
        };
        by_region.entry(region).or_default().add(x);
        by_level.entry(level_zh(a.level())).or_default().add(x);
        all.add(x);
    }
    let (title, head, cell) = formats();
    let mut wb = Workbook::new();
    let groups: Vec<(String, &Sums)> = by_region
        .iter()
        .map(|(k, v)| (format!("地区：{k}"), v))
        .chain(by_level.iter().map(|(k, v)| (format!("层级：{k}"), v)))
        .chain(std::iter::once(("合计".to_string(), &all)))
        .collect();
    let caption = format!(
        "{}{}年度政府信息公开工作年度报告表格汇总（{}个机关的最新报告，截至{}）",
        input.office_name,
        input.year,
        all.agencies,
        input.date.chinese()
    );

    let ws = wb.add_worksheet();
    ws.set_name("表二汇总")?;
    ws.merge_range(0, 0, 0, 11, &caption, &title)?;
    ws.write_string_with_format(1, 0, "分组", &head)?;
    ws.write_string_with_format(1, 1, "机关数", &head)?;
    for c in T2Cell::ALL {
        ws.write_string_with_format(
            1,
            col(c.index() + 2),
            format!("{} {}", c.id(), c.display()),
            &head,
        )?;
    }
    for (i, (name, s)) in groups.iter().enumerate() {
        ws.write_string_with_format(row(i + 2), 0, name, &cell)?;
        ws.write_number_with_format(row(i + 2), 1, s.agencies as f64, &cell)?;
        for c in T2Cell::ALL {
            ws.write_number_with_format(row(i + 2), col(c.index() + 2), s.t2[c.index()], &cell)?;
        }
    }
    ws.set_column_width(0, 28)?;

    let ws = wb.add_worksheet();
    ws.set_name("表三汇总")?;
    ws.merge_range(
        0,
        0,
        0,
        26,
        &format!("{caption}：表三各行「总计」列"),
        &title,
    )?;
    ws.write_string_with_format(1, 0, "分组", &head)?;
    ws.write_string_with_format(1, 1, "机关数", &head)?;
    for r in T3Row::ALL {
        ws.write_string_with_format(
            1,
            col(r.index() + 2),
            format!("{} {}", r.id(), r.display()),
            &head,
        )?;
    }
    for (i, (name, s)) in groups.iter().enumerate() {
        ws.write_string_with_format(row(i + 2), 0, name, &cell)?;
        ws.write_number_with_format(row(i + 2), 1, s.agencies as f64, &cell)?;
        for r in T3Row::ALL {
            ws.write_number_with_format(
                row(i + 2),
                col(r.index() + 2),
                s.t3[r.index()][T3Col::Total.index()],
                &cell,
            )?;
        }
    }
    ws.set_column_width(0, 28)?;

    let ws = wb.add_worksheet();
    ws.set_name("表三合计")?;
    ws.merge_range(0, 0, 0, 7, &format!("{caption}：表三"), &title)?;
    ws.write_string_with_format(1, 0, "项目", &head)?;
    for c in T3Col::ALL {
        ws.write_string_with_format(1, col(c.index() + 1), c.label(), &head)?;
    }
    for r in T3Row::ALL {
        ws.write_string_with_format(
            row(r.index() + 2),
            0,
            format!("{} {}", r.id(), r.display()),
            &cell,
        )?;
        for c in T3Col::ALL {
            ws.write_number_with_format(
                row(r.index() + 2),
                col(c.index() + 1),
                all.t3[r.index()][c.index()],
                &cell,
            )?;
        }
    }
    ws.set_column_width(0, 60)?;

    let ws = wb.add_worksheet();
    ws.set_name("表四汇总")?;
    ws.merge_range(0, 0, 0, 16, &caption, &title)?;
    ws.write_string_with_format(1, 0, "分组", &head)?;
    ws.write_string_with_format(1, 1, "机关数", &head)?;
    for c in T4Cell::ALL {
        ws.write_string_with_format(
            1,
            col(c.index() + 2),
            format!("{} {}", c.id(), c.display()),
            &head,
        )?;
    }
    for (i, (name, s)) in groups.iter().enumerate() {
        ws.write_string_with_format(row(i + 2), 0, name, &cell)?;
        ws.write_number_with_format(row(i + 2), 1, s.agencies as f64, &cell)?;
        for c in T4Cell::ALL {
            ws.write_number_with_format(row(i + 2), col(c.index() + 2), s.t4[c.index()], &cell)?;
        }
    }
    ws.set_column_width(0, 28)?;
    Ok(wb.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(chinese_number(1), "一");
        assert_eq!(chinese_number(10), "十");
        assert_eq!(chinese_number(12), "十二");
        assert_eq!(chinese_number(23), "二十三");
    }

    #[test]
    fn xml_escapes_and_drops_control_characters() {
        assert_eq!(xml("a<b>&\"\u{1}"), "a&lt;b&gt;&amp;&quot;");
    }
}
