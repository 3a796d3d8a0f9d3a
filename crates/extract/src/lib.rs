//! Extraction: the bytes of one annual report → [`Extraction`], the typed model of the 2021 format.
//!
//! # Layout
//! - [`decode`]: encoding from the content (BOM, UTF-8, UTF-16, GB18030/GBK), and the reasons a file
//!   is unreadable.
//! - `text`: normalisation (full-/half-width, spaces in labels and numbers), label keys, numbers.
//! - `doc`: lines and cells (tabs, markdown pipes, runs of spaces, one cell per line).
//! - `parts`, `title`: the six part headings; agency and year.
//! - `tables`: 表二, 表三, 表四, read by their labels.
//!
//! Extraction never fails and never panics on any input: what cannot be read becomes
//! `Extraction::unreadable` (one `unreadable` finding) or absent parts and tables (their findings).

pub mod decode;
mod doc;
mod parts;
mod tables;
mod text;
mod title;

use doc::split_lines;
use nianbao_model::{Extraction, Part, PartSpan, Template, TextLine};

/// Hard limits for one document.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Larger inputs are rejected as `unreadable` before decoding.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // A long text report is ~100 KB; 20 MiB leaves room for pasted appendices.
        Limits {
            max_bytes: 20 * 1024 * 1024,
        }
    }
}

/// Extracts a report from raw bytes with the default limits.
pub fn extract_bytes(bytes: &[u8]) -> Extraction {
    extract_bytes_with(bytes, &Limits::default())
}

pub fn extract_bytes_with(bytes: &[u8], limits: &Limits) -> Extraction {
    match decode::decode(bytes, limits.max_bytes) {
        Ok(d) => extract_decoded(&d.text, d.encoding),
        Err(e) => Extraction {
            unreadable: Some(e.to_string()),
            source_kind: "unknown".into(),
            ..Default::default()
        },
    }
}

/// Extracts a report from text already decoded.
pub fn extract_text(text: &str) -> Extraction {
    extract_decoded(text, "UTF-8")
}

fn extract_decoded(text: &str, encoding: &str) -> Extraction {
    let lines = split_lines(text);
    let headings = parts::find_headings(&lines);
    let first_heading = headings.first().map_or(lines.len(), |h| h.1);
    let title = title::find(&lines, first_heading);

    let heading_idx = |p: Part| headings.iter().find(|h| h.0 == p).map(|h| h.1);
    // The lines where a table may be: its part, or — when its heading is missing — between the
    // nearest headings found before and after it.
    let window = |p: Part| -> std::ops::Range<usize> {
        let start = match heading_idx(p) {
            Some(i) => i + 1,
            None => headings
                .iter()
                .filter(|h| h.0 < p)
                .map(|h| h.1 + 1)
                .max()
                .unwrap_or(title.line.map_or(0, |t| t + 1)),
        };
        let end = headings
            .iter()
            .filter(|h| h.0 > p && h.1 >= start)
            .map(|h| h.1)
            .min()
            .unwrap_or(lines.len());
        start..end
    };

    let mut x = Extraction {
        source_kind: format!("text/{encoding}"),
        agency: title.agency.clone(),
        year: title.year,
        ..Default::default()
    };
    // Per line: the tab-joined text of a table row cut from pipes or spaces.
    let mut table_rows: Vec<Option<String>> = vec![None; lines.len()];
    let mut starts: Vec<(Part, usize, bool)> =
        headings.iter().map(|&(p, i)| (p, i, true)).collect();
    let mut is2019 = false;

    let t2 = tables::table2(&lines, window(Part::Proactive));
    let t3 = tables::table3(&lines, window(Part::Requests));
    let t4 = tables::table4(&lines, window(Part::ReviewLitigation));
    if let Some(p) = t2 {
        note_table(
            &mut starts,
            &mut table_rows,
            Part::Proactive,
            p.row_lines,
            p.first_idx,
        );
        is2019 |= p.is2019;
        x.deviations.extend(p.deviations);
        x.outdated_signatures.extend(p.signatures);
        x.table2 = Some(p.table);
    }
    if let Some(p) = t3 {
        note_table(
            &mut starts,
            &mut table_rows,
            Part::Requests,
            p.row_lines,
            p.first_idx,
        );
        is2019 |= p.is2019;
        x.deviations.extend(p.deviations);
        x.outdated_signatures.extend(p.signatures);
        x.table3 = Some(p.table);
    }
    if let Some(p) = t4 {
        note_table(
            &mut starts,
            &mut table_rows,
            Part::ReviewLitigation,
            p.row_lines,
            p.first_idx,
        );
        x.table4 = Some(p.table);
    }
    x.template = if is2019 {
        Template::V2019
    } else if x.table2.is_some() || x.table3.is_some() || x.table4.is_some() {
        Template::V2021
    } else {
        Template::Unknown
    };

    starts.sort_by_key(|s| (s.1, s.0));
    for (k, &(part, start, heading_found)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(lines.len(), |n| n.1);
        x.parts.push(PartSpan {
            part,
            heading_line: lines.get(start).map_or(0, |l| l.no),
            start,
            end: end.max(start),
            heading_found,
        });
    }
    x.title = title.line.and_then(|i| lines.get(i)).map(|l| TextLine {
        no: l.no,
        text: l.norm.clone(),
    });
    x.lines = lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| TextLine {
            no: l.no,
            text: table_rows.get_mut(i).and_then(Option::take).unwrap_or(l.norm),
        })
        .collect();
    x
}

/// Records a table's lines; where its part has no heading, the table starts the part.
fn note_table(
    starts: &mut Vec<(Part, usize, bool)>,
    rows: &mut [Option<String>],
    part: Part,
    lines: Vec<(usize, Option<String>)>,
    first: usize,
) {
    for (i, joined) in lines {
        if let (Some(slot), Some(j)) = (rows.get_mut(i), joined) {
            *slot = Some(j);
        }
    }
    if !starts.iter().any(|s| s.0 == part) {
        starts.push((part, first, false));
    }
}
