//! 表四: fifteen numbers without row labels of their own, read in order after the 行政复议 header.

use super::{Parsed, Slot, align, is_page_number, row_entry, to_cell};
use crate::doc::{Line, RowKind, rows};
use crate::text::{CellText, key, parse_cell};
use nianbao_model::{T4Cell, Table4};
use std::ops::Range;

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
