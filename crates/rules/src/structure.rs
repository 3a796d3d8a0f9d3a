//! Completeness and form: parts, tables, cells, the template version and label wording
//! (`format-2021.md` §1.3 不能遗漏, I4, I13, §4).

use crate::Sink;
use crate::text::num;
use nianbao_model::{
    Cell, Extraction, Finding, Part, RuleId, T2Cell, T3Col, T3Row, T4Cell, Template,
};

pub(crate) fn check(x: &Extraction, sink: &mut Sink<'_>) {
    parts(x, sink);
    tables(x, sink);
    template(x, sink);
    labels(x, sink);
}

fn parts(x: &Extraction, sink: &mut Sink<'_>) {
    if !sink.on(RuleId::PartMissing) {
        return;
    }
    let found = x.part_numbers();
    for p in Part::ALL {
        if !found.contains(&p.number()) {
            sink.push(
                Finding::new(
                    RuleId::PartMissing,
                    format!(
                        "报告缺少第{}部分“{}”，年度报告应包括全部六个部分",
                        p.numeral(),
                        p.title()
                    ),
                )
                .part(p.number()),
            );
        }
    }
}

fn table_missing(x: &Extraction, part: Part, table: &str, sink: &mut Sink<'_>) {
    // Without the part, part-missing already says everything.
    let Some(span) = x.part(part) else { return };
    sink.push(
        Finding::new(
            RuleId::TableMissing,
            format!(
                "第{}部分“{}”中未找到{table}（表格缺失，或以图片等无法识别的形式发布），请按统一格式填报表格",
                part.numeral(),
                part.heading()
            ),
        )
        .part(part.number())
        .line(Some(span.heading_line)),
    );
}

/// Which cells the 2019 trial format does not have: the extractor leaves them blank, and blaming the
/// agency for them would double the template-outdated finding into dozens of cell findings.
fn absent_in_2019(template: Template, id: &str) -> bool {
    template == Template::V2019 && matches!(id, "A02" | "A05" | "A10" | "R22" | "R23")
}

/// A table whose every cell is blank: one `table-blank` finding instead of one `cell-missing` per
/// cell (175 for 表三), which buries the report's other findings and says nothing more. `true` when
/// the finding was given; with the rule switched off the cells are reported one by one as before.
fn table_blank<'c>(
    x: &Extraction,
    mut cells: impl Iterator<Item = &'c Cell>,
    (part, table, count, line): (Part, &str, usize, u32),
    sink: &mut Sink<'_>,
) -> bool {
    if !sink.on(RuleId::TableBlank) || !cells.all(|c| c.raw.is_none() && c.value.is_none()) {
        return false;
    }
    let line = x
        .part(part)
        .map(|p| p.heading_line)
        .filter(|_| line == 0)
        .or(Some(line));
    sink.push(
        Finding::new(
            RuleId::TableBlank,
            format!(
                "第{}部分“{}”的{table}整表空白（{count}个单元格均未填写），请按统一格式填写全部数字（没有发生的填0）",
                part.numeral(),
                part.heading()
            ),
        )
        .part(part.number())
        .expected(format!("{count}个单元格"))
        .actual("0")
        .line(line),
    );
    true
}

fn tables(x: &Extraction, sink: &mut Sink<'_>) {
    match &x.table2 {
        None => table_missing(x, Part::Proactive, "表二", sink),
        Some(t)
            if table_blank(
                x,
                T2Cell::ALL.iter().map(|&c| t.get(c)),
                (Part::Proactive, "表二", T2Cell::ALL.len(), t.line),
                sink,
            ) => {}
        Some(t) => {
            for c in T2Cell::ALL {
                let cell = t.get(c);
                let what = || format!("表二 {}", c.display());
                let line = cell.line.or(Some(t.line));
                cell_checks(x, cell, what, c.is_amount(), (2, c.id(), None), line, sink);
            }
        }
    }
    match &x.table3 {
        None => table_missing(x, Part::Requests, "表三", sink),
        Some(t)
            if table_blank(
                x,
                T3Row::ALL
                    .iter()
                    .flat_map(|&r| T3Col::ALL.into_iter().map(move |c| (r, c)))
                    .map(|(r, c)| t.get(r, c)),
                (Part::Requests, "表三", T3Row::ALL.len() * 7, t.line),
                sink,
            ) => {}
        Some(t) => {
            for r in T3Row::ALL {
                for col in T3Col::ALL {
                    let cell = t.get(r, col);
                    let what = || format!("表三 {} · {}", r.display(), col.label());
                    let line = cell.line.or(t.row_line(r)).or(Some(t.line));
                    let loc = (3, r.id(), Some(col.index() as u8));
                    cell_checks(x, cell, what, false, loc, line, sink);
                }
            }
        }
    }
    match &x.table4 {
        None => table_missing(x, Part::ReviewLitigation, "表四", sink),
        Some(t)
            if table_blank(
                x,
                T4Cell::ALL.iter().map(|&c| t.get(c)),
                (Part::ReviewLitigation, "表四", T4Cell::ALL.len(), t.line),
                sink,
            ) => {}
        Some(t) => {
            for c in T4Cell::ALL {
                let cell = t.get(c);
                let what = || format!("表四 {}", c.display());
                let line = cell.line.or(Some(t.line));
                cell_checks(x, cell, what, false, (4, c.id(), None), line, sink);
            }
        }
    }
}

/// cell-missing for a blank cell, cell-invalid for one that is not a count (or a negative amount).
/// `what` names the cell for a message; it is only built when there is one (most cells are fine).
fn cell_checks(
    x: &Extraction,
    cell: &Cell,
    what: impl Fn() -> String,
    amount: bool,
    (part, id, column): (u8, &str, Option<u8>),
    line: Option<u32>,
    sink: &mut Sink<'_>,
) {
    let locate = |f: Finding| {
        let f = f.part(part).cell(id).line(line);
        match column {
            Some(c) => f.column(c),
            None => f,
        }
    };
    let expected = if amount { "非负数" } else { "非负整数" };
    match (&cell.raw, cell.value) {
        (None, None) => {
            if !absent_in_2019(x.template, id) {
                sink.push(locate(Finding::new(
                    RuleId::CellMissing,
                    format!("{} 未填写，请填写数字（没有发生的填0）", what()),
                )));
            }
        }
        (Some(raw), None) => sink.push(
            locate(Finding::new(
                RuleId::CellInvalid,
                format!("{} 填写为“{raw}”，不是数字，应填写{expected}", what()),
            ))
            .expected(expected)
            .actual(raw),
        ),
        (raw, Some(v)) => {
            let bad = v < 0.0 || (!amount && v.fract() != 0.0) || !v.is_finite();
            if bad {
                let raw = raw
                    .clone()
                    .unwrap_or_else(|| nianbao_model::report::format_number(v));
                let why = if v < 0.0 { "为负数" } else { "不是整数" };
                sink.push(
                    locate(Finding::new(
                        RuleId::CellInvalid,
                        format!("{} 填写为{}，{why}，应填写{expected}", what(), num(v)),
                    ))
                    .expected(expected)
                    .actual(raw),
                );
            }
        }
    }
}

fn template(x: &Extraction, sink: &mut Sink<'_>) {
    // Using the unified format was only encouraged for 2019 and the 2021 format applies from reporting
    // year 2021 (§1.2, §4): earlier years and unknown years are not judged.
    let Some(year) = x.year else { return };
    if x.template != Template::V2019 || year < 2021 || !sink.on(RuleId::TemplateOutdated) {
        return;
    }
    let first = x.outdated_signatures.first();
    let line = first
        .map(|s| s.line)
        .or_else(|| x.table2.as_ref().map(|t| t.line))
        .or_else(|| x.part(Part::Proactive).map(|p| p.heading_line));
    let sign = first.map_or(String::new(), |s| format!("（如“{}”）", s.text));
    sink.push(
        Finding::new(
            RuleId::TemplateOutdated,
            format!(
                "{year}年度报告仍使用2019年试行格式{sign}，应使用国办公开办函〔2021〕30号印发的年度报告格式"
            ),
        )
        .part(Part::Proactive.number())
        .expected("2021")
        .actual("2019")
        .line(line),
    );
}

fn labels(x: &Extraction, sink: &mut Sink<'_>) {
    if !sink.on(RuleId::LabelMismatch) {
        return;
    }
    for d in &x.deviations {
        let place = match d.part {
            2 => "表二".to_string(),
            3 => "表三".to_string(),
            4 => "表四".to_string(),
            n => format!("{}标题", crate::text::part_name(n)),
        };
        let mut f = Finding::new(
            RuleId::LabelMismatch,
            format!(
                "{place}中的“{}”与统一格式的“{}”不一致",
                d.actual, d.expected
            ),
        )
        .part(d.part)
        .expected(&d.expected)
        .actual(&d.actual)
        .line(Some(d.line));
        if let Some(c) = &d.cell {
            f = f.cell(c);
        }
        sink.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::Checker;
    use crate::testutil::{ReportBuilder, only};
    use nianbao_model::report::{LabelDeviation, TemplateSignature};
    use nianbao_model::{Cell, Part, RuleId, Severity, T2Cell, T3Col, T3Row, T4Cell, Template};

    fn blank_table3() -> ReportBuilder {
        T3Row::ALL
            .into_iter()
            .fold(ReportBuilder::new(), |b, r| b.blank_t3_row(r))
    }

    #[test]
    fn a_wholly_blank_table3_is_one_finding() {
        let x = blank_table3().build();
        let f = Checker::default().check(&x);
        let b = only(&f, RuleId::TableBlank);
        assert_eq!(b.len(), 1, "{f:?}");
        assert_eq!(b[0].part, Some(3));
        assert_eq!(b[0].severity, Severity::Error);
        assert!(b[0].message.contains("表三整表空白"), "{}", b[0].message);
        assert!(b[0].message.contains("175"), "{}", b[0].message);
        assert!(only(&f, RuleId::CellMissing).is_empty(), "{f:?}");
        assert_eq!(f.len(), 1, "{f:?}");
        // Switched off, the cells are reported one by one as before.
        let off = Checker::new(crate::RuleConfig::default().disable(RuleId::TableBlank)).check(&x);
        assert_eq!(only(&off, RuleId::CellMissing).len(), 175);
    }

    #[test]
    fn one_filled_cell_is_not_a_blank_table() {
        // Near miss: a single written cell makes it a table with 174 blank cells, each to be filled.
        let x = blank_table3()
            .t3(T3Row::R01, T3Col::NaturalPerson, 0.0)
            .build();
        let f = Checker::default().check(&x);
        assert!(only(&f, RuleId::TableBlank).is_empty());
        assert_eq!(only(&f, RuleId::CellMissing).len(), 174);
    }

    #[test]
    fn blank_tables_two_and_four_too() {
        let x = T2Cell::ALL
            .into_iter()
            .fold(ReportBuilder::new(), |b, c| b.blank_t2(c));
        let x = T4Cell::ALL
            .into_iter()
            .fold(x, |b, c| b.blank_t4(c))
            .build();
        let f = Checker::default().check(&x);
        let b = only(&f, RuleId::TableBlank);
        assert_eq!(
            b.iter().map(|f| f.part).collect::<Vec<_>>(),
            vec![Some(2), Some(4)]
        );
        assert!(only(&f, RuleId::CellMissing).is_empty());
    }

    #[test]
    fn part_missing_per_absent_part_and_no_table_missing_with_it() {
        let x = ReportBuilder::new()
            .remove_part(Part::Requests)
            .remove_part(Part::Other)
            .build();
        let f = Checker::default().check(&x);
        let pm = only(&f, RuleId::PartMissing);
        assert_eq!(pm.len(), 2);
        assert_eq!(pm[0].part, Some(3));
        assert_eq!(pm[0].severity, Severity::Error);
        assert!(pm[0].message.contains("收到和处理政府信息公开申请情况"));
        assert_eq!(pm[1].part, Some(6));
        assert!(only(&f, RuleId::TableMissing).is_empty());
    }

    #[test]
    fn complete_report_has_no_part_missing() {
        let f = Checker::default().check(&ReportBuilder::new().build());
        assert!(only(&f, RuleId::PartMissing).is_empty());
    }

    #[test]
    fn table_missing_when_part_present_without_table() {
        let x = ReportBuilder::new().no_table2().no_table4().build();
        let f = Checker::default().check(&x);
        let tm = only(&f, RuleId::TableMissing);
        assert_eq!(tm.len(), 2);
        assert_eq!(tm[0].part, Some(2));
        assert!(tm[0].message.contains("表二"));
        assert_eq!(tm[1].part, Some(4));
        assert_eq!(tm[0].line, x.part(Part::Proactive).map(|p| p.heading_line));
        // No cell findings for an absent table.
        assert!(only(&f, RuleId::CellMissing).is_empty());
    }

    #[test]
    fn blank_cell_is_missing_unparsable_is_invalid() {
        let x = ReportBuilder::new()
            .blank_t3(T3Row::R07, T3Col::Research)
            .t3_raw(T3Row::R08, T3Col::Commercial, "若干")
            .blank_t2(T2Cell::A05)
            .blank_t4(T4Cell::D12)
            .build();
        let f = Checker::default().check(&x);
        let missing = only(&f, RuleId::CellMissing);
        assert_eq!(missing.len(), 3);
        assert_eq!(missing[0].cell.as_deref(), Some("A05"));
        assert_eq!(missing[0].part, Some(2));
        assert_eq!(missing[0].column, None);
        assert!(missing[0].message.contains("规范性文件 本年废止件数"));
        assert_eq!(missing[1].cell.as_deref(), Some("R07"));
        assert_eq!(missing[1].column, Some(2));
        assert!(missing[1].line.is_some());
        assert_eq!(missing[2].cell.as_deref(), Some("D12"));
        let invalid = only(&f, RuleId::CellInvalid);
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].cell.as_deref(), Some("R08"));
        assert_eq!(invalid[0].column, Some(1));
        assert_eq!(invalid[0].expected.as_deref(), Some("非负整数"));
        assert_eq!(invalid[0].actual.as_deref(), Some("若干"));
        assert_eq!(invalid[0].severity, Severity::Error);
    }

    #[test]
    fn negative_and_fractional_counts_are_invalid_but_a_fractional_amount_is_not() {
        let x = ReportBuilder::new()
            .t2(T2Cell::A10, 12.35)
            .t2(T2Cell::A07, 2.5)
            .t4(T4Cell::D06, -1.0)
            .t4(T4Cell::D10, -1.0)
            .build();
        let f = Checker::default().check(&x);
        let invalid = only(&f, RuleId::CellInvalid);
        assert_eq!(invalid.len(), 3, "{invalid:?}");
        assert_eq!(invalid[0].cell.as_deref(), Some("A07"));
        assert_eq!(invalid[0].actual.as_deref(), Some("2.5"));
        assert_eq!(invalid[1].cell.as_deref(), Some("D06"));
        assert_eq!(invalid[1].actual.as_deref(), Some("-1"));
        assert!(invalid[1].message.contains("负数"));

        let neg_amount = ReportBuilder::new().t2(T2Cell::A10, -3.0).build();
        let f = Checker::default().check(&neg_amount);
        let invalid = only(&f, RuleId::CellInvalid);
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0].expected.as_deref(), Some("非负数"));
    }

    #[test]
    fn cells_the_2019_template_lacks_are_not_missing() {
        let x = ReportBuilder::new()
            .year(2020)
            .template(Template::V2019)
            .blank_t2(T2Cell::A02)
            .blank_t2(T2Cell::A05)
            .blank_t2(T2Cell::A10)
            .blank_t3_row(T3Row::R22)
            .blank_t3_row(T3Row::R23)
            .blank_t2(T2Cell::A07)
            .build();
        let f = Checker::default().check(&x);
        let missing = only(&f, RuleId::CellMissing);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].cell.as_deref(), Some("A07"));
        // The same blanks in a 2021-format report are all missing.
        let x = ReportBuilder::new()
            .blank_t2(T2Cell::A02)
            .blank_t3_row(T3Row::R22)
            .build();
        let f = Checker::default().check(&x);
        assert_eq!(only(&f, RuleId::CellMissing).len(), 8);
    }

    #[test]
    fn template_outdated_only_from_2021() {
        let sig = TemplateSignature {
            text: "本年新制作数量".into(),
            line: 31,
        };
        let x = ReportBuilder::new()
            .year(2023)
            .template(Template::V2019)
            .signature(sig.clone())
            .build();
        let f = Checker::default().check(&x);
        let t = only(&f, RuleId::TemplateOutdated);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].part, Some(2));
        assert_eq!(t[0].line, Some(31));
        assert_eq!(t[0].severity, Severity::Error);
        assert!(t[0].message.contains("本年新制作数量"));

        for year in [2019, 2020] {
            let x = ReportBuilder::new()
                .year(year)
                .template(Template::V2019)
                .signature(sig.clone())
                .build();
            let f = Checker::default().check(&x);
            assert!(only(&f, RuleId::TemplateOutdated).is_empty(), "{year}");
        }
        let f = Checker::default().check(&ReportBuilder::new().year(2023).build());
        assert!(only(&f, RuleId::TemplateOutdated).is_empty());
    }

    #[test]
    fn one_info_finding_per_label_deviation() {
        let x = ReportBuilder::new()
            .deviation(LabelDeviation {
                part: 2,
                cell: Some("A02".into()),
                expected: "本年废止件数".into(),
                actual: "本年度止件数".into(),
                line: 40,
            })
            .deviation(LabelDeviation {
                part: 4,
                cell: None,
                expected: "政府信息公开行政复议、行政诉讼情况".into(),
                actual: "政府信息公开行行政复议和行政诉讼情况".into(),
                line: 80,
            })
            .build();
        let f = Checker::default().check(&x);
        let l = only(&f, RuleId::LabelMismatch);
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].severity, Severity::Info);
        assert_eq!(l[0].part, Some(2));
        assert_eq!(l[0].cell.as_deref(), Some("A02"));
        assert_eq!(l[0].expected.as_deref(), Some("本年废止件数"));
        assert_eq!(l[0].actual.as_deref(), Some("本年度止件数"));
        assert_eq!(l[0].line, Some(40));
        assert_eq!(l[1].part, Some(4));
        assert_eq!(l[1].cell, None);
        let f = Checker::default().check(&ReportBuilder::new().build());
        assert!(only(&f, RuleId::LabelMismatch).is_empty());
    }

    #[test]
    fn written_zero_is_not_blank() {
        let mut x = ReportBuilder::new().build();
        if let Some(t) = x.table2.as_mut() {
            *t.get_mut(T2Cell::A01) = Cell::number(0.0, Some(3));
        }
        let f = Checker::default().check(&x);
        assert!(only(&f, RuleId::CellMissing).is_empty());
    }
}
