//! Extraction: the bytes of one annual report → [`Extraction`], the typed model of the 2021 format.
//!
//! # Layout
//! - [`decode`]: encoding from the content (BOM, UTF-8, UTF-16, GB18030/GBK), and the reasons a file
//!   is unreadable.
//! - `text`: normalisation (full-/half-width, spaces in labels and numbers), label keys, numbers.
//! - `doc`: lines and cells (tabs, markdown pipes, runs of spaces, one cell per line).
//! - `parts`, `title`: the six part headings; agency and year.
//! - `tables`: 表二, 表三, 表四, read by their labels.
//! - [`format`]: which format a file is in (text, HTML, DOCX, PDF, or refused), from its content.
//! - `flat`: the representation every other format is turned into — a line per paragraph, a line
//!   per table row with tab-separated cells laid out on the table's grid — which the text path
//!   reads; each line keeps its origin (paragraph, table row, page).
//! - `html`, `docx`, `pdf`: the readers of those formats, each bounded by [`Limits`].
//!
//! Extraction never fails and never panics on any input: what cannot be read becomes
//! `Extraction::unreadable` (one `unreadable` finding) or absent parts and tables (their findings).

pub mod decode;
mod doc;
mod docx;
mod flat;
pub mod format;
mod html;
mod parts;
mod pdf;
mod pdf_streams;
mod tables;
mod text;
mod title;

use doc::{Line, make_lines, normalize_document};
pub use format::{Format, FormatError};
/// A web page's bytes as text (BOM, declared charset checked against the content, GBK read as
/// GB18030): the crawler reads its list pages the way reports are read.
pub use html::decode as decode_html;
use nianbao_model::{Extraction, Part, PartSpan, Template, TextLine};
use std::time::{Duration, Instant};

/// Hard limits for one document. Each violation makes the document `unreadable` with a reason that
/// names the limit, so that an operator can tell a hostile file from a limit set too low.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Larger inputs are rejected as `unreadable` before decoding.
    pub max_bytes: usize,
    /// Entries in a DOCX (zip) container: a Word file has a few dozen.
    pub max_zip_entries: usize,
    /// Decompressed size of the DOCX document part (zip bombs).
    pub max_unzipped_bytes: u64,
    /// Nesting depth of HTML elements and DOCX XML elements.
    pub max_depth: usize,
    /// Pages of a PDF.
    pub max_pages: usize,
    /// Bytes a PDF's streams may inflate to, all decoding stages of all streams together: lopdf
    /// inflates a stream without a cap, and nested FlateDecode filters multiply (PDF bombs).
    pub max_pdf_inflated_bytes: u64,
    /// Wall-clock time for reading one document's format (HTML, DOCX, PDF).
    pub max_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        // A long text report is ~100 KB; 20 MiB leaves room for pasted appendices and for PDFs with
        // embedded fonts. Real pages nest < 60 elements deep, a report's PDF has < 50 pages, its
        // document.xml is < 5 MB.
        Limits {
            max_bytes: 20 * 1024 * 1024,
            max_zip_entries: 2_000,
            max_unzipped_bytes: 64 * 1024 * 1024,
            max_depth: 512,
            max_pages: 300,
            // A 40-page report with embedded CJK font subsets inflates to a few MB.
            max_pdf_inflated_bytes: 256 * 1024 * 1024,
            max_time: Duration::from_secs(20),
        }
    }
}

/// The `[limits]` table of a service's configuration: [`Limits`] apart from `max_bytes`, which the
/// services keep at the top level (it is also their gRPC message limit). Every key has a default.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_zip_entries: usize,
    pub max_unzipped_bytes: u64,
    pub max_depth: usize,
    pub max_pages: usize,
    pub max_pdf_inflated_bytes: u64,
    /// Milliseconds.
    pub max_time_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = Limits::default();
        LimitsConfig {
            max_zip_entries: l.max_zip_entries,
            max_unzipped_bytes: l.max_unzipped_bytes,
            max_depth: l.max_depth,
            max_pages: l.max_pages,
            max_pdf_inflated_bytes: l.max_pdf_inflated_bytes,
            max_time_ms: u64::try_from(l.max_time.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl LimitsConfig {
    /// The limits for documents of at most `max_bytes`.
    pub fn limits(&self, max_bytes: usize) -> Limits {
        Limits {
            max_bytes,
            max_zip_entries: self.max_zip_entries,
            max_unzipped_bytes: self.max_unzipped_bytes,
            max_depth: self.max_depth,
            max_pages: self.max_pages,
            max_pdf_inflated_bytes: self.max_pdf_inflated_bytes,
            max_time: Duration::from_millis(self.max_time_ms),
        }
    }
}

/// Extracts a report from raw bytes with the default limits.
pub fn extract_bytes(bytes: &[u8]) -> Extraction {
    extract_bytes_with(bytes, &Limits::default())
}

/// Extracts a report from raw bytes in any accepted format (text, HTML, DOCX, PDF), detected from
/// the content. Never panics: a panic inside a format library is caught and reported as
/// `unreadable`, like every other reason a file cannot be read.
pub fn extract_bytes_with(bytes: &[u8], limits: &Limits) -> Extraction {
    if bytes.len() > limits.max_bytes {
        return unreadable(
            decode::DecodeError::TooLarge {
                size: bytes.len(),
                limit: limits.max_bytes,
            }
            .to_string(),
            "unknown",
        );
    }
    let format = format::detect(bytes);
    let deadline = Instant::now() + limits.max_time;
    let kind = match format {
        Format::Text => {
            return match decode::decode(bytes, limits.max_bytes) {
                Ok(d) => extract_decoded(&d.text, d.encoding),
                Err(e) => unreadable(e.to_string(), "unknown"),
            };
        }
        Format::Html => "html",
        Format::Zip => "docx",
        Format::Pdf => "pdf",
        Format::Unsupported(what) => {
            return unreadable(FormatError::Unsupported(what).to_string(), "unsupported");
        }
    };
    let read = std::panic::catch_unwind(|| -> Result<(flat::Flat, String), FormatError> {
        match format {
            Format::Html => {
                let (text, enc) = html::decode(bytes)?;
                let lim = html::HtmlLimits {
                    max_depth: limits.max_depth,
                    // The widest official table has 15 columns; 256 leaves room for odd pages
                    // while bounding what a hostile colspan can allocate per row.
                    max_cols: 256,
                    deadline,
                };
                Ok((html::to_flat(&text, &lim)?, format!("html/{enc}")))
            }
            Format::Zip => {
                let lim = docx::DocxLimits {
                    max_entries: limits.max_zip_entries,
                    max_part_bytes: limits.max_unzipped_bytes,
                    max_depth: limits.max_depth,
                    deadline,
                };
                Ok((docx::to_flat(bytes, &lim)?, "docx".to_string()))
            }
            _ => {
                let lim = pdf::PdfLimits {
                    max_pages: limits.max_pages,
                    max_inflated_bytes: limits.max_pdf_inflated_bytes,
                    deadline,
                };
                Ok((pdf::to_flat(bytes, &lim)?, "pdf".to_string()))
            }
        }
    });
    match read {
        Ok(Ok((flat, source))) => extract_flat(flat, &source),
        Ok(Err(e)) => unreadable(e.to_string(), kind),
        Err(_) => unreadable(
            format!("文件内容损坏，解析时出错（{kind}）；请提供完好的文件"),
            kind,
        ),
    }
}

fn unreadable(reason: String, kind: &str) -> Extraction {
    Extraction {
        unreadable: Some(reason),
        source_kind: kind.into(),
        ..Default::default()
    }
}

/// A flattened HTML/DOCX/PDF document: the text path reads it; each line keeps its origin.
fn extract_flat(flat: flat::Flat, source: &str) -> Extraction {
    if flat.text.trim().is_empty() {
        return unreadable("文件中没有文字内容".into(), source);
    }
    let mut x = extract_decoded(&flat.text, "UTF-8");
    x.source_kind = source.to_string();
    x.locations = flat.origins;
    x
}

/// Extracts a report from text already decoded.
pub fn extract_text(text: &str) -> Extraction {
    extract_decoded(text, "UTF-8")
}

fn extract_decoded(text: &str, encoding: &str) -> Extraction {
    let (mut buf, ranges) = normalize_document(text);
    let (mut x, mut table_rows, title_line) = {
        let lines = make_lines(text, &buf, &ranges);
        analyse(&lines, encoding)
    };
    // Lines point into one buffer; a table row cut from pipes or spaces is re-pointed at its
    // tab-joined text, appended to the buffer, so that narrative rules skip it.
    let mut lines: Vec<TextLine> = ranges
        .iter()
        .enumerate()
        .map(|(i, &(start, end))| TextLine {
            no: u32::try_from(i + 1).unwrap_or(u32::MAX),
            start,
            end,
        })
        .collect();
    for (line, joined) in lines.iter_mut().zip(table_rows.iter_mut()) {
        if let Some(j) = joined.take() {
            buf.push('\n');
            line.start = u32::try_from(buf.len()).unwrap_or(u32::MAX);
            buf.push_str(&j);
            line.end = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        }
    }
    x.title = title_line.and_then(|i| lines.get(i).copied());
    x.lines = lines;
    x.text = buf;
    x
}

/// Everything but the text buffer: parts, title, tables. Returns the extraction, the tab-joined
/// text of table rows per line, and the title's line index.
fn analyse(lines: &[Line<'_>], encoding: &str) -> (Extraction, Vec<Option<String>>, Option<usize>) {
    let headings = parts::find_headings(lines);
    let first_heading = headings.first().map_or(lines.len(), |h| h.1);
    let title = title::find(lines, first_heading);

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

    let t2 = tables::table2(lines, window(Part::Proactive));
    let t3 = tables::table3(lines, window(Part::Requests));
    let t4 = tables::table4(lines, window(Part::ReviewLitigation));
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
    (x, table_rows, title.line)
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
