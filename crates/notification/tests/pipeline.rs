//! The service end to end, in-process, against a private RabbitMQ node (the `nianbao-e2e` harness's
//! broker, a vhost of its own per test), SQLite in a temp dir, and a local HTTP server standing in
//! for an office's webhook.
//!
//! Needs Debian's rabbitmq-server (`deploy/scripts/rabbitmq.sh install`; CI installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use nianbao_bus::{Bus, BusConfig, Envelope, Handler, Message, Outcome, QueueSpec, Stage};
use nianbao_notification::config::WebhookConfig;
use nianbao_notification::store::Store;
use nianbao_notification::{Config, QUEUE};
use nianbao_proto::v1;
use nianbao_proto::v1::notification_client::NotificationClient;
use prost::Message as _;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

/// Forwards every `report.notified` event to the test.
struct Probe(mpsc::UnboundedSender<v1::ReportNotified>);

impl Handler for Probe {
    async fn handle(&self, msg: &Message) -> Outcome {
        match v1::ReportNotified::decode(msg.body.as_slice()) {
            Ok(ev) => {
                let _ = self.0.send(ev);
                Outcome::Done
            }
            Err(e) => Outcome::Invalid(e.to_string()),
        }
    }
}

/// The webhook: fails the first call with 500, accepts the rest, keeps what it accepted.
#[derive(Clone, Default)]
struct Hook {
    calls: Arc<AtomicUsize>,
    accepted: Arc<Mutex<Vec<(String, Value)>>>,
}

async fn hook(
    State(h): State<Hook>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    if h.calls.fetch_add(1, Ordering::SeqCst) == 0 {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    h.accepted.lock().unwrap().push((key, body));
    StatusCode::OK
}

fn validated(report_id: &str, agency: &str, findings: Vec<v1::Finding>) -> v1::ReportValidated {
    v1::ReportValidated {
        meta: Some(v1::EventMeta {
            report_id: report_id.into(),
            version: format!("{:0>64}", report_id.len()),
            attempt: 1,
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
            region: "390121".into(),
            emitted_at_ms: 1,
            submitted_at_ms: 1,
        }),
        agency: agency.into(),
        year: 2024,
        findings,
        published_on: "2025-01-20".into(),
        agency_verified: true,
        agency_id: String::new(),
        publication_witnessed: false,
        backfill: false,
    }
}

fn finding(severity: &str, rule: &str, message: &str) -> v1::Finding {
    v1::Finding {
        rule: rule.into(),
        severity: severity.into(),
        message: message.into(),
        ..Default::default()
    }
}

async fn publish(bus: &Bus, ev: &v1::ReportValidated) {
    let meta = ev.meta.as_ref().unwrap();
    let env = Envelope {
        message_id: format!("{}:{}:validated", meta.report_id, meta.version),
        traceparent: Some(meta.traceparent.clone()),
    };
    bus.publish(Stage::Validated, &meta.region, &ev.encode_to_vec(), &env)
        .await
        .unwrap();
}

async fn next_notified(rx: &mut mpsc::UnboundedReceiver<v1::ReportNotified>) -> v1::ReportNotified {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no report.notified in time")
        .unwrap()
}

async fn eventually<F: Fn() -> bool>(what: &str, f: F) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn outbox_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn validated_reports_become_one_alert_each_delivered_everywhere() {
    scenario(String::new()).await;
}

/// The same with the service's database on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_on_postgres() {
    let mut pg = nianbao_e2e::Postgres::start().expect("a private PostgreSQL cluster");
    let url = nianbao_e2e::new_database(&pg, "notification_pipeline").unwrap();
    scenario(url).await;
    pg.stop();
}

/// Runs everything on a fresh vhost of the harness's broker; `database_url` empty → SQLite under
/// the data dir.
async fn scenario(database_url: String) {
    let amqp_url = nianbao_e2e::shared_broker().new_vhost_url().unwrap();
    let data = tempfile::tempdir().unwrap();

    // The office's webhook.
    let h = Hook::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(h.clone());
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", http.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(http, app).await });

    let mut cfg = Config {
        data_dir: data.path().to_path_buf(),
        database_url,
        directory: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/directory/chujiang.toml")
            .display()
            .to_string(),
        default_channels: vec![
            "inbox".into(),
            "outbox".into(),
            format!("webhook:{hook_url}"),
        ],
        webhook: WebhookConfig {
            backoff_ms: 50,
            retries: 3,
            ..WebhookConfig::default()
        },
        bus: BusConfig {
            url: amqp_url.clone(),
            retry_delays_ms: vec![200],
            max_attempts: 2,
            ..BusConfig::default()
        },
        ..Config::default()
    };
    (cfg.tls, cfg.auth) = nianbao_auth::loopback_insecure();
    let outbox = cfg.outbox_path();
    let db_url = cfg.database_url();

    // The test's own view of the bus: report.notified comes back here.
    let bus = Bus::connect(&cfg.bus, "notification-test").await.unwrap();
    let probe = QueueSpec::new("test.notified", &[Stage::Notified.pattern()]);
    bus.declare(&probe).await.unwrap();
    let (ntx, mut nrx) = mpsc::unbounded_channel();
    let (probe_stop_tx, probe_stop) = tokio::sync::oneshot::channel::<()>();
    let probe_bus = bus.clone();
    let probe_task = tokio::spawn(async move {
        probe_bus
            .consume(&probe, Arc::new(Probe(ntx)), async {
                let _ = probe_stop.await;
            })
            .await
    });

    // The service.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, shutdown) = nianbao_service::Shutdown::new();
    let service = tokio::spawn(nianbao_notification::run(
        cfg,
        listener,
        shutdown,
        Default::default(),
    ));

    // SERVING once the database and the broker are up (and the queue declared).
    let channel = nianbao_e2e::pipeline::wait_serving(&addr, "nianbao.v1.Notification", WAIT)
        .await
        .unwrap();
    let mut client = NotificationClient::new(channel);

    // A stream for the county office, opened before anything happens.
    let mut stream = client
        .stream_alerts(v1::StreamAlertsRequest {
            office_id: Some("390121".into()),
            include_open: true,
        })
        .await
        .unwrap()
        .into_inner();

    // 1. A report with errors and a warning, by an agency named as its title names it (short form).
    let mut e1 = finding(
        "error",
        "t3-balance",
        "表三 自然人 列：第一项加第二项之和(41)不等于第三项加第四项之和(40)，相差1",
    );
    e1.part = Some(3);
    e1.cell = Some("R24".into());
    e1.column = Some(0);
    e1.line = Some(57);
    let ev = validated(
        "rep-hexi",
        "江州市清河县 河西街道",
        vec![
            finding("warning", "t2-fee-scale", "收费金额与件数不相称"),
            e1,
            finding("info", "label-mismatch", "标签与标准格式略有不同"),
        ],
    );
    publish(&bus, &ev).await;
    let n = next_notified(&mut nrx).await;
    assert_eq!(n.office_ids, vec!["390121".to_string()]);
    assert_eq!(n.alert_ids.len(), 1);
    let alert_id = n.alert_ids[0].clone();
    let meta = n.meta.unwrap();
    assert_eq!(meta.report_id, "rep-hexi");
    assert_eq!(meta.traceparent, ev.meta.as_ref().unwrap().traceparent);
    assert_eq!(meta.region, "390121");

    let streamed = tokio::time::timeout(WAIT, stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(streamed.alert_id, alert_id);

    let list = client
        .list_alerts(v1::ListAlertsRequest {
            office_id: Some("390121".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.total, 1);
    let a = &list.alerts[0];
    assert_eq!(a.alert_id, alert_id);
    assert_eq!(a.office_name, "清河县人民政府办公室");
    assert_eq!(a.status, "open");
    assert_eq!(a.kind, "findings");
    assert_eq!(a.findings.len(), 2, "info is not part of the alert");
    assert_eq!(a.findings[0].severity, "error");
    assert!(
        a.message.starts_with(
            "【年报检查】清河县河西街道办事处 2024年度报告发现 1 个错误、1 个警告：1. [错误] 表三"
        ),
        "{}",
        a.message
    );
    assert!(
        a.message
            .contains("（第三部分，单元格 R24（自然人列），第57行）")
    );
    assert_eq!(a.agency, "清河县河西街道办事处");
    assert!(
        a.message.ends_with(
            "（机关名称「江州市清河县 河西街道」按去除地区前缀比较匹配为「清河县河西街道办事处」）"
        ),
        "route note: {}",
        a.message
    );

    // The webhook got it on the second attempt; the outbox has exactly the one line.
    eventually("webhook delivery", || {
        !h.accepted.lock().unwrap().is_empty()
    })
    .await;
    {
        let got = h.accepted.lock().unwrap();
        assert_eq!(got[0].0, alert_id);
        assert_eq!(got[0].1["alert_id"], alert_id.as_str());
        assert_eq!(got[0].1["office_id"], "390121");
        assert_eq!(got[0].1["schema"], "nianbao.alert/v1");
    }
    let lines = outbox_lines(&outbox);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["alert_id"], alert_id.as_str());
    let store = Store::connect(&db_url).await.unwrap();
    let deliveries = store.deliveries(&alert_id).await.unwrap();
    let statuses: Vec<(String, String)> = deliveries
        .iter()
        .map(|d| (d.channel.clone(), d.status.clone()))
        .collect();
    let hook_channel = format!("webhook:{hook_url}");
    for want in [
        ("inbox", "delivered"),
        ("outbox", "delivered"),
        (hook_channel.as_str(), "pending"),
        (hook_channel.as_str(), "failed"),
        (hook_channel.as_str(), "delivered"),
    ] {
        assert!(
            statuses.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} missing from {statuses:?}"
        );
    }

    // 2. Acknowledge, idempotently; an unknown id is NOT_FOUND. Who acknowledged is the caller's
    // identity (here: authentication disabled on loopback), never the name the request gives.
    let acked = client
        .acknowledge_alert(v1::AcknowledgeAlertRequest {
            alert_id: alert_id.clone(),
            acknowledged_by: "张科长".into(),
            note: "已电话通知".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acked.status, "acknowledged");
    let local = nianbao_auth::Identity::local().name;
    assert_eq!(acked.acknowledged_by, local);
    assert!(acked.acknowledged_at_ms > 0);
    let again = client
        .acknowledge_alert(v1::AcknowledgeAlertRequest {
            alert_id: alert_id.clone(),
            acknowledged_by: "李四".into(),
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.acknowledged_by, local);
    let missing = client
        .acknowledge_alert(v1::AcknowledgeAlertRequest {
            alert_id: "al-nope".into(),
            acknowledged_by: "x".into(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // 3. The same event again: same alert, nothing delivered twice.
    publish(&bus, &ev).await;
    let n2 = next_notified(&mut nrx).await;
    assert_eq!(n2.alert_ids, vec![alert_id.clone()]);
    let list = client
        .list_alerts(v1::ListAlertsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.total, 1);
    assert_eq!(list.alerts[0].status, "acknowledged");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(outbox_lines(&outbox).len(), 1);
    assert_eq!(h.accepted.lock().unwrap().len(), 1);
    assert_eq!(
        store.deliveries(&alert_id).await.unwrap().len(),
        deliveries.len()
    );

    // 4. Only info findings: no alert, but report.notified with empty lists.
    let info_only = validated(
        "rep-info",
        "清河县财政局",
        vec![finding("info", "label-mismatch", "标签略有不同")],
    );
    publish(&bus, &info_only).await;
    let n3 = next_notified(&mut nrx).await;
    assert_eq!(n3.meta.unwrap().report_id, "rep-info");
    assert!(n3.alert_ids.is_empty() && n3.office_ids.is_empty());

    // 5. An agency the directory does not know: the default office, with the reason.
    let unknown = validated(
        "rep-unknown",
        "北京市朝阳区人民政府",
        vec![finding("error", "part-missing", "缺少第五部分")],
    );
    publish(&bus, &unknown).await;
    let n4 = next_notified(&mut nrx).await;
    assert_eq!(n4.office_ids, vec!["province".to_string()]);
    let list = client
        .list_alerts(v1::ListAlertsRequest {
            office_id: Some("province".into()),
            status: Some("open".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.total, 1);
    assert!(
        list.alerts[0].message.contains("不在名录中"),
        "{}",
        list.alerts[0].message
    );
    let all = client
        .list_alerts(v1::ListAlertsRequest {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((all.total, all.alerts.len()), (2, 1));
    assert_eq!(all.alerts[0].report_id, "rep-unknown", "newest first");

    // 6. Garbage on the queue is parked at once and does not block the next event.
    bus.publish_to_queue(QUEUE, b"\x08\xff\xff garbage")
        .await
        .unwrap();
    let after = validated(
        "rep-after",
        "清河县教育局",
        vec![finding("warning", "t2-fee-scale", "x")],
    );
    publish(&bus, &after).await;
    let n5 = next_notified(&mut nrx).await;
    assert_eq!(n5.meta.unwrap().report_id, "rep-after");
    assert_eq!(n5.office_ids, vec!["390121".to_string()]);
    let parked = format!("{QUEUE}.parked");
    let deadline = tokio::time::Instant::now() + WAIT;
    while bus.queue_len(&parked).await.unwrap() != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "garbage was not parked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing else was received by the notified probe (one event per report, exactly once here).
    assert!(nrx.try_recv().is_err());

    // Shut down cleanly; the stream ends.
    store.close().await;
    stop_tx.fire();
    tokio::time::timeout(WAIT, service)
        .await
        .expect("service did not stop")
        .unwrap()
        .unwrap();
    let _ = probe_stop_tx.send(());
    let _ = probe_task.await;
    bus.close().await;
}
