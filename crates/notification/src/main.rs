//! `nianbao-notification [--config FILE]`: the notification service binary.

use anyhow::Context as _;
use mimalloc::MiMalloc;
use nianbao_notification::Config;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = nianbao_service::config_path_from_args();
    let cfg = Config::load(path.as_deref()).context("loading the configuration")?;
    let telemetry = nianbao_telemetry::init_service(
        "notification",
        env!("CARGO_PKG_VERSION"),
        &cfg.log,
        &cfg.telemetry,
    )
    .context("setting up logging and tracing")?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let result = nianbao_notification::run(cfg, listener, nianbao_service::shutdown_signal()).await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "nianbao-notification stopped with an error");
    }
    // Flush the spans of the last moments, of a failure too.
    telemetry.shutdown();
    Ok(result?)
}
