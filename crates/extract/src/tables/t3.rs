//! 表三: 25 rows whose labels share words ("其他", "总计", group labels), so a row is looked for
//! from the one expected next rather than anywhere.

use super::{Parsed, Pending, Slot, looks_numeric, resolve, row_entry, stream_values, to_cell};
use crate::doc::{Line, RowKind, rows};
use crate::text::{CellText, Match, key, match_key, parse_cell};
use nianbao_model::report::TemplateSignature;
use nianbao_model::{LabelDeviation, T3Row, Table3};
use std::ops::Range;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
