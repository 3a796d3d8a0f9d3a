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
    nianbao_telemetry::init("notification", &cfg.log).context("setting up logging")?;
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    nianbao_notification::run(cfg, listener, nianbao_service::shutdown_signal()).await?;
    Ok(())
}
