//! Several notification instances on one PostgreSQL database.
//!
//! Every instance serves the gRPC API (lists, acknowledgements, alert streams): that state is the
//! database's. The work that decides and sends (consuming `report.validated`, the timers that
//! escalate, send digests and check the roster, delivering notices) runs in one instance at a
//! time: the holder of the [`WORKER_LEASE`] ([`nianbao_service::lead`]). One deciding instance is
//! what keeps alerts single (two instances deciding about one agency at once could both create or
//! both resolve) and the timers once-only, and notification is far from the pipeline's
//! bottleneck. The others stand by; when the holder stops it gives the lease up and another takes
//! over at once, and when it crashes another takes over once its claim ends (`lease_ttl_ms`). The
//! broker redelivers what the old holder had not acknowledged; deliveries it had queued are
//! resumed by the new holder from the database.
//!
//! An instance that stands by still streams alerts: it follows the `alerts` table
//! ([`follow_alerts`]) and passes new rows on to its StreamAlerts subscribers.

use crate::alert::AlertRecord;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// The lease's name in the `leases` table.
pub const WORKER_LEASE: &str = "notification.worker";

/// How far back [`follow_alerts`] reads again at each round: alerts are written in batches whose
/// transactions may commit a little out of their `created_at_ms` order.
const LOOKBACK_MS: i64 = 5_000;

/// Alerts read per query.
const PAGE: i64 = 500;

/// While this instance does not lead, reads the alerts other instances create (every `every`) and
/// sends the new ones to `stream`, as the deciding instance's engine does for its own.
pub async fn follow_alerts(
    store: Store,
    stream: broadcast::Sender<Arc<AlertRecord>>,
    mut leading: watch::Receiver<bool>,
    stop: nianbao_service::Shutdown,
    every: Duration,
) {
    // Alert id → created_at_ms of those passed on within the look-back window.
    let mut seen: HashMap<String, i64> = HashMap::new();
    // The newest created_at_ms passed on.
    let mut newest = nianbao_service::now_ms();
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.wait() => return,
        }
        if *leading.borrow_and_update() {
            // This instance's engine streams what it creates; start over from now when it stops.
            seen.clear();
            newest = nianbao_service::now_ms();
            continue;
        }
        let mut after = (newest.saturating_sub(LOOKBACK_MS), String::new());
        loop {
            let page = match store.created_after((after.0, &after.1), PAGE).await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read new alerts for the streams");
                    break;
                }
            };
            let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= PAGE;
            for a in page {
                after = (a.created_at_ms, a.alert_id.clone());
                newest = newest.max(a.created_at_ms);
                if seen.insert(a.alert_id.clone(), a.created_at_ms).is_none() {
                    // No subscriber is not an error.
                    let _ = stream.send(Arc::new(a));
                }
            }
            if !full {
                break;
            }
        }
        seen.retain(|_, at| *at >= newest.saturating_sub(LOOKBACK_MS));
    }
}
