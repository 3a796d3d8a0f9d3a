//! Metrics computed from the store at each scrape: alerts by office, kind and status; delivery
//! attempts by channel and outcome; and, per channel, the failures since its last success and
//! whether it counts as failing. Served with the service's other metrics on `[metrics] listen`
//! ([`render_openmetrics`]).

use crate::store::{Store, StoreError};
use std::fmt::Write as _;

/// Escapes a label value (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The same families as OpenMetrics text without the closing `# EOF`, each series labelled
/// `service="<service>"`: what the service's shared `/metrics` endpoint appends to its registry.
pub async fn render_openmetrics(
    store: &Store,
    failing_after: u32,
    service: &str,
) -> Result<String, StoreError> {
    let counts = store.alert_counts().await?;
    let health = store.channel_health().await?;
    let svc = format!("service=\"{}\",", label(service));
    let mut out = String::new();
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        // OpenMetrics names a counter's family without the `_total` its samples carry.
        let name = name.strip_suffix("_total").unwrap_or(name);
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
