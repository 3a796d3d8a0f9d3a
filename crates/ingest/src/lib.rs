//! nianbao-ingest: where reports enter the pipeline.
//!
//! - gRPC `nianbao.v1.Ingest`: `SubmitReport` stores the raw bytes content-addressed (sha256) and a
//!   row per report, then publishes `report.received` (store-then-publish, see [`outbox`]);
//!   `GetReport`, `ListReports`, `FetchReport` (the raw bytes, for extraction workers). Standard
//!   health and reflection services run beside it.
//! - The status follower ([`follower`]) consumes `nianbao.ingest.status` and keeps each report's
//!   status (received → extracted → validated → notified, or failed), never moving it backwards
//!   ([`status`]).
//! - The dead-letter consumer ([`dead`]) consumes `nianbao.dead`, where a work queue puts a message
//!   its workers kept dying on (`x-delivery-limit`), and publishes `report.failed` for it.
//!
//! [`run`] serves all of it on a listener until a shutdown future resolves, so that the binary and
//! the tests start the service the same way. Health is SERVING while the broker is connected and the
//! database answers; `[metrics] listen` serves this instance's counters (`nianbao_reports_total`
//! with `stage="received"` counts confirmed `report.received` events); every gRPC call is a span,
//! child of the caller's `traceparent`.

pub mod dead;
pub mod follower;
pub mod grpc;
pub mod outbox;
pub mod status;
pub mod store;
pub mod submit;

use nianbao_bus::BusConfig;
use nianbao_proto::v1::ingest_server::IngestServer;
use nianbao_service::Shutdown;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// The gRPC service name of the Ingest API (its health status follows readiness).
pub const INGEST_SERVICE: &str = "nianbao.v1.Ingest";

/// The defaults, every key commented: also the reference for deploy/.
pub const DEFAULT_CONFIG: &str = include_str!("../../../deploy/config/ingest.toml");

/// Extra room above `max_bytes` for the gRPC message limit: the other request fields and protobuf
/// framing, so that an over-size report reaches our handler and gets a clear error rather than
/// tonic's generic "message too large".
pub const MESSAGE_MARGIN: usize = 1024 * 1024;

/// The service's configuration (see `deploy/config/ingest.toml` for what each key means). Its
/// `Debug` hides the passwords of the database and broker URLs.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub max_bytes: u64,
    pub republish_interval_ms: u64,
    /// Bytes of submissions held in memory at once (received, not yet stored); more wait.
    pub max_inflight_bytes: u64,
    /// Bytes one agency may have stored; 0: no quota.
    pub agency_quota_bytes: u64,
    /// The directory file (as notification's): which office is responsible for which agency.
    pub directory: String,
    pub tls: nianbao_auth::ServerTlsConfig,
    pub auth: nianbao_auth::AuthConfig,
    pub grpc: nianbao_service::GrpcLimits,
    pub bus: BusConfig,
    pub log: nianbao_telemetry::LogConfig,
    pub telemetry: nianbao_telemetry::TraceConfig,
    pub metrics: nianbao_service::MetricsConfig,
}

/// Every field, the URLs without passwords. Destructured so that a new field cannot be forgotten
/// (a new secret must be hidden here).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config {
            listen,
            data_dir,
            database_url,
            max_bytes,
            republish_interval_ms,
            max_inflight_bytes,
            agency_quota_bytes,
            directory,
            tls,
            auth,
            grpc,
            bus,
            log,
            telemetry,
            metrics,
        } = self;
        f.debug_struct("Config")
            .field("listen", listen)
            .field("data_dir", data_dir)
            .field("database_url", &nianbao_service::redact(database_url))
            .field("max_bytes", max_bytes)
            .field("republish_interval_ms", republish_interval_ms)
            .field("max_inflight_bytes", max_inflight_bytes)
            .field("agency_quota_bytes", agency_quota_bytes)
            .field("directory", directory)
            .field("tls", tls)
            .field("auth", auth)
            .field("grpc", grpc)
            .field("bus", bus)
            .field("log", log)
            .field("telemetry", telemetry)
            .field("metrics", metrics)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:50051".into(),
            data_dir: PathBuf::from("data/ingest"),
            database_url: String::new(),
            max_bytes: 20 * 1024 * 1024,
            republish_interval_ms: 5_000,
            max_inflight_bytes: 256 * 1024 * 1024,
            agency_quota_bytes: 1024 * 1024 * 1024,
            directory: String::new(),
            tls: nianbao_auth::ServerTlsConfig::default(),
            auth: nianbao_auth::AuthConfig::default(),
            grpc: nianbao_service::GrpcLimits::default(),
            bus: BusConfig::default(),
            log: nianbao_telemetry::LogConfig::default(),
            telemetry: nianbao_telemetry::TraceConfig::default(),
            metrics: nianbao_service::MetricsConfig::default(),
        }
    }
}

impl Config {
    /// The database URL: `database_url`, or SQLite under `data_dir` when it is empty.
    pub fn database_url(&self) -> String {
        if self.database_url.trim().is_empty() {
            format!(
                "sqlite://{}/ingest.sqlite?mode=rwc",
                self.data_dir.display()
            )
        } else {
            self.database_url.trim().to_string()
        }
    }
}

#[derive(Debug, Error)]
pub enum IngestError {
    #[error(transparent)]
    Service(#[from] nianbao_service::ServiceError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("message bus: {0}")]
    Bus(#[from] nianbao_bus::BusError),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error(transparent)]
    Auth(#[from] nianbao_auth::AuthError),
    #[error(transparent)]
    Directory(#[from] nianbao_directory::DirectoryError),
}

/// Loads the configuration: embedded defaults, then `file`, then `NIANBAO_*` environment variables.
pub fn load(file: Option<&Path>) -> Result<Config, IngestError> {
    Ok(nianbao_service::load_config(DEFAULT_CONFIG, file)?)
}

/// What ingest runs with besides its configuration; [`Deps::default`] is what the binary uses.
#[derive(Debug, Default)]
pub struct Deps {
    /// The metrics registry and its endpoint; `None`: a fresh registry, the endpoint where
    /// `[metrics] listen` says.
    pub obs: Option<nianbao_service::Observability>,
}

nianbao_service::impl_service_config!(Config);

/// Serves the Ingest API on `listener` and follows the status events until `shutdown`; then stops
/// taking requests and events, finishes those in hand, and returns.
pub async fn run(
    cfg: Config,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
    deps: Deps,
) -> Result<(), IngestError> {
    let mut obs = match deps.obs {
        Some(obs) => obs,
        None => nianbao_service::Observability::bind("ingest", &cfg.metrics).await?,
    };
    // Refuse a server nobody could trust before anything else starts: TLS (or cleartext on
    // loopback only), credentials, the directory.
    let addr = nianbao_service::local_addr(&listener);
    let server = nianbao_service::grpc_server(&cfg.tls, addr, &cfg.grpc)?;
    let authenticator = cfg.auth.authenticator(addr)?;
    let directory = match cfg.directory.trim() {
        "" => None,
        path => Some(Arc::new(nianbao_directory::Directory::load(Path::new(
            path,
        ))?)),
    };
    let health = obs
        .health(&["", INGEST_SERVICE], &["broker", "database"], &shutdown)
        .await;

    let db_url = cfg.database_url();
    let store = store::Store::open(&db_url).await?;
    tracing::info!(
        database = if nianbao_db::is_postgres(&db_url) {
            "postgres"
        } else {
            "sqlite"
        },
        "database ready"
    );
    let spec = follower::queue_spec();
    let Some(bus) =
        nianbao_service::connect_bus(&cfg.bus, "nianbao-ingest", Some(&spec), shutdown.clone())
            .await
    else {
        health.stopped().await;
        store.close().await;
        tracing::info!("nianbao-ingest stopped before the broker was reachable");
        return Ok(());
    };
    tracing::info!(exchange = %cfg.bus.exchange, queue = %spec.name, "broker ready");
    let bus = bus.with_metrics(obs.metrics.clone());

    let service = grpc::IngestService {
        store: store.clone(),
        submitter: submit::Submitter::start(store.clone(), bus.clone()),
        bus: bus.clone(),
        max_bytes: cfg.max_bytes,
        directory: directory.clone(),
        inflight: grpc::Inflight::new(cfg.max_inflight_bytes),
        agency_quota_bytes: cfg.agency_quota_bytes,
    };
    let limit = usize::try_from(cfg.max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(MESSAGE_MARGIN);
    let ingest = tonic::service::interceptor::InterceptedService::new(
        IngestServer::new(service)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
        authenticator,
    );

    // With several instances on one database, one of them republishes (the holder of the
    // `ingest.republish` lease): two would send every stale event twice.
    let republish_every = Duration::from_millis(cfg.republish_interval_ms);
    let lease = nianbao_db::Lease::new(
        store.db(),
        "ingest.republish",
        &nianbao_db::holder_id("ingest"),
        (republish_every * 3).max(Duration::from_secs(15)),
    )
    .await
    .map_err(store::StoreError::from)?;
    let republisher = tokio::spawn({
        let (bus, store, stop) = (bus.clone(), store.clone(), shutdown.clone());
        let (leading, _) = tokio::sync::watch::channel(false);
        nianbao_service::lead(lease, stop, leading, move |work_stop| {
            outbox::republish_loop(bus.clone(), store.clone(), republish_every, work_stop)
        })
    });
    // The status follower; resumes after the broker cancels it (queue deleted, connection lost).
    let follower = tokio::spawn({
        let (bus, shutdown) = (bus.clone(), shutdown.clone());
        let handler = Arc::new(follower::StatusFollower {
            store: store.clone(),
            directory,
        });
        async move {
            nianbao_service::consume_until_stopped(&bus, &spec, handler, None, &shutdown).await
        }
    });
    // Reports whose message the broker dead-lettered (workers kept dying on it) are marked failed.
    let dead_letters = tokio::spawn(dead::run(bus.clone(), shutdown.clone()));
    let watchdog = health.watch(Some(&bus), Some(store.db()), &shutdown).await;
    tracing::info!(addr = ?listener.local_addr().ok(), "nianbao-ingest serving");
    let served = server
        .trace_fn(nianbao_telemetry::grpc_server_span("ingest"))
        .add_service(health.grpc.clone())
        .add_service(nianbao_service::grpc_reflection()?)
        .add_service(ingest)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown.waiter(),
        )
        .await;

    // The server stops on shutdown (or on error): make sure the background tasks stop too.
    let _ = follower.await;
    let _ = dead_letters.await;
    let _ = republisher.await;
    let _ = watchdog.await;
    health.stopped().await;
    bus.close().await;
    store.close().await;
    tracing::info!("nianbao-ingest stopped");
    Ok(served?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_database_and_broker_passwords() {
        let mut cfg = Config {
            database_url: "postgres://nb:db-hunter2@db.example/nb".into(),
            ..Config::default()
        };
        cfg.bus.url = "amqp://nb:mq-hunter2@mq.example/%2f".into();
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("db-hunter2") && !shown.contains("mq-hunter2"),
            "{shown}"
        );
        assert!(shown.contains("postgres://nb:***@db.example/nb"), "{shown}");
    }

    #[test]
    fn embedded_defaults_match_default() {
        let c: Config = nianbao_service::load_config(DEFAULT_CONFIG, None).unwrap();
        let d = Config::default();
        assert_eq!(c.listen, d.listen);
        assert_eq!(c.data_dir, d.data_dir);
        assert_eq!(c.database_url, d.database_url);
        assert_eq!(c.max_bytes, d.max_bytes);
        assert_eq!(c.republish_interval_ms, d.republish_interval_ms);
        assert_eq!(c.bus.url, d.bus.url);
        assert_eq!(c.bus.retry_delays_ms, d.bus.retry_delays_ms);
        assert!(
            c.database_url()
                .starts_with("sqlite://data/ingest/ingest.sqlite")
        );
    }
}
