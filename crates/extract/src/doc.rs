//! The document as lines, and a line as table cells.

use crate::text::{CellText, normalize_line, parse_cell};

/// One source line.
#[derive(Debug)]
pub struct Line<'a> {
    /// 1-based line number in the source.
    pub no: u32,
    pub raw: &'a str,
    /// Normalised whole line (tabs kept).
    pub norm: String,
}

impl Line<'_> {
    /// Truly empty: a separator line.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Whitespace only but not empty (e.g. `\u{a0} `): in the one-cell-per-line layout of web copies
    /// this is how a blank cell looks.
    pub fn is_blank_marker(&self) -> bool {
        !self.raw.is_empty() && self.norm.is_empty()
    }
}

pub fn split_lines(text: &str) -> Vec<Line<'_>> {
    text.split('\n')
        .enumerate()
        .map(|(i, raw)| {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            Line {
                no: u32::try_from(i + 1).unwrap_or(u32::MAX),
                raw,
                norm: normalize_line(raw),
            }
        })
        .collect()
}

/// How a line was cut into cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// One cell (web copies: one cell per line).
    Single,
    /// Several cells separated by tabs, pipes or runs of spaces.
    Multi,
}

/// A line inside a table region, cut into normalised cells.
#[derive(Debug)]
pub struct Row {
    pub no: u32,
    /// Index of the line in the document.
    pub idx: usize,
    pub kind: RowKind,
    /// For `Single` rows that are blank markers, one empty cell.
    pub cells: Vec<String>,
}

/// Cuts a line into cells. Tabs win; then markdown pipes; then runs of two or more spaces (text
/// converted from PDF or typed with spaces); then, for a line made only of numbers, single spaces.
pub fn split_cells(line: &Line<'_>) -> Option<(RowKind, Vec<String>)> {
    let raw = line.raw;
    if line.is_empty() {
        return None;
    }
    if line.is_blank_marker() {
        return Some((RowKind::Single, vec![String::new()]));
    }
    if raw.contains('\t') {
        return Some((RowKind::Multi, raw.split('\t').map(normalize_line).collect()));
    }
    let t = raw.trim();
    if t.starts_with('|') && t.len() > 1 {
        if t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
            return None; // markdown separator row
        }
        let inner = t.trim_start_matches('|');
        let inner = inner.strip_suffix('|').unwrap_or(inner);
        return Some((RowKind::Multi, inner.split('|').map(normalize_line).collect()));
    }
    let folded: String = t
        .chars()
        .map(|c| if c == '\u{3000}' || c == '\u{a0}' { ' ' } else { c })
        .collect();
    if folded.contains("  ") {
        let cells: Vec<String> = folded
            .split("  ")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(normalize_line)
            .collect();
        if cells.len() > 1 {
            return Some((RowKind::Multi, cells));
        }
    }
    let norm = &line.norm;
    if norm.contains(' ') {
        let parts: Vec<&str> = norm.split(' ').collect();
        if parts.len() > 1 && parts.iter().all(|p| !matches!(parse_cell(p), CellText::Text)) {
            return Some((RowKind::Multi, parts.into_iter().map(str::to_owned).collect()));
        }
    }
    Some((RowKind::Single, vec![norm.clone()]))
}

/// The rows of lines `range`, empty lines dropped.
pub fn rows(lines: &[Line<'_>], range: std::ops::Range<usize>) -> Vec<Row> {
    let mut out = Vec::new();
    for idx in range {
        let Some(line) = lines.get(idx) else { break };
        if let Some((kind, cells)) = split_cells(line) {
            out.push(Row {
                no: line.no,
                idx,
                kind,
                cells,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(raw: &str) -> Line<'_> {
        Line {
            no: 1,
            raw,
            norm: normalize_line(raw),
        }
    }

    #[test]
    fn cuts_each_layout() {
        let (k, c) = split_cells(&line("规章\t0\t\t0")).unwrap();
        assert_eq!((k, c), (RowKind::Multi, vec!["规章".into(), "0".into(), String::new(), "0".into()]));
        let (_, c) = split_cells(&line("| 规章 | 0 |  | 0 |")).unwrap();
        assert_eq!(c, vec!["规章", "0", "", "0"]);
        assert!(split_cells(&line("|---|:--:|---|")).is_none());
        let (_, c) = split_cells(&line("规章  0  —  0")).unwrap();
        assert_eq!(c, vec!["规章", "0", "—", "0"]);
        let (_, c) = split_cells(&line("0 0 0 12")).unwrap();
        assert_eq!(c, vec!["0", "0", "0", "12"]);
        let (k, c) = split_cells(&line("\u{a0} ")).unwrap();
        assert_eq!((k, c), (RowKind::Single, vec![String::new()]));
        let (k, c) = split_cells(&line("结果 维持")).unwrap();
        assert_eq!((k, c), (RowKind::Single, vec!["结果维持".to_string()]));
        assert!(split_cells(&line("")).is_none());
    }
}
