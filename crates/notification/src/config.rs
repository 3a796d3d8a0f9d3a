//! The service's configuration: embedded defaults (`deploy/config/notification.toml`, every key commented there),
//! an optional file, then `NIANBAO_…` environment variables.

use crate::deliver::{Channel, SmtpSettings, WebhookSettings};
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

/// The configuration. Its `Debug` hides secrets: the passwords of the database and broker URLs,
/// robot keys in `default_channels`, the SMTP password.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    pub listen: String,
    /// Removed: the second metrics endpoint. `[metrics] listen` serves the `nianbao_notification_*`
    /// families with every other metric of the service. Kept only to refuse a configuration that
    /// still sets it (its scrapes would otherwise fail without a word).
    pub metrics_listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub directory: String,
    pub default_office: String,
    pub min_severity: String,
    pub default_channels: Vec<String>,
    pub webhook: WebhookConfig,
    pub smtp: SmtpConfig,
    pub escalation: EscalationConfig,
    pub roster: RosterConfig,
    /// How often the timers run (escalation, digests, roster), in milliseconds.
    pub tick_ms: u64,
    /// Several instances on one PostgreSQL: one of them (the holder of the `notification.worker`
    /// lease) consumes events, runs the timers and delivers; the others serve the API and take
    /// over once the holder's claim ends unrenewed. How long a claim lasts, in milliseconds: the
    /// longest a crashed holder's work waits for another instance.
    pub lease_ttl_ms: u64,
    pub stream: StreamConfig,
    pub tls: nianbao_auth::ServerTlsConfig,
    pub auth: nianbao_auth::AuthConfig,
    pub grpc: nianbao_service::GrpcLimits,
    pub bus: BusConfig,
    /// Logging (`nianbao_telemetry`): format human|json, filter.
    pub log: LogConfig,
    /// Traces (`nianbao_telemetry`): OTLP endpoint, sampling.
    pub telemetry: nianbao_telemetry::TraceConfig,
    /// The Prometheus endpoint.
    pub metrics: nianbao_service::MetricsConfig,
}

/// Every field, secrets hidden. Destructured so that a new field cannot be forgotten (a new secret
/// must be hidden here).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config {
            listen,
            metrics_listen,
            data_dir,
            database_url,
            directory,
            default_office,
            min_severity,
            default_channels,
            webhook,
            smtp,
            escalation,
            roster,
            tick_ms,
            lease_ttl_ms,
            stream,
            tls,
            auth,
            grpc,
            bus,
            log,
            telemetry,
            metrics,
        } = self;
        let channels: Vec<String> = default_channels
            .iter()
            .map(|c| crate::deliver::shown_channel(c))
            .collect();
        f.debug_struct("Config")
            .field("listen", listen)
            .field("metrics_listen", metrics_listen)
            .field("data_dir", data_dir)
            .field("database_url", &nianbao_service::redact(database_url))
            .field("directory", directory)
            .field("default_office", default_office)
            .field("min_severity", min_severity)
            .field("default_channels", &channels)
            .field("webhook", webhook)
            .field("smtp", smtp)
            .field("escalation", escalation)
            .field("roster", roster)
            .field("tick_ms", tick_ms)
            .field("lease_ttl_ms", lease_ttl_ms)
            .field("stream", stream)
            .field("tls", tls)
            .field("auth", auth)
            .field("grpc", grpc)
            .field("bus", bus)
            .field("log", log)
            .field("telemetry", telemetry)
            .field("metrics", metrics)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:50054".into(),
            metrics_listen: String::new(),
            data_dir: "data/notification".into(),
            database_url: String::new(),
            directory: String::new(),
            default_office: "province".into(),
            min_severity: "warning".into(),
            default_channels: vec!["inbox".into(), "outbox".into()],
            webhook: WebhookConfig::default(),
            smtp: SmtpConfig::default(),
            escalation: EscalationConfig::default(),
            roster: RosterConfig::default(),
            tick_ms: 60_000,
            lease_ttl_ms: 15_000,
            stream: StreamConfig::default(),
            tls: nianbao_auth::ServerTlsConfig::default(),
            auth: nianbao_auth::AuthConfig::default(),
            grpc: nianbao_service::GrpcLimits::default(),
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
    /// Consecutive failed attempts after which a channel counts as failing (ListChannels, logs).
    pub failing_after: u32,
    /// Least time between two messages to the same 企业微信 / 钉钉 robot, in milliseconds (the
    /// robots accept about 20 a minute).
    pub robot_interval_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            timeout_ms: 5_000,
            retries: 5,
            backoff_ms: 1_000,
            max_backoff_ms: 60_000,
            failing_after: 3,
            robot_interval_ms: 3_000,
        }
    }
}

/// The SMTP server `email:` channels send through. Its `Debug` hides the password.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// "starttls" (required STARTTLS), "tls" (implicit TLS, port 465) or "none" (plain, a local relay).
    pub security: String,
    pub username: String,
    pub password: String,
    pub from: String,
    pub timeout_ms: u64,
}

/// Every field, the password as `***`. Destructured so that a new field cannot be forgotten.
impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let SmtpConfig {
            host,
            port,
            security,
            username,
            password,
            from,
            timeout_ms,
        } = self;
        f.debug_struct("SmtpConfig")
            .field("host", host)
            .field("port", port)
            .field("security", security)
            .field("username", username)
            .field("password", &crate::deliver::hidden(password))
            .field("from", from)
            .field("timeout_ms", timeout_ms)
            .finish()
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 587,
            security: "starttls".into(),
            username: String::new(),
            password: String::new(),
            from: "年报检查 <nianbao@localhost>".into(),
            timeout_ms: 10_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct EscalationConfig {
    /// Hours an error alert may stay unacknowledged before it goes to the parent office (once);
    /// an office's `escalate_after_hours` overrides it; 0 → never.
    pub after_hours: u64,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        EscalationConfig { after_hours: 72 }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RosterConfig {
    /// Track the directory's agencies: report-missing alerts after a deadline, report-late findings.
    pub enabled: bool,
    /// The reporting year tracked; 0 → the year before the current one (in China time).
    pub year: i32,
    /// Days after a deadline before report-missing is sent.
    pub grace_days: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    pub capacity: usize,
    /// StreamAlerts calls open at once, over all clients.
    pub max_subscribers: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            capacity: 1024,
            max_subscribers: 256,
        }
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
        if !self.metrics_listen.trim().is_empty() {
            return Err(ConfigError::Invalid(format!(
                "metrics_listen ({:?}) was removed: scrape /metrics on [metrics] listen, which \
                 serves the nianbao_notification_* families too; drop the setting",
                self.metrics_listen.trim()
            )));
        }
        self.min_severity()?;
        self.default_channels()?;
        if self.default_office.trim().is_empty() {
            return Err(ConfigError::Invalid("default_office is empty".into()));
        }
        if !self.smtp.host.trim().is_empty() {
            crate::deliver::smtp_security(&self.smtp.security).map_err(ConfigError::Invalid)?;
            // A password sent in cleartext is a password given away.
            if self.smtp.security.trim() == "none"
                && (!self.smtp.username.is_empty() || !self.smtp.password.is_empty())
            {
                return Err(ConfigError::Invalid(
                    "smtp.security = \"none\" with a username or password: credentials would cross the network in cleartext; use \"starttls\" or \"tls\"".into(),
                ));
            }
            if self.smtp.from.parse::<lettre::message::Mailbox>().is_err() {
                return Err(ConfigError::Invalid(format!(
                    "smtp.from {:?} is not a mailbox",
                    self.smtp.from
                )));
            }
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

    pub fn smtp_settings(&self) -> SmtpSettings {
        SmtpSettings {
            host: self.smtp.host.clone(),
            port: self.smtp.port,
            security: self.smtp.security.clone(),
            username: self.smtp.username.clone(),
            password: self.smtp.password.clone(),
            from: self.smtp.from.clone(),
            timeout: Duration::from_millis(self.smtp.timeout_ms.max(1)),
        }
    }

    pub fn webhook_settings(&self) -> WebhookSettings {
        WebhookSettings {
            timeout: Duration::from_millis(self.webhook.timeout_ms.max(1)),
            retries: self.webhook.retries,
            backoff: Duration::from_millis(self.webhook.backoff_ms),
            max_backoff: Duration::from_millis(
                self.webhook.max_backoff_ms.max(self.webhook.backoff_ms),
            ),
            failing_after: self.webhook.failing_after.max(1),
            robot_interval: Duration::from_millis(self.webhook.robot_interval_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_removed_metrics_listen_is_refused_with_where_to_scrape() {
        let c = Config {
            metrics_listen: "127.0.0.1:9154".into(),
            ..Config::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("metrics_listen") && e.contains("[metrics] listen"),
            "{e}"
        );
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn embedded_defaults_load_and_match_the_struct_defaults() {
        let c: Config = nianbao_service::load_config(DEFAULTS, None).unwrap();
        let d = Config::default();
        assert_eq!(c.listen, d.listen);
        assert_eq!(c.default_channels, d.default_channels);
        assert_eq!(c.min_severity().unwrap(), Severity::Warning);
        assert_eq!(c.webhook.retries, d.webhook.retries);
        assert_eq!(c.webhook.failing_after, d.webhook.failing_after);
        assert_eq!(c.tick_ms, d.tick_ms);
        assert_eq!(c.lease_ttl_ms, d.lease_ttl_ms);
        assert_eq!(c.escalation.after_hours, d.escalation.after_hours);
        assert_eq!(c.roster.enabled, d.roster.enabled);
        assert_eq!(c.smtp.port, d.smtp.port);
        assert_eq!(c.smtp.from, d.smtp.from);
        assert_eq!(c.stream.capacity, d.stream.capacity);
        assert_eq!(c.bus.max_attempts, d.bus.max_attempts);
        assert!(c.database_url().starts_with("sqlite://"));
        c.validate().unwrap();
    }

    #[test]
    fn debug_shows_no_secret() {
        let mut c = Config {
            database_url: "postgres://nb:db-hunter2@db.example/nb?password=db-hunter3".into(),
            default_channels: vec![
                "inbox".into(),
                "wecom:https://qyapi.example/cgi-bin/webhook/send?key=wecom-key-0123456789".into(),
                "dingtalk:https://oapi.example/robot/send?access_token=dt-token-0123456789#secret=SECdingtalk0123".into(),
                "webhook:https://hook:hook-hunter2@hooks.example/a?token=hook-token-0123".into(),
                // Not a channel: still no secret in the output.
                "wecom:htps://qyapi.example/send?key=typo-key-0123456789".into(),
            ],
            ..Config::default()
        };
        c.smtp.host = "mail.example.cn".into();
        c.smtp.username = "nianbao".into();
        c.smtp.password = "smtp-hunter2".into();
        c.bus.url = "amqp://nb:mq-hunter2@mq.example/%2f".into();
        let shown = format!("{c:?}");
        for secret in [
            "db-hunter2",
            "db-hunter3",
            "wecom-key-0123456789",
            "dt-token-0123456789",
            "SECdingtalk0123",
            "hook-hunter2",
            "hook-token-0123",
            "typo-key-0123456789",
            "smtp-hunter2",
            "mq-hunter2",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // Still useful: which robot, which user.
        assert!(shown.contains("key=…6789"), "{shown}");
        assert!(shown.contains("username: \"nianbao\""), "{shown}");
        assert!(shown.contains("password: \"***\""), "{shown}");
        assert!(!format!("{:?}", c.smtp_settings()).contains("smtp-hunter2"));
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
        let mut c = Config::default();
        c.smtp.host = "mail.example.cn".into();
        c.smtp.security = "ssl3".into();
        assert!(c.validate().is_err());
        c.smtp.security = "tls".into();
        c.validate().unwrap();
        c.smtp.security = "none".into();
        c.validate().unwrap();
        c.smtp.username = "gkb".into();
        c.smtp.password = "pw".into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("cleartext"), "{e}");
        assert!(!e.contains("pw\""), "{e}");
    }
}
