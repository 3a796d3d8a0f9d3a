//! The service's configuration: defaults from deploy/config/validation.toml, then a file, then
//! `NIANBAO_*` environment variables.

use crate::*;
use cross::Similarity;
use nianbao_bus::{BusConfig, BusError};
use nianbao_directory::Directory;
use nianbao_rules::RuleConfig;
use nianbao_service::{ServiceError, load_config};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use store::StoreError;

const DEFAULTS: &str = include_str!("../../../deploy/config/validation.toml");

/// `[similarity]`: thresholds of the duplicate rules (see `deploy/config/validation.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SimilarityConfig {
    pub threshold: f64,
    pub max_hamming: u32,
    pub min_shingles: u32,
    /// Sketches (2 KiB each) of the most recent reports kept in memory.
    pub sketch_cache: usize,
}

impl Default for SimilarityConfig {
    fn default() -> Self {
        let s = Similarity::default();
        SimilarityConfig {
            threshold: s.threshold,
            max_hamming: s.max_hamming,
            min_shingles: s.min_shingles,
            sketch_cache: DEFAULT_SKETCH_CACHE,
        }
    }
}

/// Sketches kept in memory by default: 32 MiB. Every sketch a new report is compared with that is
/// not in memory is read from the store and decoded (4 KiB of hex); with 4,096, a run of 16,000
/// generated reports spent a tenth of validation's time doing that.
pub const DEFAULT_SKETCH_CACHE: usize = 16_384;

/// The service's configuration; every key is documented in `deploy/config/validation.toml`. Its
/// `Debug` hides the passwords of the database and broker URLs.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub rules_config: String,
    /// The directory file (as ingest and notification read it): reports are known by their
    /// directory agency id, not by the name they print. Empty: by the printed name.
    pub directory: String,
    pub max_bytes: usize,
    /// `[limits]`: what reading one document may cost (as in the extraction workers).
    pub limits: nianbao_extract::LimitsConfig,
    pub similarity: SimilarityConfig,
    /// `Validate` calls run at once (each extracts a document on the blocking pool); more wait.
    pub validate_concurrency: usize,
    /// A `Validate` call not done within this many milliseconds ends with DEADLINE_EXCEEDED.
    pub validate_timeout_ms: u64,
    pub tls: nianbao_auth::ServerTlsConfig,
    pub auth: nianbao_auth::AuthConfig,
    pub grpc: nianbao_service::GrpcLimits,
    pub bus: BusConfig,
    pub log: nianbao_telemetry::LogConfig,
    pub telemetry: nianbao_telemetry::TraceConfig,
    pub metrics: nianbao_service::MetricsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:50053".into(),
            data_dir: "data/validation".into(),
            database_url: String::new(),
            rules_config: String::new(),
            directory: String::new(),
            max_bytes: 20 * 1024 * 1024,
            limits: nianbao_extract::LimitsConfig::default(),
            similarity: SimilarityConfig::default(),
            validate_concurrency: 2,
            validate_timeout_ms: 30_000,
            tls: nianbao_auth::ServerTlsConfig::default(),
            auth: nianbao_auth::AuthConfig::default(),
            grpc: nianbao_service::GrpcLimits::default(),
            bus: BusConfig::default(),
            log: nianbao_telemetry::LogConfig::default(),
            telemetry: nianbao_telemetry::TraceConfig::default(),
            metrics: nianbao_service::MetricsConfig::default(),
        }
    }
}

/// Every field, the URLs without passwords. Destructured so that a new field cannot be forgotten
/// (a new secret must be hidden here).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Config {
            listen,
            data_dir,
            database_url,
            rules_config,
            directory,
            max_bytes,
            limits,
            similarity,
            validate_concurrency,
            validate_timeout_ms,
            tls,
            auth,
            grpc,
            bus,
            log,
            telemetry,
            metrics,
        } = self;
        f.debug_struct("Config")
            .field("listen", listen)
            .field("data_dir", data_dir)
            .field("database_url", &nianbao_service::redact(database_url))
            .field("rules_config", rules_config)
            .field("directory", directory)
            .field("max_bytes", max_bytes)
            .field("limits", limits)
            .field("similarity", similarity)
            .field("validate_concurrency", validate_concurrency)
            .field("validate_timeout_ms", validate_timeout_ms)
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

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("rule configuration {path}: {source}")]
    Rules {
        path: String,
        source: nianbao_rules::ConfigError,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] nianbao_directory::DirectoryError),
    #[error(transparent)]
    Auth(#[from] nianbao_auth::AuthError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("gRPC server task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Loads the configuration: embedded defaults, then `file`, then `NIANBAO_*` variables.
pub fn load(file: Option<&Path>) -> Result<Config, Error> {
    Ok(load_config(DEFAULTS, file)?)
}

impl Config {
    /// The database URL: the configured one, else SQLite under `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database_url.trim().is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("validation.db").display()
            )
        } else {
            self.database_url.clone()
        }
    }

    /// The rule configuration named by `rules_config`, or the catalogue's defaults.
    pub fn rule_config(&self) -> Result<RuleConfig, Error> {
        let path = self.rules_config.trim();
        if path.is_empty() {
            return Ok(RuleConfig::default());
        }
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_string(),
            source,
        })?;
        RuleConfig::from_toml(&text).map_err(|source| Error::Rules {
            path: path.to_string(),
            source,
        })
    }

    /// The directory named by `directory`, or none (reports known by the names they print).
    pub fn load_directory(&self) -> Result<Directory, Error> {
        Ok(match self.directory.trim() {
            "" => Directory::empty("default"),
            path => Directory::load(Path::new(path))?,
        })
    }

    pub fn similarity(&self) -> Similarity {
        Similarity {
            threshold: self.similarity.threshold,
            max_hamming: self.similarity.max_hamming,
            min_shingles: self.similarity.min_shingles,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_hides_the_database_and_broker_passwords() {
        let mut cfg = Config {
            database_url: "postgres://nb:db-hunter2@db.example/nb?password=db-hunter3".into(),
            ..Config::default()
        };
        cfg.bus.url = "amqp://nb:mq-hunter2@mq.example/%2f".into();
        let shown = format!("{cfg:?}");
        for secret in ["db-hunter2", "db-hunter3", "mq-hunter2"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("postgres://nb:***@db.example/nb?password=***"),
            "{shown}"
        );
    }

    #[test]
    fn defaults_load_and_are_documented() {
        let cfg = load(None).unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:50053");
        assert!(cfg.database_url().starts_with("sqlite://"));
        assert_eq!(cfg.similarity(), Similarity::default());
        assert_eq!(cfg.similarity.sketch_cache, DEFAULT_SKETCH_CACHE);
        assert_eq!(cfg.rule_config().unwrap(), RuleConfig::default());
        assert_eq!(
            queue_spec().bindings,
            vec!["report.extracted.*".to_string()]
        );
        assert_eq!(
            nianbao_service::undocumented_keys(DEFAULTS),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_broken_rules_file_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.toml");
        std::fs::write(&p, "disabled = [\"no-such-rule\"]").unwrap();
        let cfg = Config {
            rules_config: p.display().to_string(),
            ..Config::default()
        };
        assert!(matches!(cfg.rule_config(), Err(Error::Rules { .. })));
    }
}
