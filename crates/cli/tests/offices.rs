//! The offices' commands (`alerts`, `ack`, `export`, `channels`) as a person runs them: the real
//! `nianbao` binary against a running notification service whose store holds an office's alerts.
//! (The service runs without a broker here: its gRPC inbox serves while it waits for one.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;
use common::nianbao;
use nianbao_notification::alert::{
    AlertRecord, FindingRecord, KIND_FINDINGS, KIND_MISSING, STATUS_OPEN,
};
use nianbao_notification::store::{DeliveryStatus, Store};
use std::time::Duration;

fn alert(report: &str, agency: &str, kind: &str, findings: Vec<FindingRecord>) -> AlertRecord {
    AlertRecord {
        alert_id: AlertRecord::id_for(report, "v1", "390121", kind),
        office_id: "390121".into(),
        office_name: "清河县人民政府办公室".into(),
        report_id: report.into(),
        version: "v1".into(),
        agency: agency.into(),
        year: 2024,
        region: "390121".into(),
        status: STATUS_OPEN.into(),
        kind: kind.into(),
        message: format!("【年报检查】{agency} 2024年度报告发现 1 个错误：…"),
        findings,
        route_note: String::new(),
        created_at_ms: 1_738_339_200_000,
        acknowledged_at_ms: 0,
        acknowledged_by: String::new(),
        report_key: format!("{agency}|2024"),
        fingerprint: "fp".into(),
        has_error: true,
        escalated_at_ms: 0,
        resolved_at_ms: 0,
        source_alert_id: String::new(),
        digest_state: String::new(),
    }
}

fn finding(rule: &str, msg: &str) -> FindingRecord {
    FindingRecord {
        rule: rule.into(),
        severity: "error".into(),
        message: msg.into(),
        part: Some(3),
        cell: Some("R24".into()),
        column: Some(0),
        expected: Some("41".into()),
        actual: Some("40".into()),
        line: Some(57),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_ack_export_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/n.db?mode=rwc", dir.path().display());
    let store = Store::connect(&db).await.unwrap();
    let a = alert(
        "r1",
        "清河县财政局",
        KIND_FINDINGS,
        vec![finding("t3-balance", "表三 自然人 列：不平衡，相差1")],
    );
    let m = alert(
        "missing:清河县审计局",
        "清河县审计局",
        KIND_MISSING,
        vec![FindingRecord {
            rule: "report-missing".into(),
            severity: "error".into(),
            message: "截至2025年1月31日（政府部门报送期限）未收到2024年度报告".into(),
            part: None,
            cell: None,
            column: None,
            expected: None,
            actual: None,
            line: None,
        }],
    );
    store.insert_alert(&a).await.unwrap();
    store.insert_alert(&m).await.unwrap();
    let hook = "webhook:http://127.0.0.1:9/hook";
    for (n, st) in [
        (1, DeliveryStatus::Failed),
        (2, DeliveryStatus::Failed),
        (3, DeliveryStatus::GaveUp),
    ] {
        store
            .record_delivery(&a.alert_id, hook, n, st, "connection refused")
            .await
            .unwrap();
    }
    store.close().await;

    let mut cfg = nianbao_notification::Config {
        data_dir: dir.path().to_path_buf(),
        database_url: db,
        ..Default::default()
    };
    (cfg.tls, cfg.auth) = nianbao_auth::loopback_insecure();
    // Nothing listens there: the service keeps waiting for its broker and serves the inbox.
    cfg.bus.url = "amqp://guest:guest@127.0.0.1:9/%2f".into();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut rx2 = rx.clone();
    let server = tokio::spawn(async move {
        nianbao_notification::run(cfg, l, async move {
            let _ = rx2.wait_for(|v| *v).await;
        })
        .await
        .unwrap();
    });
    drop(rx);

    let url2 = url.clone();
    let run = move |args: Vec<String>| {
        let url = url2.clone();
        tokio::task::spawn_blocking(move || {
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            a.extend(["--endpoint", &url]);
            nianbao(&a)
        })
    };
    // Wait for the server.
    let mut ready = false;
    for _ in 0..100 {
        if run(vec!["alerts".into()]).await.unwrap().0 == 0 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the notification service did not come up");

    let (code, out) = run(vec!["alerts".into(), "--office".into(), "390121".into()])
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "告警 {}  [问题·待处理]  清河县人民政府办公室（390121） ← 清河县财政局 2024年度",
            a.alert_id
        )),
        "{out}"
    );
    assert!(out.contains("[未报送·待处理]"), "{out}");
    assert!(out.ends_with("共 2 条告警\n"), "{out}");
    let (_, out) = run(vec![
        "alerts".into(),
        "--kind".into(),
        "report-missing".into(),
        "--json".into(),
    ])
    .await
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["agency"], "清河县审计局");

    let (code, out) = run(vec![
        "ack".into(),
        m.alert_id.clone(),
        "--note".into(),
        "张科长已催报".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    // Who acknowledged comes from the caller's identity, never from the request: with
    // authentication disabled (loopback) that is the local identity.
    assert!(
        out.contains("[未报送·已确认]") && out.contains("确认：local (authentication disabled)"),
        "{out}"
    );

    let csv = dir.path().join("tongbao.csv");
    let (code, out) = run(vec![
        "export".into(),
        "--office".into(),
        "390121".into(),
        "--out".into(),
        csv.display().to_string(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("2 项问题（2 条告警）已导出到"), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[1].starts_with("1,清河县审计局,2024,错误,report-missing,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(",已确认,"), "{}", lines[1]);
    assert!(
        lines[2].contains("第三部分，单元格 R24（自然人列），第57行,41,40"),
        "{}",
        lines[2]
    );
    let xlsx = dir.path().join("tongbao.xlsx");
    let (code, out) = run(vec![
        "export".into(),
        "--office".into(),
        "390121".into(),
        "--out".into(),
        xlsx.display().to_string(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(&std::fs::read(&xlsx).unwrap()[..2], b"PK");
    let (code, out) = run(vec![
        "export".into(),
        "--office".into(),
        "390121".into(),
        "--out".into(),
        "x.pdf".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 2, "{out}");

    // The webhook that kept failing shows, and the exit status says so.
    let (code, out) = run(vec!["channels".into()]).await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("[故障] webhook:http://127.0.0.1:9/hook  送达 0  失败重试 2  放弃 1"),
        "{out}"
    );
    assert!(out.contains("connection refused"), "{out}");

    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(20), server).await;
}
