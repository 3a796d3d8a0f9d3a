//! RabbitMQ for nianbao.
//!
//! # Topology (all durable)
//! - `nianbao.events`, a topic exchange: every event, routing key `report.<stage>.<region>`.
//! - One quorum work queue per consumer (`nianbao.extraction`, …), shared by all the workers of that
//!   stage, bound to the routing keys it needs. Its dead-letter exchange, `nianbao.dead` (fanout →
//!   queue `nianbao.dead`), receives what the broker itself rejects: a message redelivered more than
//!   `x-delivery-limit` times because workers kept dying on it.
//! - Per work queue, one delay queue per retry step, `<queue>.retry.<ms>`: a message waits there for
//!   its TTL and is dead-lettered back to the work queue through the default exchange. Retries are
//!   explicit re-publications carrying `x-nianbao-attempt`, so the attempt count travels with the
//!   message and the broker's dead-letter cycle detection never drops one.
//! - Per work queue, a parking lot `<queue>.parked`: messages that failed every attempt, and messages
//!   that are not valid events, with the reason in `x-nianbao-reason`. Nothing ever blocks a queue.
//!
//! # Delivery
//! Publishing waits for the broker's confirm (and treats an unroutable message as an error). The
//! broker closes a channel on a channel-level error (a message above its `max_message_size`, an
//! exchange that does not exist, a declaration that contradicts an existing queue), and lapin's
//! connection recovery does not reopen such a channel: the publisher channel is therefore reopened
//! after every failed operation on it, before the next publication, and by a watcher every second,
//! and [`Bus::is_connected`] (the services' `broker` readiness check) is false while it is closed. A
//! consumer acknowledges a delivery only after its handler finished and any follow-up message (retry
//! copy, parked copy) is confirmed: at-least-once, so handlers are idempotent.
//!
//! # Observability
//! Publishing puts the current span's W3C `traceparent` in the message headers (else the one the
//! caller passes in [`Envelope`]) and the publication time in milliseconds
//! ([`PUBLISHED_MS_HEADER`]). Each delivery is handled inside a consumer span (`<queue> process`),
//! child of the publisher's span, beside a `<queue> wait` span covering the time the message spent
//! in the broker. With [`Bus::with_metrics`], confirmed events count as `nianbao_reports_total` by
//! stage, and consumers record handler time, queue wait, outcomes (retries, dead letters), prefetch
//! and in-flight deliveries (see `nianbao-metrics`).

mod consumer;
pub mod grants;
mod redact;
mod topology;

pub use consumer::{DeadLetter, Handler, Message, Outcome};
pub use redact::{is_secret_param, redact_url};
pub use topology::{DEAD_QUEUE, QueueSpec, dead_queue_spec};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde::Deserialize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Header carrying the delivery attempt (1 on first publication).
pub const ATTEMPT_HEADER: &str = "x-nianbao-attempt";
/// Header carrying why a message was parked.
pub const REASON_HEADER: &str = "x-nianbao-reason";
/// W3C trace context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// Header carrying when the event was first published, in milliseconds since the Unix epoch (the
/// AMQP `timestamp` property has whole seconds only): consumers measure queue wait from it.
pub const PUBLISHED_MS_HEADER: &str = "x-nianbao-published-ms";

/// Connection and delivery settings, shared by every service's configuration file. Its `Debug`
/// hides the password of `url`, as every service configuration that contains it is `Debug`.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct BusConfig {
    /// AMQP URL of the broker.
    pub url: String,
    /// The topic exchange every event goes through.
    pub exchange: String,
    /// Deliveries a consumer may hold unacknowledged (and process concurrently; batched handlers
    /// take batches of up to half of it, two at a time).
    pub prefetch: u16,
    /// Delay before each retry, in milliseconds; attempt n waits `retry_delays_ms[n-1]` (the last
    /// value repeats).
    pub retry_delays_ms: Vec<u64>,
    /// Attempts before a message is parked and its report marked failed.
    pub max_attempts: u32,
    /// How long to wait for a publisher confirm before treating the publish as failed.
    pub confirm_timeout_ms: u64,
    /// Redeliveries (a worker died holding the message) before the broker dead-letters it.
    pub delivery_limit: u32,
    /// PEM file of the CA that signed the broker's certificate, for `amqps://` URLs (empty: the
    /// system's trust store only).
    pub ca_file: String,
    /// PEM client certificate and key, for a broker that asks for one (`amqps://` only; both or
    /// neither).
    pub client_cert_file: String,
    pub client_key_file: String,
    /// Allows `amqp://` (cleartext: passwords and report text readable on the wire) to a broker
    /// that is not on loopback. Off: such a URL is refused at startup; use `amqps://`.
    pub allow_plaintext: bool,
    /// Declare the exchanges and queues on connect (needs the broker's `configure` permission on
    /// all of them). Off when the topology was set up once by an administrator (`nianbao broker
    /// setup`) and the service connects as a user limited to its own queues (`nianbao broker
    /// definitions`): it then only checks that its queue exists.
    pub declare_topology: bool,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            exchange: "nianbao.events".into(),
            prefetch: 64,
            retry_delays_ms: vec![1_000, 10_000, 60_000],
            max_attempts: 4,
            confirm_timeout_ms: 10_000,
            delivery_limit: 20,
            ca_file: String::new(),
            client_cert_file: String::new(),
            client_key_file: String::new(),
            allow_plaintext: false,
            declare_topology: true,
        }
    }
}

/// Every field, the URL without its password. The fields are destructured so that a new one cannot
/// be forgotten here.
impl std::fmt::Debug for BusConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let BusConfig {
            url,
            exchange,
            prefetch,
            retry_delays_ms,
            max_attempts,
            confirm_timeout_ms,
            delivery_limit,
            ca_file,
            client_cert_file,
            client_key_file,
            allow_plaintext,
            declare_topology,
        } = self;
        f.debug_struct("BusConfig")
            .field("url", &redact_url(url))
            .field("exchange", exchange)
            .field("prefetch", prefetch)
            .field("retry_delays_ms", retry_delays_ms)
            .field("max_attempts", max_attempts)
            .field("confirm_timeout_ms", confirm_timeout_ms)
            .field("delivery_limit", delivery_limit)
            .field("ca_file", ca_file)
            .field("client_cert_file", client_cert_file)
            .field("client_key_file", client_key_file)
            .field("allow_plaintext", allow_plaintext)
            .field("declare_topology", declare_topology)
            .finish()
    }
}

#[derive(Debug, Error)]
pub enum BusError {
    #[error("AMQP: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker did not confirm the message within {0:?}")]
    ConfirmTimeout(Duration),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("no queue is bound for routing key {0}")]
    Unroutable(String),
    #[error("the consumer of {0} was cancelled by the broker")]
    ConsumerCancelled(String),
    #[error("invalid broker URL: {0}")]
    Url(String),
    #[error("the broker at {addr} is not reachable: {reason}")]
    Unreachable { addr: String, reason: String },
    #[error("broker TLS settings: {0}")]
    Tls(String),
    #[error(
        "queue {0} does not exist; with declare_topology = false the topology must be set up \
         first, with this service's retry_delays_ms (nianbao broker setup --config FILE)"
    )]
    MissingQueue(String),
}

impl BusConfig {
    /// Refuses cleartext to a remote broker (unless allowed), and reads the TLS files.
    fn tls(&self) -> Result<lapin::tcp::OwnedTLSConfig, BusError> {
        let uri: lapin::uri::AMQPUri = self
            .url
            .parse()
            .map_err(|e: String| BusError::Url(e.replace(&self.url, &redact_url(&self.url))))?;
        let tls = matches!(uri.scheme, lapin::uri::AMQPScheme::AMQPS);
        if !tls && !self.allow_plaintext && !is_loopback_host(&uri.authority.host) {
            return Err(BusError::Url(format!(
                "{} is cleartext to a host that is not loopback: use amqps:// (or set \
                 bus.allow_plaintext = true on a network you trust)",
                redact_url(&self.url)
            )));
        }
        let read = |what: &str, path: &str| {
            std::fs::read(path).map_err(|e| BusError::Tls(format!("reading {what} {path}: {e}")))
        };
        let mut out = lapin::tcp::OwnedTLSConfig::default();
        if !self.ca_file.is_empty() {
            let pem = read("ca_file", &self.ca_file)?;
            let pem = String::from_utf8(pem)
                .map_err(|_| BusError::Tls(format!("ca_file {} is not PEM text", self.ca_file)))?;
            out.cert_chain = Some(pem);
        }
        match (
            self.client_cert_file.is_empty(),
            self.client_key_file.is_empty(),
        ) {
            (true, true) => {}
            (false, false) => {
                out.identity = Some(lapin::tcp::OwnedIdentity::PKCS8 {
                    pem: read("client_cert_file", &self.client_cert_file)?,
                    key: read("client_key_file", &self.client_key_file)?,
                });
            }
            _ => {
                return Err(BusError::Tls(
                    "client_cert_file and client_key_file go together".into(),
                ));
            }
        }
        Ok(out)
    }
}

/// The broker's 404 NOT_FOUND (a passive declaration of a queue that does not exist).
fn is_not_found(e: &lapin::Error) -> bool {
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(p) if p.get_id() == 404)
}

/// `localhost` or a loopback address: where cleartext is acceptable.
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How long the TCP probe before a connection may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (and closes) a TCP connection to the broker named by `url`.
///
/// Why: lapin retries a refused connection by itself, on a thread of its own that sleeps on the
/// Tokio timer; a service stopped meanwhile shuts its runtime down under that thread, which then
/// panics. Connecting only to a broker that accepts connections keeps lapin's retries for what they
/// are for (recovering an established connection), and makes a wrong URL a quick, clear error.
pub async fn probe(url: &str) -> Result<(), BusError> {
    // The URI parser quotes a URL it cannot read, password included.
    let uri: lapin::uri::AMQPUri = url
        .parse()
        .map_err(|e: String| BusError::Url(e.replace(url, &redact_url(url))))?;
    let (host, port) = (uri.authority.host, uri.authority.port);
    let addr = format!("{host}:{port}");
    let unreachable = |reason: String| BusError::Unreachable {
        addr: addr.clone(),
        reason,
    };
    match tokio::time::timeout(
        PROBE_TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {} s",
            PROBE_TIMEOUT.as_secs()
        ))),
    }
}

/// For `amqps://`, a TLS handshake with `tls` before the connection proper. Why: lapin's
/// connection recovery retries a failed handshake (an untrusted certificate) for minutes without
/// saying why; this turns it into an immediate error that names the cause.
async fn probe_tls(url: &str, tls: &lapin::tcp::OwnedTLSConfig) -> Result<(), BusError> {
    use lapin::tcp::AMQPUriTcpExt as _;
    let uri: lapin::uri::AMQPUri = url
        .parse()
        .map_err(|e: String| BusError::Url(e.replace(url, &redact_url(url))))?;
    if !matches!(uri.scheme, lapin::uri::AMQPScheme::AMQPS) {
        return Ok(());
    }
    let addr = format!("{}:{}", uri.authority.host, uri.authority.port);
    let runtime = lapin::runtime::default_runtime()
        .map_err(|e| BusError::Tls(format!("no async runtime: {e}")))?;
    match tokio::time::timeout(
        PROBE_TIMEOUT,
        uri.connect_with_config_async(tls.as_ref(), &runtime),
    )
    .await
    {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(e)) => Err(BusError::Tls(format!(
            "TLS handshake with {addr} failed: {e} (is bus.ca_file the CA that signed the \
             broker's certificate, and the URL's host a name in it?)"
        ))),
        Err(_) => Err(BusError::Tls(format!(
            "TLS handshake with {addr}: no answer within {} s",
            PROBE_TIMEOUT.as_secs()
        ))),
    }
}

/// The pipeline stages, the middle segment of routing keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Received,
    Extracted,
    Validated,
    Notified,
    Failed,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Received => "received",
            Stage::Extracted => "extracted",
            Stage::Validated => "validated",
            Stage::Notified => "notified",
            Stage::Failed => "failed",
        }
    }

    /// `report.<stage>.<region>`; an empty or odd region becomes `000000` so that keys stay parseable.
    pub fn routing_key(self, region: &str) -> String {
        let region = if !region.is_empty() && region.chars().all(|c| c.is_ascii_alphanumeric()) {
            region
        } else {
            "000000"
        };
        format!("report.{}.{region}", self.as_str())
    }

    /// The binding pattern for every region.
    pub fn pattern(self) -> String {
        format!("report.{}.*", self.as_str())
    }
}

/// The work queues of the pipeline and what they take. Every service declares all of them when it
/// connects, so that no event is ever unroutable because the next stage has not started yet: the
/// services can start in any order. (Declarations are idempotent; all services must therefore use
/// the same `delivery_limit`.)
pub fn pipeline_queues() -> Vec<QueueSpec> {
    vec![
        QueueSpec::new("nianbao.extraction", &[Stage::Received.pattern()]),
        QueueSpec::new("nianbao.validation", &[Stage::Extracted.pattern()]),
        QueueSpec::new("nianbao.notification", &[Stage::Validated.pattern()]),
        QueueSpec::new(
            "nianbao.ingest.status",
            &[
                Stage::Extracted.pattern(),
                Stage::Validated.pattern(),
                Stage::Notified.pattern(),
                Stage::Failed.pattern(),
            ],
        ),
    ]
}

/// Metadata published with an event.
#[derive(Clone, Debug, Default)]
pub struct Envelope {
    /// Idempotency key for consumers (`<report id>:<version>:<stage>`).
    pub message_id: String,
    pub traceparent: Option<String>,
}

/// The confirm-mode publishing channel, replaced when the broker closed it.
struct Publisher {
    channel: std::sync::Mutex<Channel>,
    /// Held while a closed channel is being replaced, so that concurrent publishers open one.
    reopening: tokio::sync::Mutex<()>,
    /// Channels opened to replace a closed one (for logs and tests).
    reopened: std::sync::atomic::AtomicU64,
}

/// A connection with a confirm-mode publishing channel.
#[derive(Clone)]
pub struct Bus {
    conn: std::sync::Arc<Connection>,
    publisher: std::sync::Arc<Publisher>,
    cfg: BusConfig,
    /// The connection name (`nianbao-extraction`, …): the `nianbao.service` attribute of spans.
    name: std::sync::Arc<str>,
    /// Where publishing and consuming are counted, if anywhere.
    metrics: Option<nianbao_metrics::Metrics>,
}

impl Bus {
    /// Connects (with automatic recovery) and declares the exchanges. A broker that does not accept
    /// TCP connections is an immediate [`BusError::Unreachable`] (see [`probe`]).
    pub async fn connect(cfg: &BusConfig, name: &str) -> Result<Bus, BusError> {
        let tls = cfg.tls()?;
        probe(&cfg.url).await?;
        probe_tls(&cfg.url, &tls).await?;
        let props = ConnectionProperties::default()
            .with_connection_name(LongString::from(name.to_string()))
            .enable_auto_recover()
            .configure_backoff(|b| b.with_max_delay(Duration::from_secs(1)).with_max_times(120));
        let conn = Connection::connect_with_config(
            &cfg.url,
            props,
            tls,
            lapin::runtime::default_runtime()
                .map_err(|e| BusError::Tls(format!("no async runtime: {e}")))?,
        )
        .await?;
        let publisher = conn.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let bus = Bus {
            conn: std::sync::Arc::new(conn),
            publisher: std::sync::Arc::new(Publisher {
                channel: std::sync::Mutex::new(publisher),
                reopening: tokio::sync::Mutex::new(()),
                reopened: std::sync::atomic::AtomicU64::new(0),
            }),
            cfg: cfg.clone(),
            name: std::sync::Arc::from(name),
            metrics: None,
        };
        if cfg.declare_topology {
            bus.declare_exchanges().await?;
            for spec in pipeline_queues() {
                bus.declare(&spec).await?;
            }
        }
        tokio::spawn(watch_publisher(
            std::sync::Arc::downgrade(&bus.publisher),
            bus.clone_weak(),
        ));
        Ok(bus)
    }

    /// What the publisher watcher needs without keeping the connection alive.
    fn clone_weak(&self) -> WeakBus {
        WeakBus {
            conn: std::sync::Arc::downgrade(&self.conn),
            name: self.name.clone(),
        }
    }

    /// The current publisher channel (a cheap handle).
    fn publisher(&self) -> Channel {
        self.publisher
            .channel
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The publisher channel, reopened first if the broker closed it (see the crate docs). While
    /// the connection itself is being recovered the channel is left to lapin, which recovers it.
    async fn open_publisher(&self) -> Result<Channel, BusError> {
        reopen_publisher(&self.publisher, &self.conn, &self.name).await
    }

    /// Channels opened so far to replace a publisher channel the broker closed.
    pub fn publisher_reopened(&self) -> u64 {
        self.publisher
            .reopened
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn config(&self) -> &BusConfig {
        &self.cfg
    }

    /// This connection, counting what it publishes and consumes into `metrics` (clones made after
    /// this call share it).
    pub fn with_metrics(mut self, metrics: nianbao_metrics::Metrics) -> Bus {
        self.metrics = Some(metrics);
        self
    }

    pub(crate) fn metrics(&self) -> Option<&nianbao_metrics::Metrics> {
        self.metrics.as_ref()
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The connection is up and the publisher channel open (or being recovered with the
    /// connection): what the services' `broker` readiness check reports.
    pub fn is_connected(&self) -> bool {
        let ch = self.publisher();
        self.conn.status().connected() && (ch.status().connected() || ch.status().reconnecting())
    }

    async fn declare_exchanges(&self) -> Result<(), BusError> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let ch = self.open_publisher().await?;
        ch.exchange_declare(
            ShortString::from(self.cfg.exchange.clone()),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
        topology::declare_dead(&ch, &self.cfg).await?;
        Ok(())
    }

    /// Publishes an event to the topic exchange and waits for the broker's confirm.
    pub async fn publish(
        &self,
        stage: Stage,
        region: &str,
        body: &[u8],
        env: &Envelope,
    ) -> Result<(), BusError> {
        let key = stage.routing_key(region);
        let mut headers = FieldTable::default();
        headers.insert(ShortString::from(ATTEMPT_HEADER), AMQPValue::LongUInt(1));
        headers.insert(
            ShortString::from(PUBLISHED_MS_HEADER),
            AMQPValue::LongLongInt(now_ms()),
        );
        // The current span (the stage's consumer span, a gRPC call) is the next stage's parent; the
        // caller's value is the fallback when no OpenTelemetry layer is installed.
        if let Some(tp) =
            nianbao_telemetry::current_traceparent().or_else(|| env.traceparent.clone())
        {
            headers.insert(
                ShortString::from(TRACEPARENT_HEADER),
                AMQPValue::LongString(LongString::from(tp)),
            );
        }
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(ShortString::from(env.message_id.clone()))
            .with_timestamp(now_secs())
            .with_headers(headers);
        self.publish_raw(&self.cfg.exchange, &key, body, props, true)
            .await?;
        if let Some(m) = &self.metrics {
            m.report_reached(stage.as_str());
        }
        Ok(())
    }

    /// Publishes with confirm; `mandatory` makes an unroutable message an error instead of a loss.
    pub(crate) async fn publish_raw(
        &self,
        exchange: &str,
        key: &str,
        body: &[u8],
        props: BasicProperties,
        mandatory: bool,
    ) -> Result<(), BusError> {
        let timeout = Duration::from_millis(self.cfg.confirm_timeout_ms);
        let publisher = self.open_publisher().await?;
        let send = async {
            let confirm = publisher
                .basic_publish(
                    ShortString::from(exchange.to_string()),
                    ShortString::from(key.to_string()),
                    BasicPublishOptions {
                        mandatory,
                        ..Default::default()
                    },
                    body,
                    props,
                )
                .await?
                .await?;
            if confirm.is_nack() {
                return Err(BusError::Nacked);
            }
            if confirm.take_message().is_some() {
                return Err(BusError::Unroutable(key.to_string()));
            }
            Ok(())
        };
        let result = match tokio::time::timeout(timeout, send).await {
            Ok(r) => r,
            Err(_) => Err(BusError::ConfirmTimeout(timeout)),
        };
        if result.is_err() {
            // A channel-level error closes the channel: replace it now, so that the next
            // publication (and readiness) does not depend on this one's fate.
            let _ = self.open_publisher().await;
        }
        result
    }

    /// Declares a work queue with its retry steps and parking lot, bound to `spec.bindings`. With
    /// `declare_topology` off, only checks that the queue exists ([`BusError::MissingQueue`]).
    pub async fn declare(&self, spec: &QueueSpec) -> Result<(), BusError> {
        if !self.cfg.declare_topology {
            // The retry steps too: set up with other delays than this service's, a retry would
            // have nowhere to go.
            let mut queues = vec![spec.name.clone(), spec.parked()];
            queues.extend(self.cfg.retry_delays_ms.iter().map(|&d| spec.retry(d)));
            for queue in queues {
                match self.queue_len(&queue).await {
                    Ok(_) => {}
                    Err(BusError::Amqp(e)) if is_not_found(&e) => {
                        return Err(BusError::MissingQueue(queue));
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(());
        }
        let ch = self.open_publisher().await?;
        let result = topology::declare_queue(&ch, &self.cfg, spec).await;
        if result.is_err() {
            let _ = self.open_publisher().await;
        }
        result
    }

    /// A fresh channel (consumers get their own, so that QoS and cancellation stay per consumer).
    pub(crate) async fn channel(&self) -> Result<Channel, BusError> {
        Ok(self.conn.create_channel().await?)
    }

    /// Number of ready messages in a queue (passive declare): for tests and health checks.
    pub async fn queue_len(&self, queue: &str) -> Result<u32, BusError> {
        let ch = self.channel().await?;
        let q = ch
            .queue_declare(
                ShortString::from(queue.to_string()),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        let n = q.message_count();
        close_channel(&ch, "done").await;
        Ok(n)
    }

    /// Publishes raw bytes straight to a queue (through the default exchange): tests use it to put
    /// garbage on a work queue.
    pub async fn publish_to_queue(&self, queue: &str, body: &[u8]) -> Result<(), BusError> {
        let props = BasicProperties::default().with_delivery_mode(2);
        self.publish_raw("", queue, body, props, true).await
    }

    /// Closes the connection, waiting [`CLOSE_TIMEOUT`] at most for the broker's answer.
    pub async fn close(&self) {
        let closing = self.conn.close(200, ShortString::from("shutdown"));
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
    }
}

/// The parts of a [`Bus`] the publisher watcher holds without keeping them alive.
struct WeakBus {
    conn: std::sync::Weak<Connection>,
    name: std::sync::Arc<str>,
}

/// Replaces the publisher channel if the broker closed it; see [`Bus::open_publisher`].
async fn reopen_publisher(
    publisher: &Publisher,
    conn: &Connection,
    name: &str,
) -> Result<Channel, BusError> {
    let current = || {
        publisher
            .channel
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    };
    let usable = |ch: &Channel| ch.status().connected() || ch.status().reconnecting();
    let ch = current();
    if usable(&ch) || !conn.status().connected() {
        return Ok(ch);
    }
    let _one = publisher.reopening.lock().await;
    let ch = current();
    if usable(&ch) {
        return Ok(ch);
    }
    let fresh = conn.create_channel().await?;
    fresh
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    *publisher
        .channel
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh.clone();
    let n = publisher
        .reopened
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1;
    tracing::warn!(
        connection = name,
        reopened = n,
        "the broker closed the publisher channel; opened a new one"
    );
    Ok(fresh)
}

/// Every second, reopens the publisher channel if the broker closed it, so that a service that
/// publishes nothing for a while is not left unready; ends with the connection.
async fn watch_publisher(publisher: std::sync::Weak<Publisher>, bus: WeakBus) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (Some(publisher), Some(conn)) = (publisher.upgrade(), bus.conn.upgrade()) else {
            return;
        };
        if conn.status().closed() || conn.status().errored() {
            return;
        }
        if let Err(e) = reopen_publisher(&publisher, &conn, &bus.name).await {
            tracing::debug!(error = %e, "could not reopen the publisher channel yet");
        }
    }
}

/// How long closing a channel or the connection waits for the broker's close-ok. lapin waits for it
/// without end, and a broker that is dropping the connection (vhost deleted, node stopping) may
/// never send it: a service told to stop then hung in its consumer's close (seen in
/// `health_turns_not_serving_when_the_broker_connection_is_lost`, one run in three).
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Closes `ch`, waiting [`CLOSE_TIMEOUT`] at most: nothing is left to do on a channel being closed,
/// so an unanswered close is as good as an answered one.
pub(crate) async fn close_channel(ch: &Channel, reason: &str) {
    let closing = ch.close(200, ShortString::from(reason.to_string()));
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_name_stage_and_region() {
        assert_eq!(
            Stage::Received.routing_key("410000"),
            "report.received.410000"
        );
        assert_eq!(Stage::Validated.routing_key(""), "report.validated.000000");
        assert_eq!(Stage::Failed.routing_key("a.b"), "report.failed.000000");
        assert_eq!(Stage::Extracted.pattern(), "report.extracted.*");
    }

    #[tokio::test]
    async fn probe_tells_a_closed_port_from_a_listening_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        probe(&format!("amqp://guest:guest@127.0.0.1:{port}/%2f"))
            .await
            .unwrap();
        drop(listener);
        let err = probe(&format!("amqp://guest:guest@127.0.0.1:{port}/%2f"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, BusError::Unreachable { addr, .. } if *addr == format!("127.0.0.1:{port}")),
            "{err}"
        );
        assert!(matches!(
            probe("not a url").await.unwrap_err(),
            BusError::Url(_)
        ));
    }

    #[test]
    fn debug_and_url_errors_hide_the_password() {
        let cfg = BusConfig {
            url: "amqp://nianbao:hunter2@mq.example:5672/%2f".into(),
            ..BusConfig::default()
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("amqp://nianbao:***@mq.example:5672/%2f"),
            "{shown}"
        );
        assert!(shown.contains("delivery_limit: 20"), "{shown}");
    }

    #[tokio::test]
    async fn an_unreadable_url_is_not_quoted_with_its_password() {
        let err = probe("amqp:nianbao:hunter2@mq.example").await.unwrap_err();
        assert!(matches!(err, BusError::Url(_)), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn cleartext_to_a_remote_broker_is_refused_unless_allowed() {
        let cfg = BusConfig {
            url: "amqp://svc:s3cret@10.20.30.40:5672/%2f".into(),
            ..Default::default()
        };
        let Err(e) = Bus::connect(&cfg, "test").await else {
            panic!("connected in cleartext to a remote broker");
        };
        let text = e.to_string();
        assert!(text.contains("amqps://"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        // Allowed explicitly: it gets as far as the network (nothing listens there in a test).
        let allowed = BusConfig {
            allow_plaintext: true,
            ..cfg
        };
        assert!(allowed.tls().is_ok());
        for url in [
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            "amqp://guest:guest@localhost:5672/%2f",
            "amqp://guest:guest@[::1]:5672/%2f",
            "amqps://u:p@broker.example:5671/%2f",
        ] {
            let cfg = BusConfig {
                url: url.into(),
                ..Default::default()
            };
            assert!(cfg.tls().is_ok(), "{url}");
        }
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let cfg = BusConfig {
            url: "amqps://u:p@broker.example:5671/%2f".into(),
            client_cert_file: "/nonexistent/cert.pem".into(),
            ..Default::default()
        };
        let Err(e) = cfg.tls() else {
            panic!("a certificate without a key was accepted");
        };
        assert!(e.to_string().contains("go together"), "{e}");
        let cfg = BusConfig {
            ca_file: "/nonexistent/ca.pem".into(),
            ..Default::default()
        };
        let Err(e) = cfg.tls() else {
            panic!("a missing CA file was accepted");
        };
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[tokio::test]
    async fn connecting_to_a_closed_port_fails_at_once() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cfg = BusConfig {
            url: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
            ..BusConfig::default()
        };
        // Without the probe, lapin would keep retrying for about two minutes.
        let r = tokio::time::timeout(Duration::from_secs(10), Bus::connect(&cfg, "test")).await;
        assert!(
            matches!(r, Ok(Err(BusError::Unreachable { .. }))),
            "{:?}",
            r.map(|c| c.err())
        );
    }
}
