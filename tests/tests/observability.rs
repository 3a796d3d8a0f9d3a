//! Observability of the pipeline (issue #6), against a real RabbitMQ (a private vhost per test on the
//! harness's broker):
//!
//! - one submitted report makes one trace: spans from all four services share its trace id, one per
//!   stage (with the time each message waited in its queue), in stage order — checked with the SDK's
//!   in-memory exporter behind the same subscriber set-up the binaries use;
//! - each service's `/metrics`, scraped over HTTP after a run, counts the reports it processed;
//! - SIGTERM to a real `nianbao-extraction` process in the middle of its work loses no report (and
//!   the process, exporting over OTLP to a collector in the test, flushes spans that continue the
//!   traces ingest started in this process).
//!
//! The tracing subscriber is process-wide: this binary installs one (with the OpenTelemetry layer)
//! before anything else, and each test picks its own spans by trace id.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_e2e::pipeline::{Db, Pipeline, fast_bus};
use nianbao_e2e::{Broker, shared_broker};
use nianbao_metrics::sample_value;
use nianbao_proto::v1;
use nianbao_proto::v1::ingest_client::IngestClient;
use nianbao_proto::v1::ingest_server::{Ingest, IngestServer};
use nianbao_service::Shutdown;
use nianbao_service::{Metrics, Observability};
use nianbao_telemetry::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The spans of every test in this binary (installed once, first thing in each test).
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        // JSON, as in production: every record inside a stage's span carries its trace id.
        let log = nianbao_telemetry::LogConfig {
            filter: "warn".into(),
            format: nianbao_telemetry::LogFormat::Json,
        };
        let guard = nianbao_telemetry::init_with_provider("e2e", &log, provider, "info").unwrap();
        assert!(
            guard.is_exporting(),
            "another subscriber was installed first"
        );
        // The provider must live as long as the process: keep the guard forever.
        std::mem::forget(guard);
        exporter
    })
}

/// A metrics registry for `service` and a listener for its endpoint.
async fn observed(service: &str) -> (Observability, SocketAddr) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (Observability::new(Metrics::new(service), Some(l)), addr)
}

/// Ingest, validation and notification in-process (SQLite), each with its own `/metrics`; extraction
/// workers are added by the tests ([`add_worker`]).
async fn start(broker: &Broker) -> Pipeline {
    let mut p = Pipeline::new(broker, "observability").await.unwrap();
    let mut cfg = p.ingest_config(Db::Sqlite).unwrap();
    // The outbox loop re-publishes reports whose confirm has not been recorded yet; on a busy
    // machine it can overtake a submission and publish it twice (at-least-once, which every
    // stage tolerates). Counting tests want exactly once: keep the loop out of their way.
    cfg.republish_interval_ms = 600_000;
    let (obs, addr) = observed("ingest").await;
    p.metrics.insert("ingest", addr);
    p.ingest_url = p
        .spawn("ingest", |l, s| {
            nianbao_ingest::run(cfg, l, s, nianbao_ingest::Deps { obs: Some(obs) })
        })
        .await
        .unwrap();

    let cfg = p.validation_config(Db::Sqlite).unwrap();
    let (obs, addr) = observed("validation").await;
    p.metrics.insert("validation", addr);
    p.spawn("validation", |l, s| {
        nianbao_validation::run(cfg, l, s, nianbao_validation::Deps { obs: Some(obs) })
    })
    .await
    .unwrap();

    let cfg = p.notification_config(Db::Sqlite).unwrap();
    let (obs, addr) = observed("notification").await;
    p.metrics.insert("notification", addr);
    p.notify_url = p
        .spawn("notification", |l, s| {
            nianbao_notification::run(
                cfg,
                l,
                s,
                nianbao_notification::Deps {
                    obs: Some(obs),
                    ..Default::default()
                },
            )
        })
        .await
        .unwrap();
    p
}

/// An in-process extraction worker fetching from `ingest_url`, with its own `/metrics`.
async fn add_worker(p: &mut Pipeline, ingest_url: &str, prefetch: u16) {
    let cfg = p.extraction_config(ingest_url, prefetch);
    let (obs, addr) = observed("extraction").await;
    p.metrics.insert("extraction", addr);
    p.spawn("extraction", |l, s| {
        nianbao_extraction::run(
            cfg,
            l,
            s,
            nianbao_extraction::Deps {
                obs: Some(obs),
                ..Default::default()
            },
        )
    })
    .await
    .unwrap();
}

fn count_by_status(reports: &[v1::Report]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in reports {
        *m.entry(r.status.clone()).or_default() += 1;
    }
    m
}

fn generated(count: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    let opts = nianbao_synth::SynthOptions {
        count,
        seed,
        ..Default::default()
    };
    nianbao_synth::generate(&opts)
        .into_iter()
        .map(|r| (format!("{}.txt", r.name), r.bytes))
        .collect()
}

/// `GET path` over plain HTTP/1.0: the status code and the body.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// Acceptance 1: one report, one trace, a span per stage in stage order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_report_is_one_trace_across_the_four_services() {
    let spans = exporter();
    let broker = shared_broker();
    let mut p = start(broker).await;
    let url = p.ingest_url.clone();
    add_worker(&mut p, &url, 4).await;

    let ids = p.submit(&generated(1, 61)).await.unwrap();
    let id = ids[0].clone();
    p.wait_status(&ids, &["notified"], Duration::from_secs(60))
        .await
        .unwrap();

    // The stage spans end once their delivery is acknowledged: wait for the last stage's.
    let start = Instant::now();
    let (trace, all) = loop {
        let all = spans.get_finished_spans().unwrap();
        let trace = all
            .iter()
            .find(|s| {
                s.name == "nianbao.notification process"
                    && attr(s, "report_id").as_deref() == Some(id.as_str())
            })
            .map(|s| s.span_context.trace_id());
        if let Some(trace) = trace {
            break (trace, all);
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no notification span for report {id}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mine: Vec<&SpanData> = all
        .iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .collect();
    let names = || mine.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>();
    let by_id = |id| {
        mine.iter()
            .copied()
            .find(|s| s.span_context.span_id() == id)
            .unwrap_or_else(|| panic!("span {id} not in the trace {:?}", names()))
    };
    // Walk up from the notification stage: each stage is the child of the previous one, and starts
    // after it (stage order), back to the submission in ingest.
    let notification = mine
        .iter()
        .copied()
        .find(|s| s.name == "nianbao.notification process")
        .unwrap();
    let validation = by_id(notification.parent_span_id);
    let extraction = by_id(validation.parent_span_id);
    let submit = by_id(extraction.parent_span_id);
    assert_eq!(
        submit.name,
        "nianbao.v1.Ingest/SubmitReport",
        "{:?}",
        names()
    );
    assert_eq!(submit.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert_eq!(
        attr(submit, "nianbao.service").as_deref(),
        Some("nianbao-ingest")
    );
    let mut previous = submit;
    for (service, span) in [
        ("extraction", extraction),
        ("validation", validation),
        ("notification", notification),
    ] {
        assert_eq!(span.name, format!("nianbao.{service} process"));
        assert_eq!(
            attr(span, "nianbao.service").as_deref(),
            Some(format!("nianbao-{service}").as_str())
        );
        assert_eq!(attr(span, "report_id").as_deref(), Some(id.as_str()));
        assert_eq!(attr(span, "nianbao.outcome").as_deref(), Some("done"));
        assert!(span.start_time > previous.start_time);
        assert!(attr(span, "messaging.queue_wait_ms").is_some());
        // The wait in the queue before the stage: from the publication (inside the previous
        // stage's span) to the delivery.
        let wait = mine
            .iter()
            .copied()
            .filter(|w| {
                w.name == format!("nianbao.{service} wait")
                    && w.parent_span_id == previous.span_context.span_id()
            })
            .min_by_key(|w| w.end_time)
            .unwrap_or_else(|| panic!("no {service} wait span: {:?}", names()));
        assert!(wait.start_time >= previous.start_time && wait.start_time <= previous.end_time);
        assert!(wait.end_time <= span.start_time + Duration::from_millis(50));
        previous = span;
    }
    // The bytes are fetched inside the extraction stage: the gRPC call continues its trace.
    let fetch = mine
        .iter()
        .copied()
        .find(|s| {
            s.name == "nianbao.v1.Ingest/FetchReport"
                && s.parent_span_id == extraction.span_context.span_id()
        })
        .unwrap_or_else(|| panic!("no FetchReport under the extraction span: {:?}", names()));
    assert_eq!(
        attr(fetch, "nianbao.service").as_deref(),
        Some("nianbao-ingest")
    );
    assert!(fetch.start_time > extraction.start_time && fetch.end_time <= extraction.end_time);
    // The status follower in ingest records each later event inside the same trace as well.
    for stage in ["extracted", "validated", "notified"] {
        assert!(
            mine.iter()
                .any(|s| s.name == "nianbao.ingest.status process"
                    && attr(s, "messaging.rabbitmq.destination.routing_key")
                        .is_some_and(|k| k.starts_with(&format!("report.{stage}.")))),
            "ingest follows {stage}: {:?}",
            names()
        );
    }
    p.shutdown().await.unwrap();
}

/// Acceptance 2: each service's `/metrics` counts what it processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_endpoints_count_the_reports_each_service_processed() {
    exporter();
    let broker = shared_broker();
    let mut p = start(broker).await;
    let url = p.ingest_url.clone();
    add_worker(&mut p, &url, 8).await;
    let reports = generated(12, 62);
    let n = reports.len() as f64;
    let ids = p.submit(&reports).await.unwrap();
    let done = p
        .wait_status(&ids, &["notified"], Duration::from_secs(120))
        .await
        .unwrap();
    let mut findings: HashMap<(String, String), f64> = HashMap::new();
    for r in &done {
        for f in &r.findings {
            *findings
                .entry((f.rule.clone(), f.severity.clone()))
                .or_default() += 1.0;
        }
    }
    let alerts: f64 = done.iter().map(|r| r.alert_ids.len() as f64).sum();
    assert!(
        !findings.is_empty() && alerts > 0.0,
        "the corpus has defects"
    );

    // Counters move just after the status does (the follower counts after it stored): poll a little.
    let scrape = |service: &'static str| {
        let addr = p.metrics[service];
        async move {
            let (code, body) = http_get(addr, "/metrics").await;
            assert_eq!(code, 200, "{service}: {body}");
            body
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let texts = loop {
        let mut texts = BTreeMap::new();
        for s in ["ingest", "extraction", "validation", "notification"] {
            texts.insert(s, scrape(s).await);
        }
        let follower_done = sample_value(
            &texts["ingest"],
            "nianbao_messages_total",
            &[("queue", "nianbao.ingest.status"), ("outcome", "done")],
        );
        if follower_done == Some(3.0 * n) || Instant::now() > deadline {
            break texts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let value = |service: &str, name: &str, labels: &[(&str, &str)]| {
        sample_value(&texts[service], name, labels).unwrap_or(0.0)
    };
    let reached = |service: &str, stage: &str| {
        value(
            service,
            "nianbao_reports_total",
            &[("service", service), ("stage", stage)],
        )
    };
    assert_eq!(reached("ingest", "received"), n);
    assert_eq!(reached("extraction", "extracted"), n);
    assert_eq!(reached("validation", "validated"), n);
    assert_eq!(reached("notification", "notified"), n);
    for (service, queue, handled) in [
        ("extraction", "nianbao.extraction", n),
        ("validation", "nianbao.validation", n),
        ("notification", "nianbao.notification", n),
        ("ingest", "nianbao.ingest.status", 3.0 * n),
    ] {
        let q = [("queue", queue)];
        assert_eq!(
            value(
                service,
                "nianbao_messages_total",
                &[("queue", queue), ("outcome", "done")]
            ),
            handled,
            "{service}"
        );
        assert_eq!(
            value(service, "nianbao_stage_duration_seconds_count", &q),
            handled
        );
        assert_eq!(
            value(service, "nianbao_queue_wait_seconds_count", &q),
            handled
        );
        // Every delivery is handled in exactly one batch, and some batches hold more than one.
        assert_eq!(
            value(service, "nianbao_consumer_batch_size_sum", &q),
            handled,
            "{service}"
        );
        let batches = value(service, "nianbao_consumer_batch_size_count", &q);
        assert!(batches >= 1.0 && batches <= handled, "{service}: {batches}");
        assert_eq!(value(service, "nianbao_retries_total", &q), 0.0);
        assert_eq!(value(service, "nianbao_dead_lettered_total", &q), 0.0);
        assert_eq!(value(service, "nianbao_consumer_in_flight", &q), 0.0);
        assert!(value(service, "nianbao_consumer_prefetch", &q) > 0.0);
        assert_eq!(value(service, "nianbao_ready", &[("check", "broker")]), 1.0);
    }
    assert_eq!(
        value(
            "extraction",
            "nianbao_consumer_prefetch",
            &[("queue", "nianbao.extraction")]
        ),
        8.0
    );
    for ((rule, severity), count) in &findings {
        assert_eq!(
            value(
                "validation",
                "nianbao_findings_total",
                &[("rule", rule), ("severity", severity)]
            ),
            *count,
            "{rule}/{severity}"
        );
    }
    assert_eq!(
        value("validation", "nianbao_findings_total", &[]),
        findings.values().sum::<f64>()
    );
    assert_eq!(value("notification", "nianbao_alerts_total", &[]), alerts);
    // Notification's store-derived families are on the same endpoint: every alert created is in its
    // store, none acknowledged yet; the page is still one OpenMetrics exposition.
    let notification = &texts["notification"];
    assert_eq!(
        value(
            "notification",
            "nianbao_notification_alerts",
            &[("service", "notification")]
        ),
        alerts
    );
    assert_eq!(
        value(
            "notification",
            "nianbao_notification_alerts",
            &[("status", "acknowledged")]
        ),
        0.0
    );
    assert!(notification.contains("# TYPE nianbao_notification_deliveries counter\n"));
    assert!(notification.ends_with("# EOF\n"), "{notification}");
    assert_eq!(notification.matches("# EOF").count(), 1);
    for service in ["ingest", "validation", "notification"] {
        assert_eq!(
            value(service, "nianbao_ready", &[("check", "database")]),
            1.0,
            "{service}"
        );
        let (code, body) = http_get(p.metrics[service], "/readyz").await;
        assert_eq!(code, 200, "{service}: {body}");
    }
    p.shutdown().await.unwrap();
}

/// gRPC health and `/readyz` follow the broker connection: the vhost deleted under a running
/// service (its connection is closed and cannot come back) turns it NOT_SERVING.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_turns_not_serving_when_the_broker_connection_is_lost() {
    exporter();
    let broker = shared_broker();
    let p = start(broker).await;
    let channel = p
        .security
        .client(&p.security.operator)
        .endpoint(&p.ingest_url)
        .unwrap()
        .connect_lazy();
    let health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = |service: &'static str| {
        let mut health = health.clone();
        async move {
            health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .map(|r| r.into_inner().status)
                .unwrap_or(-1)
        }
    };
    const SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    const NOT_SERVING: i32 =
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    let wait_for = |service: &'static str, want: i32| {
        let status = &status;
        async move {
            let start = Instant::now();
            loop {
                let got = status(service).await;
                if got == want {
                    return;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "{service:?} health is {got}, expected {want}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    wait_for("nianbao.v1.Ingest", SERVING).await;
    wait_for("", SERVING).await;
    assert_eq!(http_get(p.metrics["ingest"], "/readyz").await.0, 200);

    let vhost = p.amqp.rsplit_once('/').unwrap().1.to_string();
    broker.rabbitmqctl(&["-q", "delete_vhost", &vhost]).unwrap();
    wait_for("nianbao.v1.Ingest", NOT_SERVING).await;
    wait_for("", NOT_SERVING).await;
    let (code, body) = http_get(p.metrics["ingest"], "/readyz").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("broker failing"), "{body}");
    assert!(body.contains("database ok"), "{body}");
    let text = http_get(p.metrics["ingest"], "/metrics").await.1;
    assert_eq!(
        sample_value(&text, "nianbao_ready", &[("check", "broker")]),
        Some(0.0)
    );
    // Every service notices, not only ingest.
    for service in ["validation", "notification"] {
        let start = Instant::now();
        while http_get(p.metrics[service], "/readyz").await.0 != 503 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{service} still ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    drop(health);
    p.shutdown().await.unwrap();
}

/// An Ingest front that answers FetchReport slowly (forwarding to the real ingest), so that a
/// worker is reliably in the middle of its deliveries when it is told to stop.
struct SlowIngest {
    inner: IngestClient<nianbao_auth::AuthChannel>,
    delay: Duration,
}

#[tonic::async_trait]
impl Ingest for SlowIngest {
    async fn submit_report(
        &self,
        _: tonic::Request<v1::SubmitReportRequest>,
    ) -> Result<tonic::Response<v1::SubmitReportResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("fetch-only front"))
    }

    async fn get_report(
        &self,
        _: tonic::Request<v1::GetReportRequest>,
    ) -> Result<tonic::Response<v1::Report>, tonic::Status> {
        Err(tonic::Status::unimplemented("fetch-only front"))
    }

    async fn list_reports(
        &self,
        _: tonic::Request<v1::ListReportsRequest>,
    ) -> Result<tonic::Response<v1::ListReportsResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("fetch-only front"))
    }

    async fn fetch_report(
        &self,
        request: tonic::Request<v1::FetchReportRequest>,
    ) -> Result<tonic::Response<v1::FetchReportResponse>, tonic::Status> {
        tokio::time::sleep(self.delay).await;
        self.inner.clone().fetch_report(request.into_inner()).await
    }

    async fn get_report_document(
        &self,
        _: tonic::Request<v1::GetReportRequest>,
    ) -> Result<tonic::Response<v1::FetchReportResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("fetch-only front"))
    }
}

/// A minimal OTLP/gRPC trace collector: keeps every export request.
struct Collector(Arc<std::sync::Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The spans exported by the service whose resource says `service.name` = `service`.
fn collected_spans(
    exported: &std::sync::Mutex<Vec<ExportTraceServiceRequest>>,
    service: &str,
) -> Vec<ProtoSpan> {
    let requests = exported.lock().unwrap();
    let mut out = Vec::new();
    for rs in requests.iter().flat_map(|r| &r.resource_spans) {
        let name = rs.resource.as_ref().and_then(|r| {
            r.attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    any_value::Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
        });
        if name.as_deref() == Some(service) {
            out.extend(rs.scope_spans.iter().flat_map(|ss| ss.spans.clone()));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `nianbao-extraction` binary, built by cargo (a no-op when it is up to date) into the target
/// folder the tests use.
fn extraction_binary() -> PathBuf {
    let target = nianbao_e2e::target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "nianbao-extraction",
        "--bin",
        "nianbao-extraction",
    ]);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        cmd.arg("--release");
        "release"
    };
    let status = cmd
        .current_dir(nianbao_e2e::repo_root())
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null())
        .status()
        .expect("running cargo build -p nianbao-extraction");
    assert!(status.success(), "cargo build -p nianbao-extraction failed");
    let bin = target.join(profile).join("nianbao-extraction");
    assert!(bin.is_file(), "{} is missing", bin.display());
    bin
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Acceptance 3: SIGTERM to an extraction worker process in the middle of its deliveries; it
/// finishes or returns them, exits cleanly, and a second worker takes the rest: every report is
/// validated.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_in_the_middle_of_a_batch_loses_no_report() {
    exporter();
    let bin = tokio::task::spawn_blocking(extraction_binary)
        .await
        .unwrap();
    let broker = shared_broker();
    let mut p = start(broker).await;

    // The worker process fetches through the slow front.
    let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_url = format!("http://{}", front.local_addr().unwrap());
    let slow = SlowIngest {
        inner: p.ingest_as(&p.security.extraction).await.unwrap(),
        delay: Duration::from_millis(250),
    };
    let (front_stop, front_shutdown) = Shutdown::new();
    let front_task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(IngestServer::new(slow).max_encoding_message_size(64 << 20))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(front),
                front_shutdown.waiter(),
            ),
    );

    // The worker process exports its spans over OTLP to this collector.
    let collector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_url = format!("http://{}", collector.local_addr().unwrap());
    let exported = Arc::new(std::sync::Mutex::new(Vec::new()));
    let collector_task = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(exported.clone())))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(collector),
                front_shutdown.waiter(),
            ),
    );

    let ids = p.submit(&generated(40, 63)).await.unwrap();
    let metrics_port = free_port();
    let log = p.dir.join("worker.log");
    let mut child = Command::new(&bin)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info,lapin=warn")
        .env("NIANBAO_BUS__URL", &p.amqp)
        .env("NIANBAO_BUS__PREFETCH", "4")
        .env("NIANBAO_BUS__RETRY_DELAYS_MS", "200,500")
        .env("NIANBAO_BUS__MAX_ATTEMPTS", "3")
        .env("NIANBAO_INGEST_URL", &front_url)
        .env("NIANBAO_LISTEN", "127.0.0.1:0")
        .env("NIANBAO_TLS__PLAINTEXT", "true")
        .env("NIANBAO_TELEMETRY__OTLP_ENDPOINT", &collector_url)
        .env(
            "NIANBAO_METRICS__LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let metrics: SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();

    // Mid-batch: some reports done, a full prefetch in flight.
    let start = Instant::now();
    loop {
        let text = match tokio::net::TcpStream::connect(metrics).await {
            Ok(_) => http_get(metrics, "/metrics").await.1,
            Err(_) => String::new(),
        };
        let done = sample_value(&text, "nianbao_messages_total", &[("outcome", "done")]);
        let in_flight = sample_value(&text, "nianbao_consumer_in_flight", &[]);
        if done.is_some_and(|d| d >= 2.0) && in_flight.is_some_and(|f| f >= 1.0) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker never got going:\n{}",
            tail(&log)
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the worker exited:\n{}",
            tail(&log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if stopped.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!(
                "the worker did not stop within 30 s of SIGTERM:\n{}",
                tail(&log)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit {status}:\n{}", tail(&log));
    let worker_log = std::fs::read_to_string(&log).unwrap();
    assert!(
        worker_log.contains("nianbao-extraction stopped"),
        "{worker_log}"
    );

    // Its spans reached the collector before it exited, as `nianbao-extraction`, each a child of
    // the SubmitReport span of its report in the ingest service (another process: the trace
    // context crossed the broker in the message headers).
    let worker_spans = collected_spans(&exported, "nianbao-extraction");
    let processed: Vec<&ProtoSpan> = worker_spans
        .iter()
        .filter(|s| s.name == "nianbao.extraction process")
        .collect();
    assert!(
        processed.len() >= 2,
        "extraction spans exported: {:?}",
        worker_spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let in_process = exporter().get_finished_spans().unwrap();
    for span in &processed {
        let trace = hex(&span.trace_id);
        let parent = hex(&span.parent_span_id);
        assert!(
            in_process
                .iter()
                .any(|s| s.name == "nianbao.v1.Ingest/SubmitReport"
                    && s.span_context.trace_id().to_string() == trace
                    && s.span_context.span_id().to_string() == parent),
            "the worker's span {trace}/{parent} continues a SubmitReport span of ingest"
        );
    }
    assert!(
        worker_spans
            .iter()
            .any(|s| s.name == "nianbao.extraction wait"),
        "queue wait spans exported too"
    );

    // It was stopped with work left: some reports still wait in the queue.
    let after = p.reports(&ids).await.unwrap();
    let waiting = after.iter().filter(|r| r.status == "received").count();
    assert!(
        waiting > 0 && waiting < ids.len(),
        "SIGTERM landed mid-way: {:?}",
        count_by_status(&after)
    );
    front_stop.fire();
    let _ = front_task.await;
    let _ = collector_task.await;

    // A second worker (the rolling restart's new instance) takes the rest.
    let url = p.ingest_url.clone();
    add_worker(&mut p, &url, 8).await;
    let done = p
        .wait_status(&ids, &["validated", "notified"], Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(done.len(), ids.len());
    let bus = nianbao_bus::Bus::connect(&fast_bus(&p.amqp), "e2e-check")
        .await
        .unwrap();
    assert_eq!(bus.queue_len("nianbao.extraction.parked").await.unwrap(), 0);
    assert_eq!(bus.queue_len("nianbao.dead").await.unwrap(), 0);
    bus.close().await;
    p.shutdown().await.unwrap();
}
