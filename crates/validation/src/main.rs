//! `nianbao-validation`: the validation service binary. Everything but start-up lives in the library.

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cfg = nianbao_validation::load(nianbao_service::config_path_from_args().as_deref())?;
    let telemetry = nianbao_telemetry::init_service(
        "validation",
        env!("CARGO_PKG_VERSION"),
        &cfg.log,
        &cfg.telemetry,
    )?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, database = %cfg.database_url(), "nianbao-validation starting");
    nianbao_validation::run(cfg, listener, nianbao_service::shutdown_signal()).await?;
    tracing::info!("nianbao-validation stopped");
    telemetry.shutdown();
    Ok(())
}
