//! The `report.validated` consumer: decide, store, deliver, tell ingest.
//!
//! Per event: decode (garbage → parked at once), keep the findings at or above the threshold, and if
//! any remain create ONE alert per office the report concerns (today: the agency's supervising office
//! from the directory, else the default office), idempotently — the store's unique key makes a
//! redelivered event find the alert it created before, and the delivery log keeps its channels from
//! delivering twice. Then `report.notified` (also with empty lists when nothing alerted, so ingest can
//! mark the report notified) and ack. A database or broker failure is a transient error: the event is
//! retried later.

use crate::alert::{
    AlertRecord, FindingRecord, KIND_FINDINGS, STATUS_OPEN, alerting_findings, format_message,
};
use crate::deliver::{Channel, Deliverer};
use crate::directory::{Directory, Office};
use nianbao_bus::{Bus, Envelope, Handler, Message, Outcome, Stage};
use nianbao_model::Severity;
use nianbao_proto::v1;
use prost::Message as _;
use std::sync::Arc;
use tokio::sync::broadcast;

/// The stage name this service reports in `ReportFailed.stage`.
pub const STAGE: &str = "notification";

pub struct NotifyHandler {
    pub(crate) store: crate::store::Store,
    pub(crate) directory: Arc<Directory>,
    pub(crate) deliverer: Arc<Deliverer>,
    pub(crate) bus: Bus,
    pub(crate) min_severity: Severity,
    pub(crate) default_channels: Vec<Channel>,
    pub(crate) alerts: broadcast::Sender<Arc<AlertRecord>>,
}

impl NotifyHandler {
    /// The channels of an office: its own list, else the configured defaults. Entries were checked
    /// when the directory was loaded; one that still does not parse is skipped with a warning.
    fn channels(&self, office: &Office) -> Vec<Channel> {
        if office.channels.is_empty() {
            return self.default_channels.clone();
        }
        office
            .channels
            .iter()
            .filter_map(|c| match c.parse() {
                Ok(ch) => Some(ch),
                Err(e) => {
                    tracing::warn!(office = %office.id, error = %e, "skipping a channel");
                    None
                }
            })
            .collect()
    }

    /// Creates (or finds, on redelivery) the alert for one office, and delivers it.
    async fn alert_office(
        &self,
        ev: &v1::ReportValidated,
        meta: &v1::EventMeta,
        target: (&Office, &str),
        route_note: &str,
        findings: &[FindingRecord],
    ) -> Result<AlertRecord, String> {
        let (office, agency) = target;
        let alert_id =
            AlertRecord::id_for(&meta.report_id, &meta.version, &office.id, KIND_FINDINGS);
        let alert = AlertRecord {
            alert_id,
            office_id: office.id.clone(),
            office_name: office.name.clone(),
            report_id: meta.report_id.clone(),
            version: meta.version.clone(),
            agency: agency.to_string(),
            year: ev.year,
            region: meta.region.clone(),
            status: STATUS_OPEN.to_string(),
            kind: KIND_FINDINGS.to_string(),
            findings: findings.to_vec(),
            message: format_message(agency, ev.year, findings, route_note),
            route_note: route_note.to_string(),
            created_at_ms: nianbao_service::now_ms(),
            acknowledged_at_ms: 0,
            acknowledged_by: String::new(),
        };
        let created = self
            .store
            .insert_alert(&alert)
            .await
            .map_err(|e| e.to_string())?;
        let alert = if created {
            tracing::info!(alert_id = %alert.alert_id, office = %office.id, report_id = %meta.report_id, findings = findings.len(), "alert created");
            // No receiver (no stream open) is not an error.
            let _ = self.alerts.send(Arc::new(alert.clone()));
            alert
        } else {
            // Redelivery: the stored alert is the one that counts (same id, first creation time).
            self.store
                .find_alert(&meta.report_id, &meta.version, &office.id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("alert {} vanished after a conflict", alert.alert_id))?
        };
        self.deliverer
            .deliver(&alert, &self.channels(office))
            .await
            .map_err(|e| e.to_string())?;
        Ok(alert)
    }

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
    async fn handle(&self, msg: &Message) -> Outcome {
        let (ev, meta) = match decode(&msg.body) {
            Ok(v) => v,
            Err(reason) => return Outcome::Invalid(reason),
        };
        let findings = alerting_findings(&ev.findings, self.min_severity);
        let mut alert_ids = Vec::new();
        let mut office_ids = Vec::new();
        if !findings.is_empty() {
            let route = self.directory.resolve(&ev.agency);
            if let Some(note) = &route.note {
                tracing::debug!(report_id = %meta.report_id, agency = %ev.agency, office = %route.office.id, how = %route.how, %note, "agency routed");
            }
            let note = route.note.clone().unwrap_or_default();
            // The office knows the agency by the directory's name; the reported form, if different,
            // is in the note.
            let agency = route.agency.unwrap_or(ev.agency.as_str());
            // One target today; escalation (a later issue) adds the offices above.
            let targets: Vec<&Office> = vec![route.office];
            for office in targets {
                match self
                    .alert_office(&ev, &meta, (office, agency), &note, &findings)
                    .await
                {
                    Ok(a) => {
                        alert_ids.push(a.alert_id);
                        office_ids.push(a.office_id);
                    }
                    Err(e) => return Outcome::Retry(e),
                }
            }
        }
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
