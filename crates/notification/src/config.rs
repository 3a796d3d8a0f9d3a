//! The service's configuration: embedded defaults (`deploy/config/notification.toml`, every key commented there),
//! an optional file, then `NIANBAO_…` environment variables.

use crate::deliver::{Channel, WebhookSettings};
use nianbao_bus::BusConfig;
use nianbao_model::Severity;
use nianbao_telemetry::LogConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// The embedded defaults.
pub const DEFAULTS: &str = include_str!("../../../deploy/config/notification.toml");

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(transparent)]
    Load(#[from] nianbao_service::ServiceError),
    #[error("configuration: {0}")]
    Invalid(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub directory: String,
    pub default_office: String,
    pub min_severity: String,
    pub default_channels: Vec<String>,
    pub webhook: WebhookConfig,
    pub stream: StreamConfig,
    pub bus: BusConfig,
    /// Logging (`nianbao_telemetry`): format human|json, filter.
    pub log: LogConfig,
    /// Traces (`nianbao_telemetry`): OTLP endpoint, sampling.
    pub telemetry: nianbao_telemetry::TraceConfig,
    /// The Prometheus endpoint.
    pub metrics: nianbao_service::MetricsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:50054".into(),
            data_dir: "data/notification".into(),
            database_url: String::new(),
            directory: String::new(),
            default_office: "province".into(),
            min_severity: "warning".into(),
            default_channels: vec!["inbox".into(), "outbox".into()],
            webhook: WebhookConfig::default(),
            stream: StreamConfig::default(),
            bus: BusConfig::default(),
            log: LogConfig::default(),
            telemetry: nianbao_telemetry::TraceConfig::default(),
            metrics: nianbao_service::MetricsConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct WebhookConfig {
    pub timeout_ms: u64,
    pub retries: u32,
    pub backoff_ms: u64,
    pub max_backoff_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            timeout_ms: 5_000,
            retries: 5,
            backoff_ms: 1_000,
            max_backoff_ms: 60_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    pub capacity: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig { capacity: 1024 }
    }
}

impl Config {
    /// Defaults, then `file`, then the environment; then checked.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let cfg: Config = nianbao_service::load_config(DEFAULTS, file)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Refuses settings that would only fail later, at the first alert.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.min_severity()?;
        self.default_channels()?;
        if self.default_office.trim().is_empty() {
            return Err(ConfigError::Invalid("default_office is empty".into()));
        }
        Ok(())
    }

    /// The alert threshold. Info is refused: info findings never alert.
    pub fn min_severity(&self) -> Result<Severity, ConfigError> {
        match self.min_severity.parse::<Severity>() {
            Ok(Severity::Info) | Err(_) => Err(ConfigError::Invalid(format!(
                "min_severity {:?} must be \"warning\" or \"error\" (info findings never alert)",
                self.min_severity
            ))),
            Ok(s) => Ok(s),
        }
    }

    pub fn default_channels(&self) -> Result<Vec<Channel>, ConfigError> {
        self.default_channels
            .iter()
            .map(|c| {
                c.parse::<Channel>()
                    .map_err(|e| ConfigError::Invalid(format!("default_channels: {e}")))
            })
            .collect()
    }

    /// `database_url`, or SQLite under `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database_url.trim().is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("notification.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }

    pub fn outbox_path(&self) -> PathBuf {
        self.data_dir.join("outbox.jsonl")
    }

    pub fn webhook_settings(&self) -> WebhookSettings {
        WebhookSettings {
            timeout: Duration::from_millis(self.webhook.timeout_ms.max(1)),
            retries: self.webhook.retries,
            backoff: Duration::from_millis(self.webhook.backoff_ms),
            max_backoff: Duration::from_millis(
                self.webhook.max_backoff_ms.max(self.webhook.backoff_ms),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_load_and_match_the_struct_defaults() {
        let c: Config = nianbao_service::load_config(DEFAULTS, None).unwrap();
        let d = Config::default();
        assert_eq!(c.listen, d.listen);
        assert_eq!(c.default_channels, d.default_channels);
        assert_eq!(c.min_severity().unwrap(), Severity::Warning);
        assert_eq!(c.webhook.retries, d.webhook.retries);
        assert_eq!(c.stream.capacity, d.stream.capacity);
        assert_eq!(c.bus.max_attempts, d.bus.max_attempts);
        assert!(c.database_url().starts_with("sqlite://"));
        c.validate().unwrap();
    }

    #[test]
    fn bad_values_are_refused() {
        let c = Config {
            min_severity: "info".into(),
            ..Config::default()
        };
        assert!(c.validate().is_err());
        let c = Config {
            default_channels: vec!["pager".into()],
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }
}
