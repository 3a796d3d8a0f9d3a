//! The 勾稽关系 of 表三 and 表四 (`format-2021.md` E1, I1–I3).
//!
//! A blank or unreadable component counts 0 (§3); a relation is only judged when the total it checks
//! was written, because a blank total is already a cell-missing finding and a second finding about the
//! same blank would only be noise. One finding per broken relation (`contract.md` §3).

use crate::Sink;
use crate::text::{num, same};
use nianbao_model::{Extraction, Finding, RuleId, T3Col, T3Row, T4Group, Table3, Table4};

pub(crate) fn check(x: &Extraction, sink: &mut Sink<'_>) {
    if let Some(t) = &x.table3 {
        row_totals(t, sink);
        result_totals(t, sink);
        balance(t, sink);
    }
    if let Some(t) = &x.table4 {
        group_totals(t, sink);
    }
}

fn group_totals(t: &Table4, sink: &mut Sink<'_>) {
    if !sink.on(RuleId::T4Total) {
        return;
    }
    for g in T4Group::ALL {
        let cells = g.cells();
        let total = t.get(g.total());
        let Some(actual) = total.value else { continue };
        let sum: f64 = cells[..4].iter().map(|&c| t.get(c).arith()).sum();
        if !same(sum, actual) {
            sink.push(
                Finding::new(
                    RuleId::T4Total,
                    format!(
                        "表四 {}：总计({})不等于结果维持、结果纠正、其他结果、尚未审结之和({})，相差{}",
                        g.label(),
                        num(actual),
                        num(sum),
                        num((actual - sum).abs())
                    ),
                )
                .part(4)
                .cell(g.total().id())
                .expected(num(sum))
                .actual(num(actual))
                .line(total.line.or(Some(t.line))),
            );
        }
    }
}

fn col_sum(t: &Table3, rows: impl Iterator<Item = T3Row>, col: T3Col) -> f64 {
    rows.map(|r| t.get(r, col).arith()).sum()
}

fn row_totals(t: &Table3, sink: &mut Sink<'_>) {
    if !sink.on(RuleId::T3RowTotal) {
        return;
    }
    for r in T3Row::ALL {
        let total = t.get(r, T3Col::Total);
        let Some(actual) = total.value else { continue };
        let sum: f64 = T3Col::PARTS.iter().map(|&c| t.get(r, c).arith()).sum();
        if !same(sum, actual) {
            sink.push(
                Finding::new(
                    RuleId::T3RowTotal,
                    format!(
                        "表三 {} 行：总计({})不等于自然人、商业企业、科研机构、社会公益组织、法律服务机构、其他六列之和({})，相差{}",
                        r.display(),
                        num(actual),
                        num(sum),
                        num((actual - sum).abs())
                    ),
                )
                .part(3)
                .cell(r.id())
                .column(T3Col::Total.index() as u8)
                .expected(num(sum))
                .actual(num(actual))
                .line(total.line.or(t.row_line(r)).or(Some(t.line))),
            );
        }
    }
}

fn result_totals(t: &Table3, sink: &mut Sink<'_>) {
    if !sink.on(RuleId::T3ResultTotal) {
        return;
    }
    for col in T3Col::ALL {
        let total = t.get(T3Row::R24, col);
        let Some(actual) = total.value else { continue };
        let sum = col_sum(t, T3Row::results(), col);
        if !same(sum, actual) {
            sink.push(
                Finding::new(
                    RuleId::T3ResultTotal,
                    format!(
                        "表三 {} 列：（七）总计({})不等于（一）至（六）各项办理结果之和({})，相差{}",
                        col.label(),
                        num(actual),
                        num(sum),
                        num((actual - sum).abs())
                    ),
                )
                .part(3)
                .cell(T3Row::R24.id())
                .column(col.index() as u8)
                .expected(num(sum))
                .actual(num(actual))
                .line(total.line.or(t.row_line(T3Row::R24)).or(Some(t.line))),
            );
        }
    }
}

fn balance(t: &Table3, sink: &mut Sink<'_>) {
    if !sink.on(RuleId::T3Balance) {
        return;
    }
    for col in T3Col::ALL {
        let (r01, r24) = (t.get(T3Row::R01, col), t.get(T3Row::R24, col));
        if r01.value.is_none() || r24.value.is_none() {
            continue;
        }
        let input = r01.arith() + t.get(T3Row::R02, col).arith();
        let output = r24.arith() + t.get(T3Row::R25, col).arith();
        if !same(input, output) {
            sink.push(
                Finding::new(
                    RuleId::T3Balance,
                    format!(
                        "表三 {} 列：第一项加第二项之和({})不等于第三项加第四项之和({})，相差{}（本年新收+上年结转应等于办理结果总计+结转下年度）",
                        col.label(),
                        num(input),
                        num(output),
                        num((input - output).abs())
                    ),
                )
                .part(3)
                .cell(T3Row::R24.id())
                .column(col.index() as u8)
                .expected(num(input))
                .actual(num(output))
                .line(r24.line.or(t.row_line(T3Row::R24)).or(Some(t.line))),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Checker;
    use crate::testutil::{ReportBuilder, only};
    use nianbao_model::{RuleId, Severity, T3Col, T3Row, T4Cell};

    use T3Col::*;
    use T3Row::*;

    /// A consistent table: 5 received from natural persons, 1 carried over, 4 disclosed, 2 carried on.
    fn consistent() -> ReportBuilder {
        ReportBuilder::new()
            .t3_row(R01, [5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0])
            .t3_row(R02, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
            .t3_row(R03, [4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0])
            .t3_row(R24, [4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0])
            .t3_row(R25, [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    }

    #[test]
    fn consistent_table_passes() {
        let f = Checker::default().check(&consistent().build());
        assert_eq!(f, vec![]);
    }

    #[test]
    fn row_total_mismatch() {
        let x = consistent().t3(R03, Commercial, 1.0).build();
        let f = Checker::default().check(&x);
        let r = only(&f, RuleId::T3RowTotal);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].cell.as_deref(), Some("R03"));
        assert_eq!(r[0].column, Some(6));
        assert_eq!(r[0].part, Some(3));
        assert_eq!(r[0].expected.as_deref(), Some("5"));
        assert_eq!(r[0].actual.as_deref(), Some("4"));
        assert_eq!(r[0].severity, Severity::Error);
        assert!(r[0].message.contains("（一）予以公开"));
        assert!(r[0].message.contains("相差1"));
    }

    #[test]
    fn blank_total_is_not_a_row_total_finding() {
        let x = consistent().blank_t3(R03, Total).build();
        let f = Checker::default().check(&x);
        assert!(only(&f, RuleId::T3RowTotal).is_empty());
        assert_eq!(only(&f, RuleId::CellMissing).len(), 1);
    }

    #[test]
    fn result_total_mismatch_per_column() {
        let x = consistent()
            .t3_row(R13, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
            .build();
        let f = Checker::default().check(&x);
        let r = only(&f, RuleId::T3ResultTotal);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].cell.as_deref(), Some("R24"));
        assert_eq!(r[0].column, Some(0));
        assert_eq!(r[0].expected.as_deref(), Some("5"));
        assert_eq!(r[0].actual.as_deref(), Some("4"));
        assert!(r[0].message.contains("自然人"));
        assert_eq!(r[1].column, Some(6));
        assert!(only(&f, RuleId::T3Balance).is_empty());
    }

    #[test]
    fn balance_mismatch_one_finding_per_column() {
        let x = consistent()
            .t3_row(R25, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
            .build();
        let f = Checker::default().check(&x);
        let b = only(&f, RuleId::T3Balance);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].cell.as_deref(), Some("R24"));
        assert_eq!(b[0].column, Some(0));
        assert_eq!(b[0].expected.as_deref(), Some("6"));
        assert_eq!(b[0].actual.as_deref(), Some("5"));
        assert!(b[0].message.starts_with(
            "表三 自然人 列：第一项加第二项之和(6)不等于第三项加第四项之和(5)，相差1"
        ));
        assert_eq!(b[1].column, Some(6));
    }

    #[test]
    fn balance_needs_written_r01_and_r24() {
        let x = consistent()
            .blank_t3(R01, NaturalPerson)
            .blank_t3(R24, Total)
            .build();
        let f = Checker::default().check(&x);
        assert!(only(&f, RuleId::T3Balance).is_empty());
    }

    #[test]
    fn t4_group_totals() {
        let x = ReportBuilder::new()
            .t4(T4Cell::D01, 2.0)
            .t4(T4Cell::D05, 1.0)
            .t4(T4Cell::D11, 1.0)
            .t4(T4Cell::D15, 1.0)
            .build();
        let f = Checker::default().check(&x);
        let t = only(&f, RuleId::T4Total);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].cell.as_deref(), Some("D05"));
        assert_eq!(t[0].part, Some(4));
        assert_eq!(t[0].expected.as_deref(), Some("2"));
        assert_eq!(t[0].actual.as_deref(), Some("1"));
        assert!(t[0].message.contains("行政复议"));
        let ok = ReportBuilder::new()
            .t4(T4Cell::D07, 1.0)
            .t4(T4Cell::D10, 1.0)
            .build();
        assert!(only(&Checker::default().check(&ok), RuleId::T4Total).is_empty());
    }
}
