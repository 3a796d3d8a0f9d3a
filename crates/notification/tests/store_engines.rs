//! The alert store on both engines: SQLite (the embedded default) and PostgreSQL (a private cluster
//! from the test harness). Same statements, same results.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_model::StoredFinding;
use nianbao_notification::alert::{AlertRecord, KIND_FINDINGS, STATUS_ACKNOWLEDGED, STATUS_OPEN};
use nianbao_notification::store::{AlertQuery, DeliveryStatus, Store};

fn alert(report: &str, office: &str, at: i64) -> AlertRecord {
    AlertRecord {
        alert_id: AlertRecord::id_for(report, "v1", office, KIND_FINDINGS),
        office_id: office.into(),
        office_name: "清河县人民政府办公室".into(),
        report_id: report.into(),
        version: "v1".into(),
        agency: "清河县财政局".into(),
        year: 2024,
        region: "390121".into(),
        status: STATUS_OPEN.into(),
        kind: KIND_FINDINGS.into(),
        findings: vec![StoredFinding {
            rule: "t3-balance".into(),
            severity: "error".into(),
            message: "表三 不平衡".into(),
            part: Some(3),
            cell: Some("R24".into()),
            column: Some(0),
            expected: Some("41".into()),
            actual: Some("40".into()),
            line: Some(57),
        }],
        message: "【年报检查】…".into(),
        route_note: String::new(),
        created_at_ms: at,
        acknowledged_at_ms: 0,
        acknowledged_by: String::new(),
        report_key: format!("清河县财政局|2024|{report}"),
        fingerprint: "fp".into(),
        has_error: true,
        escalated_at_ms: 0,
        resolved_at_ms: 0,
        source_alert_id: String::new(),
        digest_state: String::new(),
    }
}

async fn exercise(url: &str) {
    let s = Store::connect(url).await.unwrap();
    // Connecting twice (a restart) finds the tables in place.
    let s2 = Store::connect(url).await.unwrap();
    s2.close().await;

    let a = alert("r1", "o1", 10);
    assert!(s.insert_alert(&a).await.unwrap());
    assert!(
        !s.insert_alert(&a).await.unwrap(),
        "second insert is a no-op"
    );
    assert!(s.insert_alert(&alert("r2", "o1", 20)).await.unwrap());
    assert!(s.insert_alert(&alert("r3", "o2", 30)).await.unwrap());

    let (page, total) = s
        .list_alerts(&AlertQuery {
            office_id: Some("o1".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((total, page.len()), (2, 1));
    assert_eq!(page[0].report_id, "r2", "newest first");
    let (page, _) = s
        .list_alerts(&AlertQuery {
            office_id: Some("o1".into()),
            limit: 10,
            offset: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0], a, "round trip");
    assert_eq!(s.find_alert("r1", "v1", "o1").await.unwrap().unwrap(), a);
    assert!(s.find_alert("r1", "v2", "o1").await.unwrap().is_none());

    let acked = s
        .acknowledge(&a.alert_id, "张三", 99)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acked.status, STATUS_ACKNOWLEDGED);
    let again = s
        .acknowledge(&a.alert_id, "李四", 100)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.acknowledged_by.as_str(), again.acknowledged_at_ms),
        ("张三", 99)
    );
    assert!(s.acknowledge("nope", "x", 1).await.unwrap().is_none());
    let (open, total) = s
        .list_alerts(&AlertQuery {
            status: Some(STATUS_OPEN.into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((open.len(), total), (2, 2));
    assert_eq!(s.open_alerts(Some("o2")).await.unwrap().len(), 1);
    assert_eq!(s.open_alerts(None).await.unwrap().len(), 2);

    let hook = "webhook:http://127.0.0.1:9/x";
    s.record_delivery(&a.alert_id, hook, 0, DeliveryStatus::Pending, "")
        .await
        .unwrap();
    s.record_delivery(&a.alert_id, hook, 1, DeliveryStatus::Failed, "HTTP 500")
        .await
        .unwrap();
    s.record_delivery(&a.alert_id, "outbox", 1, DeliveryStatus::Delivered, "")
        .await
        .unwrap();
    let p = s.pending_remote().await.unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].channel.as_str(), p[0].last_attempt), (hook, 1));
    s.record_delivery(&a.alert_id, hook, 2, DeliveryStatus::Delivered, "")
        .await
        .unwrap();
    assert!(s.pending_remote().await.unwrap().is_empty());
    let d = s.deliveries(&a.alert_id).await.unwrap();
    assert_eq!(d.len(), 4);
    assert_eq!(d[0].channel, "outbox");
    assert_eq!((d[2].attempt, d[2].error.as_str()), (1, "HTTP 500"));

    // Channel health from the log: the hook failed once, then delivered.
    let h = s.channel_health().await.unwrap();
    let hook_h = h.iter().find(|c| c.channel == hook).unwrap();
    assert_eq!(
        (
            hook_h.delivered,
            hook_h.failed,
            hook_h.pending,
            hook_h.last_error.as_str()
        ),
        (1, 1, 0, "HTTP 500")
    );

    assert_eq!(s.consecutive_failures(hook).await.unwrap(), 0);
    // The log orders by time in milliseconds: let one pass.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    s.record_delivery(&a.alert_id, hook, 3, DeliveryStatus::Failed, "HTTP 502")
        .await
        .unwrap();
    assert_eq!(s.consecutive_failures(hook).await.unwrap(), 1);

    // Escalation and resolution are once-only state changes.
    let b = alert("r2", "o1", 20).alert_id;
    assert_eq!(
        s.escalation_candidates().await.unwrap().len(),
        2,
        "r2 and r3 are open"
    );
    assert!(s.mark_escalated(&b, 500).await.unwrap());
    assert!(!s.mark_escalated(&b, 600).await.unwrap());
    assert_eq!(s.escalation_candidates().await.unwrap().len(), 1);
    let cur = s
        .current_alert("清河县财政局|2024|r2", "o1", KIND_FINDINGS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cur.alert_id, b);
    assert!(s.resolve(&b, 700).await.unwrap());
    assert!(!s.resolve(&b, 800).await.unwrap());
    assert!(
        s.current_alert("清河县财政局|2024|r2", "o1", KIND_FINDINGS)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.get_alert(&b).await.unwrap().unwrap().resolved_at_ms, 700);

    // Counts for the metrics.
    let counts = s.alert_counts().await.unwrap();
    assert!(
        counts.contains(&("o1".into(), "findings".into(), "resolved".into(), 1)),
        "{counts:?}"
    );
    assert_eq!(counts.iter().map(|c| c.3).sum::<i64>(), 3);

    // Arrivals for the roster.
    assert!(
        s.record_arrival("清河县财政局|2024", "清河县财政局", 2024, "r1", 5)
            .await
            .unwrap()
    );
    assert!(
        !s.record_arrival("清河县财政局|2024", "清河县财政局", 2024, "r9", 6)
            .await
            .unwrap()
    );
    assert!(s.arrived(2024).await.unwrap().contains("清河县财政局"));
    assert!(s.arrived(2023).await.unwrap().is_empty());
    assert_eq!(s.arrival_ms("清河县财政局|2024").await.unwrap(), Some(5));
    assert_eq!(s.arrival_ms("清河县审计局|2024").await.unwrap(), None);
    s.close().await;
}

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    exercise(&format!(
        "sqlite://{}/notification.db?mode=rwc",
        dir.path().display()
    ))
    .await;
}

#[tokio::test]
async fn postgres() {
    let mut pg = nianbao_e2e::Postgres::start().expect("a private PostgreSQL cluster");
    let url = nianbao_e2e::new_database(&pg, "notification_store").unwrap();
    exercise(&url).await;
    pg.stop();
}
