//! The channels against real local servers started here: an HTTP server standing in for a generic
//! webhook, a 企业微信 group robot and a 钉钉 custom robot (checking each payload against the
//! documented format, and the 钉钉 signature), and an SMTP server (a small real one, speaking SMTP
//! to lettre over TCP) receiving the e-mail. Failing channels retry, give up, show as failing, and
//! the alert stays in the store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use nianbao_model::StoredFinding;
use nianbao_notification::alert::{AlertRecord, KIND_FINDINGS, STATUS_OPEN};
use nianbao_notification::deliver::{Channel, Deliverer, SmtpSettings, WebhookSettings};
use nianbao_notification::render::alert_notice;
use nianbao_notification::store::Store;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const SECRET: &str = "SEC0123456789abcdef";

/// One request: path, query, headers of interest, body.
type Call = (
    String,
    HashMap<String, String>,
    HashMap<String, String>,
    Value,
);

#[derive(Clone, Default)]
struct Received {
    calls: Arc<Mutex<Vec<Call>>>,
}

fn keep(r: &Received, path: &str, q: HashMap<String, String>, h: &HeaderMap, body: Value) {
    let mut hs = HashMap::new();
    for k in ["idempotency-key", "content-type"] {
        if let Some(v) = h.get(k).and_then(|v| v.to_str().ok()) {
            hs.insert(k.to_string(), v.to_string());
        }
    }
    r.calls
        .lock()
        .unwrap()
        .push((path.to_string(), q, hs, body));
}

async fn hook(
    State(r): State<Received>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    keep(&r, "/hook", q, &h, body);
    StatusCode::OK
}

/// 企业微信: `POST /cgi-bin/webhook/send?key=KEY`, answers `{"errcode":0,"errmsg":"ok"}`.
async fn wecom(
    State(r): State<Received>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    let ok = q.get("key").is_some_and(|k| k == "wecom-key-1234");
    keep(&r, "/cgi-bin/webhook/send", q, &h, body);
    Json(if ok {
        json!({"errcode": 0, "errmsg": "ok"})
    } else {
        json!({"errcode": 93000, "errmsg": "invalid webhook url"})
    })
}

/// 钉钉: `POST /robot/send?access_token=T&timestamp=MS&sign=S`; checks the signature like the
/// robot does.
async fn dingtalk(
    State(r): State<Received>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
    Json(body): Json<Value>,
) -> Json<Value> {
    // axum's Query has already percent-decoded `sign`.
    let ts = q.get("timestamp").cloned().unwrap_or_default();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}\n{SECRET}").as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (nianbao_service::now_ms() - t).abs() < 3_600_000);
    let ok = q.get("sign") == Some(&want) && fresh && q.contains_key("access_token");
    keep(&r, "/robot/send", q, &h, body);
    Json(if ok {
        json!({"errcode": 0, "errmsg": "ok"})
    } else {
        json!({"errcode": 310000, "errmsg": "sign not match"})
    })
}

async fn broken() -> StatusCode {
    StatusCode::SERVICE_UNAVAILABLE
}

async fn http_server() -> (String, Received) {
    let r = Received::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .route("/cgi-bin/webhook/send", axum::routing::post(wecom))
        .route("/robot/send", axum::routing::post(dingtalk))
        .route("/broken", axum::routing::post(broken))
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (base, r)
}

/// One mail as the SMTP server received it.
#[derive(Clone, Debug, Default)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A minimal but real SMTP server (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA with dot-stuffing,
/// RSET, NOOP, QUIT) on a loopback port.
async fn smtp_server() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let m = mails.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let m = m.clone();
            tokio::spawn(async move {
                let (rd, mut wr) = sock.into_split();
                let mut rd = BufReader::new(rd);
                wr.write_all(b"220 test.local ESMTP ready\r\n")
                    .await
                    .unwrap();
                let mut cur = Mail::default();
                let mut line = String::new();
                loop {
                    line.clear();
                    if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_string();
                    let upper = cmd.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-test.local\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                    } else if upper.starts_with("HELO") {
                        b"250 test.local\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        cur = Mail {
                            from: cmd[10..].trim().to_string(),
                            ..Mail::default()
                        };
                        b"250 2.1.0 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        cur.to.push(cmd[8..].trim().to_string());
                        b"250 2.1.5 OK\r\n"
                    } else if upper == "DATA" {
                        wr.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                            .await
                            .unwrap();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" || line == ".\n" {
                                break;
                            }
                            let l = line.strip_prefix('.').unwrap_or(&line);
                            data.push_str(l);
                        }
                        cur.data = data;
                        m.lock().unwrap().push(std::mem::take(&mut cur));
                        b"250 2.0.0 queued\r\n"
                    } else if upper == "RSET" || upper == "NOOP" {
                        b"250 OK\r\n"
                    } else if upper == "QUIT" {
                        let _ = wr.write_all(b"221 2.0.0 bye\r\n").await;
                        return;
                    } else {
                        b"502 5.5.2 command not recognized\r\n"
                    };
                    wr.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

fn alert() -> AlertRecord {
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
        alert_id: AlertRecord::id_for("r1", "v1", "390121", KIND_FINDINGS),
        office_id: "390121".into(),
        office_name: "清河县人民政府办公室".into(),
        report_id: "r1".into(),
        version: "v1".into(),
        agency: "清河县河西街道办事处".into(),
        year: 2024,
        region: "390121".into(),
        status: STATUS_OPEN.into(),
        kind: KIND_FINDINGS.into(),
        message: nianbao_notification::alert::format_message(
            "清河县河西街道办事处",
            2024,
            &findings,
            "",
        ),
        findings,
        route_note: String::new(),
        created_at_ms: 1,
        acknowledged_at_ms: 0,
        acknowledged_by: String::new(),
        report_key: "清河县河西街道办事处|2024".into(),
        fingerprint: "fp".into(),
        has_error: true,
        escalated_at_ms: 0,
        resolved_at_ms: 0,
        source_alert_id: String::new(),
        digest_state: String::new(),
    }
}

struct Setup {
    store: Store,
    deliverer: Arc<Deliverer>,
    _dir: tempfile::TempDir,
    _stop: nianbao_service::Trigger,
}

async fn setup(smtp_port: u16, retries: u32) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/n.db?mode=rwc", dir.path().display()))
        .await
        .unwrap();
    let (stop, rx) = nianbao_service::Shutdown::new();
    let deliverer = Deliverer::new(
        store.clone(),
        dir.path().join("outbox.jsonl"),
        WebhookSettings {
            timeout: Duration::from_secs(5),
            retries,
            backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
            failing_after: 3,
            robot_interval: Duration::ZERO,
        },
        &SmtpSettings {
            host: "127.0.0.1".into(),
            port: smtp_port,
            security: "none".into(),
            from: "年报检查 <nianbao@test.local>".into(),
            timeout: Duration::from_secs(5),
            ..SmtpSettings::default()
        },
        rx,
    )
    .unwrap();
    Setup {
        store,
        deliverer: Arc::new(deliverer),
        _dir: dir,
        _stop: stop,
    }
}

/// Waits until every one of `channels` has a final outcome for `id`; returns the rows.
async fn settled(store: &Store, id: &str, channels: usize) -> Vec<(String, String)> {
    for _ in 0..300 {
        let rows = store.deliveries(id).await.unwrap();
        let done: Vec<(String, String)> = rows
            .iter()
            .filter(|d| d.status == "delivered" || d.status == "gave_up")
            .map(|d| (d.channel.clone(), d.status.clone()))
            .collect();
        if done.len() >= channels {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "deliveries of {id} did not settle: {:?}",
        store.deliveries(id).await.unwrap()
    );
}

fn decode_mail_body(data: &str) -> (HashMap<String, String>, String) {
    let (head, body) = data.split_once("\r\n\r\n").unwrap();
    let mut headers = HashMap::new();
    let mut last = String::new();
    for l in head.split("\r\n") {
        if l.starts_with([' ', '\t']) {
            if let Some(v) = headers.get_mut(&last) {
                let v: &mut String = v;
                v.push(' ');
                v.push_str(l.trim_start());
            }
        } else if let Some((k, v)) = l.split_once(':') {
            last = k.to_ascii_lowercase();
            headers.insert(last.clone(), v.trim().to_string());
        }
    }
    let body = match headers.get("content-transfer-encoding").map(String::as_str) {
        Some("base64") => String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(body.replace("\r\n", "").trim())
                .unwrap(),
        )
        .unwrap(),
        _ => body.to_string(),
    };
    // SMTP carries CRLF line ends.
    (headers, body.replace("\r\n", "\n"))
}

/// `=?utf-8?b?…?=` encoded words (RFC 2047), as lettre writes non-ASCII subjects.
fn decode_words(s: &str) -> String {
    let mut out = Vec::new();
    for w in s.split_whitespace() {
        let lower = w.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?") && w.ends_with("?=") {
            out.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(&w[10..w.len() - 2])
                    .unwrap(),
            );
        } else {
            out.extend(w.as_bytes());
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_wecom_dingtalk_and_email_receive_documented_payloads() {
    let (base, got) = http_server().await;
    let (smtp_port, mails) = smtp_server().await;
    let s = setup(smtp_port, 2).await;
    let a = alert();
    s.store.insert_alert(&a).await.unwrap();
    let notice = alert_notice(&a);
    let channels: Vec<Channel> = [
        format!("webhook:{base}/hook"),
        format!("wecom:{base}/cgi-bin/webhook/send?key=wecom-key-1234"),
        format!("dingtalk:{base}/robot/send?access_token=dt-token-5678#secret={SECRET}"),
        "email:gkb@qinghe.example.cn,zhang@qinghe.example.cn".to_string(),
        "inbox".to_string(),
    ]
    .iter()
    .map(|c| c.parse().unwrap())
    .collect();
    s.deliverer.deliver(&notice, &channels).await.unwrap();
    let done = settled(&s.store, &a.alert_id, 5).await;
    assert!(done.iter().all(|(_, st)| st == "delivered"), "{done:?}");
    // Secrets never reach the delivery log.
    let names: Vec<&String> = done.iter().map(|(c, _)| c).collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("wecom-key-1234") && !n.contains(SECRET)),
        "{names:?}"
    );

    let calls = got.calls.lock().unwrap().clone();
    let by = |p: &str| calls.iter().find(|c| c.0 == p).unwrap().clone();

    // Generic webhook: the alert JSON, tagged, with the idempotency key.
    let (_, _, h, body) = by("/hook");
    assert_eq!(h["idempotency-key"], a.alert_id);
    assert!(h["content-type"].starts_with("application/json"));
    assert_eq!(body["schema"], "nianbao.alert/v1");
    assert_eq!(body["agency"], "清河县河西街道办事处");
    assert_eq!(body["findings"][0]["cell"], "R24");

    // 企业微信 群机器人: {"msgtype":"markdown","markdown":{"content":"…"}}, content ≤ 4096 bytes.
    let (_, q, _, body) = by("/cgi-bin/webhook/send");
    assert_eq!(q["key"], "wecom-key-1234");
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    assert_eq!(body["msgtype"], "markdown");
    let content = body["markdown"]["content"].as_str().unwrap();
    assert_eq!(body["markdown"].as_object().unwrap().len(), 1);
    assert!(content.len() <= 4096);
    assert!(
        content.starts_with("### 【年报检查】清河县河西街道办事处 2024年度报告\n"),
        "{content}"
    );
    assert!(content.contains("\n1. [错误] 表三 自然人 列"), "{content}");
    assert!(
        content.contains("单元格 R24（自然人列），第57行）[t3-balance]"),
        "{content}"
    );

    // 钉钉 自定义机器人: {"msgtype":"markdown","markdown":{"title":…,"text":…}}, signed URL.
    let (_, q, _, body) = by("/robot/send");
    assert_eq!(q["access_token"], "dt-token-5678");
    assert!(q.contains_key("timestamp") && q.contains_key("sign"));
    assert_eq!(body["msgtype"], "markdown");
    assert_eq!(
        body["markdown"]["title"],
        "【年报检查】清河县河西街道办事处 2024年度报告"
    );
    assert!(
        body["markdown"]["text"]
            .as_str()
            .unwrap()
            .contains("[t3-balance]")
    );

    // E-mail: one message to both addresses, Chinese subject and body.
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.from, "<nianbao@test.local>");
    assert_eq!(
        m.to,
        vec!["<gkb@qinghe.example.cn>", "<zhang@qinghe.example.cn>"]
    );
    let (headers, body) = decode_mail_body(&m.data);
    assert_eq!(
        decode_words(&headers["subject"]),
        "【年报检查】清河县河西街道办事处 2024年度报告"
    );
    assert!(
        headers["content-type"].starts_with("text/plain"),
        "{headers:?}"
    );
    assert!(
        body.starts_with("【年报检查】清河县河西街道办事处 2024年度报告发现 1 个错误\n"),
        "{body}"
    );
    assert!(body.contains("1. [错误] 表三 自然人 列"), "{body}");
    assert!(
        body.contains(&format!("告警编号：{}", a.alert_id)),
        "{body}"
    );

    // Delivering again (a redelivered event) sends nothing twice.
    s.deliverer.deliver(&notice, &channels).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(got.calls.lock().unwrap().len(), 3);
    assert_eq!(mails.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_channel_retries_gives_up_shows_as_failing_and_loses_no_alert() {
    let (base, got) = http_server().await;
    let (smtp_port, _) = smtp_server().await;
    let s = setup(smtp_port, 3).await;
    let a = alert();
    s.store.insert_alert(&a).await.unwrap();
    let channels: Vec<Channel> = [
        format!("webhook:{base}/broken"),
        // A wrong key: HTTP 200 but errcode ≠ 0, which is a failure too.
        format!("wecom:{base}/cgi-bin/webhook/send?key=wrong"),
        format!("webhook:{base}/hook"),
    ]
    .iter()
    .map(|c| c.parse().unwrap())
    .collect();
    s.deliverer
        .deliver(&alert_notice(&a), &channels)
        .await
        .unwrap();
    let done = settled(&s.store, &a.alert_id, 3).await;
    let status = |prefix: &str| {
        done.iter()
            .find(|(c, _)| c.starts_with(prefix))
            .map(|(_, st)| st.clone())
            .unwrap()
    };
    assert_eq!(status(&format!("webhook:{base}/broken")), "gave_up");
    assert_eq!(status("wecom:"), "gave_up");
    assert_eq!(status(&format!("webhook:{base}/hook")), "delivered");
    let rows = s.store.deliveries(&a.alert_id).await.unwrap();
    let broken: Vec<_> = rows
        .iter()
        .filter(|d| d.channel.ends_with("/broken"))
        .map(|d| (d.attempt, d.status.as_str(), d.error.as_str()))
        .collect();
    assert_eq!(
        broken,
        vec![
            (0, "pending", ""),
            (1, "failed", "HTTP 503 Service Unavailable"),
            (2, "failed", "HTTP 503 Service Unavailable"),
            (3, "failed", "HTTP 503 Service Unavailable"),
            (4, "gave_up", "HTTP 503 Service Unavailable"),
        ]
    );
    // All four attempts reached the wrong-key robot; each answered errcode 93000.
    assert_eq!(
        got.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.0 == "/cgi-bin/webhook/send")
            .count(),
        4
    );

    let health = s.store.channel_health().await.unwrap();
    let h = health
        .iter()
        .find(|h| h.channel.ends_with("/broken"))
        .unwrap();
    assert_eq!((h.delivered, h.failed, h.gave_up, h.pending), (0, 3, 1, 0));
    assert_eq!(h.consecutive_failures, 4);
    assert_eq!(h.last_error, "HTTP 503 Service Unavailable");
    let w = health
        .iter()
        .find(|h| h.channel.starts_with("wecom:"))
        .unwrap();
    assert!(w.last_error.contains("errcode 93000"), "{}", w.last_error);
    assert!(w.channel.ends_with("key=…rong"), "{}", w.channel);
    let ok = health
        .iter()
        .find(|h| h.channel.ends_with("/hook"))
        .unwrap();
    assert_eq!((ok.delivered, ok.consecutive_failures), (1, 0));

    // The alert is still there for the inbox.
    assert_eq!(s.store.get_alert(&a.alert_id).await.unwrap().unwrap(), a);

    // …and the metrics (the families the service's /metrics appends) show the failing channel.
    let text =
        nianbao_notification::metrics::render_openmetrics(&s.store, 3, "nianbao-notification")
            .await
            .unwrap();
    let broken = format!("service=\"nianbao-notification\",channel=\"webhook:{base}/broken\"");
    for line in [
        format!("nianbao_notification_deliveries_total{{{broken},outcome=\"gave_up\"}} 1"),
        format!("nianbao_notification_deliveries_total{{{broken},outcome=\"failed\"}} 3"),
        format!("nianbao_notification_channel_consecutive_failures{{{broken}}} 4"),
        format!("nianbao_notification_channel_failing{{{broken}}} 1"),
        format!("nianbao_notification_channel_failing{{service=\"nianbao-notification\",channel=\"webhook:{base}/hook\"}} 0"),
        "nianbao_notification_alerts{service=\"nianbao-notification\",office=\"390121\",kind=\"findings\",status=\"open\"} 1"
            .to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_delivery_resumes_at_start_with_the_office_channel() {
    let (base, got) = http_server().await;
    let (smtp_port, _) = smtp_server().await;
    let s = setup(smtp_port, 1).await;
    let a = alert();
    s.store.insert_alert(&a).await.unwrap();
    let notice = alert_notice(&a);
    // A previous run queued the robot delivery and stopped before sending it.
    let ch: Channel =
        format!("dingtalk:{base}/robot/send?access_token=dt-token-5678#secret={SECRET}")
            .parse()
            .unwrap();
    s.store.put_notice(&notice).await.unwrap();
    s.store
        .record_delivery(
            &a.alert_id,
            &ch.to_string(),
            0,
            nianbao_notification::store::DeliveryStatus::Pending,
            "",
        )
        .await
        .unwrap();
    // The recorded name has no secret: the channel comes from the office's list.
    let office_channels = vec![ch.clone()];
    let n = s
        .deliverer
        .resume_pending(|notice| {
            assert_eq!(notice.office_id, "390121");
            office_channels.clone()
        })
        .await
        .unwrap();
    assert_eq!(n, 1);
    let done = settled(&s.store, &a.alert_id, 1).await;
    assert_eq!(done, vec![(ch.to_string(), "delivered".to_string())]);
    let calls = got.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "/robot/send", "signed and accepted");
    // Nothing left to resume.
    assert_eq!(
        s.deliverer
            .resume_pending(|_| office_channels.clone())
            .await
            .unwrap(),
        0
    );
}

/// Robots and webhooks that fail in every way that could carry their URL into an error: HTTP 500
/// with an error page quoting the request, an answer without `errcode` quoting it, an `errmsg`
/// quoting the key and the signature, and refused connections (reqwest's error names the URL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_errors_are_stored_and_shown_without_keys_or_tokens() {
    use axum::extract::OriginalUri;
    // Each answer quotes the full request URI, key included, as careless gateways do.
    async fn page_500(OriginalUri(uri): OriginalUri) -> (StatusCode, String) {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("<html>500 for POST {uri}</html>"),
        )
    }
    async fn no_errcode(OriginalUri(uri): OriginalUri) -> Json<Value> {
        Json(json!({"status": "bad request", "request": uri.to_string()}))
    }
    async fn errmsg(OriginalUri(uri): OriginalUri) -> Json<Value> {
        Json(json!({"errcode": 310000, "errmsg": format!("sign not match, request {uri}")}))
    }
    let app = axum::Router::new()
        .route("/page500/send", axum::routing::post(page_500))
        .route("/noerrcode/send", axum::routing::post(no_errcode))
        .route("/errmsg/send", axum::routing::post(errmsg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    // A port nobody listens on: connections are refused.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (smtp_port, _) = smtp_server().await;
    let s = setup(smtp_port, 0).await;
    let a = alert();
    s.store.insert_alert(&a).await.unwrap();

    let secrets = [
        "wecom-500-key-0123456789",
        "wecom-noerr-key-0123456789",
        "dt-errmsg-token-0123456789",
        "SECdingtalk-errmsg-0123456789",
        "wecom-refused-key-0123456789",
        "dt-refused-token-0123456789",
        "webhook-password-0123",
        "webhook-token-0123456789",
    ];
    let channels: Vec<Channel> = [
        format!("wecom:{base}/page500/send?key={}", secrets[0]),
        format!("wecom:{base}/noerrcode/send?key={}", secrets[1]),
        format!(
            "dingtalk:{base}/errmsg/send?access_token={}#secret={}",
            secrets[2], secrets[3]
        ),
        format!(
            "wecom:http://127.0.0.1:{closed}/cgi-bin/webhook/send?key={}",
            secrets[4]
        ),
        format!(
            "dingtalk:http://127.0.0.1:{closed}/robot/send?access_token={}#secret={}",
            secrets[5], secrets[3]
        ),
        format!(
            "webhook:http://nianbao:{}@127.0.0.1:{closed}/hook?token={}",
            secrets[6], secrets[7]
        ),
    ]
    .iter()
    .map(|c| c.parse().unwrap())
    .collect();
    s.deliverer
        .deliver(&alert_notice(&a), &channels)
        .await
        .unwrap();
    let done = settled(&s.store, &a.alert_id, channels.len()).await;
    assert!(done.iter().all(|(_, st)| st == "gave_up"), "{done:?}");

    // What `ListChannels` returns (channel and last_error are the store's, verbatim) and every
    // recorded attempt.
    let health = s.store.channel_health().await.unwrap();
    let rows = s.store.deliveries(&a.alert_id).await.unwrap();
    let shown = format!("{health:?}\n{rows:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    // Nor the signature derived from the 钉钉 secret, which the answer quoted.
    assert!(shown.contains("&sign=***"), "{shown}");
    assert_eq!(
        shown.matches("sign=").count(),
        shown.matches("sign=***").count(),
        "{shown}"
    );

    // The errors still say what went wrong, and the channels which robot it was.
    let error_of = |prefix: &str| {
        health
            .iter()
            .find(|h| h.channel.starts_with(prefix))
            .map(|h| h.last_error.clone())
            .unwrap_or_else(|| panic!("no channel {prefix}: {health:?}"))
    };
    assert_eq!(
        error_of(&format!("wecom:{base}/page500/send?key=…6789")),
        "HTTP 500 Internal Server Error"
    );
    let e = error_of(&format!("wecom:{base}/noerrcode/send?key=…6789"));
    assert!(
        e.starts_with("robot answer without errcode: ") && e.contains("/noerrcode/send?key=***"),
        "{e}"
    );
    let e = error_of(&format!(
        "dingtalk:{base}/errmsg/send?access_token=…6789#secret=…"
    ));
    assert!(e.starts_with("robot errcode 310000: sign not match"), "{e}");
    for prefix in [
        format!("wecom:http://127.0.0.1:{closed}/"),
        format!("dingtalk:http://127.0.0.1:{closed}/"),
        format!("webhook:http://nianbao:***@127.0.0.1:{closed}/hook?token=…6789"),
    ] {
        let e = error_of(&prefix);
        assert!(e.starts_with("error sending request"), "{prefix}: {e}");
        assert!(!e.contains("127.0.0.1"), "{prefix}: {e}");
    }
}
