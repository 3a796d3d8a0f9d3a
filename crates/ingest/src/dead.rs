//! The broker's dead letters: consumes `nianbao.dead` and marks each report failed.
//!
//! A work queue dead-letters a message when it was redelivered more than `x-delivery-limit` times,
//! i.e. the workers of that stage kept dying while holding it (a poison report that crashes or
//! exhausts the process). Our consumers never reject without requeueing, so that is the only way
//! into `nianbao.dead`. Without this consumer such a report would sit at its last status forever
//! (`received`, typically) with nothing saying why. Each dead letter is parked in
//! `nianbao.dead.parked` (kept for an operator, with the reason) and `report.failed` is published
//! with a reason that names the queue and the limit, so that ingest's status follower records it
//! the usual way.

use nianbao_bus::{Bus, Handler, Message, Outcome, dead_queue_spec};
use nianbao_proto::v1;
use nianbao_service::Shutdown;
use prost::Message as _;
use std::sync::Arc;
use std::time::Duration;

/// Any event: every event message carries its `EventMeta` as field 1.
#[derive(Clone, PartialEq, prost::Message)]
struct AnyEvent {
    #[prost(message, optional, tag = "1")]
    meta: Option<v1::EventMeta>,
}

/// The consumer of `nianbao.dead`.
pub struct DeadLetters {
    pub bus: Bus,
}

impl DeadLetters {
    /// The report's meta, or why the message names no report.
    fn meta(msg: &Message) -> Result<v1::EventMeta, String> {
        let ev = AnyEvent::decode(msg.body.as_slice())
            .map_err(|e| format!("dead letter that is not an event: {e}"))?;
        ev.meta
            .filter(|m| !m.report_id.is_empty())
            .ok_or_else(|| "dead letter without a report id".to_string())
    }
}

/// The stage a work queue serves, as `ReportFailed.stage` names it (`nianbao.extraction` →
/// `extraction`).
fn stage_of(queue: &str) -> String {
    queue.strip_prefix("nianbao.").unwrap_or(queue).to_string()
}

impl Handler for DeadLetters {
    async fn handle(&self, msg: &Message) -> Outcome {
        if let Err(reason) = Self::meta(msg) {
            return Outcome::Invalid(reason);
        }
        let (queue, why, count) = match &msg.dead_letter {
            Some(d) => (d.queue.clone(), d.reason.clone(), d.count),
            None => (String::new(), String::new(), 0),
        };
        // A report.failed that the status follower itself kept dying on: publishing another one
        // would feed it the same kind of message again. Parked for an operator instead.
        if queue == crate::follower::queue_spec().name
            && msg.routing_key.starts_with("report.failed.")
        {
            return Outcome::Invalid(format!(
                "report.failed dead-lettered from {queue} ({why}); not published again"
            ));
        }
        let limit = self.bus.config().delivery_limit;
        let reason = if why == "delivery_limit" {
            format!(
                "处理该报告的服务多次中断：消息被重新投递超过上限（{limit} 次）后由 {queue} 转入死信队列，\
                 报告未能完成；请检查该文件 / the service handling this report kept dying on it: \
                 redelivered more than the delivery limit ({limit}) and dead-lettered from {queue}"
            )
        } else {
            format!(
                "消息被消息代理转入死信队列（{queue}，原因 {why}，第 {count} 次），报告未能完成 / \
                 dead-lettered by the broker from {queue} ({why}, {count} times)"
            )
        };
        Outcome::Fail(reason)
    }

    async fn parked(&self, msg: &Message, reason: &str) {
        let Ok(meta) = Self::meta(msg) else { return };
        let queue = msg
            .dead_letter
            .as_ref()
            .map_or_else(|| "dead".to_string(), |d| d.queue.clone());
        nianbao_service::report_failed(&self.bus, &meta, msg, &stage_of(&queue), reason).await;
    }
}

/// Consumes `nianbao.dead` until `stop`; resumes after a pause if the broker cancels the consumer.
/// Not [`nianbao_service::consume_until_stopped`]: the dead-letter queue is part of the topology
/// (declared with the exchange), not a work queue with retry steps of its own to declare.
pub async fn run(bus: Bus, stop: Shutdown) {
    let spec = dead_queue_spec();
    let handler = Arc::new(DeadLetters { bus: bus.clone() });
    loop {
        let result = bus.consume(&spec, handler.clone(), stop.waiter()).await;
        if stop.is_set() {
            return;
        }
        if let Err(e) = result {
            tracing::warn!(error = %e, queue = %spec.name, "dead-letter consumer stopped; resuming shortly");
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = stop.wait() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_named_after_their_queue() {
        assert_eq!(stage_of("nianbao.extraction"), "extraction");
        assert_eq!(stage_of("nianbao.ingest.status"), "ingest.status");
        assert_eq!(stage_of("other"), "other");
    }
}
