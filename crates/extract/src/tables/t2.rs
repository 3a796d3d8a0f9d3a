//! 表二: also read in the 2019 trial layout, whose rows and columns differ from 2021's; its values
//! are mapped onto the 2021 cells where they mean the same.

use super::{Parsed, Pending, Slot, looks_numeric, resolve, row_entry, stream_values, to_cell};
use crate::doc::{Line, RowKind, rows};
use crate::text::{Match, key, match_key};
use nianbao_model::report::TemplateSignature;
use nianbao_model::{LabelDeviation, T2Cell, T2Row, Table2};
use std::ops::Range;

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
