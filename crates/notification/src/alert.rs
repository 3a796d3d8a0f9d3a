//! Alerts: what is stored, streamed and delivered, and the Chinese text an office reads.

use nianbao_model::Severity;
use nianbao_proto::v1;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// Schema tag of the JSON the outbox and webhooks carry, so that receivers can tell versions apart.
pub const ALERT_SCHEMA: &str = "nianbao.alert/v1";

/// At most this many findings are spelled out in the message; the alert itself carries all of them.
const MESSAGE_MAX_FINDINGS: usize = 20;

/// A finding as alerts store and deliver it (the fields of `nianbao check --json`).
use nianbao_model::StoredFinding;

/// The severity, an unknown word counting as a warning: a newer validator's level must not make an
/// alert disappear, nor shout as an error.
pub fn level(f: &StoredFinding) -> Severity {
    f.severity.parse().unwrap_or(Severity::Warning)
}

/// `第三部分，单元格 R24（自然人列），第57行`, the way `nianbao check` writes it.
pub fn location(f: &StoredFinding) -> String {
    f.location()
}

/// Status of an alert: `open` until someone in the office acknowledges it; `resolved` once a
/// corrected version (or the missing report) arrived. Resolution messages are born resolved.
pub const STATUS_OPEN: &str = "open";
pub const STATUS_ACKNOWLEDGED: &str = "acknowledged";
pub const STATUS_RESOLVED: &str = "resolved";
/// A report version with findings.
pub const KIND_FINDINGS: &str = "findings";
/// 已整改 / 已补报: a corrected version without the findings, or a missing report that arrived.
pub const KIND_RESOLUTION: &str = "resolution";
/// An unacknowledged error alert, sent on to the parent office.
pub const KIND_ESCALATION: &str = "escalation";
/// A roster agency whose report did not arrive by its deadline.
pub const KIND_MISSING: &str = "report-missing";
/// The rule id of the finding a late report carries (and of the missing-report alert's finding).
pub const RULE_LATE: &str = "report-late";
pub const RULE_MISSING: &str = "report-missing";

/// `digest_state` of an alert waiting for its office's digest.
pub const DIGEST_PENDING: &str = "pending";

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
    pub findings: Vec<StoredFinding>,
    pub message: String,
    /// Why the alert went where it went when the agency was not matched exactly (empty otherwise).
    pub route_note: String,
    pub created_at_ms: i64,
    /// 0 while open.
    pub acknowledged_at_ms: i64,
    pub acknowledged_by: String,
    /// What "the same report" means across versions: the directory's agency id and the year.
    pub report_key: String,
    /// Hash of the alerting findings (see [`fingerprint`]): equal for a version that changed nothing.
    pub fingerprint: String,
    /// Whether the alert is one that escalates (an error alert or a missing report).
    pub has_error: bool,
    /// When it was escalated to the parent office (0: not).
    pub escalated_at_ms: i64,
    /// When it was resolved (0: not).
    pub resolved_at_ms: i64,
    /// The alert this one is about (resolution, escalation, a superseded version), or empty.
    pub source_alert_id: String,
    /// "" delivered on its own, `pending` waiting for the office's digest, else the digest's id.
    pub digest_state: String,
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
            route_note: self.route_note.clone(),
            source_alert_id: self.source_alert_id.clone(),
            escalated_at_ms: self.escalated_at_ms,
            resolved_at_ms: self.resolved_at_ms,
            region: self.region.clone(),
            report_key: self.report_key.clone(),
            // The clerks' work on it: `grpc::alert_proto`.
            ..v1::Alert::default()
        }
    }

    /// The first line of the message: what the alert is about, for subjects and titles.
    pub fn headline(&self) -> String {
        let agency = display_agency(&self.agency);
        let year = display_year(self.year);
        match self.kind.as_str() {
            KIND_RESOLUTION => format!("【年报检查·已整改】{agency} {year}"),
            KIND_ESCALATION => format!("【年报检查·督办】{agency} {year}"),
            KIND_MISSING => format!("【年报检查·未报送】{agency} {year}"),
            _ => format!("【年报检查】{agency} {year}"),
        }
    }
}

/// The identity of a finding across versions: rule, severity, place and text (not the line, which
/// moves when text above it changes).
pub fn finding_key(f: &StoredFinding) -> String {
    format!(
        "{}|{}|{:?}|{:?}|{:?}|{}",
        f.rule,
        level(f).as_str(),
        f.part,
        f.cell,
        f.column,
        f.message.trim()
    )
}

/// Order-independent hash of a set of findings.
pub fn fingerprint(findings: &[StoredFinding]) -> String {
    let mut keys: Vec<String> = findings.iter().map(finding_key).collect();
    keys.sort();
    keys.dedup();
    let mut h = Sha256::new();
    for k in keys {
        h.update(k.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..12])
}

/// The agency as messages name it (a placeholder when the report named none).
pub fn display_agency(agency: &str) -> &str {
    if agency.trim().is_empty() {
        "（未识别机关）"
    } else {
        agency.trim()
    }
}

/// The report's year as messages name it.
pub fn display_year(year: i32) -> String {
    if year > 0 {
        format!("{year}年度报告")
    } else {
        "年度报告（年度未识别）".to_string()
    }
}

/// `2 个错误、1 个警告`.
pub fn counts(findings: &[StoredFinding]) -> String {
    let mut out = Vec::new();
    for s in [Severity::Error, Severity::Warning, Severity::Info] {
        let n = findings.iter().filter(|f| level(f) == s).count();
        if n > 0 {
            out.push(format!("{n} 个{}", s.chinese()));
        }
    }
    out.join("、")
}

/// `1. [错误] …（第三部分，单元格 R24（自然人列），第57行）[t3-balance]`, numbered from `first`.
pub fn finding_line(i: usize, f: &StoredFinding) -> String {
    let loc = location(f);
    let msg = f.message.trim().trim_end_matches(['。', '；', ';']);
    let mut s = format!("{i}. [{}] {msg}", level(f).chinese());
    if !loc.is_empty() {
        let _ = write!(s, "（{loc}）");
    }
    let _ = write!(s, "[{}]", f.rule);
    s
}

/// How a corrected version's findings compare with the previous alert's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// In the previous alert, gone now.
    pub fixed: Vec<StoredFinding>,
    /// In both.
    pub kept: Vec<StoredFinding>,
    /// Only now.
    pub added: Vec<StoredFinding>,
}

impl Changes {
    pub fn between(previous: &[StoredFinding], now: &[StoredFinding]) -> Changes {
        let prev: std::collections::HashSet<String> = previous.iter().map(finding_key).collect();
        let cur: std::collections::HashSet<String> = now.iter().map(finding_key).collect();
        Changes {
            fixed: previous
                .iter()
                .filter(|f| !cur.contains(&finding_key(f)))
                .cloned()
                .collect(),
            kept: now
                .iter()
                .filter(|f| prev.contains(&finding_key(f)))
                .cloned()
                .collect(),
            added: now
                .iter()
                .filter(|f| !prev.contains(&finding_key(f)))
                .cloned()
                .collect(),
        }
    }
}

/// The message of an alert about a corrected version that still has findings. `quiet` spells out
/// only the new findings and counts the ones reported before.
pub fn format_update_message(
    agency: &str,
    year: i32,
    findings: &[StoredFinding],
    changes: &Changes,
    quiet: bool,
    route_note: &str,
) -> String {
    let mut head = format!(
        "【年报检查】{} {}更正版本：",
        display_agency(agency),
        display_year(year)
    );
    let mut parts = Vec::new();
    if !changes.fixed.is_empty() {
        parts.push(format!("已整改 {}", counts(&changes.fixed)));
    }
    if !changes.kept.is_empty() {
        parts.push(format!("仍有 {}未整改", counts(&changes.kept)));
    }
    if !changes.added.is_empty() {
        parts.push(format!("新发现 {}", counts(&changes.added)));
    }
    head.push_str(&parts.join("，"));
    let shown: Vec<StoredFinding> = if quiet {
        changes.added.clone()
    } else {
        findings.to_vec()
    };
    if !shown.is_empty() {
        head.push('：');
        let items: Vec<String> = shown
            .iter()
            .take(MESSAGE_MAX_FINDINGS)
            .enumerate()
            .map(|(i, f)| finding_line(i + 1, f))
            .collect();
        head.push_str(&items.join("；"));
        if shown.len() > MESSAGE_MAX_FINDINGS {
            let _ = write!(
                head,
                "；……另有 {} 项，详见告警详情",
                shown.len() - MESSAGE_MAX_FINDINGS
            );
        }
    }
    if quiet && !changes.kept.is_empty() {
        let _ = write!(head, "；已通报的 {} 项问题仍未整改", changes.kept.len());
    }
    head.push('。');
    if !route_note.is_empty() {
        let _ = write!(head, "（{route_note}）");
    }
    head
}

/// 已整改: a corrected version without the alerting findings of `previous`.
pub fn format_resolution_message(agency: &str, year: i32, previous: &AlertRecord) -> String {
    format!(
        "【年报检查·已整改】{} {}已报送更正版本，原通报的 {}已全部整改，告警 {} 关闭。",
        display_agency(agency),
        display_year(year),
        counts(&previous.findings),
        previous.alert_id
    )
}

/// 已补报: the report of an agency that had a missing-report alert arrived.
pub fn format_arrived_message(agency: &str, year: i32, previous: &AlertRecord) -> String {
    format!(
        "【年报检查·已补报】{} {}已收到，未报送告警 {} 关闭。",
        display_agency(agency),
        display_year(year),
        previous.alert_id
    )
}

/// 督办: `original` was not acknowledged by its office within `hours`.
pub fn format_escalation_message(original: &AlertRecord, hours: u64) -> String {
    let body = original
        .message
        .split_once('】')
        .map_or(original.message.as_str(), |(_, rest)| rest);
    format!(
        "【年报检查·督办】{}收到的告警 {} 已超过 {hours} 小时未确认，请督促整改：{body}",
        original.office_name, original.alert_id
    )
}

/// 未报送: an agency of the roster had not published its report by its deadline.
pub fn format_missing_message(agency: &str, year: i32, deadline: &str, kind: &str) -> String {
    format!(
        "【年报检查·未报送】{} {}截至 {deadline}（{kind}报送期限）仍未收到，请督促报送。[{RULE_MISSING}]",
        display_agency(agency),
        display_year(year),
    )
}

/// The finding a report published after its deadline carries.
pub fn late_finding(arrived: &str, deadline: &str, published: bool) -> StoredFinding {
    let how = if published { "发布" } else { "收到" };
    StoredFinding {
        rule: RULE_LATE.to_string(),
        severity: nianbao_model::RuleId::ReportLate
            .default_severity()
            .as_str()
            .to_string(),
        message: format!("报告于 {arrived} {how}，晚于报送期限 {deadline}"),
        part: None,
        cell: None,
        column: None,
        expected: Some(deadline.to_string()),
        actual: Some(arrived.to_string()),
        line: None,
    }
}

/// The findings that alert at `min` (never info), errors first, in the validator's order within a
/// severity.
pub fn alerting_findings(findings: &[v1::Finding], min: Severity) -> Vec<StoredFinding> {
    let min = min.max(Severity::Warning);
    let mut v: Vec<StoredFinding> = findings
        .iter()
        .map(StoredFinding::from)
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
    findings: &[StoredFinding],
    route_note: &str,
) -> String {
    let mut out = format!(
        "【年报检查】{} {}发现 {}：",
        display_agency(agency),
        display_year(year),
        counts(findings)
    );
    let items: Vec<String> = findings
        .iter()
        .take(MESSAGE_MAX_FINDINGS)
        .enumerate()
        .map(|(i, f)| finding_line(i + 1, f))
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
             1. [错误] 表三 自然人 列：第一项加第二项之和(41)不等于第三项加第四项之和(40)，相差1（第三部分，单元格 R24（自然人列），第57行）[t3-balance]；\
             2. [错误] 缺少第五部分[t3-balance]；\
             3. [警告] 表二 行政许可 收费金额较大（第二部分，单元格 A10）[t3-balance]。"
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
            "【年报检查】（未识别机关） 年度报告（年度未识别）发现 1 个错误：1. [错误] 无法读取[t3-balance]。"
        ));
        assert!(m.ends_with("（机关「」不在名录中，发往默认办公室）"));
    }

    #[test]
    fn long_lists_are_cut() {
        let many: Vec<_> = (0..25).map(|i| f("error", &format!("问题{i}"))).collect();
        let found = alerting_findings(&many, Severity::Warning);
        let m = format_message("某局", 2024, &found, "");
        assert!(m.contains("20. [错误] 问题19[t3-balance]"));
        assert!(!m.contains("问题20"));
        assert!(m.contains("另有 5 项"));
    }

    #[test]
    fn changes_and_update_messages() {
        let a = alerting_findings(&[f("error", "甲"), f("warning", "乙")], Severity::Warning);
        let b = alerting_findings(&[f("warning", "乙"), f("warning", "丙")], Severity::Warning);
        assert_eq!(fingerprint(&a), fingerprint(&[a[1].clone(), a[0].clone()]));
        assert_ne!(fingerprint(&a), fingerprint(&b));
        let c = Changes::between(&a, &b);
        assert_eq!((c.fixed.len(), c.kept.len(), c.added.len()), (1, 1, 1));
        let full = format_update_message("某局", 2024, &b, &c, false, "");
        assert_eq!(
            full,
            "【年报检查】某局 2024年度报告更正版本：已整改 1 个错误，仍有 1 个警告未整改，新发现 1 个警告：\
             1. [警告] 乙[t3-balance]；2. [警告] 丙[t3-balance]。"
        );
        let quiet = format_update_message("某局", 2024, &b, &c, true, "");
        assert!(quiet.contains("1. [警告] 丙[t3-balance]"), "{quiet}");
        assert!(!quiet.contains("乙"), "{quiet}");
        assert!(quiet.ends_with("已通报的 1 项问题仍未整改。"), "{quiet}");
    }

    #[test]
    fn ids_are_stable_and_json_is_tagged() {
        let a = AlertRecord::id_for("r", "v", "o", KIND_FINDINGS);
        assert_eq!(a, AlertRecord::id_for("r", "v", "o", KIND_FINDINGS));
        assert_ne!(a, AlertRecord::id_for("r", "v2", "o", KIND_FINDINGS));
        assert!(a.starts_with("al-") && a.len() == 27);
    }
}
