//! The extraction worker in-process against a real private RabbitMQ (the `nianbao-e2e` harness's
//! broker, a vhost of its own) and a small real Ingest gRPC server (fixed documents for
//! FetchReport): extraction and publication, an unreadable document that flows on, NOT_FOUND and an
//! unreachable ingest retried then parked with `report.failed`, garbage parked at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nianbao_bus::{Bus, BusConfig, Envelope, Stage};
use nianbao_e2e::bus::{collect, next, wait_len};
use nianbao_model::Extraction;
use nianbao_proto::v1;
use nianbao_proto::v1::ingest_server::{Ingest, IngestServer};
use prost::Message as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tonic::{Request, Response, Status};

const REPORT: &str = "某某县财政局2024年政府信息公开工作年度报告\n一、总体情况\n2024年，本局认真贯彻落实政府信息公开条例。\n";

/// Ingest as extraction sees it: FetchReport over a fixed set of documents.
#[derive(Default)]
struct FakeIngest {
    docs: HashMap<String, Vec<u8>>,
    fetches: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl Ingest for FakeIngest {
    async fn submit_report(
        &self,
        _: Request<v1::SubmitReportRequest>,
    ) -> Result<Response<v1::SubmitReportResponse>, Status> {
        Err(Status::unimplemented("test server"))
    }
    async fn get_report(
        &self,
        _: Request<v1::GetReportRequest>,
    ) -> Result<Response<v1::Report>, Status> {
        Err(Status::unimplemented("test server"))
    }
    async fn list_reports(
        &self,
        _: Request<v1::ListReportsRequest>,
    ) -> Result<Response<v1::ListReportsResponse>, Status> {
        Err(Status::unimplemented("test server"))
    }
    async fn fetch_report(
        &self,
        req: Request<v1::FetchReportRequest>,
    ) -> Result<Response<v1::FetchReportResponse>, Status> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let id = req.into_inner().report_id;
        match self.docs.get(&id) {
            Some(b) => Ok(Response::new(v1::FetchReportResponse {
                content: b.clone(),
                file_name: format!("{id}.txt"),
                version: format!("v-{id}"),
            })),
            None => Err(Status::not_found(format!("no report {id}"))),
        }
    }
    async fn get_report_document(
        &self,
        _: Request<v1::GetReportRequest>,
    ) -> Result<Response<v1::FetchReportResponse>, Status> {
        Err(Status::unimplemented("test server"))
    }
}

fn bus_config(url: &str) -> BusConfig {
    BusConfig {
        url: url.to_string(),
        retry_delays_ms: vec![200, 200],
        max_attempts: 3,
        prefetch: 4,
        ..BusConfig::default()
    }
}

fn received(id: &str, hint: &str) -> v1::ReportReceived {
    v1::ReportReceived {
        meta: Some(v1::EventMeta {
            report_id: id.into(),
            version: format!("v-{id}"),
            attempt: 1,
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            region: "320000".into(),
            emitted_at_ms: 5,
            submitted_at_ms: 7,
        }),
        file_name: format!("{id}.txt"),
        agency_hint: hint.into(),
        source_url: String::new(),
        published_on: "2025-01-15".into(),
        size: 0,
        ..Default::default()
    }
}

async fn publish(bus: &Bus, ev: &v1::ReportReceived) {
    let meta = ev.meta.clone().unwrap();
    bus.publish(
        Stage::Received,
        &meta.region,
        &ev.encode_to_vec(),
        &Envelope {
            message_id: format!("{}:{}:received", meta.report_id, meta.version),
            traceparent: Some(meta.traceparent),
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn extraction_worker_end_to_end() {
    let amqp_url = nianbao_e2e::shared_broker().new_vhost_url().unwrap();

    // The fake ingest, on its own port, stoppable to simulate an outage.
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut docs = HashMap::new();
    docs.insert("known".to_string(), REPORT.as_bytes().to_vec());
    docs.insert(
        "binary".to_string(),
        vec![0x89, b'P', b'N', b'G', 0, 0, 0, 13, 0xff, 0],
    );
    let ingest = FakeIngest {
        docs,
        fetches: fetches.clone(),
    };
    let ingest_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ingest_addr = ingest_listener.local_addr().unwrap();
    let (stop_ingest, ingest_stopped) = tokio::sync::oneshot::channel::<()>();
    let ingest_task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(IngestServer::new(ingest))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(ingest_listener),
                async {
                    let _ = ingest_stopped.await;
                },
            ),
    );

    let mut cfg = nianbao_extraction::load(None).unwrap();
    cfg.bus = bus_config(&amqp_url);
    cfg.ingest_url = format!("http://{ingest_addr}");
    cfg.fetch_timeout_ms = 2_000;
    cfg.tls.plaintext = true;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, shutdown) = nianbao_service::Shutdown::new();
    let worker = tokio::spawn(nianbao_extraction::run(
        cfg,
        listener,
        shutdown,
        Default::default(),
    ));

    nianbao_e2e::pipeline::wait_serving(&format!("http://{addr}"), "", Duration::from_secs(30))
        .await
        .unwrap();

    let bus = Bus::connect(&bus_config(&amqp_url), "test").await.unwrap();
    let (mut extracted, stop_a) =
        collect(&bus, "test.extracted", &[Stage::Extracted.pattern()]).await;
    let (mut failed, stop_b) = collect(&bus, "test.failed", &[Stage::Failed.pattern()]).await;

    // 1. A readable report: extracted, metadata carried along.
    publish(&bus, &received("known", "提交时的机关名")).await;
    let msg = next(&mut extracted, 30).await;
    assert_eq!(msg.routing_key, "report.extracted.320000");
    assert_eq!(msg.message_id.as_deref(), Some("known:v-known:extracted"));
    assert_eq!(
        msg.traceparent.as_deref(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );
    let ev = v1::ReportExtracted::decode(msg.body.as_slice()).unwrap();
    let x: Extraction = serde_json::from_slice(&ev.extraction_json).unwrap();
    assert_eq!(x, nianbao_extract::extract_bytes(REPORT.as_bytes()));
    assert_eq!(ev.agency, "某某县财政局");
    assert_eq!(ev.year, 2024);
    assert_eq!(ev.agency_hint, "提交时的机关名");
    assert_eq!(ev.published_on, "2025-01-15");
    let meta = ev.meta.unwrap();
    assert_eq!(
        (
            meta.report_id.as_str(),
            meta.version.as_str(),
            meta.region.as_str()
        ),
        ("known", "v-known", "320000")
    );
    assert_eq!(meta.submitted_at_ms, 7);
    assert!(meta.emitted_at_ms > 7);

    // 2. An unreadable document is not a failure: it flows on with `unreadable` set and the hint.
    publish(&bus, &received("binary", "提交时的机关名")).await;
    let ev = v1::ReportExtracted::decode(next(&mut extracted, 30).await.body.as_slice()).unwrap();
    let x: Extraction = serde_json::from_slice(&ev.extraction_json).unwrap();
    assert!(x.unreadable.is_some());
    assert_eq!(ev.agency, "提交时的机关名");
    assert_eq!(ev.year, 0);

    // 3. Ingest does not know the report (yet): retried, then parked, then report.failed.
    let before = fetches.load(Ordering::SeqCst);
    publish(&bus, &received("missing", "")).await;
    let f = v1::ReportFailed::decode(next(&mut failed, 30).await.body.as_slice()).unwrap();
    assert_eq!(f.stage, "extraction");
    assert!(f.reason.contains("NotFound"), "{}", f.reason);
    assert!(f.reason.contains("after 3 attempts"), "{}", f.reason);
    assert_eq!(f.meta.as_ref().unwrap().report_id, "missing");
    assert_eq!(fetches.load(Ordering::SeqCst) - before, 3);
    wait_len(&bus, "nianbao.extraction.parked", 1, 10).await;

    // 4. Garbage is parked at once, without report.failed; the queue keeps flowing.
    bus.publish_to_queue("nianbao.extraction", b"\x08\x96\x01garbage\xff")
        .await
        .unwrap();
    wait_len(&bus, "nianbao.extraction.parked", 2, 10).await;

    // 5. Ingest unreachable: retried with delays, then parked and report.failed.
    let _ = stop_ingest.send(());
    ingest_task.await.unwrap().unwrap();
    publish(&bus, &received("known", "")).await;
    let f = v1::ReportFailed::decode(next(&mut failed, 60).await.body.as_slice()).unwrap();
    assert_eq!(f.stage, "extraction");
    assert_eq!(f.meta.as_ref().unwrap().report_id, "known");
    assert_eq!(f.meta.as_ref().unwrap().attempt, 3);
    wait_len(&bus, "nianbao.extraction.parked", 3, 10).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), failed.recv())
            .await
            .is_err(),
        "garbage must not produce report.failed"
    );

    let _ = stop_a.send(());
    let _ = stop_b.send(());
    stop_tx.fire();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("worker stops")
        .unwrap()
        .unwrap();
    bus.close().await;
}
