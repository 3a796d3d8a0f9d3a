//! The five layout families, each reproducing how the seeds look byte for byte where they show it.
//!
//! - `tab`: Word/HTML copied as text, cells separated by tabs with the seeds' ragged padding
//!   (seed 000, 003, 004): `3. 其他` starting in the first column, `(七) 总计` shifted one cell left.
//! - `cells`: a web page copied cell by cell: one cell per line ending in U+00A0, an empty line after
//!   every cell, header labels broken over lines (seed 002 without the site chrome). A blank cell is
//!   a line holding only U+00A0.
//! - `markdown`: `#` headings, part 一 heading possibly repeated at a deeper level (seed 001), tables
//!   tab-separated or as pipe tables.
//! - `web`: site navigation, breadcrumb, title, time/source line, repeated title, body, signature and
//!   footer around a `cells` or `tab` body (seed 002).
//! - `prose`: PDF-to-text: no tabs, table cells separated by runs of 2+ spaces, blank cells as `—`,
//!   paragraphs hard-wrapped.

use crate::Layout;
use crate::doc::{Block, Doc, heading};
use crate::rng::Dice;
use crate::style::{
    LabelStyle, PROTECT_CLOSE, PROTECT_OPEN, cell_text, halfwidth, t3_labels, unprotect,
};
use crate::values::{Tables, Val};
use nianbao_model::{T2Cell, T3Row, T4Cell, Template};

const NBSP: char = '\u{a0}';

/// Layout choices drawn per document; `notes` collects what is unusual for the truth's `layout`.
#[derive(Clone, Debug)]
pub struct RenderOpts {
    pub layout: Layout,
    /// The file starts with two empty lines (seeds 000, 001, 003, 004).
    pub leading_blank: bool,
    /// Title and 一、总体情况 printed twice (seed 004).
    pub repeat_title: bool,
    /// `3. 其他` in the first column (tab grids).
    pub other_first_col: bool,
    /// `(七) 总计` one cell to the left (seed 001, 003).
    pub total_shift: bool,
    /// Topic leads in `**bold**` (seed 003).
    pub bold: bool,
    /// Markdown heading level of each part.
    pub md_levels: [usize; 6],
    /// Markdown: 一、总体情况 at two levels (seed 001).
    pub md_p1_twice: bool,
    /// Markdown: pipe tables instead of tab rows.
    pub md_pipe: bool,
    /// Markdown: 表二 (六)/(八) rows lose their tab padding and a blank line falls inside (seed 001).
    pub md_tail_unpadded: bool,
    /// Markdown: sub-headings as `#####` lines.
    pub md_sub_hashes: bool,
    /// Cells: 商业/企业 and 科研/机构 split over two lines.
    pub split_headers: bool,
    /// Cells: 表四 labels split over two lines (结果/纠正).
    pub t4_split: bool,
    /// Cells: a stray space before some numbers (seed 002's " 0").
    pub lead_space: bool,
    /// Web: the body uses the `cells` style (otherwise `tab`).
    pub web_cells: bool,
    /// Prose: wrap width in characters, first-line indent, gap between table cells.
    pub wrap: usize,
    pub indent: &'static str,
    pub gap: usize,
    /// A signature (name and date) under the report.
    pub signature: bool,
    pub notes: Vec<String>,
}

impl RenderOpts {
    pub fn draw(layout: Layout, d: &mut Dice) -> RenderOpts {
        let md_levels = match d.index(3) {
            0 => [2, 2, 3, 4, 4, 4],
            1 => [2; 6],
            _ => [3; 6],
        };
        let mut o = RenderOpts {
            layout,
            leading_blank: match layout {
                Layout::Tab | Layout::Markdown => d.chance(0.85),
                Layout::Prose => d.chance(0.5),
                Layout::Cells => d.chance(0.3),
                Layout::Web => false,
            },
            repeat_title: matches!(layout, Layout::Tab | Layout::Prose) && d.chance(0.12),
            other_first_col: d.chance(0.7),
            total_shift: d.chance(0.35),
            bold: matches!(layout, Layout::Tab | Layout::Markdown) && d.chance(0.25),
            md_levels,
            md_p1_twice: d.chance(0.4),
            md_pipe: d.chance(0.5),
            md_tail_unpadded: d.chance(0.3),
            md_sub_hashes: d.chance(0.4),
            split_headers: d.chance(0.75),
            t4_split: d.chance(0.75),
            lead_space: d.chance(0.2),
            web_cells: d.chance(0.65),
            wrap: d.range(34, 42) as usize,
            indent: d.pick_str(&["", "　　", "  "]),
            gap: d.range(2, 4) as usize,
            signature: match layout {
                Layout::Web => true,
                Layout::Prose => d.chance(0.6),
                Layout::Cells => d.chance(0.5),
                _ => d.chance(0.15),
            },
            notes: Vec::new(),
        };
        if layout != Layout::Markdown {
            o.md_pipe = false;
        }
        o
    }
}

/// A cell of a table row as the source draws it: a label or a value (`None` when blank).
#[derive(Clone, Debug)]
pub(crate) enum RCell {
    Label(String),
    Value(Option<String>),
}

fn val(v: Val) -> RCell {
    RCell::Value(cell_text(v))
}

fn lab(s: impl Into<String>) -> RCell {
    RCell::Label(s.into())
}

fn int(v: i64) -> RCell {
    RCell::Value(Some(v.to_string()))
}

/// 表二 row by row, only the cells the source has (no padding).
pub(crate) fn t2_rows(t: &Tables, ls: &LabelStyle) -> Vec<Vec<RCell>> {
    let c = |x: T2Cell| val(t.t2(x));
    if t.template == Template::V2019 {
        let e = &t.extra;
        let proc_amount = RCell::Value(Some(nianbao_model::report::format_number(e.procurement.1)));
        return vec![
            vec![lab(ls.article("一"))],
            vec![
                lab("信息内容"),
                lab("本年新制作数量"),
                lab("本年新公开数量"),
                lab("对外公开总数量"),
            ],
            vec![
                lab("规章"),
                c(T2Cell::A01),
                int(e.reg_published),
                c(T2Cell::A03),
            ],
            vec![
                lab("规范性文件"),
                c(T2Cell::A04),
                int(e.norm_published),
                c(T2Cell::A06),
            ],
            vec![lab(ls.article("五"))],
            vec![
                lab("信息内容"),
                lab("上一年项目数量"),
                lab("本年增/减"),
                lab("处理决定数量"),
            ],
            vec![
                lab("行政许可"),
                int(e.lic_items.0),
                int(e.lic_items.1),
                c(T2Cell::A07),
            ],
            vec![
                lab("其他对外管理服务事项"),
                int(e.other_items.0),
                int(e.other_items.1),
                int(e.other_items.2),
            ],
            vec![lab(ls.article("六"))],
            vec![
                lab("信息内容"),
                lab("上一年项目数量"),
                lab("本年增/减"),
                lab("处理决定数量"),
            ],
            vec![
                lab("行政处罚"),
                int(e.pen_items.0),
                int(e.pen_items.1),
                c(T2Cell::A08),
            ],
            vec![
                lab("行政强制"),
                int(e.enf_items.0),
                int(e.enf_items.1),
                c(T2Cell::A09),
            ],
            vec![lab(ls.article("八"))],
            vec![lab("信息内容"), lab("上一年项目数量"), lab("本年增/减")],
            vec![
                lab("行政事业性收费"),
                int(e.fee_items.0),
                int(e.fee_items.1),
            ],
            vec![lab(ls.article("九"))],
            vec![lab("信息内容"), lab("采购项目数量"), lab("采购总金额")],
            vec![lab("政府集中采购"), int(e.procurement.0), proc_amount],
        ];
    }
    vec![
        vec![lab(ls.article("一"))],
        vec![
            lab("信息内容"),
            lab("本年制发件数"),
            lab(ls.abolished()),
            lab("现行有效件数"),
        ],
        vec![lab("规章"), c(T2Cell::A01), c(T2Cell::A02), c(T2Cell::A03)],
        vec![
            lab("行政规范性文件"),
            c(T2Cell::A04),
            c(T2Cell::A05),
            c(T2Cell::A06),
        ],
        vec![lab(ls.article("五"))],
        vec![lab("信息内容"), lab("本年处理决定数量")],
        vec![lab("行政许可"), c(T2Cell::A07)],
        vec![lab(ls.article("六"))],
        vec![lab("信息内容"), lab("本年处理决定数量")],
        vec![lab("行政处罚"), c(T2Cell::A08)],
        vec![lab("行政强制"), c(T2Cell::A09)],
        vec![lab(ls.article("八"))],
        vec![lab("信息内容"), lab(ls.fee_column())],
        vec![lab("行政事业性收费"), c(T2Cell::A10)],
    ]
}

/// The 表三 rows the template has, with their labels (level 1, 2, 3) and seven values.
pub(crate) fn t3_data(
    t: &Tables,
    ls: &LabelStyle,
) -> Vec<([Option<String>; 3], Vec<RCell>, T3Row)> {
    let y19 = t.template == Template::V2019;
    T3Row::ALL
        .iter()
        .filter(|r| t.t3_exists(**r))
        .map(|r| {
            let labels = t3_labels(ls, r.index(), y19);
            let vals = (0..7).map(|k| val(t.t3(*r, k))).collect();
            (labels, vals, *r)
        })
        .collect()
}

fn t3_rows(t: &Tables, ls: &LabelStyle, split: bool) -> Vec<Vec<RCell>> {
    let sp = |a: &str, b: &str| {
        if split {
            format!("{a}\n{b}")
        } else {
            format!("{a}{b}")
        }
    };
    let mut rows = vec![
        vec![lab(ls.note()), lab("申请人情况")],
        vec![lab("自然人"), lab("法人或其他组织"), lab("总计")],
        vec![
            lab(sp("商业", "企业")),
            lab(sp("科研", "机构")),
            lab("社会公益组织"),
            lab("法律服务机构"),
            lab("其他"),
        ],
    ];
    for (labels, vals, _) in t3_data(t, ls) {
        let mut row: Vec<RCell> = labels.iter().flatten().map(|l| lab(l.clone())).collect();
        row.extend(vals);
        rows.push(row);
    }
    rows
}

pub(crate) const T4_RESULTS: [&str; 5] = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"];

fn t4_rows(t: &Tables, ls: &LabelStyle, split: bool) -> Vec<Vec<RCell>> {
    let mut first = true;
    let mut l = |s: &str| {
        let keep_whole = std::mem::replace(&mut first, false);
        if split && !keep_whole && s.chars().count() == 4 {
            let c: Vec<char> = s.chars().collect();
            lab(format!(
                "{}\n{}",
                c[..2].iter().collect::<String>(),
                c[2..].iter().collect::<String>()
            ))
        } else {
            lab(ls.t4(s))
        }
    };
    let mut row2: Vec<RCell> = T4_RESULTS.iter().map(|s| l(s)).collect();
    row2.push(lab("未经复议直接起诉"));
    row2.push(lab("复议后起诉"));
    let row3: Vec<RCell> = T4_RESULTS
        .iter()
        .chain(T4_RESULTS.iter())
        .map(|s| l(s))
        .collect();
    let vals = T4Cell::ALL.iter().map(|c| val(t.t4(*c))).collect();
    vec![vec![lab("行政复议"), lab("行政诉讼")], row2, row3, vals]
}

pub(crate) fn text(c: &RCell) -> String {
    match c {
        RCell::Label(s) => s.replace('\n', ""),
        RCell::Value(v) => v.clone().unwrap_or_default(),
    }
}

fn pad(mut v: Vec<String>, n: usize) -> Vec<String> {
    while v.len() < n {
        v.push(String::new());
    }
    v
}

/// 表二 as a grid of four columns (tab and pipe layouts).
fn t2_grid(t: &Tables, ls: &LabelStyle, unpadded_tail: bool) -> Vec<Vec<String>> {
    let rows = t2_rows(t, ls);
    let tail_from = rows
        .iter()
        .position(|r| matches!(r.first(), Some(RCell::Label(s)) if s == "行政强制"))
        .unwrap_or(rows.len());
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            let cells: Vec<String> = r.iter().map(text).collect();
            if unpadded_tail && i >= tail_from {
                pad(cells, 2)
            } else {
                pad(cells, 4)
            }
        })
        .collect()
}

fn t3_header(ls: &LabelStyle) -> Vec<Vec<String>> {
    let s = |x: &str| x.to_string();
    vec![
        vec![
            ls.note().to_string(),
            s(""),
            s("申请人情况"),
            s(""),
            s(""),
            s(""),
            s(""),
            s(""),
            s("总计"),
            s(""),
        ],
        vec![
            s(""),
            s(""),
            s("自然人"),
            s("法人或其他组织"),
            s(""),
            s(""),
            s(""),
            s(""),
            s(""),
            s(""),
        ],
        vec![
            s(""),
            s(""),
            s(""),
            s("商业企业"),
            s("科研机构"),
            s("社会公益组织"),
            s("法律服务机构"),
            s("其他"),
            s(""),
            s(""),
        ],
    ]
}

/// 表三 as the seeds' ragged ten-field tab rows.
fn t3_tab(t: &Tables, ls: &LabelStyle, other_first: bool, total_shift: bool) -> Vec<Vec<String>> {
    let mut out = t3_header(ls);
    for (labels, vals, row) in t3_data(t, ls) {
        let v: Vec<String> = vals.iter().map(text).collect();
        let [l1, l2, l3] = labels;
        let mut r: Vec<String> = match (l1, l2, l3) {
            (Some(a), None, None) => [vec![a, String::new()], v, vec![String::new()]].concat(),
            (Some(a), Some(b), None) => [vec![a, b], v, vec![String::new()]].concat(),
            (None, Some(b), None) if row == T3Row::R24 => {
                if total_shift {
                    [vec![b], v, vec![String::new(), String::new()]].concat()
                } else {
                    [vec![b, String::new()], v, vec![String::new()]].concat()
                }
            }
            (None, Some(b), None) => [vec![String::new(), b], v, vec![String::new()]].concat(),
            (None, Some(b), Some(c)) => [vec![String::new(), b, c], v].concat(),
            (None, None, Some(c)) if row == T3Row::R23 && other_first => {
                [vec![c, String::new()], v, vec![String::new()]].concat()
            }
            (None, None, Some(c)) => [vec![String::new(), String::new(), c], v].concat(),
            _ => v,
        };
        r.truncate(10);
        out.push(r);
    }
    out
}

/// 表三 as a clean rectangular grid (pipe tables).
fn t3_pipe(t: &Tables, ls: &LabelStyle) -> Vec<Vec<String>> {
    let s = |x: &str| x.to_string();
    let mut out = vec![
        vec![
            ls.note().to_string(),
            s(""),
            s(""),
            s("申请人情况"),
            s(""),
            s(""),
            s(""),
            s(""),
            s(""),
            s(""),
        ],
        vec![
            s(""),
            s(""),
            s(""),
            s("自然人"),
            s("法人或其他组织"),
            s(""),
            s(""),
            s(""),
            s(""),
            s("总计"),
        ],
        vec![
            s(""),
            s(""),
            s(""),
            s(""),
            s("商业企业"),
            s("科研机构"),
            s("社会公益组织"),
            s("法律服务机构"),
            s("其他"),
            s(""),
        ],
    ];
    for (labels, vals, _) in t3_data(t, ls) {
        let mut r: Vec<String> = labels
            .iter()
            .map(|l| l.clone().unwrap_or_default())
            .collect();
        r.extend(vals.iter().map(text));
        out.push(r);
    }
    out
}

fn t4_grid(t: &Tables, ls: &LabelStyle) -> Vec<Vec<String>> {
    let e = String::new;
    let res: Vec<String> = T4_RESULTS.iter().map(|s| ls.t4(s)).collect();
    let mut r1 = vec!["行政复议".to_string()];
    r1.extend((0..4).map(|_| e()));
    r1.push("行政诉讼".to_string());
    r1.extend((0..9).map(|_| e()));
    let mut r2 = res.clone();
    r2.push("未经复议直接起诉".to_string());
    r2.extend((0..4).map(|_| e()));
    r2.push("复议后起诉".to_string());
    r2.extend((0..4).map(|_| e()));
    let mut r3: Vec<String> = (0..5).map(|_| e()).collect();
    r3.extend(res.iter().cloned());
    r3.extend(res.iter().cloned());
    let r4: Vec<String> = T4Cell::ALL
        .iter()
        .map(|c| cell_text(t.t4(*c)).unwrap_or_default())
        .collect();
    vec![r1, r2, r3, r4]
}

fn tab_lines(grid: &[Vec<String>]) -> Vec<String> {
    grid.iter().map(|r| r.join("\t")).collect()
}

fn pipe_lines(grid: &[Vec<String>]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, r) in grid.iter().enumerate() {
        let cells: Vec<String> = r
            .iter()
            .map(|c| {
                if c.is_empty() {
                    " ".into()
                } else {
                    format!(" {c} ")
                }
            })
            .collect();
        out.push(format!("|{}|", cells.join("|")));
        if i == 0 {
            out.push(format!("|{}", "---|".repeat(r.len())));
        }
    }
    out
}

/// Tab-separated table as one chunk.
fn table_tab(n: u8, t: &Tables, ls: &LabelStyle, o: &RenderOpts, md: bool) -> String {
    match n {
        2 => {
            let unpadded = md && o.md_tail_unpadded;
            let lines = tab_lines(&t2_grid(t, ls, unpadded));
            if unpadded {
                // seed 001: a blank line falls before 行政强制.
                let at = lines
                    .iter()
                    .position(|l| l.starts_with("行政强制"))
                    .unwrap_or(lines.len());
                let (a, b) = lines.split_at(at);
                format!("{}\n\n{}", a.join("\n"), b.join("\n"))
            } else {
                lines.join("\n")
            }
        }
        3 => tab_lines(&t3_tab(t, ls, o.other_first_col, o.total_shift)).join("\n"),
        _ => tab_lines(&t4_grid(t, ls)).join("\n"),
    }
}

fn table_pipe(n: u8, t: &Tables, ls: &LabelStyle) -> String {
    let grid = match n {
        2 => t2_grid(t, ls, false),
        3 => t3_pipe(t, ls),
        _ => t4_grid(t, ls),
    };
    pipe_lines(&grid).join("\n")
}

fn rows_for(n: u8, t: &Tables, ls: &LabelStyle, o: &RenderOpts) -> Vec<Vec<RCell>> {
    match n {
        2 => t2_rows(t, ls),
        3 => t3_rows(t, ls, o.split_headers && o.layout != Layout::Prose),
        _ => t4_rows(t, ls, o.t4_split && o.layout != Layout::Prose),
    }
}

/// One cell per line, each ending in NBSP and followed by an empty line (seed 002).
fn table_cells(n: u8, t: &Tables, ls: &LabelStyle, o: &RenderOpts) -> String {
    let mut lines: Vec<String> = Vec::new();
    let rows = rows_for(n, t, ls, o);
    // seed 002 writes " 0" for the 行政处罚 and 行政强制 values.
    let mut space_next = false;
    for row in rows {
        for c in row {
            match c {
                RCell::Label(s) => {
                    space_next = o.lead_space && n == 2 && (s == "行政处罚" || s == "行政强制");
                    for part in s.split('\n') {
                        lines.push(format!("{part}{NBSP}"));
                    }
                }
                RCell::Value(Some(v)) => {
                    let sp = if space_next { " " } else { "" };
                    lines.push(format!("{sp}{v}{NBSP}"));
                }
                RCell::Value(None) => lines.push(NBSP.to_string()),
            }
        }
    }
    lines.join("\n\n")
}

/// Width of a string in a monospaced PDF text dump: CJK counts double.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// Table rows with cells separated by runs of spaces, blank cells as "—".
fn table_prose(n: u8, t: &Tables, ls: &LabelStyle, o: &RenderOpts) -> String {
    let gap = " ".repeat(o.gap.max(2));
    let mut lines = Vec::new();
    for row in rows_for(n, t, ls, o) {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            let s = match c {
                RCell::Label(s) => s.replace('\n', ""),
                RCell::Value(Some(v)) => {
                    // right-align numbers in a 6-wide field, as pdftotext -layout does
                    let w = display_width(v);
                    format!("{}{v}", " ".repeat(6usize.saturating_sub(w)))
                }
                RCell::Value(None) => "     —".to_string(),
            };
            if i > 0 {
                line.push_str(&gap);
            }
            line.push_str(&s);
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// Table row labels that also occur in running text. A wrapped line must neither start with one (it
/// would read as a table row) nor split one (a label with a character missing still reads as a
/// label to a typo-tolerant reader).
const TABLE_TERMS: [&str; 12] = [
    "行政规范性文件",
    "规范性文件",
    "行政事业性收费",
    "行政许可",
    "行政处罚",
    "行政强制",
    "行政复议",
    "行政诉讼",
    "信息内容",
    "重复申请",
    "自然人",
    "规章",
];

/// Whether a wrapped line may not start with this text: punctuation, digits, a table label, or
/// anything that looks like a heading or list marker (the extractor would read it as structure).
fn bad_line_start(s: &str) -> bool {
    // Also a term one or two characters in: "发行政规范性文件。" reads as a mistyped row label.
    let near_term = s
        .char_indices()
        .take(3)
        .any(|(i, _)| TABLE_TERMS.iter().any(|t| s[i..].starts_with(t)));
    if near_term {
        return true;
    }
    let mut it = s.chars();
    let Some(c0) = it.next() else {
        return false;
    };
    if c0.is_whitespace()
        || c0.is_ascii_digit()
        || "，。、；：？！）》」』”’,.;:?!)%#|*—-…·".contains(c0)
    {
        return true;
    }
    let c1 = it.next();
    const NUM: &str = "一二三四五六七八九十";
    if NUM.contains(c0) && c1 == Some('、') {
        return true;
    }
    if (c0 == '（' || c0 == '(') && c1.is_some_and(|c| NUM.contains(c)) {
        return true;
    }
    false
}

/// Hard-wraps a paragraph at `width` display columns, never inside a protected span or a number.
fn wrap(p: &str, width: usize, indent: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut tokens: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == PROTECT_OPEN {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != PROTECT_CLOSE {
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            tokens.push(s);
            continue;
        }
        if c.is_ascii_digit() {
            let mut s = String::new();
            while i < chars.len()
                && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '%')
            {
                s.push(chars[i]);
                i += 1;
            }
            if i < chars.len() && !chars[i].is_ascii() && chars[i] != PROTECT_OPEN {
                s.push(chars[i]);
                i += 1;
            }
            tokens.push(s);
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 8)].iter().collect();
        if let Some(term) = TABLE_TERMS.iter().find(|t| rest.starts_with(**t)) {
            tokens.push((*term).to_string());
            i += term.chars().count();
            continue;
        }
        tokens.push(c.to_string());
        i += 1;
    }
    // Lines as token lists, so that a break can be moved afterwards.
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut cur: Vec<String> = vec![indent.to_string()];
    let mut w = display_width(indent);
    for (k, tok) in tokens.iter().enumerate() {
        let tw = display_width(tok);
        if w + tw > width * 2 && w > 0 {
            let rest: String = tokens[k..tokens.len().min(k + 4)].concat();
            if !bad_line_start(&rest) {
                lines.push(std::mem::take(&mut cur));
                w = 0;
            }
        }
        cur.push(tok.clone());
        w += tw;
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    // A short last line holding a table term ("制发行政规范性文件。") looks like a table row: pull
    // tokens down from the line above until it is a plain tail of text.
    while lines.len() >= 2 {
        let last: String = lines[lines.len() - 1].concat();
        let short = last.chars().count() < 16;
        let needs_move = short && TABLE_TERMS.iter().any(|t| last.contains(t));
        if !needs_move && !bad_line_start(&last) {
            break;
        }
        let n = lines.len();
        let Some(tok) = lines[n - 2].pop() else { break };
        lines[n - 1].insert(0, tok);
        if lines[n - 2].concat().trim().is_empty() {
            let head = lines.remove(n - 2);
            lines[n - 2].splice(0..0, head);
            break;
        }
    }
    lines
        .iter()
        .map(|l| l.concat())
        .collect::<Vec<_>>()
        .join("\n")
}

fn bold_lead(p: &str) -> String {
    // "**（一）主动公开情况**。…": the protected lead, if the paragraph starts with one.
    if let Some(rest) = p.strip_prefix(PROTECT_OPEN)
        && let Some(end) = rest.find(PROTECT_CLOSE)
    {
        let lead = &rest[..end];
        let tail = &rest[end + PROTECT_CLOSE.len_utf8()..];
        return format!("**{}**{tail}", crate::style::protect(lead));
    }
    p.to_string()
}

/// Renders the document. Protection marks are removed here; a web copy's punctuation folding is
/// applied by the caller's style (`halfwidth`).
pub fn render(
    doc: &Doc,
    t: &Tables,
    ls: &LabelStyle,
    o: &mut RenderOpts,
    halfwidth_text: bool,
    d: &mut Dice,
) -> String {
    let mut chunks: Vec<String> = Vec::new();
    let layout = o.layout;
    let cells_body = layout == Layout::Cells || (layout == Layout::Web && o.web_cells);
    if layout == Layout::Web {
        chunks.extend(web_header(doc, d));
    }
    // title
    match layout {
        Layout::Markdown => chunks.push(format!("# {}", doc.title)),
        Layout::Prose => {
            let pad = if d.chance(0.6) {
                " ".repeat(d.range(4, 16) as usize)
            } else {
                String::new()
            };
            chunks.push(format!("{pad}{}", doc.title));
        }
        // seed 002 repeats the title at the top of the article body.
        Layout::Web if cells_body => chunks.push(format!("  {NBSP}{}{NBSP}", doc.title)),
        Layout::Web => chunks.push(doc.title.clone()),
        _ => chunks.push(doc.title.clone()),
    }
    if o.repeat_title {
        chunks.push(heading(1));
        chunks.push(doc.title.clone());
        o.notes.push("title and part 一 heading repeated".into());
    }
    let para = |p: &str, o: &RenderOpts| -> String {
        match layout {
            Layout::Prose => wrap(p, o.wrap, o.indent),
            _ if cells_body => format!("  {p}{NBSP}"),
            Layout::Markdown | Layout::Tab if o.bold => bold_lead(p),
            _ => p.to_string(),
        }
    };
    let mut preamble_done = false;
    if let Some(pre) = &doc.preamble
        && !(layout == Layout::Markdown && o.md_p1_twice)
    {
        chunks.push(para(pre, o));
        preamble_done = true;
    }
    for b in &doc.blocks {
        match b {
            Block::Heading(n) => {
                let h = heading(*n);
                let idx = usize::from(n.saturating_sub(1)).min(5);
                match layout {
                    Layout::Markdown => {
                        let hashes = "#".repeat(o.md_levels[idx]);
                        chunks.push(format!("{hashes} {h}"));
                        if *n == 1 && o.md_p1_twice {
                            if let Some(pre) = &doc.preamble
                                && !preamble_done
                            {
                                chunks.push(para(pre, o));
                                preamble_done = true;
                            }
                            chunks.push(format!("{hashes}# {h}"));
                            o.notes
                                .push("part 一 heading repeated at two levels".into());
                        }
                    }
                    _ if cells_body => chunks.push(format!("  {h}{NBSP}")),
                    _ => chunks.push(h),
                }
            }
            Block::Sub(s) => match layout {
                Layout::Markdown if o.md_sub_hashes => chunks.push(format!("##### {s}")),
                Layout::Markdown if o.bold => chunks.push(format!("**{s}**")),
                _ if cells_body => chunks.push(format!("  {s}{NBSP}")),
                _ => chunks.push(s.clone()),
            },
            Block::Para(p) => chunks.push(para(p, o)),
            Block::Table(n) => {
                let s = if cells_body {
                    table_cells(*n, t, ls, o)
                } else {
                    match layout {
                        Layout::Prose => table_prose(*n, t, ls, o),
                        Layout::Markdown if o.md_pipe => table_pipe(*n, t, ls),
                        Layout::Markdown => table_tab(*n, t, ls, o, true),
                        _ => table_tab(*n, t, ls, o, false),
                    }
                };
                chunks.push(s);
            }
        }
    }
    if let (Some((name, date)), true) = (&doc.signature, o.signature) {
        match layout {
            Layout::Prose => {
                let pad = " ".repeat(d.range(20, 40) as usize);
                chunks.push(format!("{pad}{name}\n{pad}{date}"));
            }
            Layout::Markdown => chunks.push(format!("{name}\n\n{date}")),
            _ if cells_body || layout == Layout::Web => {
                chunks.push(format!("  {name}"));
                chunks.push(format!("  {date}"));
            }
            _ => {
                chunks.push(name.clone());
                chunks.push(date.clone());
            }
        }
    }
    if layout == Layout::Web {
        chunks.push(
            d.pick(&[
                "关闭本页",
                "打印本页  关闭本页",
                "【打印本页】 【关闭窗口】",
                "扫一扫在手机打开当前页\n\n关闭本页",
            ])
            .to_string(),
        );
    }
    let mut s = chunks.join("\n\n");
    if o.leading_blank {
        s.insert_str(0, "\n\n");
    }
    let s = unprotect(&s);
    if halfwidth_text { halfwidth(&s) } else { s }
}

/// Navigation, breadcrumb, title and the time/source line of a government web page.
fn web_header(doc: &Doc, d: &mut Dice) -> Vec<String> {
    let (y, m, day) = doc.published;
    let nav = web_nav(doc, d);
    let crumb = d
        .pick(&[
            "当前位置:首页\u{a0}> 政府信息公开\u{a0}>\u{a0}公开年报",
            "当前位置：首页 > 政务公开 > 政府信息公开年报",
            "您当前的位置：首页 > 信息公开 > 年度报告",
        ])
        .to_string();
    let time = match d.index(3) {
        0 => format!("{NBSP}时间:{y}-{m:02}-{day:02}{NBSP}{NBSP}{NBSP}{NBSP}{NBSP} 来源:"),
        1 => format!(
            "发布时间：{y}-{m:02}-{day:02}    来源：{}    浏览次数：{}",
            doc.title_agency,
            d.range(30, 2000)
        ),
        _ => format!(
            "{y}-{m:02}-{day:02} {:02}:{:02}  来源：{}",
            d.range(8, 18),
            d.range(0, 59),
            doc.title_agency
        ),
    };
    vec![nav, crumb, doc.title.clone(), time]
}

fn web_nav(doc: &Doc, d: &mut Dice) -> String {
    let province = &crate::directory::directory().province.name;
    let mut nav = format!(
        "中国政府网 {}政府",
        province.trim_end_matches('省').to_string() + "省"
    );
    if let Some(city) = &doc.nav_city {
        nav.push_str(&format!(" {city}政府"));
    }
    if d.chance(0.3) {
        nav.push_str("\n\n首页 | 政务公开 | 政务服务 | 互动交流");
    }
    nav
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Extra2019;

    fn zero_tables() -> Tables {
        Tables {
            template: Template::V2021,
            t2: [Val::Num(0.0); 10],
            t3: [[Val::Num(0.0); 7]; 25],
            t4: [Val::Num(0.0); 15],
            extra: Extra2019::default(),
        }
    }

    /// The label spelling of seed 000.
    fn seed000_labels() -> LabelStyle {
        LabelStyle {
            full_parens: false,
            paren_space: true,
            r04_variant: 1,
            marker: ".",
            marker_space: true,
            curly_quotes: true,
            t4_spaced: true,
            t2_full: true,
            note_full: false,
            typo_abolished: false,
            typo_carryover: false,
        }
    }

    fn opts(layout: Layout) -> RenderOpts {
        let mut o = RenderOpts::draw(layout, &mut Dice::new(0, 0));
        o.other_first_col = true;
        o.total_shift = false;
        o.md_tail_unpadded = false;
        o.split_headers = true;
        o.t4_split = true;
        o.lead_space = true;
        o
    }

    const T2_000: &str = "第二十条第（一）项\t\t\t\n\
信息内容\t本年制发件数\t本年废止件数\t现行有效件数\n\
规章\t0\t0\t0\n\
行政规范性文件\t0\t0\t0\n\
第二十条第（五）项\t\t\t\n\
信息内容\t本年处理决定数量\t\t\n\
行政许可\t0\t\t\n\
第二十条第（六）项\t\t\t\n\
信息内容\t本年处理决定数量\t\t\n\
行政处罚\t0\t\t\n\
行政强制\t0\t\t\n\
第二十条第（八）项\t\t\t\n\
信息内容\t本年收费金额（单位：万元）\t\t\n\
行政事业性收费\t0\t\t";

    const T3_000: &str = "(本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和)\t\t申请人情况\t\t\t\t\t\t总计\t\n\
\t\t自然人\t法人或其他组织\t\t\t\t\t\t\n\
\t\t\t商业企业\t科研机构\t社会公益组织\t法律服务机构\t其他\t\t\n\
一、本年新收政府信息公开申请数量\t\t0\t0\t0\t0\t0\t0\t0\t\n\
二、上年结转政府信息公开申请数量\t\t0\t0\t0\t0\t0\t0\t0\t\n\
三、本年度办理结果\t(一) 予以公开\t0\t0\t0\t0\t0\t0\t0\t\n\
\t(二) 部分公开 (区分处理的, 只计这一情形, 不计其他情形)\t0\t0\t0\t0\t0\t0\t0\t\n\
\t(三) 不予公开\t1. 属于国家秘密\t0\t0\t0\t0\t0\t0\t0\n\
\t\t2. 其他法律行政法规禁止公开\t0\t0\t0\t0\t0\t0\t0\n\
\t\t3. 危及“三安全一稳定”\t0\t0\t0\t0\t0\t0\t0\n\
\t\t4. 保护第三方合法权益\t0\t0\t0\t0\t0\t0\t0\n\
\t\t5. 属于三类内部事务信息\t0\t0\t0\t0\t0\t0\t0\n\
\t\t6. 属于四类过程性信息\t0\t0\t0\t0\t0\t0\t0\n\
\t\t7. 属于行政执法案卷\t0\t0\t0\t0\t0\t0\t0\n\
\t\t8. 属于行政查询事项\t0\t0\t0\t0\t0\t0\t0\n\
\t(四) 无法提供\t1. 本机关不掌握相关政府信息\t0\t0\t0\t0\t0\t0\t0\n\
\t\t2. 没有现成信息需要另行制作\t0\t0\t0\t0\t0\t0\t0\n\
\t\t3. 补正后申请内容仍不明确\t0\t0\t0\t0\t0\t0\t0\n\
\t(五) 不予处理\t1. 信访举报投诉类申请\t0\t0\t0\t0\t0\t0\t0\n\
\t\t2. 重复申请\t0\t0\t0\t0\t0\t0\t0\n\
\t\t3. 要求提供公开出版物\t0\t0\t0\t0\t0\t0\t0\n\
\t\t4. 无正当理由大量反复申请\t0\t0\t0\t0\t0\t0\t0\n\
\t\t5. 要求行政机关确认或重新出具已获取信息\t0\t0\t0\t0\t0\t0\t0\n\
\t(六) 其他处理\t1. 申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请\t0\t0\t0\t0\t0\t0\t0\n\
\t\t2. 申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请\t0\t0\t0\t0\t0\t0\t0\n\
3. 其他\t\t0\t0\t0\t0\t0\t0\t0\t\n\
(七) 总计\t\t0\t0\t0\t0\t0\t0\t0\t\n\
四、结转下年度继续办理\t\t0\t0\t0\t0\t0\t0\t0\t";

    const T4_000: &str = "行政复议\t\t\t\t\t行政诉讼\t\t\t\t\t\t\t\t\t\n\
结果 维持\t结果 纠正\t其他 结果\t尚未 审结\t总计\t未经复议直接起诉\t\t\t\t\t复议后起诉\t\t\t\t\n\
\t\t\t\t\t结果 维持\t结果 纠正\t其他 结果\t尚未 审结\t总计\t结果 维持\t结果 纠正\t其他 结果\t尚未 审结\t总计\n\
0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0";

    #[test]
    fn tab_tables_match_seed_000_byte_for_byte() {
        let t = zero_tables();
        let ls = seed000_labels();
        let o = opts(Layout::Tab);
        assert_eq!(table_tab(2, &t, &ls, &o, false), T2_000);
        assert_eq!(table_tab(3, &t, &ls, &o, false), T3_000);
        assert_eq!(table_tab(4, &t, &ls, &o, false), T4_000);
    }

    #[test]
    fn shifted_total_matches_seed_003() {
        let t = zero_tables();
        let mut ls = seed000_labels();
        ls.r04_variant = 2;
        ls.marker_space = false;
        let mut o = opts(Layout::Tab);
        o.total_shift = true;
        let got = table_tab(3, &t, &ls, &o, false);
        assert!(
            got.contains("\n(七) 总计\t0\t0\t0\t0\t0\t0\t0\t\t\n"),
            "{got}"
        );
        assert!(got.contains("\t(二) 部分公开(区分处理的, 只计这一情形, 不计其他情形)\t0"));
        assert!(got.contains("\n3.其他\t\t0"));
    }

    const CELLS_002_T2: &[&str] = &[
        "第二十条第(一)项",
        "信息内容",
        "本年制发件数",
        "本年废止件数",
        "现行有效件数",
        "规章",
        "0",
        "0",
        "0",
        "行政规范性文件",
        "0",
        "0",
        "0",
        "第二十条第(五)项",
        "信息内容",
        "本年处理决定数量",
        "行政许可",
        "0",
        "第二十条第(六)项",
        "信息内容",
        "本年处理决定数量",
        "行政处罚",
        " 0",
        "行政强制",
        " 0",
        "第二十条第(八)项",
        "信息内容",
        "本年收费金额(单位:万元)",
        "行政事业性收费",
        "0",
    ];
    const CELLS_002_T4: &[&str] = &[
        "行政复议",
        "行政诉讼",
        "结果维持",
        "结果",
        "纠正",
        "其他",
        "结果",
        "尚未",
        "审结",
        "总计",
        "未经复议直接起诉",
        "复议后起诉",
        "结果",
        "维持",
        "结果",
        "纠正",
        "其他",
        "结果",
        "尚未",
        "审结",
        "总计",
        "结果",
        "维持",
        "结果",
        "纠正",
        "其他",
        "结果",
        "尚未",
        "审结",
        "总计",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
    ];

    const CELLS_002_T3: &[&str] = &[
        "(本列数据的勾稽关系为:第一项加第二项之和,等于第三项加第四项之和)",
        "申请人情况",
        "自然人",
        "法人或其他组织",
        "总计",
        "商业",
        "企业",
        "科研",
        "机构",
        "社会公益组织",
        "法律服务机构",
        "其他",
        "一、本年新收政府信息公开申请数量",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "二、上年结转政府信息公开申请数量",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "三、本年度办理结果",
        "(一)予以公开",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "(二)部分公开(区分处理的,只计这一情形,不计其他情形)",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "(三)不予公开",
        "1.属于国家秘密",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "2.其他法律行政法规禁止公开",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "3.危及“三安全一稳定”",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "4.保护第三方合法权益",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "5.属于三类内部事务信息",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "6.属于四类过程性信息",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "7.属于行政执法案卷",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "8.属于行政查询事项",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "(四)无法提供",
        "1.本机关不掌握相关政府信息",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "2.没有现成信息需要另行制作",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "3.补正后申请内容仍不明确",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "(五)不予处理",
        "1.信访举报投诉类申请",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "2.重复申请",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "3.要求提供公开出版物",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "4.无正当理由大量反复申请",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "5.要求行政机关确认或重新出具已获取信息",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "(六)其他处理",
        "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "3.其他",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "(七)总计",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "四、结转下年度继续办理",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
    ];

    fn cells_of(s: &str) -> Vec<String> {
        s.split("\n\n")
            .map(|c| {
                assert!(c.ends_with(NBSP), "{c:?}");
                c.trim_end_matches(NBSP).to_string()
            })
            .collect()
    }

    #[test]
    fn cell_tables_match_seed_002() {
        let t = zero_tables();
        let ls = LabelStyle {
            full_parens: false,
            paren_space: false,
            r04_variant: 3,
            marker: ".",
            marker_space: false,
            curly_quotes: true,
            t4_spaced: false,
            t2_full: false,
            note_full: false,
            typo_abolished: false,
            typo_carryover: false,
        };
        let o = opts(Layout::Cells);
        let t2 = cells_of(&halfwidth(&table_cells(2, &t, &ls, &o)));
        assert_eq!(t2, CELLS_002_T2);
        let t4 = cells_of(&halfwidth(&table_cells(4, &t, &ls, &o)));
        assert_eq!(t4, CELLS_002_T4);
        let t3 = cells_of(&halfwidth(&table_cells(3, &t, &ls, &o)));
        assert_eq!(t3, CELLS_002_T3);
    }

    #[test]
    fn blanks_are_visible_in_every_layout() {
        let mut t = zero_tables();
        t.t3[4][2] = Val::Blank;
        let ls = seed000_labels();
        let tab = table_tab(3, &t, &ls, &opts(Layout::Tab), false);
        assert!(tab.contains("\t1. 属于国家秘密\t0\t0\t\t0\t"));
        let cells = table_cells(3, &t, &ls, &opts(Layout::Cells));
        assert!(cells.contains("0\u{a0}\n\n\u{a0}\n\n0\u{a0}"));
        let prose = table_prose(3, &t, &ls, &opts(Layout::Prose));
        assert!(
            prose
                .lines()
                .any(|l| l.contains("属于国家秘密") && l.contains('—'))
        );
        let pipe = table_pipe(3, &t, &ls);
        assert!(pipe.contains("| 1. 属于国家秘密 | 0 | 0 | | 0 |"));
    }

    #[test]
    fn wrap_keeps_protected_spans_and_avoids_heading_like_starts() {
        let p = format!(
            "{}，我局严格按照要求开展工作，全年{}，各项工作有序推进，三、四项工作也已完成。",
            crate::style::protect("2024年"),
            crate::style::protect("共收到政府信息公开申请123件")
        );
        for width in 5..30 {
            let w = wrap(&p, width, "");
            assert!(w.contains("共收到政府信息公开申请123件"), "{w}");
            for line in w.lines().skip(1) {
                assert!(!bad_line_start(line), "{width}: {line:?}");
            }
            assert_eq!(w.replace('\n', ""), unprotect(&p));
        }
        let q = "本街道持续做好各项工作，本年度未制发行政规范性文件，行政许可和行政处罚信息均按时公开。本年度未制发行政规范性文件。";
        for width in 4..30 {
            let w = wrap(q, width, "");
            assert_eq!(w.replace('\n', ""), q);
            for line in w.lines().skip(1) {
                assert!(!bad_line_start(line), "{width}: {line}");
            }
            let last = w.lines().last().unwrap_or_default();
            assert!(
                last.chars().count() >= 16 || !last.contains("规范性文件"),
                "{width}: {last}"
            );
        }
    }
}
