//! `nianbao.v1.Notification`: the offices' inbox, and the health of the delivery channels.

use crate::alert::AlertRecord;
use crate::clock::SharedClock;
use crate::deliver::Channel;
use crate::engine::Engine;
use crate::store::{
    ACTION_NOTIFY_AGENCY, ACTION_REASSIGN, ACTION_RECTIFY_BY, AckAudit, AlertAction, AlertQuery,
    AlertWork, Store,
};
use nianbao_auth::grpc::{denied, require};
use nianbao_auth::{Identity, Role};
use nianbao_directory::Directory;
use nianbao_proto::v1;
use nianbao_proto::v1::notification_server::Notification;
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
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
    stop: nianbao_service::Shutdown,
    clock: SharedClock,
    /// Consecutive failures from which a channel is reported failing.
    failing_after: u32,
    /// Whose alerts an office may see: its own and those of the offices below it.
    directory: Arc<Directory>,
    /// Open `StreamAlerts` calls, and how many may be open at once.
    subscribers: Arc<std::sync::atomic::AtomicUsize>,
    max_subscribers: usize,
    /// Channels and the deliverer, for the notices of `ReassignAlert` and `NotifyAgency` (absent:
    /// those calls are UNAVAILABLE).
    engine: Option<Arc<Engine>>,
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
        stop: nianbao_service::Shutdown,
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
            engine: None,
        }
    }

    /// This service, delivering the notices of reassignments and of `NotifyAgency` through
    /// `engine`'s channels and deliverer.
    pub fn with_engine(mut self, engine: Arc<Engine>) -> NotificationService {
        self.engine = Some(engine);
        self
    }

    /// The alerts with what the clerks did to them, as the API shows them.
    async fn protos(&self, alerts: &[AlertRecord]) -> Result<Vec<v1::Alert>, Status> {
        let ids: Vec<String> = alerts.iter().map(|a| a.alert_id.clone()).collect();
        let work = self.store.work_of(&ids).await.map_err(internal)?;
        Ok(alerts
            .iter()
            .map(|a| alert_proto(a, work.get(&a.alert_id)))
            .collect())
    }

    /// The alert `id` for an action on it, checked against the caller's jurisdiction (its current
    /// office, the one it was reassigned to if it was). A refusal is audited.
    async fn alert_for_action(
        &self,
        caller: &Identity,
        audit: &mut AlertAction,
    ) -> Result<(AlertRecord, AlertWork), Status> {
        let id = audit.alert_id.clone();
        if id.is_empty() || id.chars().count() > 128 {
            return Err(Status::invalid_argument(
                "需要提醒编号 / alert_id is required",
            ));
        }
        let Some(alert) = self.store.get_alert(&id).await.map_err(internal)? else {
            return Err(Status::not_found(format!(
                "没有编号为 {id} 的提醒 / no alert {id}"
            )));
        };
        let work = self.store.work(&id).await.map_err(internal)?;
        let (current, current_name) = current_office(&alert, &work);
        if let Some(own) = caller.office()
            && !self.directory.is_within(current, own)
        {
            audit.outcome = "denied".into();
            self.store.record_action(audit).await.map_err(internal)?;
            tracing::warn!(alert_id = %id, action = %audit.action, caller = %audit.caller, peer = %audit.peer, "action outside the caller's jurisdiction refused");
            return Err(denied(
                &format!("提醒 {id} 属于 {current_name}，不在您的管辖范围内"),
                &format!("alert {id} belongs to office {current}, outside your jurisdiction"),
            ));
        }
        Ok((alert, work))
    }

    fn engine(&self) -> Result<&Arc<Engine>, Status> {
        self.engine
            .as_ref()
            .ok_or_else(|| Status::unavailable("通知投递未启用 / notice delivery is not available"))
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

/// The office an alert is with now (id, name): the one it was reassigned to, else its own.
fn current_office<'a>(a: &'a AlertRecord, w: &'a AlertWork) -> (&'a str, &'a str) {
    if w.assigned_office_id.is_empty() {
        (&a.office_id, &a.office_name)
    } else {
        (&w.assigned_office_id, &w.assigned_office_name)
    }
}

/// An alert as the API shows it, with the clerks' work on it.
pub fn alert_proto(a: &AlertRecord, w: Option<&AlertWork>) -> v1::Alert {
    let mut p = a.to_proto();
    if let Some(w) = w {
        p.assigned_office_id = w.assigned_office_id.clone();
        p.assigned_office_name = w.assigned_office_name.clone();
        p.rectify_by = w.rectify_by.clone();
        p.agency_notified_at_ms = w.agency_notified_at_ms;
        p.actions = w
            .actions
            .iter()
            .map(|x| v1::AlertAction {
                action: x.action.clone(),
                by: x.by_name.clone(),
                at_ms: x.at_ms,
                detail: x.detail.clone(),
                outcome: x.outcome.clone(),
            })
            .collect();
    }
    p
}

/// The audit record of `action` on `alert_id` by `caller`, before its outcome is known.
fn action_by(
    caller: &Identity,
    alert_id: &str,
    action: &str,
    peer: String,
    at_ms: i64,
) -> AlertAction {
    AlertAction {
        alert_id: alert_id.trim().to_string(),
        action: action.into(),
        by_name: caller.name.clone(),
        credential_id: caller.credential_id.clone(),
        caller: caller.describe(),
        peer,
        detail: String::new(),
        outcome: String::new(),
        at_ms,
    }
}

/// The caller's address for audit records, with the browser's when a console forwards it.
fn peer_of(remote: Option<std::net::SocketAddr>, client_address: &str) -> String {
    let peer = remote.map_or_else(String::new, |a| a.to_string());
    let client: String = client_address
        .trim()
        .chars()
        .filter(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']'))
        .take(64)
        .collect();
    if client.is_empty() {
        peer
    } else {
        format!("{peer} (client {client})")
    }
}

fn check_note(note: &str) -> Result<String, Status> {
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(Status::invalid_argument(format!(
            "备注过长（上限 {MAX_NOTE_CHARS} 字）/ the note is longer than {MAX_NOTE_CHARS} characters"
        )));
    }
    Ok(note.trim().to_string())
}

/// A 整改期限 as the API takes it: `YYYY-MM-DD` of a real date, or empty.
fn check_date(s: &str) -> Result<String, Status> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(String::new());
    }
    let bad = || {
        Status::invalid_argument(format!(
            "整改期限应为 YYYY-MM-DD 格式的日期：{s:?} / rectify_by must be a YYYY-MM-DD date"
        ))
    };
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return Err(bad());
    };
    if !(2000..=2100).contains(&y) || nianbao_directory::date::Date::new(y, m, d).is_none() {
        return Err(bad());
    }
    Ok(s.to_string())
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
            alerts: self.protos(&alerts).await?,
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
        let work = self.store.work(&alert_id).await.map_err(internal)?;
        let (current, current_name) = current_office(&alert, &work);
        if let Some(own) = caller.office()
            && !self.directory.is_within(current, own)
        {
            audit.outcome = "denied".into();
            self.store
                .record_acknowledgement(&audit)
                .await
                .map_err(internal)?;
            tracing::warn!(alert_id = %alert_id, caller = %audit.caller, peer = %audit.peer, "acknowledgement outside the caller's jurisdiction refused");
            return Err(denied(
                &format!("提醒 {alert_id} 属于 {current_name}，不在您的管辖范围内"),
                &format!("alert {alert_id} belongs to office {current}, outside your jurisdiction"),
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
        Ok(Response::new(
            self.protos(std::slice::from_ref(&a)).await?.remove(0),
        ))
    }

    async fn reassign_alert(
        &self,
        request: Request<v1::ReassignAlertRequest>,
    ) -> Result<Response<v1::Alert>, Status> {
        let caller = require(&request, INBOX, "转办提醒 ReassignAlert")?;
        let remote = request.remote_addr();
        let r = request.into_inner();
        let note = check_note(&r.note)?;
        let to = r.office_id.trim().to_string();
        let now = self.clock.now_ms();
        let mut audit = action_by(
            &caller,
            &r.alert_id,
            ACTION_REASSIGN,
            peer_of(remote, &r.client_address),
            now,
        );
        let (alert, work) = self.alert_for_action(&caller, &mut audit).await?;
        let (from, _) = current_office(&alert, &work);
        audit.detail = format!("{from} → {to}");
        if !note.is_empty() {
            audit.detail.push('：');
            audit.detail.push_str(&note);
        }
        let Some(target) = self.directory.office(&to).cloned() else {
            return Err(Status::invalid_argument(format!(
                "目录中没有编号为 {to} 的政务公开办 / no office {to} in the directory"
            )));
        };
        if let Some(own) = caller.office()
            && !self.directory.is_within(&to, own)
        {
            audit.outcome = "denied".into();
            self.store.record_action(&audit).await.map_err(internal)?;
            tracing::warn!(alert_id = %audit.alert_id, to = %to, caller = %audit.caller, peer = %audit.peer, "reassignment outside the caller's jurisdiction refused");
            return Err(denied(
                &format!(
                    "办公室 {to}（{}）不在 {own} 的管辖范围内，不能转办",
                    target.name
                ),
                &format!("office {to} is outside the jurisdiction of {own}: cannot reassign there"),
            ));
        }
        if to == from {
            return Err(Status::failed_precondition(format!(
                "提醒已由 {to} 处理 / the alert is already with office {to}"
            )));
        }
        let engine = self.engine()?;
        // Handed back to the office it was routed to: no longer reassigned.
        let (id, name) = if target.id == alert.office_id {
            ("", "")
        } else {
            (target.id.as_str(), target.name.as_str())
        };
        self.store
            .reassign(&alert.alert_id, id, name)
            .await
            .map_err(internal)?;
        audit.outcome = "done".into();
        self.store.record_action(&audit).await.map_err(internal)?;
        // The new office is told as it would have been had the alert been routed to it.
        let notice = crate::render::reassigned_notice(&alert, &target, &caller.name, &note, now);
        let channels = engine.channels_of(&target.id);
        if let Err(e) = engine.deliverer.deliver(&notice, &channels).await {
            tracing::warn!(alert_id = %alert.alert_id, error = %e, "the reassignment notice could not be queued; the alert is in the new office's inbox");
        }
        // Streams of the new office get it now.
        let _ = self.alerts.send(Arc::new(alert.clone()));
        tracing::info!(alert_id = %alert.alert_id, from = %from, to = %to, caller = %audit.caller, peer = %audit.peer, "alert reassigned");
        Ok(Response::new(
            self.protos(std::slice::from_ref(&alert)).await?.remove(0),
        ))
    }

    async fn set_rectify_deadline(
        &self,
        request: Request<v1::SetRectifyDeadlineRequest>,
    ) -> Result<Response<v1::Alert>, Status> {
        let caller = require(&request, INBOX, "设置整改期限 SetRectifyDeadline")?;
        let remote = request.remote_addr();
        let r = request.into_inner();
        let note = check_note(&r.note)?;
        let date = check_date(&r.rectify_by)?;
        let mut audit = action_by(
            &caller,
            &r.alert_id,
            ACTION_RECTIFY_BY,
            peer_of(remote, &r.client_address),
            self.clock.now_ms(),
        );
        let (alert, work) = self.alert_for_action(&caller, &mut audit).await?;
        audit.detail = format!(
            "{} → {}",
            if work.rectify_by.is_empty() {
                "（无）"
            } else {
                &work.rectify_by
            },
            if date.is_empty() { "（无）" } else { &date }
        );
        if !note.is_empty() {
            audit.detail.push('：');
            audit.detail.push_str(&note);
        }
        self.store
            .set_rectify_by(&alert.alert_id, &date)
            .await
            .map_err(internal)?;
        audit.outcome = "done".into();
        self.store.record_action(&audit).await.map_err(internal)?;
        tracing::info!(alert_id = %alert.alert_id, rectify_by = %date, caller = %audit.caller, peer = %audit.peer, "整改期限 set");
        Ok(Response::new(
            self.protos(std::slice::from_ref(&alert)).await?.remove(0),
        ))
    }

    async fn notify_agency(
        &self,
        request: Request<v1::NotifyAgencyRequest>,
    ) -> Result<Response<v1::NotifyAgencyResponse>, Status> {
        let caller = require(&request, INBOX, "通知机关 NotifyAgency")?;
        let remote = request.remote_addr();
        let r = request.into_inner();
        let note = check_note(&r.note)?;
        let now = self.clock.now_ms();
        let mut audit = action_by(
            &caller,
            &r.alert_id,
            ACTION_NOTIFY_AGENCY,
            peer_of(remote, &r.client_address),
            now,
        );
        let (alert, work) = self.alert_for_action(&caller, &mut audit).await?;
        let engine = self.engine()?;
        if alert.kind != crate::alert::KIND_FINDINGS && alert.kind != crate::alert::KIND_MISSING {
            return Err(Status::failed_precondition(format!(
                "只能将问题或未报送告警通知机关（本告警类型：{}）/ only findings and report-missing alerts are sent to the agency",
                alert.kind
            )));
        }
        // The agency by the alert's report key (`<agency id>|<year>`), else by the name.
        let key_id = alert.report_key.rsplit_once('|').map_or("", |(id, _)| id);
        let agency = self
            .directory
            .agency_by_id(key_id)
            .or_else(|| self.directory.agency(&alert.agency))
            .cloned();
        let Some(agency) = agency else {
            return Err(Status::failed_precondition(format!(
                "目录中找不到机关「{}」/ the alert's agency is not in the directory",
                alert.agency
            )));
        };
        let channels: Vec<Channel> = agency
            .channels
            .iter()
            .filter_map(|c| c.parse().ok())
            .filter(Channel::is_remote)
            .collect();
        if channels.is_empty() {
            audit.detail = format!("{}：目录中没有该机关的通知渠道", agency.name);
            audit.outcome = "failed".into();
            self.store.record_action(&audit).await.map_err(internal)?;
            return Err(Status::failed_precondition(format!(
                "目录中没有为「{}」登记通知渠道 / the agency has no channels in the directory",
                agency.name
            )));
        }
        let (_, office_name) = current_office(&alert, &work);
        let mut notice = crate::render::agency_notice(
            &alert,
            &agency.id,
            office_name,
            &work.rectify_by,
            &note,
            now,
        );
        notice.office_id = current_office(&alert, &work).0.to_string();
        let names: Vec<String> = channels.iter().map(ToString::to_string).collect();
        audit.detail = format!("{} → {}", agency.name, names.join("、"));
        if !note.is_empty() {
            audit.detail.push('：');
            audit.detail.push_str(&note);
        }
        if let Err(e) = engine.deliverer.deliver(&notice, &channels).await {
            audit.outcome = "failed".into();
            self.store.record_action(&audit).await.map_err(internal)?;
            return Err(internal(e));
        }
        self.store
            .mark_agency_notified(&alert.alert_id, now)
            .await
            .map_err(internal)?;
        audit.outcome = "done".into();
        self.store.record_action(&audit).await.map_err(internal)?;
        tracing::info!(alert_id = %alert.alert_id, agency = %agency.name, notice = %notice.id, caller = %audit.caller, peer = %audit.peer, "alert's notice sent to the agency");
        Ok(Response::new(v1::NotifyAgencyResponse {
            alert: self.protos(std::slice::from_ref(&alert)).await?.pop(),
            notice_id: notice.id,
            channels: names,
        }))
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
        let sent: HashSet<String> = open.iter().map(|a| a.alert_id.clone()).collect();
        let open = self.protos(&open).await?;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let stop = self.stop.clone();
        let store = self.store.clone();
        tokio::spawn(async move {
            let _subscription = subscription;
            for a in open {
                if tx.send(Ok(a)).await.is_err() {
                    return;
                }
            }
            loop {
                tokio::select! {
                    () = stop.wait() => return,
                    () = tx.closed() => return,
                    r = live.recv() => match r {
                        Ok(a) => {
                            // Where the alert is now: a reassigned one is broadcast again and
                            // goes to the office that took it over, no longer to the first.
                            let work = match store.work(&a.alert_id).await {
                                Ok(w) => w,
                                Err(e) => {
                                    tracing::warn!(alert_id = %a.alert_id, error = %e, "could not read an alert's assignment; streamed to its own office");
                                    AlertWork::default()
                                }
                            };
                            let (current, _) = current_office(&a, &work);
                            let wanted = office.as_deref().is_none_or(|o| o == current);
                            if wanted && !sent.contains(&a.alert_id)
                                && tx.send(Ok(alert_proto(&a, Some(&work)))).await.is_err()
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
