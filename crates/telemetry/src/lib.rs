//! One telemetry set-up for every nianbao service binary: logs, traces, and trace context.
//!
//! Each service calls [`init_service`] once at start, with its name, version, the `[log]` table
//! ([`LogConfig`]) and the `[telemetry]` table ([`TraceConfig`]) of its configuration, and keeps the
//! returned [`Telemetry`] until it exits (dropping it flushes the spans still buffered). Doing this in
//! one crate keeps the services alike: the same filter rules, the same JSON shape for the log
//! collector, the service name on every JSON record, the same resource attributes on every span.
//!
//! ```toml
//! [log]
//! format = "json"            # "human" (default) or "json"; case-insensitive
//! filter = "info,lapin=warn" # tracing-subscriber EnvFilter directives; RUST_LOG overrides them
//!
//! [telemetry]
//! otlp_endpoint = "http://otel-collector:4317"  # empty: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, else no export
//! sample_ratio = 1.0                            # new traces kept; a sampled parent is always followed
//! filter = "info,h2=off,hyper=off,tonic=off,tower=off,opentelemetry=off"  # which spans are exported
//! ```
//!
//! Logs go to standard error, so that standard output stays free for what a command prints.
//!
//! # Traces
//!
//! When an OTLP endpoint is configured (or `OTEL_EXPORTER_OTLP_ENDPOINT` /
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, and `OTEL_SDK_DISABLED` is not `true`), `tracing`
//! spans become OpenTelemetry spans (through `tracing-opentelemetry`) and are exported in batches over
//! OTLP/gRPC, with `service.name` (`nianbao-<service>`, or `OTEL_SERVICE_NAME`), `service.version`
//! and `OTEL_RESOURCE_ATTRIBUTES` as resource attributes. The standard `OTEL_TRACES_SAMPLER`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, `…_COMPRESSION` variables apply too.
//!
//! # Trace context
//!
//! W3C `traceparent` crosses process boundaries in gRPC metadata ([`inject_metadata`],
//! [`grpc_server_span`] for `tonic::transport::Server::trace_fn`) and in AMQP headers (the bus uses
//! [`current_traceparent`] and [`set_parent`]). Without an exporter no OpenTelemetry layer is
//! installed; the helpers then return `None` or do nothing, and the services pass the incoming
//! `traceparent` along unchanged, so a trace that a client started still connects every stage.

use std::collections::HashMap;
use std::fmt;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

pub use opentelemetry::KeyValue;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    Span as _, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::Sampler;
pub use opentelemetry_sdk::trace::SdkTracerProvider;
#[cfg(feature = "testing")]
pub use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use serde::Deserialize;
use tracing::dispatcher::WeakDispatch;
use tracing::{Dispatch, Event, Subscriber};
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
    /// `telemetry.sample_ratio` is not a number from 0 to 1.
    #[error("telemetry.sample_ratio must be between 0 and 1, not {0}")]
    SampleRatio(f64),
    /// The OTLP exporter could not be built (a malformed endpoint, for example).
    #[error("could not set up the OTLP exporter for {endpoint:?}")]
    Exporter {
        endpoint: String,
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

/// The `[telemetry]` table of a service's configuration: OpenTelemetry traces. Every field has a
/// default, so an absent table means "export only if the standard `OTEL_*` variables say so".
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceConfig {
    /// OTLP/gRPC endpoint of a collector (`http://otel-collector:4317`). Empty: the standard
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` when set, else no traces
    /// are exported (and no spans are built for OpenTelemetry at all).
    pub otlp_endpoint: String,
    /// The share of new traces kept (0 to 1). Parent-based: a stage whose incoming trace context is
    /// sampled always records its spans, so that a trace is never cut in the middle. Ignored when
    /// `OTEL_TRACES_SAMPLER` is set.
    pub sample_ratio: f64,
    /// `EnvFilter` directives choosing which `tracing` spans become OpenTelemetry spans, independent
    /// of the log filter.
    pub filter: String,
}

impl Default for TraceConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            sample_ratio: 1.0,
            filter: DEFAULT_SPAN_FILTER.to_owned(),
        }
    }
}

/// The span filter used when the configuration names none: our spans and those of the libraries
/// we call, but not the HTTP/2 and OpenTelemetry internals (the exporter's own calls would otherwise
/// be traced, and traced again).
pub const DEFAULT_SPAN_FILTER: &str = "info,h2=off,hyper=off,tonic=off,tower=off,opentelemetry=off";

/// Whether an installation has already run to completion in this process: a mutex rather than a
/// `Once`, so that a call that failed (bad filter) can be retried with a corrected configuration.
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Whether the installed subscriber has an OpenTelemetry layer (then spans carry trace context).
static OTEL_ACTIVE: AtomicBool = AtomicBool::new(false);

/// What [`init_service`] set up; keep it until the service exits. Dropping it (or
/// [`Telemetry::shutdown`]) exports the spans still buffered.
#[must_use = "dropping the guard at once stops the trace export"]
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported (an OTLP endpoint was configured, or a provider given).
    pub fn is_exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports what is buffered and stops the exporter.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("nianbao-telemetry: could not flush the last spans: {e}");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Installs the process-wide `tracing` subscriber for service `service` (`"ingest"`, …): logs
/// only, no traces. See [`init_service`] for the full set-up.
///
/// Idempotent: a second call is a no-op returning `Ok`. If some other subscriber is already the
/// global default (a test harness running services in-process), it is kept and this returns `Ok`
/// too, so that services can call `init` unconditionally.
pub fn init(service: &'static str, cfg: &LogConfig) -> Result<(), TelemetryError> {
    install(service, cfg, None).map(|_| ())
}

/// The whole set-up of a service binary: logs as [`init`], and, when `trace` (or the standard
/// `OTEL_*` variables) name an OTLP endpoint, an OpenTelemetry layer exporting spans with
/// `service.name` = `nianbao-<service>` and `service.version` = `version`. Must run inside a Tokio
/// runtime (the exporter's gRPC client needs one). Keep the returned guard until exit.
pub fn init_service(
    service: &'static str,
    version: &'static str,
    log: &LogConfig,
    trace: &TraceConfig,
) -> Result<Telemetry, TelemetryError> {
    let span_filter = build_span_filter(&trace.filter)?;
    let provider = match otlp_endpoint(trace, |k| std::env::var(k).ok()) {
        Some(endpoint) => Some(otlp_provider(service, version, trace, endpoint)?),
        None => None,
    };
    let telemetry = install(service, log, provider.map(|p| (p, span_filter)))?;
    log_panics();
    Ok(telemetry)
}

/// Reports every panic of this process as an `ERROR` log record (fields `panic.message`,
/// `panic.location`, `thread`, and `backtrace` when `RUST_BACKTRACE` asks for one) instead of the
/// standard hook's raw lines on standard error.
///
/// Why: a service's log must stay in one format (JSON lines for the collector), and a panic logged
/// inside the current span says which report it happened on. Services catch some panics on purpose
/// (a format library failing on a broken file becomes an `unreadable` finding), but an operator
/// should still see them. Process-wide, so only service binaries install it ([`init_service`]).
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(a panic without a message)");
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let current = std::thread::current();
        let thread = current.name().unwrap_or("unnamed");
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(panic.message = message, panic.location = %location, thread, backtrace = %backtrace, "panic");
        } else {
            tracing::error!(panic.message = message, panic.location = %location, thread, "panic");
        }
    }));
}

/// [`init_service`] with a tracer provider built by the caller: tests give one with the SDK's
/// in-memory exporter, to check the spans that services running in-process make.
pub fn init_with_provider(
    service: &'static str,
    log: &LogConfig,
    provider: SdkTracerProvider,
    span_filter: &str,
) -> Result<Telemetry, TelemetryError> {
    let span_filter = build_span_filter(span_filter)?;
    install(service, log, Some((provider, span_filter)))
}

/// The endpoint to export to, if any: the configured one, else the standard variables (read through
/// `env`, so that tests do not touch the process environment); none when `OTEL_SDK_DISABLED=true`.
fn otlp_endpoint(trace: &TraceConfig, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return None;
    }
    let configured = trace.otlp_endpoint.trim();
    if !configured.is_empty() {
        return Some(configured.to_owned());
    }
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .filter_map(&env)
    .map(|v| v.trim().to_owned())
    .find(|v| !v.is_empty())
}

/// A tracer provider exporting in batches over OTLP/gRPC to `endpoint`.
fn otlp_provider(
    service: &'static str,
    version: &'static str,
    trace: &TraceConfig,
    endpoint: String,
) -> Result<SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig;
    if !(0.0..=1.0).contains(&trace.sample_ratio) {
        return Err(TelemetryError::SampleRatio(trace.sample_ratio));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .build()
        .map_err(|source| TelemetryError::Exporter { endpoint, source })?;
    let mut resource = opentelemetry_sdk::Resource::builder()
        .with_attribute(KeyValue::new("service.version", version))
        .with_attribute(KeyValue::new("service.namespace", "nianbao"));
    // OTEL_SERVICE_NAME (read by the builder's detectors) wins over our default name.
    if std::env::var("OTEL_SERVICE_NAME").map_or(true, |v| v.trim().is_empty()) {
        resource = resource.with_service_name(format!("nianbao-{service}"));
    }
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource.build())
        .with_batch_exporter(exporter);
    if std::env::var_os("OTEL_TRACES_SAMPLER").is_none() {
        builder = builder.with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            trace.sample_ratio,
        ))));
    }
    Ok(builder.build())
}

fn build_span_filter(directives: &str) -> Result<EnvFilter, TelemetryError> {
    EnvFilter::try_new(directives).map_err(|source| TelemetryError::InvalidFilter {
        origin: "telemetry.filter",
        directives: directives.to_owned(),
        source,
    })
}

fn install(
    service: &'static str,
    cfg: &LogConfig,
    otel: Option<(SdkTracerProvider, EnvFilter)>,
) -> Result<Telemetry, TelemetryError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if *installed {
        return Ok(Telemetry::default());
    }
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = build_filter(rust_log.as_deref(), &cfg.filter)?;
    let ansi = std::io::stderr().is_terminal();
    // Per-layer filters: the log filter decides what is printed, the span filter what is traced, so
    // that quieter logs never cut a trace.
    let dispatch_cell = DispatchCell::default();
    let layer = fmt_layer(
        service,
        cfg.format,
        ansi,
        std::io::stderr,
        dispatch_cell.clone(),
    )
    .with_filter(filter);
    let (provider, otel_layer) = match otel {
        Some((provider, span_filter)) => {
            let tracer = provider.tracer("nianbao");
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(span_filter);
            (Some(provider), Some(layer))
        }
        None => (None, None),
    };
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer).with(otel_layer));
    let _ = dispatch_cell.set(dispatch.downgrade());
    match dispatch.try_init() {
        Ok(()) => {
            if let Some(provider) = &provider {
                opentelemetry::global::set_tracer_provider(provider.clone());
                opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
                OTEL_ACTIVE.store(true, Ordering::SeqCst);
            }
        }
        Err(_) if tracing::dispatcher::has_been_set() => {
            tracing::debug!(
                service,
                "a tracing subscriber was already installed; keeping it"
            );
            *installed = true;
            return Ok(Telemetry::default());
        }
        Err(err) => return Err(TelemetryError::Install(err)),
    }
    *installed = true;
    Ok(Telemetry { provider })
}

/// Whether spans carry OpenTelemetry context in this process (an exporter or provider is set up).
pub fn tracing_active() -> bool {
    OTEL_ACTIVE.load(Ordering::SeqCst)
}

/// The W3C `traceparent` of the current span, if it has a valid trace context.
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The W3C `traceparent` of `span`, if it has a valid trace context (none without an OpenTelemetry
/// layer).
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    if !tracing_active() {
        return None;
    }
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// The remote parent context that `traceparent` names, if it is a valid W3C `traceparent`.
pub fn parent_context(traceparent: &str) -> Option<opentelemetry::Context> {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.trim().to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes the (not yet entered) `span` a child of the remote span that `traceparent` names; returns
/// whether it did (false without an OpenTelemetry layer or with an invalid value).
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) -> bool {
    if !tracing_active() {
        return false;
    }
    match traceparent.and_then(parent_context) {
        Some(cx) => span.set_parent(cx).is_ok(),
        None => false,
    }
}

/// Adds the current span's `traceparent` to outgoing gRPC metadata (a client call made while
/// handling a message joins the message's trace).
pub fn inject_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    if let Some(tp) = current_traceparent()
        && let Ok(value) = tonic::metadata::MetadataValue::try_from(tp.as_str())
    {
        metadata.insert(TRACEPARENT, value);
    }
}

/// A span function for `tonic::transport::Server::trace_fn`: one server span per call, named by the
/// method (`nianbao.v1.Ingest/SubmitReport`), child of the caller's span when the request carries a
/// `traceparent`, with `nianbao.service` = `nianbao-<service>` (as the consumer spans of the bus).
/// Health checks and reflection get no span.
pub fn grpc_server_span(
    service: &'static str,
) -> impl Fn(&tonic::codegen::http::Request<()>) -> tracing::Span + Clone + Send + Sync + 'static {
    move |req| {
        let path = req.uri().path();
        if path.starts_with("/grpc.") {
            return tracing::Span::none();
        }
        let method = path.trim_start_matches('/');
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %method,
            nianbao.service = %format_args!("nianbao-{service}"),
        );
        let tp = req.headers().get(TRACEPARENT).and_then(|v| v.to_str().ok());
        set_parent(&span, tp);
        span
    }
}

/// Records a finished span named `name` from `start` to `end` as a child of the remote span
/// `traceparent` (for time that no code of ours spent, such as a message waiting in a queue: the
/// span begins before this process saw the message). Does nothing without an OpenTelemetry layer.
pub fn record_span(
    name: String,
    traceparent: Option<&str>,
    start: SystemTime,
    end: SystemTime,
    attributes: Vec<KeyValue>,
) {
    if !tracing_active() {
        return;
    }
    let Some(parent) = traceparent.and_then(parent_context) else {
        return;
    };
    let tracer = opentelemetry::global::tracer("nianbao");
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Consumer)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(&tracer, &parent);
    span.end_with_timestamp(end);
}

/// The W3C trace context header, in gRPC metadata and AMQP headers alike.
pub const TRACEPARENT: &str = "traceparent";

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
    dispatch: DispatchCell,
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
                dispatch,
                tracing_subscriber::fmt::format().json(),
            ))
            .with_writer(writer)
            .boxed(),
    }
}

/// The subscriber a formatter belongs to, known once the subscriber is built (the formatter is
/// built before it): the JSON formatter asks it for the current span's trace context.
type DispatchCell = Arc<OnceLock<WeakDispatch>>;

/// A JSON event format that puts `"service":"<name>"` first in every record, and, inside a traced
/// span, `"trace_id"` and `"span_id"` (so that a log search leads to the trace, and back).
///
/// `tracing-subscriber`'s JSON formatter has no static fields, and a root span carrying the name
/// would not reach tasks spawned outside it; so the inner formatter's object is written to a buffer
/// and the fields are spliced in after its opening brace.
struct WithService<F> {
    /// `"service":"<name>",` with the name already JSON-escaped, built once.
    field: String,
    dispatch: DispatchCell,
    inner: F,
}

impl<F> WithService<F> {
    fn new(service: &str, dispatch: DispatchCell, inner: F) -> Self {
        let name = serde_json::Value::String(service.to_owned());
        Self {
            field: format!("\"service\":{name},"),
            dispatch,
            inner,
        }
    }

    /// `"trace_id":"…","span_id":"…",` of the event's current span, if it is traced.
    fn trace_fields<S, N>(&self, ctx: &FmtContext<'_, S, N>) -> Option<String>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let span = ctx.lookup_current()?;
        let cx = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
        let otel_span = cx.span();
        let sc = otel_span.span_context();
        sc.is_valid().then(|| {
            format!(
                "\"trace_id\":\"{}\",\"span_id\":\"{}\",",
                sc.trace_id(),
                sc.span_id()
            )
        })
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
                if let Some(ids) = self.trace_fields(ctx) {
                    writer.write_str(&ids)?;
                }
                writer.write_str(rest)
            }
            // Not an object (cannot happen with the JSON formatter): pass it through unchanged.
            None => writer.write_str(&record),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use opentelemetry_proto::tonic::common::v1::any_value;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
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
            .with(fmt_layer(
                "ingest",
                format,
                false,
                buffer.clone(),
                DispatchCell::default(),
            ));
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
    fn json_records_inside_a_traced_span_carry_its_trace_and_span_ids() {
        let buffer = Buffer::default();
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter)
            .build();
        let cell = DispatchCell::default();
        let dispatch = Dispatch::new(
            tracing_subscriber::registry()
                .with(fmt_layer(
                    "extraction",
                    LogFormat::Json,
                    false,
                    buffer.clone(),
                    cell.clone(),
                ))
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t"))),
        );
        cell.set(dispatch.downgrade()).unwrap();
        let expected = tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!("outside");
            let span = tracing::info_span!("stage", report_id = "r1");
            let _entered = span.enter();
            tracing::info!("inside");
            let cx = span.context();
            let sc = cx.span().span_context().clone();
            (sc.trace_id().to_string(), sc.span_id().to_string())
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let records: Vec<serde_json::Value> = out
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(records.len(), 2, "{out}");
        assert!(records[0].get("trace_id").is_none(), "{out}");
        assert_eq!(records[1]["trace_id"], expected.0.as_str(), "{out}");
        assert_eq!(records[1]["span_id"], expected.1.as_str(), "{out}");
        assert_eq!(records[1]["service"], "extraction");
        assert_eq!(records[1]["span"]["report_id"], "r1");
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

    /// The process-wide set-up of these tests: logs plus an in-memory span exporter (installed once;
    /// every test that needs the global subscriber goes through here).
    fn global_setup() -> InMemorySpanExporter {
        static EXPORTER: std::sync::OnceLock<InMemorySpanExporter> = std::sync::OnceLock::new();
        EXPORTER
            .get_or_init(|| {
                let exporter = InMemorySpanExporter::default();
                let provider = SdkTracerProvider::builder()
                    .with_simple_exporter(exporter.clone())
                    .build();
                let guard =
                    init_with_provider("test", &LogConfig::default(), provider, "info").unwrap();
                assert!(guard.is_exporting());
                // The provider must outlive every test: leak the guard (the process ends anyway).
                std::mem::forget(guard);
                exporter
            })
            .clone()
    }

    fn trace_id(traceparent: &str) -> &str {
        traceparent.split('-').nth(1).unwrap()
    }

    #[test]
    fn init_twice_is_a_no_op() {
        global_setup();
        let cfg = LogConfig::default();
        init("test", &cfg).unwrap();
        let again = init_service("test", "0", &cfg, &TraceConfig::default()).unwrap();
        assert!(!again.is_exporting());
        assert!(tracing::dispatcher::has_been_set());
        assert!(tracing_active());
    }

    #[test]
    fn trace_context_crosses_a_process_boundary() {
        let exporter = global_setup();
        let publisher = tracing::info_span!("publisher");
        let tp = publisher.in_scope(current_traceparent).unwrap();
        assert!(tp.starts_with("00-") && tp.ends_with("-01"), "{tp}");

        // The other side: a span whose parent comes from the header, and the time spent waiting.
        let consumer = tracing::info_span!("consumer");
        assert!(set_parent(&consumer, Some(&tp)));
        let child = consumer.in_scope(current_traceparent).unwrap();
        assert_eq!(trace_id(&child), trace_id(&tp));
        assert_ne!(child, tp);
        let start = SystemTime::now() - std::time::Duration::from_millis(50);
        record_span(
            "queue wait".into(),
            Some(&tp),
            start,
            SystemTime::now(),
            vec![KeyValue::new("queue", "q")],
        );

        // gRPC metadata carries the same context.
        let mut md = tonic::metadata::MetadataMap::new();
        consumer.in_scope(|| inject_metadata(&mut md));
        assert_eq!(md.get(TRACEPARENT).unwrap().to_str().unwrap(), child);
        drop(consumer);
        drop(publisher);

        let spans: Vec<SpanData> = exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|s| s.span_context.trace_id().to_string() == trace_id(&tp))
            .collect();
        let mut names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        names.sort_unstable();
        assert_eq!(names, ["consumer", "publisher", "queue wait"]);
        let wait = spans.iter().find(|s| s.name == "queue wait").unwrap();
        assert_eq!(wait.start_time, start);
        let publisher = spans.iter().find(|s| s.name == "publisher").unwrap();
        assert_eq!(wait.parent_span_id, publisher.span_context.span_id());
    }

    #[test]
    fn grpc_calls_continue_the_callers_trace() {
        let exporter = global_setup();
        let caller = tracing::info_span!("caller");
        let tp = caller.in_scope(current_traceparent).unwrap();
        let req = tonic::codegen::http::Request::builder()
            .uri("/nianbao.v1.Ingest/FetchReport")
            .header(TRACEPARENT, tp.as_str())
            .body(())
            .unwrap();
        let make = grpc_server_span("ingest");
        let server = make(&req);
        let inner = server.in_scope(current_traceparent).unwrap();
        assert_eq!(trace_id(&inner), trace_id(&tp));
        drop(server);
        let health = tonic::codegen::http::Request::builder()
            .uri("/grpc.health.v1.Health/Check")
            .body(())
            .unwrap();
        assert!(make(&health).is_none());
        let names: Vec<String> = exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|s| s.span_context.trace_id().to_string() == trace_id(&tp))
            .map(|s| s.name.into_owned())
            .collect();
        assert_eq!(names, ["nianbao.v1.Ingest/FetchReport"]);
    }

    #[test]
    fn garbage_trace_context_is_ignored() {
        global_setup();
        assert!(parent_context("not-a-traceparent").is_none());
        assert!(
            parent_context("00-00000000000000000000000000000000-0000000000000000-01").is_none()
        );
        let span = tracing::info_span!("orphan");
        assert!(!set_parent(&span, Some("garbage")));
        assert!(!set_parent(&span, None));
    }

    #[test]
    fn the_endpoint_comes_from_the_file_or_the_standard_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let mut cfg = TraceConfig::default();
        assert_eq!(otlp_endpoint(&cfg, env(&[])), None);
        assert_eq!(
            otlp_endpoint(
                &cfg,
                env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")])
            ),
            Some("http://c:4317".into())
        );
        assert_eq!(
            otlp_endpoint(
                &cfg,
                env(&[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
                    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317")
                ])
            ),
            Some("http://t:4317".into())
        );
        cfg.otlp_endpoint = "http://file:4317".into();
        assert_eq!(
            otlp_endpoint(
                &cfg,
                env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")])
            ),
            Some("http://file:4317".into())
        );
        assert_eq!(
            otlp_endpoint(&cfg, env(&[("OTEL_SDK_DISABLED", "TRUE")])),
            None
        );
    }

    #[tokio::test]
    async fn an_exporter_is_built_for_an_endpoint_and_bad_settings_are_refused() {
        let cfg = TraceConfig {
            otlp_endpoint: "http://127.0.0.1:4317".into(),
            ..TraceConfig::default()
        };
        // Built lazily: no collector needs to listen for the set-up to succeed.
        let provider = otlp_provider("test", "0.1.0", &cfg, cfg.otlp_endpoint.clone()).unwrap();
        let _ = provider.shutdown();
        let bad = TraceConfig {
            sample_ratio: 1.5,
            ..cfg.clone()
        };
        assert!(matches!(
            otlp_provider("test", "0.1.0", &bad, cfg.otlp_endpoint.clone()),
            Err(TelemetryError::SampleRatio(_))
        ));
        let err = build_span_filter("nianbao=loud").unwrap_err();
        assert!(err.to_string().contains("telemetry.filter"), "{err}");
    }

    /// A minimal OTLP/gRPC collector: forwards every export request to a channel.
    struct Collector(tokio::sync::mpsc::UnboundedSender<ExportTraceServiceRequest>);

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let _ = self.0.send(request.into_inner());
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spans_reach_an_otlp_collector_with_service_name_and_version() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Collector(tx)))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        let cfg = TraceConfig {
            otlp_endpoint: format!("http://{addr}"),
            ..TraceConfig::default()
        };
        let provider = otlp_provider("ingest", "9.9.9", &cfg, cfg.otlp_endpoint.clone()).unwrap();
        provider.tracer("test").in_span("hello", |_| {});
        let flushed = provider.clone();
        tokio::task::spawn_blocking(move || flushed.force_flush())
            .await
            .unwrap()
            .unwrap();
        let req = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let rs = &req.resource_spans[0];
        let attrs: HashMap<String, String> = rs
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .iter()
            .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => Some((kv.key.clone(), s.clone())),
                _ => None,
            })
            .collect();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            assert_eq!(attrs["service.name"], "nianbao-ingest", "{attrs:?}");
        }
        assert_eq!(attrs["service.version"], "9.9.9");
        assert_eq!(attrs["service.namespace"], "nianbao");
        assert_eq!(rs.scope_spans[0].spans[0].name, "hello");
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }

    #[test]
    fn the_telemetry_table_parses() {
        #[derive(Debug, Deserialize)]
        struct S {
            #[serde(default)]
            telemetry: TraceConfig,
        }
        let s: S = config::Config::builder()
            .add_source(config::File::from_str(
                "[telemetry]\notlp_endpoint = \"http://otel:4317\"\nsample_ratio = 0.25\n",
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        assert_eq!(s.telemetry.otlp_endpoint, "http://otel:4317");
        assert_eq!(s.telemetry.sample_ratio, 0.25);
        assert_eq!(s.telemetry.filter, DEFAULT_SPAN_FILTER);
    }
}
