//! The offices' commands (`alerts`, `ack`, `export`, `channels`) as a person runs them: the real
//! `nianbao` binary against a running notification service whose store holds an office's alerts.
//! (The service runs without a broker here: its gRPC inbox serves while it waits for one.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;
use common::nianbao;
use nianbao_model::StoredFinding;
use nianbao_notification::alert::{AlertRecord, KIND_FINDINGS, KIND_MISSING, STATUS_OPEN};
use nianbao_notification::store::{DeliveryStatus, Store};
use std::time::Duration;

fn alert(report: &str, agency: &str, kind: &str, findings: Vec<StoredFinding>) -> AlertRecord {
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

fn finding(rule: &str, msg: &str) -> StoredFinding {
    StoredFinding {
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
        vec![StoredFinding {
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
    let (stop, shutdown) = nianbao_service::Shutdown::new();
    let server = tokio::spawn(async move {
        nianbao_notification::run(cfg, l, shutdown, Default::default())
            .await
            .unwrap();
    });

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

    stop.fire();
    let _ = tokio::time::timeout(Duration::from_secs(20), server).await;
}

/// `nianbao ARGS` with extra environment (a credential), as another person in the office runs it.
fn nianbao_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nianbao"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("NIANBAO_DIRECTORY")
        .env_remove("NIANBAO_TOKEN_FILE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn sample_directory() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/directory/chujiang.toml"
    )
    .to_string()
}

/// What a newcomer met: filters that matched nothing instead of saying they are wrong, a second
/// acknowledgement that silently kept the first, locations in two styles and "（report-changed；）",
/// alerts in a different order on every run, times without a zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_says_what_is_wrong_and_reads_the_same_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/n.db?mode=rwc", dir.path().display());
    let store = Store::connect(&db).await.unwrap();
    // Created in an order the service lists newest first; the CLI's order must not depend on it.
    let mut later = alert(
        "r-b",
        "清河县财政局",
        KIND_FINDINGS,
        vec![finding("t3-balance", "表三 自然人 列：不平衡，相差1")],
    );
    later.created_at_ms += 60_000;
    let mut changed = finding("report-changed", "报告已更改，与上一版本不同。");
    (changed.part, changed.cell, changed.column, changed.line) = (None, None, None, None);
    changed.severity = "info".into();
    let earlier = alert("r-a", "清河县审计局", KIND_FINDINGS, vec![changed]);
    let mut closed = alert(
        "r-c",
        "清河县人民政府",
        KIND_FINDINGS,
        vec![finding("t3-balance", "不平衡")],
    );
    closed.status = "resolved".into();
    closed.resolved_at_ms = closed.created_at_ms + 3_600_000;
    store.insert_alert(&later).await.unwrap();
    store.insert_alert(&earlier).await.unwrap();
    store.insert_alert(&closed).await.unwrap();
    store.close().await;

    // Two people of 清河县's office, each with their own credential.
    let creds = dir.path().join("credentials.toml");
    let mut tokens = Vec::new();
    for name in ["王科长", "李科员"] {
        let (code, out) = nianbao_env(
            &[
                "credentials",
                "issue",
                "--file",
                &creds.display().to_string(),
                "--office",
                "390121",
                "--name",
                name,
                "--directory",
                &sample_directory(),
            ],
            &[],
        );
        assert_eq!(code, 0, "{out}");
        tokens.push(out.trim().lines().last().unwrap().to_string());
    }

    let mut cfg = nianbao_notification::Config {
        data_dir: dir.path().to_path_buf(),
        database_url: db,
        directory: sample_directory(),
        ..Default::default()
    };
    cfg.tls = nianbao_auth::loopback_insecure().0;
    cfg.auth.credentials = creds.clone();
    cfg.bus.url = "amqp://guest:guest@127.0.0.1:9/%2f".into();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (stop, shutdown) = nianbao_service::Shutdown::new();
    let server = tokio::spawn(async move {
        nianbao_notification::run(cfg, l, shutdown, Default::default())
            .await
            .unwrap();
    });

    let run = |args: &[&str], token: &str| {
        let mut a: Vec<String> = args.iter().map(ToString::to_string).collect();
        a.extend(["--endpoint".into(), url.clone()]);
        let token = token.to_string();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            nianbao_env(&a, &[("NIANBAO_TOKEN", &token)])
        })
    };
    let wang = tokens[0].clone();
    let li = tokens[1].clone();
    let mut ready = false;
    for _ in 0..100 {
        if run(&["alerts"], &wang).await.unwrap().0 == 0 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the notification service did not come up");

    // An office, status or kind that does not exist is an error, not an empty inbox.
    let (code, out) = run(&["alerts", "--office", "999999"], &wang).await.unwrap();
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no office 999999 in the directory"), "{out}");
    let (code, out) = run(&["alerts", "--status", "bogus"], &wang).await.unwrap();
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("unknown status \"bogus\"") && out.contains("open, acknowledged, resolved"),
        "{out}"
    );
    let (code, out) = run(&["alerts", "--kind", "nope"], &wang).await.unwrap();
    assert_eq!(code, 2, "{out}");
    let csv = dir.path().join("x.csv").display().to_string();
    let (code, out) = run(&["export", "--office", "999999", "--out", &csv], &wang)
        .await
        .unwrap();
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("999999"), "{out}");
    assert!(!std::path::Path::new(&csv).exists());
    // The CLI checks --office against a directory file itself when it is given one.
    let (code, out) = run(
        &[
            "alerts",
            "--office",
            "999999",
            "--directory",
            &sample_directory(),
        ],
        &wang,
    )
    .await
    .unwrap();
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no office 999999 in the directory"), "{out}");

    // The same order every time: by office, agency (审计局 before 财政局 by code point), year.
    let (code, out) = run(&["alerts"], &wang).await.unwrap();
    assert_eq!(code, 0, "{out}");
    let audit = out.find("← 清河县审计局").unwrap();
    let finance = out.find("← 清河县财政局").unwrap();
    assert!(audit < finance, "{out}");
    let (_, json) = run(&["alerts", "--json", "--status", "open"], &wang)
        .await
        .unwrap();
    let ids: Vec<String> = json
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["alert_id"].to_string())
        .collect();
    assert_eq!(
        ids,
        vec![
            format!("\"{}\"", earlier.alert_id),
            format!("\"{}\"", later.alert_id)
        ]
    );

    // The first acknowledgement stands; the second person is told who and when, exit 1.
    let (code, out) = run(&["ack", &later.alert_id, "--note", "已通知财政局"], &wang)
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("确认：王科长 20"), "{out}");
    // Times carry their zone.
    let line = out.lines().find(|l| l.contains("确认：王科长")).unwrap();
    assert!(line.ends_with(" +08:00"), "{line}");
    let (code, out) = run(&["ack", &later.alert_id], &li).await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("该告警已由 王科长 于 20")
            && out.contains(&format!(
                "alert {} was already acknowledged by 王科长 at 20",
                later.alert_id
            )),
        "{out}"
    );
    assert!(!out.contains("李科员"), "{out}");
    let (_, out) = run(&["alerts", "--status", "acknowledged"], &li)
        .await
        .unwrap();
    assert!(out.contains("确认：王科长"), "{out}");
    // A resolved alert has nothing to acknowledge: said so, exit 1.
    let (code, out) = run(&["ack", &closed.alert_id], &li).await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "alert {} is resolved; there is nothing to acknowledge",
            closed.alert_id
        )),
        "{out}"
    );

    // Export: the location in the one style, the time with its zone, no empty location.
    let (code, out) = run(&["export", "--office", "390121", "--out", &csv], &wang)
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.contains("第三部分，单元格 R24（自然人列），第57行,41,40"),
        "{text}"
    );
    assert!(text.contains("2025-02-01 00:00 +08:00"), "{text}");

    stop.fire();
    let _ = tokio::time::timeout(Duration::from_secs(20), server).await;
}
