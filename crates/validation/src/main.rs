//! `nianbao-validation`: the validation service binary. Everything but start-up lives in the library.

use anyhow::Context as _;
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = nianbao_service::config_path_from_args();
    let cfg = nianbao_validation::load(path.as_deref()).context("loading the configuration")?;
    let telemetry = nianbao_telemetry::init_service(
        "validation",
        env!("CARGO_PKG_VERSION"),
        &cfg.log,
        &cfg.telemetry,
    )
    .context("setting up logging and tracing")?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    tracing::info!(listen = %listener.local_addr()?, database = %nianbao_service::redact(&cfg.database_url()), "nianbao-validation starting");
    let result = nianbao_validation::run(cfg, listener, nianbao_service::shutdown_signal()).await;
    match &result {
        Ok(()) => tracing::info!("nianbao-validation stopped"),
        Err(e) => tracing::error!(error = %e, "nianbao-validation stopped with an error"),
    }
    // Flush the spans of the last moments, of a failure too.
    telemetry.shutdown();
    Ok(result?)
}
