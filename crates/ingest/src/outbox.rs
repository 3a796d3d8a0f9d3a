//! `report.received` with the store-then-publish (outbox) pattern.
//!
//! A report is first stored with `published = 0`, then published with a publisher confirm, then
//! marked published. If the broker is away or refuses the message (no queue bound yet), the report
//! is still accepted: the background task [`republish_loop`] publishes every unpublished row again
//! until the broker confirms it, so a broker blip loses nothing. A crash between the confirm and the
//! mark publishes twice; consumers are idempotent (the message id is
//! `<report_id>:<version>:received`).

use crate::store::{ReportRow, Store};
use nianbao_bus::{Bus, Envelope, Stage};
use nianbao_proto::v1;
use prost::Message;
use std::time::Duration;
use tokio::sync::watch;

/// The `report.received` event of a stored report.
pub fn received_event(r: &ReportRow, now_ms: i64) -> v1::ReportReceived {
    v1::ReportReceived {
        meta: Some(v1::EventMeta {
            report_id: r.report_id.clone(),
            version: r.version.clone(),
            attempt: 1,
            traceparent: r.traceparent.clone(),
            region: r.region.clone(),
            emitted_at_ms: now_ms,
            submitted_at_ms: r.received_at_ms,
        }),
        file_name: r.file_name.clone(),
        agency_hint: r.agency_hint.clone(),
        source_url: r.source_url.clone(),
        published_on: r.published_on.clone(),
        size: u64::try_from(r.size).unwrap_or(0),
    }
}

/// Publishes `report.received` for `r` without marking it; whether the broker confirmed it.
/// Failures are logged, never returned: the row stays unpublished for the loop.
async fn publish_one(bus: &Bus, r: &ReportRow) -> bool {
    let body = received_event(r, nianbao_service::now_ms()).encode_to_vec();
    let env = Envelope {
        message_id: format!("{}:{}:{}", r.report_id, r.version, Stage::Received.as_str()),
        traceparent: (!r.traceparent.is_empty()).then(|| r.traceparent.clone()),
    };
    match bus.publish(Stage::Received, &r.region, &body, &env).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(report_id = %r.report_id, error = %e, "report.received not published yet; will retry");
            false
        }
    }
}

/// Publishes `report.received` for every row concurrently (their confirms overlap) and returns the
/// ids the broker confirmed; the caller marks them.
pub async fn publish_unmarked(bus: &Bus, rows: &[&ReportRow]) -> Vec<String> {
    let confirmed = futures_util::future::join_all(rows.iter().map(|r| publish_one(bus, r))).await;
    rows.iter()
        .zip(confirmed)
        .filter(|(_, ok)| *ok)
        .map(|(r, _)| r.report_id.clone())
        .collect()
}

/// Publishes `report.received` for `r` and, once confirmed, marks the row published. Returns whether
/// it was confirmed; failures are logged, never returned: the row stays unpublished for the loop.
pub async fn publish_received(bus: &Bus, store: &Store, r: &ReportRow) -> bool {
    if !publish_one(bus, r).await {
        return false;
    }
    if let Err(e) = store.mark_published(&r.report_id).await {
        // Published but not marked: the loop publishes it once more, which consumers tolerate.
        tracing::warn!(report_id = %r.report_id, error = %e, "could not mark report as published");
    }
    tracing::debug!(report_id = %r.report_id, region = %r.region, "report.received published");
    true
}

/// Every `interval`, publishes the reports whose `report.received` was never confirmed, oldest
/// first, stopping a round at the first failure (the broker is probably still away). Ends when
/// `stop` turns true.
pub async fn republish_loop(
    bus: Bus,
    store: Store,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Only rows older than one interval: a younger one may be a submission whose publish is
        // still waiting for its confirm, and publishing it here too would send the event twice.
        let cutoff = nianbao_service::now_ms()
            .saturating_sub(i64::try_from(interval.as_millis()).unwrap_or(i64::MAX));
        let pending = match store.unpublished(100, cutoff).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "could not read unpublished reports");
                continue;
            }
        };
        for r in &pending {
            if *stop.borrow() || !publish_received(&bus, &store, r).await {
                break;
            }
        }
    }
}
