//! Metrics computed from the store at each scrape: alerts by office, kind and status; delivery
//! attempts by channel and outcome; and, per channel, the failures since its last success and
//! whether it counts as failing. Served with the service's other metrics on `[metrics] listen`
//! ([`render_openmetrics`]), and on their own, in the Prometheus text format, on `metrics_listen`.

use crate::store::{Store, StoreError};
use std::fmt::Write as _;
use tokio::sync::watch;

/// Escapes a label value (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text (Prometheus text format, for `metrics_listen`).
pub async fn render(store: &Store, failing_after: u32) -> Result<String, StoreError> {
    render_as(store, failing_after, None).await
}

/// The same families as OpenMetrics text without the closing `# EOF`, each series labelled
/// `service="<service>"`: what the service's shared `/metrics` endpoint appends to its registry.
pub async fn render_openmetrics(
    store: &Store,
    failing_after: u32,
    service: &str,
) -> Result<String, StoreError> {
    render_as(store, failing_after, Some(service)).await
}

/// Both expositions: they differ only in the `service` label and in how a counter's family is
/// named (OpenMetrics names it without the `_total` its samples carry).
async fn render_as(
    store: &Store,
    failing_after: u32,
    service: Option<&str>,
) -> Result<String, StoreError> {
    let counts = store.alert_counts().await?;
    let health = store.channel_health().await?;
    let svc = service
        .map(|s| format!("service=\"{}\",", label(s)))
        .unwrap_or_default();
    let mut out = String::new();
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let name = match service {
            Some(_) => name.strip_suffix("_total").unwrap_or(name),
            None => name,
        };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(
        &mut out,
        "nianbao_notification_alerts",
        "gauge",
        "Alerts in the store.",
    );
    for (office, kind, status, n) in counts {
        let _ = writeln!(
            out,
            "nianbao_notification_alerts{{{svc}office=\"{}\",kind=\"{}\",status=\"{}\"}} {n}",
            label(&office),
            label(&kind),
            label(&status)
        );
    }
    family(
        &mut out,
        "nianbao_notification_deliveries_total",
        "counter",
        "Delivery attempts by outcome.",
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
                "nianbao_notification_deliveries_total{{{svc}channel=\"{ch}\",outcome=\"{outcome}\"}} {n}"
            );
        }
    }
    family(
        &mut out,
        "nianbao_notification_channel_pending",
        "gauge",
        "Deliveries queued or retrying now.",
    );
    for h in &health {
        let _ = writeln!(
            out,
            "nianbao_notification_channel_pending{{{svc}channel=\"{}\"}} {}",
            label(&h.channel),
            h.pending
        );
    }
    family(
        &mut out,
        "nianbao_notification_channel_consecutive_failures",
        "gauge",
        "Failed attempts since the channel's last success.",
    );
    for h in &health {
        let _ = writeln!(
            out,
            "nianbao_notification_channel_consecutive_failures{{{svc}channel=\"{}\"}} {}",
            label(&h.channel),
            h.consecutive_failures
        );
    }
    family(
        &mut out,
        "nianbao_notification_channel_failing",
        "gauge",
        "1 when the channel failed failing_after times in a row.",
    );
    for h in &health {
        let failing = u8::from(h.consecutive_failures >= u64::from(failing_after));
        let _ = writeln!(
            out,
            "nianbao_notification_channel_failing{{{svc}channel=\"{}\"}} {failing}",
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
