//! `nianbao.v1.Notification`: the offices' inbox, and the health of the delivery channels.

use crate::alert::AlertRecord;
use crate::clock::SharedClock;
use crate::store::{AlertQuery, Store};
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
}

impl NotificationService {
    pub fn new(
        store: Store,
        alerts: broadcast::Sender<Arc<AlertRecord>>,
        stop: watch::Receiver<bool>,
        clock: SharedClock,
        failing_after: u32,
    ) -> NotificationService {
        NotificationService {
            store,
            alerts,
            stop,
            clock,
            failing_after,
        }
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
        let r = request.into_inner();
        let limit = match r.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let (alerts, total) = self
            .store
            .list_alerts(&AlertQuery {
                office_id: non_empty(r.office_id),
                status: non_empty(r.status),
                kind: non_empty(r.kind),
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
        let r = request.into_inner();
        if r.alert_id.trim().is_empty() {
            return Err(Status::invalid_argument("alert_id is required"));
        }
        let by = if r.acknowledged_by.trim().is_empty() {
            "unknown"
        } else {
            r.acknowledged_by.trim()
        };
        match self
            .store
            .acknowledge(&r.alert_id, by, self.clock.now_ms())
            .await
            .map_err(internal)?
        {
            Some(a) => {
                tracing::info!(alert_id = %a.alert_id, by = %a.acknowledged_by, "alert acknowledged");
                Ok(Response::new(a.to_proto()))
            }
            None => Err(Status::not_found(format!("no alert {}", r.alert_id))),
        }
    }

    async fn list_channels(
        &self,
        _request: Request<v1::ListChannelsRequest>,
    ) -> Result<Response<v1::ListChannelsResponse>, Status> {
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
        let r = request.into_inner();
        let office = non_empty(r.office_id);
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
