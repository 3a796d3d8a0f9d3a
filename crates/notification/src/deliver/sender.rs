//! The sender: records the notices, writes the local channels at once and sends the remote ones
//! in background tasks with retries and backoff, every attempt a row in `deliveries`.

use super::channel::Channel;
use super::email::{Mailer, SmtpSettings, mailer};
use crate::render::Notice;
use crate::store::{DeliveryRow, DeliveryStatus, Store, StoreError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::task::JoinSet;

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
    #[error("SMTP: {0}")]
    Smtp(String),
}

/// Remote sending settings (webhooks, robots, mail).
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive failures after which a channel is reported failing.
    pub failing_after: u32,
    /// Least time between two messages to one robot (企业微信, 钉钉).
    pub robot_interval: Duration,
}

/// Channels sent in the background (a delivery row means "under way").
fn is_remote_name(channel: &str) -> bool {
    ["webhook:", "wecom:", "dingtalk:", "email:"]
        .iter()
        .any(|p| channel.starts_with(p))
}

fn delivery_row(id: &str, channel: &str, attempt: i64, status: DeliveryStatus) -> DeliveryRow {
    DeliveryRow {
        notice_id: id.to_string(),
        channel: channel.to_string(),
        attempt,
        status: status.as_str().to_string(),
        error: String::new(),
        at_ms: nianbao_service::now_ms(),
    }
}

/// Delivers notices through their channels; owns the background tasks of the remote channels.
pub struct Deliverer {
    store: Store,
    pub(super) outbox: PathBuf,
    pub(super) outbox_lock: tokio::sync::Mutex<()>,
    pub(super) client: reqwest::Client,
    pub(super) mailer: Option<Mailer>,
    pub(super) webhook: WebhookSettings,
    stop: nianbao_service::Shutdown,
    tasks: Mutex<JoinSet<()>>,
    /// When each robot (by channel name) may be sent to next.
    pub(super) robot_slots:
        tokio::sync::Mutex<std::collections::HashMap<String, tokio::time::Instant>>,
    /// Where failed delivery attempts are counted (by channel kind, never by URL or secret).
    metrics: nianbao_service::Metrics,
}

impl Deliverer {
    pub fn new(
        store: Store,
        outbox: PathBuf,
        webhook: WebhookSettings,
        smtp: &SmtpSettings,
        stop: nianbao_service::Shutdown,
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
            mailer: mailer(smtp)?,
            webhook,
            stop,
            tasks: Mutex::new(JoinSet::new()),
            robot_slots: tokio::sync::Mutex::new(std::collections::HashMap::new()),
            metrics: nianbao_service::Metrics::default(),
        })
    }

    /// This deliverer, counting failed delivery attempts into `metrics`
    /// (`nianbao_channel_delivery_failures_total{channel}`, by channel kind).
    pub fn with_metrics(mut self, metrics: nianbao_service::Metrics) -> Deliverer {
        self.metrics = metrics;
        self
    }

    /// Whether `email:` channels can be served (an SMTP host is configured).
    pub fn can_mail(&self) -> bool {
        self.mailer.is_some()
    }

    pub fn settings(&self) -> &WebhookSettings {
        &self.webhook
    }

    /// Delivers `notice` through every channel that has no delivery recorded yet. Remote channels
    /// are only queued here (they run in the background); an error means a local channel (outbox,
    /// stdout, the database) failed, which is worth retrying the event for.
    pub async fn deliver(
        self: &Arc<Self>,
        notice: &Notice,
        channels: &[Channel],
    ) -> Result<(), DeliverError> {
        self.deliver_many(&[(notice.clone(), channels.to_vec())])
            .await
    }

    /// [`Deliverer::deliver`] for several notices with a few round trips in all: one insert of
    /// the notices, one read of their delivery log, one write to the outbox (and stdout), one
    /// insert of the delivery records. A notice listed twice is delivered once.
    pub async fn deliver_many(
        self: &Arc<Self>,
        notices: &[(Notice, Vec<Channel>)],
    ) -> Result<(), DeliverError> {
        let mut seen = std::collections::HashSet::new();
        let notices: Vec<&(Notice, Vec<Channel>)> = notices
            .iter()
            .filter(|(n, _)| seen.insert(n.id.clone()))
            .collect();
        if notices.is_empty() {
            return Ok(());
        }
        let all: Vec<Notice> = notices.iter().map(|(n, _)| n.clone()).collect();
        self.store.put_notices(&all).await?;
        let ids: Vec<String> = all.iter().map(|n| n.id.clone()).collect();
        // A remote channel with any row is under way (or finished); a local one counts once it
        // has been delivered.
        let done: std::collections::HashSet<(String, String)> = self
            .store
            .deliveries_of(&ids)
            .await?
            .into_iter()
            .filter(|d| {
                d.status == DeliveryStatus::Delivered.as_str() || is_remote_name(&d.channel)
            })
            .map(|d| (d.notice_id, d.channel))
            .collect();
        let mut outbox = String::new();
        let mut stdout = String::new();
        let mut local = Vec::new();
        let mut remote = Vec::new();
        for (notice, channels) in notices {
            let mut line: Option<String> = None;
            for ch in channels {
                let name = ch.to_string();
                if done.contains(&(notice.id.clone(), name.clone())) {
                    continue;
                }
                let line = line
                    .get_or_insert_with(|| serde_json::to_string(&notice.json).unwrap_or_default());
                match ch {
                    Channel::Inbox => {}
                    Channel::Outbox => {
                        outbox.push_str(line);
                        outbox.push('\n');
                        tracing::debug!(notice = %notice.id, office = %notice.office_id, outbox = %self.outbox.display(), title = %notice.title, "written to the outbox");
                    }
                    Channel::Stdout => {
                        stdout.push_str(line);
                        stdout.push('\n');
                    }
                    r => {
                        remote.push((notice, r, name));
                        continue;
                    }
                }
                local.push(delivery_row(
                    &notice.id,
                    &name,
                    1,
                    DeliveryStatus::Delivered,
                ));
            }
        }
        if !remote.is_empty() {
            let pending: Vec<DeliveryRow> = remote
                .iter()
                .map(|(n, _, name)| delivery_row(&n.id, name, 0, DeliveryStatus::Pending))
                .collect();
            self.store.record_deliveries(&pending).await?;
            for (n, ch, _) in remote {
                self.spawn_remote(n.clone(), ch.clone(), 1);
            }
        }
        if !outbox.is_empty()
            && let Err(e) = self.append_outbox(outbox).await
        {
            self.metrics.channel_failure("outbox");
            return Err(e);
        }
        if !stdout.is_empty()
            && let Err(e) = self.write_stdout(&stdout).await
        {
            self.metrics.channel_failure("stdout");
            return Err(e);
        }
        self.store.record_deliveries(&local).await?;
        Ok(())
    }

    /// Restarts remote deliveries that a previous run left unfinished. `channels_of` gives the
    /// channels a notice goes through (its office's, or its agency's) to find the full channel,
    /// secrets included, behind a recorded name.
    pub async fn resume_pending(
        self: &Arc<Self>,
        channels_of: impl Fn(&Notice) -> Vec<Channel>,
    ) -> Result<usize, DeliverError> {
        let pending = self.store.pending_remote().await?;
        let mut n = 0;
        for p in pending {
            let Some(notice) = self.store.get_notice(&p.notice_id).await? else {
                continue;
            };
            let Some(ch) = channels_of(&notice)
                .into_iter()
                .find(|c| c.to_string() == p.channel)
            else {
                tracing::warn!(notice = %notice.id, channel = %p.channel, "the office no longer has this channel; delivery not resumed");
                continue;
            };
            let next = u32::try_from(p.last_attempt.max(0)).unwrap_or(u32::MAX) + 1;
            self.spawn_remote(notice, ch, next);
            n += 1;
        }
        if n > 0 {
            tracing::info!(count = n, "resumed unfinished deliveries");
        }
        Ok(n)
    }

    fn spawn_remote(self: &Arc<Self>, notice: Notice, channel: Channel, first_attempt: u32) {
        let this = self.clone();
        let stop = self.stop.clone();
        let Ok(mut tasks) = self.tasks.lock() else {
            tracing::error!("delivery task set poisoned; delivery left pending until restart");
            return;
        };
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            tokio::select! {
                () = this.send_remote(&notice, &channel, first_attempt) => {},
                () = stop.wait() => {
                    tracing::info!(notice = %notice.id, %channel, "shutting down: delivery resumes at the next start");
                },
            }
        });
    }

    /// One attempt on a remote channel.
    pub async fn attempt(&self, notice: &Notice, channel: &Channel) -> Result<(), String> {
        match channel {
            Channel::Webhook(url) => self.post_webhook(notice, url).await,
            Channel::WeCom(url) => self.post_wecom(notice, url).await,
            Channel::DingTalk { url, secret } => {
                self.post_dingtalk(notice, url, secret.as_deref()).await
            }
            Channel::Email(addrs) => self.mail(notice, addrs).await,
            Channel::Inbox | Channel::Outbox | Channel::Stdout => Ok(()),
        }
    }

    /// Attempts `first_attempt ..= 1 + retries`, recording each; backoff doubles up to the cap.
    async fn send_remote(&self, notice: &Notice, channel: &Channel, first_attempt: u32) {
        let name = channel.to_string();
        let last = self.webhook.retries.saturating_add(1);
        let mut attempt = first_attempt.max(1);
        let robot = matches!(channel, Channel::WeCom(_) | Channel::DingTalk { .. });
        loop {
            if robot {
                self.robot_slot(&name).await;
            }
            let error = self.attempt(notice, channel).await.err();
            let status = match (&error, attempt >= last) {
                (None, _) => DeliveryStatus::Delivered,
                (Some(_), false) => DeliveryStatus::Failed,
                (Some(_), true) => DeliveryStatus::GaveUp,
            };
            if error.is_some() {
                self.metrics.channel_failure(channel.kind());
            }
            let err_text = error.clone().unwrap_or_default();
            if let Err(e) = self
                .store
                .record_delivery(&notice.id, &name, i64::from(attempt), status, &err_text)
                .await
            {
                tracing::warn!(notice = %notice.id, error = %e, "could not record a delivery attempt");
            }
            if error.is_some()
                && let Ok(n) = self.store.consecutive_failures(&name).await
                && n == u64::from(self.webhook.failing_after)
            {
                tracing::error!(channel = %name, consecutive_failures = n, error = %err_text, "channel is failing: alerts stay in the inbox; see `nianbao channels`");
            }
            match status {
                DeliveryStatus::Delivered => {
                    tracing::info!(notice = %notice.id, channel = %name, attempt, "delivered");
                    return;
                }
                DeliveryStatus::GaveUp => {
                    tracing::warn!(notice = %notice.id, channel = %name, attempt, error = %err_text, "delivery failed for good; the alert stays in the inbox");
                    return;
                }
                _ => {}
            }
            let delay = self.backoff(attempt);
            tracing::info!(notice = %notice.id, channel = %name, attempt, error = %err_text, delay_ms = delay.as_millis(), "delivery failed; retrying");
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

    /// Waits for the background delivery tasks (they stop at shutdown).
    pub async fn join(&self) {
        let tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => return,
        };
        tasks.join_all().await;
    }
}
