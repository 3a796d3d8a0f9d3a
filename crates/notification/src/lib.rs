//! nianbao-notification: tells the supervising office about the problems found in a report.
//!
//! # Layout
//! - [`config`]: the typed configuration (`deploy/config/notification.toml`).
//! - [`directory`]: offices, agencies, and resolving a report's agency to its office.
//! - [`alert`]: the alert record and the Chinese message.
//! - [`store`]: alerts and deliveries in the service's own database.
//! - [`deliver`]: channels (inbox, outbox, stdout, webhook) and the background webhook sender.
//! - [`consumer`]: the `report.validated` handler.
//! - [`grpc`]: `nianbao.v1.Notification` (ListAlerts, AcknowledgeAlert, StreamAlerts).
//!
//! [`run`] wires them: the gRPC server (with health and reflection) on the given listener, and the
//! consumer of `nianbao.notification`, until `shutdown` resolves. Health is SERVING while the
//! database answers and the broker is connected; `[metrics] listen` serves
//! `nianbao_reports_total{stage="notified"}` and `nianbao_alerts_total{kind}` among the consumer
//! metrics.

pub mod alert;
pub mod config;
pub mod consumer;
pub mod deliver;
pub mod directory;
pub mod grpc;
pub mod store;

pub use config::Config;

use crate::consumer::NotifyHandler;
use crate::deliver::{DeliverError, Deliverer};
use crate::directory::{Directory, DirectoryError};
use crate::grpc::NotificationService;
use crate::store::{Store, StoreError};
use nianbao_bus::{Bus, QueueSpec, Stage};
use nianbao_proto::v1::notification_server::NotificationServer;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{broadcast, watch};
use tonic_health::ServingStatus;

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
    #[error("the gRPC server task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The directory of `cfg`: the file, or none (everything to `default_office`).
pub fn load_directory(cfg: &Config) -> Result<Directory, DirectoryError> {
    if cfg.directory.trim().is_empty() {
        Ok(Directory::empty(&cfg.default_office))
    } else {
        Directory::load(Path::new(cfg.directory.trim()))
    }
}

/// Runs the service until `shutdown` resolves: serves gRPC on `listener` and consumes
/// `report.validated` events. Health turns SERVING once the database and the broker are up; the
/// broker is awaited (with retries) rather than required at start, so that the services of a
/// deployment can start in any order. On shutdown: stop taking deliveries, finish those in hand,
/// end streams, stop webhook tasks (they resume at the next start), and return.
pub async fn run(
    cfg: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NotificationError> {
    let obs = nianbao_service::Observability::bind("notification", &cfg.metrics).await?;
    run_with(cfg, listener, shutdown, obs).await
}

/// [`run`], recording metrics into `obs.metrics` and serving them on `obs.listener` (instead of
/// what `cfg.metrics` says).
pub async fn run_with(
    cfg: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut obs: nianbao_service::Observability,
) -> Result<(), NotificationError> {
    cfg.validate()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    let directory = Arc::new(load_directory(&cfg)?);
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
            stop_rx.clone(),
        )?
        .with_metrics(obs.metrics.clone()),
    );
    deliverer.resume_pending().await?;

    let (health, health_service) = nianbao_service::grpc_health();
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    health
        .set_not_serving::<NotificationServer<NotificationService>>()
        .await;
    let readiness = nianbao_service::Readiness::new(
        health.clone(),
        &["", "nianbao.v1.Notification"],
        &["database", "broker"],
        obs.metrics.clone(),
    );
    let metrics_server = obs.serve(&readiness, stop_rx.clone());
    let reflection = nianbao_service::grpc_reflection()?;
    let service = NotificationService::new(store.clone(), alerts_tx.clone(), stop_rx.clone());
    let addr = listener.local_addr().ok();
    let server_stop = wait_stop(stop_rx.clone());
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .trace_fn(nianbao_telemetry::grpc_server_span("notification"))
            .add_service(health_service)
            .add_service(reflection)
            .add_service(NotificationServer::new(service))
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
        stop_rx.clone(),
    )
    .await
    {
        let bus = bus.with_metrics(obs.metrics.clone());
        nianbao_service::probe_readiness(&readiness, Some(&bus), Some(store.pool())).await;
        let watchdog = tokio::spawn(nianbao_service::watch_readiness(
            readiness.clone(),
            Some(bus.clone()),
            Some(store.pool().clone()),
            Duration::from_secs(1),
            stop_rx.clone(),
        ));
        let handler = Arc::new(NotifyHandler {
            store: store.clone(),
            directory,
            deliverer: deliverer.clone(),
            bus: bus.clone(),
            min_severity: cfg.min_severity()?,
            default_channels: cfg.default_channels()?,
            alerts: alerts_tx,
        });
        consume(&bus, handler, stop_rx.clone()).await;
        readiness.stopping().await;
        bus.close().await;
        let _ = watchdog.await;
    }

    let served = server.await;
    // Ends when the last sender (handler, gRPC service) is gone; bounded in case one lingers.
    let counter_abort = alert_counter.abort_handle();
    if tokio::time::timeout(Duration::from_secs(2), alert_counter)
        .await
        .is_err()
    {
        counter_abort.abort();
    }
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    deliverer.join().await;
    store.close().await;
    served??;
    tracing::info!("notification service stopped");
    Ok(())
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

/// Resolves once the service is told to stop.
pub(crate) async fn wait_stop(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Consumes until shutdown; if the broker cancels the consumer (queue deleted, node restarted),
/// re-declares and consumes again.
async fn consume(bus: &Bus, handler: Arc<NotifyHandler>, stop: watch::Receiver<bool>) {
    let spec = queue_spec();
    loop {
        match bus
            .consume(&spec, handler.clone(), wait_stop(stop.clone()))
            .await
        {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "consumer stopped; consuming again shortly");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {},
                    () = wait_stop(stop.clone()) => return,
                }
                if let Err(e) = bus.declare(&spec).await {
                    tracing::warn!(error = %e, "re-declaring the queue failed");
                }
            }
        }
    }
}
