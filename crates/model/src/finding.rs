//! Rule ids of the catalogue (`contract.md` §4), severities and findings.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How serious a finding is. Ordered: `Info < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// The word an official reads.
    pub fn chinese(self) -> &'static str {
        match self {
            Severity::Info => "提示",
            Severity::Warning => "警告",
            Severity::Error => "错误",
        }
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!("unknown severity {other:?} (info, warning, error)")),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! rules {
    ($( $variant:ident = $id:literal, $sev:ident, $scope:ident, $zh:literal; )*) => {
        /// Every rule of the catalogue. The string ids are a public interface: never rename one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum RuleId {
            $( #[serde(rename = $id)] #[doc = $zh] $variant, )*
        }

        impl RuleId {
            pub const ALL: &'static [RuleId] = &[ $( RuleId::$variant, )* ];

            /// The stable English id, e.g. `t3-balance`.
            pub fn as_str(self) -> &'static str {
                match self { $( RuleId::$variant => $id, )* }
            }

            /// The default severity of the catalogue; deployments may override it.
            pub fn default_severity(self) -> Severity {
                match self { $( RuleId::$variant => Severity::$sev, )* }
            }

            /// Whether the rule needs only the one report (`Single`) or other reports / the roster.
            pub fn scope(self) -> RuleScope {
                match self { $( RuleId::$variant => RuleScope::$scope, )* }
            }

            /// A short Chinese title for people.
            pub fn title(self) -> &'static str {
                match self { $( RuleId::$variant => $zh, )* }
            }
        }

        impl FromStr for RuleId {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $id => Ok(RuleId::$variant), )*
                    other => Err(format!("unknown rule id {other:?}")),
                }
            }
        }
    };
}

/// What a rule needs to be evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleScope {
    /// The one report alone: `nianbao check` runs these.
    Single,
    /// Earlier reports of the same or other agencies (the validation service's store).
    CrossReport,
    /// The roster of agencies and their deadlines (the notification service).
    Roster,
}

rules! {
    PartMissing = "part-missing", Error, Single, "报告缺少部分";
    SubitemMissing = "subitem-missing", Warning, Single, "总体情况缺少子项";
    TableMissing = "table-missing", Error, Single, "表格缺失或无法识别";
    CellMissing = "cell-missing", Error, Single, "表格单元格空白或无法识别";
    CellInvalid = "cell-invalid", Error, Single, "表格数值无效";
    TemplateOutdated = "template-outdated", Error, Single, "使用了2019年试行格式";
    LabelMismatch = "label-mismatch", Info, Single, "标签与官方格式不一致";
    T3RowTotal = "t3-row-total", Error, Single, "表三行总计不等于各列之和";
    T3ResultTotal = "t3-result-total", Error, Single, "表三（七）总计不等于各办理结果之和";
    T3Balance = "t3-balance", Error, Single, "表三勾稽关系不平衡";
    T4Total = "t4-total", Error, Single, "表四总计不等于各结果之和";
    T2RegulationScope = "t2-regulation-scope", Warning, Single, "无规章制定权的机关填报了规章";
    T2FeeScale = "t2-fee-scale", Warning, Single, "行政事业性收费金额疑似单位错误";
    T3CarryoverHigh = "t3-carryover-high", Warning, Single, "结转下年度数量大于本年新收数量";
    NarrativeTableMismatch = "narrative-table-mismatch", Warning, Single, "正文与表格数据不一致";
    YearMismatch = "year-mismatch", Warning, Single, "年份与报告年度不一致";
    RectificationMissing = "rectification-missing", Warning, Single, "第五部分只写问题未写改进措施";
    FeeStatementMissing = "fee-statement-missing", Warning, Single, "未说明信息处理费收取情况";
    CarryoverContinuity = "carryover-continuity", Warning, CrossReport, "上年结转与上年度报告结转下年度不一致";
    T2StockFlow = "t2-stock-flow", Info, CrossReport, "现行有效件数与上年度不衔接";
    DuplicatePreviousYear = "duplicate-previous-year", Warning, CrossReport, "与上年度报告内容雷同";
    DuplicatePeer = "duplicate-peer", Warning, CrossReport, "与其他机关同年度报告内容雷同";
    ReportLate = "report-late", Error, Roster, "报告逾期发布或报送";
    ReportMissing = "report-missing", Error, Roster, "截止日期已过仍未收到报告";
    ReportChanged = "report-changed", Warning, CrossReport, "已收到的报告被替换为不同版本";
    AgencyConflict = "agency-conflict", Warning, CrossReport, "报告署名、提交机关与地区不一致";
    Unreadable = "unreadable", Error, Single, "文件无法读取或解析";
    TableBlank = "table-blank", Error, Single, "表格整表空白";
    T2DecisionScale = "t2-decision-scale", Warning, Single, "行政许可、处罚、强制处理决定数量与机关层级不符";
    FeeNoticeMissing = "fee-notice-missing", Warning, Single, "表三有逾期未缴费但未报告收费通知和金额";
    FeeAmountMismatch = "fee-amount-mismatch", Warning, Single, "信息处理费金额与表二行政事业性收费不一致";
    ProblemsThin = "problems-thin", Warning, Single, "第五部分内容过于简单";
    AssessmentMissing = "assessment-missing", Warning, Single, "人民政府年报未报告工作考核、社会评议和责任追究情况";
    PreviousProblemsUnaddressed = "previous-problems-unaddressed", Warning, CrossReport, "未报告上年度所列问题的整改情况";
    PreviousFindingsRecurring = "previous-findings-recurring", Warning, CrossReport, "上年度报告检查发现的问题本年度再次出现";
}

impl RuleId {
    /// Rules a deployment must switch on (`enabled = [...]` or a severity in `[severity]`): checks
    /// whose basis is law but which reports that supervising offices accept omit, so that on by
    /// default they would warn about most of a province (the real 淮安市人民政府 2024 report, whose
    /// truth is "no finding", says nothing of Art. 50(4)'s 社会评议 and 责任追究; its 监督保障 has
    /// only 监测指标, 检查, 评估分报告 and 督促整改, words every report's 监督保障 has: issue #25.5).
    pub const OPT_IN: &'static [RuleId] = &[RuleId::AssessmentMissing];

    /// Whether the rule runs without being switched on (see [`RuleId::OPT_IN`]).
    pub fn enabled_by_default(self) -> bool {
        !RuleId::OPT_IN.contains(&self)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a report, with where to look. Field names and meaning are fixed by
/// `contract.md` §3.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: RuleId,
    pub severity: Severity,
    /// Chinese, for the official who must act on it.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u8>,
    /// Canonical cell id (`A01`, `R24`, `D05`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// 表三 column index 0–6 where the finding is about one column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// 1-based line of the source text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Finding {
    /// A finding with the rule's default severity and no location yet.
    pub fn new(rule: RuleId, message: impl Into<String>) -> Finding {
        Finding {
            rule,
            severity: rule.default_severity(),
            message: message.into(),
            part: None,
            cell: None,
            column: None,
            expected: None,
            actual: None,
            line: None,
        }
    }

    pub fn part(mut self, part: u8) -> Self {
        self.part = Some(part);
        self
    }

    pub fn cell(mut self, cell: impl Into<String>) -> Self {
        self.cell = Some(cell.into());
        self
    }

    pub fn column(mut self, column: u8) -> Self {
        self.column = Some(column);
        self
    }

    pub fn expected(mut self, v: impl ToString) -> Self {
        self.expected = Some(v.to_string());
        self
    }

    pub fn actual(mut self, v: impl ToString) -> Self {
        self.actual = Some(v.to_string());
        self
    }

    pub fn line(mut self, line: Option<u32>) -> Self {
        self.line = line;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_back_and_serialize_as_strings() {
        for &r in RuleId::ALL {
            assert_eq!(r.as_str().parse::<RuleId>(), Ok(r));
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert_eq!(RuleId::ALL.len(), 35);
        assert_eq!(RuleId::ReportLate.default_severity(), Severity::Error);
        assert!(!RuleId::AssessmentMissing.enabled_by_default());
        assert!(RuleId::ProblemsThin.enabled_by_default());
        assert_eq!(RuleId::T3Balance.default_severity(), Severity::Error);
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
    }

    #[test]
    fn finding_json_omits_absent_locations() {
        let f = Finding::new(RuleId::PartMissing, "缺少第六部分").part(6);
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["rule"], "part-missing");
        assert_eq!(v["severity"], "error");
        assert_eq!(v["part"], 6);
        assert!(v.get("cell").is_none());
    }
}
