//! `nianbao-extraction`: the extraction worker binary. Everything but start-up lives in the library.

use anyhow::Context as _;
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = nianbao_service::config_path_from_args();
    let cfg = nianbao_extraction::load(path.as_deref()).context("loading the configuration")?;
    let telemetry = nianbao_telemetry::init_service(
        "extraction",
        env!("CARGO_PKG_VERSION"),
        &cfg.log,
        &cfg.telemetry,
    )
    .context("setting up logging and tracing")?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    tracing::info!(listen = %listener.local_addr()?, ingest = %cfg.ingest_url, "nianbao-extraction starting");
    let result = nianbao_extraction::run(cfg, listener, nianbao_service::shutdown_signal()).await;
    match &result {
        Ok(()) => tracing::info!("nianbao-extraction stopped"),
        Err(e) => tracing::error!(error = %e, "nianbao-extraction stopped with an error"),
    }
    // Flush the spans of the last moments, of a failure too.
    telemetry.shutdown();
    Ok(result?)
}
