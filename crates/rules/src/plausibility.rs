//! Figures that are arithmetically fine but very likely wrong (`format-2021.md` I7, I9, E3): warnings
//! for a person to confirm, never errors by default.

use crate::Sink;
use crate::agency::AgencyProfile;
use crate::text::num;
use nianbao_model::{Extraction, Finding, RuleId, T2Cell, T3Col, T3Row};

/// `profile`: the agency's, from the directory or else read from the printed name.
pub(crate) fn check(x: &Extraction, profile: AgencyProfile, sink: &mut Sink<'_>) {
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
    if let Some(t) = &x.table2
        && sink.on(RuleId::T2DecisionScale)
    {
        decision_scale(t, profile, sink);
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

/// 行政许可/处罚/强制 decisions out of scale for a 乡镇 or 街道: thousands of 行政许可 is a county
/// department's or the whole county's figure copied into the township's table. Only grassroots
/// bodies are judged: a department or a government decides whatever its powers give it, and a
/// department with 行政处罚 and no 许可 or 强制 (a 执法局) is ordinary.
fn decision_scale(t: &nianbao_model::Table2, profile: AgencyProfile, sink: &mut Sink<'_>) {
    use crate::agency::AgencyKind;
    if !matches!(profile.kind, AgencyKind::Township | AgencyKind::Street) {
        return;
    }
    let th = sink.config().thresholds();
    let limits = [
        (T2Cell::A07, "行政许可", th.township_max_permits),
        (T2Cell::A08, "行政处罚", th.township_max_penalties),
        (T2Cell::A09, "行政强制", th.township_max_enforcements),
    ];
    for (c, name, max) in limits {
        let cell = t.get(c);
        let Some(v) = cell.value.filter(|&v| v > max as f64) else {
            continue;
        };
        sink.push(
            Finding::new(
                RuleId::T2DecisionScale,
                format!(
                    "表二 {name} 本年处理决定数量为{}，对{}而言明显过大（一般不超过{max}），请核实是否误填了县（区）或上级部门的数量",
                    num(v),
                    profile.describe()
                ),
            )
            .part(2)
            .cell(c.id())
            .expected(format!("≤{max}"))
            .actual(num(v))
            .line(cell.line.or(Some(t.line))),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::Checker;
    use crate::testutil::{ReportBuilder, only};
    use nianbao_model::{RuleId, Severity, T2Cell, T3Row};

    #[test]
    fn thousands_of_permits_for_a_township() {
        let x = ReportBuilder::new()
            .agency("叶县辛店镇人民政府")
            .t2(T2Cell::A07, 4500.0)
            .t2(T2Cell::A08, 287.0)
            .build();
        let f = Checker::default().check(&x);
        let d = only(&f, RuleId::T2DecisionScale);
        assert_eq!(d.len(), 1, "{f:?}");
        assert_eq!(d[0].cell.as_deref(), Some("A07"));
        assert_eq!(d[0].part, Some(2));
        assert_eq!(d[0].severity, Severity::Warning);
        assert_eq!(d[0].actual.as_deref(), Some("4500"));
        assert!(d[0].message.contains("表二 行政许可"), "{}", d[0].message);
        assert!(d[0].message.contains("乡镇人民政府"), "{}", d[0].message);
        // The threshold is the deployment's.
        let th = crate::Thresholds {
            township_max_permits: 5000,
            ..Default::default()
        };
        let c = Checker::new(crate::RuleConfig::default().with_thresholds(th));
        assert!(only(&c.check(&x), RuleId::T2DecisionScale).is_empty());
    }

    #[test]
    fn departments_and_modest_townships_are_plausible() {
        // Near misses: a 执法局 with 行政处罚 only, and a street office with delegated powers (seed
        // 003: 行政处罚 287).
        let dept = ReportBuilder::new()
            .agency("郑县综合行政执法局")
            .t2(T2Cell::A08, 40_000.0)
            .build();
        assert!(only(&Checker::default().check(&dept), RuleId::T2DecisionScale).is_empty());
        let street = ReportBuilder::new()
            .agency("曲靖市沾益区人民政府西平街道办事处")
            .t2(T2Cell::A07, 300.0)
            .t2(T2Cell::A08, 287.0)
            .t2(T2Cell::A09, 12.0)
            .build();
        assert!(only(&Checker::default().check(&street), RuleId::T2DecisionScale).is_empty());
    }

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
