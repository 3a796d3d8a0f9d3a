//! Agencies known by who they are, not by the name a report prints (issue #22 point 1), through
//! the running pipeline: two counties each have a 城关镇人民政府, and their reports print only
//! 城关镇. Each report is tied to its own directory agency (by the submitter's credential, or the
//! region given at submission), so:
//!
//! - each county's report is routed to that county's office, not to the city as ambiguous;
//! - the two reports have their own alert keys: the clean one does not close the other's alert;
//! - both count as arrived: neither gets 未报送 after the deadline (the other agencies do);
//! - neither gets a false `report-changed`; a real second version of one does;
//! - a report printing another agency than its submitter is an `agency-conflict` finding.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_directory::Date;
use nianbao_e2e::pipeline::{Db, Pipeline};
use nianbao_e2e::shared_broker;
use nianbao_notification::clock::ManualClock;
use nianbao_proto::v1::{Alert, ListAlertsRequest, Report, SubmitReportRequest};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DIRECTORY: &str = r#"
default_office = "390100"

[[offices]]
id = "390100"
name = "江州市人民政府办公室"
level = "city"
region = "390100"

[[offices]]
id = "390121"
name = "清河县人民政府办公室"
level = "county"
region = "390121"
parent = "390100"

[[offices]]
id = "390122"
name = "安平县人民政府办公室"
level = "county"
region = "390122"
parent = "390100"

[[agencies]]
name = "城关镇人民政府"
aliases = ["城关镇"]
kind = "township"
office = "390121"
region = "390121"

[[agencies]]
name = "城关镇人民政府"
aliases = ["城关镇"]
kind = "township"
office = "390122"
region = "390122"

[[agencies]]
name = "清河县财政局"
office = "390121"
region = "390121"

[[agencies]]
name = "安平县财政局"
office = "390122"
region = "390122"
"#;

const QINGHE: &str = "390121/城关镇人民政府";
const ANPING: &str = "390122/城关镇人民政府";
const YEAR: i32 = 2023;

/// A sample report, its agency's names replaced by `to` (the report then prints only that).
fn sample_as(file: &str, names: &[&str], to: &str) -> Vec<u8> {
    let path = nianbao_e2e::repo_root().join("deploy/samples").join(file);
    let mut text = std::fs::read_to_string(path).unwrap();
    for n in names {
        text = text.replace(n, to);
    }
    text.into_bytes()
}

async fn start(dir_file: &Path, clock: Arc<ManualClock>) -> Pipeline {
    let mut p = Pipeline::new(shared_broker(), "agency-identity")
        .await
        .unwrap();
    let directory = dir_file.display().to_string();
    let mut cfg = p.ingest_config(Db::Sqlite).unwrap();
    cfg.directory = directory.clone();
    p.ingest_url = p
        .spawn("ingest", |l, s| {
            nianbao_ingest::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
    let mut cfg = p.validation_config(Db::Sqlite).unwrap();
    cfg.directory = directory.clone();
    p.validation_url = p
        .spawn("validation", |l, s| {
            nianbao_validation::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
    let cfg = p.extraction_config(&p.ingest_url, 4);
    p.spawn("extraction", |l, s| {
        nianbao_extraction::run(cfg, l, s, Default::default())
    })
    .await
    .unwrap();
    let mut cfg = p.notification_config(Db::Sqlite).unwrap();
    cfg.directory = directory;
    cfg.tick_ms = 100;
    cfg.roster.enabled = true;
    cfg.roster.year = YEAR;
    p.notify_url = p
        .spawn("notification", |l, s| {
            nianbao_notification::run(
                cfg,
                l,
                s,
                nianbao_notification::Deps {
                    clock,
                    ..Default::default()
                },
            )
        })
        .await
        .unwrap();
    p
}

async fn notified(p: &Pipeline, ids: &[String]) -> Vec<Report> {
    let reports = p
        .wait_status(ids, &["notified", "failed"], Duration::from_secs(60))
        .await
        .unwrap();
    for r in &reports {
        assert_eq!(
            r.status, "notified",
            "{}: {}",
            r.file_name, r.failure_reason
        );
    }
    reports
}

async fn alerts(p: &Pipeline) -> Vec<Alert> {
    p.notification()
        .await
        .unwrap()
        .list_alerts(ListAlertsRequest {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts
}

fn rules(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.rule.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_name_agencies_in_two_counties_are_two_agencies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir_file = tmp.path().join("directory.toml");
    std::fs::write(&dir_file, DIRECTORY).unwrap();
    let clock = ManualClock::new(Date::new(YEAR + 1, 1, 20).unwrap().start_ms_cst());
    let p = start(&dir_file, clock.clone()).await;

    // 清河县's 城关镇: a report with table errors. 安平县's: a clean one. Both print 城关镇.
    let qinghe = sample_as(
        "0105_web_南岭县高桥镇人民政府_2023.txt",
        &["南岭县高桥镇人民政府", "高桥镇人民政府", "高桥镇"],
        "城关镇",
    );
    let anping = sample_as(
        "0087_tab_白沙县白沙镇人民政府_2023.txt",
        &["白沙县白沙镇人民政府", "白沙镇人民政府", "白沙镇"],
        "城关镇",
    );
    let q = p
        .submit_as_agency(QINGHE, &[("城关镇年报.html".into(), qinghe)])
        .await
        .unwrap();
    let q = notified(&p, &q).await.remove(0);
    let a = p
        .submit_as_agency(ANPING, &[("城关镇年报.txt".into(), anping.clone())])
        .await
        .unwrap();
    let a = notified(&p, &a).await.remove(0);

    // Routed to each county's office; ingest shows each county only its own report.
    assert_eq!(q.office_id, "390121");
    assert_eq!(a.office_id, "390122");
    assert_eq!(q.agency, "城关镇人民政府");
    assert!(rules(&q).contains(&"t3-row-total"), "{:?}", rules(&q));
    for r in [&q, &a] {
        assert!(!rules(r).contains(&"report-changed"), "{:?}", rules(r));
        assert!(!rules(r).contains(&"agency-conflict"), "{:?}", rules(r));
    }

    // One alert, at 清河县, still open after 安平县's clean report arrived.
    let all = alerts(&p).await;
    let mine: Vec<&Alert> = all
        .iter()
        .filter(|a| a.agency == "城关镇人民政府")
        .collect();
    assert_eq!(mine.len(), 1, "{mine:#?}");
    assert_eq!(mine[0].office_id, "390121");
    assert_eq!(mine[0].status, "open", "{:#?}", mine[0]);
    assert!(all.iter().all(|a| a.office_id != "390100"), "{all:#?}");

    // A real second version of 安平县's report, sent by an operator naming only the region: it is
    // the same agency (report-changed), and still nothing of 清河县's.
    let mut changed = anping;
    changed.extend_from_slice(
        "\n本报告所列数据统计期限自2023年1月1日起至2023年12月31日止。\n".as_bytes(),
    );
    let id = p
        .ingest()
        .await
        .unwrap()
        .submit_report(SubmitReportRequest {
            content: changed,
            file_name: "城关镇年报（修订）.txt".into(),
            region: Some("390122".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .report_id;
    let v2 = notified(&p, &[id]).await.remove(0);
    assert_eq!(v2.office_id, "390122");
    assert!(rules(&v2).contains(&"report-changed"), "{:?}", rules(&v2));

    // A 清河县 agency sending a report that prints 安平县's agency: the submitter decides, the
    // disagreement is a finding.
    let wrong = sample_as(
        "0047_prose_临江区财政局_2024.txt",
        &["临江区财政局"],
        "安平县财政局",
    );
    let w = p
        .submit_as_agency("清河县财政局", &[("财政局年报.txt".into(), wrong)])
        .await
        .unwrap();
    let w = notified(&p, &w).await.remove(0);
    assert_eq!(w.office_id, "390121");
    assert_eq!(w.agency, "清河县财政局");
    let conflict = w
        .findings
        .iter()
        .find(|f| f.rule == "agency-conflict")
        .unwrap_or_else(|| panic!("{:?}", rules(&w)));
    assert!(
        conflict.message.contains("安平县财政局"),
        "{}",
        conflict.message
    );

    // After the townships' deadline (2月28日) and the departments' (1月31日): 未报送 for the
    // agency that sent nothing for 2023 (安平县财政局; 清河县财政局's report is of 2024), none for
    // either 城关镇.
    clock.set(Date::new(YEAR + 1, 4, 1).unwrap().start_ms_cst());
    let start = Instant::now();
    let missing = loop {
        let m: Vec<Alert> = alerts(&p)
            .await
            .into_iter()
            .filter(|a| a.kind == "report-missing")
            .collect();
        if m.len() >= 2 || start.elapsed() > Duration::from_secs(30) {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut who: Vec<(&str, &str)> = missing
        .iter()
        .map(|a| (a.agency.as_str(), a.office_id.as_str()))
        .collect();
    who.sort_unstable();
    assert_eq!(
        who,
        [("安平县财政局", "390122"), ("清河县财政局", "390121")]
    );
    p.shutdown().await.unwrap();
}
