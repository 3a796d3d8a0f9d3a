//! The Prometheus metrics of the nianbao services.
//!
//! Every service instance owns one [`Metrics`]: a registry (no process-global state, so that tests
//! running several services in one process read each service's own counters) with the metric
//! families below, all prefixed `nianbao_` and labelled with the service name. The service serves
//! it as text on `GET /metrics` (`nianbao_service::serve_metrics`, when `[metrics] listen` is set).
//!
//! | metric | type | labels | recorded by |
//! |---|---|---|---|
//! | `nianbao_reports_total` | counter | `stage` | every stage, when its event (`report.<stage>`) is confirmed by the broker: ingest counts `received`, extraction `extracted`, validation `validated`, notification `notified`; any stage `failed` |
//! | `nianbao_findings_total` | counter | `rule`, `severity` | validation, per finding of each validated report |
//! | `nianbao_alerts_total` | counter | `kind` | notification, per alert created |
//! | `nianbao_channel_delivery_failures_total` | counter | `channel` | notification, per failed delivery attempt to a channel |
//! | `nianbao_stage_duration_seconds` | histogram | `queue` | every consumer: time its handler took per delivery |
//! | `nianbao_queue_wait_seconds` | histogram | `queue` | every consumer: time from publication to delivery |
//! | `nianbao_consumer_batch_size` | histogram | `queue` | every batching consumer: deliveries handled (and acknowledged) together |
//! | `nianbao_messages_total` | counter | `queue`, `outcome` | every consumer: `done`, `retry`, `parked`, `invalid` |
//! | `nianbao_retries_total` | counter | `queue` | every consumer: deliveries sent to a delay queue for a later attempt |
//! | `nianbao_dead_lettered_total` | counter | `queue`, `reason` | every consumer: messages moved to `<queue>.parked` (`failed` after the last attempt, `invalid` at once) |
//! | `nianbao_requeued_total` | counter | `queue` | every consumer: deliveries given back to the queue because the retry/park copy could not be published |
//! | `nianbao_consumer_prefetch` | gauge | `queue` | every consumer: its configured prefetch (0 once stopped) |
//! | `nianbao_consumer_in_flight` | gauge | `queue` | every consumer: deliveries being handled now |
//! | `nianbao_ready` | gauge | `check` | every service: 1 while a readiness check (`broker`, `database`) passes |
//! | `nianbao_build_info` | gauge | `version` | every service: always 1 |
//!
//! Counters count work *finished*, at least once: a redelivered message (a worker died before its
//! acknowledgement) is counted again by the stage that handles it again.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// The `Content-Type` of [`Metrics::encode`]'s output (OpenMetrics text, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `[metrics]` table of a service's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the HTTP server for `GET /metrics` (and `/healthz`, `/readyz`), e.g.
    /// `0.0.0.0:9464`; empty: no metrics endpoint.
    pub listen: String,
}

impl MetricsConfig {
    /// The address to listen on, if the endpoint is switched on.
    pub fn listen(&self) -> Option<&str> {
        let l = self.listen.trim();
        (!l.is_empty()).then_some(l)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    rule: String,
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    queue: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    queue: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    check: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds, 1 ms to about 33 min (doubling): handler times and queue waits both span that range
/// (a small report takes milliseconds, a backlog or a retry delay minutes).
fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 22))
}

/// 1, 2, 4, … 512 deliveries: prefetch is a u16, batches are at most half of it in practice.
fn count_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 10))
}

/// How a consumer settled a delivery (the `outcome` label of `nianbao_messages_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Handled and acknowledged.
    Done,
    /// Sent to a delay queue for a later attempt.
    Retry,
    /// Failed its last attempt and parked.
    Parked,
    /// Not a valid event: parked at once.
    Invalid,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Done => "done",
            DeliveryOutcome::Retry => "retry",
            DeliveryOutcome::Parked => "parked",
            DeliveryOutcome::Invalid => "invalid",
        }
    }
}

struct Inner {
    service: String,
    registry: Registry,
    reports: Family<StageLabels, Counter>,
    findings: Family<FindingLabels, Counter>,
    alerts: Family<KindLabels, Counter>,
    channel_failures: Family<ChannelLabels, Counter>,
    stage_duration: HistogramFamily<QueueLabels>,
    queue_wait: HistogramFamily<QueueLabels>,
    batch_size: HistogramFamily<QueueLabels>,
    messages: Family<OutcomeLabels, Counter>,
    retries: Family<QueueLabels, Counter>,
    dead_lettered: Family<ReasonLabels, Counter>,
    requeued: Family<QueueLabels, Counter>,
    prefetch: Family<QueueLabels, Gauge>,
    in_flight: Family<QueueLabels, Gauge>,
    ready: Family<CheckLabels, Gauge>,
}

/// One service instance's metrics. Cheap to clone (all clones record into the same registry).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("service", &self.inner.service)
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    /// Metrics of an unnamed service: for components built without a service around them (unit
    /// tests); what they record is simply not served anywhere.
    fn default() -> Self {
        Metrics::new("unnamed")
    }
}

impl Metrics {
    /// A fresh registry for service `service` (`"ingest"`, …), with every family registered.
    pub fn new(service: &str) -> Metrics {
        let mut registry = Registry::with_prefix_and_labels(
            "nianbao",
            [(Cow::Borrowed("service"), Cow::Owned(service.to_string()))].into_iter(),
        );
        let reports = Family::<StageLabels, Counter>::default();
        registry.register(
            "reports",
            "Reports this service handed on, by the stage reached (the report.<stage> event was confirmed by the broker)",
            reports.clone(),
        );
        let findings = Family::<FindingLabels, Counter>::default();
        registry.register(
            "findings",
            "Findings of validated reports, by rule and severity",
            findings.clone(),
        );
        let alerts = Family::<KindLabels, Counter>::default();
        registry.register(
            "alerts",
            "Alerts created for supervising offices, by kind",
            alerts.clone(),
        );
        let channel_failures = Family::<ChannelLabels, Counter>::default();
        registry.register(
            "channel_delivery_failures",
            "Failed attempts to deliver an alert to a channel (webhook, outbox, stdout, …)",
            channel_failures.clone(),
        );
        let stage_duration: HistogramFamily<QueueLabels> =
            Family::new_with_constructor(seconds_histogram);
        registry.register(
            "stage_duration_seconds",
            "Time a consumer's handler took per delivery, by queue",
            stage_duration.clone(),
        );
        let queue_wait: HistogramFamily<QueueLabels> =
            Family::new_with_constructor(seconds_histogram);
        registry.register(
            "queue_wait_seconds",
            "Time from an event's first publication to its delivery to this consumer, by queue",
            queue_wait.clone(),
        );
        let batch_size: HistogramFamily<QueueLabels> =
            Family::new_with_constructor(count_histogram);
        registry.register(
            "consumer_batch_size",
            "Deliveries a batching consumer handled and acknowledged together, by queue (the broker's work per delivery falls as batches grow)",
            batch_size.clone(),
        );
        let messages = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "messages",
            "Deliveries settled by this service's consumers, by queue and outcome (done, retry, parked, invalid)",
            messages.clone(),
        );
        let retries = Family::<QueueLabels, Counter>::default();
        registry.register(
            "retries",
            "Deliveries sent to a delay queue for another attempt",
            retries.clone(),
        );
        let dead_lettered = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "dead_lettered",
            "Messages moved to the queue's parking lot (<queue>.parked), by reason (failed, invalid)",
            dead_lettered.clone(),
        );
        let requeued = Family::<QueueLabels, Counter>::default();
        registry.register(
            "requeued",
            "Deliveries given back to their queue because the retry or parking copy could not be published",
            requeued.clone(),
        );
        let prefetch = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "consumer_prefetch",
            "Configured prefetch of a running consumer (0 once stopped)",
            prefetch.clone(),
        );
        let in_flight = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "consumer_in_flight",
            "Deliveries a consumer is handling now",
            in_flight.clone(),
        );
        let ready = Family::<CheckLabels, Gauge>::default();
        registry.register(
            "ready",
            "1 while a readiness check passes (broker, database), else 0",
            ready.clone(),
        );
        let build = Family::<VersionLabels, Gauge>::default();
        build
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register("build_info", "Always 1, labelled with the version", build);
        Metrics {
            inner: Arc::new(Inner {
                service: service.to_string(),
                registry,
                reports,
                findings,
                alerts,
                channel_failures,
                stage_duration,
                queue_wait,
                batch_size,
                messages,
                retries,
                dead_lettered,
                requeued,
                prefetch,
                in_flight,
                ready,
            }),
        }
    }

    /// The service name given to [`Metrics::new`].
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// Everything in the registry, as OpenMetrics text (serve with [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an error would only come from a metric's own encoder.
        if prometheus_client::encoding::text::encode(&mut out, &self.inner.registry).is_err() {
            out.push_str("# encoding failed\n# EOF\n");
        }
        out
    }

    /// A report reached `stage` here (its `report.<stage>` event was confirmed).
    pub fn report_reached(&self, stage: &str) {
        self.inner
            .reports
            .get_or_create(&StageLabels {
                stage: stage.to_string(),
            })
            .inc();
    }

    /// One finding of a validated report.
    pub fn finding(&self, rule: &str, severity: &str) {
        self.inner
            .findings
            .get_or_create(&FindingLabels {
                rule: rule.to_string(),
                severity: severity.to_string(),
            })
            .inc();
    }

    /// `n` alerts of `kind` were created.
    pub fn alerts_created(&self, kind: &str, n: u64) {
        self.inner
            .alerts
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .inc_by(n);
    }

    /// A delivery attempt to `channel` failed.
    pub fn channel_failure(&self, channel: &str) {
        self.inner
            .channel_failures
            .get_or_create(&ChannelLabels {
                channel: channel.to_string(),
            })
            .inc();
    }

    /// A consumer of `queue` settled a delivery whose handler took `took`.
    pub fn delivery_settled(&self, queue: &str, outcome: DeliveryOutcome, took: Duration) {
        let q = QueueLabels {
            queue: queue.to_string(),
        };
        self.inner
            .stage_duration
            .get_or_create(&q)
            .observe(took.as_secs_f64());
        self.inner
            .messages
            .get_or_create(&OutcomeLabels {
                queue: queue.to_string(),
                outcome: outcome.as_str().to_string(),
            })
            .inc();
        match outcome {
            DeliveryOutcome::Done => {}
            DeliveryOutcome::Retry => {
                self.inner.retries.get_or_create(&q).inc();
            }
            DeliveryOutcome::Parked | DeliveryOutcome::Invalid => {
                let reason = if outcome == DeliveryOutcome::Parked {
                    "failed"
                } else {
                    "invalid"
                };
                self.inner
                    .dead_lettered
                    .get_or_create(&ReasonLabels {
                        queue: queue.to_string(),
                        reason: reason.to_string(),
                    })
                    .inc();
            }
        }
    }

    /// A delivery of `queue` went back to the queue (its retry/park copy was not confirmed).
    pub fn requeued(&self, queue: &str) {
        self.inner
            .requeued
            .get_or_create(&QueueLabels {
                queue: queue.to_string(),
            })
            .inc();
    }

    /// A delivery of `queue` waited `waited` between publication and delivery.
    pub fn queue_wait(&self, queue: &str, waited: Duration) {
        self.inner
            .queue_wait
            .get_or_create(&QueueLabels {
                queue: queue.to_string(),
            })
            .observe(waited.as_secs_f64());
    }

    /// A batching consumer of `queue` handled `n` deliveries together.
    pub fn batch_handled(&self, queue: &str, n: usize) {
        self.inner
            .batch_size
            .get_or_create(&QueueLabels {
                queue: queue.to_string(),
            })
            .observe(n as f64);
    }

    /// A consumer of `queue` runs with `prefetch` (0: it stopped).
    pub fn consumer_prefetch(&self, queue: &str, prefetch: u16) {
        self.inner
            .prefetch
            .get_or_create(&QueueLabels {
                queue: queue.to_string(),
            })
            .set(i64::from(prefetch));
    }

    /// Counts one delivery of `queue` in flight until the returned guard is dropped.
    pub fn in_flight(&self, queue: &str) -> InFlight {
        let gauge = self
            .inner
            .in_flight
            .get_or_create(&QueueLabels {
                queue: queue.to_string(),
            })
            .clone();
        gauge.inc();
        InFlight(gauge)
    }

    /// Records whether readiness check `check` (`broker`, `database`) passes.
    pub fn set_ready(&self, check: &str, ok: bool) {
        self.inner
            .ready
            .get_or_create(&CheckLabels {
                check: check.to_string(),
            })
            .set(i64::from(ok));
    }
}

/// One delivery in flight (see [`Metrics::in_flight`]); decrements the gauge when dropped.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The value of a sample in exposition `text` (as [`Metrics::encode`] writes it): `name` is the
/// full sample name (`nianbao_reports_total`), `labels` the label pairs that must all be present.
/// Sums every matching sample, so `&[]` gives a family's total. For tests and tools that read a
/// scraped page; `None` when no sample matches.
pub fn sample_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut total = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (sample, label_text) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if sample != name {
            continue;
        }
        let all = labels.iter().all(|(k, v)| {
            label_text
                .split(',')
                .any(|pair| pair == format!("{k}=\"{v}\""))
        });
        if !all {
            continue;
        }
        if let Ok(v) = value.parse::<f64>() {
            *total.get_or_insert(0.0) += v;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn counters_appear_with_service_and_labels() {
        let m = Metrics::new("validation");
        m.report_reached("validated");
        m.report_reached("validated");
        m.finding("t3-balance", "error");
        m.finding("t3-balance", "error");
        m.finding("year-mismatch", "warning");
        m.delivery_settled(
            "nianbao.validation",
            DeliveryOutcome::Retry,
            Duration::from_millis(3),
        );
        m.delivery_settled(
            "nianbao.validation",
            DeliveryOutcome::Invalid,
            Duration::from_millis(1),
        );
        m.queue_wait("nianbao.validation", Duration::from_millis(20));
        let text = m.encode();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(
            sample_value(&text, "nianbao_reports_total", &[("stage", "validated")]),
            Some(2.0),
            "{text}"
        );
        assert_eq!(
            sample_value(&text, "nianbao_reports_total", &[("service", "validation")]),
            Some(2.0)
        );
        assert_eq!(
            sample_value(
                &text,
                "nianbao_findings_total",
                &[("rule", "t3-balance"), ("severity", "error")]
            ),
            Some(2.0)
        );
        assert_eq!(
            sample_value(&text, "nianbao_findings_total", &[]),
            Some(3.0)
        );
        assert_eq!(
            sample_value(
                &text,
                "nianbao_retries_total",
                &[("queue", "nianbao.validation")]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample_value(
                &text,
                "nianbao_dead_lettered_total",
                &[("reason", "invalid")]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample_value(&text, "nianbao_stage_duration_seconds_count", &[]),
            Some(2.0)
        );
        assert_eq!(
            sample_value(&text, "nianbao_queue_wait_seconds_count", &[]),
            Some(1.0)
        );
        assert_eq!(sample_value(&text, "nianbao_build_info", &[]), Some(1.0));
        assert_eq!(sample_value(&text, "nianbao_alerts_total", &[]), None);
    }

    #[test]
    fn in_flight_follows_guards_and_registries_are_separate() {
        let a = Metrics::new("extraction");
        let b = Metrics::new("extraction");
        a.consumer_prefetch("q", 8);
        let g1 = a.in_flight("q");
        let g2 = a.in_flight("q");
        let text = a.encode();
        assert_eq!(
            sample_value(&text, "nianbao_consumer_in_flight", &[("queue", "q")]),
            Some(2.0)
        );
        assert_eq!(
            sample_value(&text, "nianbao_consumer_prefetch", &[("queue", "q")]),
            Some(8.0)
        );
        drop(g1);
        drop(g2);
        assert_eq!(
            sample_value(&a.encode(), "nianbao_consumer_in_flight", &[]),
            Some(0.0)
        );
        assert_eq!(
            sample_value(&b.encode(), "nianbao_consumer_prefetch", &[]),
            None
        );
    }

    #[test]
    fn the_metrics_table_parses_and_empty_listen_is_off() {
        #[derive(Deserialize)]
        struct Settings {
            #[serde(default)]
            metrics: MetricsConfig,
        }
        let parse = |t: &str| -> Settings {
            config::Config::builder()
                .add_source(config::File::from_str(t, config::FileFormat::Toml))
                .build()
                .unwrap()
                .try_deserialize()
                .unwrap()
        };
        assert_eq!(parse("").metrics.listen(), None);
        assert_eq!(parse("[metrics]\nlisten = \" \"\n").metrics.listen(), None);
        assert_eq!(
            parse("[metrics]\nlisten = \"0.0.0.0:9464\"\n")
                .metrics
                .listen(),
            Some("0.0.0.0:9464")
        );
    }
}
