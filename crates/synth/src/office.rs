//! The same report as a web page (HTML, UTF-8 or GBK) or a Word file (DOCX), with the official
//! tables drawn as real grids with merged cells, so that the format readers of the extractor are
//! tested on exactly the content whose truth the text layouts already have.
//!
//! - HTML: a government site page — navigation, breadcrumb, a sidebar of links, the title and a
//!   time/source line, the article, a footer; scripts and styles in the head. Tables use
//!   rowspan/colspan as the official format draws them; 表三 is sometimes split over two `<table>`
//!   elements, and the article is sometimes inside a layout table.
//! - DOCX: `word/document.xml` written by hand (paragraphs, tables with `w:gridSpan` and
//!   `w:vMerge`), zipped with the `zip` crate.

use crate::doc::{Block, Doc, heading};
use crate::render::{RCell, T4_RESULTS, t2_rows, t3_data};
use crate::rng::Dice;
use crate::style::{LabelStyle, cell_text, unprotect};
use crate::values::Tables;
use nianbao_model::T4Cell;
use std::io::Write;

/// One cell of a table grid: its text (empty = blank) and how many columns and rows it spans.
/// Positions covered by a span are not listed (the HTML model).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridCell {
    pub text: String,
    pub colspan: usize,
    pub rowspan: usize,
}

fn c(text: impl Into<String>) -> GridCell {
    GridCell {
        text: text.into(),
        colspan: 1,
        rowspan: 1,
    }
}

fn span(text: impl Into<String>, colspan: usize, rowspan: usize) -> GridCell {
    GridCell {
        text: text.into(),
        colspan,
        rowspan,
    }
}

fn rcell(r: &RCell) -> String {
    match r {
        RCell::Label(s) => s.clone(),
        RCell::Value(v) => v.clone().unwrap_or_default(),
    }
}

/// 表二 on its four-column grid: block headings span the width, single-value rows span three.
fn t2_grid(t: &Tables, ls: &LabelStyle) -> Vec<Vec<GridCell>> {
    t2_rows(t, ls)
        .iter()
        .map(|row| {
            let n = row.len();
            row.iter()
                .enumerate()
                .map(|(i, r)| {
                    let cols = if i + 1 == n { 4 - (n - 1).min(3) } else { 1 };
                    span(rcell(r), cols, 1)
                })
                .collect()
        })
        .collect()
}

/// 表三 on its ten-column grid as the official format draws it: the note over three columns and
/// three rows, 三、本年度办理结果 down the result rows, each （三）–（六） group label down its rows.
fn t3_grid(t: &Tables, ls: &LabelStyle) -> Vec<Vec<GridCell>> {
    let mut rows = vec![
        vec![span(ls.note(), 3, 3), span("申请人情况", 7, 1)],
        vec![
            span("自然人", 1, 2),
            span("法人或其他组织", 5, 1),
            span("总计", 1, 2),
        ],
        vec![
            c("商业\n企业"),
            c("科研\n机构"),
            c("社会公益组织"),
            c("法律服务机构"),
            c("其他"),
        ],
    ];
    let data = t3_data(t, ls);
    let results = data
        .iter()
        .filter(|(l, _, _)| l[0].is_none() || l[0].as_deref() == Some("三、本年度办理结果"))
        .count();
    for (i, (labels, vals, _)) in data.iter().enumerate() {
        let mut row = Vec::new();
        match labels {
            [Some(a), Some(b), _] => {
                row.push(span(a.clone(), 1, results));
                row.push(span(b.clone(), 2, 1));
            }
            [Some(a), None, _] => row.push(span(a.clone(), 3, 1)),
            [None, Some(b), None] => row.push(span(b.clone(), 2, 1)),
            [None, Some(b), Some(c3)] => {
                let group = 1 + data[i + 1..]
                    .iter()
                    .take_while(|(l, _, _)| l[0].is_none() && l[1].is_none() && l[2].is_some())
                    .count();
                row.push(span(b.clone(), 1, group));
                row.push(c(c3.clone()));
            }
            [None, None, Some(c3)] => row.push(c(c3.clone())),
            [None, None, None] => {}
        }
        row.extend(vals.iter().map(|v| c(rcell(v))));
        rows.push(row);
    }
    rows
}

/// 表四 on its fifteen-column grid.
fn t4_grid(t: &Tables, ls: &LabelStyle) -> Vec<Vec<GridCell>> {
    let mut r2: Vec<GridCell> = T4_RESULTS.iter().map(|s| span(ls.t4(s), 1, 2)).collect();
    r2.push(span("未经复议直接起诉", 5, 1));
    r2.push(span("复议后起诉", 5, 1));
    let r3: Vec<GridCell> = T4_RESULTS
        .iter()
        .chain(T4_RESULTS.iter())
        .map(|s| c(ls.t4(s)))
        .collect();
    let r4: Vec<GridCell> = T4Cell::ALL
        .iter()
        .map(|x| c(cell_text(t.t4(*x)).unwrap_or_default()))
        .collect();
    vec![
        vec![span("行政复议", 5, 1), span("行政诉讼", 10, 1)],
        r2,
        r3,
        r4,
    ]
}

fn grid(n: u8, t: &Tables, ls: &LabelStyle) -> Vec<Vec<GridCell>> {
    match n {
        2 => t2_grid(t, ls),
        3 => t3_grid(t, ls),
        _ => t4_grid(t, ls),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_table(rows: &[Vec<GridCell>], d: &mut Dice) -> String {
    let mut out = String::from(
        "<table border=\"1\" cellspacing=\"0\" cellpadding=\"0\" style=\"border-collapse:collapse\">\n<tbody>\n",
    );
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str("<td");
            if cell.colspan > 1 {
                out.push_str(&format!(" colspan=\"{}\"", cell.colspan));
            }
            if cell.rowspan > 1 {
                out.push_str(&format!(" rowspan=\"{}\"", cell.rowspan));
            }
            out.push_str(" valign=\"middle\">");
            let text = if cell.text.is_empty() {
                // Word-exported pages fill empty cells with a non-breaking space.
                if d.chance(0.5) { "&nbsp;" } else { "" }.to_string()
            } else {
                cell.text
                    .split('\n')
                    .map(esc)
                    .collect::<Vec<_>>()
                    .join("<br/>")
            };
            if d.chance(0.3) {
                out.push_str(&format!(
                    "<p style=\"text-align:center\"><span style=\"font-family:宋体\">{text}</span></p>"
                ));
            } else {
                out.push_str(&text);
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// Which encoding a web page is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HtmlCharset {
    Utf8,
    /// Declared `gbk` (or `gb2312`), written in GB18030 (which encodes every character).
    Gbk,
}

/// The report as a government web page.
pub fn html(doc: &Doc, t: &Tables, ls: &LabelStyle, charset: HtmlCharset, d: &mut Dice) -> Vec<u8> {
    let declared = match charset {
        HtmlCharset::Utf8 => "utf-8",
        HtmlCharset::Gbk => *d.pick(&["gbk", "gb2312", "GBK"]),
    };
    let (y, m, day) = doc.published;
    let province = &crate::directory::directory().province.name;
    let mut body = String::new();
    let split_t3 = d.chance(0.3);
    if let Some(pre) = &doc.preamble {
        body.push_str(&format!("<p>{}</p>\n", esc(&unprotect(pre))));
    }
    for b in &doc.blocks {
        match b {
            Block::Heading(n) => {
                if d.chance(0.5) {
                    body.push_str(&format!("<p><strong>{}</strong></p>\n", esc(&heading(*n))));
                } else {
                    body.push_str(&format!("<h3>{}</h3>\n", esc(&heading(*n))));
                }
            }
            Block::Sub(s) => body.push_str(&format!("<p>{}</p>\n", esc(&unprotect(s)))),
            Block::Para(p) => body.push_str(&format!(
                "<p style=\"text-indent:2em\">{}</p>\n",
                esc(&unprotect(p))
            )),
            Block::Table(n) => {
                let rows = grid(*n, t, ls);
                if *n == 3 && split_t3 && rows.len() > 16 {
                    // A table broken in two where the page was (rows 3.x spanning the break are
                    // closed on each side, as converters do).
                    let (a, b) = split_rows(&rows, 15);
                    body.push_str(&html_table(&a, d));
                    body.push_str(&html_table(&b, d));
                } else {
                    body.push_str(&html_table(&rows, d));
                }
            }
        }
    }
    if let Some((name, date)) = &doc.signature {
        body.push_str(&format!(
            "<p style=\"text-align:right\">{}</p>\n<p style=\"text-align:right\">{}</p>\n",
            esc(name),
            esc(date)
        ));
    }
    let nav = format!(
        "<div class=\"top\"><a href=\"/\">首页</a> | <a href=\"/zwgk/\">政务公开</a> | <a href=\"/zwfw/\">政务服务</a> | <a href=\"/hdjl/\">互动交流</a></div>\n<div class=\"nav\"><ul><li><a href=\"http://www.gov.cn\">中国政府网</a></li><li><a href=\"/\">{}政府</a></li></ul></div>",
        esc(province)
    );
    let sidebar = format!(
        "<div class=\"sidebar\"><h4>相关链接</h4><ul><li><a href=\"/a\">{}{}年政府信息公开工作年度报告</a></li><li><a href=\"/b\">政府信息公开指南</a></li></ul></div>",
        esc(&doc.title_agency),
        y - 2
    );
    let article = format!(
        "<div class=\"article\">\n<h1 class=\"title\">{}</h1>\n<div class=\"info\">发布时间：{y}-{m:02}-{day:02}&nbsp;&nbsp;来源：{}&nbsp;&nbsp;<span id=\"views\">浏览次数：</span></div>\n<div class=\"TRS_Editor\" id=\"zoom\">\n{body}</div>\n<div class=\"share\">【打印本页】 【关闭窗口】</div>\n</div>",
        esc(&doc.title),
        esc(&doc.title_agency)
    );
    let main = if d.chance(0.25) {
        // Old sites lay out the page with a table around the article.
        format!(
            "<table width=\"100%\"><tr><td width=\"20%\">{sidebar}</td><td>{article}</td></tr></table>"
        )
    } else {
        format!("<div class=\"main\">{sidebar}\n{article}</div>")
    };
    let page = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset={declared}\">\n<title>{} - {}人民政府</title>\n<style>body{{font-size:16px}} .nav li{{display:inline}}</style>\n<script type=\"text/javascript\">var pageTitle = \"一、总体情况\"; document.write('<p>浏览器版本过低</p>');</script>\n</head>\n<body>\n{nav}\n<div class=\"crumb\">当前位置：<a href=\"/\">首页</a> &gt; <a href=\"/zwgk/\">政务公开</a> &gt; 政府信息公开年报</div>\n{main}\n<div class=\"footer\"><p>主办：{}人民政府办公室　网站标识码：3200000001</p><p>版权所有 © {}人民政府</p></div>\n</body>\n</html>\n",
        esc(&doc.title),
        esc(province),
        esc(province),
        esc(province)
    );
    match charset {
        HtmlCharset::Utf8 => page.into_bytes(),
        HtmlCharset::Gbk => encoding_rs::GB18030.encode(&page).0.into_owned(),
    }
}

/// Splits a grid after `at` rows; rowspans crossing the cut are shortened above and their text
/// repeated below (as a page break in a converted document does).
fn split_rows(rows: &[Vec<GridCell>], at: usize) -> (Vec<Vec<GridCell>>, Vec<Vec<GridCell>>) {
    let layout = positions(rows);
    let mut top: Vec<Vec<GridCell>> = rows[..at].to_vec();
    let mut bottom: Vec<Vec<GridCell>> = rows[at..].to_vec();
    // Cells of the top part whose span crosses the cut.
    let mut carried: Vec<(usize, GridCell)> = Vec::new();
    for (ri, row) in top.iter_mut().enumerate() {
        for (ci, cell) in row.iter_mut().enumerate() {
            if ri + cell.rowspan > at {
                let below = ri + cell.rowspan - at;
                cell.rowspan = at - ri;
                let col = layout[ri][ci];
                carried.push((
                    col,
                    GridCell {
                        text: cell.text.clone(),
                        colspan: cell.colspan,
                        rowspan: below,
                    },
                ));
            }
        }
    }
    if let Some(first) = bottom.first_mut() {
        // The carried cells start the first row below the cut (they are the leftmost columns).
        carried.sort_by_key(|(col, _)| *col);
        let mut row: Vec<GridCell> = carried.into_iter().map(|(_, c)| c).collect();
        row.append(first);
        *first = row;
    }
    (top, bottom)
}

/// The grid column where each listed cell starts.
fn positions(rows: &[Vec<GridCell>]) -> Vec<Vec<usize>> {
    let mut carry: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for row in rows {
        let mut cols = Vec::new();
        let mut col = 0usize;
        for cell in row {
            while col < carry.len() && carry[col] > 0 {
                col += 1;
            }
            cols.push(col);
            if carry.len() < col + cell.colspan {
                carry.resize(col + cell.colspan, 0);
            }
            for k in 0..cell.colspan {
                carry[col + k] = cell.rowspan;
            }
            col += cell.colspan;
        }
        for c in carry.iter_mut() {
            *c = c.saturating_sub(1);
        }
        out.push(cols);
    }
    out
}

fn xml_esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn w_para(text: &str, style: Option<&str>) -> String {
    w_para_sized(text, style, None)
}

/// A paragraph; `half_points` sets the font size (tables use a smaller one, as reports do).
fn w_para_sized(text: &str, style: Option<&str>, half_points: Option<u32>) -> String {
    let ppr = style
        .map(|s| format!("<w:pPr><w:pStyle w:val=\"{s}\"/></w:pPr>"))
        .unwrap_or_default();
    let sz = half_points
        .map(|h| format!("<w:sz w:val=\"{h}\"/><w:szCs w:val=\"{h}\"/>"))
        .unwrap_or_default();
    format!(
        "<w:p>{ppr}<w:r><w:rPr><w:rFonts w:hint=\"eastAsia\"/>{sz}</w:rPr><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>",
        xml_esc(text)
    )
}

/// Column widths (twips) of each table on an A4 page's 8,300-twip text width, close to the
/// official template: wide label columns, narrow value columns.
fn col_widths(n: u8, width: usize) -> Vec<u32> {
    match (n, width) {
        (2, 4) => vec![2400, 1970, 1970, 1960],
        (3, 10) => {
            let mut v = vec![500, 1100, 2304];
            v.extend([628; 7]);
            v
        }
        _ => vec![(8300 / width.max(1)) as u32; width],
    }
}

/// A table in WordprocessingML: every grid position is a `w:tc`, spans by `w:gridSpan`, rows
/// covered from above by `w:vMerge` (continue).
fn docx_table(n: u8, rows: &[Vec<GridCell>]) -> String {
    let layout = positions(rows);
    let width = rows
        .iter()
        .zip(&layout)
        .filter_map(|(r, l)| r.last().zip(l.last()).map(|(c, s)| s + c.colspan))
        .max()
        .unwrap_or(1);
    // Per column: the cell (colspan, remaining rows) covering it from above.
    let mut cover: Vec<Option<(usize, usize)>> = vec![None; width];
    let widths = col_widths(n, width);
    let span_width =
        |from: usize, cols: usize| -> u32 { widths.iter().skip(from).take(cols).sum() };
    let mut out = String::from(
        "<w:tbl><w:tblPr><w:tblW w:w=\"8300\" w:type=\"dxa\"/><w:tblLayout w:type=\"fixed\"/><w:tblBorders><w:top w:val=\"single\" w:sz=\"4\"/><w:left w:val=\"single\" w:sz=\"4\"/><w:bottom w:val=\"single\" w:sz=\"4\"/><w:right w:val=\"single\" w:sz=\"4\"/><w:insideH w:val=\"single\" w:sz=\"4\"/><w:insideV w:val=\"single\" w:sz=\"4\"/></w:tblBorders></w:tblPr><w:tblGrid>",
    );
    for w in &widths {
        out.push_str(&format!("<w:gridCol w:w=\"{w}\"/>"));
    }
    out.push_str("</w:tblGrid>");
    for (row, cols) in rows.iter().zip(&layout) {
        out.push_str("<w:tr>");
        let mut col = 0usize;
        let mut next = 0usize;
        while col < width {
            if let Some((cs, left)) = cover[col]
                && left > 0
            {
                out.push_str(&format!(
                    "<w:tc><w:tcPr><w:tcW w:w=\"{}\" w:type=\"dxa\"/><w:gridSpan w:val=\"{cs}\"/><w:vMerge/></w:tcPr><w:p/></w:tc>",
                    span_width(col, cs)
                ));
                cover[col] = Some((cs, left - 1));
                col += cs;
                continue;
            }
            match (row.get(next), cols.get(next)) {
                (Some(cell), Some(&start)) if start == col => {
                    let mut pr = String::new();
                    if cell.colspan > 1 {
                        pr.push_str(&format!("<w:gridSpan w:val=\"{}\"/>", cell.colspan));
                    }
                    if cell.rowspan > 1 {
                        pr.push_str("<w:vMerge w:val=\"restart\"/>");
                        cover[col] = Some((cell.colspan, cell.rowspan - 1));
                    }
                    let paras: String = if cell.text.is_empty() {
                        "<w:p/>".to_string()
                    } else {
                        cell.text
                            .split('\n')
                            .map(|p| w_para_sized(p, None, Some(16)))
                            .collect()
                    };
                    out.push_str(&format!(
                        "<w:tc><w:tcPr><w:tcW w:w=\"{}\" w:type=\"dxa\"/>{pr}<w:vAlign w:val=\"center\"/></w:tcPr>{paras}</w:tc>",
                        span_width(col, cell.colspan)
                    ));
                    col += cell.colspan;
                    next += 1;
                }
                _ => break,
            }
        }
        out.push_str("</w:tr>");
    }
    out.push_str("</w:tbl>");
    out
}

/// The report as a Word file.
pub fn docx(doc: &Doc, t: &Tables, ls: &LabelStyle) -> std::io::Result<Vec<u8>> {
    let mut body = String::new();
    body.push_str(&w_para(&doc.title, Some("Title")));
    if let Some(pre) = &doc.preamble {
        body.push_str(&w_para(&unprotect(pre), None));
    }
    for b in &doc.blocks {
        match b {
            Block::Heading(n) => body.push_str(&w_para(&heading(*n), Some("Heading2"))),
            Block::Sub(s) => body.push_str(&w_para(&unprotect(s), None)),
            Block::Para(p) => body.push_str(&w_para(&unprotect(p), None)),
            Block::Table(n) => {
                body.push_str(&docx_table(*n, &grid(*n, t, ls)));
                body.push_str("<w:p/>");
            }
        }
    }
    if let Some((name, date)) = &doc.signature {
        body.push_str(&w_para(name, None));
        body.push_str(&w_para(date, None));
    }
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><w:body>{body}<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/></w:sectPr></w:body></w:document>"
    );
    let content_types = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>";
    let rels = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>";
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            // Fixed timestamps: the same report gives the same bytes.
            .last_modified_time(zip::DateTime::default());
        for (name, data) in [
            ("[Content_Types].xml", content_types),
            ("_rels/.rels", rels),
            ("word/document.xml", document.as_str()),
        ] {
            z.start_file(name, opts).map_err(std::io::Error::other)?;
            z.write_all(data.as_bytes())?;
        }
        z.finish().map_err(std::io::Error::other)?;
    }
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_the_grid() {
        let rows = vec![vec![span("a", 1, 3), c("1")], vec![c("2")], vec![c("3")]];
        let (top, bottom) = split_rows(&rows, 2);
        assert_eq!(top[0][0].rowspan, 2);
        assert_eq!(bottom[0], vec![span("a", 1, 1), c("3")]);
    }

    #[test]
    fn docx_rows_cover_every_grid_position() {
        let rows = vec![
            vec![span("注", 2, 2), span("申请人", 2, 1)],
            vec![c("x"), c("y")],
        ];
        let xml = docx_table(4, &rows);
        // Row 1: 注 (restart) and 申请人; row 2: 注 continued, x, y.
        assert_eq!(xml.matches("<w:tc>").count(), 5);
        assert_eq!(xml.matches("<w:vMerge/>").count(), 1);
        assert_eq!(xml.matches("w:gridSpan w:val=\"2\"").count(), 3);
    }
}
