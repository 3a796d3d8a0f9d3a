//! The common representation every input format is turned into: lines of text, a table row per line
//! with its cells separated by tabs, and for every line where it came from in the original.
//!
//! The text extractor reads this representation exactly (it is the tab layout of Word copies), so
//! HTML, DOCX and PDF inherit its proven reading of labels and values; the format readers only have
//! to get the grid right.

use nianbao_model::SourceLocation;

/// What a blank cell of a real table grid is written as: a visible blank ("—" is read as blank, like
/// the dashes reports write), so that the value columns of a row stay aligned even when some of them
/// are empty. Positions covered by a merged cell are written as empty strings: they are not cells.
pub const BLANK_CELL: &str = "—";

/// A document flattened to lines, with the origin of each line.
#[derive(Debug, Default)]
pub struct Flat {
    pub text: String,
    pub origins: Vec<SourceLocation>,
}

impl Flat {
    /// Appends one paragraph line. Line breaks inside become spaces: a paragraph is one line.
    pub fn push_line(&mut self, line: &str, origin: SourceLocation) {
        let t = line.trim_matches(|c: char| c.is_whitespace() && c != '\u{a0}');
        if t.is_empty() {
            return;
        }
        self.start_line();
        for c in t.chars() {
            self.text
                .push(if matches!(c, '\n' | '\r') { ' ' } else { c });
        }
        self.origins.push(origin);
    }

    /// Appends one table row (see [`grid_row`]); a row without any written cell is dropped.
    pub fn push_row(&mut self, slots: &[Slot], origin: SourceLocation) {
        if let Some(row) = grid_row(slots) {
            self.start_line();
            self.text.push_str(&row);
            self.origins.push(origin);
        }
    }

    /// Appends a row already joined by [`grid_row`].
    pub fn push_joined_row(&mut self, row: &str, origin: SourceLocation) {
        self.start_line();
        self.text.push_str(row);
        self.origins.push(origin);
    }

    fn start_line(&mut self) {
        if !self.origins.is_empty() {
            self.text.push('\n');
        }
    }

    pub fn line_count(&self) -> usize {
        self.origins.len()
    }
}

/// One position of a table row in the table's grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The first position of a cell, with the cell's text (may be empty: a blank cell).
    Cell(String),
    /// A position covered by a cell that starts to the left (colspan, gridSpan) or above (rowspan,
    /// vMerge).
    Covered,
}

/// The tab-joined text of a grid row: a cell's text at its first position, [`BLANK_CELL`] for a cell
/// with nothing written, nothing for covered positions. `None` for a row with nothing written at all
/// (spacer rows).
pub fn grid_row(slots: &[Slot]) -> Option<String> {
    let written = slots
        .iter()
        .any(|s| matches!(s, Slot::Cell(t) if !is_blank_text(t)));
    if !written {
        return None;
    }
    let mut out = String::new();
    for (i, s) in slots.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        if let Slot::Cell(t) = s {
            if is_blank_text(t) {
                out.push_str(BLANK_CELL);
            } else {
                push_cell_text(&mut out, t);
            }
        }
    }
    Some(out)
}

/// Whitespace of any kind only (including U+3000 and U+00A0, which Word and web tables put in empty
/// cells).
fn is_blank_text(t: &str) -> bool {
    t.chars().all(|c| c.is_whitespace() || c == '\u{200b}')
}

/// A cell's text on one line: tabs and line breaks inside a cell would cut it into several cells.
fn push_cell_text(out: &mut String, t: &str) {
    let t = t.trim();
    for c in t.chars() {
        out.push(if matches!(c, '\t' | '\n' | '\r') {
            ' '
        } else {
            c
        });
    }
}

/// Lays out the rows of one table on its grid, from each cell's column and row span (HTML's
/// colspan/rowspan). Returns the slots of each row. Spans are clamped (HTML's own limits: 1000
/// columns, 65534 rows) and the width of the grid to `max_cols`, so a hostile table cannot allocate
/// more than rows × `max_cols` slots.
pub fn layout_spans(rows: &[Vec<(String, usize, usize)>], max_cols: usize) -> Vec<Vec<Slot>> {
    // Remaining rows each column is still covered by a rowspan from above.
    let mut carry: Vec<usize> = Vec::new();
    let mut out = Vec::with_capacity(rows.len());
    for (ri, cells) in rows.iter().enumerate() {
        let rows_left = rows.len() - ri;
        let mut slots: Vec<Slot> = Vec::new();
        let mut col = 0usize;
        let advance_covered = |slots: &mut Vec<Slot>, col: &mut usize, carry: &mut Vec<usize>| {
            while *col < carry.len() && carry[*col] > 0 && *col < max_cols {
                carry[*col] -= 1;
                slots.push(Slot::Covered);
                *col += 1;
            }
        };
        for (text, colspan, rowspan) in cells {
            advance_covered(&mut slots, &mut col, &mut carry);
            if col >= max_cols {
                break;
            }
            let colspan = (*colspan).clamp(1, 1000).min(max_cols - col);
            // rowspan 0 means "to the end of the table section".
            let rowspan = if *rowspan == 0 {
                rows_left
            } else {
                (*rowspan).min(65534).min(rows_left)
            };
            if carry.len() < col + colspan {
                carry.resize(col + colspan, 0);
            }
            for k in 0..colspan {
                slots.push(if k == 0 {
                    Slot::Cell(text.clone())
                } else {
                    Slot::Covered
                });
                // A later cell may overlap a rowspan (malformed tables): the larger span wins.
                carry[col + k] = carry[col + k].max(rowspan.saturating_sub(1));
            }
            col += colspan;
        }
        // Trailing positions still covered from above.
        advance_covered(&mut slots, &mut col, &mut carry);
        // Positions covered further right (after a gap) are left as they are: the row ends here.
        for c in carry.iter_mut().skip(col) {
            *c = c.saturating_sub(1);
        }
        out.push(slots);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(t: &str, c: usize, r: usize) -> (String, usize, usize) {
        (t.to_string(), c, r)
    }

    fn rows_text(rows: &[Vec<Slot>]) -> Vec<Option<String>> {
        rows.iter().map(|r| grid_row(r)).collect()
    }

    #[test]
    fn spans_expand_into_the_grid() {
        // The 表三 head: a 3×3 note, 申请人情况 over 7 columns, 自然人 and 总计 over 2 rows.
        let rows = vec![
            vec![cell("注", 3, 3), cell("申请人情况", 7, 1)],
            vec![
                cell("自然人", 1, 2),
                cell("法人或其他组织", 5, 1),
                cell("总计", 1, 2),
            ],
            vec![cell("商业企业", 1, 1), cell("其他", 1, 1)],
            vec![
                cell("三、本年度办理结果", 1, 2),
                cell("（一）予以公开", 2, 1),
                cell("1", 1, 1),
            ],
            vec![cell("（二）部分公开", 2, 1), cell("", 1, 1)],
        ];
        let g = layout_spans(&rows, 100);
        let t = rows_text(&g);
        assert_eq!(t[0].as_deref(), Some("注\t\t\t申请人情况\t\t\t\t\t\t"));
        assert_eq!(
            t[1].as_deref(),
            Some("\t\t\t自然人\t法人或其他组织\t\t\t\t\t总计")
        );
        assert_eq!(t[2].as_deref(), Some("\t\t\t\t商业企业\t其他"));
        assert_eq!(
            t[3].as_deref(),
            Some("三、本年度办理结果\t（一）予以公开\t\t1")
        );
        assert_eq!(t[4].as_deref(), Some("\t（二）部分公开\t\t—"));
    }

    #[test]
    fn hostile_spans_are_clamped() {
        let rows = vec![
            vec![cell("a", usize::MAX, usize::MAX)],
            vec![cell("b", 5, 0)],
        ];
        let g = layout_spans(&rows, 50);
        assert_eq!(g[0].len(), 50);
        assert_eq!(g[1].len(), 50);
        assert!(g[1].iter().all(|s| *s == Slot::Covered));
    }

    #[test]
    fn blank_rows_are_dropped_and_cell_text_stays_on_one_line() {
        assert_eq!(
            grid_row(&[Slot::Cell(" \u{3000}".into()), Slot::Covered]),
            None
        );
        assert_eq!(
            grid_row(&[Slot::Cell("结果\n维持".into()), Slot::Cell("\u{a0}".into())]).as_deref(),
            Some("结果 维持\t—")
        );
    }
}
