//! Channels: how an alert reaches its office.
//!
//! - `inbox`: the alert is in the store, listed and streamed over gRPC. Always the case; naming it in
//!   a channel list only records it as a delivery.
//! - `outbox`: one JSON line per alert appended to `<data_dir>/outbox.jsonl` (and logged), for a
//!   deployment that forwards alerts with its own tooling, or a person tailing the file.
//! - `stdout`: the same JSON line on standard output (containers, development).
//! - `webhook:<url>`: the alert JSON POSTed to the URL by a background task, with a timeout and
//!   retries with exponential backoff. Every attempt is a row in `deliveries`. A failing webhook never
//!   holds up the queue and never loses the alert: it stays in the store and the inbox, and a delivery
//!   interrupted by a restart is resumed at start-up.
//!
//! Idempotency: a channel that already has a delivery row for an alert is not delivered again when the
//! event is redelivered. The outbox and stdout are written before their row is recorded, so a crash
//! exactly in between can write a line twice (at-least-once; the line carries the alert id).

use crate::alert::AlertRecord;
use crate::store::{DeliveryStatus, Store, StoreError};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A delivery channel as directory files and the configuration name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Inbox,
    Outbox,
    Stdout,
    Webhook(String),
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "inbox" => Ok(Channel::Inbox),
            "outbox" => Ok(Channel::Outbox),
            "stdout" => Ok(Channel::Stdout),
            other => match other.strip_prefix("webhook:") {
                Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                    Ok(Channel::Webhook(url.to_string()))
                }
                Some(url) => Err(format!("webhook URL {url:?} is not http(s)")),
                None => Err(format!(
                    "unknown channel {other:?} (inbox, outbox, stdout, webhook:<url>)"
                )),
            },
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Inbox => f.write_str("inbox"),
            Channel::Outbox => f.write_str("outbox"),
            Channel::Stdout => f.write_str("stdout"),
            Channel::Webhook(url) => write!(f, "webhook:{url}"),
        }
    }
}

#[derive(Debug, Error)]
pub enum DeliverError {
    #[error("writing the outbox {path}: {source}")]
    Outbox {
        path: String,
        source: std::io::Error,
    },
    #[error("writing to stdout: {0}")]
    Stdout(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the HTTP client: {0}")]
    Client(reqwest::Error),
}

/// Webhook sending settings.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

/// Delivers alerts through their channels; owns the background webhook tasks.
pub struct Deliverer {
    store: Store,
    outbox: PathBuf,
    outbox_lock: tokio::sync::Mutex<()>,
    client: reqwest::Client,
    webhook: WebhookSettings,
    stop: watch::Receiver<bool>,
    tasks: Mutex<JoinSet<()>>,
    /// Where failed delivery attempts are counted (by channel kind, never by URL).
    metrics: nianbao_service::Metrics,
}

impl Deliverer {
    pub fn new(
        store: Store,
        outbox: PathBuf,
        webhook: WebhookSettings,
        stop: watch::Receiver<bool>,
    ) -> Result<Deliverer, DeliverError> {
        let client = reqwest::Client::builder()
            .timeout(webhook.timeout)
            .user_agent(concat!("nianbao-notification/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(DeliverError::Client)?;
        Ok(Deliverer {
            store,
            outbox,
            outbox_lock: tokio::sync::Mutex::new(()),
            client,
            webhook,
            stop,
            tasks: Mutex::new(JoinSet::new()),
            metrics: nianbao_service::Metrics::default(),
        })
    }

    /// This deliverer, counting failed delivery attempts into `metrics`
    /// (`nianbao_channel_delivery_failures_total{channel}`).
    pub fn with_metrics(mut self, metrics: nianbao_service::Metrics) -> Deliverer {
        self.metrics = metrics;
        self
    }

    /// Delivers `alert` through every channel that has no delivery recorded yet. Webhooks are only
    /// queued here (they run in the background); an error means a local channel (outbox, stdout, the
    /// database) failed, which is worth retrying the event for.
    pub async fn deliver(
        self: &Arc<Self>,
        alert: &AlertRecord,
        channels: &[Channel],
    ) -> Result<(), DeliverError> {
        let done: Vec<String> = self
            .store
            .deliveries(&alert.alert_id)
            .await?
            .into_iter()
            .filter(|d| {
                d.channel.starts_with("webhook:") || d.status == DeliveryStatus::Delivered.as_str()
            })
            .map(|d| d.channel)
            .collect();
        let line = alert.to_json().to_string();
        for ch in channels {
            let name = ch.to_string();
            if done.contains(&name) {
                continue;
            }
            match ch {
                Channel::Inbox => {}
                Channel::Outbox => {
                    if let Err(e) = self.append_outbox(&line).await {
                        self.metrics.channel_failure("outbox");
                        return Err(e);
                    }
                    tracing::debug!(alert_id = %alert.alert_id, office = %alert.office_id, outbox = %self.outbox.display(), message = %alert.message, "alert written to the outbox");
                }
                Channel::Stdout => {
                    let mut out = tokio::io::stdout();
                    let written = async {
                        out.write_all(format!("{line}\n").as_bytes()).await?;
                        out.flush().await
                    };
                    if let Err(e) = written.await {
                        self.metrics.channel_failure("stdout");
                        return Err(DeliverError::Stdout(e));
                    }
                }
                Channel::Webhook(url) => {
                    self.store
                        .record_delivery(&alert.alert_id, &name, 0, DeliveryStatus::Pending, "")
                        .await?;
                    self.spawn_webhook(alert.clone(), url.clone(), 1);
                    continue;
                }
            }
            self.store
                .record_delivery(&alert.alert_id, &name, 1, DeliveryStatus::Delivered, "")
                .await?;
        }
        Ok(())
    }

    /// Restarts webhook deliveries that a previous run left unfinished.
    pub async fn resume_pending(self: &Arc<Self>) -> Result<usize, DeliverError> {
        let pending = self.store.pending_webhooks().await?;
        let mut n = 0;
        for p in pending {
            let Some(url) = p.channel.strip_prefix("webhook:") else {
                continue;
            };
            let Some(alert) = self.store.get_alert(&p.alert_id).await? else {
                continue;
            };
            let next = u32::try_from(p.last_attempt.max(0)).unwrap_or(u32::MAX) + 1;
            self.spawn_webhook(alert, url.to_string(), next);
            n += 1;
        }
        if n > 0 {
            tracing::info!(count = n, "resumed unfinished webhook deliveries");
        }
        Ok(n)
    }

    async fn append_outbox(&self, line: &str) -> Result<(), DeliverError> {
        let err = |source| DeliverError::Outbox {
            path: self.outbox.display().to_string(),
            source,
        };
        let _guard = self.outbox_lock.lock().await;
        if let Some(parent) = self.outbox.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(err)?;
        }
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.outbox)
            .await
            .map_err(err)?;
        // One write per line, so that a reader never sees half a line from two writers.
        f.write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(err)?;
        f.flush().await.map_err(err)?;
        Ok(())
    }

    fn spawn_webhook(self: &Arc<Self>, alert: AlertRecord, url: String, first_attempt: u32) {
        let this = self.clone();
        let stop = self.stop.clone();
        let Ok(mut tasks) = self.tasks.lock() else {
            tracing::error!("webhook task set poisoned; delivery left pending until restart");
            return;
        };
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            tokio::select! {
                () = this.send_webhook(&alert, &url, first_attempt) => {},
                () = crate::wait_stop(stop) => {
                    tracing::info!(alert_id = %alert.alert_id, %url, "shutting down: webhook delivery resumes at the next start");
                },
            }
        });
    }

    /// Attempts `first_attempt ..= 1 + retries`, recording each; backoff doubles up to the cap.
    async fn send_webhook(&self, alert: &AlertRecord, url: &str, first_attempt: u32) {
        let channel = format!("webhook:{url}");
        let last = self.webhook.retries.saturating_add(1);
        let body = alert.to_json();
        let mut attempt = first_attempt.max(1);
        loop {
            let result = self
                .client
                .post(url)
                .header("Idempotency-Key", alert.alert_id.as_str())
                .json(&body)
                .send()
                .await;
            let error = match result {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("HTTP {}", r.status())),
                Err(e) => Some(e.to_string()),
            };
            let status = match (&error, attempt >= last) {
                (None, _) => DeliveryStatus::Delivered,
                (Some(_), false) => DeliveryStatus::Failed,
                (Some(_), true) => DeliveryStatus::GaveUp,
            };
            if error.is_some() {
                self.metrics.channel_failure("webhook");
            }
            let err_text = error.clone().unwrap_or_default();
            if let Err(e) = self
                .store
                .record_delivery(
                    &alert.alert_id,
                    &channel,
                    i64::from(attempt),
                    status,
                    &err_text,
                )
                .await
            {
                tracing::warn!(alert_id = %alert.alert_id, error = %e, "could not record a webhook attempt");
            }
            match status {
                DeliveryStatus::Delivered => {
                    tracing::info!(alert_id = %alert.alert_id, %url, attempt, "webhook delivered");
                    return;
                }
                DeliveryStatus::GaveUp => {
                    tracing::warn!(alert_id = %alert.alert_id, %url, attempt, error = %err_text, "webhook failed for good; the alert stays in the inbox");
                    return;
                }
                _ => {}
            }
            let delay = self.backoff(attempt);
            tracing::info!(alert_id = %alert.alert_id, %url, attempt, error = %err_text, delay_ms = delay.as_millis(), "webhook failed; retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.webhook
            .backoff
            .saturating_mul(factor)
            .min(self.webhook.max_backoff)
    }

    /// Waits for the background webhook tasks (they stop at shutdown).
    pub async fn join(&self) {
        let tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => return,
        };
        tasks.join_all().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_and_print() {
        for s in [
            "inbox",
            "outbox",
            "stdout",
            "webhook:https://x.example/a?b=1",
        ] {
            assert_eq!(s.parse::<Channel>().unwrap().to_string(), s);
        }
        assert!("webhook:ftp://x".parse::<Channel>().is_err());
        assert!("mail".parse::<Channel>().is_err());
    }

    #[tokio::test]
    async fn failed_attempts_are_counted_by_channel_kind() {
        #![allow(clippy::unwrap_used)]
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}/n.db?mode=rwc", dir.path().display()))
            .await
            .unwrap();
        let (_stop_tx, stop) = watch::channel(false);
        let metrics = nianbao_service::Metrics::new("notification");
        // The outbox path is a folder, so appending to it fails; nothing listens on port 1.
        let deliverer = Arc::new(
            Deliverer::new(
                store,
                dir.path().to_path_buf(),
                WebhookSettings {
                    timeout: Duration::from_secs(2),
                    retries: 1,
                    backoff: Duration::from_millis(1),
                    max_backoff: Duration::from_millis(1),
                },
                stop,
            )
            .unwrap()
            .with_metrics(metrics.clone()),
        );
        let alert: AlertRecord = serde_json::from_value(serde_json::json!({
            "alert_id": "a1", "office_id": "o", "office_name": "办公室", "report_id": "r",
            "version": "v", "agency": "局", "year": 2024, "region": "000000", "status": "open",
            "kind": "findings", "findings": [], "message": "m", "route_note": "",
            "created_at_ms": 0, "acknowledged_at_ms": 0, "acknowledged_by": ""
        }))
        .unwrap();
        assert!(deliverer.deliver(&alert, &[Channel::Outbox]).await.is_err());
        deliverer
            .deliver(
                &alert,
                &[Channel::Webhook("http://127.0.0.1:1/hook".into())],
            )
            .await
            .unwrap();
        deliverer.join().await;
        let text = metrics.encode();
        let failures = |channel| {
            nianbao_metrics::sample_value(
                &text,
                "nianbao_channel_delivery_failures_total",
                &[("channel", channel)],
            )
        };
        assert_eq!(failures("outbox"), Some(1.0), "{text}");
        assert_eq!(
            failures("webhook"),
            Some(2.0),
            "first attempt and one retry: {text}"
        );
    }
}
