//! The validation service (`nianbao-validation`).
//!
//! - **Pipeline**: consumes `report.extracted.*` from the durable queue `nianbao.validation`, runs the
//!   single-report rules (the same [`Checker`] as `nianbao check`) and the cross-report rules
//!   ([`cross`]) against its own store of earlier reports ([`store`]), stores the report and publishes
//!   `report.validated.<region>` with every finding, then acknowledges.
//! - **gRPC** `nianbao.v1.Validation`: `Validate` (synchronous check of a document for its author:
//!   exactly what `nianbao check` gives) and `ListRules` (the catalogue with this deployment's
//!   severities), plus health and reflection.
//!
//! Delivery is at-least-once, so validation is idempotent on (report id, version): a re-delivered
//! event finds its row and re-publishes the findings stored with it, neither adding a row nor
//! comparing the report with itself.
//!
//! Observability: health is SERVING while the database answers, the broker is connected and the
//! consumer runs; `[metrics] listen` serves `nianbao_reports_total{stage="validated"}` and
//! `nianbao_findings_total{rule,severity}` among the consumer metrics.

pub mod api;
pub mod config;
pub mod cross;
pub mod fingerprint;
pub mod store;
pub mod validator;
pub mod worker;

pub use api::{Api, rule_infos};
pub use config::{Config, DEFAULT_SKETCH_CACHE, Error, SimilarityConfig, load};
pub use validator::{Input, Validator};
pub use worker::Worker;

use nianbao_bus::{QueueSpec, Stage};
use nianbao_proto::v1::validation_server::ValidationServer;
use nianbao_rules::Checker;
use nianbao_service::{Observability, Shutdown, grpc_reflection};
use std::sync::Arc;
use std::time::Duration;
use store::{Store, StoreError};

/// The work queue of this service.
pub const QUEUE: &str = "nianbao.validation";
/// The stage name in `ReportFailed` events.
pub const STAGE: &str = "validation";

/// The queue this service consumes.
pub fn queue_spec() -> QueueSpec {
    QueueSpec::new(QUEUE, &[Stage::Extracted.pattern()])
}

/// What the service runs with besides its configuration; [`Deps::default`] is what the binary
/// uses.
#[derive(Debug, Default)]
pub struct Deps {
    /// The metrics registry and its endpoint; `None`: a fresh registry, the endpoint where
    /// `[metrics] listen` says.
    pub obs: Option<Observability>,
}

nianbao_service::impl_service_config!(Config);

/// Runs the service until `shutdown`: the gRPC server on `listener` at once (Validate works
/// without the broker), then the database and the broker (retrying the connection until it
/// succeeds), then the consumer. Health turns SERVING once the database and the broker are up.
/// Graceful: on shutdown the consumer stops taking messages and finishes those in hand, and the
/// server finishes its calls.
pub async fn run(
    cfg: Config,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
    deps: Deps,
) -> Result<(), Error> {
    let mut obs = match deps.obs {
        Some(obs) => obs,
        None => Observability::bind("validation", &cfg.metrics).await?,
    };
    tracing::info!(database = %nianbao_service::redact(&cfg.database_url()), "validation store");
    let rules = cfg.rule_config()?;
    let checker = Arc::new(Checker::new(rules));
    let addr = nianbao_service::local_addr(&listener);
    let grpc_server = nianbao_service::grpc_server(&cfg.tls, addr, &cfg.grpc)?;
    let authenticator = cfg.auth.authenticator(addr)?;
    let directory = Arc::new(cfg.load_directory()?);
    let health = obs
        .health(
            &["", "nianbao.v1.Validation"],
            &["database", "broker", "consumer"],
            &shutdown,
        )
        .await;
    let api = tonic::service::interceptor::InterceptedService::new(
        ValidationServer::new(Api::bounded(
            checker.clone(),
            cfg.limits.limits(cfg.max_bytes),
            cfg.validate_concurrency,
            Duration::from_millis(cfg.validate_timeout_ms),
        ))
        .max_decoding_message_size(cfg.max_bytes.saturating_add(64 * 1024)),
        authenticator,
    );
    let server = grpc_server
        .trace_fn(nianbao_telemetry::grpc_server_span("validation"))
        .add_service(health.grpc.clone())
        .add_service(grpc_reflection()?)
        .add_service(api)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown.waiter(),
        );
    let server = tokio::spawn(server);

    let pipeline = async {
        let db = nianbao_db::connect(&cfg.database_url())
            .await
            .map_err(StoreError::from)?;
        let store = Store::open(db.clone()).await?;
        let validator = Arc::new(
            Validator::new(checker.clone(), cfg.similarity(), store)
                .with_sketch_cache(cfg.similarity.sketch_cache)
                .with_directory(directory),
        );
        let Some(bus) =
            nianbao_service::connect_bus(&cfg.bus, "nianbao-validation", None, shutdown.clone())
                .await
        else {
            return Ok::<(), Error>(());
        };
        let bus = bus.with_metrics(obs.metrics.clone());
        let watchdog = health.watch(Some(&bus), Some(&db), &shutdown).await;
        let spec = queue_spec();
        let worker =
            Arc::new(Worker::new(validator, bus.clone()).with_metrics(obs.metrics.clone()));
        nianbao_service::consume_until_stopped(
            &bus,
            &spec,
            worker,
            Some(&health.readiness),
            &shutdown,
        )
        .await;
        health.readiness.stopping().await;
        bus.close().await;
        let _ = watchdog.await;
        Ok(())
    };
    // Wait for the shutdown signal before stopping the server, unless the pipeline failed: the
    // server would otherwise keep running without a pipeline. The caller logs the error (the
    // binary's `main`), so that it is logged once.
    if let Err(e) = pipeline.await {
        health.readiness.stopping().await;
        server.abort();
        health.abort();
        return Err(e);
    }
    server.await??;
    health.stopped().await;
    Ok(())
}
