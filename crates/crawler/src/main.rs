//! `nianbao-crawler`: runs crawl passes over the directory's 专栏 and submits what it finds to
//! ingest. `--config FILE` (or `NIANBAO_CONFIG`), `--once` for a single pass (cron). Everything
//! but start-up lives in the library.

use anyhow::Context as _;
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = nianbao_service::config_path_from_args();
    let once = std::env::args().any(|a| a == "--once");
    let cfg = nianbao_crawler::load(path.as_deref()).context("loading the configuration")?;
    nianbao_telemetry::init("crawler", &cfg.log).context("setting up logging")?;
    tracing::info!(ingest = %nianbao_service::redact(&cfg.ingest_url), directory = %cfg.directory, once, "nianbao-crawler starting");
    nianbao_crawler::run(
        cfg,
        once,
        nianbao_service::Shutdown::on(nianbao_service::shutdown_signal()),
    )
    .await
    .context("crawling")?;
    tracing::info!("nianbao-crawler stopped");
    Ok(())
}
