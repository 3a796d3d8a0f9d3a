//! The consume loop: bounded concurrency, ack after the handler, delayed retries, parking lot.

use crate::topology::QueueSpec;
use crate::{
    ATTEMPT_HEADER, Bus, BusError, PUBLISHED_MS_HEADER, REASON_HEADER, TRACEPARENT_HEADER,
};
use futures_util::StreamExt;
use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::Instrument;

/// A delivery as handlers see it.
#[derive(Clone, Debug)]
pub struct Message {
    pub body: Vec<u8>,
    pub routing_key: String,
    /// 1 on first delivery of the event, +1 per retry.
    pub attempt: u32,
    pub traceparent: Option<String>,
    pub message_id: Option<String>,
    /// The broker delivered it before (a worker died holding it).
    pub redelivered: bool,
    /// Where and why the broker dead-lettered this message, when it did (the first `x-death`
    /// entry): what the consumer of `nianbao.dead` reads.
    pub dead_letter: Option<DeadLetter>,
    /// The delivery's consumer span (`<queue> process`, child of the publisher's span). Batch
    /// handlers run each message's own follow-up work (its publish) inside it, so that the trace of
    /// every report continues through the batch.
    pub span: tracing::Span,
}

/// The broker's record of a dead-lettering (the latest `x-death` entry of a message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The queue the message was dead-lettered from.
    pub queue: String,
    /// `delivery_limit` (redelivered more than `x-delivery-limit` times), `rejected`, `expired`,
    /// `maxlen`.
    pub reason: String,
    /// How many times it was dead-lettered from that queue for that reason.
    pub count: u64,
}

/// What a handler made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Processed (including "processed into a finding"): acknowledge.
    Done,
    /// A transient failure (a service down, a timeout): try again later, then park.
    Retry(String),
    /// Not something this consumer can ever process (not a valid event): park at once.
    Invalid(String),
    /// A valid event whose processing can never succeed (its result is larger than the bus may
    /// carry, the broker gave up on it): park at once *and* call [`Handler::parked`], which records
    /// the report as failed. Retrying it would only loop.
    Fail(String),
}

/// Batches of one consumer handled at the same time (see [`Bus::consume`]).
const BATCHES_IN_FLIGHT: usize = 2;

/// A batch handled and waiting for its turn to be settled.
struct HandledBatch {
    deliveries: Vec<Delivery>,
    msgs: Vec<Message>,
    outcomes: Vec<Outcome>,
    took: Duration,
    _in_flight: Vec<nianbao_metrics::InFlight>,
}

/// The work of one consumer.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, msg: &Message) -> impl Future<Output = Outcome> + Send;

    /// Handlers whose work per message is mostly database round trips and publisher confirms say
    /// `true` here (and may implement [`Handler::handle_batch`]): the consumer then hands them the
    /// deliveries that are ready together (up to half the prefetch; two batches are handled at a
    /// time, so one waits for its database or broker while the other is worked on) and acknowledges
    /// a fully successful batch with one `multiple` ack.
    /// Round trips and broker work per message are what limits throughput on a small machine, not
    /// the CPU work of the handlers.
    fn batched(&self) -> bool {
        false
    }

    /// One outcome per message, in order. The default handles the messages concurrently, one by one,
    /// each inside its delivery span.
    fn handle_batch(&self, msgs: &[Message]) -> impl Future<Output = Vec<Outcome>> + Send {
        futures_util::future::join_all(
            msgs.iter()
                .map(|m| self.handle(m).instrument(m.span.clone())),
        )
    }

    /// Called once a message failed its last attempt and was parked: the place to record the report
    /// as failed.
    fn parked(&self, _msg: &Message, _reason: &str) -> impl Future<Output = ()> + Send {
        async {}
    }
}

fn header_str(props: &BasicProperties, key: &str) -> Option<String> {
    let h = props.headers().as_ref()?;
    match h.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}

fn header_u32(props: &BasicProperties, key: &str) -> Option<u32> {
    let h = props.headers().as_ref()?;
    match h.inner().get(key)? {
        AMQPValue::LongUInt(v) => Some(*v),
        AMQPValue::LongInt(v) => u32::try_from(*v).ok(),
        AMQPValue::LongLongInt(v) => u32::try_from(*v).ok(),
        AMQPValue::ShortUInt(v) => Some(u32::from(*v)),
        AMQPValue::ShortShortUInt(v) => Some(u32::from(*v)),
        _ => None,
    }
}

/// The latest `x-death` entry (RabbitMQ puts the most recent first).
fn dead_letter(props: &BasicProperties) -> Option<DeadLetter> {
    let h = props.headers().as_ref()?;
    let AMQPValue::FieldArray(deaths) = h.inner().get("x-death")? else {
        return None;
    };
    let AMQPValue::FieldTable(first) = deaths.as_slice().first()? else {
        return None;
    };
    let text = |k: &str| match first.inner().get(k) {
        Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        Some(AMQPValue::ShortString(s)) => s.as_str().to_string(),
        _ => String::new(),
    };
    let count = match first.inner().get("count") {
        Some(AMQPValue::LongLongInt(v)) => u64::try_from(*v).unwrap_or(0),
        Some(AMQPValue::LongInt(v)) => u64::try_from(*v).unwrap_or(0),
        Some(AMQPValue::LongUInt(v)) => u64::from(*v),
        Some(AMQPValue::Timestamp(v)) => *v,
        _ => 0,
    };
    Some(DeadLetter {
        queue: text("queue"),
        reason: text("reason"),
        count,
    })
}

/// When the message was first published: our millisecond header, else the AMQP timestamp (seconds).
fn published_at(props: &BasicProperties) -> Option<SystemTime> {
    let ms = props
        .headers()
        .as_ref()
        .and_then(|h| match h.inner().get(PUBLISHED_MS_HEADER)? {
            AMQPValue::LongLongInt(v) => u64::try_from(*v).ok(),
            _ => None,
        })
        .or_else(|| props.timestamp().map(|s| s.saturating_mul(1000)))?;
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

impl Message {
    fn from_delivery(d: &Delivery) -> Message {
        Message {
            body: d.data.clone(),
            routing_key: d.routing_key.as_str().to_string(),
            attempt: header_u32(&d.properties, ATTEMPT_HEADER)
                .unwrap_or(1)
                .max(1),
            traceparent: header_str(&d.properties, TRACEPARENT_HEADER),
            message_id: d
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.as_str().to_string()),
            redelivered: d.redelivered,
            dead_letter: dead_letter(&d.properties),
            span: tracing::Span::none(),
        }
    }
}

impl Bus {
    /// Consumes `spec`'s queue until `shutdown` resolves: stops taking new deliveries, finishes the
    /// ones in hand, and closes the channel so that prefetched but unprocessed deliveries go back to
    /// the queue for another worker. Returns an error if the broker cancels the consumer (queue
    /// deleted): the caller re-declares and consumes again, or exits.
    pub async fn consume<H: Handler>(
        &self,
        spec: &QueueSpec,
        handler: Arc<H>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), BusError> {
        let ch = self.channel().await?;
        ch.basic_qos(self.cfg.prefetch, BasicQosOptions::default())
            .await?;
        let consumer = ch
            .basic_consume(
                ShortString::from(spec.name.clone()),
                ShortString::from(""),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = stopping.clone();
        let shutdown = async move {
            shutdown.await;
            flag.store(true, Ordering::SeqCst);
        };
        let concurrency = usize::from(self.cfg.prefetch.max(1));
        if let Some(m) = self.metrics() {
            m.consumer_prefetch(&spec.name, self.cfg.prefetch);
        }
        if handler.batched() {
            let max_batch = (concurrency / 2).max(1);
            let handler = &*handler;
            // Batches are handled `BATCHES_IN_FLIGHT` at a time, so that one waits for its
            // database or its publisher confirms while the next is worked on, and settled strictly
            // in delivery order: when a batch's `multiple` ack goes out, every earlier tag is
            // already settled.
            consumer
                .take_until(shutdown)
                .ready_chunks(max_batch)
                .map(|batch| {
                    let mut deliveries = Vec::with_capacity(batch.len());
                    for delivery in batch {
                        match delivery {
                            Ok(d) => deliveries.push(d),
                            Err(e) => {
                                tracing::warn!(queue = %spec.name, error = %e, "delivery error")
                            }
                        }
                    }
                    self.handle_batch(spec, handler, deliveries)
                })
                .buffered(BATCHES_IN_FLIGHT)
                .for_each(|handled| self.settle_batch(spec, handler, handled))
                .await;
        } else {
            consumer
                .take_until(shutdown)
                .for_each_concurrent(concurrency, |delivery| {
                    let handler = handler.clone();
                    async move {
                        match delivery {
                            Ok(d) => self.process(spec, &*handler, d).await,
                            Err(e) => {
                                tracing::warn!(queue = %spec.name, error = %e, "delivery error")
                            }
                        }
                    }
                })
                .await;
        }
        crate::close_channel(&ch, "consumer stopped").await;
        if let Some(m) = self.metrics() {
            m.consumer_prefetch(&spec.name, 0);
        }
        if stopping.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(BusError::ConsumerCancelled(spec.name.clone()))
        }
    }

    async fn process<H: Handler>(&self, spec: &QueueSpec, handler: &H, d: Delivery) {
        let mut msg = Message::from_delivery(&d);
        msg.span = self.delivery_span(spec, &d, &msg);
        let _in_flight = self.metrics().map(|m| m.in_flight(&spec.name));
        let span = msg.span.clone();
        async {
            let started = Instant::now();
            let outcome = handler.handle(&msg).await;
            self.settle(spec, handler, &d, &msg, outcome, started.elapsed())
                .await;
        }
        .instrument(span)
        .await;
    }

    /// Handles deliveries in one call; [`Bus::settle_batch`] settles them.
    async fn handle_batch<H: Handler>(
        &self,
        spec: &QueueSpec,
        handler: &H,
        ds: Vec<Delivery>,
    ) -> HandledBatch {
        let msgs: Vec<Message> = ds
            .iter()
            .map(|d| {
                let mut msg = Message::from_delivery(d);
                msg.span = self.delivery_span(spec, d, &msg);
                msg
            })
            .collect();
        // One in-flight mark per message of the batch, released when the batch is settled.
        let in_flight: Vec<_> = match self.metrics() {
            Some(m) if !msgs.is_empty() => {
                m.batch_handled(&spec.name, msgs.len());
                msgs.iter().map(|_| m.in_flight(&spec.name)).collect()
            }
            _ => Vec::new(),
        };
        let started = Instant::now();
        let mut outcomes = if msgs.is_empty() {
            Vec::new()
        } else {
            handler.handle_batch(&msgs).await
        };
        let took = started.elapsed();
        if outcomes.len() != msgs.len() {
            // A handler bug; never ack what was not handled.
            tracing::error!(queue = %spec.name, expected = msgs.len(), got = outcomes.len(), "handle_batch returned the wrong number of outcomes; retrying the batch");
            outcomes = vec![Outcome::Retry("internal: batch outcome count".into()); msgs.len()];
        }
        HandledBatch {
            deliveries: ds,
            msgs,
            outcomes,
            took,
            _in_flight: in_flight,
        }
    }

    /// Settles a handled batch. When every message succeeded (the common case), one `multiple`
    /// ack on the last delivery tag settles them all: batches are settled in delivery order on
    /// this channel, so every earlier tag is already settled. Otherwise each is settled on its own.
    async fn settle_batch<H: Handler>(&self, spec: &QueueSpec, handler: &H, b: HandledBatch) {
        let Some(last) = b.deliveries.last() else {
            return;
        };
        if b.outcomes.iter().all(|o| *o == Outcome::Done) {
            let acked = last.acker.ack(BasicAckOptions { multiple: true }).await;
            for (msg, outcome) in b.msgs.iter().zip(&b.outcomes) {
                msg.span
                    .in_scope(|| self.observe(spec, msg, outcome, acked.is_ok(), b.took));
            }
            if let Err(e) = acked {
                tracing::warn!(queue = %spec.name, error = %e, "could not acknowledge a batch; the broker will redeliver it");
            }
            return;
        }
        for ((d, msg), outcome) in b.deliveries.iter().zip(&b.msgs).zip(b.outcomes) {
            self.settle(spec, handler, d, msg, outcome, b.took)
                .instrument(msg.span.clone())
                .await;
        }
    }

    /// Acks a handled delivery, or hands it to its retry queue or parking lot first; counts it.
    async fn settle<H: Handler>(
        &self,
        spec: &QueueSpec,
        handler: &H,
        d: &Delivery,
        msg: &Message,
        outcome: Outcome,
        took: Duration,
    ) {
        let settled = match &outcome {
            Outcome::Done => Ok(()),
            Outcome::Retry(reason) if msg.attempt < self.cfg.max_attempts => {
                let delay = self.delay_for(msg.attempt);
                tracing::info!(queue = %spec.name, attempt = msg.attempt, delay_ms = delay, %reason, "retrying later");
                self.republish(spec, &spec.retry(delay), d, msg.attempt + 1, None)
                    .await
            }
            Outcome::Retry(reason) => {
                let reason = format!("failed after {} attempts: {reason}", msg.attempt);
                tracing::warn!(queue = %spec.name, %reason, "parking message");
                let r = self
                    .republish(spec, &spec.parked(), d, msg.attempt, Some(&reason))
                    .await;
                if r.is_ok() {
                    handler.parked(msg, &reason).await;
                }
                r
            }
            Outcome::Invalid(reason) => {
                tracing::warn!(queue = %spec.name, %reason, "parking invalid message");
                self.republish(spec, &spec.parked(), d, msg.attempt, Some(reason))
                    .await
            }
            Outcome::Fail(reason) => {
                tracing::warn!(queue = %spec.name, %reason, "parking a message that cannot succeed");
                let r = self
                    .republish(spec, &spec.parked(), d, msg.attempt, Some(reason))
                    .await;
                if r.is_ok() {
                    handler.parked(msg, reason).await;
                }
                r
            }
        };
        self.observe(spec, msg, &outcome, settled.is_ok(), took);
        let result = match settled {
            Ok(()) => d.ack(BasicAckOptions::default()).await.map(|_| ()),
            Err(e) => {
                // Could not hand the message on: give it back to the queue rather than lose it.
                tracing::error!(queue = %spec.name, error = %e, "requeueing after a failed re-publish");
                d.nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await
                .map(|_| ())
            }
        };
        if let Err(e) = result {
            tracing::warn!(queue = %spec.name, error = %e, "could not settle a delivery; the broker will redeliver it");
        }
    }

    /// The consumer span of one delivery (`<queue> process`), child of the publisher's span named by
    /// the `traceparent` header; records the time the message waited in the broker as an attribute,
    /// a metric and a `<queue> wait` span.
    fn delivery_span(&self, spec: &QueueSpec, d: &Delivery, msg: &Message) -> tracing::Span {
        let report_id = msg
            .message_id
            .as_deref()
            .and_then(|id| id.split(':').next())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "bus.process",
            otel.name = %format_args!("{} process", spec.name),
            otel.kind = "consumer",
            otel.status_code = tracing::field::Empty,
            messaging.system = "rabbitmq",
            messaging.operation = "process",
            messaging.destination.name = %spec.name,
            messaging.rabbitmq.destination.routing_key = %msg.routing_key,
            messaging.message.id = msg.message_id.as_deref().unwrap_or_default(),
            messaging.queue_wait_ms = tracing::field::Empty,
            nianbao.service = self.name(),
            nianbao.attempt = msg.attempt,
            nianbao.outcome = tracing::field::Empty,
            report_id,
        );
        nianbao_telemetry::set_parent(&span, msg.traceparent.as_deref());
        if let Some(published) = published_at(&d.properties) {
            let now = SystemTime::now();
            // Clocks of publisher and consumer hosts differ a little: never a negative wait.
            let waited = now.duration_since(published).unwrap_or_default();
            span.record(
                "messaging.queue_wait_ms",
                u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
            );
            if let Some(m) = self.metrics() {
                m.queue_wait(&spec.name, waited);
            }
            nianbao_telemetry::record_span(
                format!("{} wait", spec.name),
                msg.traceparent.as_deref(),
                published.min(now),
                now,
                vec![
                    nianbao_telemetry::KeyValue::new("messaging.system", "rabbitmq"),
                    nianbao_telemetry::KeyValue::new(
                        "messaging.destination.name",
                        spec.name.clone(),
                    ),
                    nianbao_telemetry::KeyValue::new("nianbao.service", self.name().to_string()),
                ],
            );
        }
        span
    }

    /// Counts a handled delivery and marks its span: `settled` is whether the ack, retry or parking
    /// copy went through (else the delivery is requeued).
    fn observe(
        &self,
        spec: &QueueSpec,
        msg: &Message,
        outcome: &Outcome,
        settled: bool,
        took: Duration,
    ) {
        use nianbao_metrics::DeliveryOutcome as D;
        let kind = match outcome {
            Outcome::Done => D::Done,
            Outcome::Retry(_) if msg.attempt < self.cfg.max_attempts => D::Retry,
            Outcome::Retry(_) | Outcome::Fail(_) => D::Parked,
            Outcome::Invalid(_) => D::Invalid,
        };
        let span = tracing::Span::current();
        span.record("nianbao.outcome", kind.as_str());
        if kind != D::Done || !settled {
            span.record("otel.status_code", "ERROR");
        }
        if let Some(m) = self.metrics() {
            if settled {
                m.delivery_settled(&spec.name, kind, took);
            } else {
                m.requeued(&spec.name);
            }
        }
    }

    fn delay_for(&self, attempt: u32) -> u64 {
        let i = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
        self.cfg
            .retry_delays_ms
            .get(i)
            .or(self.cfg.retry_delays_ms.last())
            .copied()
            .unwrap_or(1_000)
    }

    /// A copy of the delivery to another queue of `spec` (through its requeue exchange), with the
    /// attempt header set and the broker's `x-death` history dropped (our own header counts
    /// attempts).
    async fn republish(
        &self,
        spec: &QueueSpec,
        queue: &str,
        d: &Delivery,
        attempt: u32,
        reason: Option<&str>,
    ) -> Result<(), BusError> {
        let mut headers = FieldTable::default();
        if let Some(h) = d.properties.headers().as_ref() {
            for (k, v) in h.inner() {
                if k.as_str() != "x-death" && !k.as_str().starts_with("x-first-death") {
                    headers.insert(k.clone(), v.clone());
                }
            }
        }
        headers.insert(
            ShortString::from(ATTEMPT_HEADER),
            AMQPValue::LongUInt(attempt),
        );
        if let Some(r) = reason {
            headers.insert(
                ShortString::from(REASON_HEADER),
                AMQPValue::LongString(LongString::from(r.to_string())),
            );
        }
        let mut props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_headers(headers);
        if let Some(id) = d.properties.message_id() {
            props = props.with_message_id(id.clone());
        }
        if let Some(ts) = d.properties.timestamp() {
            props = props.with_timestamp(*ts);
        }
        self.publish_raw(&spec.requeue_exchange(), queue, &d.data, props, true)
            .await
    }
}
