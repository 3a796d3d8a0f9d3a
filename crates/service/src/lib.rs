//! The parts every nianbao service shares, so that each service crate holds only its own logic.
//!
//! - [`load_config`]: a typed configuration from the service's embedded defaults, an optional TOML
//!   file, and `NIANBAO_`-prefixed environment variables (`NIANBAO_BUS__URL=…`, `__` separates
//!   levels), in that order of precedence.
//! - [`shutdown_signal`]: Ctrl-C or SIGTERM.
//! - [`grpc_health`] / [`grpc_reflection`]: the standard health and reflection services, so that
//!   `grpcurl` works against every service.
//! - [`connect_db`]: SQLite (embedded default) or PostgreSQL by URL, through one `AnyPool`.

use serde::de::DeserializeOwned;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServiceError {
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("reflection: {0}")]
    Reflection(String),
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

/// The standard gRPC health service; the returned reporter sets each service's status.
pub fn grpc_health() -> (
    tonic_health::server::HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    tonic_health::server::health_reporter()
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

/// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`). For SQLite, creates the parent
/// folder and enables WAL so that readers do not block the writer.
pub async fn connect_db(url: &str) -> Result<sqlx::AnyPool, ServiceError> {
    sqlx::any::install_default_drivers();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap_or_default();
        if let Some(parent) = Path::new(file).parent() {
            let _ = std::fs::create_dir_all(parent);
        }
    }
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(if url.starts_with("sqlite") { 1 } else { 8 })
        .connect(url)
        .await?;
    if url.starts_with("sqlite") {
        sqlx::query("PRAGMA journal_mode=WAL")
            .execute(&pool)
            .await?;
        sqlx::query("PRAGMA synchronous=NORMAL")
            .execute(&pool)
            .await?;
    }
    Ok(pool)
}

/// Whether the pool talks to PostgreSQL (for the few statements whose SQL differs).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres")
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
/// broker can start in any order; each attempt is bounded because lapin keeps retrying a refused
/// connection by itself, and shutdown must not wait for that.
pub async fn connect_bus(
    cfg: &nianbao_bus::BusConfig,
    name: &str,
    spec: Option<&nianbao_bus::QueueSpec>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Option<nianbao_bus::Bus> {
    use std::time::Duration;
    let mut delay = Duration::from_millis(500);
    loop {
        if *stop.borrow() {
            return None;
        }
        let attempt = async {
            let bus = nianbao_bus::Bus::connect(cfg, name).await?;
            if let Some(spec) = spec {
                bus.declare(spec).await?;
            }
            Ok::<_, nianbao_bus::BusError>(bus)
        };
        tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(10), attempt) => match r {
                Ok(Ok(bus)) => {
                    tracing::info!(url = %redact(&cfg.url), "connected to the broker");
                    return Some(bus);
                }
                Ok(Err(e)) => tracing::warn!(error = %e, url = %redact(&cfg.url), retry_in_ms = delay.as_millis(), "broker not reachable yet"),
                Err(_) => tracing::warn!(url = %redact(&cfg.url), retry_in_ms = delay.as_millis(), "broker not reachable within 10 s"),
            },
            _ = stop.wait_for(|s| *s) => return None,
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return None,
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
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
    }

    #[tokio::test]
    async fn sqlite_pool_works() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/db.sqlite?mode=rwc", dir.path().display());
        let pool = connect_db(&url).await.unwrap();
        sqlx::query("CREATE TABLE t (a BIGINT)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t (a) VALUES ($1)")
            .bind(5_i64)
            .execute(&pool)
            .await
            .unwrap();
        let (v,): (i64,) = sqlx::query_as("SELECT a FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(v, 5);
    }
}
