//! The engine with an injected clock, a real SQLite store and the outbox as the channel the
//! office reads: routing, one alert per version, dedup, resolution, digests, escalation, roster.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_directory::{Date, Directory};
use nianbao_model::Severity;
use nianbao_notification::alert::{
    AlertRecord, DIGEST_PENDING, KIND_ESCALATION, KIND_FINDINGS, KIND_MISSING, KIND_RESOLUTION,
    STATUS_ACKNOWLEDGED, STATUS_OPEN, STATUS_RESOLVED,
};
use nianbao_notification::clock::{HOUR_MS, MINUTE_MS, ManualClock};
use nianbao_notification::config::RosterConfig;
use nianbao_notification::deliver::{Channel, Deliverer, SmtpSettings, WebhookSettings};
use nianbao_notification::engine::{Engine, Policy};
use nianbao_notification::store::{AlertQuery, Store};
use nianbao_proto::v1;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

const DIRECTORY: &str = r#"
default_office = "province"

[[offices]]
id = "province"
name = "楚江省人民政府办公厅"
level = "province"

[[offices]]
id = "390100"
name = "江州市人民政府办公室"
level = "city"
parent = "province"

[[offices]]
id = "390121"
name = "清河县人民政府办公室"
level = "county"
parent = "390100"
escalate_after_hours = 24

[[offices]]
id = "390122"
name = "安平县人民政府办公室"
level = "county"
parent = "390100"
digest_minutes = 30
repeats = "quiet"
min_severity = "error"

[[agencies]]
name = "清河县财政局"
office = "390121"

[[agencies]]
name = "清河县河西街道办事处"
aliases = ["河西街道办事处"]
office = "390121"

[[agencies]]
name = "清河县人民政府"
office = "390100"

[[agencies]]
name = "安平县教育局"
office = "390122"

[[agencies]]
name = "安平县审计局"
office = "390122"
"#;

struct Fixture {
    engine: Engine,
    clock: Arc<ManualClock>,
    outbox: PathBuf,
    _dir: tempfile::TempDir,
    _stop: nianbao_service::Trigger,
}

/// 2025-06-01 00:00 Beijing time: reports for 2024 are all past their deadlines.
fn june_2025() -> i64 {
    Date::new(2025, 6, 1).unwrap().start_ms_cst()
}

async fn fixture(now_ms: i64, roster: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/n.db?mode=rwc", dir.path().display()))
        .await
        .unwrap();
    let (stop, stop_rx) = nianbao_service::Shutdown::new();
    let outbox = dir.path().join("outbox.jsonl");
    let deliverer = Deliverer::new(
        store.clone(),
        outbox.clone(),
        WebhookSettings {
            timeout: Duration::from_secs(2),
            retries: 0,
            backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            failing_after: 3,
            robot_interval: Duration::ZERO,
        },
        &SmtpSettings::default(),
        stop_rx,
    )
    .unwrap();
    let clock = ManualClock::new(now_ms);
    let (alerts, _) = broadcast::channel(64);
    let engine = Engine {
        store,
        directory: Arc::new(Directory::from_toml(DIRECTORY).unwrap()),
        deliverer: Arc::new(deliverer),
        clock: clock.clone(),
        policy: Policy {
            min_severity: Severity::Warning,
            default_channels: vec![Channel::Inbox, Channel::Outbox],
            escalate_after_hours: 72,
            roster: RosterConfig {
                enabled: roster,
                year: 0,
                grace_days: 0,
            },
        },
        alerts,
        locks: Default::default(),
    };
    Fixture {
        engine,
        clock,
        outbox,
        _dir: dir,
        _stop: stop,
    }
}

impl Fixture {
    /// What the offices received through the outbox.
    fn sent(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.outbox)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    async fn validated(
        &self,
        report: &str,
        version: &str,
        agency: &str,
        findings: Vec<v1::Finding>,
    ) -> Vec<AlertRecord> {
        self.validated_on(report, version, agency, findings, "")
            .await
    }

    async fn validated_on(
        &self,
        report: &str,
        version: &str,
        agency: &str,
        findings: Vec<v1::Finding>,
        published_on: &str,
    ) -> Vec<AlertRecord> {
        let (mut ev, mut meta) = event(report, version, agency, findings, published_on);
        meta.submitted_at_ms = self.clock_now();
        ev.meta = Some(meta.clone());
        self.engine.on_validated(&ev, &meta).await.unwrap()
    }

    fn clock_now(&self) -> i64 {
        use nianbao_notification::clock::Clock as _;
        self.clock.now_ms()
    }

    async fn get(&self, id: &str) -> AlertRecord {
        self.engine.store.get_alert(id).await.unwrap().unwrap()
    }

    async fn all(&self, office: &str) -> Vec<AlertRecord> {
        self.engine
            .store
            .list_alerts(&AlertQuery {
                office_id: Some(office.into()),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .0
    }
}

/// A `report.validated` event of a 2024 report from region 390121.
fn event(
    report: &str,
    version: &str,
    agency: &str,
    findings: Vec<v1::Finding>,
    published_on: &str,
) -> (v1::ReportValidated, v1::EventMeta) {
    let meta = v1::EventMeta {
        report_id: report.into(),
        version: version.into(),
        attempt: 1,
        region: "390121".into(),
        ..Default::default()
    };
    let ev = v1::ReportValidated {
        meta: Some(meta.clone()),
        agency: agency.into(),
        year: 2024,
        findings,
        published_on: published_on.into(),
        agency_verified: true,
        agency_id: String::new(),
        publication_witnessed: false,
        backfill: false,
    };
    (ev, meta)
}

fn finding(sev: &str, rule: &str, msg: &str, cell: Option<&str>) -> v1::Finding {
    v1::Finding {
        rule: rule.into(),
        severity: sev.into(),
        message: msg.into(),
        part: Some(3),
        cell: cell.map(Into::into),
        line: Some(40),
        ..Default::default()
    }
}

fn defects() -> Vec<v1::Finding> {
    vec![
        finding("warning", "t3-carryover-high", "结转数量偏高", Some("R25")),
        finding("info", "label-mismatch", "标签与标准格式不同", None),
        finding(
            "error",
            "t3-balance",
            "表三 自然人 列：第一项加第二项之和(41)不等于第三项加第四项之和(40)，相差1",
            Some("R24"),
        ),
    ]
}

#[tokio::test]
async fn one_alert_per_version_at_the_supervising_office_errors_first_no_info() {
    let f = fixture(june_2025(), false).await;
    let got = f.validated("r1", "v1", "河西街道办事处", defects()).await;
    assert_eq!(got.len(), 1);
    let a = &got[0];
    assert_eq!(
        (a.office_id.as_str(), a.agency.as_str(), a.kind.as_str()),
        ("390121", "清河县河西街道办事处", KIND_FINDINGS)
    );
    assert_eq!(a.findings.len(), 2, "info never alerts");
    assert_eq!(a.findings[0].severity, "error");
    assert!(a.has_error);
    assert_eq!(a.report_key, "清河县河西街道办事处|2024");
    assert!(
        a.message.starts_with(
            "【年报检查】清河县河西街道办事处 2024年度报告发现 1 个错误、1 个警告：1. [错误] 表三 自然人 列"
        ),
        "{}",
        a.message
    );
    assert!(
        a.message
            .contains("（第三部分，单元格 R24，第40行）[t3-balance]")
    );
    assert_eq!(f.sent().len(), 1);
    assert_eq!(f.sent()[0]["alert_id"], a.alert_id.as_str());

    // The same event again (a redelivery): the same alert, nothing sent again.
    let again = f.validated("r1", "v1", "河西街道办事处", defects()).await;
    assert_eq!(again[0].alert_id, a.alert_id);
    assert_eq!(f.sent().len(), 1);

    // No alerting findings, no earlier alert: nothing at all.
    let none = f
        .validated(
            "r2",
            "v1",
            "清河县财政局",
            vec![finding("info", "label-mismatch", "x", None)],
        )
        .await;
    assert!(none.is_empty());
    assert_eq!(f.sent().len(), 1);
}

#[tokio::test]
async fn unmatched_agencies_go_to_the_province_office_with_the_reason() {
    let f = fixture(june_2025(), false).await;
    let got = f.validated("r9", "v1", "云阳市财政局", defects()).await;
    assert_eq!(got[0].office_id, "province");
    assert!(
        got[0].route_note.contains("不在名录中"),
        "{}",
        got[0].route_note
    );
    assert!(
        got[0]
            .message
            .ends_with("（机关「云阳市财政局」不在名录中，发往默认办公室）")
    );
}

#[tokio::test]
async fn a_new_version_with_the_same_findings_is_not_sent_again() {
    let f = fixture(june_2025(), false).await;
    let first = f.validated("r1", "v1", "清河县财政局", defects()).await;
    // Re-submitted with a different file (other lines, same problems).
    let mut moved = defects();
    for x in &mut moved {
        x.line = Some(77);
    }
    let second = f.validated("r1b", "v2", "清河县财政局", moved).await;
    assert_eq!(second.len(), 1);
    assert_eq!(
        second[0].alert_id, first[0].alert_id,
        "the open alert stands"
    );
    assert_eq!(f.sent().len(), 1, "never sent twice");
    assert_eq!(f.all("390121").await.len(), 1);
}

#[tokio::test]
async fn a_corrected_version_resolves_the_alert_with_a_message() {
    let f = fixture(june_2025(), false).await;
    let first = f.validated("r1", "v1", "清河县财政局", defects()).await;
    f.clock.advance_hours(5);
    // Validation flags every replaced version (report-changed); here it is the correction the
    // office asked for, so it does not count.
    let fixed = f
        .validated(
            "r2",
            "v2",
            "清河县财政局",
            vec![
                finding("info", "label-mismatch", "x", None),
                finding(
                    "warning",
                    "report-changed",
                    "本机关2024年度报告此前已收到另一版本",
                    None,
                ),
            ],
        )
        .await;
    assert_eq!(fixed.len(), 1);
    let r = &fixed[0];
    assert_eq!(
        (r.kind.as_str(), r.status.as_str()),
        (KIND_RESOLUTION, STATUS_RESOLVED)
    );
    assert_eq!(r.source_alert_id, first[0].alert_id);
    assert_eq!(
        r.message,
        format!(
            "【年报检查·已整改】清河县财政局 2024年度报告已报送更正版本，原通报的 1 个错误、1 个警告已全部整改，告警 {} 关闭。",
            first[0].alert_id
        )
    );
    let old = f.get(&first[0].alert_id).await;
    assert_eq!(old.status, STATUS_RESOLVED);
    assert_eq!(old.resolved_at_ms, june_2025() + 5 * HOUR_MS);
    let sent = f.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["kind"], "resolution");
    // A resolved alert does not escalate.
    f.clock.advance_hours(100);
    assert!(f.engine.tick().await.unwrap().escalated.is_empty());
}

#[tokio::test]
async fn a_partly_corrected_version_says_what_was_fixed_and_supersedes_the_old_alert() {
    let f = fixture(june_2025(), false).await;
    let first = f.validated("r1", "v1", "清河县财政局", defects()).await;
    let second = f
        .validated(
            "r2",
            "v2",
            "清河县财政局",
            vec![
                finding("warning", "t3-carryover-high", "结转数量偏高", Some("R25")),
                finding("warning", "t2-fee-scale", "收费金额偏大", Some("A10")),
            ],
        )
        .await;
    let a = &second[0];
    assert_ne!(a.alert_id, first[0].alert_id);
    assert!(!a.has_error);
    assert!(
        a.message.starts_with(
            "【年报检查】清河县财政局 2024年度报告更正版本：已整改 1 个错误，仍有 1 个警告未整改，新发现 1 个警告："
        ),
        "{}",
        a.message
    );
    // Full repeats (the office's default): both warnings are listed.
    assert!(a.message.contains("结转数量偏高") && a.message.contains("收费金额偏大"));
    assert_eq!(f.get(&first[0].alert_id).await.status, STATUS_RESOLVED);
    assert_eq!(f.sent().len(), 2);
}

#[tokio::test]
async fn office_thresholds_digests_and_quiet_repeats() {
    let f = fixture(june_2025(), false).await;
    // 安平县: min_severity error — a warning-only report does not alert.
    let w = vec![finding(
        "warning",
        "t2-fee-scale",
        "收费金额偏大",
        Some("A10"),
    )];
    assert!(f.validated("a0", "v0", "安平县教育局", w).await.is_empty());

    // Two error reports within the digest window: both in the inbox at once, nothing sent yet.
    let e1 = f.validated("a1", "v1", "安平县教育局", defects()).await;
    f.clock.advance_ms(10 * MINUTE_MS);
    let e2 = f.validated("a2", "v1", "安平县审计局", defects()).await;
    assert_eq!(e1[0].digest_state, DIGEST_PENDING);
    assert_eq!(
        e1[0].findings.len(),
        1,
        "warnings are below this office's threshold"
    );
    assert_eq!(f.all("390122").await.len(), 2);
    assert!(f.sent().is_empty());
    assert!(
        f.engine.tick().await.unwrap().digests.is_empty(),
        "window still open"
    );

    // 30 minutes after the first: one message with both.
    f.clock.advance_ms(21 * MINUTE_MS);
    let t = f.engine.tick().await.unwrap();
    assert_eq!(t.digests.len(), 1);
    let sent = f.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["schema"], "nianbao.digest/v1");
    assert_eq!(sent[0]["count"], 2);
    let text = sent[0]["message"].as_str().unwrap();
    assert!(
        text.starts_with("【年报检查·汇总】安平县人民政府办公室 收到 2 条告警"),
        "{text}"
    );
    assert!(text.contains("安平县教育局") && text.contains("安平县审计局"));
    assert_eq!(f.get(&e2[0].alert_id).await.digest_state, t.digests[0]);
    assert!(
        f.engine.tick().await.unwrap().digests.is_empty(),
        "sent once"
    );

    // Quiet repeats: a corrected version spells out only what is new.
    let mut more = defects();
    more.push(finding("error", "part-missing", "缺少第五部分", None));
    let upd = f.validated("a1b", "v2", "安平县教育局", more).await;
    assert!(
        upd[0]
            .message
            .contains("1. [错误] 缺少第五部分（第三部分，第40行）[part-missing]"),
        "{}",
        upd[0].message
    );
    assert!(!upd[0].message.contains("t3-balance"), "{}", upd[0].message);
    assert!(
        upd[0].message.contains("已通报的 1 项问题仍未整改"),
        "{}",
        upd[0].message
    );
}

#[tokio::test]
async fn unacknowledged_error_alerts_escalate_once_to_the_parent_office() {
    let f = fixture(june_2025(), false).await;
    let a = f.validated("r1", "v1", "清河县财政局", defects()).await;
    let acked = f
        .validated("r2", "v1", "清河县河西街道办事处", defects())
        .await;
    f.clock.advance_hours(1);
    f.engine
        .store
        .acknowledge(&acked[0].alert_id, "张三", f.clock_now())
        .await
        .unwrap();
    let warn_only = f
        .validated(
            "r3",
            "v1",
            "清河县人民政府",
            vec![finding("warning", "t2-fee-scale", "x", None)],
        )
        .await;
    assert!(!warn_only[0].has_error);

    f.clock.advance_hours(22);
    assert!(
        f.engine.tick().await.unwrap().escalated.is_empty(),
        "23 h < 24 h"
    );
    f.clock.advance_hours(2);
    let t = f.engine.tick().await.unwrap();
    assert_eq!(t.escalated.len(), 1, "only the open error alert");
    let e = f.get(&t.escalated[0]).await;
    assert_eq!(
        (e.office_id.as_str(), e.kind.as_str(), e.status.as_str()),
        ("390100", KIND_ESCALATION, STATUS_OPEN)
    );
    assert_eq!(e.source_alert_id, a[0].alert_id);
    assert!(e.message.starts_with(&format!(
        "【年报检查·督办】清河县人民政府办公室收到的告警 {} 已超过 24 小时未确认，请督促整改：清河县财政局 2024年度报告发现 1 个错误、1 个警告：",
        a[0].alert_id
    )), "{}", e.message);
    assert_eq!(f.get(&a[0].alert_id).await.escalated_at_ms, f.clock_now());
    assert_eq!(f.get(&acked[0].alert_id).await.status, STATUS_ACKNOWLEDGED);

    // Once: neither the original nor the escalation escalates again (the city's own period is
    // 72 h, but escalations do not climb further).
    f.clock.advance_hours(200);
    assert!(f.engine.tick().await.unwrap().escalated.is_empty());
    assert_eq!(f.all("province").await.len(), 0);
    let sent = f.sent();
    assert_eq!(sent.iter().filter(|s| s["kind"] == "escalation").count(), 1);

    // The county acknowledging its alert acknowledges the city's escalation too, in its name.
    f.engine
        .store
        .acknowledge(&a[0].alert_id, "李四", f.clock_now())
        .await
        .unwrap();
    let e2 = f.get(&e.alert_id).await;
    assert_eq!(e2.status, STATUS_ACKNOWLEDGED);
    assert_eq!(e2.acknowledged_by, "李四（清河县人民政府办公室）");

    // The corrected version closes the alert and the escalation.
    f.validated("r1c", "v2", "清河县财政局", vec![]).await;
    assert_eq!(f.get(&a[0].alert_id).await.status, STATUS_RESOLVED);
    assert_eq!(f.get(&e.alert_id).await.status, STATUS_RESOLVED);
}

/// A 整改期限 that passes with the report not corrected reminds the office the alert is with, once
/// per deadline; a corrected report is not reminded of.
#[tokio::test]
async fn a_passed_rectify_deadline_reminds_the_office_once() {
    let f = fixture(june_2025(), false).await;
    let a = f.validated("r1", "v1", "清河县财政局", defects()).await;
    let fixed = f
        .validated("r2", "v1", "清河县河西街道办事处", defects())
        .await;
    for x in [&a[0], &fixed[0]] {
        assert!(
            f.engine
                .store
                .set_rectify_by(&x.alert_id, "2025-06-10")
                .await
                .unwrap()
        );
    }
    f.validated("r2c", "v2", "清河县河西街道办事处", vec![])
        .await;
    assert_eq!(f.get(&fixed[0].alert_id).await.status, STATUS_RESOLVED);

    // The deadline day itself is still in time (Beijing).
    f.clock
        .set(Date::new(2025, 6, 10).unwrap().end_ms_cst() - 1);
    assert!(f.engine.tick().await.unwrap().overdue.is_empty());
    f.clock.set(Date::new(2025, 6, 11).unwrap().start_ms_cst());
    let t = f.engine.tick().await.unwrap();
    assert_eq!(
        t.overdue,
        vec![format!("ro-{}-2025-06-10", a[0].alert_id)],
        "only the alert not corrected"
    );
    let reminders: Vec<Value> = f
        .sent()
        .into_iter()
        .filter(|n| n["reminder"] == "rectify-overdue")
        .collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert_eq!(reminders[0]["alert_id"], a[0].alert_id.as_str());
    assert_eq!(reminders[0]["rectify_by"], "2025-06-10");
    assert_eq!(reminders[0]["reminded_office_id"], a[0].office_id.as_str());

    // Once per deadline; a new deadline that passes too is reminded of again.
    f.clock.advance_hours(48);
    assert!(f.engine.tick().await.unwrap().overdue.is_empty());
    f.engine
        .store
        .set_rectify_by(&a[0].alert_id, "2025-06-20")
        .await
        .unwrap();
    assert!(f.engine.tick().await.unwrap().overdue.is_empty());
    f.clock.set(Date::new(2025, 6, 21).unwrap().start_ms_cst());
    assert_eq!(
        f.engine.tick().await.unwrap().overdue,
        vec![format!("ro-{}-2025-06-20", a[0].alert_id)]
    );
}

#[tokio::test]
async fn roster_deadlines_missing_and_late_reports() {
    // 2025-01-20 in Beijing: nothing is due yet for 2024.
    let f = fixture(Date::new(2025, 1, 20).unwrap().start_ms_cst(), true).await;
    assert_eq!(f.engine.roster_year(), 2024);
    assert!(f.engine.tick().await.unwrap().missing.is_empty());

    // 2025-01-31 23:59 is still in time; 2025-02-01 00:00 (Beijing) departments are late.
    f.clock
        .set(Date::new(2025, 1, 31).unwrap().end_ms_cst() - 1);
    assert!(f.engine.tick().await.unwrap().missing.is_empty());
    f.clock.set(Date::new(2025, 2, 1).unwrap().start_ms_cst());
    let t = f.engine.tick().await.unwrap();
    assert_eq!(t.missing.len(), 3, "the three departments: {t:?}");
    let m = f
        .all("390121")
        .await
        .into_iter()
        .find(|a| a.kind == KIND_MISSING)
        .unwrap();
    assert_eq!(m.agency, "清河县财政局");
    assert!(m.has_error);
    assert_eq!(m.findings[0].rule, "report-missing");
    assert_eq!(
        m.message,
        "【年报检查·未报送】清河县财政局 2024年度报告截至 2025年1月31日（政府部门报送期限）仍未收到，请督促报送。[report-missing]"
    );
    assert!(f.engine.tick().await.unwrap().missing.is_empty(), "once");

    // The street office reports in time (its deadline is 3月31日): no late finding, no alert.
    assert!(
        f.validated_on("s1", "v1", "河西街道办事处", vec![], "2025-02-10")
            .await
            .is_empty()
    );

    // The bureau publishes on 2月5日: its alert carries report-late, and the missing alert closes.
    let got = f
        .validated_on("b1", "v1", "清河县财政局", vec![], "2025-02-05")
        .await;
    let kinds: Vec<&str> = got.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, vec![KIND_RESOLUTION, KIND_FINDINGS]);
    assert!(got[0].message.contains("已补报"), "{}", got[0].message);
    assert_eq!(f.get(&m.alert_id).await.status, STATUS_RESOLVED);
    let late = &got[1].findings[0];
    assert_eq!(late.rule, "report-late");
    assert_eq!(late.severity, "error", "the catalogue's severity (#25.7)");
    assert_eq!(
        late.message,
        "报告于 2025年2月5日 发布，晚于报送期限 2025年1月31日"
    );

    // A correction of the street office's report after its deadline is not late: the report came
    // in time.
    f.clock.set(Date::new(2025, 3, 20).unwrap().start_ms_cst());
    let corr = f
        .validated_on(
            "s2",
            "v2",
            "河西街道办事处",
            vec![finding("error", "t3-balance", "不平衡", Some("R24"))],
            "",
        )
        .await;
    assert!(
        corr[0].findings.iter().all(|x| x.rule != "report-late"),
        "{:?}",
        corr[0].findings
    );

    // 4月1日: the government (3月31日) is missing; the street office reported, so it is not.
    f.clock.set(Date::new(2025, 4, 1).unwrap().start_ms_cst());
    let t = f.engine.tick().await.unwrap();
    let agencies: Vec<String> = {
        let mut v = Vec::new();
        for id in &t.missing {
            v.push(f.get(id).await.agency);
        }
        v
    };
    assert_eq!(agencies, vec!["清河县人民政府".to_string()]);
    // A missing report escalates like an error alert (清河县人民政府 is supervised by the city,
    // whose parent is the province; the city's period is the service's 72 h).
    f.clock.advance_hours(73);
    let t = f.engine.tick().await.unwrap();
    let to: Vec<String> = {
        let mut v = Vec::new();
        for id in &t.escalated {
            v.push(f.get(id).await.office_id);
        }
        v
    };
    assert!(to.contains(&"province".to_string()), "{to:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_versions_handled_at_once_give_one_consistent_outcome() {
    let f = Arc::new(fixture(june_2025(), false).await);
    // v1 and an identical v2 at the same time: one alert, one message, never two open alerts.
    let mut tasks = Vec::new();
    for (r, v) in [("r1", "v1"), ("r2", "v2"), ("r3", "v3")] {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            f.validated(r, v, "清河县财政局", defects()).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = f.all("390121").await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(f.sent().len(), 1);
    assert!(f.engine.locks.is_empty(), "lock entries are removed");
}

/// The events of one consumer batch: versions of one report in a row, a redelivery inside the
/// batch, reports closing missing-report alerts, a digest office, an unmatched agency and its fix.
fn batch_events() -> Vec<(v1::ReportValidated, v1::EventMeta)> {
    let partly = vec![
        finding("warning", "t3-carryover-high", "结转数量偏高", Some("R25")),
        finding("warning", "t2-fee-scale", "收费金额偏大", Some("A10")),
    ];
    let info = vec![finding("info", "label-mismatch", "x", None)];
    [
        ("r1", "v1", "河西街道办事处", defects(), "2025-05-10"),
        ("r1", "v2", "清河县河西街道办事处", partly.clone(), ""),
        ("r1", "v2", "清河县河西街道办事处", partly, ""),
        ("r3", "v1", "清河县财政局", info.clone(), ""),
        ("r4", "v1", "安平县教育局", defects(), ""),
        ("r9", "v1", "云阳市财政局", defects(), ""),
        ("r1", "v3", "清河县河西街道办事处", info.clone(), ""),
        ("r9", "v2", "云阳市财政局", info, ""),
    ]
    .into_iter()
    .map(|(report, version, agency, findings, published_on)| {
        event(report, version, agency, findings, published_on)
    })
    .collect()
}

/// What an office can see of an alert, and of what it received.
fn summary(a: &AlertRecord) -> (String, String, String, String, String, i64) {
    (
        a.alert_id.clone(),
        a.office_id.clone(),
        a.kind.clone(),
        a.status.clone(),
        a.message.clone(),
        a.resolved_at_ms,
    )
}

#[tokio::test]
async fn a_batch_decides_exactly_as_its_events_one_after_another() {
    let events = batch_events();
    let one_by_one = fixture(june_2025(), true).await;
    let batched = fixture(june_2025(), true).await;
    for f in [&one_by_one, &batched] {
        assert_eq!(f.engine.tick().await.unwrap().missing.len(), 5);
    }

    let mut sequential = Vec::new();
    for (ev, meta) in &events {
        sequential.push(one_by_one.engine.on_validated(ev, meta).await.unwrap());
    }
    let refs: Vec<(&v1::ReportValidated, &v1::EventMeta)> =
        events.iter().map(|(ev, meta)| (ev, meta)).collect();
    let together = batched.engine.on_validated_batch(&refs).await.unwrap();

    let per_event = |all: &Vec<Vec<AlertRecord>>| -> Vec<Vec<_>> {
        all.iter()
            .map(|alerts| alerts.iter().map(summary).collect())
            .collect()
    };
    assert_eq!(per_event(&together), per_event(&sequential));
    // The batch did something worth comparing: a late report closing a missing-report alert, an
    // update that superseded, the redelivery found the same alert, the fix resolved it.
    let kinds: Vec<Vec<&str>> = together
        .iter()
        .map(|a| a.iter().map(|a| a.kind.as_str()).collect())
        .collect();
    assert_eq!(
        kinds,
        [
            vec![KIND_RESOLUTION, KIND_FINDINGS],
            vec![KIND_FINDINGS],
            vec![KIND_FINDINGS],
            // Late (June, after the deadline): a report-late error.
            vec![KIND_RESOLUTION, KIND_FINDINGS],
            vec![KIND_RESOLUTION, KIND_FINDINGS],
            vec![KIND_FINDINGS],
            // Still late: an update that lists what was fixed.
            vec![KIND_FINDINGS],
            // Not in the directory (no roster): the fix resolves the alert.
            vec![KIND_RESOLUTION],
        ]
    );
    assert_eq!(together[1][0].alert_id, together[2][0].alert_id);
    assert!(
        together[0][1]
            .findings
            .iter()
            .any(|f| f.rule == "report-late"),
        "published after the deadline"
    );

    // The same store afterwards, and the same notices delivered in the same order.
    for office in ["province", "390100", "390121", "390122"] {
        let a: Vec<_> = one_by_one.all(office).await.iter().map(summary).collect();
        let b: Vec<_> = batched.all(office).await.iter().map(summary).collect();
        assert_eq!(a, b, "alerts of {office}");
    }
    let ids = |f: &Fixture| -> Vec<String> {
        f.sent()
            .iter()
            .map(|v| v["alert_id"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(ids(&batched), ids(&one_by_one));
    assert!(ids(&batched).len() >= 8, "{:?}", ids(&batched));
    for superseded in [&together[1][0], &together[5][0]] {
        assert_eq!(
            batched.get(&superseded.alert_id).await.status,
            STATUS_RESOLVED,
            "a later event of the same batch resolved {}",
            superseded.alert_id
        );
    }

    // The batch again (a redelivery of all of it): what one-by-one redelivery gives, nothing
    // sent twice.
    let sent_before = ids(&batched).len();
    let again = batched.engine.on_validated_batch(&refs).await.unwrap();
    let mut again_sequential = Vec::new();
    for (ev, meta) in &events {
        again_sequential.push(one_by_one.engine.on_validated(ev, meta).await.unwrap());
    }
    assert_eq!(per_event(&again), per_event(&again_sequential));
    assert!(again.iter().all(|a| !a.is_empty()), "{again:?}");
    assert_eq!(ids(&batched).len(), sent_before);
    assert_eq!(ids(&one_by_one), ids(&batched));
}

#[tokio::test]
async fn a_crawlers_find_is_evidence_of_publication_but_closes_nothing() {
    let f = fixture(Date::new(2025, 2, 1).unwrap().start_ms_cst(), true).await;
    // 清河县财政局 is missing (departments: 1月31日).
    let t = f.engine.tick().await.unwrap();
    let mut missing = None;
    for id in &t.missing {
        let a = f.get(id).await;
        if a.agency == "清河县财政局" {
            missing = Some(a);
        }
    }
    let missing = missing.unwrap();
    // What the crawler submits: unverified, the agency it crawled named, the date first seen.
    let crawled = |report: &str, agency: &str, seen: &str| {
        let (mut ev, mut meta) = event(report, "v1", agency, vec![], seen);
        meta.submitted_at_ms = f.clock_now();
        ev.meta = Some(meta.clone());
        ev.agency_verified = false;
        ev.agency_id = agency.to_string();
        ev.publication_witnessed = true;
        (ev, meta)
    };
    // Found on the bureau's 专栏, first seen 2月4日: late by that date, at its office…
    let (ev, meta) = crawled("c1", "清河县财政局", "2025-02-04");
    let got = f.engine.on_validated(&ev, &meta).await.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].office_id, "390121");
    assert_eq!(got[0].findings[0].rule, "report-late");
    assert!(
        got[0].findings[0].message.contains("2025年2月4日"),
        "{}",
        got[0].findings[0].message
    );
    // …but the missing alert stays open: a crawler's find closes nothing by itself.
    assert_eq!(f.get(&missing.alert_id).await.status, STATUS_OPEN);

    // The county government's report found in time (3月1日; deadline 3月31日): no alert, and no
    // 未报送 on 4月1日, since it arrived.
    let (ev, meta) = crawled("c2", "清河县人民政府", "2025-03-01");
    assert!(f.engine.on_validated(&ev, &meta).await.unwrap().is_empty());
    f.clock.set(Date::new(2025, 4, 1).unwrap().start_ms_cst());
    let t = f.engine.tick().await.unwrap();
    for id in &t.missing {
        assert_ne!(f.get(id).await.agency, "清河县人民政府");
    }

    // Without the evidence flag (a document merely printing the name) it would not count.
    let f = fixture(Date::new(2025, 2, 1).unwrap().start_ms_cst(), true).await;
    let (mut ev, meta) = crawled("c3", "清河县财政局", "2025-02-04");
    ev.publication_witnessed = false;
    let got = f.engine.on_validated(&ev, &meta).await.unwrap();
    assert!(got.is_empty(), "{got:?}");
}

#[tokio::test]
async fn alerts_about_a_reassigned_alert_follow_it_to_the_new_office() {
    let f = fixture(june_2025(), false).await;
    let first = f.validated("r1", "v1", "清河县财政局", defects()).await;
    assert_eq!(first[0].office_id, "390121");
    // The city hands it to 临江 (what ReassignAlert does in the store).
    assert!(
        f.engine
            .store
            .reassign(&first[0].alert_id, "390122", "临江区人民政府办公室")
            .await
            .unwrap()
    );
    f.clock.advance_hours(5);
    let fixed = f
        .validated(
            "r2",
            "v2",
            "清河县财政局",
            vec![finding("info", "label-mismatch", "x", None)],
        )
        .await;
    assert_eq!(fixed[0].kind, KIND_RESOLUTION);
    // The resolution is 临江's: listed there, not at 清河, and its notice went to 临江.
    let linjiang: Vec<String> = f
        .all("390122")
        .await
        .into_iter()
        .map(|a| a.alert_id)
        .collect();
    assert!(linjiang.contains(&fixed[0].alert_id), "{linjiang:?}");
    assert!(linjiang.contains(&first[0].alert_id));
    assert!(f.all("390121").await.is_empty());
    let work = f.engine.store.work(&fixed[0].alert_id).await.unwrap();
    assert_eq!(work.assigned_office_id, "390122");
    let notice = f
        .engine
        .store
        .get_notice(&fixed[0].alert_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.office_id, "390122");
}
