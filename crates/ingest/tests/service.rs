//! The ingest service in-process against a real private RabbitMQ (the `nianbao-e2e` harness's
//! broker, a vhost of its own per test), with SQLite in a temporary folder and again with a
//! database of the harness's private PostgreSQL cluster.
//!
//! One scenario walks through everything, because booting a broker takes several seconds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_bus::{Bus, BusConfig, Envelope, Handler, Message, Outcome, QueueSpec, Stage};
use nianbao_ingest::Config;
use nianbao_proto::v1;
use nianbao_proto::v1::ingest_client::IngestClient;
use prost::Message as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tonic::Code;
use tonic::transport::Channel;

/// Collects what arrives on a test queue.
struct Collect(mpsc::UnboundedSender<Message>);

impl Handler for Collect {
    async fn handle(&self, msg: &Message) -> Outcome {
        let _ = self.0.send(msg.clone());
        Outcome::Done
    }
}

struct Running {
    addr: std::net::SocketAddr,
    stop: nianbao_service::Trigger,
    task: tokio::task::JoinHandle<Result<(), nianbao_ingest::IngestError>>,
}

async fn start(cfg: Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, shutdown) = nianbao_service::Shutdown::new();
    let task = tokio::spawn(nianbao_ingest::run(
        cfg,
        listener,
        shutdown,
        Default::default(),
    ));
    Running { addr, stop, task }
}

impl Running {
    async fn client(&self) -> IngestClient<Channel> {
        let url = format!("http://{}", self.addr);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(c) = IngestClient::connect(url.clone()).await {
                return c
                    .max_decoding_message_size(64 * 1024 * 1024)
                    .max_encoding_message_size(64 * 1024 * 1024);
            }
            assert!(!self.task.is_finished(), "the service exited early");
            assert!(Instant::now() < deadline, "the service never listened");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn stop(self) {
        self.stop.fire();
        let r = tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the service did not stop within 20 s");
        r.unwrap().unwrap();
    }
}

fn submit(content: &[u8], agency: Option<&str>, region: Option<&str>) -> v1::SubmitReportRequest {
    v1::SubmitReportRequest {
        content: content.to_vec(),
        file_name: "report.txt".into(),
        agency: agency.map(Into::into),
        region: region.map(Into::into),
        source_url: Some("https://example.gov.cn/r.html".into()),
        published_on: Some("2025-01-20".into()),
        ..Default::default()
    }
}

fn meta(report_id: &str, version: &str, region: &str) -> Option<v1::EventMeta> {
    Some(v1::EventMeta {
        report_id: report_id.into(),
        version: version.into(),
        attempt: 1,
        traceparent: String::new(),
        region: region.into(),
        emitted_at_ms: 1,
        submitted_at_ms: 1,
    })
}

async fn emit(bus: &Bus, stage: Stage, region: &str, id: &str, version: &str, body: Vec<u8>) {
    let env = Envelope {
        message_id: format!("{id}:{version}:{}", stage.as_str()),
        traceparent: None,
    };
    bus.publish(stage, region, &body, &env).await.unwrap();
}

/// Polls GetReport until `ok` holds (10 s at most).
async fn wait_report(
    client: &mut IngestClient<Channel>,
    id: &str,
    what: &str,
    ok: impl Fn(&v1::Report) -> bool,
) -> v1::Report {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = client
            .get_report(v1::GetReportRequest {
                report_id: id.into(),
            })
            .await
            .unwrap()
            .into_inner();
        if ok(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn next_received(
    rx: &mut mpsc::UnboundedReceiver<Message>,
    secs: u64,
) -> (Message, v1::ReportReceived) {
    let m = tokio::time::timeout(Duration::from_secs(secs), rx.recv())
        .await
        .expect("no report.received event arrived")
        .unwrap();
    let ev = v1::ReportReceived::decode(m.body.as_slice()).unwrap();
    (m, ev)
}

async fn wait_queue_len(bus: &Bus, queue: &str, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let len = bus.queue_len(queue).await.unwrap();
        if len == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{queue} holds {len}, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingest_end_to_end_sqlite() {
    let amqp_url = nianbao_e2e::shared_broker().new_vhost_url().unwrap();
    let data = tempfile::tempdir().unwrap();
    scenario(&amqp_url, data.path(), None).await;
}

/// The same walk with PostgreSQL (a private cluster of its own) as the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingest_end_to_end_postgres() {
    let database_url =
        nianbao_e2e::new_database(nianbao_e2e::shared_postgres(), "ingest_service").unwrap();
    let amqp_url = nianbao_e2e::shared_broker().new_vhost_url().unwrap();
    let data = tempfile::tempdir().unwrap();
    scenario(&amqp_url, data.path(), Some(database_url)).await;
}

async fn scenario(amqp_url: &str, data: &Path, database_url: Option<String>) {
    let mut cfg = Config {
        data_dir: data.join("ingest"),
        database_url: database_url.unwrap_or_default(),
        max_bytes: 64 * 1024,
        republish_interval_ms: 200,
        bus: BusConfig {
            url: amqp_url.to_string(),
            retry_delays_ms: vec![100],
            max_attempts: 2,
            confirm_timeout_ms: 5_000,
            ..BusConfig::default()
        },
        ..Config::default()
    };
    (cfg.tls, cfg.auth) = nianbao_auth::loopback_insecure();
    let svc = start(cfg.clone()).await;
    let mut client = svc.client().await;
    let bus = Bus::connect(&cfg.bus, "ingest-test").await.unwrap();

    // Health: SERVING once the database and the broker are up.
    let channel = Channel::from_shared(format!("http://{}", svc.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let h = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "nianbao.v1.Ingest".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    // Reflection lists the service (what `grpcurl list` shows).
    {
        use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
        let req = tonic_reflection::pb::v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(channel.clone())
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        let resp = stream.message().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
            panic!("unexpected reflection answer {resp:?}");
        };
        let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
        assert!(names.contains(&"nianbao.v1.Ingest"), "{names:?}");
        assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
    }

    // 1. The event lands in the extraction work queue, which every service declares when it
    //    connects (so that nothing is unroutable whatever order the services start in).
    let text_a = "某县人民政府2024年政府信息公开工作年度报告\n一、总体情况\n".repeat(20);
    let a = client
        .submit_report(submit(text_a.as_bytes(), None, None))
        .await
        .unwrap()
        .into_inner();
    assert!(!a.duplicate);
    assert_eq!(a.report_id.len(), 24);
    assert_eq!(a.version.len(), 64);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = QueueSpec::new("nianbao.extraction", &[Stage::Received.pattern()]);
    bus.declare(&spec).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let consumer = {
        let bus = bus.clone();
        let spec = spec.clone();
        tokio::spawn(async move {
            bus.consume(&spec, Arc::new(Collect(tx)), async move {
                let _ = stop_rx.await;
            })
            .await
        })
    };
    let (m, ev) = next_received(&mut rx, 10).await;
    let em = ev.meta.clone().unwrap();
    assert_eq!(em.report_id, a.report_id);
    assert_eq!(em.version, a.version);
    assert_eq!(em.region, "000000");
    assert_eq!(em.attempt, 1);
    assert!(em.submitted_at_ms > 0 && em.emitted_at_ms >= em.submitted_at_ms);
    assert_eq!(m.routing_key, "report.received.000000");
    assert_eq!(
        m.message_id.as_deref(),
        Some(format!("{}:{}:received", a.report_id, a.version).as_str())
    );
    assert_eq!(ev.size, text_a.len() as u64);
    assert_eq!(ev.published_on, "2025-01-20");

    // 2. A report with agency and region: published at once, routed by region.
    let text_b = "某某县人民政府办公室2024年政府信息公开工作年度报告\n表三\n".repeat(30);
    let b = client
        .submit_report(submit(
            text_b.as_bytes(),
            Some("某某县人民政府办公室"),
            Some("410100"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!b.duplicate);
    let (m, ev) = next_received(&mut rx, 10).await;
    assert_eq!(m.routing_key, "report.received.410100");
    assert_eq!(ev.meta.as_ref().unwrap().report_id, b.report_id);
    assert_eq!(ev.agency_hint, "某某县人民政府办公室");

    // 3. Idempotent: the same bytes for the same agency → same id, duplicate, no second event.
    let again = client
        .submit_report(submit(
            text_b.as_bytes(),
            Some("某某县人民政府办公室"),
            Some("410100"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.report_id, b.report_id);
    assert_eq!(again.version, b.version);
    assert!(again.duplicate);
    // The same bytes for another agency are another report.
    let other = client
        .submit_report(submit(text_b.as_bytes(), Some("另一个机关"), None))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(other.report_id, b.report_id);
    assert_eq!(other.version, b.version);
    assert!(!other.duplicate);
    let (_, ev) = next_received(&mut rx, 10).await;
    assert_eq!(ev.meta.unwrap().report_id, other.report_id);
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), rx.recv())
            .await
            .is_err(),
        "a duplicate submission published a second event"
    );

    // 4. Size limit and empty content: INVALID_ARGUMENT with a readable message.
    let big = vec![b'x'; 64 * 1024 + 1];
    let e = client
        .submit_report(submit(&big, None, None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().contains("报告过大") && e.message().contains("65536"),
        "{}",
        e.message()
    );
    let e = client
        .submit_report(submit(b"", None, None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("empty"));
    let e = client
        .submit_report(submit(b"x", None, Some("41.01")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // Exactly at the limit is fine.
    let at_limit = vec![b'y'; 64 * 1024];
    let ok = client
        .submit_report(submit(&at_limit, None, None))
        .await
        .unwrap()
        .into_inner();
    let _ = next_received(&mut rx, 10).await;

    // 5. FetchReport gives the bytes back; unknown ids are NOT_FOUND.
    let f = client
        .fetch_report(v1::FetchReportRequest {
            report_id: b.report_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(f.content, text_b.as_bytes());
    assert_eq!(f.version, b.version);
    assert_eq!(f.file_name, "report.txt");
    let f = client
        .fetch_report(v1::FetchReportRequest {
            report_id: ok.report_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(f.content.len(), 64 * 1024);
    for e in [
        client
            .fetch_report(v1::FetchReportRequest {
                report_id: "nope".into(),
            })
            .await
            .unwrap_err(),
        client
            .get_report(v1::GetReportRequest {
                report_id: "nope".into(),
            })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.code(), Code::NotFound);
    }

    // 6. Status follows the stage events.
    let r = wait_report(&mut client, &b.report_id, "received", |r| {
        r.status == "received"
    })
    .await;
    assert_eq!(r.agency, "某某县人民政府办公室"); // the hint until extraction
    assert_eq!(r.region, "410100");
    assert_eq!(r.size, text_b.len() as u64);
    assert_eq!(r.source_url, "https://example.gov.cn/r.html");
    let extracted = v1::ReportExtracted {
        meta: meta(&b.report_id, &b.version, "410100"),
        agency: "某某县人民政府".into(),
        year: 2024,
        extraction_json: b"{}".to_vec(),
        agency_hint: "某某县人民政府办公室".into(),
        published_on: "2025-01-20".into(),
        agency_verified: false,
        backfill: false,
    };
    emit(
        &bus,
        Stage::Extracted,
        "410100",
        &b.report_id,
        &b.version,
        extracted.encode_to_vec(),
    )
    .await;
    let r = wait_report(&mut client, &b.report_id, "extracted", |r| {
        r.status == "extracted"
    })
    .await;
    assert_eq!(r.agency, "某某县人民政府");
    assert_eq!(r.year, 2024);

    let finding = nianbao_model::Finding::new(nianbao_model::RuleId::T3Balance, "表三 不平衡")
        .part(3)
        .cell("R24")
        .column(0)
        .line(Some(57));
    let validated = v1::ReportValidated {
        meta: meta(&b.report_id, &b.version, "410100"),
        agency: "某某县人民政府".into(),
        year: 2024,
        findings: vec![
            v1::Finding::from(&finding),
            v1::Finding {
                rule: "some-future-rule".into(),
                severity: "info".into(),
                message: "新规则".into(),
                ..Default::default()
            },
        ],
        published_on: "2025-01-20".into(),
        agency_verified: false,
        agency_id: String::new(),
        publication_witnessed: false,
        backfill: false,
    };
    emit(
        &bus,
        Stage::Validated,
        "410100",
        &b.report_id,
        &b.version,
        validated.encode_to_vec(),
    )
    .await;
    let r = wait_report(&mut client, &b.report_id, "validated", |r| {
        r.status == "validated"
    })
    .await;
    assert_eq!(r.findings.len(), 2);
    assert_eq!(
        nianbao_model::Finding::try_from(&r.findings[0]).unwrap(),
        finding
    );
    assert_eq!(r.findings[1].rule, "some-future-rule");
    assert!(r.updated_at_ms >= r.received_at_ms);

    // A late duplicate of an earlier step changes nothing; a failure of the next stage applies.
    emit(
        &bus,
        Stage::Extracted,
        "410100",
        &b.report_id,
        &b.version,
        extracted.encode_to_vec(),
    )
    .await;
    let failed = v1::ReportFailed {
        meta: meta(&b.report_id, &b.version, "410100"),
        stage: "notification".into(),
        reason: "webhook down after 4 attempts".into(),
    };
    emit(
        &bus,
        Stage::Failed,
        "410100",
        &b.report_id,
        &b.version,
        failed.encode_to_vec(),
    )
    .await;
    let r = wait_report(&mut client, &b.report_id, "failed", |r| {
        r.status == "failed"
    })
    .await;
    assert_eq!(r.failure_reason, "webhook down after 4 attempts");
    assert_eq!(r.findings.len(), 2);
    // A later success (the message retried from the parking lot) wins.
    let notified = v1::ReportNotified {
        meta: meta(&b.report_id, &b.version, "410100"),
        alert_ids: vec!["al-1".into(), "al-2".into()],
        office_ids: vec!["410100-gkb".into()],
    };
    emit(
        &bus,
        Stage::Notified,
        "410100",
        &b.report_id,
        &b.version,
        notified.encode_to_vec(),
    )
    .await;
    let r = wait_report(&mut client, &b.report_id, "notified", |r| {
        r.status == "notified"
    })
    .await;
    assert_eq!(r.alert_ids, vec!["al-1", "al-2"]);
    assert_eq!(r.failure_reason, "");

    // Events of reports this ingest does not know are acknowledged and ignored; garbage is parked.
    let stranger = v1::ReportValidated {
        meta: meta("000000000000000000000000", &b.version, "410100"),
        ..Default::default()
    };
    emit(
        &bus,
        Stage::Validated,
        "410100",
        "x",
        "y",
        stranger.encode_to_vec(),
    )
    .await;
    bus.publish_to_queue("nianbao.ingest.status", b"\xff\xfe garbage")
        .await
        .unwrap();
    emit(
        &bus,
        Stage::Validated,
        "410100",
        "x",
        "y",
        vec![0xff, 0xff, 0xff, 0x01],
    )
    .await;
    wait_queue_len(&bus, "nianbao.ingest.status.parked", 2).await;
    wait_queue_len(&bus, "nianbao.ingest.status", 0).await;

    // 7. ListReports with filters.
    let list = |agency: Option<&str>,
                region: Option<&str>,
                year: Option<i32>,
                status: Option<&str>,
                limit: u32| {
        v1::ListReportsRequest {
            agency: agency.map(Into::into),
            region: region.map(Into::into),
            year,
            status: status.map(Into::into),
            limit,
            offset: 0,
        }
    };
    let all = client
        .list_reports(list(None, None, None, None, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total, 4);
    assert_eq!(all.reports.len(), 4);
    let page = client
        .list_reports(list(None, None, None, None, 2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((page.total, page.reports.len()), (4, 2));
    for agency in ["某某县人民政府", "某某县人民政府办公室"] {
        let l = client
            .list_reports(list(Some(agency), None, None, None, 0))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(l.total, 1, "agency {agency}");
        assert_eq!(l.reports[0].report_id, b.report_id);
    }
    let l = client
        .list_reports(list(None, Some("410100"), Some(2024), Some("notified"), 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(l.total, 1);
    let l = client
        .list_reports(list(None, Some("000000"), None, Some("received"), 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(l.total, 3);
    let l = client
        .list_reports(list(None, None, Some(2023), None, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(l.total, 0);
    let e = client
        .list_reports(list(None, None, None, Some("done"), 0))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // 8. Graceful stop, then a restart on the same database keeps everything.
    let _ = stop_tx.send(());
    consumer.await.unwrap().unwrap();
    svc.stop().await;
    let svc = start(cfg.clone()).await;
    let mut client = svc.client().await;
    let r = wait_report(&mut client, &b.report_id, "persisted", |r| {
        r.status == "notified"
    })
    .await;
    assert_eq!(r.findings.len(), 2);
    svc.stop().await;
    bus.close().await;
}
