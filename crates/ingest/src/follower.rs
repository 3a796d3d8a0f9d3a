//! The status follower: consumes `nianbao.ingest.status` (extracted, validated, notified and failed
//! events of every region) and records each report's progress in the store.

use crate::status::{Status, StatusChange};
use crate::store::{Applied, EventData, StatusEvent, Store};
use nianbao_bus::{Handler, Message, Outcome, QueueSpec, Stage};
use nianbao_directory::MatchKind;
use nianbao_model::StoredFinding;
use nianbao_proto::v1;
use prost::Message as _;

/// The work queue of the follower and the events it takes.
pub fn queue_spec() -> QueueSpec {
    QueueSpec::new(
        "nianbao.ingest.status",
        &[
            Stage::Extracted.pattern(),
            Stage::Validated.pattern(),
            Stage::Notified.pattern(),
            Stage::Failed.pattern(),
        ],
    )
}

/// One decoded status event.
#[derive(Debug)]
struct Event {
    meta: v1::EventMeta,
    change: StatusChange,
    data: EventData,
}

/// Decodes a delivery by the stage named in its routing key (`report.<stage>.<region>`).
fn decode(msg: &Message) -> Result<Event, String> {
    let stage = msg
        .routing_key
        .split('.')
        .nth(1)
        .ok_or_else(|| format!("routing key {:?} names no stage", msg.routing_key))?;
    let body = msg.body.as_slice();
    let bad = |e: prost::DecodeError| format!("not a valid {stage} event: {e}");
    let (meta, change, data) = match stage {
        "extracted" => {
            let e = v1::ReportExtracted::decode(body).map_err(bad)?;
            let data = EventData {
                agency: e.agency,
                year: i64::from(e.year),
                ..EventData::default()
            };
            (e.meta, StatusChange::Reached(Status::Extracted), data)
        }
        "validated" => {
            let e = v1::ReportValidated::decode(body).map_err(bad)?;
            let data = EventData {
                agency: e.agency,
                agency_id: e.agency_id,
                year: i64::from(e.year),
                findings: Some(e.findings.iter().map(StoredFinding::from).collect()),
                ..EventData::default()
            };
            (e.meta, StatusChange::Reached(Status::Validated), data)
        }
        "notified" => {
            let e = v1::ReportNotified::decode(body).map_err(bad)?;
            let data = EventData {
                alert_ids: Some(e.alert_ids),
                ..EventData::default()
            };
            (e.meta, StatusChange::Reached(Status::Notified), data)
        }
        "failed" => {
            let e = v1::ReportFailed::decode(body).map_err(bad)?;
            let change = StatusChange::Failed {
                stage: e.stage,
                reason: e.reason,
            };
            (e.meta, change, EventData::default())
        }
        other => return Err(format!("unexpected stage {other:?} on the status queue")),
    };
    let meta = meta.ok_or_else(|| format!("{stage} event without meta"))?;
    if meta.report_id.is_empty() {
        return Err(format!("{stage} event without a report id"));
    }
    Ok(Event { meta, change, data })
}

/// Applies status events to the store.
pub struct StatusFollower {
    pub store: Store,
    /// Resolves an extracted agency to the office responsible for it (which offices may read the
    /// report); `None`: no directory configured, reports get no office.
    pub directory: Option<std::sync::Arc<nianbao_directory::Directory>>,
}

impl StatusFollower {
    /// The event with the office responsible for its agency filled in.
    fn with_office(&self, mut ev: Event) -> Event {
        if let Some(d) = &self.directory {
            if let Some(a) = d.agency_by_id(&ev.data.agency_id) {
                ev.data.office_id = d.route_to(a, MatchKind::Name, None).office.id.clone();
            } else if !ev.data.agency.is_empty() {
                ev.data.office_id = office_of(d, &ev.data.agency);
            }
        }
        ev
    }
}

/// The office responsible for `agency`: the directory's route (its default office when the agency
/// cannot be placed, as notification routes its alerts).
/// `agency` is an id (an agency's credential names its id) or a name.
pub fn office_of(directory: &nianbao_directory::Directory, agency: &str) -> String {
    match directory.agency_by_id(agency) {
        Some(a) => directory
            .route_to(a, MatchKind::Name, None)
            .office
            .id
            .clone(),
        None => directory.resolve(agency).office.id.clone(),
    }
}

fn log_applied(ev: &Event, applied: &Applied) {
    match applied {
        Applied::UnknownReport => {
            tracing::debug!(report_id = %ev.meta.report_id, "status event of a report not submitted here; ignored");
        }
        Applied::OtherVersion => {
            tracing::warn!(report_id = %ev.meta.report_id, version = %ev.meta.version, "status event for other bytes than the stored ones; ignored");
        }
        Applied::Stored { status, moved } => {
            tracing::debug!(report_id = %ev.meta.report_id, %status, moved, "report status");
        }
    }
}

impl Handler for StatusFollower {
    async fn handle(&self, msg: &Message) -> Outcome {
        let ev = match decode(msg).map(|e| self.with_office(e)) {
            Ok(ev) => ev,
            Err(reason) => return Outcome::Invalid(reason),
        };
        let now = nianbao_service::now_ms();
        match self
            .store
            .apply(
                &ev.meta.report_id,
                &ev.meta.version,
                &ev.change,
                &ev.data,
                now,
            )
            .await
        {
            Ok(applied) => {
                log_applied(&ev, &applied);
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }

    /// Status events come three per report; applying a batch in one read and one write keeps the
    /// follower's database work per report small.
    fn batched(&self) -> bool {
        true
    }

    async fn handle_batch(&self, msgs: &[Message]) -> Vec<Outcome> {
        let decoded: Vec<Result<Event, String>> = msgs
            .iter()
            .map(|m| decode(m).map(|e| self.with_office(e)))
            .collect();
        let events: Vec<&Event> = decoded.iter().filter_map(|d| d.as_ref().ok()).collect();
        let batch: Vec<StatusEvent<'_>> = events
            .iter()
            .map(|ev| StatusEvent {
                report_id: &ev.meta.report_id,
                version: &ev.meta.version,
                change: &ev.change,
                data: &ev.data,
            })
            .collect();
        let applied = self
            .store
            .apply_batch(&batch, nianbao_service::now_ms())
            .await;
        let mut applied = match applied {
            Ok(a) => a.into_iter(),
            Err(e) => {
                let reason = e.to_string();
                return decoded
                    .into_iter()
                    .map(|d| match d {
                        Ok(_) => Outcome::Retry(reason.clone()),
                        Err(invalid) => Outcome::Invalid(invalid),
                    })
                    .collect();
            }
        };
        decoded
            .iter()
            .map(|d| match d {
                Ok(ev) => {
                    if let Some(a) = applied.next() {
                        log_applied(ev, &a);
                    }
                    Outcome::Done
                }
                Err(invalid) => Outcome::Invalid(invalid.clone()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(key: &str, body: Vec<u8>) -> Message {
        Message {
            body,
            routing_key: key.into(),
            attempt: 1,
            traceparent: None,
            message_id: None,
            redelivered: false,
            dead_letter: None,
            span: tracing::Span::none(),
        }
    }

    #[test]
    fn decodes_by_routing_key_and_rejects_garbage() {
        let ev = v1::ReportFailed {
            meta: Some(v1::EventMeta {
                report_id: "r1".into(),
                ..Default::default()
            }),
            stage: "extraction".into(),
            reason: "timeout".into(),
        };
        let d = decode(&msg("report.failed.410000", ev.encode_to_vec())).unwrap();
        assert_eq!(d.meta.report_id, "r1");
        assert!(matches!(d.change, StatusChange::Failed { .. }));
        assert!(decode(&msg("report.validated.0", vec![0xff, 0xff, 0xff])).is_err());
        assert!(decode(&msg("report.extracted.0", Vec::new())).is_err()); // no meta
        assert!(decode(&msg("nonsense", Vec::new())).is_err());
    }
}
