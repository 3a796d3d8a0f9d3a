//! The extraction worker (`nianbao-extraction`).
//!
//! Consumes `report.received.*` from the durable queue `nianbao.extraction`, shared by every worker
//! of a deployment (a province scales this stage by starting more workers). For each
//! `ReportReceived` it fetches the raw bytes from ingest over gRPC (events stay small), extracts them
//! on the blocking thread pool, publishes `report.extracted.<region>` with the extraction as JSON,
//! and only then acknowledges.
//!
//! Failures: ingest unreachable, timing out, or not knowing the report yet (ingest may lag behind its
//! own event) are transient: the message is retried later, and after the last attempt it is parked
//! and `report.failed` (stage `extraction`) is published so that ingest marks the report failed. A
//! document that cannot be read is not a failure: its extraction carries `unreadable` and flows on
//! to validation, which reports it. An event that does not decode is parked at once. An extraction
//! whose `report.extracted` would exceed `max_event_bytes` is parked at once and the report marked
//! failed with the reason ([`Outcome::Fail`]): retrying could never succeed.
//!
//! The gRPC listener serves only health (SERVING while the broker is connected and the consumer
//! runs) and reflection. With `[metrics] listen` set, `/metrics` shows this worker's counters; each
//! delivery is traced as a `nianbao.extraction process` span whose FetchReport call carries the trace
//! to ingest.

use nianbao_auth::AuthChannel;
use nianbao_bus::{
    Bus, BusConfig, BusError, Envelope, Handler, Message, Outcome, QueueSpec, Stage,
};
use nianbao_proto::v1;
use nianbao_proto::v1::ingest_client::IngestClient;
use nianbao_service::{
    Observability, ServiceError, Shutdown, grpc_reflection, load_config, now_ms,
};
use prost::Message as _;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The work queue shared by all extraction workers.
pub const QUEUE: &str = "nianbao.extraction";
/// The stage name in `ReportFailed` events.
pub const STAGE: &str = "extraction";

const DEFAULTS: &str = include_str!("../../../deploy/config/extraction.toml");

/// The worker's configuration; every key is documented in `deploy/config/extraction.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Config {
    pub listen: String,
    pub ingest_url: String,
    /// `[ingest_client]`: TLS roots, client certificate and the extraction credential's token for
    /// FetchReport.
    pub ingest_client: nianbao_auth::ClientConfig,
    /// `[tls]` of this worker's own (health) gRPC server.
    pub tls: nianbao_auth::ServerTlsConfig,
    pub fetch_timeout_ms: u64,
    pub max_bytes: usize,
    /// Largest `report.extracted` event this worker publishes (bytes); see [`Worker::extract`].
    pub max_event_bytes: usize,
    /// `[limits]`: what reading one document may cost (DOCX entries and size, nesting, PDF pages,
    /// time).
    pub limits: nianbao_extract::LimitsConfig,
    pub bus: BusConfig,
    pub log: nianbao_telemetry::LogConfig,
    pub telemetry: nianbao_telemetry::TraceConfig,
    pub metrics: nianbao_service::MetricsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:50052".into(),
            ingest_url: "http://127.0.0.1:50051".into(),
            ingest_client: nianbao_auth::ClientConfig::default(),
            tls: nianbao_auth::ServerTlsConfig::default(),
            fetch_timeout_ms: 30_000,
            max_bytes: 20 * 1024 * 1024,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            limits: nianbao_extract::LimitsConfig::default(),
            bus: BusConfig::default(),
            log: nianbao_telemetry::LogConfig::default(),
            telemetry: nianbao_telemetry::TraceConfig::default(),
            metrics: nianbao_service::MetricsConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("ingest_url {url:?}: {source}")]
    IngestUrl {
        url: String,
        source: nianbao_auth::AuthError,
    },
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("gRPC server task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Loads the configuration: embedded defaults, then `file`, then `NIANBAO_*` variables.
pub fn load(file: Option<&Path>) -> Result<Config, Error> {
    Ok(load_config(DEFAULTS, file)?)
}

/// The queue the workers consume.
pub fn queue_spec() -> QueueSpec {
    QueueSpec::new(QUEUE, &[Stage::Received.pattern()])
}

/// A lazily connected ingest client: the worker starts (and reports healthy) before ingest is up;
/// each call then connects as needed, and a failed call is simply retried later.
pub fn ingest_client(cfg: &Config) -> Result<IngestClient<AuthChannel>, Error> {
    let channel = nianbao_auth::grpc::connect_lazy(
        &cfg.ingest_url,
        &cfg.ingest_client,
        Duration::from_millis(cfg.fetch_timeout_ms.min(10_000)),
        Duration::from_millis(cfg.fetch_timeout_ms),
    )
    .map_err(|source| Error::IngestUrl {
        url: nianbao_service::redact(&cfg.ingest_url),
        source,
    })?;
    Ok(IngestClient::new(channel)
        // The reply carries the whole document: allow the configured maximum plus the envelope.
        .max_decoding_message_size(cfg.max_bytes.saturating_add(64 * 1024)))
}

/// The default of `max_event_bytes`: far below RabbitMQ's `max_message_size` (128 MiB on 3.10,
/// and the broker closes the publishing channel on a larger message) and above the extraction of
/// any real report (a few hundred KB as JSON).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// The `nianbao.extraction` consumer.
pub struct Worker {
    bus: Bus,
    ingest: IngestClient<AuthChannel>,
    limits: nianbao_extract::Limits,
    stats: Arc<Stats>,
    max_event_bytes: usize,
}

/// What one worker did, for operators (and tests that check the load is shared between workers).
#[derive(Debug, Default)]
pub struct Stats {
    /// Reports extracted and handed on (`report.extracted` confirmed).
    pub processed: std::sync::atomic::AtomicU64,
    /// Deliveries that will be retried (ingest unreachable, publish failed, …).
    pub retried: std::sync::atomic::AtomicU64,
}

impl Worker {
    pub fn new(
        bus: Bus,
        ingest: IngestClient<AuthChannel>,
        limits: nianbao_extract::Limits,
    ) -> Worker {
        Worker::with_stats(bus, ingest, limits, Arc::default())
    }

    pub fn with_stats(
        bus: Bus,
        ingest: IngestClient<AuthChannel>,
        limits: nianbao_extract::Limits,
        stats: Arc<Stats>,
    ) -> Worker {
        Worker {
            bus,
            ingest,
            limits,
            stats,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
        }
    }

    /// This worker, refusing to publish `report.extracted` events larger than `bytes`.
    pub fn with_max_event_bytes(mut self, bytes: usize) -> Worker {
        self.max_event_bytes = bytes;
        self
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl Worker {
    /// One delivery: fetch, extract, publish.
    async fn extract(&self, msg: &Message) -> Outcome {
        let ev = match v1::ReportReceived::decode(msg.body.as_slice()) {
            Ok(ev) => ev,
            Err(e) => return Outcome::Invalid(format!("not a ReportReceived: {e}")),
        };
        let Some(meta) = ev.meta.clone().filter(|m| !m.report_id.is_empty()) else {
            return Outcome::Invalid("ReportReceived without report id".into());
        };
        let mut client = self.ingest.clone();
        let mut request = tonic::Request::new(v1::FetchReportRequest {
            report_id: meta.report_id.clone(),
        });
        nianbao_telemetry::inject_metadata(request.metadata_mut());
        let fetched = client.fetch_report(request).await;
        let reply = match fetched {
            Ok(r) => r.into_inner(),
            // Every failure is worth another attempt: UNAVAILABLE and timeouts are the network,
            // NOT_FOUND is ingest lagging behind its own event; the parking lot bounds the attempts.
            Err(status) => {
                return Outcome::Retry(format!(
                    "FetchReport {}: {:?}: {}",
                    meta.report_id,
                    status.code(),
                    status.message()
                ));
            }
        };
        if !reply.version.is_empty() && !meta.version.is_empty() && reply.version != meta.version {
            tracing::warn!(report_id = %meta.report_id, event = %meta.version, fetched = %reply.version,
                "ingest returned another version than the event names");
        }
        let limits = self.limits.clone();
        // A big document takes milliseconds of CPU: extract it on the blocking pool so the runtime
        // keeps serving other deliveries and the broker's heartbeats. A usual report (tens of KB,
        // ~50 µs) is extracted in place: handing it to another thread would cost more than the work.
        let content = reply.content;
        let x = if content.len() <= INLINE_EXTRACT_BYTES {
            nianbao_extract::extract_bytes_with(&content, &limits)
        } else {
            // In the delivery's span, so that whatever is logged there (a panic a format library
            // raised on a broken file, caught into a finding) names the report.
            let span = tracing::Span::current();
            match tokio::task::spawn_blocking(move || {
                span.in_scope(|| nianbao_extract::extract_bytes_with(&content, &limits))
            })
            .await
            {
                Ok(x) => x,
                Err(e) => return Outcome::Retry(format!("extraction task failed: {e}")),
            }
        };
        let extraction_json = match serde_json::to_vec(&x) {
            Ok(j) => j,
            Err(e) => return Outcome::Retry(format!("cannot encode the extraction: {e}")),
        };
        // A verified agency (the submitter's own credential) is the report's agency whatever the
        // document prints: a report printing another agency's name must not speak for it.
        let agency = if ev.agency_verified && !ev.agency_hint.trim().is_empty() {
            ev.agency_hint.clone()
        } else {
            x.agency
                .clone()
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| ev.agency_hint.clone())
        };
        let out = v1::ReportExtracted {
            meta: Some(v1::EventMeta {
                attempt: 1,
                emitted_at_ms: now_ms(),
                ..meta.clone()
            }),
            agency,
            year: x.year.unwrap_or(0),
            extraction_json,
            agency_hint: ev.agency_hint.clone(),
            published_on: ev.published_on.clone(),
            agency_verified: ev.agency_verified,
            backfill: ev.backfill,
        };
        let body = out.encode_to_vec();
        // Checked before publishing: a message above the broker's max_message_size closes the
        // publishing channel, and a retry would fail the same way every time.
        if body.len() > self.max_event_bytes {
            return Outcome::Fail(format!(
                "抽取结果过大（{} 字节，超过事件上限 max_event_bytes = {} 字节），无法交给校验环节；\
                 请检查文件是否异常，或调高上限 / the extraction is too large to hand on ({} bytes, \
                 above max_event_bytes = {} bytes): check the document, or raise the limit",
                body.len(),
                self.max_event_bytes,
                body.len(),
                self.max_event_bytes
            ));
        }
        let env = Envelope {
            message_id: format!("{}:{}:extracted", meta.report_id, meta.version),
            traceparent: non_empty(&meta.traceparent).or_else(|| msg.traceparent.clone()),
        };
        match self
            .bus
            .publish(Stage::Extracted, &meta.region, &body, &env)
            .await
        {
            Ok(()) => {
                tracing::debug!(report_id = %meta.report_id, agency = %out.agency, year = out.year,
                    unreadable = x.unreadable.is_some(), "extracted");
                Outcome::Done
            }
            Err(e) => Outcome::Retry(format!("publish report.extracted: {e}")),
        }
    }
}

/// Documents up to this size are extracted on the async worker itself (see `Worker::extract`).
const INLINE_EXTRACT_BYTES: usize = 256 * 1024;

impl Handler for Worker {
    /// The deliveries that arrive together are processed concurrently and settled with one ack.
    fn batched(&self) -> bool {
        true
    }

    async fn handle(&self, msg: &Message) -> Outcome {
        let outcome = self.extract(msg).await;
        let counter = match outcome {
            Outcome::Done => &self.stats.processed,
            Outcome::Retry(_) => &self.stats.retried,
            Outcome::Invalid(_) | Outcome::Fail(_) => return outcome,
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        outcome
    }

    async fn parked(&self, msg: &Message, reason: &str) {
        if let Some(meta) = v1::ReportReceived::decode(msg.body.as_slice())
            .ok()
            .and_then(|e| e.meta)
        {
            nianbao_service::report_failed(&self.bus, &meta, msg, STAGE, reason).await;
        }
    }
}

/// What a worker runs with besides its configuration; [`Deps::default`] is what the binary uses.
#[derive(Debug, Default)]
pub struct Deps {
    /// The metrics registry and its endpoint; `None`: a fresh registry, the endpoint where
    /// `[metrics] listen` says.
    pub obs: Option<Observability>,
    /// Counts what this worker does (tests and benches read it).
    pub stats: Arc<Stats>,
}

nianbao_service::impl_service_config!(Config);

/// Runs the worker until `shutdown`: health and reflection on `listener`, the broker connection
/// (retried every second until it answers), then the consumer. Graceful: on shutdown the consumer
/// stops taking deliveries, finishes those in hand, and returns the prefetched rest to the queue
/// for other workers.
pub async fn run(
    cfg: Config,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
    deps: Deps,
) -> Result<(), Error> {
    let mut obs = match deps.obs {
        Some(obs) => obs,
        None => Observability::bind("extraction", &cfg.metrics).await?,
    };
    let ingest = ingest_client(&cfg)?;
    tracing::info!(ingest = %nianbao_service::redact(&cfg.ingest_url), "reports fetched from ingest");
    let health = obs.health(&[""], &["broker", "consumer"], &shutdown).await;
    let server = nianbao_service::grpc_server(
        &cfg.tls,
        nianbao_service::local_addr(&listener),
        &nianbao_service::GrpcLimits::default(),
    )?
    .trace_fn(nianbao_telemetry::grpc_server_span("extraction"))
    .add_service(health.grpc.clone())
    .add_service(grpc_reflection()?)
    .serve_with_incoming_shutdown(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        shutdown.waiter(),
    );
    let server = tokio::spawn(server);

    if let Some(bus) =
        nianbao_service::connect_bus(&cfg.bus, "nianbao-extraction", None, shutdown.clone()).await
    {
        let bus = bus.with_metrics(obs.metrics.clone());
        let watchdog = health.watch(Some(&bus), None, &shutdown).await;
        let worker = Arc::new(
            Worker::with_stats(
                bus.clone(),
                ingest,
                cfg.limits.limits(cfg.max_bytes),
                deps.stats,
            )
            .with_max_event_bytes(cfg.max_event_bytes),
        );
        nianbao_service::consume_until_stopped(
            &bus,
            &queue_spec(),
            worker,
            Some(&health.readiness),
            &shutdown,
        )
        .await;
        health.readiness.stopping().await;
        bus.close().await;
        let _ = watchdog.await;
    }
    server.await??;
    health.stopped().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_are_documented() {
        let cfg = load(None).unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:50052");
        assert_eq!(cfg.ingest_url, "http://127.0.0.1:50051");
        assert_eq!(cfg.max_bytes, 20 * 1024 * 1024);
        assert_eq!(cfg.max_event_bytes, DEFAULT_MAX_EVENT_BYTES);
        assert_eq!(cfg.limits, nianbao_extract::LimitsConfig::default());
        assert_eq!(queue_spec().bindings, vec!["report.received.*".to_string()]);
        // Every key in the embedded defaults carries a comment line above it.
        assert_eq!(
            nianbao_service::undocumented_keys(DEFAULTS),
            Vec::<String>::new()
        );
    }

    /// `[limits]` in the configuration file reaches the extractor.
    #[test]
    fn configured_limits_apply() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("extraction.toml");
        std::fs::write(&file, "[limits]\nmax_depth = 8\n").unwrap();
        let cfg = load(Some(&file)).unwrap();
        let limits = cfg.limits.limits(cfg.max_bytes);
        assert_eq!((limits.max_depth, limits.max_pages), (8, 300));
        let deep = format!(
            "<html><body>{}清河县财政局2024年政府信息公开工作年度报告{}</body></html>",
            "<div>".repeat(20),
            "</div>".repeat(20)
        );
        let refused = nianbao_extract::extract_bytes_with(deep.as_bytes(), &limits);
        assert!(refused.unreadable.is_some(), "{:?}", refused.unreadable);
        let default = load(None).unwrap();
        let read = nianbao_extract::extract_bytes_with(
            deep.as_bytes(),
            &default.limits.limits(default.max_bytes),
        );
        assert_eq!(read.unreadable, None);
    }

    #[test]
    fn bad_ingest_url_is_a_config_error() {
        let cfg = Config {
            ingest_url: "not a url".into(),
            ..Config::default()
        };
        assert!(matches!(ingest_client(&cfg), Err(Error::IngestUrl { .. })));
    }
}
