//! 年报评议: a score per agency from a configurable indicator pack (`[scoring]`), with the evidence
//! of every deduction, and the ranking of an office's jurisdiction by it.
//!
//! The pack's indicators, each a deduction from `base`:
//! - 未按时发布 (`late`, plus `late_per_day` per day after the deadline, at most `late_max`): the
//!   agency's first report of the year came after its deadline;
//! - 未报送 (`missing`): no report and the deadline has passed;
//! - 内容缺项 (`missing_part` per finding): `part-missing` / `table-missing` in the newest report;
//! - 雷同 (`similarity` per finding): `duplicate-peer` / `duplicate-previous-year` whose similarity
//!   is at or above `similarity_threshold` (the finding's measured value);
//! - 其他错误 / 其他警告 (`error` / `warning` per finding, at most `error_max` / `warning_max`):
//!   the newest report's other findings.
//!
//! A score never goes below 0. Findings of the roster (`report-late`, `report-missing`) are the first
//! two indicators, not counted again.

use crate::data::{AgencyRow, Standing};
use nianbao_directory::Date;
use serde::Deserialize;

/// The indicator pack (see the module docs). `[scoring]` in the console's configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringConfig {
    /// Shown above the ranking (which pack this is).
    pub name: String,
    pub base: f64,
    pub late: f64,
    pub late_per_day: f64,
    pub late_max: f64,
    pub missing: f64,
    pub missing_part: f64,
    /// 0–1: a duplicate finding counts from this similarity on.
    pub similarity_threshold: f64,
    pub similarity: f64,
    pub error: f64,
    pub error_max: f64,
    pub warning: f64,
    pub warning_max: f64,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            name: "年度报告评议指标（默认）".into(),
            base: 100.0,
            late: 5.0,
            late_per_day: 0.2,
            late_max: 15.0,
            missing: 40.0,
            missing_part: 5.0,
            similarity_threshold: 0.9,
            similarity: 10.0,
            error: 2.0,
            error_max: 20.0,
            warning: 0.5,
            warning_max: 5.0,
        }
    }
}

/// One deduction and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Deduction {
    /// The indicator, in Chinese.
    pub indicator: &'static str,
    /// The rule id behind it, when a finding is.
    pub rule: String,
    pub points: f64,
    /// What shows it: the dates, the finding's message and place.
    pub evidence: String,
}

/// An agency's score.
#[derive(Clone, Debug)]
pub struct Scored<'a> {
    pub row: &'a AgencyRow<'a>,
    pub score: f64,
    pub deductions: Vec<Deduction>,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The leading number of a measured similarity (`93%`, `0.93`) as 0–1.
fn similarity_of(actual: &str) -> Option<f64> {
    let t = actual.trim();
    let num: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v: f64 = num.parse().ok()?;
    Some(if t[num.len()..].trim_start().starts_with('%') || v > 1.0 {
        v / 100.0
    } else {
        v
    })
}

/// The days from `a` to `b` (positive when `b` is later).
fn days_between(a: Date, b: Date) -> i64 {
    (b.start_ms_cst() - a.start_ms_cst()) / 86_400_000
}

impl ScoringConfig {
    /// Scores one agency.
    pub fn score<'a>(&self, row: &'a AgencyRow<'a>) -> Scored<'a> {
        let mut d = Vec::new();
        match (row.standing, row.reported_on) {
            (Standing::Late, Some(on)) => {
                let days = days_between(row.deadline, on).max(1);
                let points = (self.late + self.late_per_day * days as f64).min(self.late_max);
                d.push(Deduction {
                    indicator: "未按时发布",
                    rule: "report-late".into(),
                    points,
                    evidence: format!(
                        "截止日期 {}，{} 发布/报送，逾期 {days} 天",
                        row.deadline.chinese(),
                        on.chinese()
                    ),
                });
            }
            (Standing::Overdue, _) => d.push(Deduction {
                indicator: "未报送",
                rule: "report-missing".into(),
                points: self.missing,
                evidence: format!("截止日期 {} 已过，仍未收到报告", row.deadline.chinese()),
            }),
            _ => {}
        }
        let (mut errors, mut warnings) = (0.0_f64, 0.0_f64);
        if let Some(rep) = row.latest() {
            for f in &rep.findings {
                let place = f
                    .cell
                    .as_deref()
                    .map(|c| format!("（{c}）"))
                    .unwrap_or_default();
                let evidence = format!("{}{place}", f.message);
                match f.rule.as_str() {
                    "report-late" | "report-missing" => {}
                    "part-missing" | "table-missing" => d.push(Deduction {
                        indicator: "内容缺项",
                        rule: f.rule.clone(),
                        points: self.missing_part,
                        evidence,
                    }),
                    "duplicate-peer" | "duplicate-previous-year" => {
                        let sim = f.actual.as_deref().and_then(similarity_of);
                        if sim.is_some_and(|s| s + 1e-9 >= self.similarity_threshold) {
                            d.push(Deduction {
                                indicator: "雷同",
                                rule: f.rule.clone(),
                                points: self.similarity,
                                evidence,
                            });
                        }
                    }
                    _ if f.severity == "error" => {
                        let p = self.error.min(self.error_max - errors).max(0.0);
                        errors += p;
                        if p > 0.0 {
                            d.push(Deduction {
                                indicator: "其他错误",
                                rule: f.rule.clone(),
                                points: p,
                                evidence,
                            });
                        }
                    }
                    _ if f.severity == "warning" => {
                        let p = self.warning.min(self.warning_max - warnings).max(0.0);
                        warnings += p;
                        if p > 0.0 {
                            d.push(Deduction {
                                indicator: "其他警告",
                                rule: f.rule.clone(),
                                points: p,
                                evidence,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        for x in &mut d {
            x.points = round1(x.points);
        }
        let lost: f64 = d.iter().map(|x| x.points).sum();
        Scored {
            row,
            score: round1((self.base - lost).max(0.0)),
            deductions: d,
        }
    }

    /// The ranking: best score first, ties by name.
    pub fn rank<'a>(&self, rows: &'a [AgencyRow<'a>]) -> Vec<Scored<'a>> {
        let mut out: Vec<Scored<'a>> = rows.iter().map(|r| self.score(r)).collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.row.agency.name.cmp(&b.row.agency.name))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nianbao_directory::Directory;
    use nianbao_proto::v1::{Finding, Report};

    fn finding(rule: &str, severity: &str, actual: Option<&str>) -> Finding {
        Finding {
            rule: rule.into(),
            severity: severity.into(),
            message: format!("{rule} 的说明"),
            cell: Some("R24".into()),
            actual: actual.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn every_indicator_deducts_with_its_evidence() {
        let dir = Directory::from_toml(
            "default_office = \"a\"\n[[offices]]\nid = \"a\"\nname = \"A\"\nlevel = \"county\"\n\
             [[agencies]]\nname = \"甲局\"\noffice = \"a\"\nkind = \"department\"\n\
             [[agencies]]\nname = \"乙局\"\noffice = \"a\"\nkind = \"department\"\n",
        )
        .unwrap();
        let late = Report {
            findings: vec![
                finding("part-missing", "error", None),
                finding("duplicate-peer", "warning", Some("95%")),
                finding("duplicate-previous-year", "warning", Some("85%")),
                finding("t3-balance", "error", None),
                finding("year-mismatch", "warning", None),
                finding("report-late", "error", None),
            ],
            ..Default::default()
        };
        let deadline = Date::new(2025, 1, 31).unwrap();
        let row = |name: &str, standing, reported_on, reports| AgencyRow {
            agency: dir.agency(name).unwrap(),
            office: dir.office("a").unwrap(),
            deadline,
            standing,
            reports,
            reported_on,
            errors: 0,
            warnings: 0,
            last_change_ms: 0,
        };
        let rows = vec![
            row("甲局", Standing::Late, Date::new(2025, 2, 10), vec![&late]),
            row("乙局", Standing::Overdue, None, vec![]),
        ];
        let pack = ScoringConfig::default();
        let ranked = pack.rank(&rows);
        let a = &ranked[0];
        assert_eq!(a.row.agency.name, "甲局");
        let got: Vec<(&str, &str, f64)> = a
            .deductions
            .iter()
            .map(|d| (d.indicator, d.rule.as_str(), d.points))
            .collect();
        assert_eq!(
            got,
            [
                ("未按时发布", "report-late", 7.0),
                ("内容缺项", "part-missing", 5.0),
                ("雷同", "duplicate-peer", 10.0),
                ("其他错误", "t3-balance", 2.0),
                ("其他警告", "year-mismatch", 0.5),
            ]
        );
        assert!(a.deductions[0].evidence.contains("逾期 10 天"));
        assert!(a.deductions[3].evidence.contains("（R24）"));
        assert_eq!(a.score, 75.5);
        assert_eq!(ranked[1].score, 60.0);
        assert_eq!(ranked[1].deductions[0].indicator, "未报送");
    }

    #[test]
    fn similarities_read_as_fractions() {
        assert_eq!(similarity_of("93%"), Some(0.93));
        assert_eq!(similarity_of("0.95"), Some(0.95));
        assert_eq!(similarity_of("90 %"), Some(0.9));
        assert_eq!(similarity_of("< 90%"), None);
        assert_eq!(similarity_of(""), None);
    }
}
