//! `nianbao.v1.Notification`: the offices' inbox, and the health of the delivery channels.

use crate::alert::AlertRecord;
use crate::clock::SharedClock;
use crate::store::{AckAudit, AlertQuery, Store};
use nianbao_auth::grpc::{denied, require};
use nianbao_auth::{Identity, Role};
use nianbao_directory::Directory;
use nianbao_proto::v1;
use nianbao_proto::v1::notification_server::Notification;
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// `ListAlerts` page size when the request says 0, and the largest page served.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// Alerts queued per stream between the service and a client's connection.
const STREAM_BUFFER: usize = 64;

pub struct NotificationService {
    store: Store,
    alerts: broadcast::Sender<Arc<AlertRecord>>,
    stop: watch::Receiver<bool>,
    clock: SharedClock,
    /// Consecutive failures from which a channel is reported failing.
    failing_after: u32,
    /// Whose alerts an office may see: its own and those of the offices below it.
    directory: Arc<Directory>,
    /// Open `StreamAlerts` calls, and how many may be open at once.
    subscribers: Arc<std::sync::atomic::AtomicUsize>,
    max_subscribers: usize,
}

/// Who may read and act on alerts: office users (their jurisdiction) and operators (all).
const INBOX: &[Role] = &[Role::Office, Role::Operator];
/// Alert statuses and kinds a filter may name.
const STATUSES: &[&str] = &["open", "acknowledged", "resolved"];
const KINDS: &[&str] = &["findings", "resolution", "escalation", "report-missing"];
const MAX_NOTE_CHARS: usize = 500;

/// Ends a subscriber's count when its stream ends.
struct Subscription(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Subscription {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl NotificationService {
    pub fn new(
        store: Store,
        alerts: broadcast::Sender<Arc<AlertRecord>>,
        stop: watch::Receiver<bool>,
        clock: SharedClock,
        failing_after: u32,
        directory: Arc<Directory>,
        max_subscribers: usize,
    ) -> NotificationService {
        NotificationService {
            store,
            alerts,
            stop,
            clock,
            failing_after,
            directory,
            subscribers: Arc::default(),
            max_subscribers,
        }
    }

    /// The office `id` named in a request, checked against the caller's jurisdiction: an unknown
    /// office is INVALID_ARGUMENT, another office's subtree PERMISSION_DENIED.
    fn office_in_reach(&self, caller: &Identity, id: &str) -> Result<(), Status> {
        // Without a directory file every alert goes to the default office; a filter can only be
        // checked against offices a directory names.
        if self.directory.is_configured() && self.directory.office(id).is_none() {
            return Err(Status::invalid_argument(format!(
                "目录中没有编号为 {id} 的政务公开办 / no office {id} in the directory"
            )));
        }
        match caller.office() {
            Some(own) if !self.directory.is_within(id, own) => Err(denied(
                &format!("办公室 {id} 不在 {own} 的管辖范围内"),
                &format!("office {id} is outside the jurisdiction of {own}"),
            )),
            _ => Ok(()),
        }
    }

    /// The offices whose alerts `caller` may list (`None`: all).
    fn jurisdiction(&self, caller: &Identity) -> Option<Vec<String>> {
        caller.office().map(|own| {
            self.directory
                .subtree(own)
                .into_iter()
                .map(str::to_string)
                .collect()
        })
    }
}

fn one_of(field: &str, value: Option<String>, allowed: &[&str]) -> Result<Option<String>, Status> {
    match non_empty(value) {
        Some(v) if !allowed.contains(&v.trim()) => Err(Status::invalid_argument(format!(
            "{field} 取值无效：{v:?}（可用：{list}）/ unknown {field} {v:?} ({list})",
            list = allowed.join(", ")
        ))),
        other => Ok(other.map(|v| v.trim().to_string())),
    }
}

fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "request failed");
    Status::internal(e.to_string())
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|v| !v.trim().is_empty())
}

type AlertStream = Pin<Box<dyn Stream<Item = Result<v1::Alert, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Notification for NotificationService {
    async fn list_alerts(
        &self,
        request: Request<v1::ListAlertsRequest>,
    ) -> Result<Response<v1::ListAlertsResponse>, Status> {
        let caller = require(&request, INBOX, "查看提醒 ListAlerts")?;
        let r = request.into_inner();
        let office_id = non_empty(r.office_id).map(|o| o.trim().to_string());
        if let Some(o) = &office_id {
            self.office_in_reach(&caller, o)?;
        }
        let status = one_of("status", r.status, STATUSES)?;
        let kind = one_of("kind", r.kind, KINDS)?;
        let limit = match r.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let (alerts, total) = self
            .store
            .list_alerts(&AlertQuery {
                offices: self.jurisdiction(&caller),
                office_id,
                status,
                kind,
                limit,
                offset: r.offset,
            })
            .await
            .map_err(internal)?;
        Ok(Response::new(v1::ListAlertsResponse {
            alerts: alerts.iter().map(AlertRecord::to_proto).collect(),
            total,
        }))
    }

    async fn acknowledge_alert(
        &self,
        request: Request<v1::AcknowledgeAlertRequest>,
    ) -> Result<Response<v1::Alert>, Status> {
        let caller = require(&request, INBOX, "确认提醒 AcknowledgeAlert")?;
        let peer = request
            .remote_addr()
            .map_or_else(String::new, |a| a.to_string());
        let r = request.into_inner();
        let alert_id = r.alert_id.trim().to_string();
        if alert_id.is_empty() || alert_id.chars().count() > 128 {
            return Err(Status::invalid_argument(
                "需要提醒编号 / alert_id is required",
            ));
        }
        if r.note.chars().count() > MAX_NOTE_CHARS {
            return Err(Status::invalid_argument(format!(
                "备注过长（上限 {MAX_NOTE_CHARS} 字）/ the note is longer than {MAX_NOTE_CHARS} characters"
            )));
        }
        let Some(alert) = self.store.get_alert(&alert_id).await.map_err(internal)? else {
            return Err(Status::not_found(format!(
                "没有编号为 {alert_id} 的提醒 / no alert {alert_id}"
            )));
        };
        let now = self.clock.now_ms();
        let mut audit = AckAudit {
            alert_id: alert_id.clone(),
            by_name: caller.name.clone(),
            credential_id: caller.credential_id.clone(),
            caller: caller.describe(),
            peer,
            note: r.note.trim().to_string(),
            outcome: String::new(),
            at_ms: now,
        };
        if let Some(own) = caller.office()
            && !self.directory.is_within(&alert.office_id, own)
        {
            audit.outcome = "denied".into();
            self.store
                .record_acknowledgement(&audit)
                .await
                .map_err(internal)?;
            tracing::warn!(alert_id = %alert_id, caller = %audit.caller, peer = %audit.peer, "acknowledgement outside the caller's jurisdiction refused");
            return Err(denied(
                &format!(
                    "提醒 {alert_id} 属于 {}，不在您的管辖范围内",
                    alert.office_name
                ),
                &format!(
                    "alert {alert_id} belongs to office {}, outside your jurisdiction",
                    alert.office_id
                ),
            ));
        }
        // Who acknowledged is the credential's holder, never a name the request gives.
        let by = caller.name.clone();
        let a = self
            .store
            .acknowledge(&alert_id, &by, now)
            .await
            .map_err(internal)?
            .ok_or_else(|| Status::not_found(format!("no alert {alert_id}")))?;
        audit.outcome = if a.acknowledged_by == by && a.acknowledged_at_ms == now {
            "acknowledged".into()
        } else {
            "already-acknowledged".into()
        };
        self.store
            .record_acknowledgement(&audit)
            .await
            .map_err(internal)?;
        tracing::info!(alert_id = %a.alert_id, by = %a.acknowledged_by, caller = %audit.caller, peer = %audit.peer, outcome = %audit.outcome, "alert acknowledged");
        Ok(Response::new(a.to_proto()))
    }

    async fn list_channels(
        &self,
        request: Request<v1::ListChannelsRequest>,
    ) -> Result<Response<v1::ListChannelsResponse>, Status> {
        require(&request, &[Role::Operator], "查看投递渠道 ListChannels")?;
        let health = self.store.channel_health().await.map_err(internal)?;
        let channels = health
            .into_iter()
            .map(|h| v1::ChannelStatus {
                failing: h.consecutive_failures >= u64::from(self.failing_after),
                channel: h.channel,
                delivered: h.delivered,
                failed: h.failed,
                gave_up: h.gave_up,
                pending: h.pending,
                consecutive_failures: h.consecutive_failures,
                last_error: h.last_error,
                last_delivered_ms: h.last_delivered_ms,
                last_failed_ms: h.last_failed_ms,
            })
            .collect();
        Ok(Response::new(v1::ListChannelsResponse { channels }))
    }

    type StreamAlertsStream = AlertStream;

    async fn stream_alerts(
        &self,
        request: Request<v1::StreamAlertsRequest>,
    ) -> Result<Response<Self::StreamAlertsStream>, Status> {
        let caller = require(&request, INBOX, "订阅提醒 StreamAlerts")?;
        let r = request.into_inner();
        // An office listens to its own inbox unless it names one below it; an operator names one.
        let office = non_empty(r.office_id)
            .map(|o| o.trim().to_string())
            .or_else(|| caller.office().map(str::to_string))
            .ok_or_else(|| {
                Status::invalid_argument("需要指定办公室 office_id / office_id is required")
            })?;
        self.office_in_reach(&caller, &office)?;
        let count = self
            .subscribers
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let subscription = Subscription(self.subscribers.clone());
        if count >= self.max_subscribers {
            return Err(Status::resource_exhausted(format!(
                "订阅数已达上限 {} / too many StreamAlerts subscribers (limit {})",
                self.max_subscribers, self.max_subscribers
            )));
        }
        let office = Some(office);
        // Subscribe before reading the open alerts, so nothing created in between is missed (an
        // alert seen twice that way is sent once).
        let mut live = self.alerts.subscribe();
        let open = if r.include_open {
            self.store
                .open_alerts(office.as_deref())
                .await
                .map_err(internal)?
        } else {
            Vec::new()
        };
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let _subscription = subscription;
            let sent: HashSet<String> = open.iter().map(|a| a.alert_id.clone()).collect();
            for a in open {
                if tx.send(Ok(a.to_proto())).await.is_err() {
                    return;
                }
            }
            loop {
                tokio::select! {
                    () = crate::wait_stop(stop.clone()) => return,
                    () = tx.closed() => return,
                    r = live.recv() => match r {
                        Ok(a) => {
                            let wanted = office.as_deref().is_none_or(|o| o == a.office_id);
                            if wanted && !sent.contains(&a.alert_id)
                                && tx.send(Ok(a.to_proto())).await.is_err()
                            {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(skipped = n, "a StreamAlerts client fell behind; skipping alerts it can list instead");
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
