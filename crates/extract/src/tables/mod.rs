//! The three tables, read by their labels rather than by positions: a row is found by its official
//! label (tolerating layout noise and typos), and its values are the cells that follow the label —
//! on the same line for tab/pipe/space-separated rows, or on the following lines for web copies
//! with one cell per line.

mod t2;
mod t3;
mod t4;

pub use t2::table2;
pub use t3::table3;
pub use t4::table4;

use crate::doc::{Row, RowKind};
use crate::text::{CellText, parse_cell};
use nianbao_model::report::TemplateSignature;
use nianbao_model::{Cell, LabelDeviation};
use std::borrow::Cow;

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
    fn page_numbers() {
        assert!(is_page_number("-4-"));
        assert!(is_page_number("— 4 —"));
        assert!(is_page_number("第4页"));
        assert!(!is_page_number("-4"));
        assert!(!is_page_number("4"));
    }
}
