//! Alerts: what is stored, streamed and delivered, and the Chinese text an office reads.

use nianbao_model::{Part, Severity, T3Col};
use nianbao_proto::v1;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// Schema tag of the JSON the outbox and webhooks carry, so that receivers can tell versions apart.
pub const ALERT_SCHEMA: &str = "nianbao.alert/v1";

/// At most this many findings are spelled out in the message; the alert itself carries all of them.
const MESSAGE_MAX_FINDINGS: usize = 20;

/// A finding as alerts store and deliver it (the fields of `nianbao check --json`).
pub use nianbao_proto::StoredFinding as FindingRecord;

/// The severity, an unknown word counting as a warning: a newer validator's level must not make an
/// alert disappear, nor shout as an error.
pub fn level(f: &FindingRecord) -> Severity {
    f.severity.parse().unwrap_or(Severity::Warning)
}

/// `第三部分，单元格 R24（自然人列），第57行`, the way `nianbao check` writes it.
pub fn location(f: &FindingRecord) -> String {
    let mut parts = Vec::new();
    if let Some(p) = f
        .part
        .and_then(|p| u8::try_from(p).ok())
        .and_then(Part::from_number)
    {
        parts.push(format!("第{}部分", p.numeral()));
    }
    if let Some(c) = &f.cell {
        let mut s = format!("单元格 {c}");
        if let Some(col) = f
            .column
            .and_then(|i| usize::try_from(i).ok())
            .and_then(T3Col::from_index)
        {
            let _ = write!(s, "（{}列）", col.label());
        }
        parts.push(s);
    }
    if let Some(l) = f.line {
        parts.push(format!("第{l}行"));
    }
    parts.join("，")
}

/// Status of an alert: `open` until someone in the office acknowledges it. (`resolved` arrives with
/// re-validation in the routing issue.)
pub const STATUS_OPEN: &str = "open";
pub const STATUS_ACKNOWLEDGED: &str = "acknowledged";
/// The only kind this issue creates: a report with findings.
pub const KIND_FINDINGS: &str = "findings";

/// One alert for one office about one version of one report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub alert_id: String,
    pub office_id: String,
    pub office_name: String,
    pub report_id: String,
    pub version: String,
    pub agency: String,
    pub year: i32,
    pub region: String,
    pub status: String,
    pub kind: String,
    pub findings: Vec<FindingRecord>,
    pub message: String,
    /// Why the alert went where it went when the agency was not matched exactly (empty otherwise).
    pub route_note: String,
    pub created_at_ms: i64,
    /// 0 while open.
    pub acknowledged_at_ms: i64,
    pub acknowledged_by: String,
}

impl AlertRecord {
    /// A stable id from what makes an alert unique, so that two workers racing on one redelivered
    /// event compute the same id and the store keeps one.
    pub fn id_for(report_id: &str, version: &str, office_id: &str, kind: &str) -> String {
        let mut h = Sha256::new();
        for part in [report_id, version, office_id, kind] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        format!("al-{}", &hex::encode(h.finalize())[..24])
    }

    /// The JSON the outbox and webhooks carry: the record plus its schema tag.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("schema".into(), ALERT_SCHEMA.into());
        }
        v
    }

    pub fn to_proto(&self) -> v1::Alert {
        v1::Alert {
            alert_id: self.alert_id.clone(),
            office_id: self.office_id.clone(),
            office_name: self.office_name.clone(),
            report_id: self.report_id.clone(),
            version: self.version.clone(),
            agency: self.agency.clone(),
            year: self.year,
            status: self.status.clone(),
            findings: self.findings.iter().map(v1::Finding::from).collect(),
            message: self.message.clone(),
            created_at_ms: self.created_at_ms,
            acknowledged_at_ms: self.acknowledged_at_ms,
            acknowledged_by: self.acknowledged_by.clone(),
            kind: self.kind.clone(),
        }
    }
}

/// The findings that alert at `min` (never info), errors first, in the validator's order within a
/// severity.
pub fn alerting_findings(findings: &[v1::Finding], min: Severity) -> Vec<FindingRecord> {
    let min = min.max(Severity::Warning);
    let mut v: Vec<FindingRecord> = findings
        .iter()
        .map(FindingRecord::from)
        .filter(|f| level(f) >= min)
        .collect();
    v.sort_by_key(|f| std::cmp::Reverse(level(f)));
    v
}

/// The message the channels deliver, e.g.
/// `【年报检查】郑县东城街道办事处 2024年度报告发现 2 个错误、1 个警告：1. [错误] …（第三部分，单元格 R24（自然人列），第57行）；2. …`
/// `findings` are expected sorted (see [`alerting_findings`]).
pub fn format_message(
    agency: &str,
    year: i32,
    findings: &[FindingRecord],
    route_note: &str,
) -> String {
    let agency = if agency.trim().is_empty() {
        "（未识别机关）"
    } else {
        agency.trim()
    };
    let year = if year > 0 {
        format!("{year}年度报告")
    } else {
        "年度报告（年度未识别）".to_string()
    };
    let count = |s: Severity| findings.iter().filter(|f| level(f) == s).count();
    let mut counts = Vec::new();
    for s in [Severity::Error, Severity::Warning, Severity::Info] {
        let n = count(s);
        if n > 0 {
            counts.push(format!("{n} 个{}", s.chinese()));
        }
    }
    let mut out = format!("【年报检查】{agency} {year}发现 {}：", counts.join("、"));
    let items: Vec<String> = findings
        .iter()
        .take(MESSAGE_MAX_FINDINGS)
        .enumerate()
        .map(|(i, f)| {
            let loc = location(f);
            let msg = f.message.trim().trim_end_matches(['。', '；', ';']);
            let mut s = format!("{}. [{}] {msg}", i + 1, level(f).chinese());
            if !loc.is_empty() {
                let _ = write!(s, "（{loc}）");
            }
            s
        })
        .collect();
    out.push_str(&items.join("；"));
    if findings.len() > MESSAGE_MAX_FINDINGS {
        let _ = write!(
            out,
            "；……另有 {} 项，详见告警详情",
            findings.len() - MESSAGE_MAX_FINDINGS
        );
    }
    out.push('。');
    if !route_note.is_empty() {
        let _ = write!(out, "（{route_note}）");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(sev: &str, msg: &str) -> v1::Finding {
        v1::Finding {
            rule: "t3-balance".into(),
            severity: sev.into(),
            message: msg.into(),
            ..Default::default()
        }
    }

    #[test]
    fn message_names_agency_year_counts_and_locations_errors_first() {
        let mut w = f("warning", "表二 行政许可 收费金额较大");
        w.part = Some(2);
        w.cell = Some("A10".into());
        let mut e = f(
            "error",
            "表三 自然人 列：第一项加第二项之和(41)不等于第三项加第四项之和(40)，相差1",
        );
        e.part = Some(3);
        e.cell = Some("R24".into());
        e.column = Some(0);
        e.line = Some(57);
        let e2 = f("error", "缺少第五部分。");
        let info = f("info", "标签与标准格式不同");
        let found = alerting_findings(&[w, e, info, e2], Severity::Warning);
        assert_eq!(found.len(), 3);
        let m = format_message("郑县东城街道办事处", 2024, &found, "");
        assert_eq!(
            m,
            "【年报检查】郑县东城街道办事处 2024年度报告发现 2 个错误、1 个警告：\
             1. [错误] 表三 自然人 列：第一项加第二项之和(41)不等于第三项加第四项之和(40)，相差1（第三部分，单元格 R24（自然人列），第57行）；\
             2. [错误] 缺少第五部分；\
             3. [警告] 表二 行政许可 收费金额较大（第二部分，单元格 A10）。"
        );
    }

    #[test]
    fn info_never_alerts_and_min_severity_filters() {
        assert!(alerting_findings(&[f("info", "x")], Severity::Info).is_empty());
        assert!(alerting_findings(&[f("warning", "x")], Severity::Error).is_empty());
        assert_eq!(
            alerting_findings(&[f("bogus", "x")], Severity::Warning).len(),
            1
        );
    }

    #[test]
    fn unknown_agency_and_year_and_route_note() {
        let found = alerting_findings(&[f("error", "无法读取")], Severity::Warning);
        let m = format_message("", 0, &found, "机关「」不在名录中，发往默认办公室");
        assert!(m.starts_with(
            "【年报检查】（未识别机关） 年度报告（年度未识别）发现 1 个错误：1. [错误] 无法读取。"
        ));
        assert!(m.ends_with("（机关「」不在名录中，发往默认办公室）"));
    }

    #[test]
    fn long_lists_are_cut() {
        let many: Vec<_> = (0..25).map(|i| f("error", &format!("问题{i}"))).collect();
        let found = alerting_findings(&many, Severity::Warning);
        let m = format_message("某局", 2024, &found, "");
        assert!(m.contains("20. [错误] 问题19"));
        assert!(!m.contains("问题20"));
        assert!(m.contains("另有 5 项"));
    }

    #[test]
    fn ids_are_stable_and_json_is_tagged() {
        let a = AlertRecord::id_for("r", "v", "o", KIND_FINDINGS);
        assert_eq!(a, AlertRecord::id_for("r", "v", "o", KIND_FINDINGS));
        assert_ne!(a, AlertRecord::id_for("r", "v2", "o", KIND_FINDINGS));
        assert!(a.starts_with("al-") && a.len() == 27);
    }
}
