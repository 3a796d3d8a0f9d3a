//! The parts every nianbao service shares, so that each service crate holds only its own logic.
//!
//! - [`load_config`]: a typed configuration from the service's embedded defaults, an optional TOML
//!   file, and `NIANBAO_`-prefixed environment variables (`NIANBAO_BUS__URL=…`, `__` separates
//!   levels), in that order of precedence.
//! - [`shutdown_signal`]: Ctrl-C or SIGTERM.
//! - [`main`], [`Shutdown`], [`consume_until_stopped`]: the life of a service process (its binary's
//!   `main`, the stop signal every task watches, the consumer loop), in [`lifecycle`].
//! - [`Observability::health`] → [`Health`]: the standard gRPC health service, the service's own
//!   metrics registry and its HTTP endpoint (`GET /metrics` for Prometheus, `/healthz`, `/readyz`),
//!   and the [`Readiness`] checks (broker connected, database answering, consumer running) that
//!   drive the gRPC health statuses, `/readyz` and `nianbao_ready`; on shutdown every status turns
//!   NOT_SERVING at once, so that load balancers and orchestrators stop sending work while the
//!   service drains.
//! - [`grpc_reflection`]: server reflection, so that `grpcurl` works against every service.

use serde::de::DeserializeOwned;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServiceError {
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("reflection: {0}")]
    Reflection(String),
    #[error(transparent)]
    Auth(#[from] nianbao_auth::AuthError),
    #[error("cannot listen on {addr} for metrics: {source}")]
    MetricsListen {
        addr: String,
        source: std::io::Error,
    },
}

pub use nianbao_metrics::{Metrics, MetricsConfig};

mod lead;
pub mod lifecycle;
pub use lead::lead;
pub use lifecycle::{ServiceConfig, Shutdown, Trigger, consume_until_stopped, main};
pub use nianbao_telemetry::{LogConfig, TraceConfig};

/// What a service instance records and where it serves it: its own [`Metrics`] registry, and the
/// listener of its `/metrics` endpoint when `[metrics] listen` is set. Tests build one with
/// [`Observability::new`] (a listener on port 0 and a registry they keep a clone of).
pub struct Observability {
    pub metrics: Metrics,
    pub listener: Option<tokio::net::TcpListener>,
    /// Families computed at each scrape, served after the registry's (see [`ScrapeFamilies`]).
    pub scrape: Option<ScrapeFamilies>,
}

impl std::fmt::Debug for Observability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observability")
            .field("metrics", &self.metrics)
            .field("listener", &self.listener)
            .field("scrape", &self.scrape.is_some())
            .finish()
    }
}

/// Metric families a service computes when it is scraped rather than counts as it goes (notification:
/// alerts by office and status, deliveries per channel, read from its store), as OpenMetrics text
/// without the closing `# EOF`. They are served on the same `/metrics` as the registry, so that one
/// scrape target per service sees everything.
pub type ScrapeFamilies = std::sync::Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>> + Send + Sync,
>;

/// The registry's exposition with `extra` families appended before its closing `# EOF`.
fn with_families(mut registry: String, extra: &str) -> String {
    if extra.is_empty() {
        return registry;
    }
    let tail = if registry.ends_with("# EOF\n") {
        registry.truncate(registry.len() - "# EOF\n".len());
        "# EOF\n"
    } else {
        ""
    };
    registry.push_str(extra);
    if !extra.ends_with('\n') {
        registry.push('\n');
    }
    registry.push_str(tail);
    registry
}

impl Observability {
    pub fn new(metrics: Metrics, listener: Option<tokio::net::TcpListener>) -> Observability {
        Observability {
            metrics,
            listener,
            scrape: None,
        }
    }

    /// A fresh registry for `service`, and the endpoint's listener bound as `cfg` says (none when
    /// `listen` is empty).
    pub async fn bind(service: &str, cfg: &MetricsConfig) -> Result<Observability, ServiceError> {
        let listener =
            match cfg.listen() {
                Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(
                    |source| ServiceError::MetricsListen {
                        addr: addr.to_string(),
                        source,
                    },
                )?),
                None => None,
            };
        Ok(Observability::new(Metrics::new(service), listener))
    }

    /// Serves this instance's endpoint (if it has a listener) until `stop` turns true.
    pub fn serve(
        &mut self,
        readiness: &Readiness,
        stop: Shutdown,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let listener = self.listener.take()?;
        Some(serve_metrics(
            listener,
            self.metrics.clone(),
            self.scrape.clone(),
            Some(readiness.clone()),
            stop,
        ))
    }
}

impl Observability {
    /// The health of a service, wired: the gRPC health service, in which every name of `services`
    /// (`""` is the whole server) is NOT_SERVING until every check of `checks` passes, and this
    /// instance's `/metrics`, `/healthz`, `/readyz` endpoint (when it has a listener) until
    /// `shutdown`.
    pub async fn health(
        &mut self,
        services: &[&str],
        checks: &[&str],
        shutdown: &Shutdown,
    ) -> Health {
        let (reporter, _) = tonic_health::server::health_reporter();
        let grpc = tonic_health::pb::health_server::HealthServer::new(
            tonic_health::server::HealthService::from_health_reporter(reporter.clone()),
        );
        let readiness = Readiness::new(reporter, services, checks, self.metrics.clone());
        // The reporter starts with "" SERVING: the first answer must already be the real one.
        readiness.publish().await;
        let endpoint = self.serve(&readiness, shutdown.clone());
        Health {
            readiness,
            grpc,
            endpoint,
        }
    }
}

/// What [`Observability::health`] wired: add `grpc` to the server, [`Health::watch`] the broker
/// and the database once they are connected, and await [`Health::stopped`] at the end.
pub struct Health {
    pub readiness: Readiness,
    pub grpc: tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService>,
    endpoint: Option<tokio::task::JoinHandle<()>>,
}

impl Health {
    /// Probes the broker and the database once now (so that the first health answer is the real
    /// one), then every second in a task until `shutdown`, which then marks the service stopping.
    pub async fn watch(
        &self,
        bus: Option<&nianbao_bus::Bus>,
        db: Option<&nianbao_db::Db>,
        shutdown: &Shutdown,
    ) -> tokio::task::JoinHandle<()> {
        probe_readiness(&self.readiness, bus, db).await;
        tokio::spawn(watch_readiness(
            self.readiness.clone(),
            bus.cloned(),
            db.cloned(),
            std::time::Duration::from_secs(1),
            shutdown.clone(),
        ))
    }

    /// Waits for the endpoint, which stops at shutdown.
    pub async fn stopped(self) {
        if let Some(endpoint) = self.endpoint {
            let _ = endpoint.await;
        }
    }

    /// Stops the endpoint now (a service that failed before its shutdown).
    pub fn abort(&self) {
        if let Some(endpoint) = &self.endpoint {
            endpoint.abort();
        }
    }
}

/// Serves `GET /metrics` (the registry as OpenMetrics text, then the `scrape` families),
/// `GET /healthz` (200 while the process runs) and `GET /readyz` (200 when every readiness check
/// passes, else 503, with the checks) on `listener` until `stop` turns true.
pub fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    scrape: Option<ScrapeFamilies>,
    readiness: Option<Readiness>,
    stop: Shutdown,
) -> tokio::task::JoinHandle<()> {
    use axum::http::{StatusCode, header};
    use axum::routing::get;
    let addr = listener.local_addr().ok();
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                let scrape = scrape.clone();
                async move {
                    let extra = match scrape {
                        Some(families) => families().await,
                        None => String::new(),
                    };
                    (
                        [(header::CONTENT_TYPE, nianbao_metrics::CONTENT_TYPE)],
                        with_families(metrics.encode(), &extra),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move {
                    match readiness {
                        Some(r) if r.is_ready() => (StatusCode::OK, r.describe()),
                        Some(r) => (StatusCode::SERVICE_UNAVAILABLE, r.describe()),
                        None => (StatusCode::OK, "ok\n".to_string()),
                    }
                }
            }),
        );
    tracing::info!(?addr, "metrics endpoint listening");
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.waiter())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "metrics endpoint stopped");
        }
    })
}

/// Named readiness checks of one service (`broker`, `database`, `consumer`, …) and what follows
/// them: the gRPC health status of each service name given (SERVING only while every check passes
/// and the service is not stopping), the `nianbao_ready{check}` gauge, and `/readyz`. Cheap to
/// clone.
#[derive(Clone)]
pub struct Readiness {
    inner: std::sync::Arc<ReadinessInner>,
}

struct ReadinessInner {
    checks: std::sync::Mutex<std::collections::BTreeMap<String, bool>>,
    stopping: std::sync::atomic::AtomicBool,
    reporter: tonic_health::server::HealthReporter,
    services: Vec<String>,
    metrics: Metrics,
    /// Serialises status updates so that the reporter always ends with the latest state.
    publish: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl Readiness {
    /// Readiness with the checks `checks`, all failing until set; `services` are the gRPC service
    /// names whose health follows it (`""` is the whole server).
    pub fn new(
        reporter: tonic_health::server::HealthReporter,
        services: &[&str],
        checks: &[&str],
        metrics: Metrics,
    ) -> Readiness {
        let map = checks.iter().map(|c| ((*c).to_string(), false)).collect();
        for c in checks {
            metrics.set_ready(c, false);
        }
        Readiness {
            inner: std::sync::Arc::new(ReadinessInner {
                checks: std::sync::Mutex::new(map),
                stopping: std::sync::atomic::AtomicBool::new(false),
                reporter,
                services: services.iter().map(|s| (*s).to_string()).collect(),
                metrics,
                publish: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn checks(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, bool>> {
        self.inner
            .checks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records check `check` and updates the health statuses.
    pub async fn set(&self, check: &str, ok: bool) {
        let changed = self.checks().insert(check.to_string(), ok) != Some(ok);
        self.inner.metrics.set_ready(check, ok);
        if changed {
            if ok {
                tracing::info!(check, "readiness check passes");
            } else {
                tracing::warn!(check, "readiness check fails");
            }
        }
        self.publish().await;
    }

    /// Every check passes and the service is not stopping.
    pub fn is_ready(&self) -> bool {
        !self
            .inner
            .stopping
            .load(std::sync::atomic::Ordering::SeqCst)
            && self.checks().values().all(|ok| *ok)
    }

    /// The service is shutting down: NOT_SERVING from now on, whatever the checks say.
    pub async fn stopping(&self) {
        self.inner
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.publish().await;
    }

    /// One line per check (`broker ok`, `database failing`), for `/readyz`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if self
            .inner
            .stopping
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            out.push_str("stopping\n");
        }
        for (check, ok) in self.checks().iter() {
            out.push_str(check);
            out.push_str(if *ok { " ok\n" } else { " failing\n" });
        }
        out
    }

    async fn publish(&self) {
        let _one_at_a_time = self.inner.publish.lock().await;
        let status = if self.is_ready() {
            tonic_health::ServingStatus::Serving
        } else {
            tonic_health::ServingStatus::NotServing
        };
        for service in &self.inner.services {
            self.inner
                .reporter
                .set_service_status(service, status)
                .await;
        }
    }
}

/// One round of [`watch_readiness`]'s probes: [`Health::watch`] calls it once before the task, so
/// that the first health answer is already the real one.
async fn probe_readiness(
    readiness: &Readiness,
    bus: Option<&nianbao_bus::Bus>,
    db: Option<&nianbao_db::Db>,
) {
    if let Some(bus) = bus {
        readiness.set("broker", bus.is_connected()).await;
    }
    if let Some(db) = db {
        let ping = db.ping();
        let ok = matches!(
            tokio::time::timeout(std::time::Duration::from_secs(5), ping).await,
            Ok(Ok(_))
        );
        readiness.set("database", ok).await;
    }
}

/// Probes the broker connection (`broker` check) and the database (`database` check: `SELECT 1`
/// within 5 s) every `interval` until `stop` turns true, then marks `readiness` as stopping.
async fn watch_readiness(
    readiness: Readiness,
    bus: Option<nianbao_bus::Bus>,
    db: Option<nianbao_db::Db>,
    interval: std::time::Duration,
    stop: Shutdown,
) {
    loop {
        if stop.is_set() {
            break;
        }
        probe_readiness(&readiness, bus.as_ref(), db.as_ref()).await;
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = stop.wait() => break,
        }
    }
    readiness.stopping().await;
}

/// The keys of a defaults file (`deploy/config/<service>.toml`) with no comment line right above
/// them. Every setting is documented where an operator reads it; each service's tests check that
/// this is empty.
pub fn undocumented_keys(defaults: &str) -> Vec<String> {
    let mut prev = "";
    let mut out = Vec::new();
    for line in defaults.lines() {
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') && !t.starts_with('[') && !prev.starts_with('#') {
            out.push(t.to_string());
        }
        prev = t;
    }
    out
}

/// Loads `T` from the embedded `defaults` (TOML text), then `file` if given, then the environment
/// (`NIANBAO_SECTION__KEY`). The environment wins, so containers and tests override single keys.
pub fn load_config<T: DeserializeOwned>(
    defaults: &str,
    file: Option<&Path>,
) -> Result<T, ServiceError> {
    let mut b = config::Config::builder()
        .add_source(config::File::from_str(defaults, config::FileFormat::Toml));
    if let Some(f) = file {
        b = b.add_source(
            config::File::from(f)
                .format(config::FileFormat::Toml)
                .required(true),
        );
    }
    b = b.add_source(
        config::Environment::with_prefix("NIANBAO")
            .prefix_separator("_")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("bus.retry_delays_ms")
            .try_parsing(true),
    );
    Ok(b.build()?.try_deserialize()?)
}

/// The `--config FILE` argument of a service binary, or `NIANBAO_CONFIG`.
pub fn config_path_from_args() -> Option<std::path::PathBuf> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--config" {
            return args.next().map(Into::into);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(v.into());
        }
    }
    std::env::var_os("NIANBAO_CONFIG").map(Into::into)
}

/// Resolves on Ctrl-C or SIGTERM (rolling restarts send SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Server reflection over the nianbao.v1 descriptors (grpcurl list/describe).
pub fn grpc_reflection() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    ServiceError,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(nianbao_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServiceError::Reflection(e.to_string()))
}

/// A gRPC server's `[grpc]` table: what one client can make the server hold at once.
#[derive(Clone, Debug, serde::Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcLimits {
    /// Calls (HTTP/2 streams) one client connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Calls of one connection handled at once; the others wait for a slot.
    pub concurrency_limit_per_connection: usize,
    /// A call not answered within this many milliseconds ends with DEADLINE_EXCEEDED.
    pub request_timeout_ms: u64,
}

impl Default for GrpcLimits {
    fn default() -> Self {
        GrpcLimits {
            max_concurrent_streams: 64,
            concurrency_limit_per_connection: 32,
            request_timeout_ms: 60_000,
        }
    }
}

/// The gRPC server every service runs: TLS as `tls` says for a listener on `addr` (cleartext only
/// on loopback, by `plaintext = true`), and the bounds of `limits`.
pub fn grpc_server(
    tls: &nianbao_auth::ServerTlsConfig,
    addr: std::net::SocketAddr,
    limits: &GrpcLimits,
) -> Result<tonic::transport::Server, ServiceError> {
    let mut server = tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams.max(1))
        .concurrency_limit_per_connection(limits.concurrency_limit_per_connection.max(1))
        .timeout(std::time::Duration::from_millis(
            limits.request_timeout_ms.max(1),
        ));
    if let Some(cfg) = tls.server(addr)? {
        server = server
            .tls_config(cfg)
            .map_err(|e| nianbao_auth::AuthError::Tls(e.to_string()))?;
    }
    Ok(server)
}

/// The listener's address, for [`grpc_server`] and the auth settings that depend on it.
pub fn local_addr(listener: &tokio::net::TcpListener) -> std::net::SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// Tells ingest that a report failed at `stage` after its last attempt. Every stage calls this from
/// `Handler::parked` with the meta of the event it could not process, so that the report is marked
/// failed with the reason instead of staying in its last state. A failure to publish is logged: the
/// message itself is already safe in the parking lot.
pub async fn report_failed(
    bus: &nianbao_bus::Bus,
    meta: &nianbao_proto::v1::EventMeta,
    msg: &nianbao_bus::Message,
    stage: &str,
    reason: &str,
) {
    use prost::Message as _;
    let ev = nianbao_proto::v1::ReportFailed {
        meta: Some(nianbao_proto::v1::EventMeta {
            attempt: msg.attempt,
            emitted_at_ms: now_ms(),
            ..meta.clone()
        }),
        stage: stage.to_string(),
        reason: reason.to_string(),
    };
    let stage_key = nianbao_bus::Stage::Failed;
    let env = nianbao_bus::Envelope {
        message_id: format!("{}:{}:{}", meta.report_id, meta.version, stage_key.as_str()),
        traceparent: Some(meta.traceparent.clone())
            .filter(|t| !t.is_empty())
            .or_else(|| msg.traceparent.clone()),
    };
    if let Err(e) = bus
        .publish(stage_key, &meta.region, &ev.encode_to_vec(), &env)
        .await
    {
        tracing::error!(report_id = %meta.report_id, error = %e, "could not publish report.failed");
    }
}

/// Connects to the broker (and declares `spec`, if given), retrying with a capped backoff until it
/// answers or `stop` turns true (`None` then). Every service starts this way, so that services and
/// broker can start in any order. An attempt on a broker that refuses connections fails at once
/// ([`nianbao_bus::probe`]), so the backoff stays short: a service connects within about two
/// seconds of its broker coming up. Each attempt is still bounded, as shutdown must not wait for a
/// broker that accepts connections but does not answer. While the broker stays away the failure is
/// logged as a warning when it starts, when its reason changes and every 30 s (with the number of
/// attempts), the retries in between at debug level: an outage of an hour is not 1,800 warnings.
pub async fn connect_bus(
    cfg: &nianbao_bus::BusConfig,
    name: &str,
    spec: Option<&nianbao_bus::QueueSpec>,
    stop: Shutdown,
) -> Option<nianbao_bus::Bus> {
    use std::time::Duration;
    let mut delay = Duration::from_millis(500);
    let mut failures = RepeatedFailure::default();
    let url = redact(&cfg.url);
    loop {
        if stop.is_set() {
            return None;
        }
        let attempt = async {
            let bus = nianbao_bus::Bus::connect(cfg, name).await?;
            if let Some(spec) = spec {
                bus.declare(spec).await?;
            }
            Ok::<_, nianbao_bus::BusError>(bus)
        };
        let reason = tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(10), attempt) => match r {
                Ok(Ok(bus)) => {
                    tracing::info!(url = %url, failed_attempts = failures.count, "connected to the broker");
                    return Some(bus);
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer within 10 s".to_string(),
            },
            () = stop.wait() => return None,
        };
        if failures.record(&reason, std::time::Instant::now()) {
            tracing::warn!(error = %reason, url = %url, attempts = failures.count, retry_in_ms = delay.as_millis(), "broker not reachable yet");
        } else {
            tracing::debug!(error = %reason, url = %url, attempts = failures.count, "broker still not reachable");
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.wait() => return None,
        }
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// When a failure that keeps recurring deserves a warning again: the first time, when its reason
/// changes, and after `REPEAT_WARNING` of the same.
#[derive(Default)]
struct RepeatedFailure {
    count: u64,
    warned: Option<(std::time::Instant, String)>,
}

const REPEAT_WARNING: std::time::Duration = std::time::Duration::from_secs(30);

impl RepeatedFailure {
    /// Counts one failure; true if it is to be logged as a warning.
    fn record(&mut self, reason: &str, now: std::time::Instant) -> bool {
        self.count += 1;
        let due = self.warned.as_ref().is_none_or(|(at, said)| {
            said != reason || now.saturating_duration_since(*at) >= REPEAT_WARNING
        });
        if due {
            self.warned = Some((now, reason.to_string()));
        }
        due
    }
}

/// The URL without its password or tokens, for logs and error messages (the broker's and the
/// database's URLs, robots' URLs): [`nianbao_bus::redact_url`], kept in the bus crate so that
/// `BusConfig`'s `Debug` can use it too.
pub fn redact(url: &str) -> String {
    nianbao_bus::redact_url(url)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recurring_failure_is_warned_at_start_on_change_and_every_30_s() {
        use std::time::{Duration, Instant};
        let t0 = Instant::now();
        let mut f = RepeatedFailure::default();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(f.record("refused", at(0)));
        assert!(!f.record("refused", at(2)));
        assert!(!f.record("refused", at(29)));
        assert!(f.record("refused", at(30)));
        assert!(!f.record("refused", at(32)));
        assert!(f.record("no answer within 10 s", at(34)));
        assert!(!f.record("no answer within 10 s", at(36)));
        assert!(f.record("refused", at(38)));
        assert_eq!(f.count, 8);
    }

    #[test]
    fn scraped_families_go_before_the_closing_eof() {
        let registry = "# TYPE nianbao_a counter\nnianbao_a_total 1\n# EOF\n".to_string();
        assert_eq!(with_families(registry.clone(), ""), registry);
        assert_eq!(
            with_families(registry, "# TYPE nianbao_b gauge\nnianbao_b 2"),
            "# TYPE nianbao_a counter\nnianbao_a_total 1\n# TYPE nianbao_b gauge\nnianbao_b 2\n# EOF\n"
        );
    }

    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Cfg {
        name: String,
        bus: Bus,
    }
    #[derive(Debug, Deserialize)]
    struct Bus {
        url: String,
        prefetch: u16,
    }

    #[test]
    fn keys_without_a_comment_above_are_undocumented() {
        let toml = "# the name\nname = \"a\"\n\n[bus]\n# broker\nurl = \"x\"\nprefetch = 3\n";
        assert_eq!(undocumented_keys(toml), vec!["prefetch = 3".to_string()]);
    }

    #[test]
    fn file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[bus]\nprefetch = 3\n").unwrap();
        let c: Cfg = load_config(
            "name = \"x\"\n[bus]\nurl = \"amqp://a\"\nprefetch = 8\n",
            Some(&f),
        )
        .unwrap();
        assert_eq!(c.name, "x");
        assert_eq!(c.bus.url, "amqp://a");
        assert_eq!(c.bus.prefetch, 3);
    }

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            redact("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact("amqp://127.0.0.1"), "amqp://127.0.0.1");
        assert_eq!(
            redact("postgres://db.example/nb?password=hunter2"),
            "postgres://db.example/nb?password=***"
        );
    }

    /// `GET path` over plain HTTP/1.0: the status code and the body.
    async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let status = out.split(' ').nth(1).unwrap().parse().unwrap();
        let body = out.split_once("\r\n\r\n").unwrap().1.to_string();
        (status, body)
    }

    #[tokio::test]
    async fn metrics_and_readiness_over_http_and_grpc_health() {
        use tonic_health::pb::health_server::Health as _;
        let (stop_tx, stop_rx) = Shutdown::new();
        let mut obs = Observability::bind(
            "ingest",
            &MetricsConfig {
                listen: "127.0.0.1:0".into(),
            },
        )
        .await
        .unwrap();
        obs.metrics.report_reached("received");
        let addr = obs.listener.as_ref().unwrap().local_addr().unwrap();
        let wired = obs
            .health(
                &["", "nianbao.v1.Ingest"],
                &["broker", "database"],
                &stop_rx,
            )
            .await;
        let readiness = wired.readiness.clone();
        // A second view of the same statuses (the wired one is a tower service for the server).
        let health = tonic_health::server::HealthService::from_health_reporter(
            readiness.inner.reporter.clone(),
        );

        let status = |name: &str| {
            let req = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
                service: name.to_string(),
            });
            let health = &health;
            async move { health.check(req).await.unwrap().into_inner().status }
        };
        let (code, body) = http_get(addr, "/metrics").await;
        assert_eq!(code, 200);
        assert_eq!(
            nianbao_metrics::sample_value(&body, "nianbao_reports_total", &[("stage", "received")]),
            Some(1.0),
            "{body}"
        );
        assert_eq!(http_get(addr, "/healthz").await.0, 200);
        // NOT_SERVING from the start, the whole server ("") too, which the reporter starts SERVING.
        assert_eq!(status("").await, 2);
        assert_eq!(status("nianbao.v1.Ingest").await, 2);

        readiness.set("broker", true).await;
        let (code, body) = http_get(addr, "/readyz").await;
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("database failing"), "{body}");
        assert_eq!(status("nianbao.v1.Ingest").await, 2 /* NOT_SERVING */);

        // The database probe against a real (SQLite) database turns the last check green.
        let dir = tempfile::tempdir().unwrap();
        let db = nianbao_db::connect(&format!("sqlite://{}/r.db?mode=rwc", dir.path().display()))
            .await
            .unwrap();
        let watcher = wired.watch(None, Some(&db), &stop_rx).await;
        for _ in 0..100 {
            if readiness.is_ready() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(http_get(addr, "/readyz").await.0, 200);
        assert_eq!(status("").await, 1 /* SERVING */);
        assert_eq!(status("nianbao.v1.Ingest").await, 1);
        let text = http_get(addr, "/metrics").await.1;
        assert_eq!(
            nianbao_metrics::sample_value(&text, "nianbao_ready", &[("check", "database")]),
            Some(1.0)
        );

        // Shutdown: NOT_SERVING at once, the endpoint stops.
        stop_tx.fire();
        watcher.await.unwrap();
        assert!(!readiness.is_ready());
        assert_eq!(status("").await, 2);
        wired.stopped().await;
    }

    #[tokio::test]
    async fn an_unusable_metrics_address_is_a_configuration_error() {
        let err = Observability::bind(
            "x",
            &MetricsConfig {
                listen: "256.0.0.1:1".into(),
            },
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("256.0.0.1:1"), "{err}");
        let off = Observability::bind("x", &MetricsConfig::default())
            .await
            .unwrap();
        assert!(off.listener.is_none());
    }
}
