//! Word (DOCX): paragraphs and tables of `word/document.xml`, read with a streaming XML reader.
//!
//! Tables are laid out on Word's own grid: `w:gridSpan` covers positions to the right,
//! `w:vMerge` (continue) marks a position covered from above, `w:gridBefore` skips leading grid
//! columns. Each table row becomes one line of the flat text ([`crate::flat`]), so the cell
//! positions come from the document, not from guessing.
//!
//! The container is a zip: its entry count, the declared and the actual decompressed size of the
//! document part are bounded ([`crate::Limits`]) so that a zip bomb costs at most the limit.

use crate::FormatError;
use crate::flat::{Flat, Slot};
use nianbao_model::SourceLocation;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::io::{Cursor, Read};

/// Limits that apply to one DOCX file (from [`crate::Limits`]).
pub struct DocxLimits {
    /// Entries in the zip: a Word file has a few dozen; thousands is a hostile archive.
    pub max_entries: usize,
    /// Decompressed size of `word/document.xml`, declared and actual (zip bombs).
    pub max_part_bytes: u64,
    /// XML element nesting.
    pub max_depth: usize,
    /// When reading must stop, checked every few thousand XML events.
    pub deadline: std::time::Instant,
}

/// Reads the document part out of the container, within the limits.
fn document_xml(bytes: &[u8], limits: &DocxLimits) -> Result<Vec<u8>, FormatError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| FormatError::BrokenContainer(format!("DOCX 压缩包损坏：{e}")))?;
    if zip.len() > limits.max_entries {
        return Err(FormatError::TooManyEntries {
            entries: zip.len(),
            limit: limits.max_entries,
        });
    }
    let name = if zip.index_for_name("word/document.xml").is_some() {
        "word/document.xml".to_string()
    } else {
        // Some writers name the main part differently; it is still the one `document*.xml` in word/.
        let found = zip
            .file_names()
            .flatten()
            .find(|n| n.starts_with("word/") && n.ends_with(".xml") && n.contains("document"))
            .map(|n| n.into_owned());
        match found {
            Some(n) => n,
            None if zip.index_for_name("content.xml").is_some() => {
                return Err(FormatError::Unsupported("OpenDocument 文本（.odt）"));
            }
            None if zip
                .file_names()
                .flatten()
                .any(|n| n.eq_ignore_ascii_case("OFD.xml")) =>
            {
                return Err(FormatError::Unsupported("OFD 版式文件"));
            }
            None => return Err(FormatError::Unsupported("ZIP 压缩包（不是 Word 文档）")),
        }
    };
    let file = zip
        .by_name(&name)
        .map_err(|e| FormatError::BrokenContainer(format!("DOCX 无法读取 {name}：{e}")))?;
    if file.size() > limits.max_part_bytes {
        return Err(FormatError::Inflated {
            limit: limits.max_part_bytes,
        });
    }
    // The declared size can lie: read at most one byte more than the limit to know.
    let mut out = Vec::with_capacity(usize::try_from(file.size().min(1 << 24)).unwrap_or(0));
    file.take(limits.max_part_bytes.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| FormatError::BrokenContainer(format!("DOCX 解压失败：{e}")))?;
    if out.len() as u64 > limits.max_part_bytes {
        return Err(FormatError::Inflated {
            limit: limits.max_part_bytes,
        });
    }
    Ok(out)
}

/// A table being read: its grid rows so far and the row and cell under construction.
#[derive(Default)]
struct TableState {
    /// 1-based number of the table in the document (top-level tables only).
    number: u32,
    rows_done: u32,
    row: Vec<Slot>,
    cell_text: String,
    cell_span: usize,
    cell_continue: bool,
    in_cell: bool,
}

struct Walker {
    flat: Flat,
    /// Open tables, outermost first. Tables nested in a cell are read as that cell's text.
    tables: Vec<TableState>,
    tables_seen: u32,
    paragraphs: u32,
    para: String,
    in_para: bool,
    /// Inside `w:t` (text to keep) — `w:delText`, `w:instrText` are never read.
    in_text: bool,
    /// Inside `mc:Fallback`: a copy of content already read from `mc:Choice`.
    skip_depth: usize,
    depth: usize,
}

fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .map(|a| a.value.into_owned())
}

impl Walker {
    fn text_target(&mut self) -> &mut String {
        match self.tables.last_mut() {
            Some(t) if t.in_cell => &mut t.cell_text,
            _ => &mut self.para,
        }
    }

    fn start(&mut self, e: &BytesStart<'_>, empty: bool) {
        let name = e.local_name();
        let name = name.as_ref();
        match name {
            "Fallback" if !empty => self.skip_depth = self.depth,
            "p" => {
                if !self.tables.last().is_some_and(|t| t.in_cell) {
                    self.flush_para();
                    self.in_para = true;
                } else if let Some(t) = self.tables.last_mut() {
                    // A new paragraph inside a cell: Chinese labels wrapped over paragraphs join
                    // without a space; other text gets one.
                    if t.cell_text
                        .chars()
                        .last()
                        .is_some_and(|c| c.is_ascii_alphanumeric())
                    {
                        t.cell_text.push(' ');
                    }
                }
            }
            "t" if !empty => self.in_text = true,
            "tab" => {
                // A tab in a paragraph separates columns as in text copies; inside a cell it is a
                // space.
                let in_cell = self.tables.last().is_some_and(|t| t.in_cell);
                self.text_target().push(if in_cell { ' ' } else { '\t' });
            }
            "br" | "cr" => {
                let in_cell = self.tables.last().is_some_and(|t| t.in_cell);
                if in_cell {
                    // Wrapped label inside a cell: no separator (see "p").
                } else {
                    self.flush_para();
                    self.in_para = true;
                }
            }
            "tbl" => {
                if self.tables.last().is_some_and(|t| t.in_cell) {
                    // Nested table: its text becomes the enclosing cell's text.
                    self.tables.push(TableState {
                        number: 0,
                        ..TableState::default()
                    });
                    return;
                }
                self.flush_para();
                self.tables_seen += 1;
                self.tables.push(TableState {
                    number: self.tables_seen,
                    ..TableState::default()
                });
            }
            "tr" => {
                if let Some(t) = self.tables.last_mut() {
                    t.row.clear();
                }
            }
            "gridBefore" | "gridAfter" => {
                let n = attr(e, "val")
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0)
                    .min(64);
                if let Some(t) = self.tables.last_mut()
                    && name == "gridBefore"
                {
                    t.row.extend(std::iter::repeat_n(Slot::Covered, n));
                }
            }
            "tc" => {
                if let Some(t) = self.tables.last_mut() {
                    t.in_cell = true;
                    t.cell_text.clear();
                    t.cell_span = 1;
                    t.cell_continue = false;
                }
            }
            "gridSpan" => {
                let n = attr(e, "val")
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(1)
                    .clamp(1, 64);
                if let Some(t) = self.tables.last_mut() {
                    t.cell_span = n;
                }
            }
            "vMerge" => {
                // `<w:vMerge/>` or val="continue": covered from above; val="restart" starts a cell.
                let v = attr(e, "val");
                if let Some(t) = self.tables.last_mut() {
                    t.cell_continue = v.as_deref().is_none_or(|v| v == "continue");
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, name: &str) {
        match name {
            "t" => self.in_text = false,
            "p" if !self.tables.last().is_some_and(|t| t.in_cell) => self.flush_para(),
            "tc" => {
                if let Some(t) = self.tables.last_mut() {
                    t.in_cell = false;
                    let text = std::mem::take(&mut t.cell_text);
                    if t.cell_continue {
                        t.row
                            .extend(std::iter::repeat_n(Slot::Covered, t.cell_span));
                    } else {
                        t.row.push(Slot::Cell(text));
                        t.row
                            .extend(std::iter::repeat_n(Slot::Covered, t.cell_span - 1));
                    }
                }
            }
            "tr" => {
                let nested = self.tables.len() > 1;
                if let Some(t) = self.tables.last_mut() {
                    t.rows_done += 1;
                    let row = std::mem::take(&mut t.row);
                    if nested {
                        // A nested table's row is text of the enclosing cell.
                        let joined: Vec<String> = row
                            .into_iter()
                            .filter_map(|s| match s {
                                Slot::Cell(c) if !c.trim().is_empty() => Some(c),
                                _ => None,
                            })
                            .collect();
                        let n = self.tables.len();
                        if let Some(outer) = self.tables.get_mut(n - 2) {
                            if !outer.cell_text.is_empty() && !joined.is_empty() {
                                outer.cell_text.push(' ');
                            }
                            outer.cell_text.push_str(&joined.join(" "));
                        }
                    } else {
                        let origin = SourceLocation::TableRow {
                            table: t.number,
                            row: t.rows_done,
                        };
                        self.flat.push_row(&row, origin);
                    }
                }
            }
            "tbl" => {
                self.tables.pop();
            }
            _ => {}
        }
    }

    fn flush_para(&mut self) {
        if self.in_para || !self.para.is_empty() {
            let p = std::mem::take(&mut self.para);
            if !p.trim().is_empty() {
                self.paragraphs += 1;
                self.flat.push_line(
                    &p,
                    SourceLocation::Paragraph {
                        paragraph: self.paragraphs,
                    },
                );
            }
        }
        self.in_para = false;
    }
}

/// The five entities XML predefines; anything else in `&…;` is kept as written.
fn predefined(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// Flattens a DOCX file.
pub fn to_flat(bytes: &[u8], limits: &DocxLimits) -> Result<Flat, FormatError> {
    let xml = document_xml(bytes, limits)?;
    let text = String::from_utf8_lossy(&xml);
    let mut reader = Reader::from_str(&text);
    let mut w = Walker {
        flat: Flat::default(),
        tables: Vec::new(),
        tables_seen: 0,
        paragraphs: 0,
        para: String::new(),
        in_para: false,
        in_text: false,
        skip_depth: 0,
        depth: 0,
    };
    let mut events = 0u64;
    loop {
        events += 1;
        if events.is_multiple_of(4096) && std::time::Instant::now() > limits.deadline {
            return Err(FormatError::Timeout);
        }
        let ev = reader
            .read_event()
            .map_err(|e| FormatError::BrokenContainer(format!("DOCX 内容不是有效的 XML：{e}")))?;
        match ev {
            Event::Start(e) => {
                w.depth += 1;
                if w.depth > limits.max_depth {
                    return Err(FormatError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                if w.skip_depth == 0 {
                    w.start(&e, false);
                }
            }
            Event::Empty(e) if w.skip_depth == 0 => {
                w.start(&e, true);
                // An empty element has no end event: close what `start` opened.
                let n = e.local_name();
                if matches!(n.as_ref(), "p" | "tc" | "tr" | "tbl") {
                    w.end(n.as_ref());
                }
            }
            Event::End(e) => {
                if w.skip_depth != 0 {
                    if w.depth == w.skip_depth {
                        w.skip_depth = 0;
                    }
                } else {
                    w.end(e.local_name().as_ref());
                }
                w.depth = w.depth.saturating_sub(1);
            }
            Event::Text(t) if w.in_text && w.skip_depth == 0 => {
                let s = t.xml10_content();
                w.text_target().push_str(&s);
            }
            Event::CData(t) if w.in_text && w.skip_depth == 0 => {
                let s: &str = t.as_ref();
                let s = s.to_string();
                w.text_target().push_str(&s);
            }
            Event::GeneralRef(r) if w.in_text && w.skip_depth == 0 => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    _ => predefined(&r.xml10_content()),
                };
                if let Some(c) = c {
                    w.text_target().push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    w.flush_para();
    Ok(w.flat)
}
