//! `ReassignAlert`, `SetRectifyDeadline` and `NotifyAgency` called on the service as tonic would
//! (the caller's identity in the request's extensions, as the authenticator puts it there): each is
//! checked against the caller's jurisdiction (the alert's current office, and for a reassignment the
//! target office too), refused with PERMISSION_DENIED in Chinese and English, and audited whether
//! granted or not; a reassigned alert is listed for the new office and no longer for the first, and
//! its notice reaches the new office's webhook; the agency's notice reaches the agency's webhook (a
//! local HTTP server here).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use axum::Json;
use axum::extract::State;
use nianbao_auth::{Identity, Role};
use nianbao_directory::Directory;
use nianbao_model::StoredFinding;
use nianbao_notification::alert::{AlertRecord, KIND_FINDINGS, STATUS_OPEN};
use nianbao_notification::clock::ManualClock;
use nianbao_notification::deliver::{Deliverer, SmtpSettings, WebhookSettings};
use nianbao_notification::engine::{Engine, Policy};
use nianbao_notification::grpc::NotificationService;
use nianbao_notification::store::Store;
use nianbao_proto::v1;
use nianbao_proto::v1::notification_server::Notification;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tonic::{Code, Request};

type Got = Arc<Mutex<Vec<(String, Value)>>>;

/// A loopback webhook receiver: every POST's path and JSON body.
async fn receiver() -> (String, Got) {
    async fn keep(
        State(got): State<Got>,
        uri: axum::http::Uri,
        Json(body): Json<Value>,
    ) -> axum::http::StatusCode {
        got.lock().unwrap().push((uri.path().to_string(), body));
        axum::http::StatusCode::OK
    }
    let got: Got = Arc::default();
    let app = axum::Router::new()
        .route("/{*path}", axum::routing::post(keep))
        .with_state(got.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (base, got)
}

fn directory(base: &str) -> Directory {
    Directory::from_toml(&format!(
        r#"
default_office = "390100"
[[offices]]
id = "390100"
name = "江州市人民政府办公室"
level = "city"
channels = ["inbox"]
[[offices]]
id = "390121"
name = "清河县人民政府办公室"
level = "county"
parent = "390100"
channels = ["webhook:{base}/qinghe"]
[[offices]]
id = "390122"
name = "临江区人民政府办公室"
level = "county"
parent = "390100"
channels = ["webhook:{base}/linjiang"]
[[agencies]]
id = "qh-czj"
name = "清河县财政局"
office = "390121"
kind = "department"
channels = ["webhook:{base}/czj"]
[[agencies]]
id = "qh-slj"
name = "清河县水利局"
office = "390121"
kind = "department"
"#
    ))
    .unwrap()
}

fn alert(agency: &str, agency_id: &str) -> AlertRecord {
    let findings = vec![StoredFinding {
        rule: "t3-balance".into(),
        severity: "error".into(),
        message: "表三 自然人 列：第一项加第二项之和(41)不等于第三项加第四项之和(40)，相差1".into(),
        part: Some(3),
        cell: Some("R24".into()),
        column: Some(0),
        expected: Some("41".into()),
        actual: Some("40".into()),
        line: Some(57),
    }];
    AlertRecord {
        alert_id: AlertRecord::id_for(agency_id, "v1", "390121", KIND_FINDINGS),
        office_id: "390121".into(),
        office_name: "清河县人民政府办公室".into(),
        report_id: format!("r-{agency_id}"),
        version: "v1".into(),
        agency: agency.into(),
        year: 2024,
        region: "390121".into(),
        status: STATUS_OPEN.into(),
        kind: KIND_FINDINGS.into(),
        message: nianbao_notification::alert::format_message(agency, 2024, &findings, ""),
        findings,
        route_note: String::new(),
        created_at_ms: 1,
        acknowledged_at_ms: 0,
        acknowledged_by: String::new(),
        report_key: format!("{agency_id}|2024"),
        fingerprint: "fp".into(),
        has_error: true,
        escalated_at_ms: 0,
        resolved_at_ms: 0,
        source_alert_id: String::new(),
        digest_state: String::new(),
    }
}

struct Setup {
    svc: NotificationService,
    clock: Arc<ManualClock>,
    store: Store,
    _dir: tempfile::TempDir,
    _stop: nianbao_service::Trigger,
}

async fn setup(base: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/n.db?mode=rwc", dir.path().display()))
        .await
        .unwrap();
    let (stop, rx) = nianbao_service::Shutdown::new();
    let deliverer = Arc::new(
        Deliverer::new(
            store.clone(),
            dir.path().join("outbox.jsonl"),
            WebhookSettings {
                timeout: Duration::from_secs(5),
                retries: 1,
                backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(50),
                failing_after: 3,
                robot_interval: Duration::ZERO,
            },
            &SmtpSettings::default(),
            rx.clone(),
        )
        .unwrap(),
    );
    let directory = Arc::new(directory(base));
    let clock = ManualClock::new(1_750_000_000_000);
    let (alerts, _) = broadcast::channel(16);
    let engine = Arc::new(Engine {
        store: store.clone(),
        directory: directory.clone(),
        deliverer,
        clock: clock.clone(),
        policy: Policy {
            min_severity: nianbao_model::Severity::Warning,
            default_channels: vec![],
            escalate_after_hours: 0,
            roster: Default::default(),
        },
        alerts: alerts.clone(),
        locks: Default::default(),
    });
    let svc = NotificationService::new(store.clone(), alerts, rx, clock.clone(), 3, directory, 8)
        .with_engine(engine);
    Setup {
        svc,
        clock,
        store,
        _dir: dir,
        _stop: stop,
    }
}

fn office(id: &str, name: &str) -> Identity {
    Identity {
        credential_id: format!("cred-{id}"),
        role: Role::Office,
        subject: id.into(),
        name: name.into(),
    }
}

impl Setup {
    /// A request from `who`, one second after the previous one (so that the audit trail's order is
    /// its times').
    fn req<T>(&self, who: &Identity, msg: T) -> Request<T> {
        self.clock.advance_ms(1000);
        let mut r = Request::new(msg);
        r.extensions_mut().insert(who.clone());
        r
    }
}

async fn listed(s: &Setup, who: &Identity) -> Vec<v1::Alert> {
    s.svc
        .list_alerts(s.req(who, v1::ListAlertsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .alerts
}

fn reassign(id: &str, to: &str) -> v1::ReassignAlertRequest {
    v1::ReassignAlertRequest {
        alert_id: id.into(),
        office_id: to.into(),
        note: "属临江区管辖".into(),
        client_address: "10.1.2.3".into(),
    }
}

/// Waits for `n` webhook calls.
async fn calls(got: &Got, n: usize) -> Vec<(String, Value)> {
    for _ in 0..200 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reassignment_is_checked_against_the_jurisdiction_and_moves_the_alert() {
    let (base, got) = receiver().await;
    let s = setup(&base).await;
    let a = alert("清河县财政局", "qh-czj");
    s.store.insert_alert(&a).await.unwrap();
    let qinghe = office("390121", "清河王科长");
    let linjiang = office("390122", "临江李科长");
    let city = office("390100", "江州赵处长");

    // A county cannot hand its alert to a sibling county: outside its subtree.
    let e = s
        .svc
        .reassign_alert(s.req(&qinghe, reassign(&a.alert_id, "390122")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(
        e.message().contains("不在 390121 的管辖范围内") && e.message().contains("outside"),
        "{}",
        e.message()
    );
    // Nor can another county touch it.
    let e = s
        .svc
        .reassign_alert(s.req(&linjiang, reassign(&a.alert_id, "390122")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("管辖范围") && e.message().contains("jurisdiction"));
    // An unknown office is INVALID_ARGUMENT.
    let e = s
        .svc
        .reassign_alert(s.req(&city, reassign(&a.alert_id, "399999")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(listed(&s, &qinghe).await.len(), 1);
    assert!(listed(&s, &linjiang).await.is_empty());

    // The city hands it from 清河 to 临江.
    let moved = s
        .svc
        .reassign_alert(s.req(&city, reassign(&a.alert_id, "390122")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        moved.office_id, "390121",
        "where it was routed stays recorded"
    );
    assert_eq!(moved.assigned_office_id, "390122");
    assert_eq!(moved.assigned_office_name, "临江区人民政府办公室");

    // 临江 sees it, 清河 no longer does; the city sees it (both are below it).
    let l = listed(&s, &linjiang).await;
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].alert_id, a.alert_id);
    assert!(listed(&s, &qinghe).await.is_empty());
    assert_eq!(listed(&s, &city).await.len(), 1);
    let by_office = s
        .svc
        .list_alerts(s.req(
            &city,
            v1::ListAlertsRequest {
                office_id: Some("390122".into()),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_office.total, 1);

    // 清河 can no longer act on it; 临江 can.
    let e = s
        .svc
        .acknowledge_alert(s.req(
            &qinghe,
            v1::AcknowledgeAlertRequest {
                alert_id: a.alert_id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    // The notice went to 临江's webhook, not 清河's.
    let c = calls(&got, 1).await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].0, "/linjiang");
    assert_eq!(c[0].1["reassigned_to"], "390122");
    assert_eq!(c[0].1["alert_id"], a.alert_id.as_str());

    // Every attempt is audited: two refusals, then the reassignment, with who and from where.
    let audit = s.store.work(&a.alert_id).await.unwrap().actions;
    let outcomes: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|x| (x.action.as_str(), x.by_name.as_str(), x.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("reassign", "清河王科长", "denied"),
            ("reassign", "临江李科长", "denied"),
            ("reassign", "江州赵处长", "done"),
        ]
    );
    assert!(audit[2].detail.starts_with("390121 → 390122：属临江区管辖"));
    assert!(
        audit[2].peer.contains("client 10.1.2.3"),
        "{}",
        audit[2].peer
    );
    assert_eq!(audit[2].credential_id, "cred-390100");
    assert_eq!(moved.actions.len(), 3);

    // Handed back to 清河, it is no longer marked reassigned, and 清河 has it again.
    let back = s
        .svc
        .reassign_alert(s.req(&city, reassign(&a.alert_id, "390121")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.assigned_office_id, "");
    assert_eq!(listed(&s, &qinghe).await.len(), 1);
    assert!(listed(&s, &linjiang).await.is_empty());
    assert_eq!(calls(&got, 2).await[1].0, "/qinghe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rectify_deadline_is_set_by_the_office_in_charge() {
    let (base, _got) = receiver().await;
    let s = setup(&base).await;
    let a = alert("清河县财政局", "qh-czj");
    s.store.insert_alert(&a).await.unwrap();
    let qinghe = office("390121", "清河王科长");
    let linjiang = office("390122", "临江李科长");
    let set = |date: &str| v1::SetRectifyDeadlineRequest {
        alert_id: a.alert_id.clone(),
        rectify_by: date.into(),
        note: String::new(),
        client_address: String::new(),
    };
    let e = s
        .svc
        .set_rectify_deadline(s.req(&linjiang, set("2025-04-30")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    for bad in ["2025-02-30", "2025/04/30", "明天", "2025-4-30"] {
        let e = s
            .svc
            .set_rectify_deadline(s.req(&qinghe, set(bad)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{bad}");
        assert!(e.message().contains("整改期限"), "{}", e.message());
    }
    let a2 = s
        .svc
        .set_rectify_deadline(s.req(&qinghe, set("2025-04-30")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a2.rectify_by, "2025-04-30");
    assert_eq!(listed(&s, &qinghe).await[0].rectify_by, "2025-04-30");
    // Cleared with an empty date.
    let a3 = s
        .svc
        .set_rectify_deadline(s.req(&qinghe, set("")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a3.rectify_by, "");
    let audit: Vec<(String, String)> = a3
        .actions
        .iter()
        .map(|x| (x.detail.clone(), x.outcome.clone()))
        .collect();
    assert_eq!(
        audit,
        [
            (String::new(), "denied".to_string()),
            ("（无） → 2025-04-30".to_string(), "done".to_string()),
            ("2025-04-30 → （无）".to_string(), "done".to_string()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agency_is_told_through_its_own_channels() {
    let (base, got) = receiver().await;
    let s = setup(&base).await;
    let a = alert("清河县财政局", "qh-czj");
    let b = alert("清河县水利局", "qh-slj");
    s.store.insert_alert(&a).await.unwrap();
    s.store.insert_alert(&b).await.unwrap();
    let qinghe = office("390121", "清河王科长");
    let linjiang = office("390122", "临江李科长");
    let agency = Identity {
        credential_id: "cred-czj".into(),
        role: Role::Agency,
        subject: "清河县财政局".into(),
        name: "财政局".into(),
    };
    let notify = |id: &str| v1::NotifyAgencyRequest {
        alert_id: id.into(),
        note: "请于月底前更正后重新发布".into(),
        client_address: String::new(),
    };
    // Not the agency itself, not another county.
    let e = s
        .svc
        .notify_agency(s.req(&agency, notify(&a.alert_id)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = s
        .svc
        .notify_agency(s.req(&linjiang, notify(&a.alert_id)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // An agency without channels cannot be told; the attempt is recorded.
    let e = s
        .svc
        .notify_agency(s.req(&qinghe, notify(&b.alert_id)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("通知渠道"));
    assert_eq!(
        s.store.work(&b.alert_id).await.unwrap().actions[0].outcome,
        "failed"
    );

    s.svc
        .set_rectify_deadline(s.req(
            &qinghe,
            v1::SetRectifyDeadlineRequest {
                alert_id: a.alert_id.clone(),
                rectify_by: "2025-04-30".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let r = s
        .svc
        .notify_agency(s.req(&qinghe, notify(&a.alert_id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.channels, [format!("webhook:{base}/czj")]);
    assert!(r.notice_id.starts_with("ag-"));
    let shown = r.alert.unwrap();
    assert!(shown.agency_notified_at_ms > 0);
    let c = calls(&got, 1).await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].0, "/czj");
    assert_eq!(c[0].1["audience"], "agency");
    assert_eq!(c[0].1["agency_id"], "qh-czj");
    assert_eq!(c[0].1["rectify_by"], "2025-04-30");
    // The delivery is recorded under the notice, like any other.
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = s.store.deliveries(&r.notice_id).await.unwrap();
        if rows.iter().any(|d| d.status == "delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(rows.iter().any(|d| d.status == "delivered"), "{rows:?}");
    let last = shown.actions.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.outcome.as_str()),
        ("notify-agency", "done")
    );
    assert!(last.detail.contains("清河县财政局 → webhook:"));
}
