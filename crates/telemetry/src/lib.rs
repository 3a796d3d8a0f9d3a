//! One logging set-up for every nianbao service binary.
//!
//! Each service calls [`init`] once at start, with its name and the `[log]` table of its
//! configuration ([`LogConfig`]). Doing this in one crate keeps the services' logs alike: the same
//! filter rules, the same JSON shape for the log collector, the service name on every JSON record
//! (several services write into one stream when run together, and a record must say where it came
//! from without relying on the collector's labels).
//!
//! ```toml
//! [log]
//! format = "json"          # "human" (default) or "json"; case-insensitive
//! filter = "info,lapin=warn" # tracing-subscriber EnvFilter directives; RUST_LOG overrides them
//! ```
//!
//! Logs go to standard error, so that standard output stays free for what a command prints.
//!
//! OpenTelemetry export (OTLP traces through `tracing-opentelemetry`, with W3C trace context carried
//! over AMQP headers and gRPC metadata, see `../shared/notes/stack.md` §3.2) is a later issue: it will
//! add one more layer inside [`init`] and optional fields to [`LogConfig`], so that callers do not
//! change.

use std::fmt;
use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, ParseError};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};

/// The filter used when neither `RUST_LOG` nor the configuration names one.
pub const DEFAULT_FILTER: &str = "info";

/// How a service logs: the `[log]` table of its configuration. Every field has a default, so an
/// absent table or key means "human-readable, `info`".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Human-readable lines for a person at a terminal, or JSON lines for a log collector.
    pub format: LogFormat,
    /// `EnvFilter` directives (`info`, `nianbao_bus=debug,lapin=warn`, …). `RUST_LOG`, when set and
    /// not empty, replaces them: an operator can turn up one service's logs without editing its file.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            filter: DEFAULT_FILTER.to_owned(),
        }
    }
}

/// The shape of each log line.
///
/// Parsed case-insensitively (`"json"`, `"JSON"`), because values often come from environment
/// variables that people write in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum LogFormat {
    /// `tracing-subscriber`'s default text format (coloured only when standard error is a terminal).
    #[default]
    Human,
    /// One JSON object per line, with `service`, `timestamp`, `level`, `fields`, `target` and the
    /// current span(s).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = TelemetryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "human" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            _ => Err(TelemetryError::UnknownFormat(s.to_owned())),
        }
    }
}

impl TryFrom<String> for LogFormat {
    type Error = TelemetryError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Why logging could not be set up. A service treats any of these as a configuration error and
/// exits (64) before doing anything else: running without logs would hide every later problem.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `log.format` is neither `human` nor `json`.
    #[error("unknown log format {0:?}: expected \"human\" or \"json\"")]
    UnknownFormat(String),
    /// The filter directives (from `RUST_LOG` or `log.filter`, named in `origin`) do not parse.
    #[error("invalid log filter in {origin} ({directives:?})")]
    InvalidFilter {
        origin: &'static str,
        directives: String,
        #[source]
        source: ParseError,
    },
    /// Installing the global subscriber failed for a reason other than one being there already
    /// (for example a `log` logger set by another crate).
    #[error("could not install the log subscriber")]
    Install(#[source] TryInitError),
}

/// Whether [`init`] has already run to completion in this process: a mutex rather than a `Once`, so
/// that a call that failed (bad filter) can be retried with a corrected configuration.
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Installs the process-wide `tracing` subscriber for service `service` (`"ingest"`, …).
///
/// Idempotent: a second call is a no-op returning `Ok`. If some other subscriber is already the
/// global default (a test harness running services in-process), it is kept and this returns `Ok`
/// too, so that services can call `init` unconditionally.
pub fn init(service: &'static str, cfg: &LogConfig) -> Result<(), TelemetryError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if *installed {
        return Ok(());
    }
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = build_filter(rust_log.as_deref(), &cfg.filter)?;
    let ansi = std::io::stderr().is_terminal();
    let layer = fmt_layer(service, cfg.format, ansi, std::io::stderr);
    match tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
    {
        Ok(()) => {}
        Err(_) if tracing::dispatcher::has_been_set() => {
            tracing::debug!(
                service,
                "a tracing subscriber was already installed; keeping it"
            );
        }
        Err(err) => return Err(TelemetryError::Install(err)),
    }
    *installed = true;
    Ok(())
}

/// The filter: `RUST_LOG` when set and not blank, else the configured directives. Separate from
/// [`init`] so it can be tested without touching the process environment.
fn build_filter(rust_log: Option<&str>, configured: &str) -> Result<EnvFilter, TelemetryError> {
    let (origin, directives) = match rust_log {
        Some(env) if !env.trim().is_empty() => ("RUST_LOG", env),
        _ => ("log.filter", configured),
    };
    EnvFilter::try_new(directives).map_err(|source| TelemetryError::InvalidFilter {
        origin,
        directives: directives.to_owned(),
        source,
    })
}

/// The formatting layer for `format`, writing to `writer` (standard error in services, a buffer in
/// tests).
fn fmt_layer<S, W>(
    service: &'static str,
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(writer)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .event_format(WithService::new(
                service,
                tracing_subscriber::fmt::format().json(),
            ))
            .with_writer(writer)
            .boxed(),
    }
}

/// A JSON event format that puts `"service":"<name>"` first in every record.
///
/// `tracing-subscriber`'s JSON formatter has no static fields, and a root span carrying the name
/// would not reach tasks spawned outside it; so the inner formatter's object is written to a buffer
/// and the field is spliced in after its opening brace.
struct WithService<F> {
    /// `"service":"<name>",` with the name already JSON-escaped, built once.
    field: String,
    inner: F,
}

impl<F> WithService<F> {
    fn new(service: &str, inner: F) -> Self {
        let name = serde_json::Value::String(service.to_owned());
        Self {
            field: format!("\"service\":{name},"),
            inner,
        }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithService<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut record = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut record), event)?;
        match record.strip_prefix('{') {
            Some(rest) => {
                writer.write_str("{")?;
                writer.write_str(&self.field)?;
                writer.write_str(rest)
            }
            // Not an object (cannot happen with the JSON formatter): pass it through unchanged.
            None => writer.write_str(&record),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::Arc;

    /// The shape services use: a settings struct with an optional `[log]` table.
    #[derive(Debug, Deserialize)]
    struct Settings {
        #[serde(default)]
        log: LogConfig,
    }

    fn parse_toml(text: &str) -> Result<Settings, config::ConfigError> {
        config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()?
            .try_deserialize()
    }

    #[test]
    fn defaults_when_the_table_or_keys_are_absent() {
        assert_eq!(parse_toml("").unwrap().log, LogConfig::default());
        assert_eq!(parse_toml("[log]\n").unwrap().log, LogConfig::default());
        let only_format = parse_toml("[log]\nformat = \"json\"\n").unwrap().log;
        assert_eq!(only_format.format, LogFormat::Json);
        assert_eq!(only_format.filter, "info");
    }

    #[test]
    fn parses_both_fields_and_formats_case_insensitively() {
        let cfg = parse_toml("[log]\nformat = \"JSON\"\nfilter = \"warn,nianbao_bus=debug\"\n")
            .unwrap()
            .log;
        assert_eq!(
            cfg,
            LogConfig {
                format: LogFormat::Json,
                filter: "warn,nianbao_bus=debug".into()
            }
        );
        assert_eq!(" Human ".parse::<LogFormat>().unwrap(), LogFormat::Human);
    }

    #[test]
    fn environment_overrides_the_file_as_services_layer_it() {
        // Services stack file + environment with the config crate; a map source stands in for the
        // environment so the test does not change the process's variables.
        let cfg: Settings = config::Config::builder()
            .add_source(config::File::from_str(
                "[log]\nformat = \"human\"\n",
                config::FileFormat::Toml,
            ))
            .set_override("log.format", "Json")
            .unwrap()
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(cfg.log.format, LogFormat::Json);
    }

    #[test]
    fn rejects_an_unknown_format_and_unknown_keys() {
        let err = parse_toml("[log]\nformat = \"yaml\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown log format"), "{err}");
        let err = parse_toml("[log]\nlevel = \"debug\"\n").unwrap_err();
        assert!(err.to_string().contains("level"), "{err}");
    }

    #[test]
    fn rust_log_wins_over_the_configured_filter_unless_blank() {
        let f = build_filter(Some("debug"), "warn").unwrap();
        assert_eq!(f.to_string(), "debug");
        let f = build_filter(Some("  "), "warn").unwrap();
        assert_eq!(f.to_string(), "warn");
        let f = build_filter(None, "info,lapin=warn").unwrap();
        assert!(f.to_string().contains("lapin=warn"), "{f}");
    }

    #[test]
    fn a_bad_filter_names_where_it_came_from() {
        let err = build_filter(Some("nianbao=loud"), "info").unwrap_err();
        assert!(err.to_string().contains("RUST_LOG"), "{err}");
        let err = build_filter(None, "nianbao=loud").unwrap_err();
        assert!(err.to_string().contains("log.filter"), "{err}");
    }

    /// A `MakeWriter` into a shared buffer, to read what the layer wrote.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn capture(format: LogFormat, emit: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry()
            .with(EnvFilter::new("info"))
            .with(fmt_layer("ingest", format, false, buffer.clone()));
        tracing::subscriber::with_default(subscriber, emit);
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn every_json_record_carries_the_service_name() {
        let out = capture(LogFormat::Json, || {
            tracing::info!(report = "r1", "accepted");
            let span = tracing::info_span!("extract", agency = "A1");
            let _entered = span.enter();
            tracing::warn!("slow");
            tracing::debug!("filtered out");
        });
        let records: Vec<serde_json::Value> = out
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(records.len(), 2, "{out}");
        for record in &records {
            assert_eq!(record["service"], "ingest", "{record}");
        }
        assert_eq!(records[0]["fields"]["message"], "accepted");
        assert_eq!(records[0]["fields"]["report"], "r1");
        assert_eq!(records[1]["level"], "WARN");
        assert_eq!(records[1]["span"]["agency"], "A1");
        assert!(out.starts_with("{\"service\":\"ingest\","), "{out}");
    }

    #[test]
    fn human_lines_are_plain_text() {
        let out = capture(LogFormat::Human, || tracing::info!("accepted"));
        assert!(out.contains("INFO"), "{out}");
        assert!(out.contains("accepted"), "{out}");
        assert!(
            !out.contains('\u{1b}'),
            "no colour codes into a buffer: {out:?}"
        );
    }

    #[test]
    fn init_twice_is_a_no_op() {
        let cfg = LogConfig::default();
        init("test", &cfg).unwrap();
        init("test", &cfg).unwrap();
        assert!(tracing::dispatcher::has_been_set());
    }
}
