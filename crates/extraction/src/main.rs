//! `nianbao-extraction`: the extraction worker binary. Everything but start-up lives in the library.

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = nianbao_extraction::load(nianbao_service::config_path_from_args().as_deref())?;
    let telemetry = nianbao_telemetry::init_service(
        "extraction",
        env!("CARGO_PKG_VERSION"),
        &cfg.log,
        &cfg.telemetry,
    )?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, ingest = %cfg.ingest_url, "nianbao-extraction starting");
    nianbao_extraction::run(cfg, listener, nianbao_service::shutdown_signal()).await?;
    tracing::info!("nianbao-extraction stopped");
    telemetry.shutdown();
    Ok(())
}
