//! Queue declarations: work queue, retry steps, parking lot, and the broker's dead-letter queue.

use crate::{BusConfig, BusError};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// Where the broker sends what it rejects itself (delivery limit exceeded).
pub const DEAD_EXCHANGE: &str = "nianbao.dead";
pub const DEAD_QUEUE: &str = "nianbao.dead";

/// A consumer's work queue and the routing keys it takes.
#[derive(Clone, Debug)]
pub struct QueueSpec {
    pub name: String,
    /// Binding patterns on the events exchange, e.g. `report.received.*`.
    pub bindings: Vec<String>,
}

impl QueueSpec {
    pub fn new(name: &str, bindings: &[String]) -> QueueSpec {
        QueueSpec {
            name: name.to_string(),
            bindings: bindings.to_vec(),
        }
    }

    pub fn parked(&self) -> String {
        format!("{}.parked", self.name)
    }

    pub fn retry(&self, delay_ms: u64) -> String {
        format!("{}.retry.{delay_ms}", self.name)
    }

    /// The direct exchange that the consumer of this queue publishes retry and parked copies
    /// through (routing key: the target queue's name). Its own exchange rather than the default
    /// one, so that a service's broker user may write here without being able to put a message
    /// on any queue of another service (see [`crate::grants`]).
    pub fn requeue_exchange(&self) -> String {
        format!("{}.requeue", self.name)
    }
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(v.to_string()))
}

/// The broker's dead-letter queue as a consumer sees it (ingest consumes it, see
/// `nianbao_ingest::dead`): no bindings (the `nianbao.dead` fanout feeds it), its own delay queues
/// and parking lot.
pub fn dead_queue_spec() -> QueueSpec {
    QueueSpec::new(DEAD_QUEUE, &[])
}

pub(crate) async fn declare_dead(ch: &Channel, cfg: &BusConfig) -> Result<(), BusError> {
    ch.exchange_declare(
        ShortString::from(DEAD_EXCHANGE),
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    let mut args = FieldTable::default();
    args.insert(ShortString::from("x-queue-type"), s("quorum"));
    ch.queue_declare(ShortString::from(DEAD_QUEUE), durable(), args)
        .await?;
    ch.queue_bind(
        ShortString::from(DEAD_QUEUE),
        ShortString::from(DEAD_EXCHANGE),
        ShortString::from(""),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    // The dead queue keeps the arguments it was first declared with (a declaration that differs
    // would be refused by every existing broker); its consumer retries and parks like any other.
    declare_retries_and_parking(ch, cfg, &dead_queue_spec()).await
}

pub(crate) async fn declare_queue(
    ch: &Channel,
    cfg: &BusConfig,
    spec: &QueueSpec,
) -> Result<(), BusError> {
    let mut args = FieldTable::default();
    args.insert(ShortString::from("x-queue-type"), s("quorum"));
    args.insert(
        ShortString::from("x-dead-letter-exchange"),
        s(DEAD_EXCHANGE),
    );
    args.insert(
        ShortString::from("x-delivery-limit"),
        AMQPValue::LongInt(i32::try_from(cfg.delivery_limit).unwrap_or(i32::MAX)),
    );
    ch.queue_declare(ShortString::from(spec.name.clone()), durable(), args)
        .await?;
    for pattern in &spec.bindings {
        ch.queue_bind(
            ShortString::from(spec.name.clone()),
            ShortString::from(cfg.exchange.clone()),
            ShortString::from(pattern.clone()),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    declare_retries_and_parking(ch, cfg, spec).await
}

/// `spec`'s delay queues (one per retry step, dead-lettering back to it) and its parking lot.
async fn declare_retries_and_parking(
    ch: &Channel,
    cfg: &BusConfig,
    spec: &QueueSpec,
) -> Result<(), BusError> {
    let requeue = spec.requeue_exchange();
    ch.exchange_declare(
        ShortString::from(requeue.clone()),
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    let bind = |queue: String| {
        let requeue = requeue.clone();
        async move {
            ch.queue_bind(
                ShortString::from(queue.clone()),
                ShortString::from(requeue),
                ShortString::from(queue),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
        }
    };
    for &delay in &cfg.retry_delays_ms {
        let mut args = FieldTable::default();
        args.insert(
            ShortString::from("x-message-ttl"),
            AMQPValue::LongLongInt(i64::try_from(delay).unwrap_or(i64::MAX)),
        );
        args.insert(ShortString::from("x-dead-letter-exchange"), s(""));
        args.insert(
            ShortString::from("x-dead-letter-routing-key"),
            s(&spec.name),
        );
        ch.queue_declare(ShortString::from(spec.retry(delay)), durable(), args)
            .await?;
        bind(spec.retry(delay)).await?;
    }
    let mut args = FieldTable::default();
    args.insert(ShortString::from("x-queue-type"), s("quorum"));
    ch.queue_declare(ShortString::from(spec.parked()), durable(), args)
        .await?;
    bind(spec.parked()).await?;
    Ok(())
}
