//! The office console in a real browser: Debian's chromium, headless, driven over WebDriver
//! (chromedriver, plain HTTP from the test), against the console in-process on top of the running
//! pipeline (ingest, an extraction worker, validation, notification on a private vhost of the
//! harness's RabbitMQ, all over TLS with credentials).
//!
//! A county office's clerk logs in and sees only its agencies; opens a report with a t3-balance
//! error and sees the cells marked; acknowledges the alert (audited under the clerk's name);
//! downloads the 通报 DOCX and its text names the agency and the figures; another county's clerk
//! gets 403 for that report. Screenshots of the overview and the report page are saved under
//! `target/console-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use base64::Engine as _;
use nianbao_auth::Role;
use nianbao_directory::{Directory, Level};
use nianbao_e2e::pipeline::{Db, Pipeline, sample_directory};
use nianbao_e2e::{repo_root, shared_broker};
use nianbao_model::{RuleId, Severity};
use nianbao_proto::v1::ListAlertsRequest;
use nianbao_synth::{Layout, SynthOptions, SynthReport, generate_one};
use serde_json::{Value, json};
use std::io::Read as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C WebDriver element key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session.
struct Browser {
    driver: std::process::Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        assert!(
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
            "the console test needs Debian's chromium and chromium-driver (deploy/test.sh installs them: apt-get install chromium chromium-driver)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver never became ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--lang=zh-CN".into(),
            "--window-size=1400,1000".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // The console's certificate is from the test's own CA.
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_string();
        Browser {
            driver,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        if r["value"]["error"].is_string() {
            panic!("WebDriver {path}: {}", r["value"]);
        }
        r["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page source once it contains `marker`. A click on a submit button returns before
    /// the browser has loaded the page the form leads to, so reading the source right after it
    /// can still see the old page; this waits (up to 20 s) for the new one.
    async fn source_containing(&self, marker: &str) -> String {
        let mut last = String::new();
        for _ in 0..200 {
            last = self.source().await;
            if last.contains(marker) {
                return last;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the page never showed {marker:?}; last source:\n{last}");
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Sets a form field's value the way a picker would (a date input's typing is locale-bound).
    async fn set_value(&self, css: &str, value: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({
                "script": "arguments[0].value = arguments[1]; return true;",
                "args": [{ELEMENT: e}, value]
            })),
        )
        .await;
    }

    /// Logs out (cookies dropped) and in again with `token`; returns the overview's source.
    async fn login(&self, console: &str, token: &str, name: &str) -> String {
        self.delete_cookies().await;
        self.goto(&format!("{console}/login")).await;
        self.type_into("#token", token).await;
        self.click("#login").await;
        self.source_containing(name).await
    }

    async fn cookie(&self, name: &str) -> String {
        let v = self
            .call(reqwest::Method::GET, &format!("/cookie/{name}"), None)
            .await;
        v["value"].as_str().unwrap().to_string()
    }

    async fn delete_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }

    /// A screenshot of the whole page (the window resized to the page's height first).
    async fn screenshot(&self, file: &PathBuf) {
        let h = self
            .call(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": "return document.documentElement.scrollHeight", "args": []})),
            )
            .await
            .as_u64()
            .unwrap_or(1000)
            .clamp(600, 8000);
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": 1400, "height": h + 150})),
        )
        .await;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }

    async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn offline_findings(r: &SynthReport) -> Vec<nianbao_model::Finding> {
    let x = nianbao_extract::extract_bytes(&r.bytes);
    nianbao_rules::Checker::default().check(&x)
}

/// Generated reports: one of a county agency with a t3-balance error, a clean one of another
/// agency of the same county and year, and one of another county.
fn pick(dir: &Directory) -> (SynthReport, SynthReport, SynthReport) {
    let opts = |rate: f64| SynthOptions {
        count: 1,
        seed: 2024,
        defect_rate: rate,
        layouts: vec![Layout::Tab],
    };
    let mut bad = None;
    for i in 0..3000 {
        let r = generate_one(2024, i, &opts(1.0));
        if dir.resolve(&r.agency.name).office.level == Level::County
            && offline_findings(&r)
                .iter()
                .any(|f| f.rule == RuleId::T3Balance && f.severity == Severity::Error)
        {
            bad = Some(r);
            break;
        }
    }
    let bad = bad.expect("a generated report with a t3-balance error");
    let county = dir.resolve(&bad.agency.name).office.id.clone();
    let mut good = None;
    let mut other = None;
    for i in 0..5000 {
        let r = generate_one(2024, i, &opts(0.0));
        if r.year != bad.year || r.agency.name == bad.agency.name {
            continue;
        }
        let office = dir.resolve(&r.agency.name).office;
        if good.is_none() && office.id == county {
            good = Some(r);
        } else if other.is_none() && office.id != county && office.level == Level::County {
            other = Some(r);
        }
        if good.is_some() && other.is_some() {
            break;
        }
    }
    (
        bad,
        good.expect("a clean report of the same county"),
        other.expect("a report of another county"),
    )
}

type Got = std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>;

/// A loopback webhook receiver (as the notification tests use): every POST's path and JSON.
async fn webhook_receiver() -> (String, Got) {
    async fn keep(
        axum::extract::State(got): axum::extract::State<Got>,
        uri: axum::http::Uri,
        axum::Json(body): axum::Json<Value>,
    ) -> axum::http::StatusCode {
        got.lock().unwrap().push((uri.path().to_string(), body));
        axum::http::StatusCode::OK
    }
    let got: Got = Default::default();
    let app = axum::Router::new()
        .route("/{*path}", axum::routing::post(keep))
        .with_state(got.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (base, got)
}

/// Waits (up to 10 s) for a POST to `path`; returns its body.
async fn posted(got: &Got, path: &str) -> Value {
    for _ in 0..100 {
        if let Some((_, v)) = got.lock().unwrap().iter().find(|(p, _)| p == path) {
            return v.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "nothing POSTed to {path}: {:?}",
        got.lock().unwrap().iter().map(|c| &c.0).collect::<Vec<_>>()
    );
}

/// The sample directory with a webhook for `agency` and for the office `office`, written to
/// `dir`: the console's 通知机关 and a reassignment's notice reach the receiver at `base`.
fn directory_with_hooks(dir: &std::path::Path, base: &str, agency: &str, office: &str) -> PathBuf {
    let text = std::fs::read_to_string(sample_directory()).unwrap();
    let name_line = format!("name = \"{agency}\"\n");
    assert_eq!(text.matches(&name_line).count(), 1, "{agency}");
    let text = text.replacen(
        &name_line,
        &format!("{name_line}channels = [\"webhook:{base}/agency\"]\n"),
        1,
    );
    let id_line = format!("id = \"{office}\"\n");
    assert_eq!(text.matches(&id_line).count(), 1, "{office}");
    let text = text.replacen(
        &id_line,
        &format!("{id_line}channels = [\"inbox\", \"webhook:{base}/office-{office}\"]\n"),
        1,
    );
    let path = dir.join("directory.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn docx_text(bytes: &[u8]) -> String {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    z.by_name("word/document.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    // The text of the runs, without the markup.
    let mut text = String::new();
    let mut in_tag = false;
    for c in xml.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn console_in_a_browser() {
    let dir = Directory::load(&sample_directory()).unwrap();
    let (bad, good, other) = pick(&dir);
    let year = bad.year;
    let county = dir.resolve(&bad.agency.name).office.clone();
    let other_county = dir.resolve(&other.agency.name).office.clone();
    // The office above the county, and a sibling county it can hand the alert to.
    let city = dir
        .office(
            county
                .parent
                .as_deref()
                .expect("the county has a parent office"),
        )
        .unwrap()
        .clone();
    let sibling = dir
        .offices()
        .iter()
        .find(|o| {
            o.parent.as_deref() == Some(city.id.as_str())
                && o.id != county.id
                && o.id != other_county.id
        })
        .expect("another county under the same city")
        .clone();
    let (hooks, got) = webhook_receiver().await;
    let files = tempfile::tempdir().unwrap();
    let directory = directory_with_hooks(files.path(), &hooks, &bad.agency.name, &sibling.id);

    let mut p = Pipeline::new(shared_broker(), "console").await.unwrap();
    p.start_ingest_and_validation(Db::Sqlite).await.unwrap();
    let cfg = nianbao_notification::Config {
        directory: directory.display().to_string(),
        ..p.notification_config(Db::Sqlite).unwrap()
    };
    p.notify_url = p
        .spawn("notification", |l, s| {
            nianbao_notification::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
    let cfg = p.extraction_config(&p.ingest_url, 8);
    p.spawn("extraction", |l, s| {
        nianbao_extraction::run(cfg, l, s, Default::default())
    })
    .await
    .unwrap();
    let mut ids = Vec::new();
    for r in [&bad, &good, &other] {
        ids.extend(
            p.submit_as_agency(
                &r.agency.name,
                &[(format!("{}.txt", r.name), r.bytes.clone())],
            )
            .await
            .unwrap(),
        );
    }
    let reports = p
        .wait_status(&ids, &["notified", "failed"], Duration::from_secs(90))
        .await
        .unwrap();
    assert!(
        reports.iter().all(|r| r.status == "notified"),
        "{reports:#?}"
    );
    let bad_id = ids[0].clone();
    let other_id = ids[2].clone();

    let clerk = p
        .security
        .issue(Role::Office, &county.id, "王科长")
        .unwrap();
    let stranger = p
        .security
        .issue(Role::Office, &other_county.id, "李科长")
        .unwrap();
    let city_clerk = p.security.issue(Role::Office, &city.id, "赵处长").unwrap();
    let sibling_clerk = p
        .security
        .issue(Role::Office, &sibling.id, "钱科长")
        .unwrap();
    let cfg = nianbao_console::Config {
        directory: directory.display().to_string(),
        ingest_url: p.ingest_url.clone(),
        notification_url: p.notify_url.clone(),
        year,
        client: nianbao_auth::ClientConfig {
            ca: p.security.ca.clone(),
            ..Default::default()
        },
        tls: p.security.server_tls(),
        auth: p.security.auth(),
        ..Default::default()
    };
    let console = p
        .spawn("console", |l, s| nianbao_console::run(cfg, l, s))
        .await
        .unwrap();
    let shots = repo_root().join("target/console-screenshots");
    let b = Browser::start().await;

    // Login as the county's clerk.
    b.goto(&format!("{console}/")).await;
    assert!(
        b.source().await.contains("政务公开办工作人员登录"),
        "not sent to the login page"
    );
    b.type_into("#token", &clerk).await;
    b.click("#login").await;
    let overview = b.source_containing("王科长").await;
    assert!(overview.contains(&county.name), "{overview}");
    assert!(overview.contains("王科长"));
    // Only its agencies: every agency of the county and nothing of the other one.
    let due = dir
        .agencies()
        .iter()
        .filter(|a| dir.resolve(&a.name).office.id == county.id || a.office == county.id)
        .count();
    assert!(
        overview.contains(&format!("id=\"count-due\"><div class=\"n\">{due}</div>")),
        "应报 should be the county's {due} agencies"
    );
    assert!(overview.contains(&format!("data-agency=\"{}\"", bad.agency.name)));
    assert!(overview.contains(&format!("data-agency=\"{}\"", good.agency.name)));
    assert!(
        !overview.contains(&other.agency.name),
        "another county's agency shown"
    );
    assert!(overview.contains("id=\"chart\""));
    assert!(overview.contains("t3-balance"), "findings by rule");
    b.screenshot(&shots.join("overview.png")).await;
    // The status filter works in the browser too.
    b.goto(&format!("{console}/?status=errors")).await;
    let filtered = b.source().await;
    assert!(filtered.contains(&format!("data-agency=\"{}\"", bad.agency.name)));
    assert!(!filtered.contains(&format!("data-agency=\"{}\"", good.agency.name)));

    // The report with its t3-balance error: the cells are marked, the message beside them.
    b.goto(&format!("{console}/reports/{bad_id}")).await;
    let page = b.source().await;
    let t3 = offline_findings(&bad)
        .into_iter()
        .find(|f| f.rule == RuleId::T3Balance && f.severity == Severity::Error)
        .unwrap();
    let cell = t3.cell.clone().unwrap();
    assert!(
        page.contains(&format!("class=\"num hl\" data-cell=\"{cell}")),
        "the t3-balance cell {cell} is not highlighted"
    );
    assert!(page.contains("id=\"notes-t3\""));
    let notes = page.split("id=\"notes-t3\"").nth(1).unwrap_or_default();
    assert!(notes.contains("[错误]"), "the message beside 表三");
    assert!(page.contains(&format!("/reports/{bad_id}/original")));
    assert!(page.contains("自然人") && page.contains("（七）总计"));
    b.screenshot(&shots.join("report.png")).await;

    // Acknowledge the alert with a note.
    b.goto(&format!("{console}/alerts")).await;
    let alerts_page = b.source().await;
    assert!(alerts_page.contains(&bad.agency.name), "{alerts_page}");
    let alert = p
        .notification()
        .await
        .unwrap()
        .list_alerts(ListAlertsRequest {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts
        .into_iter()
        .find(|a| a.report_id == bad_id && a.kind == "findings")
        .expect("an alert about the bad report");
    let form = format!("#alert-{} form.ack", alert.alert_id);
    b.type_into(&format!("{form} textarea"), "已电话通知该机关整改")
        .await;
    b.click(&format!("{form} button")).await;
    b.source_containing("id=\"done\"").await;
    let acked = p
        .notification()
        .await
        .unwrap()
        .list_alerts(ListAlertsRequest {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts
        .into_iter()
        .find(|a| a.alert_id == alert.alert_id)
        .unwrap();
    assert_eq!(acked.status, "acknowledged");
    assert_eq!(acked.acknowledged_by, "王科长", "the credential's holder");

    // The 通报 DOCX, downloaded in the clerk's session.
    let cookie = b.cookie(nianbao_console::session::COOKIE).await;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&p.security.ca).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let get = |path: String, cookie: String| {
        let http = http.clone();
        let console = console.clone();
        async move {
            http.get(format!("{console}{path}"))
                .header(
                    "cookie",
                    format!("{}={cookie}", nianbao_console::session::COOKIE),
                )
                .send()
                .await
                .unwrap()
        }
    };
    let r = get(
        format!("/tongbao.docx?office={}&year={year}", county.id),
        cookie.clone(),
    )
    .await;
    assert_eq!(r.status(), 200);
    let docx = r.bytes().await.unwrap();
    let text = docx_text(&docx);
    assert!(
        text.contains(&format!(
            "关于{year}年度政府信息公开工作年度报告报送和检查情况的通报"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("应报送年度报告的机关{due}个，已报送2个")),
        "{text}"
    );
    assert!(text.contains(&bad.agency.name), "{text}");
    assert!(text.contains(RuleId::T3Balance.title()), "{text}");
    assert!(text.contains("整改台账"));
    assert!(!text.contains(&other.agency.name));
    let r = get(
        format!("/tongbao.xlsx?office={}&year={year}", county.id),
        cookie.clone(),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().starts_with(b"PK"));
    let r = get(
        format!("/huizong.xlsx?office={}&year={year}", county.id),
        cookie.clone(),
    )
    .await;
    assert_eq!(r.status(), 200);
    // Another office's scope is refused.
    let r = get(
        format!("/tongbao.docx?office={}&year={year}", other_county.id),
        cookie.clone(),
    )
    .await;
    assert_eq!(r.status(), 403);
    // A POST without the form's CSRF token is refused.
    let r = http
        .post(format!("{console}/alerts/{}/ack", alert.alert_id))
        .header(
            "cookie",
            format!("{}={cookie}", nianbao_console::session::COOKIE),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("note=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // 评议: the ranking of the county's agencies, each deduction with its rule and evidence.
    b.goto(&format!("{console}/scoring")).await;
    let ranking = b.source_containing("id=\"ranking\"").await;
    let row_of = |name: &str| {
        ranking
            .split(&format!("<tr data-agency=\"{name}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("{name} not ranked"))
            .split("</tr>")
            .next()
            .unwrap()
            .to_string()
    };
    let bad_row = row_of(&bad.agency.name);
    assert!(
        bad_row.contains("其他错误 <code>t3-balance</code>"),
        "{bad_row}"
    );
    assert!(!bad_row.contains("data-score=\"100\""), "{bad_row}");
    assert!(!ranking.contains(&other.agency.name));
    b.screenshot(&shots.join("scoring.png")).await;

    // 整改期限: set in the alerts view; one in the past shows 已逾期 and counts in the overview.
    b.goto(&format!("{console}/alerts?status=all")).await;
    let row = format!("#alert-{}", alert.alert_id);
    b.set_value(
        &format!("{row} form.deadline input[name=rectify_by]"),
        "2020-01-31",
    )
    .await;
    b.click(&format!("{row} form.deadline button")).await;
    let page = b.source_containing("的整改期限已更新").await;
    let tr = page
        .split(&format!("id=\"alert-{}\"", alert.alert_id))
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap()
        .to_string();
    assert!(tr.contains("2020-01-31") && tr.contains("已逾期"), "{tr}");
    assert!(
        tr.contains("王科长 整改期限"),
        "the change is shown with who made it: {tr}"
    );
    assert!(page.contains("id=\"alerts-overdue\">1<"), "整改逾期 card");
    b.goto(&format!("{console}/")).await;
    assert!(
        b.source().await.contains("整改逾期的告警：<b>1</b> 条"),
        "the overview counts the overdue 整改期限"
    );
    b.goto(&format!("{console}/alerts?status=overdue")).await;
    assert!(
        b.source()
            .await
            .contains(&format!("id=\"alert-{}\"", alert.alert_id))
    );

    // 通知机关: the alert's notice goes to the agency's own webhook, and the row says so.
    b.goto(&format!("{console}/alerts?status=all")).await;
    b.type_into(
        &format!("{row} form.notify input[name=note]"),
        "请于月底前更正后重新发布",
    )
    .await;
    b.click(&format!("{row} form.notify button")).await;
    let page = b.source_containing("已通知机关，通知记录已存档").await;
    assert!(page.contains("通知机关"), "{page}");
    let told = posted(&got, "/agency").await;
    assert_eq!(told["audience"], "agency");
    assert_eq!(told["alert_id"], alert.alert_id.as_str());
    assert_eq!(told["rectify_by"], "2020-01-31");
    assert_eq!(told["note"], "请于月底前更正后重新发布");
    let tr = page
        .split(&format!("id=\"alert-{}\"", alert.alert_id))
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap()
        .to_string();
    assert!(tr.contains("class=\"notified\">已于"), "{tr}");
    assert!(
        tr.contains(&format!("{} → webhook:", bad.agency.name)),
        "{tr}"
    );

    // 转办: the county cannot hand it to a sibling (not in its subtree: no such option, and the
    // service refuses a forged form); the city can.
    assert!(!tr.contains(&format!("value=\"{}\"", sibling.id)), "{tr}");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = http
        .post(format!("{console}/alerts/{}/reassign", alert.alert_id))
        .header(
            "cookie",
            format!("{}={cookie}", nianbao_console::session::COOKIE),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&office={}", sibling.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a county reassigning outside its subtree");
    b.login(&console, &city_clerk, "赵处长").await;
    b.goto(&format!("{console}/alerts?status=all")).await;
    b.set_value(&format!("{row} form.reassign select"), &sibling.id)
        .await;
    b.type_into(
        &format!("{row} form.reassign input[name=note]"),
        "属该区管辖",
    )
    .await;
    b.click(&format!("{row} form.reassign button")).await;
    let page = b.source_containing("已转办").await;
    assert!(page.contains(&format!("由 {} 转办", county.name)), "{page}");
    let handed = posted(&got, &format!("/office-{}", sibling.id)).await;
    assert_eq!(handed["reassigned_to"], sibling.id.as_str());
    assert_eq!(handed["alert_id"], alert.alert_id.as_str());
    // The sibling county now has it, with where it came from…
    b.login(&console, &sibling_clerk, "钱科长").await;
    b.goto(&format!("{console}/alerts?status=all")).await;
    let theirs = b.source().await;
    assert!(
        theirs.contains(&format!("id=\"alert-{}\"", alert.alert_id)),
        "the office it was handed to sees it"
    );
    assert!(theirs.contains(&format!("由 {} 转办", county.name)));
    assert!(
        theirs.contains("赵处长 转办"),
        "the reassignment with who did it"
    );
    b.screenshot(&shots.join("alerts.png")).await;
    // …and the first county no longer lists it (it is the sibling's to follow up now).
    b.login(&console, &clerk, "王科长").await;
    b.goto(&format!("{console}/alerts?status=all")).await;
    assert!(
        !b.source()
            .await
            .contains(&format!("id=\"alert-{}\"", alert.alert_id)),
        "the first office no longer lists a reassigned alert"
    );

    // The other county's clerk cannot open the report.
    b.delete_cookies().await;
    b.goto(&format!("{console}/login")).await;
    b.type_into("#token", &stranger).await;
    b.click("#login").await;
    let theirs = b.source_containing("李科长").await;
    assert!(theirs.contains(&other_county.name));
    assert!(!theirs.contains(&bad.agency.name));
    b.goto(&format!("{console}/reports/{bad_id}")).await;
    assert!(b.source().await.contains("无权访问（403）"));
    let stranger_cookie = b.cookie(nianbao_console::session::COOKIE).await;
    assert_eq!(
        get(format!("/reports/{bad_id}"), stranger_cookie.clone())
            .await
            .status(),
        403
    );
    assert_eq!(
        get(
            format!("/reports/{bad_id}/original"),
            stranger_cookie.clone()
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        get(format!("/reports/{other_id}"), stranger_cookie)
            .await
            .status(),
        200
    );
    // No session: to the login page.
    let r = http
        .get(format!("{console}/reports/{bad_id}"))
        .send()
        .await
        .unwrap();
    assert!(r.url().path().ends_with("/login") || r.status().is_redirection());

    b.quit().await;
    p.shutdown().await.unwrap();
}
