//! nianbao-crawler: finds the agencies' annual reports on their 政府信息公开专栏 and submits them to
//! ingest, as a client of ingest like the `nianbao` CLI (role `crawler`: it names the directory's
//! agency, its reports are recorded as unverified).
//!
//! - [`fetch`]: a polite HTTP fetcher (one request at a time per host, a delay, robots.txt,
//!   conditional GETs, timeouts, a size limit, redirects only to allowed hosts).
//! - [`links`]: what a list or report page links to (pagination, report pages, attachments),
//!   GBK and UTF-8 pages, relative links resolved.
//! - [`state`]: what is remembered between passes (first sightings, validators, submitted hashes).
//! - [`crawl`]: one pass over the directory, submitting new or changed documents with their
//!   provenance; the first pass over a site backfills earlier years.
//!
//! [`run`] runs passes every `interval_ms` (or one with `once`) until shutdown.

pub mod crawl;
pub mod fetch;
pub mod links;
pub mod robots;
pub mod state;

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The defaults, every key commented: also the reference for deploy/.
pub const DEFAULT_CONFIG: &str = include_str!("../../../deploy/config/crawler.toml");

/// The crawler's configuration (see `deploy/config/crawler.toml` for what each key means). Its
/// `Debug` hides the database URL's password and the token.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    pub directory: String,
    pub ingest_url: String,
    pub ingest_client: nianbao_auth::ClientConfig,
    pub submit_timeout_ms: u64,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub interval_ms: u64,
    pub reporting_year: i32,
    pub sites_in_parallel: usize,
    pub max_list_pages: usize,
    pub max_documents: usize,
    pub politeness: Politeness,
    pub log: nianbao_telemetry::LogConfig,
}

/// `[politeness]`: how the crawler treats the sites it reads.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Politeness {
    pub user_agent: String,
    pub delay_ms: u64,
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub max_body_bytes: u64,
    pub max_redirects: u32,
    pub robots: bool,
    pub allowed_hosts: Vec<String>,
    pub proxy: String,
}

impl Default for Politeness {
    fn default() -> Self {
        Politeness {
            user_agent: "nianbao-crawler/0.1 (政府信息公开工作年度报告检查)".into(),
            delay_ms: 2_000,
            timeout_ms: 30_000,
            connect_timeout_ms: 10_000,
            max_body_bytes: 20 * 1024 * 1024,
            max_redirects: 5,
            robots: true,
            allowed_hosts: Vec::new(),
            proxy: String::new(),
        }
    }
}

impl Politeness {
    pub fn fetch_config(&self) -> fetch::FetchConfig {
        fetch::FetchConfig {
            user_agent: self.user_agent.clone(),
            delay: Duration::from_millis(self.delay_ms),
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms.max(1)),
            max_body_bytes: self.max_body_bytes,
            max_redirects: self.max_redirects,
            robots: self.robots,
            proxy: self.proxy.clone(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            directory: String::new(),
            ingest_url: "http://127.0.0.1:50051".into(),
            ingest_client: nianbao_auth::ClientConfig::default(),
            submit_timeout_ms: 60_000,
            data_dir: PathBuf::from("data/crawler"),
            database_url: String::new(),
            interval_ms: 6 * 3600 * 1000,
            reporting_year: 0,
            sites_in_parallel: 4,
            max_list_pages: 20,
            max_documents: 200,
            politeness: Politeness::default(),
            log: nianbao_telemetry::LogConfig::default(),
        }
    }
}

/// Every field, the database URL without its password. Destructured so that a new field cannot be
/// forgotten.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config {
            directory,
            ingest_url,
            ingest_client,
            submit_timeout_ms,
            data_dir,
            database_url,
            interval_ms,
            reporting_year,
            sites_in_parallel,
            max_list_pages,
            max_documents,
            politeness,
            log,
        } = self;
        f.debug_struct("Config")
            .field("directory", directory)
            .field("ingest_url", &nianbao_service::redact(ingest_url))
            .field("ingest_client", ingest_client)
            .field("submit_timeout_ms", submit_timeout_ms)
            .field("data_dir", data_dir)
            .field("database_url", &nianbao_service::redact(database_url))
            .field("interval_ms", interval_ms)
            .field("reporting_year", reporting_year)
            .field("sites_in_parallel", sites_in_parallel)
            .field("max_list_pages", max_list_pages)
            .field("max_documents", max_documents)
            .field("politeness", politeness)
            .field("log", log)
            .finish()
    }
}

impl Config {
    /// The database URL: `database_url`, or SQLite under `data_dir` when it is empty.
    pub fn database_url(&self) -> String {
        if self.database_url.trim().is_empty() {
            format!(
                "sqlite://{}/crawler.sqlite?mode=rwc",
                self.data_dir.display()
            )
        } else {
            self.database_url.trim().to_string()
        }
    }

    pub fn settings(&self) -> crawl::CrawlSettings {
        crawl::CrawlSettings {
            reporting_year: self.reporting_year,
            sites_in_parallel: self.sites_in_parallel,
            max_list_pages: self.max_list_pages,
            max_documents: self.max_documents,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CrawlerError {
    #[error(transparent)]
    Service(#[from] nianbao_service::ServiceError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Directory(#[from] nianbao_directory::DirectoryError),
    #[error("未配置机构目录（directory）/ no directory configured: set `directory`")]
    NoDirectory,
    #[error("ingest_url {url}: {source}")]
    IngestUrl {
        url: String,
        source: nianbao_auth::AuthError,
    },
    #[error(transparent)]
    Fetcher(#[from] fetch::BuildError),
}

/// Loads the configuration: embedded defaults, then `file`, then `NIANBAO_*` variables.
pub fn load(file: Option<&Path>) -> Result<Config, CrawlerError> {
    Ok(nianbao_service::load_config(DEFAULT_CONFIG, file)?)
}

/// The crawler of `cfg`: its directory, its state database, a lazily connected ingest client.
pub async fn crawler(cfg: &Config) -> Result<crawl::Crawler, CrawlerError> {
    let path = cfg.directory.trim();
    if path.is_empty() {
        return Err(CrawlerError::NoDirectory);
    }
    let directory = Arc::new(nianbao_directory::Directory::load(Path::new(path))?);
    let state = state::State::open(&cfg.database_url()).await?;
    let timeout = Duration::from_millis(cfg.submit_timeout_ms.max(1));
    let channel = nianbao_auth::grpc::connect_lazy(
        &cfg.ingest_url,
        &cfg.ingest_client,
        timeout.min(Duration::from_secs(10)),
        timeout,
    )
    .map_err(|source| CrawlerError::IngestUrl {
        url: nianbao_service::redact(&cfg.ingest_url),
        source,
    })?;
    let limit = usize::try_from(cfg.politeness.max_body_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1024 * 1024);
    Ok(crawl::Crawler {
        directory,
        state,
        ingest: nianbao_proto::v1::ingest_client::IngestClient::new(channel)
            .max_encoding_message_size(limit),
        fetch: cfg.politeness.fetch_config(),
        extra_hosts: cfg.politeness.allowed_hosts.clone(),
        settings: cfg.settings(),
    })
}

/// Runs a pass now and then every `interval_ms` until `shutdown` (`once`: one pass). A pass in
/// progress is finished first.
pub async fn run(
    cfg: Config,
    once: bool,
    shutdown: nianbao_service::Shutdown,
) -> Result<(), CrawlerError> {
    let crawler = crawler(&cfg).await?;
    loop {
        let r = crawler.pass().await?;
        tracing::info!(
            sites = r.sites,
            list_pages = r.list_pages,
            not_modified = r.not_modified,
            unchanged = r.unchanged,
            submitted = r.submitted.len(),
            backfill = r.submitted.iter().filter(|s| s.backfill).count(),
            problems = r.problems.len(),
            "pass done"
        );
        if once || shutdown.is_set() {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(cfg.interval_ms.max(1000))) => {}
            () = shutdown.wait() => break,
        }
    }
    crawler.state.close().await;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_match_default() {
        let c: Config = nianbao_service::load_config(DEFAULT_CONFIG, None).unwrap();
        let d = Config::default();
        assert_eq!(c.ingest_url, d.ingest_url);
        assert_eq!(c.data_dir, d.data_dir);
        assert_eq!(c.interval_ms, d.interval_ms);
        assert_eq!(c.reporting_year, d.reporting_year);
        assert_eq!(c.sites_in_parallel, d.sites_in_parallel);
        assert_eq!(c.max_list_pages, d.max_list_pages);
        assert_eq!(c.max_documents, d.max_documents);
        assert_eq!(c.submit_timeout_ms, d.submit_timeout_ms);
        let (p, q) = (&c.politeness, &d.politeness);
        assert_eq!(
            (
                &p.user_agent,
                p.delay_ms,
                p.timeout_ms,
                p.connect_timeout_ms
            ),
            (
                &q.user_agent,
                q.delay_ms,
                q.timeout_ms,
                q.connect_timeout_ms
            )
        );
        assert_eq!(
            (
                p.max_body_bytes,
                p.max_redirects,
                p.robots,
                &p.allowed_hosts,
                &p.proxy
            ),
            (
                q.max_body_bytes,
                q.max_redirects,
                q.robots,
                &q.allowed_hosts,
                &q.proxy
            )
        );
        assert!(
            c.database_url()
                .starts_with("sqlite://data/crawler/crawler.sqlite")
        );
    }

    #[test]
    fn debug_hides_the_database_password_and_the_token() {
        let mut cfg = Config {
            database_url: "postgres://nb:db-hunter2@db.example/crawler".into(),
            ..Config::default()
        };
        cfg.ingest_client.token = "nbt_secret-token".into();
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("db-hunter2") && !shown.contains("nbt_secret"),
            "{shown}"
        );
    }
}
