//! Bounds on what a caller can make a service hold (issue #21 point 3), against the real services
//! in-process over TLS with credentials: string caps, the per-agency storage quota, StreamAlerts'
//! required office and subscriber cap, Validate's deadline. (The in-flight-bytes semaphore is
//! tested next to its code, with paused time: `nianbao_ingest::grpc` tests.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_auth::Role;
use nianbao_e2e::pipeline::{Db, Pipeline};
use nianbao_e2e::shared_broker;
use nianbao_proto::v1::validation_client::ValidationClient;
use nianbao_proto::v1::{StreamAlertsRequest, SubmitReportRequest, ValidateRequest};
use tonic::Code;

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(nianbao_e2e::repo_root().join("deploy/samples").join(name)).unwrap()
}

const A: &str = "0030_web_云阳市自然资源局_2024.txt";
const B: &str = "0044_tab_云阳市自然资源局_2024.txt";
const AGENCY: &str = "云阳市自然资源局";

fn request(content: Vec<u8>, file_name: &str) -> SubmitReportRequest {
    SubmitReportRequest {
        content,
        file_name: file_name.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_caps_strings_and_each_agencys_storage() {
    let mut p = Pipeline::new(shared_broker(), "bounds-ingest")
        .await
        .unwrap();
    let mut cfg = p.ingest_config(Db::Sqlite).unwrap();
    let (a, b) = (sample(A), sample(B));
    // Room for the first report, not for both.
    cfg.agency_quota_bytes = (a.len() + b.len() / 2) as u64;
    p.ingest_url = p
        .spawn("ingest", |l, s| {
            nianbao_ingest::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
    let mut operator = p.ingest().await.unwrap();

    let long = |n: usize| "局".repeat(n);
    let cases = [
        SubmitReportRequest {
            agency: Some(long(101)),
            ..request(a.clone(), A)
        },
        request(a.clone(), &format!("{}.txt", "x".repeat(300))),
        SubmitReportRequest {
            source_url: Some(format!("https://example.gov.cn/{}", "a".repeat(2100))),
            ..request(a.clone(), A)
        },
    ];
    for (i, req) in cases.into_iter().enumerate() {
        let e = operator.submit_report(req).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "case {i}: {e:?}");
        assert!(e.message().contains("过长"), "case {i}: {}", e.message());
        assert!(
            e.message().contains("too long"),
            "case {i}: {}",
            e.message()
        );
    }
    // At the limit is fine.
    let at_limit = SubmitReportRequest {
        agency: Some(AGENCY.into()),
        file_name: format!("{}.txt", "x".repeat(251)),
        ..request(a.clone(), A)
    };
    operator.submit_report(at_limit).await.unwrap();

    // The quota is the agency's, whoever submits for it.
    let token = p.agency_token(AGENCY).unwrap();
    let mut agency = p.ingest_as(&token).await.unwrap();
    let e = agency
        .submit_report(request(b.clone(), B))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("存储配额"), "{}", e.message());
    // Another agency has its own quota.
    let other = p.agency_token("云阳市财政局").unwrap();
    p.ingest_as(&other)
        .await
        .unwrap()
        .submit_report(request(b, B))
        .await
        .unwrap();
    p.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_streams_need_an_office_and_are_capped() {
    let mut p = Pipeline::new(shared_broker(), "bounds-stream")
        .await
        .unwrap();
    let mut cfg = p.notification_config(Db::Sqlite).unwrap();
    cfg.stream.max_subscribers = 1;
    p.notify_url = p
        .spawn("notification", |l, s| {
            nianbao_notification::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
    let mut operator = p.notification().await.unwrap();
    let e = operator
        .stream_alerts(StreamAlertsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("office_id"), "{}", e.message());

    let office = p.security.issue(Role::Office, "390300", "王科长").unwrap();
    let mut clerk = p.notification_as(&office).await.unwrap();
    // An office user's stream defaults to its own office.
    let first = clerk
        .stream_alerts(StreamAlertsRequest::default())
        .await
        .unwrap();
    let e = operator
        .stream_alerts(StreamAlertsRequest {
            office_id: Some("390300".into()),
            include_open: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("上限"), "{}", e.message());
    // A subscriber that leaves frees its place.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        match operator
            .stream_alerts(StreamAlertsRequest {
                office_id: Some("390300".into()),
                include_open: false,
            })
            .await
        {
            Ok(s) => {
                again = Some(s);
                break;
            }
            Err(e) => {
                assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    assert!(
        again.is_some(),
        "the place of a closed stream was never freed"
    );
    p.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_answers_within_its_deadline() {
    let mut p = Pipeline::new(shared_broker(), "bounds-validate")
        .await
        .unwrap();
    let mut cfg = p.validation_config(Db::Sqlite).unwrap();
    // A deadline no extraction meets: the caller is answered at once, the work stops by its own
    // time limit.
    cfg.validate_timeout_ms = 0;
    cfg.validate_concurrency = 1;
    p.validation_url = p
        .spawn("validation", |l, s| {
            nianbao_validation::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
    let token = p.agency_token(AGENCY).unwrap();
    let mut client = ValidationClient::new(p.channel_as(&p.validation_url, &token).await.unwrap());
    let big = sample(B).repeat(20);
    let e = client
        .validate(ValidateRequest {
            content: big,
            file_name: B.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    assert!(
        e.message().contains("validation did not finish"),
        "{}",
        e.message()
    );
    p.shutdown().await.unwrap();
}
