//! The `report.validated` consumer: decide (the [`Engine`]), store, deliver, tell ingest.
//!
//! Per event: decode (garbage → parked at once), let the engine create, find or resolve the alerts
//! the report concerns — idempotently: alert ids derive from the report version, office and kind,
//! so a redelivered event finds the alerts it created before, and the delivery log keeps channels
//! from delivering twice. Then `report.notified` (also with empty lists when nothing alerted, so
//! ingest can mark the report notified) and ack. A database or broker failure is a transient error:
//! the event is retried later.

use crate::engine::Engine;
use nianbao_bus::{Bus, Envelope, Handler, Message, Outcome, Stage};
use nianbao_proto::v1;
use prost::Message as _;
use std::sync::Arc;
use tracing::Instrument as _;

/// The stage name this service reports in `ReportFailed.stage`.
pub const STAGE: &str = "notification";

pub struct NotifyHandler {
    pub(crate) engine: Arc<Engine>,
    pub(crate) bus: Bus,
}

impl NotifyHandler {
    async fn publish_notified(
        &self,
        meta: &v1::EventMeta,
        msg: &Message,
        alert_ids: Vec<String>,
        office_ids: Vec<String>,
    ) -> Result<(), String> {
        let out = v1::ReportNotified {
            meta: Some(next_meta(meta, msg)),
            alert_ids,
            office_ids,
        };
        let env = Envelope {
            message_id: format!(
                "{}:{}:{}",
                meta.report_id,
                meta.version,
                Stage::Notified.as_str()
            ),
            traceparent: traceparent(meta, msg),
        };
        self.bus
            .publish(Stage::Notified, &meta.region, &out.encode_to_vec(), &env)
            .await
            .map_err(|e| format!("publishing report.notified: {e}"))
    }
}

/// The outgoing meta: the incoming one with this emission's time (report id, version, traceparent,
/// region and submission time pass along unchanged).
fn next_meta(meta: &v1::EventMeta, msg: &Message) -> v1::EventMeta {
    v1::EventMeta {
        attempt: msg.attempt.max(1),
        traceparent: traceparent(meta, msg).unwrap_or_default(),
        emitted_at_ms: nianbao_service::now_ms(),
        ..meta.clone()
    }
}

fn traceparent(meta: &v1::EventMeta, msg: &Message) -> Option<String> {
    if meta.traceparent.is_empty() {
        msg.traceparent.clone()
    } else {
        Some(meta.traceparent.clone())
    }
}

/// Decodes a `ReportValidated` that carries the ids every later step needs.
fn decode(body: &[u8]) -> Result<(v1::ReportValidated, v1::EventMeta), String> {
    let ev = v1::ReportValidated::decode(body)
        .map_err(|e| format!("not a ReportValidated event: {e}"))?;
    let meta = ev
        .meta
        .clone()
        .ok_or_else(|| "ReportValidated without meta".to_string())?;
    if meta.report_id.is_empty() || meta.version.is_empty() {
        return Err("ReportValidated without report_id or version".into());
    }
    Ok((ev, meta))
}

impl Handler for NotifyHandler {
    /// The deliveries that arrive together are decided as one batch and settled with one ack.
    fn batched(&self) -> bool {
        true
    }

    async fn handle(&self, msg: &Message) -> Outcome {
        let mut out = self.handle_batch(std::slice::from_ref(msg)).await;
        out.pop()
            .unwrap_or_else(|| Outcome::Retry("internal: no outcome".into()))
    }

    /// The engine decides about the whole batch at once (its store round trips are shared), then
    /// each report's `report.notified` goes out in its delivery's span.
    async fn handle_batch(&self, msgs: &[Message]) -> Vec<Outcome> {
        let decoded: Vec<Result<(v1::ReportValidated, v1::EventMeta), String>> =
            msgs.iter().map(|m| decode(&m.body)).collect();
        let events: Vec<(&v1::ReportValidated, &v1::EventMeta)> = decoded
            .iter()
            .filter_map(|d| d.as_ref().ok().map(|(ev, meta)| (ev, meta)))
            .collect();
        let decided = self.engine.on_validated_batch(&events).await;
        let mut alerts = match &decided {
            Ok(all) => all.iter(),
            Err(_) => [].iter(),
        };
        let outcomes = decoded.iter().zip(msgs).map(|(d, msg)| {
            let step = match (d, &decided) {
                (Err(reason), _) => Err(Outcome::Invalid(reason.clone())),
                (Ok(_), Err(e)) => Err(Outcome::Retry(e.to_string())),
                (Ok((_, meta)), Ok(_)) => match alerts.next() {
                    Some(a) => Ok((meta, a)),
                    None => Err(Outcome::Retry("internal: no decision".into())),
                },
            };
            async move {
                let (meta, alerts) = match step {
                    Ok(v) => v,
                    Err(outcome) => return outcome,
                };
                let alert_ids = alerts.iter().map(|a| a.alert_id.clone()).collect();
                let office_ids = alerts.iter().map(|a| a.office_id.clone()).collect();
                match self
                    .publish_notified(meta, msg, alert_ids, office_ids)
                    .instrument(msg.span.clone())
                    .await
                {
                    Ok(()) => Outcome::Done,
                    Err(e) => Outcome::Retry(e),
                }
            }
        });
        let outcomes: Vec<_> = outcomes.collect();
        futures_util::future::join_all(outcomes).await
    }

    /// The event failed every attempt: tell ingest the report failed at this stage.
    async fn parked(&self, msg: &Message, reason: &str) {
        if let Ok((_, meta)) = decode(&msg.body) {
            nianbao_service::report_failed(&self.bus, &meta, msg, STAGE, reason).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_incomplete_events_are_refused() {
        assert!(decode(b"\xff\xff\xff").is_err());
        assert!(decode(&v1::ReportValidated::default().encode_to_vec()).is_err());
        let ok = v1::ReportValidated {
            meta: Some(v1::EventMeta {
                report_id: "r".into(),
                version: "v".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(decode(&ok.encode_to_vec()).is_ok());
    }
}
