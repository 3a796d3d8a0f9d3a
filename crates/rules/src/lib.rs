//! The single-report rules of the nianbao catalogue (`contract.md` §4, `RuleScope::Single`).
//!
//! Input is what the extractor learned from one document ([`Extraction`]); output is the list of
//! [`Finding`]s a person must look at. Pure: no I/O, no global state. A [`Checker`] is built once per
//! process (it holds the configuration and the precomputed label tables) and then reused for every
//! report, because batches run to hundreds of thousands of reports and one check must stay in the
//! microsecond range.
//!
//! # Layout
//! - [`config`]: severity overrides, disabled and opt-in rules, thresholds, from TOML.
//! - [`rectification`]: the problems a part 五 names and whether a later part 五 answers them (for
//!   the validation service's `previous-problems-unaddressed`).
//! - [`agency`]: what an agency's name says about its level (for 规章 and fee plausibility).
//! - private modules, one per family of rules: `structure` (parts, tables, cells, template, labels),
//!   `arithmetic` (勾稽关系), `plausibility`, `sections` (总体情况 topics, 五 and 六), `narrative`
//!   (text versus tables), `years`.

pub mod agency;
mod arithmetic;
pub mod config;
mod narrative;
mod plausibility;
pub mod rectification;
mod sections;
mod structure;
mod text;
mod years;

#[cfg(test)]
mod testutil;

pub use agency::{AgencyKind, AgencyLevel, AgencyProfile};
pub use config::{ConfigError, RuleConfig, Thresholds};

use nianbao_model::{Extraction, Finding, RuleId, T2Cell, T3Row, T4Cell};

/// Runs every single-report rule on one extraction.
#[derive(Debug, Clone)]
pub struct Checker {
    config: RuleConfig,
    labels: narrative::TableLabels,
}

impl Default for Checker {
    fn default() -> Checker {
        Checker::new(RuleConfig::default())
    }
}

impl Checker {
    pub fn new(config: RuleConfig) -> Checker {
        Checker {
            config,
            labels: narrative::TableLabels::new(),
        }
    }

    pub fn config(&self) -> &RuleConfig {
        &self.config
    }

    /// All findings for one report, ordered by part, then position in the table, then rule, so that two
    /// runs (and two machines) print the same list.
    pub fn check(&self, x: &Extraction) -> Vec<Finding> {
        self.check_as(x, None)
    }

    /// [`Checker::check`] for a report whose agency is known (the directory's kind and level): the
    /// rules that depend on the agency's place use `profile` instead of guessing it from the name
    /// the report prints (a county-level city writes 市, a 分局 is county-level).
    pub fn check_as(&self, x: &Extraction, profile: Option<AgencyProfile>) -> Vec<Finding> {
        let mut sink = Sink::new(&self.config);
        if let Some(reason) = &x.unreadable {
            // Nothing else can be judged on a document that was not read: one finding says why.
            sink.push(Finding::new(
                RuleId::Unreadable,
                format!("文件无法读取或解析：{reason}"),
            ));
            return sink.findings;
        }
        structure::check(x, &mut sink);
        arithmetic::check(x, &mut sink);
        let profile = profile.unwrap_or_else(|| {
            x.agency
                .as_deref()
                .map_or(AgencyProfile::UNKNOWN, AgencyProfile::from_name)
        });
        plausibility::check(x, profile, &mut sink);
        sections::check(x, profile, &mut sink);
        narrative::check(x, &self.labels, &mut sink);
        years::check(x, &self.labels, &mut sink);
        sink.into_sorted()
    }
}

/// Collects findings, applying the configuration at the one place where findings are born.
pub(crate) struct Sink<'c> {
    config: &'c RuleConfig,
    findings: Vec<Finding>,
}

impl<'c> Sink<'c> {
    fn new(config: &'c RuleConfig) -> Sink<'c> {
        Sink {
            config,
            findings: Vec::new(),
        }
    }

    /// The configuration, for the rules that read a threshold.
    pub(crate) fn config(&self) -> &'c RuleConfig {
        self.config
    }

    /// Rules ask first so that a disabled rule costs nothing.
    pub(crate) fn on(&self, rule: RuleId) -> bool {
        self.config.is_enabled(rule)
    }

    pub(crate) fn push(&mut self, mut f: Finding) {
        if self.on(f.rule) {
            f.severity = self.config.severity(f.rule);
            self.findings.push(f);
        }
    }

    fn into_sorted(mut self) -> Vec<Finding> {
        self.findings.sort_by_key(|f| {
            (
                f.part.unwrap_or(0),
                cell_rank(f),
                f.rule,
                f.line.unwrap_or(0),
            )
        });
        self.findings
    }
}

/// Position of a finding's cell in reading order of its table; findings without a cell come first.
fn cell_rank(f: &Finding) -> usize {
    let Some(id) = f.cell.as_deref() else {
        return 0;
    };
    if let Some(c) = T2Cell::from_id(id) {
        1 + c.index()
    } else if let Some(r) = T3Row::from_id(id) {
        100 + r.index() * 8 + f.column.map_or(0, |c| usize::from(c) + 1)
    } else if let Some(c) = T4Cell::from_id(id) {
        400 + c.index()
    } else {
        1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::ReportBuilder;
    use nianbao_model::{Part, Severity, T3Col};

    #[test]
    fn clean_report_has_no_findings() {
        let x = ReportBuilder::new().build();
        assert_eq!(Checker::default().check(&x), vec![]);
    }

    #[test]
    fn unreadable_yields_exactly_one_finding() {
        let mut x = ReportBuilder::new().remove_part(Part::Other).build();
        x.unreadable = Some("不是有效的 DOCX 文件".into());
        let f = Checker::default().check(&x);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, RuleId::Unreadable);
        assert_eq!(f[0].severity, Severity::Error);
        assert!(f[0].message.contains("不是有效的 DOCX 文件"));
        let off = Checker::new(RuleConfig::default().disable(RuleId::Unreadable));
        assert_eq!(off.check(&x), vec![]);
    }

    #[test]
    fn readable_report_never_gets_unreadable() {
        let x = ReportBuilder::new().remove_part(Part::Other).build();
        let f = Checker::default().check(&x);
        assert!(f.iter().all(|f| f.rule != RuleId::Unreadable));
    }

    #[test]
    fn overrides_and_disabled_rules_from_toml_apply() {
        let x = ReportBuilder::new()
            .agency("郑县东城街道办事处")
            .t2(T2Cell::A10, 800.0)
            .part_text(Part::Other, &["无其他需要报告的事项。"])
            .build();
        let default = Checker::default().check(&x);
        assert!(
            default
                .iter()
                .any(|f| f.rule == RuleId::T2FeeScale && f.severity == Severity::Warning)
        );
        assert!(
            default
                .iter()
                .any(|f| f.rule == RuleId::FeeStatementMissing)
        );

        let config = RuleConfig::from_toml(
            "disabled = [\"fee-statement-missing\"]\n[severity]\n\"t2-fee-scale\" = \"error\"\n",
        )
        .unwrap();
        let tuned = Checker::new(config).check(&x);
        assert!(
            tuned
                .iter()
                .any(|f| f.rule == RuleId::T2FeeScale && f.severity == Severity::Error)
        );
        assert!(tuned.iter().all(|f| f.rule != RuleId::FeeStatementMissing));
    }

    #[test]
    fn findings_are_ordered_by_part_then_cell_then_rule() {
        let x = ReportBuilder::new()
            .part_text(Part::Other, &["无。"])
            .t3(T3Row::R03, T3Col::NaturalPerson, 1.0)
            .t3(T3Row::R25, T3Col::NaturalPerson, 1.0)
            .blank_t2(T2Cell::A02)
            .t4(T4Cell::D01, 1.0)
            .remove_part(Part::Problems)
            .build();
        let f = Checker::default().check(&x);
        let keys: Vec<(Option<u8>, RuleId, Option<&str>)> = f
            .iter()
            .map(|f| (f.part, f.rule, f.cell.as_deref()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_by_key(|k| k.0);
        assert_eq!(
            keys.iter().map(|k| k.0).collect::<Vec<_>>(),
            sorted.iter().map(|k| k.0).collect::<Vec<_>>()
        );
        assert_eq!(keys[0], (Some(2), RuleId::CellMissing, Some("A02")));
        let part3: Vec<_> = keys.iter().filter(|k| k.0 == Some(3)).collect();
        assert_eq!(part3[0], &(Some(3), RuleId::T3RowTotal, Some("R03")));
        assert_eq!(part3[1], &(Some(3), RuleId::T3ResultTotal, Some("R24")));
        assert_eq!(part3[2], &(Some(3), RuleId::T3Balance, Some("R24")));
        assert_eq!(part3[3], &(Some(3), RuleId::T3RowTotal, Some("R25")));
        assert!(keys.contains(&(Some(4), RuleId::T4Total, Some("D05"))));
        assert!(keys.contains(&(Some(5), RuleId::PartMissing, None)));
        assert_eq!(
            keys.last(),
            Some(&(Some(6), RuleId::FeeStatementMissing, None))
        );
        // Deterministic: same input, same output.
        assert_eq!(f, Checker::default().check(&x));
    }
}
