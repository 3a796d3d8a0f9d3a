//! A polite HTTP fetcher.
//!
//! - **One request at a time per host**, and at least `delay` (or the host's `Crawl-delay`,
//!   whichever is longer) between the end of one request and the start of the next: each host has
//!   a lock held for the whole exchange, body included.
//! - **robots.txt** is read once per host per [`Fetcher`] (one pass) before any other request to
//!   it; a path it disallows is not fetched ([`FetchError::Robots`]). A missing robots.txt (4xx)
//!   allows everything; one that cannot be read (5xx, timeout) disallows the host for the pass.
//! - **Conditional GET**: the caller's stored `ETag` / `Last-Modified` go out as `If-None-Match` /
//!   `If-Modified-Since`; a 304 is [`Fetched::NotModified`].
//! - **Timeouts** for connecting and for the whole exchange; **a size limit** on the body, checked
//!   against `Content-Length` and while reading.
//! - **Redirects** are followed by hand, only to allowed hosts, at most `max_redirects` times, and a
//!   URL seen twice in one chain is a loop.
//! - No system proxy is used unless configured: where requests go is the configuration's
//!   decision, not the environment's.

use crate::robots::Robots;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// How the fetcher behaves (`[politeness]` of the configuration).
#[derive(Clone, Debug)]
pub struct FetchConfig {
    pub user_agent: String,
    pub delay: Duration,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: u32,
    pub robots: bool,
    /// An HTTP proxy for every request (`http://proxy:3128`); empty: none.
    pub proxy: String,
}

/// Validators of a stored response, for a conditional GET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: String,
    pub last_modified: String,
}

/// A successful exchange.
#[derive(Clone, Debug)]
pub enum Fetched {
    /// 304: what the caller has is current.
    NotModified,
    /// 2xx with its body.
    Body(Response),
}

#[derive(Clone, Debug)]
pub struct Response {
    /// Where the body came from, after redirects.
    pub url: Url,
    pub status: u16,
    pub validators: Validators,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Why a URL was not fetched. Each is recorded for the URL and the pass goes on.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("主机 {0} 不在允许采集的范围内 / host {0} is not among the allowed hosts")]
    HostNotAllowed(String),
    #[error("robots.txt 不允许采集 {0} / robots.txt disallows {0}")]
    Robots(String),
    #[error("重定向到允许范围以外的主机：{to} / redirect to a host outside the allowed ones: {to}")]
    RedirectOutside { to: String },
    #[error("重定向循环：{0} / redirect loop at {0}")]
    RedirectLoop(String),
    #[error("重定向次数超过 {0} 次 / more than {0} redirects")]
    TooManyRedirects(u32),
    #[error("重定向缺少有效的 Location / redirect without a usable Location")]
    BadRedirect,
    #[error("HTTP {0}")]
    Status(u16),
    #[error("超时 / timed out")]
    Timeout,
    #[error("内容超过 {0} 字节上限 / body larger than {0} bytes")]
    TooLarge(u64),
    #[error("请求失败 / request failed: {0}")]
    Http(String),
}

impl FetchError {
    /// The HTTP status the failure came with, if any (recorded as the URL's last status).
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status(s) => Some(*s),
            _ => None,
        }
    }
}

/// Why a fetcher could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("HTTP client: {0}")]
    Client(String),
}

/// One host's politeness state, behind its lock.
#[derive(Default)]
struct Host {
    /// No request starts before this.
    next_at: Option<Instant>,
    robots: Option<Arc<Robots>>,
}

/// Allowed hosts: `host` (any port) or `host:port`.
#[derive(Clone, Debug, Default)]
pub struct AllowedHosts {
    hosts: HashSet<(String, Option<u16>)>,
}

impl AllowedHosts {
    /// Adds a URL's host and port (`https://a.gov.cn/x` → `a.gov.cn:443`).
    pub fn add_url(&mut self, url: &Url) {
        if let Some(h) = url.host_str() {
            self.hosts
                .insert((h.to_ascii_lowercase(), url.port_or_known_default()));
        }
    }

    /// Adds a configured entry: `host` (every port) or `host:port`.
    pub fn add_entry(&mut self, entry: &str) {
        let e = entry.trim().to_ascii_lowercase();
        if e.is_empty() {
            return;
        }
        match e
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        {
            Some((h, p)) => self.hosts.insert((h.to_string(), Some(p))),
            None => self.hosts.insert((e, None)),
        };
    }

    pub fn allows(&self, url: &Url) -> bool {
        let Some(h) = url.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        self.hosts
            .contains(&(h.clone(), url.port_or_known_default()))
            || self.hosts.contains(&(h, None))
    }
}

/// The key of a URL's host for politeness: host and port.
pub fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default().to_ascii_lowercase(),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Fetches politely; one per pass (robots.txt is read again by the next one).
pub struct Fetcher {
    client: reqwest::Client,
    cfg: FetchConfig,
    allowed: AllowedHosts,
    hosts: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Host>>>>,
}

impl Fetcher {
    pub fn new(cfg: FetchConfig, allowed: AllowedHosts) -> Result<Fetcher, BuildError> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout)
            .user_agent(cfg.user_agent.clone())
            .no_proxy();
        if !cfg.proxy.trim().is_empty() {
            let proxy = reqwest::Proxy::all(cfg.proxy.trim())
                .map_err(|e| BuildError::Client(format!("proxy: {e}")))?;
            b = b.proxy(proxy);
        }
        let client = b.build().map_err(|e| BuildError::Client(e.to_string()))?;
        Ok(Fetcher {
            client,
            cfg,
            allowed,
            hosts: Mutex::default(),
        })
    }

    /// Fetches `url`, conditionally when `validators` are given, following allowed redirects.
    pub async fn fetch(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        if !self.allowed.allows(url) {
            return Err(FetchError::HostNotAllowed(host_key(url)));
        }
        let mut current = url.clone();
        let mut chain: HashSet<String> = HashSet::new();
        for hop in 0..=self.cfg.max_redirects {
            if !chain.insert(current.to_string()) {
                return Err(FetchError::RedirectLoop(current.to_string()));
            }
            // Validators belong to the URL they were stored for, not to a redirect's target.
            let conditional = if hop == 0 {
                validators
            } else {
                &Validators::default()
            };
            match self.exchange(&current, conditional).await? {
                Step::Done(f) => return Ok(f),
                Step::Redirect(to) => {
                    if !self.allowed.allows(&to) {
                        return Err(FetchError::RedirectOutside { to: to.to_string() });
                    }
                    current = to;
                }
            }
        }
        Err(FetchError::TooManyRedirects(self.cfg.max_redirects))
    }

    fn host(&self, url: &Url) -> Arc<tokio::sync::Mutex<Host>> {
        let key = host_key(url);
        let mut hosts = match self.hosts.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        hosts.entry(key).or_default().clone()
    }

    /// Waits for the host's turn, then marks its next turn after `delay` once `f` is done.
    async fn polite_wait(&self, host: &mut Host) {
        if let Some(at) = host.next_at {
            tokio::time::sleep_until(at).await;
        }
    }

    fn delay(&self, host: &Host) -> Duration {
        let asked = host.robots.as_ref().and_then(|r| r.crawl_delay());
        asked.map_or(self.cfg.delay, |d| d.max(self.cfg.delay))
    }

    /// One request to `url` in the host's turn.
    async fn exchange(&self, url: &Url, v: &Validators) -> Result<Step, FetchError> {
        let host = self.host(url);
        let mut host = host.lock().await;
        if self.cfg.robots && host.robots.is_none() {
            self.polite_wait(&mut host).await;
            let robots = self.robots(url).await;
            host.robots = Some(Arc::new(robots));
            host.next_at = Some(Instant::now() + self.delay(&host));
        }
        if let Some(r) = &host.robots {
            let path = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            if !r.allowed(&path) {
                return Err(FetchError::Robots(url.to_string()));
            }
        }
        self.polite_wait(&mut host).await;
        let result = self.request(url, v).await;
        host.next_at = Some(Instant::now() + self.delay(&host));
        result
    }

    async fn request(&self, url: &Url, v: &Validators) -> Result<Step, FetchError> {
        let mut req = self.client.get(url.clone());
        if !v.etag.is_empty() {
            req = req.header(reqwest::header::IF_NONE_MATCH, v.etag.as_str());
        }
        if !v.last_modified.is_empty() {
            req = req.header(reqwest::header::IF_MODIFIED_SINCE, v.last_modified.as_str());
        }
        let mut resp = req.send().await.map_err(http_error)?;
        let status = resp.status().as_u16();
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l.trim()).ok())
                .ok_or(FetchError::BadRedirect)?;
            return Ok(Step::Redirect(to));
        }
        if status == 304 {
            return Ok(Step::Done(Fetched::NotModified));
        }
        if !(200..300).contains(&status) {
            return Err(FetchError::Status(status));
        }
        let max = self.cfg.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(FetchError::TooLarge(max));
        }
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let validators = Validators {
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(http_error)? {
            if (body.len() + chunk.len()) as u64 > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Step::Done(Fetched::Body(Response {
            url: url.clone(),
            status,
            validators,
            content_type,
            body,
        })))
    }

    /// The host's robots.txt, read without redirects (a robots.txt that redirects is treated as
    /// missing).
    async fn robots(&self, url: &Url) -> Robots {
        let Ok(robots_url) = url.join("/robots.txt") else {
            return Robots::allow_all();
        };
        let resp = match self.client.get(robots_url).send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(host = %host_key(url), error = %e, "robots.txt unreachable: the host is skipped this pass");
                return Robots::deny_all();
            }
        };
        let status = resp.status().as_u16();
        if status >= 500 {
            tracing::info!(host = %host_key(url), status, "robots.txt answered a server error: the host is skipped this pass");
            return Robots::deny_all();
        }
        if !(200..300).contains(&status) {
            return Robots::allow_all();
        }
        match resp.bytes().await {
            // Only the first 500 KiB count (RFC 9309 §2.5).
            Ok(b) => {
                let b = &b[..b.len().min(500 * 1024)];
                Robots::parse(&String::from_utf8_lossy(b), &self.cfg.user_agent)
            }
            Err(_) => Robots::deny_all(),
        }
    }
}

enum Step {
    Done(Fetched),
    Redirect(Url),
}

fn http_error(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else {
        // The source chain says what went wrong (connection refused, reset…).
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        FetchError::Http(msg)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response as AxumResponse};
    use axum::routing::get;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Site {
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        robots: AtomicUsize,
        starts: Mutex<Vec<std::time::Instant>>,
    }

    async fn page(State(s): State<Arc<Site>>, h: HeaderMap) -> AxumResponse {
        let n = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(n, Ordering::SeqCst);
        if let Ok(mut starts) = s.starts.lock() {
            starts.push(std::time::Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        s.in_flight.fetch_sub(1, Ordering::SeqCst);
        if h.get(header::IF_NONE_MATCH).is_some_and(|v| v == "\"v1\"") {
            return StatusCode::NOT_MODIFIED.into_response();
        }
        ([(header::ETAG, "\"v1\"")], "<html>年报</html>").into_response()
    }

    fn redirect(to: &'static str) -> AxumResponse {
        (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
    }

    /// A site on 127.0.0.1; returns its base URL and its counters.
    async fn site() -> (Url, Arc<Site>) {
        let s = Arc::new(Site::default());
        let app = axum::Router::new()
            .route(
                "/robots.txt",
                get(|State(s): State<Arc<Site>>| async move {
                    s.robots.fetch_add(1, Ordering::SeqCst);
                    "User-agent: *\nDisallow: /private/\n"
                }),
            )
            .route("/page", get(page))
            .route("/moved", get(|| async { redirect("page") }))
            .route("/loop/a", get(|| async { redirect("/loop/b") }))
            .route("/loop/b", get(|| async { redirect("/loop/a") }))
            .route("/out", get(|| async { redirect("http://127.0.0.2:9/x") }))
            .route("/private/x", get(|| async { "secret" }))
            .route("/big", get(|| async { "x".repeat(5000) }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    "late"
                }),
            )
            .with_state(s.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        (Url::parse(&format!("http://{addr}/")).unwrap(), s)
    }

    fn fetcher(base: &Url, delay_ms: u64) -> Fetcher {
        let mut allowed = AllowedHosts::default();
        allowed.add_url(base);
        Fetcher::new(
            FetchConfig {
                user_agent: "nianbao-crawler/test".into(),
                delay: Duration::from_millis(delay_ms),
                timeout: Duration::from_millis(500),
                connect_timeout: Duration::from_millis(500),
                max_body_bytes: 1000,
                max_redirects: 5,
                robots: true,
                proxy: String::new(),
            },
            allowed,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn conditional_gets_redirects_and_every_failure() {
        let (base, s) = site().await;
        let f = fetcher(&base, 0);
        let url = |p: &str| base.join(p).unwrap();
        let Fetched::Body(r) = f.fetch(&url("page"), &Validators::default()).await.unwrap() else {
            panic!("a body first");
        };
        assert_eq!((r.status, r.validators.etag.as_str()), (200, "\"v1\""));
        assert!(matches!(
            f.fetch(&url("page"), &r.validators).await.unwrap(),
            Fetched::NotModified
        ));
        let Fetched::Body(moved) = f
            .fetch(&url("moved"), &Validators::default())
            .await
            .unwrap()
        else {
            panic!("redirect followed");
        };
        assert_eq!(moved.url, url("page"));
        let err = |p: &'static str| {
            let f = &f;
            let u = url(p);
            async move { f.fetch(&u, &Validators::default()).await.unwrap_err() }
        };
        assert!(matches!(err("loop/a").await, FetchError::RedirectLoop(_)));
        assert!(matches!(
            err("out").await,
            FetchError::RedirectOutside { .. }
        ));
        assert!(matches!(err("missing").await, FetchError::Status(404)));
        assert_eq!(err("missing").await.status(), Some(404));
        assert!(matches!(err("big").await, FetchError::TooLarge(1000)));
        assert!(matches!(err("private/x").await, FetchError::Robots(_)));
        let started = std::time::Instant::now();
        assert!(matches!(err("slow").await, FetchError::Timeout));
        assert!(started.elapsed() < Duration::from_secs(2));
        let elsewhere = Url::parse("http://127.0.0.2:9/x").unwrap();
        assert!(matches!(
            f.fetch(&elsewhere, &Validators::default())
                .await
                .unwrap_err(),
            FetchError::HostNotAllowed(_)
        ));
        // robots.txt once for the whole fetcher.
        assert_eq!(s.robots.load(Ordering::SeqCst), 1);
    }

    /// Four fetches of one host at once: one request at a time, each start at least the delay
    /// after the previous one ended.
    #[tokio::test]
    async fn one_request_at_a_time_per_host_with_a_delay() {
        let (base, s) = site().await;
        let f = Arc::new(fetcher(&base, 150));
        let u = base.join("page").unwrap();
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let (f, u) = (f.clone(), u.clone());
                tokio::spawn(async move { f.fetch(&u, &Validators::default()).await.is_ok() })
            })
            .collect();
        for r in runs {
            assert!(r.await.unwrap());
        }
        assert_eq!(s.max_in_flight.load(Ordering::SeqCst), 1);
        let starts = s.starts.lock().unwrap().clone();
        assert_eq!(starts.len(), 4);
        for w in starts.windows(2) {
            // 30 ms of handling plus the 150 ms delay.
            assert!(
                w[1].duration_since(w[0]) >= Duration::from_millis(170),
                "{:?}",
                w[1].duration_since(w[0])
            );
        }
    }

    #[test]
    fn allowed_hosts_by_host_and_port() {
        let mut a = AllowedHosts::default();
        a.add_url(&Url::parse("http://www.example.gov.cn/xxgk/").unwrap());
        a.add_entry("files.example.gov.cn");
        a.add_entry("cdn.example.gov.cn:8080");
        let ok = |s: &str| a.allows(&Url::parse(s).unwrap());
        assert!(ok("http://WWW.example.gov.cn/a"));
        assert!(!ok("https://www.example.gov.cn/a")); // another port
        assert!(ok("https://files.example.gov.cn/a.pdf"));
        assert!(ok("http://files.example.gov.cn:81/a.pdf"));
        assert!(ok("http://cdn.example.gov.cn:8080/a"));
        assert!(!ok("http://cdn.example.gov.cn/a"));
        assert!(!ok("http://evil.example.com/a"));
    }
}
