//! PDF with a text layer: the characters of each page with their positions (from `pdf-extract`'s
//! content-stream interpreter), put back into lines; a wide horizontal gap between two characters
//! on a line is a table column boundary and becomes a tab, so that table rows reach the text path as
//! cells. Page numbers printed inside tables are dropped, and row labels that a narrow column wrapped
//! over several lines are joined to the line holding their values.
//!
//! A PDF without any text (a scan) is refused with the reason, so that the office asks for a text
//! version. Parsing is bounded by a page count and a deadline checked between pages; a panic inside
//! the PDF libraries is caught by the caller ([`crate::extract_bytes_with`]).

use crate::FormatError;
use crate::flat::{BLANK_CELL, Flat};
use crate::parts::heading_of;
use crate::text::{CellText, normalize_line, parse_cell};
use nianbao_model::SourceLocation;
use pdf_extract::{MediaBox, OutputDev, OutputError, Transform};
use std::time::Instant;

/// Limits that apply to one PDF (from [`crate::Limits`]).
pub struct PdfLimits {
    /// Pages: a report has a few dozen at most.
    pub max_pages: usize,
    /// What all the streams may inflate to (see [`crate::pdf_streams`]).
    pub max_inflated_bytes: u64,
    /// When reading must stop, checked between pages.
    pub deadline: Instant,
}

/// One character as placed on the page (y grows downwards).
#[derive(Clone, Debug)]
struct Glyph {
    x: f64,
    y: f64,
    /// Advance width in page units.
    w: f64,
    size: f64,
    text: String,
}

/// A vertical ruling line (a table's column border), top-down coordinates.
#[derive(Clone, Copy, Debug)]
struct Rule {
    x: f64,
    y0: f64,
    y1: f64,
}

/// Collects the glyphs and the vertical ruling lines of one page.
struct Collector {
    flip: Transform,
    glyphs: Vec<Glyph>,
    rules: Vec<Rule>,
}

impl Collector {
    /// A point of a path in page coordinates, y downwards.
    fn point(&self, ctm: &Transform, x: f64, y: f64) -> (f64, f64) {
        let t = ctm.post_transform(&self.flip);
        (t.m11 * x + t.m21 * y + t.m31, t.m12 * x + t.m22 * y + t.m32)
    }

    /// Keeps the vertical segments of a path: lines drawn with `l`, or thin rectangles.
    fn add_path(&mut self, ctm: &Transform, path: &pdf_extract::Path) {
        use pdf_extract::PathOp;
        let mut at: Option<(f64, f64)> = None;
        for op in &path.ops {
            match *op {
                PathOp::MoveTo(x, y) => at = Some(self.point(ctm, x, y)),
                PathOp::LineTo(x, y) => {
                    let p = self.point(ctm, x, y);
                    if let Some(a) = at
                        && (a.0 - p.0).abs() < 0.5
                        && (a.1 - p.1).abs() > 2.0
                    {
                        self.rules.push(Rule {
                            x: a.0,
                            y0: a.1.min(p.1),
                            y1: a.1.max(p.1),
                        });
                    }
                    at = Some(p);
                }
                PathOp::Rect(x, y, w, h) => {
                    let a = self.point(ctm, x, y);
                    let b = self.point(ctm, x + w, y + h);
                    if (a.0 - b.0).abs() < 2.0 && (a.1 - b.1).abs() > 2.0 {
                        self.rules.push(Rule {
                            x: (a.0 + b.0) / 2.0,
                            y0: a.1.min(b.1),
                            y1: a.1.max(b.1),
                        });
                    }
                }
                PathOp::CurveTo(_, _, _, _, x, y) => at = Some(self.point(ctm, x, y)),
                PathOp::Close => {}
            }
        }
    }
}

impl OutputDev for Collector {
    fn begin_page(
        &mut self,
        _page_num: u32,
        media_box: &MediaBox,
        _art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        self.flip = Transform::row_major(1., 0., 0., -1., 0., media_box.ury - media_box.lly);
        Ok(())
    }
    fn end_page(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        _spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        let p = trm.post_transform(&self.flip);
        // The rendered size: the side of the square with the area the font-size box maps to.
        let sx = font_size * (trm.m11 + trm.m21);
        let sy = font_size * (trm.m12 + trm.m22);
        let size = (sx * sy).abs().sqrt().max(0.1);
        if char.chars().all(char::is_whitespace) {
            return Ok(());
        }
        self.glyphs.push(Glyph {
            x: p.m31,
            y: p.m32,
            w: width * size,
            size,
            text: char.to_string(),
        });
        Ok(())
    }
    fn begin_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn end_word(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn end_line(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    fn stroke(
        &mut self,
        ctm: &Transform,
        _colorspace: &pdf_extract::ColorSpace,
        _color: &[f64],
        path: &pdf_extract::Path,
    ) -> Result<(), OutputError> {
        self.add_path(ctm, path);
        Ok(())
    }
    fn fill(
        &mut self,
        ctm: &Transform,
        _colorspace: &pdf_extract::ColorSpace,
        _color: &[f64],
        path: &pdf_extract::Path,
    ) -> Result<(), OutputError> {
        self.add_path(ctm, path);
        Ok(())
    }
}

/// A line of a page: its text (cells separated by tabs) and where it starts.
#[derive(Clone, Debug, PartialEq)]
struct PageLine {
    text: String,
    x0: f64,
    /// Baseline of the line's last character.
    y: f64,
    /// Free space between the end of the first cell's text and the column rule that ends the cell
    /// (infinite when no rule is known): a label that wrapped filled its cell.
    room: f64,
    size: f64,
    page: u32,
}

/// Lines of one page, in the order of the content stream (which is reading order for the writers
/// reports come from): a new line when the baseline moves by more than half a character or the text
/// goes back left; a tab where a column rule lies between two characters or the gap is wider than
/// one character.
fn page_lines(glyphs: &[Glyph], rules: &[Rule], page: u32) -> Vec<PageLine> {
    let mut lines: Vec<PageLine> = Vec::new();
    let mut cur: Option<PageLine> = None;
    let mut last: Option<&Glyph> = None;
    for g in glyphs {
        if let (Some(p), Some(line)) = (last, cur.as_mut()) {
            let size = p.size.max(g.size);
            let dy = (g.y - p.y).abs();
            // Writers often omit glyph widths (then reported as one em): ASCII is about half an em.
            let w = if p.text.is_ascii() {
                p.w.min(p.size * 0.55)
            } else {
                p.w
            };
            let gap = g.x - (p.x + w);
            if dy > size * 0.5 || g.x < p.x - size * 0.5 {
                if let Some(mut done) = cur.take() {
                    if !done.text.contains('\t') {
                        done.room = room_right_of(p, rules);
                    }
                    blank_tail(&mut done, p, rules);
                    lines.push(done);
                }
            } else {
                let between = rules_between(rules, p.x + w * 0.5, g.x + 0.5, g.y, size);
                if !between.is_empty() || gap > size * 0.9 {
                    if !line.text.contains('\t') {
                        line.room = between.first().map_or(gap, |x| x - (p.x + w));
                    }
                    line.text.push('\t');
                    // Each further column rule between the two characters is an empty cell.
                    for _ in 1..between.len() {
                        line.text.push_str(BLANK_CELL);
                        line.text.push('\t');
                    }
                } else if gap > size * 0.15 {
                    line.text.push(' ');
                }
            }
        }
        match cur.as_mut() {
            Some(line) => {
                line.text.push_str(&g.text);
                line.y = g.y;
            }
            None => {
                cur = Some(PageLine {
                    text: g.text.clone(),
                    x0: g.x,
                    y: g.y,
                    room: f64::INFINITY,
                    size: g.size,
                    page,
                })
            }
        }
        last = Some(g);
    }
    if let (Some(mut done), Some(p)) = (cur, last) {
        if !done.text.contains('\t') {
            done.room = room_right_of(p, rules);
        }
        blank_tail(&mut done, p, rules);
        lines.push(done);
    }
    lines.retain(|l| !l.text.trim().is_empty());
    lines
}

/// The distinct x of the column rules between `from` and `to` at height `y`, left to right.
fn rules_between(rules: &[Rule], from: f64, to: f64, y: f64, size: f64) -> Vec<f64> {
    let mut xs: Vec<f64> = rules
        .iter()
        .filter(|r| r.x > from && r.x < to && r.y0 <= y && y - size * 0.5 <= r.y1)
        .map(|r| r.x)
        .collect();
    xs.sort_by(f64::total_cmp);
    // Double borders and a stroke drawn over a fill are one rule.
    xs.dedup_by(|a, b| (*a - *b).abs() < 1.5);
    xs
}

/// A row whose last cell is a value and whose table continues to the right: the blank cells after
/// it (a blank total) have no characters, only their column rules.
fn blank_tail(line: &mut PageLine, last: &Glyph, rules: &[Rule]) {
    let value_row = line.text.contains('\t')
        && line
            .text
            .rsplit('\t')
            .next()
            .is_some_and(|c| matches!(parse_cell(c), CellText::Number(_)));
    if !value_row {
        return;
    }
    let end = last.x + last.w.min(last.size * 0.55);
    let right = rules_between(rules, end, f64::INFINITY, last.y, last.size);
    for _ in 1..right.len() {
        line.text.push('\t');
        line.text.push_str(BLANK_CELL);
    }
}

/// Space between a glyph's right edge and the nearest column rule to its right at its height.
fn room_right_of(g: &Glyph, rules: &[Rule]) -> f64 {
    let end = g.x
        + if g.text.is_ascii() {
            g.w.min(g.size * 0.55)
        } else {
            g.w
        };
    rules
        .iter()
        .filter(|r| r.x > end - 0.5 && r.y0 <= g.y && g.y - g.size * 0.5 <= r.y1)
        .map(|r| r.x - end)
        .reduce(f64::min)
        .unwrap_or(f64::INFINITY)
}

/// "- 4 -", "— 4 —", "第4页": the page number, alone on its line.
fn is_page_number(s: &str) -> bool {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let dash = |c: char| matches!(c, '-' | '—' | '－' | '–');
    let inner = t.trim_matches(dash);
    let wrapped = inner.len() < t.len() && t.starts_with(dash) && t.ends_with(dash);
    let paged = t.starts_with('第') && t.ends_with('页');
    let digits = inner.trim_start_matches('第').trim_end_matches('页');
    (wrapped || paged) && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

/// The cells of a line that are numbers (or blanks) at its end, and where they start.
fn trailing_values(line: &str) -> usize {
    let cells: Vec<&str> = line.split('\t').collect();
    cells
        .iter()
        .rev()
        .take_while(|c| !matches!(parse_cell(c), CellText::Text) && !c.trim().is_empty())
        .count()
}

/// Joins the pieces of a row label that a narrow column wrapped, inside a table.
///
/// - Text-only lines starting at the same x are one cell ("（二）部分公开（区分处理的，只计这一情" +
///   "形，不计其他情形）", or the characters of a label printed vertically); the cell then goes in front
///   of the next row that has values, separated by a tab when that row starts in another column.
/// - A label's last piece that comes after its row's values (the values are centred between the
///   label's lines) is appended to that row's label: a short text-only line right below (less than
///   two lines, or at the top of the next page when the row breaks across pages) and in the same
///   column as a row whose label filled its cell up to the column rule (or, where no rule is
///   known, is long), and
///   which does not start a new row ("1." "（三）" "四、"). A label printed down a merged cell is
///   centred far below the row it starts with, so it is not taken for a continuation.
///
/// A line of values alone stays a line: the text path reads values that follow their label.
fn join_wrapped_labels(lines: Vec<PageLine>) -> Vec<PageLine> {
    let mut out: Vec<PageLine> = Vec::with_capacity(lines.len());
    let mut pending: Option<PageLine> = None;
    for line in lines {
        let values = trailing_values(&line.text);
        let first = line.text.split('\t').next().unwrap_or_default();
        let starts_with_text = matches!(parse_cell(first), CellText::Text);
        let heading = heading_of(&normalize_line(&line.text)).is_some();
        let piece = values == 0 && !line.text.contains('\t') && !heading && short(&line.text);
        if let Some(mut p) = pending.take() {
            if piece && same_column(&p, &line) {
                p.text.push_str(&line.text);
                p.room = line.room;
                p.y = line.y;
                pending = Some(p);
                continue;
            }
            if starts_with_text && values >= 3 && !heading {
                if !same_column(&p, &line) {
                    p.text.push('\t');
                }
                p.text.push_str(&line.text);
                out.push(p);
                continue;
            }
            out.push(p);
        }
        if piece && !starts_row(&line.text) {
            let n = out.len();
            let above = out[n.saturating_sub(3)..]
                .iter_mut()
                .rev()
                // A heading, or a new row's label without values (the start of a row whose label
                // wraps: "（三）不予" before "公开"), ends the search.
                .take_while(|p| {
                    heading_of(&normalize_line(&p.text)).is_none()
                        && !(starts_row(&p.text) && trailing_values(&p.text) == 0)
                })
                .find(|p| {
                    // The label above was wrapped: it filled its cell up to the column rule
                    // ("规章" above "行政规范性文件" are two rows; "二、上年结转…" above a "三" printed
                    // down the next rows' merged cell did not wrap).
                    let label = p.text.split('\t').next().unwrap_or_default();
                    trailing_values(&p.text) >= 3
                        && same_column(p, &line)
                        && ((p.page == line.page
                            && line.y > p.y
                            && line.y - p.y < 2.0 * line.size.max(p.size))
                            || line.page == p.page + 1)
                        && matches!(parse_cell(label), CellText::Text)
                        // The text stops short of the rule by at most the cell margin and the
                        // characters that did not fit (two: a character is not separated from
                        // the punctuation after it).
                        && (p.room < 3.0 * p.size
                            || (p.room.is_infinite() && label.chars().count() >= 8))
                        && label.chars().count() > line.text.chars().count()
                });
            if let Some(p) = above {
                let cut = p.text.find('\t').unwrap_or(p.text.len());
                p.text.insert_str(cut, &line.text);
                continue;
            }
        }
        if piece && in_table_context(&out) {
            pending = Some(line);
        } else {
            out.push(line);
        }
    }
    if let Some(p) = pending {
        out.push(p);
    }
    out
}

/// Two lines start in the same table column.
fn same_column(a: &PageLine, b: &PageLine) -> bool {
    (a.x0 - b.x0).abs() < a.size.max(b.size)
}

/// A row label's own start: "1." "2、" "（三）" "(三)" "四、".
fn starts_row(text: &str) -> bool {
    let t = normalize_line(text);
    let mut chars = t.chars();
    match chars.next() {
        Some(c) if c.is_ascii_digit() => {
            let rest: String = chars.skip_while(char::is_ascii_digit).take(1).collect();
            matches!(rest.as_str(), "." | "、" | "．")
        }
        Some('(') => chars.next().is_some_and(crate::text::is_numeral),
        Some(c) if crate::text::is_numeral(c) => chars.next() == Some('、'),
        _ => false,
    }
}

/// A label piece in a table cell is short; a line of a paragraph fills the text width.
fn short(line: &str) -> bool {
    line.chars().count() <= 24
}

/// The previous kept line is a table row (it has cells): wrapped labels only occur there.
fn in_table_context(out: &[PageLine]) -> bool {
    out.last()
        .is_some_and(|l| l.text.contains('\t') || trailing_values(&l.text) > 0)
}

/// A title set in large type over two lines, joined as a text copy would have it, near the top of
/// the document only: the agency on its own line above the year line ("淮安市人民政府" /
/// "2024年政府信息公开工作年度报告"), or a title wrapped in the middle ("…2020年政府信息公开工" /
/// "作年度报告").
fn join_title(mut lines: Vec<PageLine>) -> Vec<PageLine> {
    let n = lines.len().min(8);
    let starts_with_year =
        |t: &str| t.chars().take(4).all(|c| c.is_ascii_digit()) && t.chars().nth(4) == Some('年');
    let has_year = |t: &str| {
        let c: Vec<char> = t.chars().collect();
        c.windows(5)
            .any(|w| w[..4].iter().all(char::is_ascii_digit) && w[4] == '年')
    };
    for i in 1..n {
        let cur = normalize_line(&lines[i].text);
        let prev = normalize_line(&lines[i - 1].text);
        if prev.is_empty() || heading_of(&prev).is_some() || heading_of(&cur).is_some() {
            continue;
        }
        let agency_then_year = cur.contains("年度报告")
            && starts_with_year(&cur)
            && prev.chars().count() <= 30
            && !prev.chars().any(|c| c.is_ascii_digit());
        let wrapped = !prev.contains("年度报告")
            && has_year(&prev)
            && prev.contains("政府信息公开")
            && cur.ends_with("报告")
            && cur.chars().count() <= 12
            && format!("{prev}{cur}").contains("年度报告");
        if agency_then_year || wrapped {
            let next = lines.remove(i);
            lines[i - 1].text.push_str(&next.text);
            break;
        }
    }
    lines
}

/// The resources a page inherits (its own, or its ancestors' in the page tree), as pdf-extract
/// looks them up.
fn page_resources(
    doc: &pdf_extract::Document,
    page: pdf_extract::ObjectId,
) -> Option<&pdf_extract::Dictionary> {
    let mut dict = doc.get_object(page).ok()?.as_dict().ok()?;
    for _ in 0..32 {
        if let Ok(r) = dict.get(b"Resources") {
            return doc.dereference(r).ok()?.1.as_dict().ok();
        }
        let parent = dict.get(b"Parent").ok()?.as_reference().ok()?;
        dict = doc.get_object(parent).ok()?.as_dict().ok()?;
    }
    None
}

/// The names a content stream draws with `Do`.
fn drawn_names(stream: &pdf_extract::Stream) -> Vec<Vec<u8>> {
    let data = stream
        .decompressed_content()
        .unwrap_or_else(|_| stream.content.clone());
    let Ok(content) = pdf_extract::content::Content::decode(&data) else {
        return Vec::new();
    };
    content
        .operations
        .iter()
        .filter(|op| op.operator == "Do")
        .filter_map(|op| op.operands.first()?.as_name().ok().map(<[u8]>::to_vec))
        .collect()
}

/// pdf-extract draws a form XObject by recursing into it, so a form that draws itself (directly or
/// through others) recurses until the stack overflows, which aborts the whole process — no panic
/// to catch. The forms a page can reach are walked here first, by object id and following only what
/// each form draws, and such a document is refused. A budget of visits also refuses form graphs
/// whose drawing would take exponential time.
fn check_forms(
    doc: &pdf_extract::Document,
    resources: &pdf_extract::Dictionary,
    names: Option<&[Vec<u8>]>,
    path: &mut Vec<pdf_extract::ObjectId>,
    budget: &mut usize,
) -> Result<(), FormatError> {
    let Some(xobjects) = resources
        .get(b"XObject")
        .ok()
        .and_then(|o| doc.dereference(o).ok())
        .and_then(|(_, o)| o.as_dict().ok())
    else {
        return Ok(());
    };
    for (name, obj) in xobjects.iter() {
        if names.is_some_and(|n| !n.iter().any(|d| d == name)) {
            continue;
        }
        let Ok(id) = obj.as_reference() else { continue };
        let Ok(stream) = doc.get_object(id).and_then(|o| o.as_stream()) else {
            continue;
        };
        if stream.dict.get(b"Subtype").and_then(|o| o.as_name()).ok() != Some(&b"Form"[..]) {
            continue;
        }
        *budget = budget.saturating_sub(1);
        if path.contains(&id) || path.len() > 24 || *budget == 0 {
            return Err(FormatError::BrokenPdf(
                "页面内容循环引用或嵌套过深（表单对象）".into(),
            ));
        }
        let drawn = drawn_names(stream);
        if drawn.is_empty() {
            continue;
        }
        // A form without resources of its own uses the ones it is drawn with.
        let own = stream
            .dict
            .get(b"Resources")
            .ok()
            .and_then(|o| doc.dereference(o).ok())
            .and_then(|(_, o)| o.as_dict().ok());
        path.push(id);
        check_forms(doc, own.unwrap_or(resources), Some(&drawn), path, budget)?;
        path.pop();
    }
    Ok(())
}

/// Flattens a PDF.
pub fn to_flat(bytes: &[u8], limits: &PdfLimits) -> Result<Flat, FormatError> {
    let budget = crate::pdf_streams::InflateBudget {
        max_bytes: limits.max_inflated_bytes,
        deadline: limits.deadline,
    };
    // Before lopdf, which inflates cross-reference and object streams while loading.
    crate::pdf_streams::check_raw(bytes, &budget)?;
    let mut doc = pdf_extract::Document::load_mem(bytes)
        .map_err(|e| FormatError::BrokenPdf(e.to_string()))?;
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return Err(FormatError::EncryptedPdf);
    }
    if doc.is_encrypted() || doc.encryption_state.is_some() {
        // The raw scan saw ciphertext: check the decrypted streams before they are drawn.
        crate::pdf_streams::check_document(&doc, &budget)?;
    }
    let pages = doc.get_pages();
    if pages.len() > limits.max_pages {
        return Err(FormatError::TooManyPages {
            pages: pages.len(),
            limit: limits.max_pages,
        });
    }
    if pages.is_empty() {
        return Err(FormatError::BrokenPdf("没有页面".into()));
    }
    let mut all: Vec<PageLine> = Vec::new();
    let mut glyph_count = 0usize;
    for (&n, &page_id) in &pages {
        if Instant::now() > limits.deadline {
            return Err(FormatError::Timeout);
        }
        if let Some(res) = page_resources(&doc, page_id) {
            check_forms(&doc, res, None, &mut Vec::new(), &mut 10_000)?;
        }
        let mut c = Collector {
            flip: Transform::identity(),
            glyphs: Vec::new(),
            rules: Vec::new(),
        };
        // A page that cannot be interpreted loses its text, not the document's.
        if pdf_extract::output_doc_page(&doc, &mut c, n).is_err() {
            continue;
        }
        glyph_count += c.glyphs.len();
        for l in page_lines(&c.glyphs, &c.rules, n) {
            if !is_page_number(&l.text) {
                all.push(l);
            }
        }
    }
    // A scan has no text, or only what the scanner app stamps on it (a watermark, page numbers):
    // a page of a report holds hundreds of characters.
    if glyph_count < 16 * pages.len() {
        return Err(FormatError::NoTextLayer);
    }
    let mut flat = Flat::default();
    for line in join_title(join_wrapped_labels(all)) {
        flat.push_joined_row(line.text.trim(), SourceLocation::Page { page: line.page });
    }
    Ok(flat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(x: f64, y: f64, t: &str) -> Glyph {
        Glyph {
            x,
            y,
            w: 10.0,
            size: 10.0,
            text: t.into(),
        }
    }

    #[test]
    fn gaps_and_rules_become_cells_and_baselines_lines() {
        let glyphs = vec![
            g(0.0, 0.0, "规"),
            g(10.0, 0.0, "章"),
            g(60.0, 0.0, "1"),
            g(100.0, 0.0, "0"),
            g(0.0, 20.0, "下"),
            g(12.0, 20.0, "行"),
            g(22.0, 20.0, "无"),
            g(32.0, 20.0, "1"),
        ];
        let rule = Rule {
            x: 32.0,
            y0: 10.0,
            y1: 30.0,
        };
        let texts: Vec<String> = page_lines(&glyphs, &[rule], 1)
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert_eq!(texts, vec!["规章\t1\t0", "下 行无\t1"]);
    }

    #[test]
    fn empty_cells_between_and_after_values_come_from_the_rules() {
        let glyphs = vec![g(0.0, 0.0, "规"), g(10.0, 0.0, "章"), g(60.0, 0.0, "1")];
        let rules: Vec<Rule> = [30.0, 50.0, 50.5, 70.0, 90.0]
            .into_iter()
            .map(|x| Rule {
                x,
                y0: -10.0,
                y1: 10.0,
            })
            .collect();
        let lines = page_lines(&glyphs, &rules, 1);
        assert_eq!(lines[0].text, "规章\t—\t1\t—");
        assert!((lines[0].room - 10.0).abs() < 1e-9);
    }

    #[test]
    fn titles_over_two_lines_are_joined() {
        let titles = |v: &[&str]| -> Vec<String> {
            join_title(v.iter().map(|t| pl(t, 0.0)).collect())
                .into_iter()
                .map(|l| l.text)
                .collect()
        };
        assert_eq!(
            titles(&[
                "淮安市人民政府",
                "2024年政府信息公开工作年度报告",
                "本报告由…"
            ]),
            vec!["淮安市人民政府2024年政府信息公开工作年度报告", "本报告由…"]
        );
        assert_eq!(
            titles(&[
                "当前位置:首页",
                "高桥镇人民政府2020年政府信息公开工",
                "作年度报告",
                "发布时间"
            ]),
            vec![
                "当前位置:首页",
                "高桥镇人民政府2020年政府信息公开工作年度报告",
                "发布时间"
            ]
        );
        assert_eq!(
            titles(&["一、总体情况", "2024年,我市…"]),
            vec!["一、总体情况", "2024年,我市…"]
        );
    }

    fn pl(text: &str, x0: f64) -> PageLine {
        pl_at(text, x0, 0.0)
    }

    fn pl_at(text: &str, x0: f64, y: f64) -> PageLine {
        PageLine {
            text: text.into(),
            x0,
            y,
            room: if text.contains("禁止公") {
                2.0
            } else {
                40.0
            },
            size: 10.0,
            page: 1,
        }
    }

    #[test]
    fn page_numbers_and_wrapped_labels() {
        assert!(is_page_number("- 4-"));
        assert!(is_page_number("— 12 —"));
        assert!(!is_page_number("4"));
        let lines = vec![
            pl("二、上年结转政府信息公开申请数量\t34\t0\t0", 70.0),
            pl("三、", 75.0),
            pl("本", 75.0),
            pl("年", 75.0),
            pl("(一)予以公开\t1\t2\t3", 100.0),
            pl("（二）部分公开（区分处理的，只计这一情", 100.0),
            pl("形，不计其他情形）\t447\t7\t0", 100.0),
            pl("1、申请人无正当理由逾期不补", 140.0),
            pl("正、行政机关不再处理其政府信", 140.0),
            pl("息公开申请", 140.0),
            pl("67\t3\t0\t0", 260.0),
            pl_at("2.其他法律行政法规禁止公\t7\t0\t0", 140.0, 100.0),
            pl_at("本年度办理结果", 75.0, 300.0),
            pl_at("开", 140.0, 112.0),
            pl_at("3.危及“三安全一稳定”", 140.0, 130.0),
            pl_at("1\t0\t0", 260.0, 130.0),
        ];
        let out: Vec<String> = join_wrapped_labels(lines)
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert_eq!(
            out,
            vec![
                "二、上年结转政府信息公开申请数量\t34\t0\t0",
                "三、本年\t(一)予以公开\t1\t2\t3",
                "（二）部分公开（区分处理的，只计这一情形，不计其他情形）\t447\t7\t0",
                "1、申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
                "67\t3\t0\t0",
                "2.其他法律行政法规禁止公开\t7\t0\t0",
                "本年度办理结果",
                "3.危及“三安全一稳定”",
                "1\t0\t0",
            ]
        );
    }
}
