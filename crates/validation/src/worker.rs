//! The bus consumer: `report.extracted` in, `report.validated` (or `report.failed`) out.

use crate::*;
use nianbao_bus::{Bus, Envelope, Handler, Message, Outcome, Stage};
use nianbao_directory::Basis;
use nianbao_model::{Extraction, Finding};
use nianbao_proto::v1;
use nianbao_service::{Metrics, now_ms};
use prost::Message as _;
use std::sync::Arc;
use tracing::Instrument;

/// The `nianbao.validation` consumer.
pub struct Worker {
    validator: Arc<Validator>,
    bus: Bus,
    /// Where findings are counted.
    metrics: Metrics,
}

impl Worker {
    pub fn new(validator: Arc<Validator>, bus: Bus) -> Worker {
        Worker {
            validator,
            bus,
            metrics: Metrics::default(),
        }
    }

    /// This worker, counting the findings of the reports it validates into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Worker {
        self.metrics = metrics;
        self
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A decoded `report.extracted` event.
struct Extracted {
    meta: v1::EventMeta,
    ev: v1::ReportExtracted,
    x: Extraction,
}

fn decode_extracted(msg: &Message) -> Result<Extracted, String> {
    let ev = v1::ReportExtracted::decode(msg.body.as_slice())
        .map_err(|e| format!("not a ReportExtracted: {e}"))?;
    let Some(meta) = ev.meta.clone().filter(|m| !m.report_id.is_empty()) else {
        return Err("ReportExtracted without report id".into());
    };
    let x: Extraction = serde_json::from_slice(&ev.extraction_json)
        .map_err(|e| format!("extraction_json is not an Extraction: {e}"))?;
    Ok(Extracted { meta, ev, x })
}

impl Worker {
    /// Publishes `report.validated` for one validated report.
    async fn publish(&self, msg: &Message, e: &Extracted, findings: &[Finding]) -> Outcome {
        let meta = &e.meta;
        // The same decision as the one the rules keyed the report by (a lookup, not stored).
        let who = self.validator.who(&e.ev.agency_hint, &meta.region, &e.x);
        let agency = who.agency;
        // Only a crawler submits unverified, names the agency and states a publication date (an
        // agency may not state the date; an operator naming an agency is verified).
        let witnessed = !e.ev.agency_verified
            && agency.is_some()
            && who.basis == Basis::Submission
            && !e.ev.published_on.trim().is_empty();
        let out = v1::ReportValidated {
            meta: Some(v1::EventMeta {
                attempt: 1,
                emitted_at_ms: now_ms(),
                ..meta.clone()
            }),
            agency: agency.map_or_else(|| e.ev.agency.clone(), |a| a.name.clone()),
            year: e.ev.year,
            findings: findings.iter().map(v1::Finding::from).collect(),
            published_on: e.ev.published_on.clone(),
            agency_verified: e.ev.agency_verified,
            agency_id: agency.map(|a| a.id.clone()).unwrap_or_default(),
            publication_witnessed: witnessed,
            backfill: e.ev.backfill,
        };
        let env = Envelope {
            message_id: format!("{}:{}:validated", meta.report_id, meta.version),
            traceparent: non_empty(&meta.traceparent).or_else(|| msg.traceparent.clone()),
        };
        match self
            .bus
            .publish(Stage::Validated, &meta.region, &out.encode_to_vec(), &env)
            .await
        {
            Ok(()) => {
                tracing::debug!(report_id = %meta.report_id, findings = findings.len(), "validated");
                for f in findings {
                    self.metrics.finding(f.rule.as_str(), f.severity.as_str());
                }
                Outcome::Done
            }
            Err(e) => Outcome::Retry(format!("publish report.validated: {e}")),
        }
    }
}

impl Handler for Worker {
    async fn handle(&self, msg: &Message) -> Outcome {
        self.handle_batch(std::slice::from_ref(msg))
            .await
            .pop()
            .unwrap_or_else(|| Outcome::Retry("internal: no outcome".into()))
    }

    /// Validation reads and writes the store and publishes for every report: batches share the
    /// round trips (see [`Validator::validate_batch`]) and their publisher confirms overlap.
    fn batched(&self) -> bool {
        true
    }

    async fn handle_batch(&self, msgs: &[Message]) -> Vec<Outcome> {
        let decoded: Vec<Result<Extracted, String>> = msgs.iter().map(decode_extracted).collect();
        let valid: Vec<&Extracted> = decoded.iter().filter_map(|d| d.as_ref().ok()).collect();
        let inputs: Vec<Input<'_>> = valid
            .iter()
            .map(|e| Input {
                report_id: &e.meta.report_id,
                version: &e.meta.version,
                agency_hint: &e.ev.agency,
                named: &e.ev.agency_hint,
                region: &e.meta.region,
                year_hint: e.ev.year,
                x: &e.x,
            })
            .collect();
        let mut validated = self.validator.validate_batch(&inputs).await.into_iter();
        let outcomes = decoded.iter().zip(msgs).map(|(d, msg)| {
            let result = d.as_ref().map(|e| (e, validated.next()));
            async move {
                match result {
                    Err(invalid) => Outcome::Invalid(invalid.clone()),
                    Ok((e, Some(Ok(findings)))) => {
                        // In the delivery's span: the next stage's trace continues from it.
                        self.publish(msg, e, &findings)
                            .instrument(msg.span.clone())
                            .await
                    }
                    Ok((_, Some(Err(err)))) => Outcome::Retry(format!("store: {err}")),
                    Ok((_, None)) => Outcome::Retry("internal: no validation result".into()),
                }
            }
        });
        let outcomes: Vec<_> = outcomes.collect();
        futures_util::future::join_all(outcomes).await
    }

    async fn parked(&self, msg: &Message, reason: &str) {
        publish_failed(&self.bus, msg, reason).await;
    }
}

/// Publishes `report.failed` for a message parked after its last attempt (ingest marks the report).
async fn publish_failed(bus: &Bus, msg: &Message, reason: &str) {
    if let Some(meta) = v1::ReportExtracted::decode(msg.body.as_slice())
        .ok()
        .and_then(|e| e.meta)
    {
        nianbao_service::report_failed(bus, &meta, msg, STAGE, reason).await;
    }
}
