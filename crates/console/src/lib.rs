//! nianbao-console: the office console, one screen for the reporting season.
//!
//! A small HTTPS server rendering pages for the clerks of a 政务公开办: who must report, who has,
//! who is late or missing and what is wrong ([`pages::overview`]); a report with its provenance, its
//! versions and its 表二/表三/表四 drawn as the official grids with the findings' cells marked
//! ([`pages::report`]); the alerts, acknowledged with a note ([`pages::alerts`]); a 通报 draft as
//! DOCX and XLSX with the 整改台账 and a 汇总 of the tables ([`tongbao`]); the 年报评议 ranking with
//! the evidence of every deduction ([`scoring`]).
//!
//! It stores nothing of its own. The clerk logs in with their office credential (`nianbao
//! credentials issue --office ID --name 王科长`): the console checks the token against the
//! credentials file, keeps it in a server-side session ([`session`]) and sends it on every call to
//! ingest and notification, so that those services decide what the clerk may read and do (their
//! office's subtree of the directory) exactly as for the CLI. The directory file gives who must
//! report and by when.
//!
//! [`run`] serves until the shutdown future resolves, like the other services.

pub mod data;
pub mod grids;
pub mod html;
pub mod http;
pub mod pages;
pub mod scoring;
pub mod session;
pub mod tongbao;

use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;

/// The defaults, every key commented: also the reference for deploy/.
pub const DEFAULT_CONFIG: &str = include_str!("../../../deploy/config/console.toml");

/// The console's configuration (see `deploy/config/console.toml` for what each key means).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Config {
    pub listen: String,
    pub directory: String,
    pub ingest_url: String,
    pub notification_url: String,
    /// The reporting year shown by default; 0: last year (China time).
    pub year: i32,
    pub session_idle_minutes: u64,
    pub session_max_hours: u64,
    /// TLS roots (and client certificate) for the services; its token is never used.
    pub client: nianbao_auth::ClientConfig,
    pub tls: nianbao_auth::ServerTlsConfig,
    pub auth: nianbao_auth::AuthConfig,
    pub limits: nianbao_extract::LimitsConfig,
    pub log: nianbao_telemetry::LogConfig,
    pub telemetry: nianbao_telemetry::TraceConfig,
    /// The 年报评议 indicator pack ([`scoring`]).
    pub scoring: scoring::ScoringConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8443".into(),
            directory: String::new(),
            ingest_url: "https://127.0.0.1:50051".into(),
            notification_url: "https://127.0.0.1:50054".into(),
            year: 0,
            session_idle_minutes: 30,
            session_max_hours: 8,
            client: nianbao_auth::ClientConfig::default(),
            tls: nianbao_auth::ServerTlsConfig::default(),
            auth: nianbao_auth::AuthConfig::default(),
            limits: nianbao_extract::LimitsConfig::default(),
            log: nianbao_telemetry::LogConfig::default(),
            telemetry: nianbao_telemetry::TraceConfig::default(),
            scoring: scoring::ScoringConfig::default(),
        }
    }
}

#[derive(Debug, Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Service(#[from] nianbao_service::ServiceError),
    #[error(transparent)]
    Auth(#[from] nianbao_auth::AuthError),
    #[error(transparent)]
    Directory(#[from] nianbao_directory::DirectoryError),
    #[error("the console needs a directory file (`directory = …`): it tells who must report")]
    NoDirectory,
    #[error(
        "the console needs the credentials file (`[auth] credentials`) to check logins; `[auth] disabled` is not supported"
    )]
    NoCredentials,
    #[error("TLS: {0}")]
    Tls(String),
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}

/// Loads the configuration: embedded defaults, then `file`, then `NIANBAO_*` environment variables.
pub fn load(file: Option<&Path>) -> Result<Config, ConsoleError> {
    Ok(nianbao_service::load_config(DEFAULT_CONFIG, file)?)
}

/// What every request handler shares.
pub struct App {
    pub cfg: Config,
    pub directory: Arc<nianbao_directory::Directory>,
    pub services: data::Services,
    pub sessions: session::Sessions,
    /// Whether the listener speaks TLS (cookies are then `Secure`).
    pub secure: bool,
    pub limits: nianbao_extract::Limits,
}

impl App {
    /// The reporting year shown when a page does not choose one.
    pub fn default_year(&self) -> i32 {
        if self.cfg.year > 0 {
            self.cfg.year
        } else {
            nianbao_directory::Date::from_ms_cst(nianbao_service::now_ms()).year - 1
        }
    }
}

nianbao_service::impl_service_config!(Config);

/// Serves the console on `listener` until `shutdown`.
pub async fn run(
    cfg: Config,
    listener: tokio::net::TcpListener,
    shutdown: nianbao_service::Shutdown,
) -> Result<(), ConsoleError> {
    let addr = nianbao_service::local_addr(&listener);
    let tls = http::server_tls(&cfg.tls, addr)?;
    if cfg.auth.disabled || cfg.auth.credentials.as_os_str().is_empty() {
        return Err(ConsoleError::NoCredentials);
    }
    let directory = match cfg.directory.trim() {
        "" => return Err(ConsoleError::NoDirectory),
        path => Arc::new(nianbao_directory::Directory::load(Path::new(path))?),
    };
    let services = data::Services::new(&cfg)?;
    let sessions = session::Sessions::new(
        cfg.auth.credentials.clone(),
        std::time::Duration::from_secs(cfg.session_idle_minutes.max(1) * 60),
        std::time::Duration::from_secs(cfg.session_max_hours.max(1) * 3600),
    );
    let limits = cfg.limits.limits(64 * 1024 * 1024);
    let app = Arc::new(App {
        secure: tls.is_some(),
        cfg,
        directory,
        services,
        sessions,
        limits,
    });
    let router = pages::router(app.clone());
    tracing::info!(%addr, tls = app.secure, "nianbao-console serving");
    http::serve(listener, tls, router, shutdown).await?;
    tracing::info!("nianbao-console stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_match_default() {
        let c: Config = nianbao_service::load_config(DEFAULT_CONFIG, None).unwrap_or_default();
        let d = Config::default();
        assert_eq!(c.listen, d.listen);
        assert_eq!(c.ingest_url, d.ingest_url);
        assert_eq!(c.notification_url, d.notification_url);
        assert_eq!(c.session_idle_minutes, d.session_idle_minutes);
        assert_eq!(c.session_max_hours, d.session_max_hours);
        assert_eq!(c.limits, d.limits);
        assert_eq!(c.scoring, d.scoring);
        assert!(nianbao_service::undocumented_keys(DEFAULT_CONFIG).is_empty());
    }
}
