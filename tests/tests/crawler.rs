//! The crawler against a simulated government site on 127.0.0.1, submitting to the real pipeline
//! (ingest, extraction, validation, notification over TLS, a real RabbitMQ).
//!
//! The site: a 专栏 in GBK with three list pages (下一页/尾页, `index_1.html` style), a 专栏 in UTF-8
//! with two, report pages holding the report (real samples from `deploy/samples` wrapped in HTML),
//! a report page holding only attachments (a DOCX from the synth crate and a 404 `.wps`), links
//! that are relative, root-relative and `../`, a page robots.txt forbids, a 404 report, a redirect
//! loop, and a second host slower than the crawler's timeout. Nothing leaves loopback.
//!
//! Pass 1 submits every report exactly once (the earlier years as backfill: no alert); pass 2
//! submits nothing (304s, one unchanged hash); after one page changes, pass 3 submits exactly that
//! page once more, validation raises `report-changed` and ingest keeps both versions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use nianbao_auth::Role;
use nianbao_e2e::pipeline::{Db, Pipeline};
use nianbao_e2e::shared_broker;
use nianbao_proto::v1::{GetReportRequest, ListAlertsRequest};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

fn sample(name: &str) -> String {
    std::fs::read_to_string(nianbao_e2e::repo_root().join("deploy/samples").join(name)).unwrap()
}

/// A report's text as a government page: a line per paragraph.
fn page(title: &str, text: &str, charset: &str) -> String {
    let body: String = text
        .lines()
        .map(|l| {
            let l = l
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            format!("<p>{l}</p>\n")
        })
        .collect();
    format!(
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset={charset}\">\
         <title>{title}</title></head><body><div class=\"nav\">首页 &gt; 信息公开 &gt; 年度报告</div>\
         <div class=\"content\">{body}</div></body></html>"
    )
}

fn list(links: &[(&str, &str)], charset: &str) -> String {
    let items: String = links
        .iter()
        .map(|(href, text)| format!("<li><a href=\"{href}\" target=\"_blank\">{text}</a></li>\n"))
        .collect();
    format!(
        "<html><head><meta charset=\"{charset}\"><title>政府信息公开年度报告</title></head>\
         <body><ul class=\"list\">{items}</ul></body></html>"
    )
}

fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

/// A document the site serves: bytes, content type, and which validators it sends.
#[derive(Clone)]
struct Doc {
    body: Vec<u8>,
    content_type: &'static str,
    etag: Option<String>,
    last_modified: Option<&'static str>,
}

#[derive(Default)]
struct Site {
    docs: Mutex<HashMap<String, Doc>>,
    /// `(path, status)` of every request.
    log: Mutex<Vec<(String, u16)>>,
    changed: AtomicBool,
}

impl Site {
    fn put(
        &self,
        path: &str,
        body: Vec<u8>,
        ct: &'static str,
        etag: Option<&str>,
        lm: Option<&'static str>,
    ) {
        self.docs.lock().unwrap().insert(
            path.to_string(),
            Doc {
                body,
                content_type: ct,
                etag: etag.map(str::to_string),
                last_modified: lm,
            },
        );
    }

    fn count(&self, path: &str, status: u16) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, s)| p == path && *s == status)
            .count()
    }
}

async fn serve(State(site): State<Arc<Site>>, uri: Uri, h: HeaderMap) -> Response {
    // Paths as the client sent them (percent-encoded), decoded for the lookup.
    let path = percent_decode(uri.path());
    let respond = |status: u16, r: Response| {
        site.log.lock().unwrap().push((path.clone(), status));
        r
    };
    match path.as_str() {
        "/robots.txt" => {
            return respond(200, "User-agent: *\nDisallow: /private/\n".into_response());
        }
        "/loop/a" => {
            return respond(
                302,
                (StatusCode::FOUND, [(header::LOCATION, "/loop/b")]).into_response(),
            );
        }
        "/loop/b" => {
            return respond(
                302,
                (StatusCode::FOUND, [(header::LOCATION, "a")]).into_response(),
            );
        }
        _ => {}
    }
    let Some(doc) = site.docs.lock().unwrap().get(&path).cloned() else {
        return respond(404, StatusCode::NOT_FOUND.into_response());
    };
    let etag_match = doc.etag.as_ref().is_some_and(|e| {
        h.get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.to_str().unwrap_or_default() == e)
    });
    let lm_match = doc.etag.is_none()
        && doc.last_modified.is_some_and(|lm| {
            h.get(header::IF_MODIFIED_SINCE)
                .is_some_and(|v| v.to_str().unwrap_or_default() == lm)
        });
    if etag_match || lm_match {
        return respond(304, StatusCode::NOT_MODIFIED.into_response());
    }
    let mut r = ([(header::CONTENT_TYPE, doc.content_type)], doc.body.clone()).into_response();
    if let Some(e) = &doc.etag {
        r.headers_mut().insert(header::ETAG, e.parse().unwrap());
    }
    if let Some(lm) = doc.last_modified {
        r.headers_mut()
            .insert(header::LAST_MODIFIED, lm.parse().unwrap());
    }
    respond(200, r)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

const HTML_GBK: &str = "text/html; charset=gb2312";
const HTML_UTF8: &str = "text/html; charset=utf-8";
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// The simulated 专栏 of 楚江省人民政府 (GBK) and 云阳市自然资源局 (UTF-8).
fn build_site(site: &Site) {
    let g = "gb2312";
    site.put(
        "/szf/xxgk/ndbg/index.html",
        gbk(&list(
            &[
                (
                    "2025/0120/report2024.html",
                    "楚江省人民政府2024年政府信息公开工作年度报告",
                ),
                (
                    "/private/nb2024.html",
                    "楚江省人民政府2024年政府信息公开工作年度报告（内部稿）",
                ),
                (
                    "../ndbg/missing.html",
                    "楚江省人民政府2023年政府信息公开工作年度报告",
                ),
                ("notice.html", "关于公布政务公开目录的通知"),
                ("index_1.html", "下一页"),
                ("index_2.html", "尾页"),
            ],
            g,
        )),
        HTML_GBK,
        Some("\"l0\""),
        None,
    );
    site.put(
        "/szf/xxgk/ndbg/index_1.html",
        gbk(&list(
            &[
                (
                    "/szf/xxgk/ndbg/2022/report2021.html",
                    "楚江省人民政府2021年政府信息公开工作年度报告",
                ),
                ("/loop/a", "楚江省人民政府2020年政府信息公开工作年度报告"),
                ("index.html", "上一页"),
                ("index_2.html", "下一页"),
            ],
            g,
        )),
        HTML_GBK,
        None,
        Some("Mon, 20 Jan 2025 08:00:00 GMT"),
    );
    site.put(
        "/szf/xxgk/ndbg/index_2.html",
        gbk(&list(
            &[
                (
                    "files/2022%E5%B9%B4%E6%8A%A5.docx",
                    "楚江省人民政府2022年政府信息公开工作年度报告（Word版）",
                ),
                ("index_1.html", "上一页"),
            ],
            g,
        )),
        HTML_GBK,
        Some("\"l2\""),
        None,
    );
    let t2024 = "楚江省人民政府2024年政府信息公开工作年度报告";
    site.put(
        "/szf/xxgk/ndbg/2025/0120/report2024.html",
        gbk(&page(
            t2024,
            &sample("0514_prose_楚江省人民政府_2024.txt"),
            g,
        )),
        HTML_GBK,
        Some("\"gbk-2024\""),
        None,
    );
    let t2021 = "楚江省人民政府2021年政府信息公开工作年度报告";
    site.put(
        "/szf/xxgk/ndbg/2022/report2021.html",
        gbk(&page(t2021, &sample("0405_tab_楚江省人民政府_2021.txt"), g)),
        HTML_GBK,
        None,
        Some("Thu, 20 Jan 2022 08:00:00 GMT"),
    );
    let docx = |i| {
        nianbao_synth::generate_one(7, i, &nianbao_synth::SynthOptions::default())
            .render(nianbao_synth::OutputFormat::Docx)
            .unwrap()
    };
    site.put(
        "/szf/xxgk/ndbg/files/2022年报.docx",
        docx(1),
        DOCX,
        Some("\"d1\""),
        None,
    );

    site.put(
        "/yunyang/zfxxgk/ndbg/list.html",
        list(
            &[
                (
                    "2025/report.html",
                    "云阳市自然资源局2024年度政府信息公开工作年度报告",
                ),
                ("list_2.html", "下一页"),
            ],
            "utf-8",
        )
        .into_bytes(),
        HTML_UTF8,
        Some("\"y0\""),
        None,
    );
    site.put(
        "/yunyang/zfxxgk/ndbg/list_2.html",
        list(
            &[
                (
                    "2024/0115/art.html",
                    "云阳市自然资源局2023年政府信息公开工作年度报告",
                ),
                ("list.html", "上一页"),
            ],
            "utf-8",
        )
        .into_bytes(),
        HTML_UTF8,
        Some("\"y2\""),
        None,
    );
    site.put(
        "/yunyang/zfxxgk/ndbg/2024/0115/art.html",
        "<html><head><meta charset=\"utf-8\"><title>云阳市自然资源局2023年政府信息公开工作年度报告</title></head>\
         <body><p>云阳市自然资源局2023年政府信息公开工作年度报告见附件。</p>\
         <p>附件：<a href=\"files/2023nb.docx\">2023年年报（Word版）</a> <a href=\"files/old.wps\">旧版.wps</a></p></body></html>"
            .as_bytes()
            .to_vec(),
        HTML_UTF8,
        Some("\"art\""),
        None,
    );
    // No validators at all: only the hash tells that it did not change.
    site.put(
        "/yunyang/zfxxgk/ndbg/2024/0115/files/2023nb.docx",
        docx(2),
        DOCX,
        None,
        None,
    );
    set_yunyang_report(site, false);
}

const YUNYANG_REPORT: &str = "/yunyang/zfxxgk/ndbg/2025/report.html";

fn set_yunyang_report(site: &Site, changed: bool) {
    let mut text = sample("0030_web_云阳市自然资源局_2024.txt");
    if changed {
        // The agency edited the published report: a sentence added to its overview.
        text = text.replacen(
            "本报告电子版可在云阳市门户网站查阅或下载。",
            "本报告电子版可在云阳市门户网站查阅或下载，2025年2月10日更正了部分数据。",
            1,
        );
        assert!(
            text.contains("更正"),
            "the sample still has the sentence the test edits"
        );
    }
    site.changed.store(changed, Ordering::SeqCst);
    site.put(
        YUNYANG_REPORT,
        page(
            "云阳市自然资源局2024年政府信息公开工作年度报告",
            &text,
            "utf-8",
        )
        .into_bytes(),
        HTML_UTF8,
        Some(if changed { "\"y-v2\"" } else { "\"y-v1\"" }),
        None,
    );
}

async fn start_site(app: axum::Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawls_a_simulated_site_exactly_once_and_a_change_once_more() {
    let mut p = Pipeline::start(shared_broker(), "crawler", Db::Sqlite)
        .await
        .unwrap();
    let cfg = p.extraction_config(&p.ingest_url, 8);
    p.spawn("extraction", |l, s| {
        nianbao_extraction::run(cfg, l, s, Default::default())
    })
    .await
    .unwrap();

    let site = Arc::new(Site::default());
    build_site(&site);
    let main = start_site(axum::Router::new().fallback(serve).with_state(site.clone())).await;
    // The slow host: answers its list after 3 s, the crawler gives up after 1 s.
    let slow = start_site(axum::Router::new().fallback(|uri: Uri| async move {
        if uri.path() == "/robots.txt" {
            return StatusCode::NOT_FOUND.into_response();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        "<html><body>慢</body></html>".into_response()
    }))
    .await;

    let directory = p.dir.join("crawl-directory.toml");
    std::fs::write(
        &directory,
        format!(
            r#"default_office = "province"
[[offices]]
id = "province"
name = "楚江省人民政府办公厅"
level = "province"
region = "390000"

[[agencies]]
name = "楚江省人民政府"
office = "province"
region = "390000"
url = "{main}/szf/xxgk/ndbg/index.html"

[[agencies]]
name = "云阳市自然资源局"
office = "province"
region = "390300"
url = "{main}/yunyang/zfxxgk/ndbg/list.html"

[[agencies]]
name = "宁远县卫生健康局"
office = "province"
url = "{slow}/ndbg/index.html"

[[agencies]]
name = "楚江省财政厅"
office = "province"
"#
        ),
    )
    .unwrap();
    let token = p.security.issue(Role::Crawler, "", "采集程序").unwrap();
    let cfg = nianbao_crawler::Config {
        directory: directory.display().to_string(),
        ingest_url: p.ingest_url.clone(),
        ingest_client: p.security.client(&token),
        data_dir: p.dir.join("crawler"),
        reporting_year: 2024,
        politeness: nianbao_crawler::Politeness {
            delay_ms: 10,
            timeout_ms: 1_000,
            connect_timeout_ms: 1_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let crawler = nianbao_crawler::crawler(&cfg).await.unwrap();

    // Pass 1: every report once; earlier years as backfill; every failure recorded, none fatal.
    let one = crawler.pass().await.unwrap();
    let urls: BTreeSet<String> = one
        .submitted
        .iter()
        .map(|s| s.url.trim_start_matches(&main).to_string())
        .collect();
    let expected: BTreeSet<String> = [
        "/szf/xxgk/ndbg/2025/0120/report2024.html",
        "/szf/xxgk/ndbg/2022/report2021.html",
        "/szf/xxgk/ndbg/files/2022%E5%B9%B4%E6%8A%A5.docx",
        YUNYANG_REPORT,
        "/yunyang/zfxxgk/ndbg/2024/0115/files/2023nb.docx",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert_eq!(urls, expected, "{one:#?}");
    assert_eq!(one.submitted.len(), expected.len(), "each once: {one:#?}");
    assert!(one.submitted.iter().all(|s| !s.duplicate));
    let backfilled: BTreeSet<String> = one
        .submitted
        .iter()
        .filter(|s| s.backfill)
        .map(|s| s.url.trim_start_matches(&main).to_string())
        .collect();
    assert_eq!(
        backfilled,
        [
            "/szf/xxgk/ndbg/2022/report2021.html",
            "/szf/xxgk/ndbg/files/2022%E5%B9%B4%E6%8A%A5.docx",
            "/yunyang/zfxxgk/ndbg/2024/0115/files/2023nb.docx",
        ]
        .into_iter()
        .map(str::to_string)
        .collect()
    );
    let problem = |needle: &str| {
        one.problems
            .iter()
            .find(|p| p.url.contains(needle))
            .unwrap_or_else(|| panic!("no problem recorded for {needle}: {:#?}", one.problems))
            .clone()
    };
    assert!(problem("/private/").error.contains("robots.txt"));
    assert_eq!(problem("missing.html").status, Some(404));
    assert!(
        problem("/loop/").error.contains("重定向循环"),
        "{:?}",
        problem("/loop/")
    );
    assert_eq!(problem("old.wps").status, Some(404));
    assert!(
        problem(&slow).error.contains("超时"),
        "{:?}",
        problem(&slow)
    );
    assert_eq!(one.problems.len(), 5, "{:#?}", one.problems);
    assert_eq!(
        site.count("/private/nb2024.html", 200),
        0,
        "robots.txt kept"
    );
    // The pagination was followed both ways without reading a page twice.
    assert_eq!(site.count("/szf/xxgk/ndbg/index_1.html", 200), 1);
    assert_eq!(one.list_pages, 5);

    let ids: Vec<String> = one.submitted.iter().map(|s| s.report_id.clone()).collect();
    let reports = p.wait_status(&ids, &["notified"], WAIT).await.unwrap();
    let by_url: HashMap<String, &nianbao_proto::v1::Report> = reports
        .iter()
        .map(|r| (r.source_url.trim_start_matches(&main).to_string(), r))
        .collect();
    let r2024 = by_url["/szf/xxgk/ndbg/2025/0120/report2024.html"];
    assert_eq!(r2024.etag, "\"gbk-2024\"");
    assert_eq!(r2024.http_status, 200);
    assert!(r2024.first_seen_at_ms > 0 && !r2024.backfill && !r2024.agency_verified);
    assert_eq!(
        r2024.published_on.len(),
        10,
        "the first-seen date: {}",
        r2024.published_on
    );
    assert!(
        r2024.submitted_by.contains("crawler"),
        "{}",
        r2024.submitted_by
    );
    let r2021 = by_url["/szf/xxgk/ndbg/2022/report2021.html"];
    assert_eq!(r2021.last_modified, "Thu, 20 Jan 2022 08:00:00 GMT");
    assert!(r2021.backfill);

    // Pass 2: nothing new. Conditional GETs answered 304; the document without validators has
    // the same hash.
    let two = crawler.pass().await.unwrap();
    assert!(two.submitted.is_empty(), "{two:#?}");
    assert_eq!(two.unchanged, 1, "{two:#?}");
    assert!(two.not_modified >= 9, "{two:#?}");
    assert_eq!(site.count(YUNYANG_REPORT, 304), 1);

    // Pass 3: one page changed: submitted once more, and only it.
    set_yunyang_report(&site, true);
    let three = crawler.pass().await.unwrap();
    assert_eq!(three.submitted.len(), 1, "{three:#?}");
    let changed = &three.submitted[0];
    assert!(changed.url.ends_with(YUNYANG_REPORT) && !changed.backfill && !changed.duplicate);
    let first = by_url[YUNYANG_REPORT];
    assert_ne!(changed.report_id, first.report_id);
    let new = p
        .wait_status(
            std::slice::from_ref(&changed.report_id),
            &["notified"],
            WAIT,
        )
        .await
        .unwrap()
        .remove(0);
    assert!(
        new.findings.iter().any(|f| f.rule == "report-changed"),
        "{:#?}",
        new.findings
    );
    assert_eq!(
        new.first_seen_at_ms, first.first_seen_at_ms,
        "the URL's first sighting"
    );
    assert_eq!(new.etag, "\"y-v2\"");
    // Both versions kept.
    let mut ingest = p.ingest().await.unwrap();
    for id in [&first.report_id, &changed.report_id] {
        let r = ingest
            .get_report(GetReportRequest {
                report_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status, "notified");
    }
    assert_ne!(new.version, first.version);

    // Backfilled reports alerted nobody; the others may have.
    let alerts = p
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
        .alerts;
    let backfill_ids: BTreeSet<&str> = one
        .submitted
        .iter()
        .filter(|s| s.backfill)
        .map(|s| s.report_id.as_str())
        .collect();
    assert!(
        alerts
            .iter()
            .all(|a| !backfill_ids.contains(a.report_id.as_str())),
        "{alerts:#?}"
    );
    assert!(
        alerts.iter().any(|a| a.report_id == changed.report_id),
        "the changed report is news: {alerts:#?}"
    );

    // The state survives a restart: a new crawler on the same database still has nothing to do.
    crawler.state.close().await;
    let again = nianbao_crawler::crawler(&cfg).await.unwrap();
    let four = again.pass().await.unwrap();
    assert!(four.submitted.is_empty(), "{four:#?}");
    again.state.close().await;
    p.shutdown().await.unwrap();
}
