//! Alerts end to end through the running pipeline (ingest, an extraction worker, validation and
//! notification in-process, on a private vhost of the harness's RabbitMQ), with the notification
//! service's clock injected so that escalation and roster deadlines need no waiting:
//!
//! 1. a defective report → exactly one alert, at the county office that supervises the agency;
//! 2. its corrected version → a 已整改 resolution message, and the alert closes;
//! 3. an error alert nobody acknowledges → escalated to the city office, once;
//! 4. a roster agency with no report past its deadline → a `report-missing` alert at its office.
//!
//! Once on SQLite, once on PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)] // a failed unwrap is a failed test; configs read as defaults plus the test's overrides

use nianbao_e2e::pipeline::{Db, db_url, fast_bus, listener, stop_on};
use nianbao_e2e::{Broker, shared_broker, unique_suffix};
use nianbao_model::Severity;
use nianbao_notification::clock::{Date, HOUR_MS, ManualClock};
use nianbao_notification::directory::{Directory, Level};
use nianbao_proto::v1::ingest_client::IngestClient;
use nianbao_proto::v1::notification_client::NotificationClient;
use nianbao_proto::v1::{Alert, GetReportRequest, ListAlertsRequest, SubmitReportRequest};
use nianbao_synth::{Layout, SynthOptions, SynthReport, generate_one};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

fn sample_directory() -> PathBuf {
    nianbao_e2e::repo_root().join("deploy/directory/chujiang.toml")
}

struct Pipeline {
    dir: PathBuf,
    ingest_url: String,
    notify_url: String,
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Pipeline {
    async fn start(broker: &Broker, db: Db, clock: std::sync::Arc<ManualClock>, year: i32) -> Self {
        nianbao_e2e::init_test_tracing();
        let amqp = broker.new_vhost_url().unwrap();
        let dir = nianbao_e2e::e2e_tmp_dir()
            .unwrap()
            .join(format!("alerts-{}", unique_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let (stop, rx) = watch::channel(false);
        let mut handles = Vec::new();

        let (l, ingest_url) = listener().await.unwrap();
        let mut cfg = nianbao_ingest::Config::default();
        cfg.data_dir = dir.join("ingest");
        cfg.database_url = db_url(db, &dir, "ingest").unwrap();
        cfg.bus = fast_bus(&amqp);
        let s = stop_on(&rx);
        handles.push(tokio::spawn(async move {
            nianbao_ingest::run(cfg, l, s).await.unwrap();
        }));

        let (l, _) = listener().await.unwrap();
        let mut cfg = nianbao_validation::Config::default();
        cfg.data_dir = dir.join("validation");
        cfg.database_url = db_url(db, &dir, "validation").unwrap();
        cfg.bus = fast_bus(&amqp);
        let s = stop_on(&rx);
        handles.push(tokio::spawn(async move {
            nianbao_validation::run(cfg, l, s).await.unwrap();
        }));

        let (l, _) = listener().await.unwrap();
        let mut cfg = nianbao_extraction::Config::default();
        cfg.ingest_url = ingest_url.clone();
        cfg.bus = fast_bus(&amqp);
        let s = stop_on(&rx);
        handles.push(tokio::spawn(async move {
            nianbao_extraction::run(cfg, l, s).await.unwrap();
        }));

        let (l, notify_url) = listener().await.unwrap();
        let mut cfg = nianbao_notification::Config::default();
        cfg.data_dir = dir.join("notification");
        cfg.database_url = db_url(db, &dir, "notification").unwrap();
        cfg.directory = sample_directory().display().to_string();
        cfg.bus = fast_bus(&amqp);
        cfg.tick_ms = 100;
        cfg.roster.enabled = true;
        cfg.roster.year = year;
        let s = stop_on(&rx);
        handles.push(tokio::spawn(async move {
            nianbao_notification::run_with_clock(cfg, l, s, clock)
                .await
                .unwrap();
        }));

        Pipeline {
            dir,
            ingest_url,
            notify_url,
            stop,
            handles,
        }
    }

    async fn ingest(&self) -> IngestClient<Channel> {
        for _ in 0..100 {
            if let Ok(c) = IngestClient::connect(self.ingest_url.clone()).await {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("ingest did not come up");
    }

    async fn notification(&self) -> NotificationClient<Channel> {
        for _ in 0..100 {
            if let Ok(c) = NotificationClient::connect(self.notify_url.clone()).await {
                return c.max_decoding_message_size(64 << 20);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("notification did not come up");
    }

    /// Submits one report and waits until notification has handled it.
    async fn submit(&self, r: &SynthReport) -> String {
        let mut c = self.ingest().await;
        let id = c
            .submit_report(SubmitReportRequest {
                content: r.bytes.clone(),
                file_name: format!("{}.txt", r.name),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .report_id;
        let start = Instant::now();
        loop {
            let rep = c
                .get_report(GetReportRequest {
                    report_id: id.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            match rep.status.as_str() {
                "notified" => return id,
                "failed" => panic!("{} failed: {}", r.name, rep.failure_reason),
                _ => {}
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{} not notified",
                r.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn alerts(&self) -> Vec<Alert> {
        self.notification()
            .await
            .list_alerts(ListAlertsRequest {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .alerts
    }

    /// Polls the inbox until `pred` holds for some alert (the tick task runs every 100 ms).
    async fn wait_alert(&self, what: &str, pred: impl Fn(&Alert) -> bool) -> Alert {
        let start = Instant::now();
        loop {
            if let Some(a) = self.alerts().await.into_iter().find(|a| pred(a)) {
                return a;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no alert: {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn shutdown(self) {
        let _ = self.stop.send(true);
        for h in self.handles {
            let _ = tokio::time::timeout(Duration::from_secs(20), h).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Severities `nianbao check` gives the report offline.
fn offline_levels(r: &SynthReport) -> Vec<Severity> {
    let x = nianbao_extract::extract_bytes(&r.bytes);
    nianbao_rules::Checker::default()
        .check(&x)
        .iter()
        .map(|f| f.severity)
        .collect()
}

/// A generated agency supervised by a county office: a version with at least one error and a
/// corrected one (same agency and year, no warning or error).
fn defective_and_corrected(
    dir: &Directory,
    accept: impl Fn(&SynthReport) -> bool,
) -> (SynthReport, SynthReport) {
    let opts = |rate: f64| SynthOptions {
        count: 1,
        seed: 2026,
        defect_rate: rate,
        layouts: vec![Layout::Tab],
    };
    for i in 0..3000 {
        let bad = generate_one(2026, i, &opts(1.0));
        if !accept(&bad)
            || dir.resolve(&bad.agency.name).office.level != Level::County
            || !offline_levels(&bad).contains(&Severity::Error)
        {
            continue;
        }
        let good = generate_one(2026, i, &opts(0.0));
        if good.agency.name == bad.agency.name
            && good.year == bad.year
            && offline_levels(&good).iter().all(|s| *s == Severity::Info)
        {
            return (bad, good);
        }
    }
    panic!("no suitable generated report");
}

async fn scenario(db: Db) {
    let dir = Directory::load(&sample_directory()).unwrap();
    let (bad, good) = defective_and_corrected(&dir, |_| true);
    let year = bad.year;
    // A second agency, with a report of the same year, for the escalation.
    let (other, _) =
        defective_and_corrected(&dir, |r| r.year == year && r.agency.name != bad.agency.name);
    let county = dir.resolve(&bad.agency.name).office.clone();
    let other_county = dir.resolve(&other.agency.name).office.clone();
    let city = other_county.parent.clone().unwrap();

    // 10 January of the year after the reporting year, Beijing time: no deadline has passed.
    let clock = ManualClock::new(Date::new(year + 1, 1, 10).unwrap().start_ms_cst());
    let p = Pipeline::start(shared_broker(), db, clock.clone(), year).await;

    // 1. The defective report: exactly one alert, at the supervising county office.
    let bad_id = p.submit(&bad).await;
    let about_bad: Vec<Alert> = p
        .alerts()
        .await
        .into_iter()
        .filter(|a| a.report_id == bad_id)
        .collect();
    assert_eq!(about_bad.len(), 1, "{about_bad:#?}");
    let alert = &about_bad[0];
    assert_eq!(
        (
            alert.office_id.as_str(),
            alert.kind.as_str(),
            alert.status.as_str()
        ),
        (county.id.as_str(), "findings", "open")
    );
    assert_eq!(alert.agency, bad.agency.name);
    assert_eq!(alert.year, year);
    assert_eq!(alert.findings[0].severity, "error", "errors first");
    assert!(alert.findings.iter().all(|f| f.severity != "info"));
    assert!(
        alert.message.starts_with(&format!(
            "【年报检查】{} {year}年度报告发现 ",
            bad.agency.name
        )),
        "{}",
        alert.message
    );

    // 2. The corrected version: a 已整改 message to the same office, and the alert closes.
    let good_id = p.submit(&good).await;
    let about_good: Vec<Alert> = p
        .alerts()
        .await
        .into_iter()
        .filter(|a| a.report_id == good_id)
        .collect();
    assert_eq!(about_good.len(), 1, "{about_good:#?}");
    let res = &about_good[0];
    assert_eq!(
        (
            res.office_id.as_str(),
            res.kind.as_str(),
            res.status.as_str()
        ),
        (county.id.as_str(), "resolution", "resolved")
    );
    assert_eq!(res.source_alert_id, alert.alert_id);
    assert!(res.message.starts_with(&format!(
        "【年报检查·已整改】{} {year}年度报告已报送更正版本，原通报的 ",
        bad.agency.name
    )));
    let first = p
        .wait_alert("the first alert, resolved", |a| {
            a.alert_id == alert.alert_id
        })
        .await;
    assert_eq!(first.status, "resolved");

    // 3. Another agency's error alert, never acknowledged: after 72 h it goes to the city office.
    let other_id = p.submit(&other).await;
    let open = p
        .wait_alert("the second report's alert", |a| a.report_id == other_id)
        .await;
    assert_eq!(open.office_id, other_county.id);
    clock.advance_ms(71 * HOUR_MS);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !p.alerts().await.iter().any(|a| a.kind == "escalation"),
        "not before 72 h"
    );
    clock.advance_ms(2 * HOUR_MS);
    let esc = p
        .wait_alert("the escalation", |a| a.kind == "escalation")
        .await;
    assert_eq!(esc.office_id, city);
    assert_eq!(esc.source_alert_id, open.alert_id);
    assert!(esc.message.starts_with(&format!(
        "【年报检查·督办】{}收到的告警 {} 已超过 72 小时未确认",
        other_county.name, open.alert_id
    )));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        p.alerts()
            .await
            .iter()
            .filter(|a| a.kind == "escalation")
            .count(),
        1,
        "escalated once"
    );

    // 4. 1 April: every roster agency without a report has a report-missing alert at its office;
    // the agencies that reported have none.
    let silent = dir
        .agencies()
        .iter()
        .find(|a| a.office == county.id && a.name != bad.agency.name && a.name != other.agency.name)
        .unwrap()
        .clone();
    clock.set(Date::new(year + 1, 4, 1).unwrap().start_ms_cst());
    let missing = p
        .wait_alert("report-missing", |a| {
            a.kind == "report-missing" && a.agency == silent.name
        })
        .await;
    assert_eq!(missing.office_id, county.id);
    assert_eq!(missing.year, year);
    assert_eq!(missing.findings[0].rule, "report-missing");
    assert!(missing.message.starts_with(&format!(
        "【年报检查·未报送】{} {year}年度报告截至 {}年",
        silent.name,
        year + 1
    )));
    // The tick sends them one by one: wait for all of them.
    let expected = dir.agencies().len() - 2;
    let start = Instant::now();
    let all = loop {
        let all = p.alerts().await;
        let n = all.iter().filter(|a| a.kind == "report-missing").count();
        if n >= expected || start.elapsed() > Duration::from_secs(30) {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for reported in [&bad.agency.name, &other.agency.name] {
        assert!(
            !all.iter()
                .any(|a| a.kind == "report-missing" && &a.agency == reported),
            "{reported} reported"
        );
    }
    let n_missing = all.iter().filter(|a| a.kind == "report-missing").count();
    assert_eq!(
        n_missing, expected,
        "every agency that did not report, once"
    );
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_reach_the_right_office_sqlite() {
    scenario(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_reach_the_right_office_postgresql() {
    scenario(Db::Postgres).await;
}
