//! Web pages: charset from the BOM, the `<meta>` declaration or the content; the page parsed by
//! html5ever (via `scraper`), flattened into lines; `<table>` grids laid out with their
//! rowspan/colspan so that a value's column comes from the grid; the report's content container
//! picked out of the site chrome around it.
//!
//! The tree is walked iteratively (`traverse`), never recursively, so a hostile nesting depth
//! cannot overflow the stack; the depth is bounded anyway by [`crate::Limits::max_depth`].

use crate::FormatError;
use crate::flat::{Flat, grid_row, layout_spans};
use crate::parts::heading_of;
use crate::text::normalize_line;
use ego_tree::iter::Edge;
use ego_tree::{NodeId, NodeRef};
use encoding_rs::{Encoding, GB18030, UTF_8};
use nianbao_model::SourceLocation;
use scraper::{Html, Node};
use std::borrow::Cow;
use std::time::Instant;

/// Limits that apply to one page (from [`crate::Limits`]).
pub struct HtmlLimits {
    /// Element nesting, counted on the markup before parsing and on the tree after.
    pub max_depth: usize,
    /// Widest table grid laid out (columns); wider spans are clamped.
    pub max_cols: usize,
    /// When reading must stop, checked every few thousand tree steps.
    pub deadline: Instant,
}

/// Decodes the page's bytes: BOM, then the declared charset, then the content. A declaration the
/// content contradicts is not believed when another reading is clean; when none is, the page is
/// refused with the reason.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static str), FormatError> {
    if let Some((enc, bom)) = Encoding::for_bom(bytes) {
        let (t, _) = enc.decode_without_bom_handling(&bytes[bom..]);
        return Ok((t, enc.name()));
    }
    let declared = declared_charset(bytes);
    let utf8 = simdutf8::basic::from_utf8(bytes).ok();
    match declared {
        // GBK and GB2312 pages are read as GB18030, their superset: real pages use characters
        // beyond what they declare.
        Some(enc) if enc == encoding_rs::GBK || enc == GB18030 => {
            // Chinese text in GBK is practically never valid UTF-8, while UTF-8 bytes often decode
            // as (wrong) GB18030 without error: a page that is valid UTF-8 is UTF-8, whatever it
            // declares (sites convert pages and keep the old meta).
            if let Some(s) = utf8 {
                return Ok((Cow::Borrowed(s), UTF_8.name()));
            }
            let (t, errors) = GB18030.decode_without_bom_handling(bytes);
            if !errors {
                return Ok((t, GB18030.name()));
            }
            if few_errors(&t) {
                return Ok((t, GB18030.name()));
            }
            Err(FormatError::LyingCharset {
                declared: declared_label(bytes).unwrap_or_else(|| "GBK".into()),
            })
        }
        Some(enc) if enc != UTF_8 => {
            let (t, errors) = enc.decode_without_bom_handling(bytes);
            if !errors || few_errors(&t) {
                return Ok((t, enc.name()));
            }
            if let Some(s) = utf8 {
                return Ok((Cow::Borrowed(s), UTF_8.name()));
            }
            Err(FormatError::LyingCharset {
                declared: enc.name().to_string(),
            })
        }
        _ => {
            if let Some(s) = utf8 {
                return Ok((Cow::Borrowed(s), UTF_8.name()));
            }
            let (t, errors) = GB18030.decode_without_bom_handling(bytes);
            if !errors {
                return Ok((t, GB18030.name()));
            }
            let (u, _) = UTF_8.decode_without_bom_handling(bytes);
            if few_errors(&u) {
                return Ok((u, "UTF-8 (damaged)"));
            }
            if declared == Some(UTF_8) {
                return Err(FormatError::LyingCharset {
                    declared: "UTF-8".into(),
                });
            }
            let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            det.feed(bytes, true);
            let enc = det.guess(None, chardetng::Utf8Detection::Allow);
            let (t, errors) = enc.decode_without_bom_handling(bytes);
            if errors && !few_errors(&t) {
                return Err(FormatError::LyingCharset {
                    declared: "（未声明）".into(),
                });
            }
            Ok((t, enc.name()))
        }
    }
}

/// At most one replacement character per thousand: a real page with a few damaged bytes.
fn few_errors(t: &str) -> bool {
    let bad = t.matches('\u{FFFD}').count();
    bad * 1000 <= t.chars().count().max(1)
}

/// The `charset` of a `<meta>` in the first 4 KiB (the HTML prescan looks at 1 KiB; Chinese sites
/// put long comments first).
fn declared_label(bytes: &[u8]) -> Option<String> {
    let head: Vec<u8> = bytes
        .iter()
        .take(4096)
        .map(u8::to_ascii_lowercase)
        .collect();
    let pos = head.windows(8).position(|w| w == b"charset=")?;
    let rest = &head[pos + 8..];
    let rest = rest
        .strip_prefix(b"\"")
        .or_else(|| rest.strip_prefix(b"'"))
        .unwrap_or(rest);
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.')))
        .unwrap_or(rest.len());
    let label = std::str::from_utf8(&rest[..end]).ok()?;
    (!label.is_empty()).then(|| label.to_string())
}

fn declared_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    declared_label(bytes).and_then(|l| Encoding::for_label(l.as_bytes()))
}

/// How an element affects the flat text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Never content (scripts, styles, form controls, the head).
    Skip,
    /// Ends the current line before and after.
    Block,
    /// A line break.
    Break,
    Table,
    Inline,
}

fn kind(name: &str) -> Kind {
    match name {
        "script" | "style" | "noscript" | "template" | "head" | "iframe" | "object" | "embed"
        | "svg" | "math" | "select" | "button" | "input" | "textarea" | "canvas" | "map"
        | "audio" | "video" => Kind::Skip,
        "br" => Kind::Break,
        "table" => Kind::Table,
        "p" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "li" | "ul" | "ol" | "section"
        | "article" | "header" | "footer" | "nav" | "aside" | "main" | "blockquote" | "pre"
        | "dl" | "dt" | "dd" | "form" | "fieldset" | "center" | "hr" | "address" | "figure"
        | "figcaption" | "caption" | "tr" | "td" | "th" | "thead" | "tbody" | "tfoot" | "body"
        | "html" | "title" | "legend" | "details" | "summary" => Kind::Block,
        _ => Kind::Inline,
    }
}

fn is_html_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}')
}

/// Collapses HTML whitespace (not U+00A0, which pages use on purpose) to single spaces.
fn push_collapsed(out: &mut String, s: &str) {
    let mut space = out.ends_with(' ');
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}') {
            if !space {
                out.push(' ');
                space = true;
            }
        } else {
            out.push(c);
            space = false;
        }
    }
}

/// One line of the flattened page, with the block element it came from (for the container choice).
struct PageLine {
    text: String,
    /// A table row: tab-joined cells.
    row: bool,
    node: NodeId,
    origin: SourceLocation,
}

/// The text of a table cell: all text below it on one line. Wrapped labels (`商业<br>企业`,
/// several `<p>`) join without a space: whitespace-only text between elements (the source's line
/// breaks between `<p>`s) is not text of the cell.
fn cell_text(cell: NodeRef<'_, Node>) -> String {
    let mut out = String::new();
    for edge in cell.traverse() {
        match edge {
            Edge::Open(n) => match n.value() {
                Node::Text(t) if t.trim_matches(is_html_space).is_empty() => {}
                Node::Text(t) => push_collapsed(&mut out, t),
                Node::Element(e) if kind(e.name()) == Kind::Skip => {}
                _ => {}
            },
            Edge::Close(_) => {}
        }
    }
    out.trim().to_string()
}

fn element_name<'a>(n: &NodeRef<'a, Node>) -> Option<&'a str> {
    match n.value() {
        Node::Element(e) => Some(e.name()),
        _ => None,
    }
}

fn span_attr(n: &NodeRef<'_, Node>, name: &str) -> usize {
    match n.value() {
        Node::Element(e) => e
            .attr(name)
            .and_then(|v| v.trim().trim_end_matches(';').parse::<usize>().ok())
            .unwrap_or(1),
        _ => 1,
    }
}

/// The rows of a table that holds no other table: `tr` below it, `td`/`th` in each.
/// A table cell as written: text, colspan, rowspan.
type SpanCell = (String, usize, usize);

fn table_rows(table: NodeRef<'_, Node>) -> Vec<(NodeId, Vec<SpanCell>)> {
    let mut rows = Vec::new();
    for n in table.descendants() {
        if element_name(&n) != Some("tr") {
            continue;
        }
        let cells: Vec<SpanCell> = n
            .children()
            .filter(|c| matches!(element_name(c), Some("td" | "th")))
            .map(|c| {
                let rowspan = match c.value() {
                    Node::Element(e) => e
                        .attr("rowspan")
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(1),
                    _ => 1,
                };
                (cell_text(c), span_attr(&c, "colspan"), rowspan)
            })
            .collect();
        rows.push((n.id(), cells));
    }
    rows
}

/// Depth of the deepest element, walking no further than `limit + 1`.
fn too_deep(html: &Html, limit: usize) -> bool {
    let mut depth = 0usize;
    for edge in html.tree.root().traverse() {
        match edge {
            Edge::Open(_) => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            Edge::Close(_) => depth = depth.saturating_sub(1),
        }
    }
    false
}

/// Flattens the whole page into lines.
fn page_lines(html: &Html, limits: &HtmlLimits) -> Result<Vec<PageLine>, FormatError> {
    let mut lines: Vec<PageLine> = Vec::new();
    let mut cur = String::new();
    // The block element the current line belongs to.
    let mut block_stack: Vec<NodeId> = vec![html.tree.root().id()];
    // While inside a skipped element or a table already laid out: its id.
    let mut skip: Option<NodeId> = None;
    let mut tables = 0u32;
    let mut paragraphs = 0u32;
    let mut steps = 0u64;
    let flush =
        |cur: &mut String, lines: &mut Vec<PageLine>, node: NodeId, paragraphs: &mut u32| {
            let t = cur.trim();
            if !t.is_empty() {
                *paragraphs += 1;
                lines.push(PageLine {
                    text: t.to_string(),
                    row: false,
                    node,
                    origin: SourceLocation::Paragraph {
                        paragraph: *paragraphs,
                    },
                });
            }
            cur.clear();
        };
    for edge in html.tree.root().traverse() {
        steps += 1;
        if steps.is_multiple_of(4096) && Instant::now() > limits.deadline {
            return Err(FormatError::Timeout);
        }
        match edge {
            Edge::Open(n) => {
                if skip.is_some() {
                    continue;
                }
                let top = block_stack.last().copied().unwrap_or(n.id());
                match n.value() {
                    Node::Text(t) => push_collapsed(&mut cur, t),
                    Node::Element(e) => match kind(e.name()) {
                        Kind::Skip => skip = Some(n.id()),
                        Kind::Break => flush(&mut cur, &mut lines, top, &mut paragraphs),
                        Kind::Block => {
                            flush(&mut cur, &mut lines, top, &mut paragraphs);
                            block_stack.push(n.id());
                        }
                        Kind::Table => {
                            flush(&mut cur, &mut lines, top, &mut paragraphs);
                            let layout = n
                                .descendants()
                                .skip(1)
                                .any(|d| element_name(&d) == Some("table"));
                            if layout {
                                // A table holding tables lays out the page: read it as blocks.
                                block_stack.push(n.id());
                                continue;
                            }
                            tables += 1;
                            let rows = table_rows(n);
                            let cells: Vec<Vec<SpanCell>> =
                                rows.iter().map(|r| r.1.clone()).collect();
                            let grid = layout_spans(&cells, limits.max_cols);
                            for (k, (slots, (id, _))) in grid.iter().zip(&rows).enumerate() {
                                if let Some(text) = grid_row(slots) {
                                    lines.push(PageLine {
                                        text,
                                        row: true,
                                        node: *id,
                                        origin: SourceLocation::TableRow {
                                            table: tables,
                                            row: u32::try_from(k + 1).unwrap_or(u32::MAX),
                                        },
                                    });
                                }
                            }
                            skip = Some(n.id());
                        }
                        Kind::Inline => {}
                    },
                    _ => {}
                }
            }
            Edge::Close(n) => {
                if let Some(s) = skip {
                    if s == n.id() {
                        skip = None;
                    }
                    continue;
                }
                if let Node::Element(e) = n.value()
                    && matches!(kind(e.name()), Kind::Block | Kind::Table)
                {
                    let top = block_stack.last().copied().unwrap_or(n.id());
                    flush(&mut cur, &mut lines, top, &mut paragraphs);
                    if block_stack.last() == Some(&n.id()) {
                        block_stack.pop();
                    }
                }
            }
        }
    }
    let top = block_stack.last().copied().unwrap_or(html.tree.root().id());
    flush(&mut cur, &mut lines, top, &mut paragraphs);
    Ok(lines)
}

/// Ids from the root down to `id` (inclusive).
fn path_to(html: &Html, id: NodeId) -> Vec<NodeId> {
    let Some(n) = html.tree.get(id) else {
        return Vec::new();
    };
    let mut v: Vec<NodeId> = n.ancestors().map(|a| a.id()).collect();
    v.reverse();
    v.push(id);
    v
}

/// The report's container: the deepest element holding every part heading and every table row.
/// `None` when the page has fewer than two such anchors (then the whole page is read).
fn container(html: &Html, lines: &[PageLine]) -> Option<NodeId> {
    let anchors: Vec<NodeId> = lines
        .iter()
        .filter(|l| l.row || heading_of(&normalize_line(&l.text)).is_some())
        .map(|l| l.node)
        .collect();
    if anchors.len() < 2 {
        return None;
    }
    let mut common = path_to(html, anchors[0]);
    for a in &anchors[1..] {
        let p = path_to(html, *a);
        let same = common.iter().zip(&p).take_while(|(x, y)| x == y).count();
        common.truncate(same);
    }
    common.last().copied()
}

fn is_title(text: &str) -> bool {
    let n = normalize_line(text);
    n.contains("年度报告") && n.chars().count() <= 80
}

/// The nesting depth the markup asks for, counted on the tags before parsing: the HTML parser's
/// scope checks cost time proportional to the depth for every tag, so a 10,000-deep page takes
/// seconds to parse before its tree could be measured. Tags that close themselves or are closed
/// implicitly (`<p>`, `<li>`, `<td>`, void elements) are not counted, so this never exceeds the depth
/// of the tree html5ever builds by much; the tree is measured again after parsing.
fn markup_depth_exceeds(text: &str, limit: usize) -> bool {
    const UNCOUNTED: [&str; 27] = [
        "p", "li", "td", "th", "tr", "dt", "dd", "option", "thead", "tbody", "tfoot", "br", "img",
        "meta", "link", "input", "hr", "col", "area", "base", "wbr", "source", "track", "param",
        "embed", "colgroup", "html",
    ];
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(off) = b.get(i..).and_then(|r| r.iter().position(|&c| c == b'<')) {
        i += off + 1;
        let close = b.get(i) == Some(&b'/');
        let start = if close { i + 1 } else { i };
        let end = b[start..]
            .iter()
            .position(|c| !c.is_ascii_alphanumeric())
            .map_or(b.len(), |e| start + e);
        if end == start {
            continue;
        }
        let name = text
            .get(start..end)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if UNCOUNTED.contains(&name.as_str()) {
            continue;
        }
        if close {
            depth = depth.saturating_sub(1);
            continue;
        }
        let gt = b[end..]
            .iter()
            .position(|&c| c == b'>')
            .map_or(b.len(), |e| end + e);
        if gt > 0 && b.get(gt - 1) == Some(&b'/') {
            continue;
        }
        depth += 1;
        if depth > limit {
            return true;
        }
    }
    false
}

/// Flattens a page.
pub fn to_flat(text: &str, limits: &HtmlLimits) -> Result<Flat, FormatError> {
    if markup_depth_exceeds(text, limits.max_depth) {
        return Err(FormatError::TooDeep {
            limit: limits.max_depth,
        });
    }
    let html = Html::parse_document(text);
    if too_deep(&html, limits.max_depth) {
        return Err(FormatError::TooDeep {
            limit: limits.max_depth,
        });
    }
    let lines = page_lines(&html, limits)?;
    let keep: Vec<bool> = match container(&html, &lines) {
        Some(c) => {
            let inside: Vec<bool> = lines
                .iter()
                .map(|l| {
                    l.node == c
                        || html
                            .tree
                            .get(l.node)
                            .is_some_and(|n| n.ancestors().any(|a| a.id() == c))
                })
                .collect();
            let first = inside.iter().position(|&b| b).unwrap_or(0);
            let has_title = lines
                .iter()
                .zip(&inside)
                .take_while(|(l, _)| heading_of(&normalize_line(&l.text)).is_none())
                .any(|(l, &i)| i && is_title(&l.text));
            let mut keep = inside;
            if !has_title && let Some(t) = (0..first).rev().find(|&i| is_title(&lines[i].text)) {
                keep[t] = true;
            }
            keep
        }
        None => vec![true; lines.len()],
    };
    let mut flat = Flat::default();
    for (l, k) in lines.into_iter().zip(keep) {
        if !k {
            continue;
        }
        if l.row {
            // Already joined by the grid; one line, kept as is.
            flat.push_joined_row(&l.text, l.origin);
        } else {
            flat.push_line(&l.text, l.origin);
        }
    }
    if flat.line_count() == 0 {
        // Nothing in the body: a page whose <title> is all there is still says what it is.
        if let Some(t) = html
            .tree
            .root()
            .descendants()
            .find(|n| element_name(n) == Some("title"))
        {
            flat.push_line(&cell_text(t), SourceLocation::Paragraph { paragraph: 1 });
        }
    }
    Ok(flat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HtmlLimits {
        HtmlLimits {
            max_depth: 256,
            max_cols: 64,
            deadline: Instant::now() + std::time::Duration::from_secs(10),
        }
    }

    #[test]
    fn charset_from_meta_and_content() {
        let page = "<html><head><meta charset=\"gbk\"></head><body><p>政府信息公开工作年度报告</p></body></html>";
        let (gbk, _, _) = GB18030.encode(page);
        let (t, enc) = decode(&gbk).unwrap();
        assert_eq!(t, page);
        assert_eq!(enc, "gb18030");
        // Declares GBK but is UTF-8: the content wins.
        let (t, enc) = decode(page.as_bytes()).unwrap();
        assert_eq!((t.as_ref(), enc), (page, "UTF-8"));
        // Declares GBK, is neither GBK nor UTF-8.
        let mut junk = b"<meta charset=gb2312>".to_vec();
        junk.extend((0..2000u32).map(|i| [0x81u8, 0xFF, 0x80][i as usize % 3]));
        assert!(matches!(
            decode(&junk),
            Err(FormatError::LyingCharset { .. })
        ));
        // No declaration, GB18030 content.
        let bare = "<p>政府信息公开工作年度报告</p>";
        let (g, _, _) = GB18030.encode(bare);
        assert_eq!(decode(&g).unwrap().0, bare);
    }

    #[test]
    fn grid_chrome_and_title() {
        let page = r#"<html><body>
          <div class="nav"><a href="/">首页</a> | 政务公开</div>
          <h1>某县财政局2024年政府信息公开工作年度报告</h1>
          <div class="info">发布时间：2025-01-20</div>
          <div id="zoom">
            <p>一、总体情况</p><p>本年度……</p>
            <p>三、收到和处理政府信息公开申请情况</p>
            <table><tr><td rowspan="2">三、本年度办理结果</td><td colspan="2">（一）予以公开</td><td>5</td></tr>
            <tr><td colspan="2">（二）部分公开</td><td>&nbsp;</td></tr></table>
          </div>
          <div class="footer">版权所有 某县人民政府</div>
        </body></html>"#;
        let f = to_flat(page, &limits()).unwrap();
        let lines: Vec<&str> = f.text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "某县财政局2024年政府信息公开工作年度报告",
                "一、总体情况",
                "本年度……",
                "三、收到和处理政府信息公开申请情况",
                "三、本年度办理结果\t（一）予以公开\t\t5",
                "\t（二）部分公开\t\t—",
            ]
        );
        assert_eq!(f.origins[4], SourceLocation::TableRow { table: 1, row: 1 });
    }

    #[test]
    fn markup_depth_counts_only_what_nests() {
        let sloppy = "<p>a<p>b<li>c<br><img src=x><div/>".repeat(2000);
        assert!(!markup_depth_exceeds(&sloppy, 10));
        let deep = "<div><span>".repeat(6);
        assert!(markup_depth_exceeds(&deep, 10));
        let closed = "<div><b>x</b></div>".repeat(5000);
        assert!(!markup_depth_exceeds(&closed, 10));
    }

    #[test]
    fn word_exported_pages_read_like_any_other() {
        // The shape Word's "save as web page" gives: MsoNormal paragraphs in every cell, <o:p>,
        // conditional comments, labels wrapped over paragraphs, rowspan over the result rows.
        let page = r#"<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
          <!--[if gte mso 9]><xml><o:DocumentProperties></o:DocumentProperties></xml><![endif]-->
          </head><body lang=ZH-CN><div class=WordSection1>
          <p class=MsoNormal><b><span>三、收到和处理政府信息公开申请情况<o:p></o:p></span></b></p>
          <table class=MsoNormalTable border=1><tr>
          <td width=40 rowspan=2 valign=top><p class=MsoNormal><span>三、本年度<o:p></o:p></span></p>
            <p class=MsoNormal><span>办理结果</span></p></td>
          <td width=90 colspan=2><p class=MsoNormal>（一）予以公开</p></td>
          <td><p class=MsoNormal align=center><span lang=EN-US>12<o:p></o:p></span></p></td></tr>
          <tr><td colspan=2><p class=MsoNormal>（二）部分公开</p></td>
          <td><p class=MsoNormal><span lang=EN-US><o:p>&nbsp;</o:p></span></p></td></tr></table>
          </div></body></html>"#;
        let f = to_flat(page, &limits()).unwrap();
        let lines: Vec<&str> = f.text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "三、收到和处理政府信息公开申请情况",
                "三、本年度办理结果\t（一）予以公开\t\t12",
                "\t（二）部分公开\t\t—",
            ]
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let page = format!(
            "<html><body>{}x{}</body></html>",
            "<div>".repeat(10_000),
            "</div>".repeat(10_000)
        );
        assert!(matches!(
            to_flat(&page, &limits()),
            Err(FormatError::TooDeep { .. })
        ));
    }
}
