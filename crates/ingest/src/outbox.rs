//! `report.received` with the store-then-publish (outbox) pattern.
//!
//! A report is first stored with `published = 0`, then published with a publisher confirm, then
//! marked published. If the broker is away or refuses the message (no queue bound yet), the report
//! is still accepted: the background task [`republish_loop`] publishes every unpublished row again
//! until the broker confirms it, so a broker blip loses nothing. A crash between the confirm and the
//! mark publishes twice; consumers are idempotent (the message id is
//! `<report_id>:<version>:received`). A row that cannot be published never holds up the rows behind
//! it (see [`republish_loop`]).

use crate::store::{ReportRow, Store, StoreError};
use nianbao_bus::{Bus, Envelope, Stage};
use nianbao_proto::v1;
use nianbao_service::Shutdown;
use prost::Message;
use std::collections::HashMap;
use std::time::Duration;

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
        agency_verified: r.agency_verified,
        submitted_by: r.submitted_by.clone(),
        backfill: r.backfill,
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

/// Rounds in which a row failed to publish while other rows were published, before it is given up
/// (marked failed, see [`Store::give_up_publishing`]).
pub const MAX_ROW_STRIKES: u32 = 5;

/// Consecutive failures that end a round in which nothing was published yet: the broker, not the
/// rows, is then the likely cause, and each failed publication may have waited for its confirm.
const BROKER_FAILURES: u32 = 3;

/// A pending row: decoded, or only its id when it does not decode.
enum Pending {
    Row(Box<ReportRow>),
    Corrupt { report_id: String, error: String },
}

/// What the loop remembers about rows that failed to publish.
#[derive(Default)]
struct Failures {
    /// Failed publications per report id: rows that failed before go after the others, so that
    /// they cannot end every round before the rows behind them are tried.
    failed: HashMap<String, u32>,
    /// Rounds in which the row failed while another row was published.
    strikes: HashMap<String, u32>,
}

/// The pending rows, decoded one by one when the batch read fails (a corrupt row): the rows that
/// decode are published, the others are given up.
async fn pending(store: &Store, cutoff: i64) -> Result<Vec<Pending>, StoreError> {
    match store.unpublished(100, cutoff).await {
        Ok(rows) => Ok(rows
            .into_iter()
            .map(|r| Pending::Row(Box::new(r)))
            .collect()),
        Err(e) => {
            tracing::warn!(error = %e, "an unpublished report does not decode; reading them one by one");
            let mut out = Vec::new();
            for id in store.unpublished_ids(100, cutoff).await? {
                match store.get(&id).await {
                    Ok(Some(r)) => out.push(Pending::Row(Box::new(r))),
                    Ok(None) => {}
                    Err(e) => out.push(Pending::Corrupt {
                        report_id: id,
                        error: e.to_string(),
                    }),
                }
            }
            Ok(out)
        }
    }
}

/// Gives a report up (see [`Store::give_up_publishing`]), logging what could not be written.
async fn give_up(store: &Store, report_id: &str, reason: &str) {
    tracing::error!(
        report_id,
        reason,
        "giving up publishing report.received; the report is marked failed"
    );
    if let Err(e) = store
        .give_up_publishing(report_id, reason, nianbao_service::now_ms())
        .await
    {
        tracing::error!(report_id, error = %e, "could not mark the report failed");
    }
}

/// One round of the loop over the pending rows.
async fn republish_round(
    bus: &Bus,
    store: &Store,
    cutoff: i64,
    failures: &mut Failures,
    stop: &Shutdown,
) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for p in pending(store, cutoff).await? {
        match p {
            Pending::Row(r) => rows.push(r),
            // Nothing can be published for a row that does not decode, now or later.
            Pending::Corrupt { report_id, error } => {
                let reason = format!(
                    "报告记录已损坏，无法发布 report.received，报告未进入后续处理；请重新提交 / the \
                     stored report row is corrupt and its report.received cannot be published: {error}"
                );
                give_up(store, &report_id, &reason).await;
            }
        }
    }
    // Oldest first, but rows that failed before after the others (a stable sort keeps the age
    // order within each group).
    rows.sort_by_key(|r| failures.failed.get(&r.report_id).copied().unwrap_or(0));
    let (mut published, mut in_a_row) = (0u32, 0u32);
    let mut failed_now = Vec::new();
    for r in &rows {
        if stop.is_set() || !bus.is_connected() {
            break;
        }
        if publish_received(bus, store, r).await {
            published += 1;
            in_a_row = 0;
            failures.failed.remove(&r.report_id);
            failures.strikes.remove(&r.report_id);
        } else {
            *failures.failed.entry(r.report_id.clone()).or_default() += 1;
            failed_now.push(r.report_id.clone());
            in_a_row += 1;
            if published == 0 && in_a_row >= BROKER_FAILURES {
                break;
            }
        }
    }
    // A row that fails while others go through is the row's problem, not the broker's.
    if published > 0 {
        for id in failed_now {
            let strikes = failures.strikes.entry(id.clone()).or_default();
            *strikes += 1;
            if *strikes >= MAX_ROW_STRIKES {
                let reason = format!(
                    "report.received 连续 {MAX_ROW_STRIKES} 轮发布失败（同期其他报告发布成功），报告未进入\
                     后续处理；请查看 ingest 日志后重新提交 / report.received failed to publish in \
                     {MAX_ROW_STRIKES} rounds while other reports were published; see the ingest log"
                );
                give_up(store, &id, &reason).await;
                failures.failed.remove(&id);
                failures.strikes.remove(&id);
            }
        }
    }
    Ok(())
}

/// Every `interval`, publishes the reports whose `report.received` was never confirmed, oldest
/// first. One row never holds up the others: a row that does not decode is given up at once (its
/// report marked failed), a row whose publication fails is tried after the others next time, and
/// given up after failing in [`MAX_ROW_STRIKES`] rounds in which other rows were published. A
/// round ends early when the broker is away (disconnected, or the first publications all failed).
/// Ends when `stop` turns true.
pub async fn republish_loop(bus: Bus, store: Store, interval: Duration, stop: Shutdown) {
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = Failures::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.wait() => return,
        }
        // Only rows older than one interval: a younger one may be a submission whose publish is
        // still waiting for its confirm, and publishing it here too would send the event twice.
        let cutoff = nianbao_service::now_ms()
            .saturating_sub(i64::try_from(interval.as_millis()).unwrap_or(i64::MAX));
        if let Err(e) = republish_round(&bus, &store, cutoff, &mut failures, &stop).await {
            tracing::warn!(error = %e, "could not read unpublished reports");
        }
    }
}
