//! The three tables, read by their labels rather than by positions: a row is found by its official
//! label (tolerating layout noise and typos), and its values are the cells that follow the label —
//! on the same line for tab/pipe/space-separated rows, or on the following lines for web copies
//! with one cell per line.

use crate::doc::{Line, Row, RowKind, rows};
use crate::text::{CellText, Match, key, match_key, parse_cell};
use nianbao_model::report::TemplateSignature;
use nianbao_model::{Cell, LabelDeviation, T2Cell, T2Row, T3Row, T4Cell, Table2, Table3, Table4};
use std::borrow::Cow;
use std::ops::Range;

/// One value slot as written: the cell text (empty = blank) and its line.
type Slot<'r> = Option<(&'r str, u32)>;

fn to_cell(slot: &Slot<'_>) -> Cell {
    match slot {
        None => Cell::default(),
        Some((text, line)) => match parse_cell(text) {
            CellText::Blank => Cell {
                raw: None,
                value: None,
                line: Some(*line),
            },
            CellText::Number(v) => Cell {
                raw: (!text.bytes().all(|b| b.is_ascii_digit())).then(|| (*text).to_string()),
                value: Some(v),
                line: Some(*line),
            },
            CellText::Text => Cell {
                raw: Some((*text).to_string()),
                value: None,
                line: Some(*line),
            },
        },
    }
}

/// Page numbers that fall inside tables in converted documents ("-4-", "— 4 —", "第4页").
fn is_page_number(s: &str) -> bool {
    let t = s.trim();
    let dash = |c: char| matches!(c, '-' | '—' | '－' | ' ');
    let inner = t.trim_matches(dash);
    let wrapped = inner.len() < t.len() && t.starts_with(dash) && t.ends_with(dash);
    let paged = t.starts_with('第') && t.ends_with('页');
    let digits = inner.trim_start_matches('第').trim_end_matches('页');
    (wrapped || paged) && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

/// A cell that starts like a number ("0", "12", "-3", "1 033") cannot be a row label; labels such as
/// "1.属于国家秘密" continue with text, which `parse_cell` tells apart.
fn looks_numeric(cell: &str) -> bool {
    cell.as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'-')
        && !matches!(parse_cell(cell), CellText::Text)
}

/// A row whose values sit on the label's own line and still need aligning to columns.
struct Pending<'r> {
    /// Which value slots this fills (e.g. a 表三 row, or a 表二 row).
    target: usize,
    /// Cells after the label.
    after: &'r [Cow<'r, str>],
    label_idx: usize,
    ncells: usize,
    n: usize,
    line: u32,
}

/// Aligns the cells after a label to `n` columns. Exported tables pad rows with empty cells, so an
/// empty cell is a blank value only where the row's non-empty cells leave no other choice; then the
/// offset that complete rows of the same shape use decides.
fn align<'r, S: AsRef<str>>(
    after: &'r [S],
    n: usize,
    preferred: &[&[usize]],
    line: u32,
) -> Vec<Slot<'r>> {
    let filled = |i: usize| !after[i].as_ref().is_empty();
    let count = (0..after.len()).filter(|&i| filled(i)).count();
    if count >= n {
        return (0..after.len())
            .filter(|&i| filled(i))
            .take(n)
            .map(|i| Some((after[i].as_ref(), line)))
            .collect();
    }
    let (Some(first), Some(last)) = (
        (0..after.len()).find(|&i| filled(i)),
        (0..after.len()).rev().find(|&i| filled(i)),
    ) else {
        // Only blanks: the row is there, its values are not.
        return (0..n).map(|_| Some(("", line))).collect();
    };
    let max_off = after.len().saturating_sub(n);
    let fits = |o: usize| o <= first && last < o + n;
    let off = preferred
        .iter()
        .flat_map(|p| p.iter().copied())
        .find(|&o| o <= max_off && fits(o))
        .or_else(|| (0..=max_off).find(|&o| fits(o)));
    match off {
        Some(o) => (o..o + n)
            .map(|i| Some((after.get(i).map_or("", |s| s.as_ref()), line)))
            .collect(),
        None => {
            let mut v: Vec<Slot<'_>> = (0..after.len())
                .filter(|&i| filled(i))
                .map(|i| Some((after[i].as_ref(), line)))
                .collect();
            v.resize(n, None);
            v
        }
    }
}

/// Counts of how often each offset occurred, small enough for a linear list.
#[derive(Default)]
struct Tally(Vec<(usize, usize)>);

impl Tally {
    fn add(&mut self, off: usize) {
        match self.0.iter_mut().find(|(o, _)| *o == off) {
            Some((_, n)) => *n += 1,
            None => self.0.push((off, 1)),
        }
    }

    /// Offsets, most frequent first (ties: smaller offset first).
    fn ranked(&self) -> impl Iterator<Item = usize> + '_ {
        let mut v = self.0.clone();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(o, _)| o)
    }
}

/// Resolves pending rows: complete rows teach the offset of values after the label, per row shape.
fn resolve<'r>(pending: &[Pending<'r>]) -> Vec<(usize, Vec<Slot<'r>>)> {
    let mut by_shape: Vec<((usize, usize, usize), Tally)> = Vec::new();
    let mut by_n: Vec<(usize, Tally)> = Vec::new();
    for p in pending {
        let mut ne = (0..p.after.len()).filter(|&i| !p.after[i].is_empty());
        let Some(first) = ne.next() else { continue };
        if 1 + ne.count() == p.n {
            let shape = (p.label_idx, p.ncells, p.n);
            match by_shape.iter_mut().find(|(s, _)| *s == shape) {
                Some((_, t)) => t.add(first),
                None => {
                    let mut t = Tally::default();
                    t.add(first);
                    by_shape.push((shape, t));
                }
            }
            match by_n.iter_mut().find(|(n, _)| *n == p.n) {
                Some((_, t)) => t.add(first),
                None => {
                    let mut t = Tally::default();
                    t.add(first);
                    by_n.push((p.n, t));
                }
            }
        }
    }
    let shape_prefs: Vec<((usize, usize, usize), Vec<usize>)> = by_shape
        .iter()
        .map(|(s, t)| (*s, t.ranked().collect()))
        .collect();
    let n_prefs: Vec<(usize, Vec<usize>)> = by_n
        .iter()
        .map(|(n, t)| (*n, t.ranked().collect()))
        .collect();
    pending
        .iter()
        .map(|p| {
            let shape = (p.label_idx, p.ncells, p.n);
            let a = shape_prefs
                .iter()
                .find(|(s, _)| *s == shape)
                .map_or(&[][..], |(_, v)| v.as_slice());
            let b = n_prefs
                .iter()
                .find(|(n, _)| *n == p.n)
                .map_or(&[][..], |(_, v)| v.as_slice());
            (p.target, align(p.after, p.n, &[a, b], p.line))
        })
        .collect()
}

/// Reads up to `n` values from one-cell-per-line rows starting at `rows[start]`; stops at a label.
fn stream_values<'r>(
    rows: &'r [Row<'r>],
    start: usize,
    n: usize,
    is_label: &dyn Fn(&str) -> bool,
) -> (Vec<Slot<'r>>, usize) {
    let mut out = Vec::new();
    let mut i = start;
    while i < rows.len() && out.len() < n {
        let row = &rows[i];
        if row.kind == RowKind::Multi {
            // A row of bare numbers continues the values; anything else is the next row.
            if row
                .cells
                .iter()
                .all(|c| !matches!(parse_cell(c), CellText::Text))
            {
                for c in &row.cells {
                    if out.len() < n {
                        out.push(Some((c.as_ref(), row.no)));
                    }
                }
                i += 1;
                continue;
            }
            break;
        }
        let c = &row.cells[0];
        if c.is_empty() {
            out.push(Some(("", row.no)));
        } else {
            match parse_cell(c) {
                CellText::Number(_) | CellText::Blank => out.push(Some((c.as_ref(), row.no))),
                CellText::Text if is_page_number(c) => {}
                CellText::Text => {
                    if is_label(c) || c.chars().count() > 6 {
                        break;
                    }
                    out.push(Some((c.as_ref(), row.no)));
                }
            }
        }
        i += 1;
    }
    // A stray blank cell (an empty cell of the page that belongs to no column) pushes the values
    // one column to the right, and the last value is left over before the next label. Numbers that
    // directly follow a full row, no more of them than the row has blanks, are those values: the
    // blanks before them were not cells of the row.
    if out.len() == n {
        let blanks = out
            .iter()
            .filter(|s| s.is_some_and(|(t, _)| t.is_empty()))
            .count();
        let surplus: Vec<&Row<'_>> = rows[i..]
            .iter()
            .take_while(|r| {
                r.kind == RowKind::Single
                    && !r.cells[0].is_empty()
                    && matches!(parse_cell(&r.cells[0]), CellText::Number(_))
            })
            .take(blanks + 1)
            .collect();
        if !surplus.is_empty() && surplus.len() <= blanks {
            for r in &surplus {
                if let Some(k) = out
                    .iter()
                    .position(|s| s.is_some_and(|(t, _)| t.is_empty()))
                {
                    out.remove(k);
                    out.push(Some((r.cells[0].as_ref(), r.no)));
                }
            }
            i += surplus.len();
        }
    }
    out.resize(n, None);
    (out, i)
}

fn row_entry(row: &Row<'_>) -> (usize, Option<String>) {
    (row.idx, (!row.tabbed).then(|| row.cells.join("\t")))
}

/// Result of reading one table.
pub struct Parsed<T> {
    pub table: T,
    /// Document index of the table's first line.
    pub first_idx: usize,
    /// Document indices of lines read as multi-cell rows, with the cells joined by tabs where the
    /// source separated them otherwise (pipes, spaces), so that narrative rules skip them.
    pub row_lines: Vec<(usize, Option<String>)>,
    pub deviations: Vec<LabelDeviation>,
    pub signatures: Vec<TemplateSignature>,
    /// The table is in the 2019 trial layout.
    pub is2019: bool,
}

// ---------------------------------------------------------------------------------------------
// 表三

/// Label keys of the 25 data rows (`key(label)`), precomputed: a unit test proves they match.
const T3_ROW_KEYS: [&str; 25] = [
    "本年新收政府信息公开申请数量",
    "上年结转政府信息公开申请数量",
    "予以公开",
    "部分公开区分处理的只计这一情形不计其他情形",
    "属于国家秘密",
    "其他法律行政法规禁止公开",
    "危及三安全一稳定",
    "保护第三方合法权益",
    "属于三类内部事务信息",
    "属于四类过程性信息",
    "属于行政执法案卷",
    "属于行政查询事项",
    "本机关不掌握相关政府信息",
    "没有现成信息需要另行制作",
    "补正后申请内容仍不明确",
    "信访举报投诉类申请",
    "重复申请",
    "要求提供公开出版物",
    "无正当理由大量反复申请",
    "要求行政机关确认或重新出具已获取信息",
    "申请人无正当理由逾期不补正行政机关不再处理其政府信息公开申请",
    "申请人逾期未按收费通知要求缴纳费用行政机关不再处理其政府信息公开申请",
    "其他",
    "总计",
    "结转下年度继续办理",
];

/// Labels of 表三 that are not data rows: level-1/2 group labels and header words.
const T3_OTHER_KEYS: [&str; 21] = [
    "本年度办理结果",
    "不予公开",
    "无法提供",
    "不予处理",
    "其他处理",
    "申请人情况",
    "自然人",
    "法人或其他组织",
    "商业企业",
    "科研机构",
    "社会公益组织",
    "法律服务机构",
    "商业",
    "企业",
    "科研",
    "机构",
    "社会公益",
    "组织",
    "法律服务",
    "总计",
    "其他",
];

struct T3Keys {
    rows: [&'static str; 25],
    others: [&'static str; 21],
}

impl T3Keys {
    fn new() -> T3Keys {
        T3Keys {
            rows: T3_ROW_KEYS,
            others: T3_OTHER_KEYS,
        }
    }

    /// A data row label among `from..from+5`.
    fn row(&self, k: &str, from: usize) -> Option<(T3Row, Match)> {
        if k.is_empty() {
            return None;
        }
        // The expected row, exactly: the common case, decided without any fuzzy matching.
        if let Some(&exact) = self.rows.get(from)
            && k == exact
        {
            return T3Row::from_index(from).map(|r| (r, Match::Exact));
        }
        // Group labels and header words are never data rows.
        if self.others.contains(&k) {
            return None;
        }
        for i in from..(from + 5).min(25) {
            let r = T3Row::ALL[i];
            if let Some(m) = match_key(k, self.rows[i]) {
                return Some((r, m));
            }
            if r == T3Row::R04 && k == "部分公开" {
                return Some((r, Match::Variant));
            }
        }
        None
    }

    fn is_label(&self, text: &str) -> bool {
        let k = key(text);
        if k.contains("勾稽关系") {
            return true;
        }
        self.others.iter().any(|o| *o == k)
            || self.rows.iter().any(|r| match_key(&k, r).is_some())
            || k == "部分公开"
    }
}

/// Reads 表三 from the lines of `range`.
pub fn table3(lines: &[Line<'_>], range: Range<usize>) -> Option<Parsed<Table3>> {
    let rows = rows(lines, range);
    let keys = T3Keys::new();
    let is_label = |s: &str| keys.is_label(s);
    let mut t = Table3::default();
    let mut next = 0usize;
    let mut first_idx: Option<usize> = None;
    let mut deviations = Vec::new();
    let mut signatures = Vec::new();
    let mut pending: Vec<Pending<'_>> = Vec::new();
    let mut row_lines = Vec::new();
    let mut streamed: Vec<(usize, Vec<Slot<'_>>)> = Vec::new();
    let mut is2019 = false;
    let mut i = 0usize;
    while i < rows.len() && next < 25 {
        let row = &rows[i];
        if first_idx.is_none()
            && row.cells.iter().any(|c| {
                let k = key(c);
                k.contains("勾稽关系") || k == "申请人情况"
            })
        {
            first_idx = Some(row.idx);
        }
        let mut consumed_to = i + 1;
        let mut found = false;
        for (j, cell) in row.cells.iter().enumerate() {
            if cell.is_empty() || looks_numeric(cell) {
                continue;
            }
            let mut k = key(cell);
            if k.is_empty() {
                continue;
            }
            let mut hit = keys.row(&k, next);
            let mut label_text = cell.to_string();
            let mut extra = 0usize;
            // A label wrapped over several single-cell lines: join the pieces.
            if row.kind == RowKind::Single
                && hit.is_none_or(|(_, m)| m == Match::Variant)
                && !keys.others.contains(&k.as_str())
            {
                let mut joined = cell.to_string();
                for step in 1..=2 {
                    let Some(nr) = rows.get(i + step) else { break };
                    if nr.kind != RowKind::Single
                        || !matches!(parse_cell(&nr.cells[0]), CellText::Text)
                    {
                        break;
                    }
                    joined.push_str(&nr.cells[0]);
                    let jk = key(&joined);
                    if let Some((r, Match::Exact)) = keys.row(&jk, next) {
                        hit = Some((r, Match::Exact));
                        label_text = joined.clone();
                        k = jk;
                        extra = step;
                        break;
                    }
                }
            }
            // The 2019 template: one numeric （六）其他处理 row.
            if hit.is_none() && k == "其他处理" && (next..next + 3).contains(&T3Row::R21.index())
            {
                let after_is_number = match row.kind {
                    RowKind::Multi => row.cells[j + 1..]
                        .iter()
                        .find(|c| !c.is_empty())
                        .is_some_and(|c| !matches!(parse_cell(c), CellText::Text)),
                    RowKind::Single => rows.get(i + 1).is_some_and(|nr| {
                        nr.cells[0].is_empty()
                            || !matches!(parse_cell(&nr.cells[0]), CellText::Text)
                    }),
                };
                if after_is_number {
                    hit = Some((T3Row::R21, Match::Exact));
                    is2019 = true;
                    signatures.push(TemplateSignature {
                        text: "（六）其他处理（单行）".into(),
                        line: row.no,
                    });
                }
            }
            let Some((r, m)) = hit else { continue };
            found = true;
            first_idx.get_or_insert(row.idx);
            if m == Match::Variant {
                deviations.push(LabelDeviation {
                    part: 3,
                    cell: Some(r.id().to_string()),
                    expected: r.label().to_string(),
                    actual: label_text,
                    line: row.no,
                });
            }
            t.row_lines[r.index()] = Some(row.no);
            let after = &row.cells[j + 1..];
            if row.kind == RowKind::Multi && after.iter().any(|c| !c.is_empty()) {
                row_lines.push(row_entry(row));
                pending.push(Pending {
                    target: r.index(),
                    ncells: row.cells.len(),
                    label_idx: j,
                    after,
                    n: 7,
                    line: row.no,
                });
            } else {
                if row.kind == RowKind::Multi {
                    row_lines.push(row_entry(row));
                }
                let (vals, end) = stream_values(&rows, i + 1 + extra, 7, &is_label);
                streamed.push((r.index(), vals));
                consumed_to = end.max(i + 1 + extra);
            }
            next = if is2019 && r == T3Row::R21 {
                T3Row::R24.index()
            } else {
                r.index() + 1
            };
            break;
        }
        if !found && row.kind == RowKind::Multi && first_idx.is_some() {
            row_lines.push(row_entry(row));
        }
        i = consumed_to;
    }
    if t.row_lines.iter().all(Option::is_none) {
        return None;
    }
    for (r, vals) in resolve(&pending).into_iter().chain(streamed) {
        for (c, slot) in vals.iter().enumerate().take(7) {
            t.rows[r][c] = to_cell(slot);
        }
    }
    let first_idx = first_idx.unwrap_or(0);
    t.line = lines.get(first_idx).map_or(0, |l| l.no);
    Some(Parsed {
        table: t,
        first_idx,
        row_lines,
        deviations,
        signatures,
        is2019,
    })
}

// ---------------------------------------------------------------------------------------------
// 表二

/// 表二 row labels in order, with the 2019 rows that have no 2021 counterpart.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum T2Label {
    Row(T2Row),
    /// 2019: 其他对外管理服务事项, 政府集中采购 — read and dropped.
    Extra2019,
}

const T2_HEADERS: [(&str, T2Cell); 5] = [
    ("本年制发件数", T2Cell::A01),
    ("本年废止件数", T2Cell::A02),
    ("现行有效件数", T2Cell::A03),
    ("本年处理决定数量", T2Cell::A07),
    ("本年收费金额单位万元", T2Cell::A10),
];

const SIGNATURES_2019: [&str; 10] = [
    "本年新制作数量",
    "本年新公开数量",
    "对外公开总数量",
    "上一年项目数量",
    "本年增减",
    "其他对外管理服务事项",
    "第二十条第九项",
    "政府集中采购",
    "采购项目数量",
    "采购总金额",
];

/// A 表二 row label written exactly (or a 2019 row), without fuzzy matching.
fn t2_exact(k: &str) -> Option<(T2Label, Match)> {
    if let Some(&r) = T2Row::ALL.iter().find(|r| r.label() == k) {
        return Some((T2Label::Row(r), Match::Exact));
    }
    if k == "其他对外管理服务事项" || k == "政府集中采购" {
        return Some((T2Label::Extra2019, Match::Exact));
    }
    None
}

fn t2_label(k: &str) -> Option<(T2Label, Match)> {
    if let Some(&r) = T2Row::ALL.iter().find(|r| r.label() == k) {
        return Some((T2Label::Row(r), Match::Exact));
    }
    if k == "规范性文件" {
        return Some((T2Label::Row(T2Row::NormativeDocuments), Match::Variant));
    }
    if k == "其他对外管理服务事项" || k == "政府集中采购" {
        return Some((T2Label::Extra2019, Match::Exact));
    }
    T2Row::ALL
        .iter()
        .find_map(|&r| match_key(k, r.label()).map(|m| (T2Label::Row(r), m)))
}

fn is_t2_label(s: &str) -> bool {
    let k = key(s);
    k == "信息内容"
        || k.starts_with("第二十条")
        || t2_label(&k).is_some()
        || T2_HEADERS.iter().any(|(h, _)| match_key(&k, h).is_some())
        || SIGNATURES_2019
            .iter()
            .any(|s| k.len() >= s.len() && k.contains(s))
}

/// Reads 表二 from the lines of `range`.
pub fn table2(lines: &[Line<'_>], range: Range<usize>) -> Option<Parsed<Table2>> {
    let rows = rows(lines, range);
    let mut t = Table2::default();
    let mut first_idx: Option<usize> = None;
    let mut deviations = Vec::new();
    let mut signatures = Vec::new();
    let mut is2019 = false;
    let mut seen: Vec<T2Label> = Vec::new();
    let mut pending: Vec<Pending<'_>> = Vec::new();
    let mut streamed: Vec<(usize, Vec<Slot<'_>>)> = Vec::new();
    // Targets: index into `targets` → (row, count, 2019?)
    let mut targets: Vec<(T2Label, bool)> = Vec::new();
    let mut row_lines = Vec::new();
    let mut i = 0usize;
    while i < rows.len() {
        let row = &rows[i];
        let mut consumed_to = i + 1;
        for (j, cell) in row.cells.iter().enumerate() {
            if cell.is_empty() || looks_numeric(cell) {
                continue;
            }
            let k = key(cell);
            if k.is_empty() {
                continue;
            }
            if k.starts_with("第二十条") || k == "信息内容" {
                first_idx.get_or_insert(row.idx);
            }
            if let Some(sig) = SIGNATURES_2019
                .iter()
                .find(|s| k.len() >= s.len() && k.contains(*s))
            {
                is2019 = true;
                signatures.push(TemplateSignature {
                    text: (*sig).to_string(),
                    line: row.no,
                });
                if !matches!(*sig, "其他对外管理服务事项" | "政府集中采购") {
                    continue;
                }
            }
            // Exact labels first: fuzzy matching is for what is left.
            let exact_row = t2_exact(&k);
            let header = if exact_row.is_some() || k.starts_with("第二十条") || k == "信息内容"
            {
                None
            } else if let Some((h, c)) = T2_HEADERS.iter().find(|(h, _)| *h == k) {
                Some(((h, c), Match::Exact))
            } else {
                T2_HEADERS
                    .iter()
                    .find_map(|(h, c)| match_key(&k, h).map(|m| ((h, c), m)))
            };
            if let Some((h, m)) = header {
                if m == Match::Variant {
                    deviations.push(LabelDeviation {
                        part: 2,
                        cell: Some(h.1.id().to_string()),
                        expected: h.1.column_label().to_string(),
                        actual: cell.to_string(),
                        line: row.no,
                    });
                }
                continue;
            }
            let Some((label, m)) = exact_row.or_else(|| t2_label(&k)) else {
                continue;
            };
            if seen.contains(&label) && label != T2Label::Extra2019 {
                continue;
            }
            seen.push(label);
            first_idx.get_or_insert(row.idx);
            if let (Match::Variant, T2Label::Row(r)) = (m, label) {
                deviations.push(LabelDeviation {
                    part: 2,
                    cell: Some(r.cells()[0].id().to_string()),
                    expected: r.label().to_string(),
                    actual: cell.to_string(),
                    line: row.no,
                });
            }
            let n = match (label, is2019) {
                (T2Label::Row(T2Row::Fees), true) => 2,
                (_, true) => 3,
                (T2Label::Row(r), false) => r.cells().len(),
                (T2Label::Extra2019, false) => 3,
            };
            let target = targets.len();
            targets.push((label, is2019));
            let after = &row.cells[j + 1..];
            if row.kind == RowKind::Multi && after.iter().any(|c| !c.is_empty()) {
                row_lines.push(row_entry(row));
                pending.push(Pending {
                    target,
                    ncells: row.cells.len(),
                    label_idx: j,
                    after,
                    n,
                    line: row.no,
                });
            } else {
                if row.kind == RowKind::Multi {
                    row_lines.push(row_entry(row));
                }
                let (vals, end) = stream_values(&rows, i + 1, n, &is_t2_label);
                streamed.push((target, vals));
                consumed_to = end.max(i + 1);
            }
            break;
        }
        if row.kind == RowKind::Multi
            && first_idx.is_some()
            && !row_lines.iter().any(|(i, _)| *i == row.idx)
        {
            row_lines.push(row_entry(row));
        }
        if seen.contains(&T2Label::Row(T2Row::Fees))
            && seen.len() >= 6
            && pending.len() + streamed.len() == targets.len()
        {
            // 行政事业性收费 is the last 2021 row; 2019 continues with 政府集中采购.
            if !is2019 || seen.iter().filter(|l| **l == T2Label::Extra2019).count() >= 2 {
                break;
            }
        }
        i = consumed_to;
    }
    if targets.is_empty() {
        return None;
    }
    for (target, vals) in resolve(&pending).into_iter().chain(streamed) {
        let Some(&(label, old)) = targets.get(target) else {
            continue;
        };
        let T2Label::Row(r) = label else { continue };
        let cells = r.cells();
        if old {
            // 2019: (一) 新制作/新公开/对外公开总数 → 制发 and 现行有效; (五)(六) 上一年/增减/处理决定 →
            // 处理决定; (八) is a count of fee items, not an amount → nothing.
            match r {
                T2Row::Regulations | T2Row::NormativeDocuments => {
                    *t.get_mut(cells[0]) = to_cell(&vals[0]);
                    *t.get_mut(cells[2]) = to_cell(&vals[2]);
                }
                T2Row::Licensing | T2Row::Penalties | T2Row::Enforcement => {
                    *t.get_mut(cells[0]) = to_cell(&vals[2]);
                }
                T2Row::Fees => {}
            }
        } else {
            for (c, slot) in cells.iter().zip(vals.iter()) {
                *t.get_mut(*c) = to_cell(slot);
            }
        }
    }
    let first_idx = first_idx.unwrap_or(0);
    t.line = lines.get(first_idx).map_or(0, |l| l.no);
    Some(Parsed {
        table: t,
        first_idx,
        row_lines,
        deviations,
        signatures,
        is2019,
    })
}

// ---------------------------------------------------------------------------------------------
// 表四

fn is_t4_header(s: &str) -> bool {
    let k = key(s);
    [
        "行政复议",
        "行政诉讼",
        "结果维持",
        "结果纠正",
        "其他结果",
        "尚未审结",
        "总计",
        "未经复议直接起诉",
        "复议后起诉",
        "结果",
        "维持",
        "纠正",
        "其他",
        "尚未",
        "审结",
    ]
    .contains(&k.as_str())
}

/// Reads 表四 from the lines of `range`.
pub fn table4(lines: &[Line<'_>], range: Range<usize>) -> Option<Parsed<Table4>> {
    let rows = rows(lines, range);
    let anchor = rows
        .iter()
        .position(|r| r.cells.iter().any(|c| key(c).contains("行政复议")))?;
    let mut slots: Vec<Slot<'_>> = Vec::new();
    let mut row_lines = Vec::new();
    let mut started = false;
    for row in &rows[anchor..] {
        if slots.len() >= 15 {
            break;
        }
        match row.kind {
            RowKind::Multi => {
                row_lines.push(row_entry(row));
                let data = row
                    .cells
                    .iter()
                    .any(|c| matches!(parse_cell(c), CellText::Number(_)))
                    && row.cells.iter().all(|c| {
                        // a short text in a data row is an invalid value; a header word is not data
                        !matches!(parse_cell(c), CellText::Text)
                            || (!is_t4_header(c) && c.chars().count() <= 6)
                    });
                if !data {
                    if started {
                        break;
                    }
                    continue;
                }
                started = true;
                let need = 15 - slots.len();
                if row.cells.iter().filter(|c| !c.is_empty()).count() >= need
                    || row.cells.len() >= need
                {
                    slots.extend(align(&row.cells, need, &[&[0]], row.no));
                } else {
                    slots.extend(row.cells.iter().map(|c| Some((c.as_ref(), row.no))));
                }
            }
            RowKind::Single => {
                let c = &row.cells[0];
                match parse_cell(c) {
                    CellText::Number(_) | CellText::Blank => {
                        started = true;
                        slots.push(Some((c.as_ref(), row.no)));
                    }
                    CellText::Text if c.is_empty() => slots.push(Some(("", row.no))),
                    CellText::Text if is_page_number(c) => {}
                    CellText::Text => {
                        if started {
                            if is_t4_header(c) || c.chars().count() > 6 {
                                break;
                            }
                            slots.push(Some((c.as_ref(), row.no)));
                        }
                    }
                }
            }
        }
    }
    let mut t = Table4::default();
    for (c, slot) in T4Cell::ALL.iter().zip(slots.iter()) {
        *t.get_mut(*c) = to_cell(slot);
    }
    let first_idx = rows[anchor].idx;
    t.line = rows[anchor].no;
    Some(Parsed {
        table: t,
        first_idx,
        row_lines,
        deviations: Vec::new(),
        signatures: Vec::new(),
        is2019: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn texts(v: &[Slot<'_>]) -> Vec<String> {
        v.iter()
            .map(|x| x.map_or("∅".to_string(), |(t, _)| t.to_string()))
            .collect()
    }

    #[test]
    fn aligns_padded_rows() {
        // complete row: values after one padding cell
        assert_eq!(
            texts(&align(
                &s(&["", "1", "2", "3", "4", "5", "6", "21", ""]),
                7,
                &[],
                1
            )),
            s(&["1", "2", "3", "4", "5", "6", "21"])
        );
        // first value blank: the preferred offset (1, from complete rows) keeps C1 blank
        assert_eq!(
            texts(&align(
                &s(&["", "", "2", "3", "4", "5", "6", "20", ""]),
                7,
                &[&[1]],
                1
            )),
            s(&["", "2", "3", "4", "5", "6", "20"])
        );
        // same row, preferred offset 2 (the total is the blank one)
        assert_eq!(
            texts(&align(
                &s(&["", "", "2", "3", "4", "5", "6", "20", ""]),
                7,
                &[&[2]],
                1
            )),
            s(&["2", "3", "4", "5", "6", "20", ""])
        );
        // middle blank without padding
        assert_eq!(
            texts(&align(&s(&["0", "", "0"]), 3, &[], 1)),
            s(&["0", "", "0"])
        );
        // nothing but blanks
        assert_eq!(texts(&align(&s(&["", ""]), 1, &[], 1)), s(&[""]));
    }

    #[test]
    fn precomputed_keys_match_the_official_labels() {
        for r in T3Row::ALL {
            assert_eq!(
                key(&crate::text::normalize_line(r.label())),
                T3_ROW_KEYS[r.index()],
                "{r:?}"
            );
        }
    }

    #[test]
    fn page_numbers() {
        assert!(is_page_number("-4-"));
        assert!(is_page_number("— 4 —"));
        assert!(is_page_number("第4页"));
        assert!(!is_page_number("-4"));
        assert!(!is_page_number("4"));
    }
}
