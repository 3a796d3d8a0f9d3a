//! `nianbao-console [--config FILE]`: the office console (see the library for what it does).

use anyhow::Context;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = nianbao_service::config_path_from_args();
    let cfg = nianbao_console::load(path.as_deref()).context("loading the configuration")?;
    let telemetry = nianbao_telemetry::init_service(
        "console",
        env!("CARGO_PKG_VERSION"),
        &cfg.log,
        &cfg.telemetry,
    )
    .context("setting up logging and tracing")?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let result = nianbao_console::run(cfg, listener, nianbao_service::shutdown_signal()).await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "nianbao-console stopped with an error");
    }
    telemetry.shutdown();
    Ok(result?)
}
