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

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_directory::{Date, Directory, Level};
use nianbao_e2e::pipeline::{Db, Pipeline, sample_directory};
use nianbao_e2e::shared_broker;
use nianbao_model::Severity;
use nianbao_notification::clock::{HOUR_MS, ManualClock};
use nianbao_proto::v1::{self, Alert, ListAlertsRequest};
use nianbao_synth::{Layout, SynthOptions, SynthReport, generate_one};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The pipeline with one extraction worker, and notification on the test's clock, ticking every
/// 100 ms, tracking the roster of `year`.
async fn start(db: Db, clock: Arc<ManualClock>, year: i32) -> Pipeline {
    let mut p = Pipeline::new(shared_broker(), "alerts").await.unwrap();
    p.start_ingest_and_validation(db).await.unwrap();
    let cfg = p.extraction_config(&p.ingest_url, 8);
    p.spawn("extraction", |l, s| {
        nianbao_extraction::run(cfg, l, s, Default::default())
    })
    .await
    .unwrap();
    let mut cfg = p.notification_config(db).unwrap();
    cfg.tick_ms = 100;
    cfg.roster.enabled = true;
    cfg.roster.year = year;
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

/// Submits one report and waits until notification has handled it.
async fn submit(p: &Pipeline, r: &SynthReport) -> String {
    let ids = p
        .submit_as_agency(
            &r.agency.name,
            &[(format!("{}.txt", r.name), r.bytes.clone())],
        )
        .await
        .unwrap();
    let rep = p
        .wait_status(&ids, &["notified", "failed"], Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        rep[0].status, "notified",
        "{}: {}",
        r.name, rep[0].failure_reason
    );
    rep[0].report_id.clone()
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

/// Polls the inbox until `pred` holds for some alert (the tick task runs every 100 ms).
async fn wait_alert(p: &Pipeline, what: &str, pred: impl Fn(&Alert) -> bool) -> Alert {
    let start = Instant::now();
    loop {
        if let Some(a) = alerts(p).await.into_iter().find(|a| pred(a)) {
            return a;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no alert: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
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
    let p = start(db, clock.clone(), year).await;

    // 1. The defective report: exactly one alert, at the supervising county office.
    let bad_id = submit(&p, &bad).await;
    let about_bad: Vec<Alert> = alerts(&p)
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
    let good_id = submit(&p, &good).await;
    let about_good: Vec<Alert> = alerts(&p)
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
    let first = wait_alert(&p, "the first alert, resolved", |a| {
        a.alert_id == alert.alert_id
    })
    .await;
    assert_eq!(first.status, "resolved");

    // 3. Another agency's error alert, never acknowledged: after 72 h it goes to the city office.
    let other_id = submit(&p, &other).await;
    let open = wait_alert(&p, "the second report's alert", |a| a.report_id == other_id).await;
    assert_eq!(open.office_id, other_county.id);
    clock.advance_ms(71 * HOUR_MS);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !alerts(&p).await.iter().any(|a| a.kind == "escalation"),
        "not before 72 h"
    );
    clock.advance_ms(2 * HOUR_MS);
    let esc = wait_alert(&p, "the escalation", |a| a.kind == "escalation").await;
    assert_eq!(esc.office_id, city);
    assert_eq!(esc.source_alert_id, open.alert_id);
    assert!(esc.message.starts_with(&format!(
        "【年报检查·督办】{}收到的告警 {} 已超过 72 小时未确认",
        other_county.name, open.alert_id
    )));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        alerts(&p)
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
    let missing = wait_alert(&p, "report-missing", |a| {
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
        let all = alerts(&p).await;
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
    p.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_reach_the_right_office_sqlite() {
    scenario(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_reach_the_right_office_postgresql() {
    scenario(Db::Postgres).await;
}

/// The code of a failed call, or a panic naming what was expected of a call that succeeded.
fn code<T: std::fmt::Debug>(r: Result<T, tonic::Status>) -> tonic::Code {
    match r {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(s) => {
            // Refusals say why in Chinese and in English.
            if matches!(
                s.code(),
                tonic::Code::PermissionDenied | tonic::Code::Unauthenticated
            ) {
                assert!(s.message().contains(" / "), "{}", s.message());
            }
            s.code()
        }
    }
}

/// Identity, TLS and jurisdiction through the running pipeline: every RPC without credentials is
/// UNAUTHENTICATED; an agency submits and reads only as itself; an office sees and acknowledges
/// only its own subtree, under its credential's name, with an audit record; FetchReport is the
/// extraction workers'; a clean report that a crawler claims for an agency, or that another agency
/// submits printing its name, closes nothing — only the agency's own correction does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nobody_submits_reads_or_acknowledges_what_is_not_theirs() {
    use nianbao_auth::Role;
    use nianbao_proto::v1::{
        AcknowledgeAlertRequest, FetchReportRequest, GetReportRequest, ListChannelsRequest,
        ListReportsRequest, StreamAlertsRequest, SubmitReportRequest, ValidateRequest,
        validation_client::ValidationClient,
    };
    let dir = Directory::load(&sample_directory()).unwrap();
    let (bad, good) = defective_and_corrected(&dir, |_| true);
    let year = bad.year;
    let county = dir.resolve(&bad.agency.name).office.clone();
    let (other, _) = defective_and_corrected(&dir, |r| {
        r.year == year && dir.resolve(&r.agency.name).office.id != county.id
    });
    let other_county = dir.resolve(&other.agency.name).office.clone();
    let clock = ManualClock::new(Date::new(year + 1, 1, 10).unwrap().start_ms_cst());
    let p = start(Db::Sqlite, clock, year).await;
    let sec = &p.security;
    let office = sec.issue(Role::Office, &county.id, "张科长").unwrap();
    let stranger = sec.issue(Role::Office, &other_county.id, "李科长").unwrap();
    let crawler = sec.issue(Role::Crawler, "", "采集程序").unwrap();
    let own = p.agency_token(&bad.agency.name).unwrap();
    let foreign = p.agency_token(&other.agency.name).unwrap();
    let doc = |r: &SynthReport| SubmitReportRequest {
        content: r.bytes.clone(),
        file_name: format!("{}.txt", r.name),
        ..Default::default()
    };

    // Cleartext to a TLS server fails; a TLS client without a credential is UNAUTHENTICATED on
    // every RPC of every service.
    let plain = p.ingest_url.replacen("https://", "http://", 1);
    let cleartext = async {
        let channel = nianbao_e2e::pipeline::connect(&plain, &Default::default()).await?;
        nianbao_proto::v1::ingest_client::IngestClient::new(channel)
            .list_reports(ListReportsRequest::default())
            .await?;
        anyhow::Ok(())
    };
    assert!(
        cleartext.await.is_err(),
        "a cleartext call reached a TLS server"
    );
    let mut anon = p.ingest_as("").await.unwrap();
    assert_eq!(
        code(anon.submit_report(doc(&bad)).await),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code(
            anon.get_report(GetReportRequest {
                report_id: "x".into()
            })
            .await
        ),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code(anon.list_reports(ListReportsRequest::default()).await),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code(
            anon.fetch_report(FetchReportRequest {
                report_id: "x".into()
            })
            .await
        ),
        tonic::Code::Unauthenticated
    );
    let mut forged = p.ingest_as("nbt_forged").await.unwrap();
    assert_eq!(
        code(forged.submit_report(doc(&bad)).await),
        tonic::Code::Unauthenticated
    );
    let mut anon_n = p.notification_as("").await.unwrap();
    assert_eq!(
        code(anon_n.list_alerts(ListAlertsRequest::default()).await),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code(
            anon_n
                .acknowledge_alert(AcknowledgeAlertRequest {
                    alert_id: "x".into(),
                    ..Default::default()
                })
                .await
        ),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code(anon_n.stream_alerts(StreamAlertsRequest::default()).await),
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        code(anon_n.list_channels(ListChannelsRequest {}).await),
        tonic::Code::Unauthenticated
    );
    let mut anon_v = ValidationClient::new(p.channel_as(&p.validation_url, "").await.unwrap());
    assert_eq!(
        code(
            anon_v
                .validate(ValidateRequest {
                    content: bad.bytes.clone(),
                    ..Default::default()
                })
                .await
        ),
        tonic::Code::Unauthenticated
    );
    let mut agency_v = ValidationClient::new(p.channel_as(&p.validation_url, &own).await.unwrap());
    assert!(
        agency_v
            .validate(ValidateRequest {
                content: bad.bytes.clone(),
                ..Default::default()
            })
            .await
            .is_ok()
    );

    // An agency submits only as itself, with no publication date of its own.
    let mut other_agency = p.ingest_as(&foreign).await.unwrap();
    let mut as_other = doc(&bad);
    as_other.agency = Some(bad.agency.name.clone());
    assert_eq!(
        code(other_agency.submit_report(as_other).await),
        tonic::Code::PermissionDenied
    );
    let mut back_dated = doc(&bad);
    back_dated.published_on = Some(format!("{}-01-05", year + 1));
    let mut agency = p.ingest_as(&own).await.unwrap();
    assert_eq!(
        code(agency.submit_report(back_dated).await),
        tonic::Code::PermissionDenied
    );

    // The agency's defective report: one alert at its county office.
    let bad_id = submit(&p, &bad).await;
    let alert = wait_alert(&p, "findings at the county", |a| {
        a.report_id == bad_id && a.kind == "findings"
    })
    .await;
    assert_eq!(alert.office_id, county.id);

    // Reading: the agency and its offices yes, another agency and another county's office no.
    let get = |id: &str| GetReportRequest {
        report_id: id.to_string(),
    };
    let r = agency.get_report(get(&bad_id)).await.unwrap().into_inner();
    assert!(r.agency_verified);
    assert_eq!(r.office_id, county.id);
    assert!(r.submitted_by.contains("agency"), "{}", r.submitted_by);
    assert_eq!(
        code(other_agency.get_report(get(&bad_id)).await),
        tonic::Code::PermissionDenied
    );
    let mut county_ingest = p.ingest_as(&office).await.unwrap();
    county_ingest.get_report(get(&bad_id)).await.unwrap();
    let mut stranger_ingest = p.ingest_as(&stranger).await.unwrap();
    assert_eq!(
        code(stranger_ingest.get_report(get(&bad_id)).await),
        tonic::Code::PermissionDenied
    );
    let listed = |c: ListReportsRequest| c;
    let seen = stranger_ingest
        .list_reports(listed(ListReportsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(seen.reports.iter().all(|r| r.report_id != bad_id));
    let mine = agency
        .list_reports(ListReportsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        mine.reports
            .iter()
            .all(|r| r.agency_verified && r.report_id == bad_id)
    );
    assert_eq!(
        code(
            agency
                .fetch_report(FetchReportRequest {
                    report_id: bad_id.clone()
                })
                .await
        ),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        code(
            p.ingest()
                .await
                .unwrap()
                .fetch_report(FetchReportRequest {
                    report_id: bad_id.clone()
                })
                .await
        ),
        tonic::Code::PermissionDenied,
        "FetchReport is the extraction workers' only, not even an operator's"
    );

    // Alerts: another county's office neither lists, streams nor acknowledges this one.
    let mut stranger_n = p.notification_as(&stranger).await.unwrap();
    assert_eq!(
        code(
            stranger_n
                .list_alerts(ListAlertsRequest {
                    office_id: Some(county.id.clone()),
                    ..Default::default()
                })
                .await
        ),
        tonic::Code::PermissionDenied
    );
    let theirs = stranger_n
        .list_alerts(ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.alerts.iter().all(|a| a.office_id == other_county.id));
    assert_eq!(
        code(
            stranger_n
                .stream_alerts(StreamAlertsRequest {
                    office_id: Some(county.id.clone()),
                    include_open: true,
                })
                .await
        ),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        code(
            stranger_n
                .acknowledge_alert(AcknowledgeAlertRequest {
                    alert_id: alert.alert_id.clone(),
                    acknowledged_by: "张科长".into(),
                    note: String::new(),
                })
                .await
        ),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        code(stranger_n.list_channels(ListChannelsRequest {}).await),
        tonic::Code::PermissionDenied
    );
    // Nor reassigns it (not even to itself), sets its 整改期限 or tells its agency.
    let denied = stranger_n
        .reassign_alert(v1::ReassignAlertRequest {
            alert_id: alert.alert_id.clone(),
            office_id: other_county.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    assert!(
        denied.message().contains("管辖范围") && denied.message().contains("jurisdiction"),
        "{}",
        denied.message()
    );
    assert_eq!(
        code(
            stranger_n
                .set_rectify_deadline(v1::SetRectifyDeadlineRequest {
                    alert_id: alert.alert_id.clone(),
                    rectify_by: "2025-04-30".into(),
                    ..Default::default()
                })
                .await
        ),
        tonic::Code::PermissionDenied
    );
    assert_eq!(
        code(
            stranger_n
                .notify_agency(v1::NotifyAgencyRequest {
                    alert_id: alert.alert_id.clone(),
                    ..Default::default()
                })
                .await
        ),
        tonic::Code::PermissionDenied
    );
    // The county cannot hand it to the other county either: outside its own subtree.
    assert_eq!(
        code(
            p.notification_as(&office)
                .await
                .unwrap()
                .reassign_alert(v1::ReassignAlertRequest {
                    alert_id: alert.alert_id.clone(),
                    office_id: other_county.id.clone(),
                    ..Default::default()
                })
                .await
        ),
        tonic::Code::PermissionDenied
    );
    // The county's own office acknowledges, under its credential's name whatever it says.
    let mut county_n = p.notification_as(&office).await.unwrap();
    let acked = county_n
        .acknowledge_alert(AcknowledgeAlertRequest {
            alert_id: alert.alert_id.clone(),
            acknowledged_by: "冒名".into(),
            note: "已通知整改".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acked.status, "acknowledged");
    assert_eq!(acked.acknowledged_by, "张科长");
    // The audit trail, read from notification's own database (SQLite in the pipeline's folder).
    {
        let store = nianbao_notification::store::Store::connect(
            &p.notification_config(Db::Sqlite).unwrap().database_url(),
        )
        .await
        .unwrap();
        let audit = store.acknowledgements(&alert.alert_id).await.unwrap();
        // Both at the test's fixed clock: the same at_ms, so their order is not asserted.
        let mut outcomes: Vec<(&str, &str)> = audit
            .iter()
            .map(|a| (a.by_name.as_str(), a.outcome.as_str()))
            .collect();
        outcomes.sort_unstable();
        assert_eq!(
            outcomes,
            vec![("张科长", "acknowledged"), ("李科长", "denied")],
            "{audit:?}"
        );
        let granted = audit.iter().find(|a| a.outcome == "acknowledged");
        let granted = granted.unwrap_or_else(|| panic!("no granted acknowledgement: {audit:?}"));
        assert!(granted.peer.starts_with("127.0.0.1:"), "{audit:?}");
        assert_eq!(granted.note, "已通知整改");
        assert!(!granted.credential_id.is_empty(), "{audit:?}");
        store.close().await;
    }

    // The forged clean reports: a crawler's claim, and another agency's submission printing this
    // agency's name. Neither closes the alert.
    let mut crawler_ingest = p.ingest_as(&crawler).await.unwrap();
    let mut claimed = doc(&good);
    claimed.agency = Some(bad.agency.name.clone());
    let claimed_id = crawler_ingest
        .submit_report(claimed)
        .await
        .unwrap()
        .into_inner()
        .report_id;
    let printed_id = other_agency
        .submit_report(doc(&good))
        .await
        .unwrap()
        .into_inner()
        .report_id;
    let done = p
        .wait_status(
            &[claimed_id.clone(), printed_id.clone()],
            &["notified"],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(!done[0].agency_verified);
    assert_eq!(
        done[1].agency, other.agency.name,
        "the submitter, not the name printed"
    );
    let still = alerts(&p).await;
    let current = still.iter().find(|a| a.alert_id == alert.alert_id).unwrap();
    assert_eq!(
        current.status, "acknowledged",
        "a forged report closed the alert"
    );
    assert!(
        !still
            .iter()
            .any(|a| a.kind == "resolution" && a.source_alert_id == alert.alert_id)
    );

    // The agency's own correction closes it.
    submit(&p, &good).await;
    wait_alert(&p, "the agency's own correction resolves", |a| {
        a.alert_id == alert.alert_id && a.status == "resolved"
    })
    .await;
    p.shutdown().await.unwrap();
}
