//! The readable Chinese report that `nianbao extract` / `nianbao check` print without `--json`.

use nianbao_model::{Extraction, Finding, Part, Severity, T2Cell, T3Col, T3Row, T4Cell, Template};
use std::fmt::Write;

fn template_name(t: Template) -> &'static str {
    match t {
        Template::V2021 => "2021年版格式",
        Template::V2019 => "2019年试行格式",
        Template::Unknown => "未识别",
    }
}

fn header(out: &mut String, file: &str, x: &Extraction) {
    let _ = writeln!(out, "文件：{file}");
    let _ = writeln!(
        out,
        "机关：{}    年度：{}    格式：{}",
        x.agency.as_deref().unwrap_or("（未识别）"),
        x.year.map_or("（未识别）".to_string(), |y| y.to_string()),
        template_name(x.template)
    );
}

fn cell_text(v: Option<f64>, raw: Option<&str>) -> String {
    match (v, raw) {
        (Some(v), _) => nianbao_model::report::format_number(v),
        (None, Some(r)) => format!("“{r}”"),
        (None, None) => "空".to_string(),
    }
}

/// Where a table starts: its line in a text file, its page or table row in a PDF, web page or Word
/// file.
fn at(x: &Extraction, line: u32) -> String {
    x.location_of(line).describe()
}

/// `nianbao extract` without `--json`.
pub fn extraction(file: &str, x: &Extraction) -> String {
    let mut out = String::new();
    header(&mut out, file, x);
    if let Some(reason) = &x.unreadable {
        let _ = writeln!(out, "无法读取：{reason}");
        return out;
    }
    let found: Vec<String> = x
        .part_numbers()
        .iter()
        .filter_map(|&n| Part::from_number(n))
        .map(|p| p.numeral().to_string())
        .collect();
    let _ = writeln!(
        out,
        "识别到的部分：{}",
        if found.is_empty() {
            "无".into()
        } else {
            found.join("、")
        }
    );
    match &x.table2 {
        Some(t) => {
            let _ = writeln!(out, "表二 主动公开政府信息情况（{}）", at(x, t.line));
            for c in T2Cell::ALL {
                let cell = t.get(c);
                let _ = writeln!(
                    out,
                    "  {} {}：{}",
                    c.id(),
                    c.display(),
                    cell_text(cell.value, cell.raw.as_deref())
                );
            }
        }
        None => {
            let _ = writeln!(out, "表二：未找到");
        }
    }
    match &x.table3 {
        Some(t) => {
            let _ = writeln!(
                out,
                "表三 收到和处理政府信息公开申请情况（{}）",
                at(x, t.line)
            );
            let cols: Vec<&str> = T3Col::ALL.iter().map(|c| c.label()).collect();
            let _ = writeln!(out, "  {:<4} {}", "", cols.join(" | "));
            for r in T3Row::ALL {
                let vals: Vec<String> = t
                    .row(r)
                    .iter()
                    .map(|c| cell_text(c.value, c.raw.as_deref()))
                    .collect();
                let _ = writeln!(out, "  {} {}  [{}]", r.id(), vals.join(" | "), r.display());
            }
        }
        None => {
            let _ = writeln!(out, "表三：未找到");
        }
    }
    match &x.table4 {
        Some(t) => {
            let _ = writeln!(out, "表四 行政复议、行政诉讼情况（{}）", at(x, t.line));
            for c in T4Cell::ALL {
                let cell = t.get(c);
                let _ = writeln!(
                    out,
                    "  {} {}：{}",
                    c.id(),
                    c.display(),
                    cell_text(cell.value, cell.raw.as_deref())
                );
            }
        }
        None => {
            let _ = writeln!(out, "表四：未找到");
        }
    }
    out
}

fn location(x: &Extraction, f: &Finding) -> String {
    let mut parts = Vec::new();
    if let Some(p) = f.part.and_then(Part::from_number) {
        parts.push(format!("第{}部分", p.numeral()));
    }
    if let Some(c) = &f.cell {
        let mut s = format!("单元格 {c}");
        if let Some(col) = f.column.and_then(|i| T3Col::from_index(usize::from(i))) {
            let _ = write!(s, "（{}列）", col.label());
        }
        parts.push(s);
    }
    // A PDF page or an HTML/DOCX table row rather than a line of the flattened text.
    match (x.location_of_finding(f), f.line) {
        (Some(loc), _) => parts.push(loc.describe()),
        (None, Some(l)) => parts.push(format!("第{l}行")),
        (None, None) => {}
    }
    parts.join("，")
}

/// `nianbao check` without `--json`: errors first, then warnings, then notes.
pub fn findings(file: &str, x: &Extraction, findings: &[Finding]) -> String {
    let mut out = String::new();
    header(&mut out, file, x);
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    if findings.is_empty() {
        let _ = writeln!(out, "检查结果：未发现问题。");
        return out;
    }
    let _ = writeln!(
        out,
        "检查结果：发现 {} 项（错误 {}，警告 {}，提示 {}）",
        findings.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
    for (i, f) in sorted.iter().enumerate() {
        let loc = location(x, f);
        let _ = writeln!(
            out,
            "{:>3}. [{}] {}  {}",
            i + 1,
            f.severity.chinese(),
            f.message,
            if loc.is_empty() {
                String::new()
            } else {
                format!("（{loc}）")
            }
        );
        let _ = writeln!(out, "     规则：{}（{}）", f.rule.as_str(), f.rule.title());
    }
    out
}
