//! The life of a service process, written once: the stop signal every task of a service watches
//! ([`Shutdown`]), the consumer loop of every bus-driven service ([`consume_until_stopped`]), and
//! the `main` of every service binary ([`main`]). A service's own crate then holds only what is its
//! own: what it serves, what it consumes, what it stores.

use crate::{Readiness, config_path_from_args, local_addr, shutdown_signal};
use anyhow::Context as _;
use nianbao_bus::{Bus, Handler, QueueSpec};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The stop signal of a service (the mini-redis idea): set once, by a signal or by a test, and seen
/// by every task, each of which finishes what it holds and returns. Cheap to clone: every task gets
/// its own copy.
///
/// A signal whose [`Trigger`] is dropped without firing counts as fired for [`Shutdown::wait`]
/// (nobody is left to keep the service running), as a closed channel did before there was a type.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

/// Sets a [`Shutdown`]: the test's (or the lease holder's) hand on the switch.
#[derive(Clone, Debug)]
pub struct Trigger(Arc<watch::Sender<bool>>);

impl Shutdown {
    /// A signal set by the returned [`Trigger`].
    pub fn new() -> (Trigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (Trigger(Arc::new(tx)), Shutdown(rx))
    }

    /// A signal set when `signal` resolves (the binaries: SIGTERM or Ctrl-C). Spawns the task that
    /// waits for it, so it must be called inside the runtime.
    pub fn on(signal: impl Future<Output = ()> + Send + 'static) -> Shutdown {
        let (trigger, shutdown) = Shutdown::new();
        tokio::spawn(async move {
            signal.await;
            trigger.fire();
        });
        shutdown
    }

    /// Whether the service has been told to stop.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the service is told to stop.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// [`Shutdown::wait`] as an owned future, for APIs that keep it (a server's graceful shutdown,
    /// a consumer).
    pub fn waiter(&self) -> impl Future<Output = ()> + Send + 'static {
        let this = self.clone();
        async move { this.wait().await }
    }
}

impl Trigger {
    /// Tells every holder of the signal to stop (again is harmless).
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

/// Declares `spec` and consumes it with `handler` until `shutdown`; when the broker cancels the
/// consumer (queue deleted, node restarted, channel closed) declares again and resumes after a
/// pause. With `readiness`, its `consumer` check is true exactly while a consumer runs (a worker
/// whose queue is gone must not look ready); services whose consumer runs only while they lead
/// pass `None`.
pub async fn consume_until_stopped<H: Handler>(
    bus: &Bus,
    spec: &QueueSpec,
    handler: Arc<H>,
    readiness: Option<&Readiness>,
    shutdown: &Shutdown,
) {
    while !shutdown.is_set() {
        match bus.declare(spec).await {
            Ok(()) => {
                if let Some(r) = readiness {
                    r.set("consumer", true).await;
                }
                match bus.consume(spec, handler.clone(), shutdown.waiter()).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, queue = %spec.name, "consumer ended; resuming shortly")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, queue = %spec.name, "cannot declare the queue; retrying")
            }
        }
        if let Some(r) = readiness {
            r.set("consumer", false).await;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = shutdown.wait() => {}
        }
    }
}

/// What [`main`] needs of a service's configuration.
pub trait ServiceConfig {
    /// The address of the service's gRPC (or HTTP) listener.
    fn listen(&self) -> &str;
    fn log(&self) -> &nianbao_telemetry::LogConfig;
    fn telemetry(&self) -> &nianbao_telemetry::TraceConfig;
}

/// Implements [`ServiceConfig`] for a configuration struct with the usual `listen`, `log` and
/// `telemetry` fields.
#[macro_export]
macro_rules! impl_service_config {
    ($config:ty) => {
        impl $crate::ServiceConfig for $config {
            fn listen(&self) -> &str {
                &self.listen
            }
            fn log(&self) -> &$crate::LogConfig {
                &self.log
            }
            fn telemetry(&self) -> &$crate::TraceConfig {
                &self.telemetry
            }
        }
    };
}

/// The `main` of every service binary: `--config FILE` (or `NIANBAO_CONFIG`) and the environment
/// loaded by `load`, logging and tracing installed, the listener bound, then `run` until SIGTERM
/// or Ctrl-C. An error is logged (so that it reaches the log collector with the spans of the last
/// moments, which are flushed either way) and returned, so that the process exits non-zero with
/// the error on stderr.
pub fn main<C, E, R, Fut, RE>(
    service: &'static str,
    version: &'static str,
    load: impl FnOnce(Option<&Path>) -> Result<C, E>,
    run: R,
) -> anyhow::Result<()>
where
    C: ServiceConfig,
    E: std::error::Error + Send + Sync + 'static,
    R: FnOnce(C, tokio::net::TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), RE>>,
    RE: std::error::Error + Send + Sync + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let path = config_path_from_args();
        let cfg = load(path.as_deref()).context("loading the configuration")?;
        let telemetry =
            nianbao_telemetry::init_service(service, version, cfg.log(), cfg.telemetry())
                .context("setting up logging and tracing")?;
        let listener = match tokio::net::TcpListener::bind(cfg.listen()).await {
            Ok(listener) => listener,
            Err(e) => {
                // Logged too: the log collector sees why the service never started.
                tracing::error!(error = %e, listen = cfg.listen(), "nianbao-{service} cannot listen");
                telemetry.shutdown();
                return Err(e).with_context(|| format!("binding {}", cfg.listen()));
            }
        };
        tracing::info!(listen = %local_addr(&listener), version, "nianbao-{service} starting");
        let result = run(cfg, listener, Shutdown::on(shutdown_signal())).await;
        match &result {
            Ok(()) => tracing::info!("nianbao-{service} stopped"),
            Err(e) => tracing::error!(error = %e, "nianbao-{service} stopped with an error"),
        }
        telemetry.shutdown();
        // The error itself first on stderr (`Error: …`), as operators read it.
        Ok(result?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fired_trigger_stops_every_copy() {
        let (trigger, shutdown) = Shutdown::new();
        let copy = shutdown.clone();
        assert!(!copy.is_set());
        let waiting = tokio::spawn(copy.waiter());
        trigger.fire();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        assert!(shutdown.is_set());
    }

    #[tokio::test]
    async fn on_fires_when_its_signal_resolves() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = Shutdown::on(async move {
            let _ = rx.await;
        });
        assert!(!shutdown.is_set());
        tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), shutdown.wait())
            .await
            .unwrap();
        assert!(shutdown.is_set());
    }

    #[tokio::test]
    async fn a_dropped_trigger_releases_the_waiters() {
        let (trigger, shutdown) = Shutdown::new();
        drop(trigger);
        tokio::time::timeout(Duration::from_secs(5), shutdown.wait())
            .await
            .unwrap();
    }
}
