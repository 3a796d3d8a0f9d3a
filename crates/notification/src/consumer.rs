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
    /// The deliveries that arrive together are handled concurrently (the engine orders the events
    /// of one report) and settled with one ack.
    fn batched(&self) -> bool {
        true
    }

    async fn handle(&self, msg: &Message) -> Outcome {
        let (ev, meta) = match decode(&msg.body) {
            Ok(v) => v,
            Err(reason) => return Outcome::Invalid(reason),
        };
        let alerts = match self.engine.on_validated(&ev, &meta).await {
            Ok(a) => a,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let alert_ids = alerts.iter().map(|a| a.alert_id.clone()).collect();
        let office_ids = alerts.iter().map(|a| a.office_id.clone()).collect();
        match self
            .publish_notified(&meta, msg, alert_ids, office_ids)
            .await
        {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Retry(e),
        }
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
