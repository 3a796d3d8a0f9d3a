//! Figures that are arithmetically fine but very likely wrong (`format-2021.md` I7, I9, E3): warnings
//! for a person to confirm, never errors by default.

use crate::Sink;
use crate::agency::AgencyProfile;
use crate::text::num;
use nianbao_model::{Extraction, Finding, RuleId, T2Cell, T3Col, T3Row};

/// `known`: the agency's profile from the directory; `None` → read from the printed name.
pub(crate) fn check(x: &Extraction, known: Option<AgencyProfile>, sink: &mut Sink<'_>) {
    let profile = known.unwrap_or_else(|| {
        x.agency
            .as_deref()
            .map_or(AgencyProfile::UNKNOWN, AgencyProfile::from_name)
    });
    if let Some(t) = &x.table2 {
        if sink.on(RuleId::T2RegulationScope) && profile.may_hold_regulations() == Some(false) {
            let first = [T2Cell::A01, T2Cell::A02, T2Cell::A03]
                .into_iter()
                .find(|&c| t.get(c).value.is_some_and(|v| v > 0.0));
            if let Some(c) = first {
                let cell = t.get(c);
                let v = cell.arith();
                sink.push(
                    Finding::new(
                        RuleId::T2RegulationScope,
                        format!(
                            "表二 {} 为{}，但{}没有规章制定权（规章只能由国务院部门、省级和设区的市人民政府制定），请核实是否误将行政规范性文件等填入“规章”行",
                            c.display(),
                            num(v),
                            profile.describe()
                        ),
                    )
                    .part(2)
                    .cell(c.id())
                    .expected("0")
                    .actual(num(v))
                    .line(cell.line.or(Some(t.line))),
                );
            }
        }
        let fee = t.get(T2Cell::A10);
        let ceiling = profile.fee_ceiling_wan();
        if let Some(v) = fee.value.filter(|&v| v > ceiling) {
            sink.push(
                Finding::new(
                    RuleId::T2FeeScale,
                    format!(
                        "表二 行政事业性收费 本年收费金额为{}万元，对{}而言明显过大（一般不超过{}万元），请核实是否误以“元”为单位填报（本栏单位为万元）",
                        num(v),
                        profile.describe(),
                        num(ceiling)
                    ),
                )
                .part(2)
                .cell(T2Cell::A10.id())
                .expected(format!("≤{}", num(ceiling)))
                .actual(num(v))
                .line(fee.line.or(Some(t.line))),
            );
        }
    }
    if let Some(t) = &x.table3 {
        let carried = t.get(T3Row::R25, T3Col::Total);
        let received = t.get(T3Row::R01, T3Col::Total);
        // Both written: with a blank either side cell-missing is the finding that matters.
        if let (Some(c), Some(r)) = (carried.value, received.value)
            && c > r
        {
            sink.push(
                Finding::new(
                    RuleId::T3CarryoverHigh,
                    format!(
                        "表三 四、结转下年度继续办理 总计({})大于本年新收申请总计({})：申请应在法定期限内办结，请核实结转数量",
                        num(c),
                        num(r)
                    ),
                )
                .part(3)
                .cell(T3Row::R25.id())
                .column(T3Col::Total.index() as u8)
                .expected(format!("≤{}", num(r)))
                .actual(num(c))
                .line(carried.line.or(t.row_line(T3Row::R25)).or(Some(t.line))),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Checker;
    use crate::testutil::{ReportBuilder, only};
    use nianbao_model::{RuleId, Severity, T2Cell, T3Row};

    #[test]
    fn a_known_profile_overrides_the_printed_name() {
        // 枫桥市 is a county-level city: its name reads like a 设区的市, its directory entry says
        // county.
        let x = ReportBuilder::new()
            .agency("枫桥市人民政府")
            .t2(T2Cell::A03, 2.0)
            .build();
        let c = Checker::default();
        assert!(only(&c.check(&x), RuleId::T2RegulationScope).is_empty());
        let county = crate::AgencyProfile {
            level: crate::AgencyLevel::County,
            kind: crate::AgencyKind::Government,
        };
        let f = c.check_as(&x, Some(county));
        assert_eq!(only(&f, RuleId::T2RegulationScope).len(), 1);
        assert!(f.iter().any(|f| f.message.contains("县级机关")), "{f:?}");
    }

    #[test]
    fn regulations_reported_by_bodies_without_the_power() {
        for name in [
            "郑县东城街道办事处",
            "叶县辛店镇人民政府",
            "郑县人民政府",
            "郑县交通运输局",
            "淮安市清江浦区人民政府",
        ] {
            let x = ReportBuilder::new()
                .agency(name)
                .t2(T2Cell::A03, 2.0)
                .build();
            let f = Checker::default().check(&x);
            let r = only(&f, RuleId::T2RegulationScope);
            assert_eq!(r.len(), 1, "{name}");
            assert_eq!(r[0].cell.as_deref(), Some("A03"));
            assert_eq!(r[0].part, Some(2));
            assert_eq!(r[0].severity, Severity::Warning);
            assert_eq!(r[0].actual.as_deref(), Some("2"));
        }
        // The first non-zero cell is named.
        let x = ReportBuilder::new()
            .agency("郑县东城街道办事处")
            .t2(T2Cell::A02, 1.0)
            .t2(T2Cell::A03, 2.0)
            .build();
        let f = Checker::default().check(&x);
        assert_eq!(
            only(&f, RuleId::T2RegulationScope)[0].cell.as_deref(),
            Some("A02")
        );
    }

    #[test]
    fn regulations_fine_for_province_city_and_unknown() {
        for name in [
            Some("江苏省人民政府"),
            Some("淮安市人民政府"),
            Some("淮安市司法局"),
            Some("某某单位"),
            None,
        ] {
            let mut b = ReportBuilder::new().t2(T2Cell::A01, 3.0);
            b = match name {
                Some(n) => b.agency(n),
                None => b.no_agency(),
            };
            let f = Checker::default().check(&b.build());
            assert!(only(&f, RuleId::T2RegulationScope).is_empty(), "{name:?}");
        }
    }

    #[test]
    fn fee_scale_by_level() {
        let cases = [
            ("郑县东城街道办事处", 501.0, true),
            ("郑县东城街道办事处", 500.0, false),
            ("郑县人民政府", 60_000.0, true),
            ("郑县人民政府", 40_000.0, false),
            ("淮安市人民政府", 96171.6, false),
            ("淮安市人民政府", 600_000.0, true),
            ("江苏省人民政府", 4_000_000.0, false),
            ("江苏省人民政府", 6_000_000.0, true),
            ("某某单位", 50_001.0, true),
            ("某某单位", 49_999.0, false),
        ];
        for (name, v, warn) in cases {
            let x = ReportBuilder::new().agency(name).t2(T2Cell::A10, v).build();
            let f = Checker::default().check(&x);
            let w = only(&f, RuleId::T2FeeScale);
            assert_eq!(w.len(), usize::from(warn), "{name} {v}");
            if warn {
                assert_eq!(w[0].cell.as_deref(), Some("A10"));
                assert_eq!(w[0].part, Some(2));
                assert_eq!(w[0].severity, Severity::Warning);
                assert!(w[0].message.contains("万元"));
            }
        }
    }

    #[test]
    fn carryover_greater_than_new_applications() {
        use T3Row::*;
        let x = ReportBuilder::new()
            .t3_row(R01, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
            .t3_row(R02, [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0])
            .t3_row(R25, [4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0])
            .build();
        let f = Checker::default().check(&x);
        let c = only(&f, RuleId::T3CarryoverHigh);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].cell.as_deref(), Some("R25"));
        assert_eq!(c[0].column, Some(6));
        assert_eq!(c[0].part, Some(3));
        assert_eq!(c[0].actual.as_deref(), Some("4"));
        assert_eq!(c[0].severity, Severity::Warning);
        assert_eq!(f.len(), 1, "{f:?}");

        let equal = ReportBuilder::new()
            .t3_row(R01, [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
            .t3_row(R25, [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
            .build();
        let f = Checker::default().check(&equal);
        assert!(only(&f, RuleId::T3CarryoverHigh).is_empty());
    }
}
