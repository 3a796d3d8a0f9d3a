//! Metrics in the Prometheus text format (`GET /metrics` on `metrics_listen`), computed from the
//! store at each scrape: alerts by office, kind and status; delivery attempts by channel and outcome;
//! and, per channel, the failures since its last success and whether it counts as failing.

use crate::store::{Store, StoreError};
use std::fmt::Write as _;
use tokio::sync::watch;

/// Escapes a label value (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text.
pub async fn render(store: &Store, failing_after: u32) -> Result<String, StoreError> {
    let mut out = String::new();
    out.push_str(
        "# HELP nianbao_notification_alerts Alerts in the store.\n\
         # TYPE nianbao_notification_alerts gauge\n",
    );
    for (office, kind, status, n) in store.alert_counts().await? {
        let _ = writeln!(
            out,
            "nianbao_notification_alerts{{office=\"{}\",kind=\"{}\",status=\"{}\"}} {n}",
            label(&office),
            label(&kind),
            label(&status)
        );
    }
    let health = store.channel_health().await?;
    out.push_str(
        "# HELP nianbao_notification_deliveries_total Delivery attempts by outcome.\n\
         # TYPE nianbao_notification_deliveries_total counter\n",
    );
    for h in &health {
        let ch = label(&h.channel);
        for (outcome, n) in [
            ("delivered", h.delivered),
            ("failed", h.failed),
            ("gave_up", h.gave_up),
        ] {
            let _ = writeln!(
                out,
                "nianbao_notification_deliveries_total{{channel=\"{ch}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
    out.push_str(
        "# HELP nianbao_notification_channel_pending Deliveries queued or retrying now.\n\
         # TYPE nianbao_notification_channel_pending gauge\n",
    );
    for h in &health {
        let _ = writeln!(
            out,
            "nianbao_notification_channel_pending{{channel=\"{}\"}} {}",
            label(&h.channel),
            h.pending
        );
    }
    out.push_str(
        "# HELP nianbao_notification_channel_consecutive_failures Failed attempts since the channel's last success.\n\
         # TYPE nianbao_notification_channel_consecutive_failures gauge\n",
    );
    for h in &health {
        let _ = writeln!(
            out,
            "nianbao_notification_channel_consecutive_failures{{channel=\"{}\"}} {}",
            label(&h.channel),
            h.consecutive_failures
        );
    }
    out.push_str(
        "# HELP nianbao_notification_channel_failing 1 when the channel failed failing_after times in a row.\n\
         # TYPE nianbao_notification_channel_failing gauge\n",
    );
    for h in &health {
        let failing = u8::from(h.consecutive_failures >= u64::from(failing_after));
        let _ = writeln!(
            out,
            "nianbao_notification_channel_failing{{channel=\"{}\"}} {failing}",
            label(&h.channel)
        );
    }
    Ok(out)
}

#[derive(Clone)]
struct MetricsState {
    store: Store,
    failing_after: u32,
}

async fn metrics(
    axum::extract::State(s): axum::extract::State<MetricsState>,
) -> (
    axum::http::StatusCode,
    [(&'static str, &'static str); 1],
    String,
) {
    let ct = [("content-type", "text/plain; version=0.0.4; charset=utf-8")];
    match render(&s.store, s.failing_after).await {
        Ok(text) => (axum::http::StatusCode::OK, ct, text),
        Err(e) => {
            tracing::warn!(error = %e, "metrics scrape failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                ct,
                format!("# {e}\n"),
            )
        }
    }
}

/// Serves `GET /metrics` on `listener` until `stop`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    failing_after: u32,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(MetricsState {
            store,
            failing_after,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(crate::wait_stop(stop))
        .await
}
