//! 表二, 表三 and 表四 drawn as the official grids (labels of `format-2021.md` §2, from
//! `nianbao_model`), each finding's cells marked with its number and its message listed beside
//! the table; cells that differ from another version can be marked too.

use crate::html::esc;
use nianbao_model::{Cell, Extraction, T2Cell, T2Row, T3Col, T3Row, T4Cell, T4Group, T4Result};
use nianbao_proto::v1::Finding;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Which table a finding's cell belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Spot {
    T2(T2Cell),
    /// A 表三 cell (`None` column: the whole row).
    T3(T3Row, Option<T3Col>),
    T4(T4Cell),
}

/// Where a finding points, from its canonical cell id (`A01`, `R24` + column, `D05`).
pub fn spot(f: &Finding) -> Option<Spot> {
    let cell = f.cell.as_deref()?.trim();
    if let Some(c) = T2Cell::from_id(cell) {
        return Some(Spot::T2(c));
    }
    if let Some(r) = T3Row::from_id(cell) {
        let col = f
            .column
            .and_then(|c| usize::try_from(c).ok())
            .and_then(T3Col::from_index);
        return Some(Spot::T3(r, col));
    }
    T4Cell::from_id(cell).map(Spot::T4)
}

/// The table (2, 3, 4) a finding belongs to: by its cell, else its part.
pub fn table_of(f: &Finding) -> Option<u32> {
    match spot(f) {
        Some(Spot::T2(_)) => Some(2),
        Some(Spot::T3(..)) => Some(3),
        Some(Spot::T4(_)) => Some(4),
        None => f.part.filter(|p| (2..=4).contains(p)),
    }
}

/// The marks of one grid: finding numbers (1-based, as listed) per cell, and the worst severity.
#[derive(Default)]
struct Marks {
    by_cell: BTreeMap<Spot, Vec<(usize, bool)>>,
}

impl Marks {
    fn of(findings: &[Finding]) -> Marks {
        let mut m = Marks::default();
        for (i, f) in findings.iter().enumerate() {
            if let Some(s) = spot(f) {
                m.by_cell
                    .entry(s)
                    .or_default()
                    .push((i + 1, f.severity == "error"));
            }
        }
        m
    }

    /// The `class` and marker text of a cell.
    fn cell(&self, spots: &[Spot]) -> (String, String) {
        let mut nums = BTreeSet::new();
        let mut error = false;
        for s in spots {
            if let Some(v) = self.by_cell.get(s) {
                for (n, e) in v {
                    nums.insert(*n);
                    error |= *e;
                }
            }
        }
        if nums.is_empty() {
            return (String::new(), String::new());
        }
        let class = if error { "hl" } else { "hlw" };
        let marker = nums
            .iter()
            .map(|n| format!("<sup>[{n}]</sup>"))
            .collect::<String>();
        (class.to_string(), marker)
    }
}

fn value(c: Option<&Cell>) -> String {
    c.and_then(Cell::written).unwrap_or_default()
}

fn td(
    h: &mut String,
    marks: &Marks,
    spots: &[Spot],
    cell: Option<&Cell>,
    other: Option<Option<&Cell>>,
    id: &str,
) {
    let (mut class, marker) = marks.cell(spots);
    let v = value(cell);
    let mut title = id.to_string();
    if let Some(o) = other {
        let ov = value(o);
        if ov != v {
            if class.is_empty() {
                class = "changed".into();
            }
            let _ = write!(
                title,
                "；另一版本：{}",
                if ov.is_empty() { "（空）" } else { &ov }
            );
        }
    }
    let cls = if class.is_empty() {
        "num".to_string()
    } else {
        format!("num {class}")
    };
    let _ = write!(
        h,
        "<td class=\"{cls}\" data-cell=\"{}\" title=\"{}\">{}{marker}</td>",
        esc(id),
        esc(&title),
        esc(&v)
    );
}

/// 表二 (主动公开政府信息情况) as the official four blocks.
pub fn table2(x: &Extraction, findings: &[Finding], other: Option<&Extraction>) -> String {
    let marks = Marks::of(findings);
    let t = x.table2.as_ref();
    let o = other.map(|o| o.table2.as_ref());
    let mut h = String::from("<table class=\"grid\" id=\"t2\"><tbody>");
    let blocks: [(&str, &[T2Row], &[&str]); 4] = [
        (
            "第二十条第（一）项",
            &[T2Row::Regulations, T2Row::NormativeDocuments],
            &["本年制发件数", "本年废止件数", "现行有效件数"],
        ),
        (
            "第二十条第（五）项",
            &[T2Row::Licensing],
            &["本年处理决定数量"],
        ),
        (
            "第二十条第（六）项",
            &[T2Row::Penalties, T2Row::Enforcement],
            &["本年处理决定数量"],
        ),
        (
            "第二十条第（八）项",
            &[T2Row::Fees],
            &["本年收费金额（单位：万元）"],
        ),
    ];
    for (title, rows, cols) in blocks {
        let _ = write!(
            h,
            "<tr><th colspan=\"4\">{title}</th></tr><tr><th>信息内容</th>"
        );
        for c in cols {
            let span = if cols.len() == 1 {
                " colspan=\"3\""
            } else {
                ""
            };
            let _ = write!(h, "<th{span}>{c}</th>");
        }
        h.push_str("</tr>");
        for row in rows {
            let _ = write!(h, "<tr><td class=\"lbl\">{}</td>", row.label());
            for c in row.cells() {
                let other = o.map(|t| t.map(|t| t.get(*c)));
                if row.cells().len() == 1 {
                    // One value across the three columns, as the official table draws it.
                    let mut cell = String::new();
                    td(
                        &mut cell,
                        &marks,
                        &[Spot::T2(*c)],
                        t.map(|t| t.get(*c)),
                        other,
                        c.id(),
                    );
                    h.push_str(&cell.replacen("<td ", "<td colspan=\"3\" ", 1));
                } else {
                    td(
                        &mut h,
                        &marks,
                        &[Spot::T2(*c)],
                        t.map(|t| t.get(*c)),
                        other,
                        c.id(),
                    );
                }
            }
            h.push_str("</tr>");
        }
    }
    h.push_str("</tbody></table>");
    h
}

/// 表三 (收到和处理政府信息公开申请情况): three label columns with their spans, seven applicant
/// columns.
pub fn table3(x: &Extraction, findings: &[Finding], other: Option<&Extraction>) -> String {
    let marks = Marks::of(findings);
    let t = x.table3.as_ref();
    let o = other.map(|o| o.table3.as_ref());
    let mut h = String::from(
        "<table class=\"grid\" id=\"t3\"><thead>\
         <tr><th colspan=\"3\" rowspan=\"3\">（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）</th>\
         <th colspan=\"7\">申请人情况</th></tr>\
         <tr><th rowspan=\"2\">自然人</th><th colspan=\"5\">法人或其他组织</th><th rowspan=\"2\">总计</th></tr>\
         <tr><th>商业企业</th><th>科研机构</th><th>社会公益组织</th><th>法律服务机构</th><th>其他</th></tr>\
         </thead><tbody>",
    );
    let all = T3Row::ALL;
    for (i, row) in all.iter().enumerate() {
        let l = row.labels();
        h.push_str("<tr>");
        let first1 = i == 0 || all[i - 1].labels().level1 != l.level1;
        if first1 {
            let span = all[i..]
                .iter()
                .take_while(|r| r.labels().level1 == l.level1)
                .count();
            let col = if l.level2.is_none() { 3 } else { 1 };
            let _ = write!(
                h,
                "<td class=\"lbl\" rowspan=\"{span}\" colspan=\"{col}\">{}</td>",
                l.level1
            );
        }
        if let Some(l2) = l.level2 {
            let first2 = i == 0 || first1 || all[i - 1].labels().level2 != Some(l2);
            if first2 {
                let span = all[i..]
                    .iter()
                    .take_while(|r| r.labels().level1 == l.level1 && r.labels().level2 == Some(l2))
                    .count();
                let col = if l.level3.is_none() { 2 } else { 1 };
                let _ = write!(
                    h,
                    "<td class=\"lbl\" rowspan=\"{span}\" colspan=\"{col}\">{l2}</td>"
                );
            }
            if let Some(l3) = l.level3 {
                let _ = write!(h, "<td class=\"lbl\">{l3}</td>");
            }
        }
        for col in T3Col::ALL {
            let other = o.map(|t| t.map(|t| t.get(*row, col)));
            let id = format!("{}·{}", row.id(), col.label());
            td(
                &mut h,
                &marks,
                &[Spot::T3(*row, Some(col)), Spot::T3(*row, None)],
                t.map(|t| t.get(*row, col)),
                other,
                &id,
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
    h
}

/// 表四 (政府信息公开行政复议、行政诉讼情况).
pub fn table4(x: &Extraction, findings: &[Finding], other: Option<&Extraction>) -> String {
    let marks = Marks::of(findings);
    let t = x.table4.as_ref();
    let o = other.map(|o| o.table4.as_ref());
    let results = [
        T4Result::Upheld,
        T4Result::Corrected,
        T4Result::Other,
        T4Result::Pending,
        T4Result::Total,
    ];
    let mut h = String::from(
        "<table class=\"grid\" id=\"t4\"><thead><tr><th colspan=\"5\">行政复议</th><th colspan=\"10\">行政诉讼</th></tr><tr>",
    );
    for r in results {
        let _ = write!(h, "<th rowspan=\"2\">{}</th>", r.label());
    }
    h.push_str("<th colspan=\"5\">未经复议直接起诉</th><th colspan=\"5\">复议后起诉</th></tr><tr>");
    for _ in 0..2 {
        for r in results {
            let _ = write!(h, "<th>{}</th>", r.label());
        }
    }
    h.push_str("</tr></thead><tbody><tr>");
    for g in T4Group::ALL {
        for c in g.cells() {
            let other = o.map(|t| t.map(|t| t.get(c)));
            td(
                &mut h,
                &marks,
                &[Spot::T4(c)],
                t.map(|t| t.get(c)),
                other,
                c.id(),
            );
        }
    }
    h.push_str("</tr></tbody></table>");
    h
}

/// The cells whose values differ between two extractions, as `表三 R24·自然人：3 → 5`.
pub fn differences(old: &Extraction, new: &Extraction) -> Vec<String> {
    let mut out = Vec::new();
    let mut cmp = |label: String, a: Option<&Cell>, b: Option<&Cell>| {
        let (va, vb) = (value(a), value(b));
        if va != vb {
            let show = |v: &str| {
                if v.is_empty() {
                    "（空）".to_string()
                } else {
                    v.to_string()
                }
            };
            out.push(format!("{label}：{} → {}", show(&va), show(&vb)));
        }
    };
    for c in T2Cell::ALL {
        cmp(
            format!("表二 {} {}", c.id(), c.display()),
            old.table2.as_ref().map(|t| t.get(c)),
            new.table2.as_ref().map(|t| t.get(c)),
        );
    }
    for r in T3Row::ALL {
        for c in T3Col::ALL {
            cmp(
                format!("表三 {} {}·{}", r.id(), r.display(), c.label()),
                old.table3.as_ref().map(|t| t.get(r, c)),
                new.table3.as_ref().map(|t| t.get(r, c)),
            );
        }
    }
    for c in T4Cell::ALL {
        cmp(
            format!("表四 {} {}", c.id(), c.display()),
            old.table4.as_ref().map(|t| t.get(c)),
            new.table4.as_ref().map(|t| t.get(c)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(cell: &str, column: Option<u32>, sev: &str) -> Finding {
        Finding {
            rule: "t3-balance".into(),
            severity: sev.into(),
            message: "m".into(),
            cell: Some(cell.into()),
            column,
            part: Some(3),
            ..Default::default()
        }
    }

    #[test]
    fn findings_mark_their_cells() {
        let x = Extraction::default();
        let html = table3(&x, &[f("R24", Some(0), "error")], None);
        assert!(
            html.contains("class=\"num hl\" data-cell=\"R24·自然人\""),
            "{html}"
        );
        assert!(html.contains("<sup>[1]</sup>"));
        assert_eq!(html.matches("class=\"num hl\"").count(), 1);
        // A whole-row finding marks all seven cells.
        let html = table3(&x, &[f("R01", None, "warning")], None);
        assert_eq!(html.matches("class=\"num hlw\"").count(), 7);
        let html = table2(&x, &[f("A10", None, "error")], None);
        assert!(html.contains("data-cell=\"A10\""));
        assert_eq!(html.matches("class=\"num hl\"").count(), 1);
        let html = table4(&x, &[f("D05", None, "error")], None);
        assert_eq!(html.matches("class=\"num hl\"").count(), 1);
        assert_eq!(html.matches("<td ").count(), 15);
    }

    #[test]
    fn table3_has_25_rows_of_ten_columns() {
        let html = table3(&Extraction::default(), &[], None);
        assert_eq!(html.matches("data-cell=").count(), 175);
        assert!(html.contains("（七）总计"));
        assert!(html.contains("rowspan=\"8\" colspan=\"1\">（三）不予公开"));
    }
}
