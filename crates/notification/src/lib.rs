//! nianbao-notification: tells the supervising office about the problems found in a report.
//!
//! # Layout
//! - [`config`]: the typed configuration (`deploy/config/notification.toml`).
//! - [`clock`]: injectable time (the calendar dates are [`nianbao_directory::Date`]).
//! - the directory is [`nianbao_directory`] (offices, agencies, kinds, deadlines, resolving a
//!   report's agency), shared with ingest; [`load_directory`] loads it and checks its channels.
//! - [`alert`]: the alert record and the Chinese messages.
//! - [`engine`]: routing, dedup, resolution, escalation, digests, roster.
//! - [`render`]: notices (title, text, markdown, JSON) for an alert or a digest.
//! - [`store`]: alerts, notices, deliveries and arrivals in the service's own database.
//! - [`deliver`]: channels (inbox, outbox, stdout, webhook, 企业微信, 钉钉, e-mail) and the
//!   background sender with retries.
//! - [`consumer`]: the `report.validated` handler.
//! - [`grpc`]: `nianbao.v1.Notification` (ListAlerts, AcknowledgeAlert, StreamAlerts, ListChannels).
//! - [`metrics`]: the alert, delivery and failing-channel families read from the store at each scrape.
//!
//! [`run`] wires them: the gRPC server (with health and reflection) on the given listener, the
//! consumer of `nianbao.notification`, and the tick task (escalation, digests, roster) every
//! `tick_ms`, until `shutdown`; its [`Deps`] carry the clock (tests move time) and the metrics
//! registry and endpoint (tests keep a clone of the registry). Health is SERVING while the database
//! answers and the broker is connected; `[metrics] listen` serves the shared service metrics
//! (`nianbao_reports_total{stage="notified"}`, `nianbao_alerts_total{kind}`, consumer and channel
//! failure counters) and, read from the store at each scrape, the `nianbao_notification_*` alert and
//! channel families (the second endpoint `metrics_listen` of earlier versions is gone).

pub mod alert;
pub mod clock;
pub mod config;
pub mod consumer;
pub mod deliver;
pub mod engine;
pub mod grpc;
pub mod leader;
pub mod metrics;
pub mod render;
pub mod store;

pub use config::Config;

use crate::clock::{SharedClock, SystemClock};
use crate::consumer::NotifyHandler;
use crate::deliver::{DeliverError, Deliverer};
use crate::engine::{Engine, Policy};
use crate::grpc::NotificationService;
use crate::store::{Store, StoreError};
use nianbao_bus::{QueueSpec, Stage};
use nianbao_directory::{Directory, DirectoryError};
use nianbao_proto::v1::notification_server::NotificationServer;
use nianbao_service::Shutdown;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{broadcast, watch};

/// Loads the configuration: embedded defaults, then `file`, then `NIANBAO_…` variables.
pub fn load(file: Option<&Path>) -> Result<Config, config::ConfigError> {
    Config::load(file)
}

/// The work queue of this service, shared by all its instances.
pub const QUEUE: &str = "nianbao.notification";

/// The queue and its bindings.
pub fn queue_spec() -> QueueSpec {
    QueueSpec::new(QUEUE, &[Stage::Validated.pattern()])
}

#[derive(Debug, Error)]
pub enum NotificationError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Deliver(#[from] DeliverError),
    #[error(transparent)]
    Service(#[from] nianbao_service::ServiceError),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error(transparent)]
    Auth(#[from] nianbao_auth::AuthError),
    #[error("the gRPC server task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The directory of `cfg`: the file, or none (everything to `default_office`), its channels
/// checked ([`check_channels`]).
pub fn load_directory(cfg: &Config) -> Result<Directory, DirectoryError> {
    if cfg.directory.trim().is_empty() {
        Ok(Directory::empty(&cfg.default_office))
    } else {
        let directory = Directory::load(Path::new(cfg.directory.trim()))?;
        check_channels(&directory)?;
        Ok(directory)
    }
}

/// Refuses a directory with an office channel this service cannot parse, so that a typo stops the
/// start instead of silently losing that office's notices. The directory crate keeps channels as
/// text (it is shared with services that do not deliver), so the check is here.
pub fn check_channels(directory: &Directory) -> Result<(), DirectoryError> {
    for o in directory.offices() {
        for c in &o.channels {
            if let Err(e) = c.parse::<deliver::Channel>() {
                return Err(DirectoryError::Invalid(format!("office {:?}: {e}", o.id)));
            }
        }
    }
    for a in directory.agencies() {
        for c in &a.channels {
            if let Err(e) = c.parse::<deliver::Channel>() {
                return Err(DirectoryError::Invalid(format!("agency {:?}: {e}", a.name)));
            }
        }
    }
    Ok(())
}

/// The channels a notice goes through: an agency notice's (`NotifyAgency`: `"audience": "agency"`)
/// its agency's in the directory, any other its office's.
fn channels_of_notice(engine: &Engine, notice: &render::Notice) -> Vec<deliver::Channel> {
    if notice.json.get("audience").and_then(|v| v.as_str()) == Some("agency") {
        let id = notice
            .json
            .get("agency_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        return engine
            .directory
            .agency_by_id(id)
            .map(|a| a.channels.iter().filter_map(|c| c.parse().ok()).collect())
            .unwrap_or_default();
    }
    engine.channels_of(&notice.office_id)
}

/// What the service runs with besides its configuration; [`Deps::default`] is what the binary
/// uses.
pub struct Deps {
    /// The metrics registry and its endpoint; `None`: a fresh registry, the endpoint where
    /// `[metrics] listen` says.
    pub obs: Option<nianbao_service::Observability>,
    /// The time the timers and records use (tests move a `ManualClock`).
    pub clock: SharedClock,
}

impl Default for Deps {
    fn default() -> Self {
        Deps {
            obs: None,
            clock: Arc::new(SystemClock),
        }
    }
}

nianbao_service::impl_service_config!(Config);

/// Runs the service until `shutdown`: serves gRPC on `listener` and consumes `report.validated`
/// events. Health turns SERVING once the database and the broker are up; the broker is awaited
/// (with retries) rather than required at start, so that the services of a deployment can start
/// in any order. On shutdown: stop taking deliveries, finish those in hand, end streams, stop
/// webhook tasks (they resume at the next start), and return.
pub async fn run(
    cfg: Config,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
    deps: Deps,
) -> Result<(), NotificationError> {
    let Deps { obs, clock } = deps;
    let mut obs = match obs {
        Some(obs) => obs,
        None => nianbao_service::Observability::bind("notification", &cfg.metrics).await?,
    };
    cfg.validate()?;

    let directory = Arc::new(load_directory(&cfg)?);
    let local = nianbao_service::local_addr(&listener);
    let grpc_server = nianbao_service::grpc_server(&cfg.tls, local, &cfg.grpc)?;
    let authenticator = cfg.auth.authenticator(local)?;
    tracing::info!(
        offices = directory.offices().len(),
        agencies = directory.agencies().len(),
        default_office = %directory.default_office().id,
        "directory loaded"
    );
    let store = Store::connect(&cfg.database_url()).await?;
    let (alerts_tx, _) = broadcast::channel(cfg.stream.capacity.max(1));
    let alert_counter = tokio::spawn(count_alerts(alerts_tx.subscribe(), obs.metrics.clone()));
    let deliverer = Arc::new(
        Deliverer::new(
            store.clone(),
            cfg.outbox_path(),
            cfg.webhook_settings(),
            &cfg.smtp_settings(),
            shutdown.clone(),
        )?
        .with_metrics(obs.metrics.clone()),
    );
    let engine = Arc::new(Engine {
        store: store.clone(),
        directory: directory.clone(),
        deliverer: deliverer.clone(),
        clock: clock.clone(),
        policy: Policy {
            min_severity: cfg.min_severity()?,
            default_channels: cfg.default_channels()?,
            escalate_after_hours: cfg.escalation.after_hours,
            roster: cfg.roster.clone(),
        },
        alerts: alerts_tx.clone(),
        locks: Default::default(),
    });
    check_mail(&engine)?;
    let lease = nianbao_db::Lease::new(
        store.db(),
        leader::WORKER_LEASE,
        &nianbao_db::holder_id("notification"),
        Duration::from_millis(cfg.lease_ttl_ms.max(300)),
    )
    .await
    .map_err(crate::store::StoreError::from)?;
    // What the alert streams send: this instance's new alerts while it leads, the other
    // instances' (read from the database) while it stands by.
    let (stream_tx, _) = broadcast::channel(cfg.stream.capacity.max(1));
    let forward = tokio::spawn(forward_alerts(alerts_tx.subscribe(), stream_tx.clone()));
    let (leading_tx, leading_rx) = watch::channel(false);
    let follower = tokio::spawn(leader::follow_alerts(
        store.clone(),
        stream_tx.clone(),
        leading_rx,
        shutdown.clone(),
        FOLLOW_EVERY,
    ));

    obs.scrape = Some(scrape_families(
        store.clone(),
        cfg.webhook_settings().failing_after,
        obs.metrics.service().to_string(),
    ));
    let health = obs
        .health(
            &["", "nianbao.v1.Notification"],
            &["database", "broker"],
            &shutdown,
        )
        .await;
    let reflection = nianbao_service::grpc_reflection()?;
    let service = NotificationService::new(
        store.clone(),
        stream_tx.clone(),
        shutdown.clone(),
        clock.clone(),
        cfg.webhook_settings().failing_after,
        directory.clone(),
        cfg.stream.max_subscribers,
    )
    .with_engine(engine.clone());
    let addr = listener.local_addr().ok();
    let server_stop = shutdown.waiter();
    let server = tokio::spawn(
        grpc_server
            .trace_fn(nianbao_telemetry::grpc_server_span("notification"))
            .add_service(health.grpc.clone())
            .add_service(reflection)
            .add_service(tonic::service::interceptor::InterceptedService::new(
                NotificationServer::new(service),
                authenticator,
            ))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                server_stop,
            ),
    );
    tracing::info!(?addr, "gRPC server listening");

    if let Some(bus) = nianbao_service::connect_bus(
        &cfg.bus,
        "nianbao-notification",
        Some(&queue_spec()),
        shutdown.clone(),
    )
    .await
    {
        let bus = bus.with_metrics(obs.metrics.clone());
        let watchdog = health.watch(Some(&bus), Some(store.db()), &shutdown).await;
        let handler = Arc::new(NotifyHandler {
            engine: engine.clone(),
            bus: bus.clone(),
        });
        let tick_every = Duration::from_millis(cfg.tick_ms.max(10));
        nianbao_service::lead(lease, shutdown.clone(), leading_tx, |work_stop| {
            let (engine, deliverer, bus, handler) = (
                engine.clone(),
                deliverer.clone(),
                bus.clone(),
                handler.clone(),
            );
            async move {
                // Deliveries a previous holder queued and did not finish.
                if let Err(e) = deliverer
                    .resume_pending(|notice| channels_of_notice(&engine, notice))
                    .await
                {
                    tracing::warn!(error = %e, "could not resume unfinished deliveries");
                }
                let ticker = tokio::spawn(tick_loop(engine, tick_every, work_stop.clone()));
                nianbao_service::consume_until_stopped(
                    &bus,
                    &queue_spec(),
                    handler,
                    None,
                    &work_stop,
                )
                .await;
                let _ = ticker.await;
            }
        })
        .await;
        health.readiness.stopping().await;
        bus.close().await;
        let _ = watchdog.await;
    }

    let served = server.await;
    let _ = follower.await;
    // Ends when the last sender (engine, gRPC service) is gone; bounded in case one lingers.
    let counter_abort = alert_counter.abort_handle();
    if tokio::time::timeout(Duration::from_secs(2), alert_counter)
        .await
        .is_err()
    {
        counter_abort.abort();
    }
    forward.abort();
    health.stopped().await;
    deliverer.join().await;
    store.close().await;
    served??;
    tracing::info!("notification service stopped");
    Ok(())
}

/// The store's alert and channel families, for the shared `/metrics` endpoint. A failed read leaves
/// them out of that one scrape (logged), rather than failing the registry's metrics too.
fn scrape_families(
    store: Store,
    failing_after: u32,
    service: String,
) -> nianbao_service::ScrapeFamilies {
    Arc::new(move || {
        let store = store.clone();
        let service = service.clone();
        Box::pin(async move {
            match metrics::render_openmetrics(&store, failing_after, &service).await {
                Ok(text) => text,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the alert metrics from the store");
                    String::new()
                }
            }
        })
    })
}

/// Refuses to start when an office wants e-mail and no SMTP server is configured.
fn check_mail(engine: &Engine) -> Result<(), NotificationError> {
    if engine.deliverer.can_mail() {
        return Ok(());
    }
    for o in engine.directory.offices() {
        if engine
            .channels(o)
            .iter()
            .any(|c| matches!(c, deliver::Channel::Email(_)))
        {
            return Err(config::ConfigError::Invalid(format!(
                "office {:?} has an email: channel but [smtp] host is not set",
                o.id
            ))
            .into());
        }
    }
    Ok(())
}

/// Runs the engine's timers every `every` until shutdown. A failed tick is logged and tried
/// again at the next one.
async fn tick_loop(engine: Arc<Engine>, every: Duration, stop: Shutdown) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {},
            () = stop.wait() => return,
        }
        if let Err(e) = engine.tick().await {
            tracing::warn!(error = %e, "tick failed; trying again at the next one");
        }
    }
}

/// How often an instance that stands by reads the alerts the leading one created, for its streams.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// Passes this instance's new alerts on to its streams, until every sender is gone.
async fn forward_alerts(
    mut alerts: broadcast::Receiver<Arc<alert::AlertRecord>>,
    stream: broadcast::Sender<Arc<alert::AlertRecord>>,
) {
    loop {
        match alerts.recv().await {
            Ok(a) => {
                let _ = stream.send(a);
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    skipped = n,
                    "alert streams fell behind; clients list what they missed"
                );
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Counts every alert created (each is broadcast to the alert streams) into `nianbao_alerts_total`,
/// until every sender is gone.
async fn count_alerts(
    mut alerts: broadcast::Receiver<Arc<alert::AlertRecord>>,
    metrics: nianbao_service::Metrics,
) {
    loop {
        match alerts.recv().await {
            Ok(a) => metrics.alerts_created(&a.kind, 1),
            // Unlikely (this loop does nothing else), but counted rather than lost.
            Err(broadcast::error::RecvError::Lagged(n)) => metrics.alerts_created("unknown", n),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_that_does_not_parse_refuses_the_directory() {
        let d = Directory::from_toml(
            "default_office = \"a\"\n[[offices]]\nid = \"a\"\nname = \"A\"\nlevel = \"city\"\nchannels = [\"pigeon\"]\n",
        )
        .unwrap();
        let e = check_channels(&d).unwrap_err();
        assert!(
            e.to_string().starts_with("directory: office \"a\": "),
            "{e}"
        );
        assert!(e.to_string().contains("pigeon"), "{e}");
        let ok = Directory::from_toml(
            "default_office = \"a\"\n[[offices]]\nid = \"a\"\nname = \"A\"\nlevel = \"city\"\nchannels = [\"inbox\", \"webhook:http://127.0.0.1:9/hook\"]\n",
        )
        .unwrap();
        check_channels(&ok).unwrap();
    }

    #[test]
    fn load_directory_checks_the_channels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.toml");
        std::fs::write(
            &path,
            "default_office = \"a\"\n[[offices]]\nid = \"a\"\nname = \"A\"\nlevel = \"city\"\nchannels = [\"pigeon\"]\n",
        )
        .unwrap();
        let mut cfg = Config::load(None).unwrap();
        cfg.directory = path.display().to_string();
        let e = load_directory(&cfg).unwrap_err();
        assert!(e.to_string().contains("pigeon"), "{e}");
        // The sample deployment's directory passes.
        cfg.directory = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/directory/chujiang.toml"
        )
        .to_string();
        load_directory(&cfg).unwrap();
    }
}
