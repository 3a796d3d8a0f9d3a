//! The document as lines, and a line as table cells.

use crate::text::{CellText, normalize_into, normalize_line, parse_cell};
use std::borrow::Cow;

/// One source line.
#[derive(Debug)]
pub struct Line<'a> {
    /// 1-based line number in the source.
    pub no: u32,
    pub raw: &'a str,
    /// Normalised whole line (tabs kept), a slice of the document's normalised buffer.
    pub norm: &'a str,
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

/// The lines of `text` (`\r\n` or `\n`), each cut out of the raw text.
fn raw_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .map(|raw| raw.strip_suffix('\r').unwrap_or(raw))
}

/// Normalises the whole document into one buffer, lines separated by `\n`; returns the buffer and
/// each line's byte range in it. One allocation for the document instead of one per line.
pub fn normalize_document(text: &str) -> (String, Vec<(u32, u32)>) {
    let mut buf = String::with_capacity(text.len());
    let mut ranges = Vec::with_capacity(text.bytes().filter(|&b| b == b'\n').count() + 1);
    for raw in raw_lines(text) {
        if !ranges.is_empty() {
            buf.push('\n');
        }
        let start = buf.len();
        normalize_into(&mut buf, raw);
        ranges.push((
            u32::try_from(start).unwrap_or(u32::MAX),
            u32::try_from(buf.len()).unwrap_or(u32::MAX),
        ));
    }
    (buf, ranges)
}

/// Pairs the raw lines with their normalised ranges.
pub fn make_lines<'a>(text: &'a str, norm: &'a str, ranges: &[(u32, u32)]) -> Vec<Line<'a>> {
    raw_lines(text)
        .zip(ranges)
        .enumerate()
        .map(|(i, (raw, &(s, e)))| Line {
            no: u32::try_from(i + 1).unwrap_or(u32::MAX),
            raw,
            norm: norm.get(s as usize..e as usize).unwrap_or_default(),
        })
        .collect()
}

/// Runs `f` over the lines of a text (tests).
#[cfg(test)]
pub fn with_lines<R>(text: &str, f: impl FnOnce(&[Line<'_>]) -> R) -> R {
    let (norm, ranges) = normalize_document(text);
    let lines = make_lines(text, &norm, &ranges);
    f(&lines)
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
pub struct Row<'a> {
    /// Cut from tabs: the normalised line already shows its cells with tabs.
    pub tabbed: bool,
    pub no: u32,
    /// Index of the line in the document.
    pub idx: usize,
    pub kind: RowKind,
    /// For `Single` rows that are blank markers, one empty cell.
    pub cells: Vec<Cow<'a, str>>,
}

/// Cuts a line into cells. Tabs win; then markdown pipes; then runs of two or more spaces (text
/// converted from PDF or typed with spaces); then, for a line made only of numbers, single spaces.
pub fn split_cells<'a>(line: &'a Line<'_>) -> Option<(RowKind, Vec<Cow<'a, str>>)> {
    let raw = line.raw;
    if line.is_empty() {
        return None;
    }
    if line.is_blank_marker() {
        return Some((RowKind::Single, vec![Cow::Borrowed("")]));
    }
    if raw.contains('\t') {
        // The normalised line keeps its tabs and drops spaces next to them, so its tab-separated
        // pieces are the normalised cells.
        return Some((RowKind::Multi, {
            let mut cells =
                Vec::with_capacity(line.norm.bytes().filter(|&b| b == b'\t').count() + 1);
            cells.extend(line.norm.split('\t').map(Cow::Borrowed));
            cells
        }));
    }
    let t = raw.trim();
    if t.starts_with('|') && t.len() > 1 {
        if t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
            return None; // markdown separator row
        }
        let inner = t.trim_start_matches('|');
        let inner = inner.strip_suffix('|').unwrap_or(inner);
        return Some((
            RowKind::Multi,
            inner
                .split('|')
                .map(|c| Cow::Owned(normalize_line(c)))
                .collect(),
        ));
    }
    if has_gap(t) {
        let cells: Vec<Cow<'a, str>> = gap_pieces(t)
            .map(|c| Cow::Owned(normalize_line(c)))
            .collect();
        if cells.len() > 1 {
            return Some((RowKind::Multi, cells));
        }
    }
    let norm = line.norm;
    if norm.contains(' ') {
        let parts: Vec<&str> = norm.split(' ').collect();
        if parts.len() > 1
            && parts
                .iter()
                .all(|p| !matches!(parse_cell(p), CellText::Text))
        {
            return Some((
                RowKind::Multi,
                parts.into_iter().map(Cow::Borrowed).collect(),
            ));
        }
    }
    Some((RowKind::Single, vec![Cow::Borrowed(norm)]))
}

/// Two or more spaces (plain, ideographic or non-breaking) between two non-space characters: the
/// column gap of text converted from PDF or typed with spaces.
fn has_gap(t: &str) -> bool {
    let mut run = 0usize;
    let mut seen_text = false;
    for c in t.chars() {
        if c == ' ' || c == '\u{3000}' || c == '\u{a0}' {
            run += 1;
        } else {
            if seen_text && run >= 2 {
                return true;
            }
            run = 0;
            seen_text = true;
        }
    }
    false
}

/// The pieces of `t` between column gaps (two or more plain, ideographic or non-breaking spaces).
fn gap_pieces(t: &str) -> impl Iterator<Item = &str> {
    let is_space = |c: char| c == ' ' || c == '\u{3000}' || c == '\u{a0}';
    let mut pieces = Vec::new();
    let mut start = 0usize;
    let mut run_start: Option<usize> = None;
    let mut run = 0usize;
    for (i, c) in t.char_indices() {
        if is_space(c) {
            if run == 0 {
                run_start = Some(i);
            }
            run += 1;
        } else {
            if run >= 2 {
                if let Some(rs) = run_start {
                    pieces.push(&t[start..rs]);
                }
                start = i;
            }
            run = 0;
        }
    }
    pieces.push(&t[start..]);
    pieces.into_iter().map(str::trim).filter(|p| !p.is_empty())
}

/// The rows of lines `range`, empty lines dropped.
pub fn rows<'a>(lines: &'a [Line<'_>], range: std::ops::Range<usize>) -> Vec<Row<'a>> {
    let mut out = Vec::with_capacity(range.len());
    for idx in range {
        let Some(line) = lines.get(idx) else { break };
        if let Some((kind, cells)) = split_cells(line) {
            out.push(Row {
                tabbed: line.raw.contains('\t'),
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

    fn owned((k, c): (RowKind, Vec<Cow<'_, str>>)) -> (RowKind, Vec<String>) {
        (k, c.into_iter().map(Cow::into_owned).collect())
    }

    fn line<'a>(raw: &'a str, norm: &'a mut String) -> Line<'a> {
        *norm = normalize_line(raw);
        Line { no: 1, raw, norm }
    }

    fn owned_split(l: &Line<'_>) -> Option<(RowKind, Vec<String>)> {
        split_cells(l).map(owned)
    }

    fn cut(raw: &str) -> Option<(RowKind, Vec<String>)> {
        let mut norm = String::new();
        let l = line(raw, &mut norm);
        owned_split(&l)
    }

    #[test]
    fn cuts_each_layout() {
        let (k, c) = cut("规章\t0\t\t0").unwrap();
        assert_eq!(
            (k, c),
            (
                RowKind::Multi,
                vec!["规章".into(), "0".into(), String::new(), "0".into()]
            )
        );
        let (_, c) = cut("| 规章 | 0 |  | 0 |").unwrap();
        assert_eq!(c, vec!["规章", "0", "", "0"]);
        assert!(cut("|---|:--:|---|").is_none());
        let (_, c) = cut("规章  0  —  0").unwrap();
        assert_eq!(c, vec!["规章", "0", "—", "0"]);
        let (_, c) = cut("0 0 0 12").unwrap();
        assert_eq!(c, vec!["0", "0", "0", "12"]);
        let (k, c) = cut("\u{a0} ").unwrap();
        assert_eq!((k, c), (RowKind::Single, vec![String::new()]));
        let (k, c) = cut("结果 维持").unwrap();
        assert_eq!((k, c), (RowKind::Single, vec!["结果维持".to_string()]));
        assert!(cut("").is_none());
    }
}
