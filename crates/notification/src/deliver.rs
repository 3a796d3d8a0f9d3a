//! Channels: how an alert (or an office's digest of alerts) reaches its office.
//!
//! - `inbox`: the alert is in the store, listed and streamed over gRPC. Always the case; naming it in
//!   a channel list only records it as a delivery.
//! - `outbox`: one JSON line per notice appended to `<data_dir>/outbox.jsonl` (and logged), for a
//!   deployment that forwards alerts with its own tooling, or a person tailing the file.
//! - `stdout`: the same JSON line on standard output (containers, development).
//! - `webhook:<url>`: the notice JSON POSTed to the URL (header `Idempotency-Key`).
//! - `wecom:<url>`: a 企业微信 group robot (`…/cgi-bin/webhook/send?key=…`), markdown message
//!   `{"msgtype":"markdown","markdown":{"content":…}}`; an answer with `errcode` ≠ 0 is a failure.
//! - `dingtalk:<url>[#secret=<SEC…>]`: a 钉钉 custom robot (`…/robot/send?access_token=…`), markdown
//!   message `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`; with a secret the URL is signed
//!   (`timestamp` in ms, `sign` = urlencode(base64(HmacSHA256(secret, timestamp + "\n" + secret)))).
//! - `email:<addr>[,<addr>…]`: a plain-text mail through the configured SMTP server (`[smtp]`).
//!
//! The remote channels (webhook, wecom, dingtalk, email) are sent by background tasks with a timeout
//! and retries with exponential backoff; every attempt is a row in `deliveries`. A failing channel
//! never holds up the queue and never loses the alert: it stays in the store and the inbox, a
//! delivery interrupted by a restart is resumed at start-up, and `ListChannels` shows the channel as
//! failing.
//!
//! Idempotency: a channel that already has a delivery row for a notice is not delivered again when the
//! event is redelivered. The outbox and stdout are written before their row is recorded, so a crash
//! exactly in between can write a line twice (at-least-once; the line carries the notice id).
//!
//! Channel names in records and logs hide secrets: the robot's `key` / `access_token` show their last
//! four characters, a 钉钉 secret none, a URL's password and other secret parameters none
//! (`nianbao_service::redact`). Errors of remote deliveries, which are stored (`ListChannels`'
//! `last_error`, the delivery records) and logged, never quote the URL: reqwest's errors name the
//! full URL, key included, so they are shown without it, and any text a server answered is cleaned
//! of the channel's secrets before it is kept.

use crate::store::{DeliveryRow, DeliveryStatus, Store, StoreError};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A delivery channel as directory files and the configuration name it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Channel {
    Inbox,
    Outbox,
    Stdout,
    Webhook(String),
    WeCom(String),
    DingTalk { url: String, secret: Option<String> },
    Email(Vec<String>),
}

impl Channel {
    /// The channel's kind, for metrics labels: never the URL, address or secret.
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Inbox => "inbox",
            Channel::Outbox => "outbox",
            Channel::Stdout => "stdout",
            Channel::Webhook(_) => "webhook",
            Channel::WeCom(_) => "wecom",
            Channel::DingTalk { .. } => "dingtalk",
            Channel::Email(_) => "email",
        }
    }
}

fn http_url(kind: &str, url: &str) -> Result<String, String> {
    if url.starts_with("https://") || (url.starts_with("http://") && is_loopback_url(url)) {
        Ok(url.to_string())
    } else if url.starts_with("http://") {
        // A robot's key or a webhook's payload in cleartext across a network: refused. Loopback
        // (a local relay, the tests) is the one exception.
        Err(format!(
            "{kind} URL {:?} must be https:// (http:// only to a loopback host)",
            nianbao_service::redact(url)
        ))
    } else {
        // The refusal reaches start-up errors and logs: no key in it.
        Err(format!(
            "{kind} URL {:?} is not http(s)",
            nianbao_service::redact(url)
        ))
    }
}

/// Whether an `http://` URL's host is 127.0.0.0/8, ::1 or localhost.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod https_only {
    use super::*;

    #[test]
    fn robots_and_webhooks_are_https_except_on_loopback() {
        assert!("webhook:https://hooks.example/x".parse::<Channel>().is_ok());
        assert!("webhook:http://127.0.0.1:8080/x".parse::<Channel>().is_ok());
        assert!("webhook:http://localhost/x".parse::<Channel>().is_ok());
        assert!("webhook:http://[::1]:9/x".parse::<Channel>().is_ok());
        let e = "wecom:http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETKEY"
            .parse::<Channel>()
            .unwrap_err();
        assert!(e.contains("https://"), "{e}");
        assert!(!e.contains("SECRETKEY"), "{e}");
        assert!(
            "dingtalk:http://10.0.0.1/robot/send?access_token=x"
                .parse::<Channel>()
                .is_err()
        );
        assert!(
            "webhook:http://127.0.0.1.evil.example/x"
                .parse::<Channel>()
                .is_err()
        );
        assert!("webhook:http://user@127.0.0.1/x".parse::<Channel>().is_ok());
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "inbox" => return Ok(Channel::Inbox),
            "outbox" => return Ok(Channel::Outbox),
            "stdout" => return Ok(Channel::Stdout),
            _ => {}
        }
        let Some((kind, rest)) = s.split_once(':') else {
            return Err(format!(
                "unknown channel {:?} (inbox, outbox, stdout, webhook:<url>, wecom:<url>, dingtalk:<url>, email:<addr>)",
                nianbao_service::redact(s)
            ));
        };
        match kind {
            "webhook" => Ok(Channel::Webhook(http_url(kind, rest)?)),
            "wecom" => Ok(Channel::WeCom(http_url(kind, rest)?)),
            "dingtalk" => {
                let (url, secret) = match rest.split_once("#secret=") {
                    Some((u, sec)) if !sec.trim().is_empty() => (u, Some(sec.trim().to_string())),
                    Some(_) => return Err("dingtalk: empty #secret=".into()),
                    None => (rest, None),
                };
                Ok(Channel::DingTalk {
                    url: http_url(kind, url)?,
                    secret,
                })
            }
            "email" => {
                let addrs: Vec<String> = rest
                    .split([',', ';'])
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect();
                if addrs.is_empty() {
                    return Err("email: no address".into());
                }
                for a in &addrs {
                    a.parse::<Mailbox>()
                        .map_err(|e| format!("email address {a:?}: {e}"))?;
                }
                Ok(Channel::Email(addrs))
            }
            other => Err(format!(
                "unknown channel kind {other:?} in {:?}",
                nianbao_service::redact(s)
            )),
        }
    }
}

/// The URL with the values of `key`, `access_token` and `token` cut to their last four characters
/// (so that an office's two robots can be told apart), and every other secret hidden
/// (`nianbao_service::redact`: a password in the URL, `sign=`, `secret=`, …).
fn redact_url(url: &str) -> String {
    nianbao_service::redact(&keep_key_tails(url))
}

/// A channel as its configuration names it, for `Debug` output and messages: secrets hidden as in
/// the channel names, also when the text does not parse as a channel.
pub fn shown_channel(s: &str) -> String {
    s.parse::<Channel>()
        .map_or_else(|_| nianbao_service::redact(s), |c| c.to_string())
}

/// The values of `key`, `access_token` and `token` cut to `…` and their last four characters.
fn keep_key_tails(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if matches!(k, "key" | "access_token" | "token") => {
                let tail: String = v
                    .chars()
                    .rev()
                    .take(4)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("{k}=…{tail}")
            }
            _ => kv.to_string(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Inbox => f.write_str("inbox"),
            Channel::Outbox => f.write_str("outbox"),
            Channel::Stdout => f.write_str("stdout"),
            Channel::Webhook(url) => write!(f, "webhook:{}", redact_url(url)),
            Channel::WeCom(url) => write!(f, "wecom:{}", redact_url(url)),
            Channel::DingTalk { url, secret } => {
                write!(f, "dingtalk:{}", redact_url(url))?;
                if secret.is_some() {
                    f.write_str("#secret=…")?;
                }
                Ok(())
            }
            Channel::Email(addrs) => write!(f, "email:{}", addrs.join(",")),
        }
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({self})")
    }
}

impl Channel {
    /// Sent by a background task with retries (as opposed to written locally at once).
    pub fn is_remote(&self) -> bool {
        matches!(
            self,
            Channel::Webhook(_) | Channel::WeCom(_) | Channel::DingTalk { .. } | Channel::Email(_)
        )
    }
}

/// What one delivery carries: an alert, or an office's digest of several.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The alert id, or the digest id (`dg-…`).
    pub id: String,
    pub office_id: String,
    /// Subject line (mail) and robot title.
    pub title: String,
    /// Plain text, one finding per line (mail body).
    pub text: String,
    /// Markdown (企业微信, 钉钉).
    pub markdown: String,
    /// The JSON of webhooks, the outbox and stdout.
    pub json: serde_json::Value,
    pub created_at_ms: i64,
}

#[derive(Debug, Error)]
pub enum DeliverError {
    #[error("writing the outbox {path}: {source}")]
    Outbox {
        path: String,
        source: std::io::Error,
    },
    #[error("writing to stdout: {0}")]
    Stdout(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("SMTP: {0}")]
    Smtp(String),
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    None,
    StartTls,
    Tls,
}

pub fn smtp_security(s: &str) -> Result<SmtpSecurity, String> {
    match s.trim() {
        "none" => Ok(SmtpSecurity::None),
        "starttls" => Ok(SmtpSecurity::StartTls),
        "tls" => Ok(SmtpSecurity::Tls),
        other => Err(format!(
            "smtp.security {other:?} must be \"starttls\", \"tls\" or \"none\""
        )),
    }
}

/// The SMTP server settings the deliverer uses (from `[smtp]`). Its `Debug` hides the password.
#[derive(Clone, Default)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: String,
    pub username: String,
    pub password: String,
    pub from: String,
    pub timeout: Duration,
}

/// Every field, the password as `***` (or empty when there is none). Destructured so that a new
/// field cannot be forgotten.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SmtpSettings {
            host,
            port,
            security,
            username,
            password,
            from,
            timeout,
        } = self;
        f.debug_struct("SmtpSettings")
            .field("host", host)
            .field("port", port)
            .field("security", security)
            .field("username", username)
            .field("password", &hidden(password))
            .field("from", from)
            .field("timeout", timeout)
            .finish()
    }
}

/// How `Debug` output shows a password: `***`, or `""` when none is set (worth knowing).
pub fn hidden(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "***" }
}

struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The SMTP password, kept to clean it out of error texts (a server may echo what it refused).
    password: String,
}

fn mailer(s: &SmtpSettings) -> Result<Option<Mailer>, DeliverError> {
    if s.host.trim().is_empty() {
        return Ok(None);
    }
    let host = s.host.trim();
    let builder = match smtp_security(&s.security).map_err(DeliverError::Smtp)? {
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|e| DeliverError::Smtp(e.to_string()))?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            .map_err(|e| DeliverError::Smtp(e.to_string()))?,
    };
    let mut builder = builder.port(s.port).timeout(Some(s.timeout));
    if !s.username.is_empty() {
        builder = builder.credentials(Credentials::new(s.username.clone(), s.password.clone()));
    }
    let from = s
        .from
        .parse::<Mailbox>()
        .map_err(|e| DeliverError::Smtp(format!("from {:?}: {e}", s.from)))?;
    Ok(Some(Mailer {
        transport: builder.build(),
        from,
        password: s.password.clone(),
    }))
}

/// The 钉钉 signed URL: `&timestamp=<ms>&sign=<urlencoded base64 HmacSHA256(secret, ts\nsecret)>`.
pub fn dingtalk_signed_url(url: &str, secret: &str, timestamp_ms: i64) -> String {
    let to_sign = format!("{timestamp_ms}\n{secret}");
    let sign = match Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(to_sign.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => String::new(),
    };
    let sign = percent_encoding::utf8_percent_encode(&sign, percent_encoding::NON_ALPHANUMERIC);
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}timestamp={timestamp_ms}&sign={sign}")
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    const MORE: &str = "\n……（内容过长，详见收件箱）";
    let mut end = max.saturating_sub(MORE.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MORE}", &s[..end])
}

/// The secrets in `url` that an error text must not repeat: the password (or token) of its
/// userinfo, and the values of its secret parameters (`key`, `access_token`, `sign`, …), as written
/// and percent-decoded. Values shorter than four characters are left out: they guard nothing, and
/// replacing them would garble the text.
fn url_secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |v: &str| {
        for v in [
            v.to_string(),
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned(),
        ] {
            if v.chars().count() >= 4 && !out.contains(&v) {
                out.push(v);
            }
        }
    };
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            add(userinfo.split_once(':').map_or(userinfo, |(_, pw)| pw));
        }
    }
    if let Some((_, params)) = url.split_once('?') {
        for kv in params.split(['&', '#']) {
            if let Some((k, v)) = kv.split_once('=')
                && nianbao_bus::is_secret_param(k)
            {
                add(v);
            }
        }
    }
    out
}

/// `text` with the `url` (as a whole, then each of `secrets`) replaced by what a log may show.
fn scrub(text: &str, url: &str, secrets: &[String]) -> String {
    let mut t = if url.is_empty() {
        text.to_string()
    } else {
        text.replace(url, &redact_url(url))
    };
    for s in secrets {
        t = t.replace(s.as_str(), "***");
    }
    t
}

/// A reqwest error as stored and logged: its own text without the URL (which reqwest appends, key
/// and all), then its causes (`…: tcp connect error: Connection refused`), cleaned of `url`'s
/// secrets in case a cause quotes it.
fn http_error(e: reqwest::Error, url: &str) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let t = c.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        cause = c.source();
    }
    scrub(&text, url, &url_secrets(url))
}

/// What a server answered, for an error message: at most `ANSWER_MAX` characters, on one line, and
/// cleaned of the URL's secrets (an error page may echo the request line, key included).
fn answer_excerpt(text: &str, url: &str) -> String {
    const ANSWER_MAX: usize = 200;
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut t = scrub(one_line.trim(), url, &url_secrets(url));
    if let Some((cut, _)) = t.char_indices().nth(ANSWER_MAX) {
        t.truncate(cut);
        t.push('…');
    }
    t
}

/// 企业微信 群机器人 markdown content is limited to 4096 bytes.
const WECOM_MAX: usize = 4096;
/// 钉钉 custom robots take about 20,000 bytes; stay well below.
const DINGTALK_MAX: usize = 15_000;

/// Remote sending settings (webhooks, robots, mail).
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive failures after which a channel is reported failing.
    pub failing_after: u32,
    /// Least time between two messages to one robot (企业微信, 钉钉).
    pub robot_interval: Duration,
}

/// Channels sent in the background (a delivery row means "under way").
fn is_remote_name(channel: &str) -> bool {
    ["webhook:", "wecom:", "dingtalk:", "email:"]
        .iter()
        .any(|p| channel.starts_with(p))
}

fn delivery_row(id: &str, channel: &str, attempt: i64, status: DeliveryStatus) -> DeliveryRow {
    DeliveryRow {
        alert_id: id.to_string(),
        channel: channel.to_string(),
        attempt,
        status: status.as_str().to_string(),
        error: String::new(),
        at_ms: nianbao_service::now_ms(),
    }
}

/// Delivers notices through their channels; owns the background tasks of the remote channels.
pub struct Deliverer {
    store: Store,
    outbox: PathBuf,
    outbox_lock: tokio::sync::Mutex<()>,
    client: reqwest::Client,
    mailer: Option<Mailer>,
    webhook: WebhookSettings,
    stop: watch::Receiver<bool>,
    tasks: Mutex<JoinSet<()>>,
    /// When each robot (by channel name) may be sent to next.
    robot_slots: tokio::sync::Mutex<std::collections::HashMap<String, tokio::time::Instant>>,
    /// Where failed delivery attempts are counted (by channel kind, never by URL or secret).
    metrics: nianbao_service::Metrics,
}

impl Deliverer {
    pub fn new(
        store: Store,
        outbox: PathBuf,
        webhook: WebhookSettings,
        smtp: &SmtpSettings,
        stop: watch::Receiver<bool>,
    ) -> Result<Deliverer, DeliverError> {
        let client = reqwest::Client::builder()
            .timeout(webhook.timeout)
            .user_agent(concat!("nianbao-notification/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(DeliverError::Client)?;
        Ok(Deliverer {
            store,
            outbox,
            outbox_lock: tokio::sync::Mutex::new(()),
            client,
            mailer: mailer(smtp)?,
            webhook,
            stop,
            tasks: Mutex::new(JoinSet::new()),
            robot_slots: tokio::sync::Mutex::new(std::collections::HashMap::new()),
            metrics: nianbao_service::Metrics::default(),
        })
    }

    /// This deliverer, counting failed delivery attempts into `metrics`
    /// (`nianbao_channel_delivery_failures_total{channel}`, by channel kind).
    pub fn with_metrics(mut self, metrics: nianbao_service::Metrics) -> Deliverer {
        self.metrics = metrics;
        self
    }

    /// Whether `email:` channels can be served (an SMTP host is configured).
    pub fn can_mail(&self) -> bool {
        self.mailer.is_some()
    }

    pub fn settings(&self) -> &WebhookSettings {
        &self.webhook
    }

    /// Delivers `notice` through every channel that has no delivery recorded yet. Remote channels
    /// are only queued here (they run in the background); an error means a local channel (outbox,
    /// stdout, the database) failed, which is worth retrying the event for.
    pub async fn deliver(
        self: &Arc<Self>,
        notice: &Notice,
        channels: &[Channel],
    ) -> Result<(), DeliverError> {
        self.deliver_many(&[(notice.clone(), channels.to_vec())])
            .await
    }

    /// [`Deliverer::deliver`] for several notices with a few round trips in all: one insert of
    /// the notices, one read of their delivery log, one write to the outbox (and stdout), one
    /// insert of the delivery records. A notice listed twice is delivered once.
    pub async fn deliver_many(
        self: &Arc<Self>,
        notices: &[(Notice, Vec<Channel>)],
    ) -> Result<(), DeliverError> {
        let mut seen = std::collections::HashSet::new();
        let notices: Vec<&(Notice, Vec<Channel>)> = notices
            .iter()
            .filter(|(n, _)| seen.insert(n.id.clone()))
            .collect();
        if notices.is_empty() {
            return Ok(());
        }
        let all: Vec<Notice> = notices.iter().map(|(n, _)| n.clone()).collect();
        self.store.put_notices(&all).await?;
        let ids: Vec<String> = all.iter().map(|n| n.id.clone()).collect();
        // A remote channel with any row is under way (or finished); a local one counts once it
        // has been delivered.
        let done: std::collections::HashSet<(String, String)> = self
            .store
            .deliveries_of(&ids)
            .await?
            .into_iter()
            .filter(|d| {
                d.status == DeliveryStatus::Delivered.as_str() || is_remote_name(&d.channel)
            })
            .map(|d| (d.alert_id, d.channel))
            .collect();
        let mut outbox = String::new();
        let mut stdout = String::new();
        let mut local = Vec::new();
        let mut remote = Vec::new();
        for (notice, channels) in notices {
            let mut line: Option<String> = None;
            for ch in channels {
                let name = ch.to_string();
                if done.contains(&(notice.id.clone(), name.clone())) {
                    continue;
                }
                let line = line
                    .get_or_insert_with(|| serde_json::to_string(&notice.json).unwrap_or_default());
                match ch {
                    Channel::Inbox => {}
                    Channel::Outbox => {
                        outbox.push_str(line);
                        outbox.push('\n');
                        tracing::debug!(notice = %notice.id, office = %notice.office_id, outbox = %self.outbox.display(), title = %notice.title, "written to the outbox");
                    }
                    Channel::Stdout => {
                        stdout.push_str(line);
                        stdout.push('\n');
                    }
                    r => {
                        remote.push((notice, r, name));
                        continue;
                    }
                }
                local.push(delivery_row(
                    &notice.id,
                    &name,
                    1,
                    DeliveryStatus::Delivered,
                ));
            }
        }
        if !remote.is_empty() {
            let pending: Vec<DeliveryRow> = remote
                .iter()
                .map(|(n, _, name)| delivery_row(&n.id, name, 0, DeliveryStatus::Pending))
                .collect();
            self.store.record_deliveries(&pending).await?;
            for (n, ch, _) in remote {
                self.spawn_remote(n.clone(), ch.clone(), 1);
            }
        }
        if !outbox.is_empty()
            && let Err(e) = self.append_outbox(outbox).await
        {
            self.metrics.channel_failure("outbox");
            return Err(e);
        }
        if !stdout.is_empty() {
            let mut out = tokio::io::stdout();
            let written = async {
                out.write_all(stdout.as_bytes()).await?;
                out.flush().await
            };
            if let Err(e) = written.await {
                self.metrics.channel_failure("stdout");
                return Err(DeliverError::Stdout(e));
            }
        }
        self.store.record_deliveries(&local).await?;
        Ok(())
    }

    /// Restarts remote deliveries that a previous run left unfinished. `channels_of` gives the
    /// channels of an office (to find the full channel, secrets included, behind a recorded name).
    pub async fn resume_pending(
        self: &Arc<Self>,
        channels_of: impl Fn(&str) -> Vec<Channel>,
    ) -> Result<usize, DeliverError> {
        let pending = self.store.pending_remote().await?;
        let mut n = 0;
        for p in pending {
            let Some(notice) = self.store.get_notice(&p.alert_id).await? else {
                continue;
            };
            let Some(ch) = channels_of(&notice.office_id)
                .into_iter()
                .find(|c| c.to_string() == p.channel)
            else {
                tracing::warn!(notice = %notice.id, channel = %p.channel, "the office no longer has this channel; delivery not resumed");
                continue;
            };
            let next = u32::try_from(p.last_attempt.max(0)).unwrap_or(u32::MAX) + 1;
            self.spawn_remote(notice, ch, next);
            n += 1;
        }
        if n > 0 {
            tracing::info!(count = n, "resumed unfinished deliveries");
        }
        Ok(n)
    }

    /// Appends whole lines to the outbox file, in one write (one blocking task, not one per
    /// file operation), so that a reader never sees half a line from two writers.
    async fn append_outbox(&self, lines: String) -> Result<(), DeliverError> {
        let _guard = self.outbox_lock.lock().await;
        let path = self.outbox.clone();
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write as _;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            f.write_all(lines.as_bytes())?;
            f.flush()
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        written.map_err(|source| DeliverError::Outbox {
            path: self.outbox.display().to_string(),
            source,
        })
    }

    fn spawn_remote(self: &Arc<Self>, notice: Notice, channel: Channel, first_attempt: u32) {
        let this = self.clone();
        let stop = self.stop.clone();
        let Ok(mut tasks) = self.tasks.lock() else {
            tracing::error!("delivery task set poisoned; delivery left pending until restart");
            return;
        };
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            tokio::select! {
                () = this.send_remote(&notice, &channel, first_attempt) => {},
                () = crate::wait_stop(stop) => {
                    tracing::info!(notice = %notice.id, %channel, "shutting down: delivery resumes at the next start");
                },
            }
        });
    }

    /// One attempt on a remote channel.
    pub async fn attempt(&self, notice: &Notice, channel: &Channel) -> Result<(), String> {
        match channel {
            Channel::Webhook(url) => {
                let r = self
                    .client
                    .post(url)
                    .header("Idempotency-Key", notice.id.as_str())
                    .json(&notice.json)
                    .send()
                    .await
                    .map_err(|e| http_error(e, url))?;
                if r.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("HTTP {}", r.status()))
                }
            }
            Channel::WeCom(url) => {
                let body = serde_json::json!({
                    "msgtype": "markdown",
                    "markdown": { "content": truncate_bytes(&notice.markdown, WECOM_MAX) },
                });
                self.post_robot(url, &body).await
            }
            Channel::DingTalk { url, secret } => {
                let signed = match secret {
                    Some(sec) => dingtalk_signed_url(url, sec, nianbao_service::now_ms()),
                    None => url.clone(),
                };
                let body = serde_json::json!({
                    "msgtype": "markdown",
                    "markdown": {
                        "title": notice.title,
                        "text": truncate_bytes(&notice.markdown, DINGTALK_MAX),
                    },
                });
                self.post_robot(&signed, &body)
                    .await
                    // The secret itself is never sent, but an answer must not repeat it either.
                    .map_err(|e| match secret {
                        Some(sec) if sec.chars().count() >= 4 => e.replace(sec.as_str(), "***"),
                        _ => e,
                    })
            }
            Channel::Email(addrs) => self.mail(notice, addrs).await,
            Channel::Inbox | Channel::Outbox | Channel::Stdout => Ok(()),
        }
    }

    /// POSTs to a 企业微信 / 钉钉 robot: HTTP 2xx and `errcode` 0 is success. The error never
    /// quotes `url` (it holds the robot's key), nor a secret of it that the answer repeats.
    async fn post_robot(&self, url: &str, body: &serde_json::Value) -> Result<(), String> {
        let r = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| http_error(e, url))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| http_error(e, url))?;
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("robot answered {status} with no JSON ({e})"))?;
        match v.get("errcode").and_then(serde_json::Value::as_i64) {
            Some(0) => Ok(()),
            Some(code) => Err(format!(
                "robot errcode {code}: {}",
                answer_excerpt(
                    v.get("errmsg")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default(),
                    url
                )
            )),
            None => Err(format!(
                "robot answer without errcode: {}",
                answer_excerpt(&text, url)
            )),
        }
    }

    async fn mail(&self, notice: &Notice, addrs: &[String]) -> Result<(), String> {
        let Some(m) = &self.mailer else {
            return Err("no SMTP server configured ([smtp] host)".into());
        };
        let mut b = lettre::Message::builder()
            .from(m.from.clone())
            .subject(notice.title.clone());
        for a in addrs {
            b = b.to(a.parse::<Mailbox>().map_err(|e| format!("{a}: {e}"))?);
        }
        let msg = b
            .header(ContentType::TEXT_PLAIN)
            .body(notice.text.clone())
            .map_err(|e| e.to_string())?;
        m.transport.send(msg).await.map(|_| ()).map_err(|e| {
            let text = e.to_string();
            if m.password.chars().count() >= 4 {
                text.replace(m.password.as_str(), "***")
            } else {
                text
            }
        })
    }

    /// Attempts `first_attempt ..= 1 + retries`, recording each; backoff doubles up to the cap.
    async fn send_remote(&self, notice: &Notice, channel: &Channel, first_attempt: u32) {
        let name = channel.to_string();
        let last = self.webhook.retries.saturating_add(1);
        let mut attempt = first_attempt.max(1);
        let robot = matches!(channel, Channel::WeCom(_) | Channel::DingTalk { .. });
        loop {
            if robot {
                self.robot_slot(&name).await;
            }
            let error = self.attempt(notice, channel).await.err();
            let status = match (&error, attempt >= last) {
                (None, _) => DeliveryStatus::Delivered,
                (Some(_), false) => DeliveryStatus::Failed,
                (Some(_), true) => DeliveryStatus::GaveUp,
            };
            if error.is_some() {
                self.metrics.channel_failure(channel.kind());
            }
            let err_text = error.clone().unwrap_or_default();
            if let Err(e) = self
                .store
                .record_delivery(&notice.id, &name, i64::from(attempt), status, &err_text)
                .await
            {
                tracing::warn!(notice = %notice.id, error = %e, "could not record a delivery attempt");
            }
            if error.is_some()
                && let Ok(n) = self.store.consecutive_failures(&name).await
                && n == u64::from(self.webhook.failing_after)
            {
                tracing::error!(channel = %name, consecutive_failures = n, error = %err_text, "channel is failing: alerts stay in the inbox; see `nianbao channels`");
            }
            match status {
                DeliveryStatus::Delivered => {
                    tracing::info!(notice = %notice.id, channel = %name, attempt, "delivered");
                    return;
                }
                DeliveryStatus::GaveUp => {
                    tracing::warn!(notice = %notice.id, channel = %name, attempt, error = %err_text, "delivery failed for good; the alert stays in the inbox");
                    return;
                }
                _ => {}
            }
            let delay = self.backoff(attempt);
            tracing::info!(notice = %notice.id, channel = %name, attempt, error = %err_text, delay_ms = delay.as_millis(), "delivery failed; retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Waits for this robot's next slot and books the one after it, so that one robot gets at most
    /// one message per `robot_interval` from this service.
    async fn robot_slot(&self, name: &str) {
        if self.webhook.robot_interval.is_zero() {
            return;
        }
        let wait_until = {
            let mut slots = self.robot_slots.lock().await;
            let now = tokio::time::Instant::now();
            let slot = slots.get(name).copied().filter(|t| *t > now).unwrap_or(now);
            slots.insert(name.to_string(), slot + self.webhook.robot_interval);
            slot
        };
        tokio::time::sleep_until(wait_until).await;
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.webhook
            .backoff
            .saturating_mul(factor)
            .min(self.webhook.max_backoff)
    }

    /// Waits for the background delivery tasks (they stop at shutdown).
    pub async fn join(&self) {
        let tasks = match self.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(_) => return,
        };
        tasks.join_all().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_and_print() {
        for s in [
            "inbox",
            "outbox",
            "stdout",
            "webhook:https://x.example/a?b=1",
            "email:gkb@qinghe.example.cn,li@qinghe.example.cn",
        ] {
            assert_eq!(s.parse::<Channel>().unwrap().to_string(), s);
        }
        assert!("webhook:ftp://x".parse::<Channel>().is_err());
        assert!("mail".parse::<Channel>().is_err());
        assert!("email:not an address".parse::<Channel>().is_err());
        assert!(
            "dingtalk:https://x/robot/send?access_token=t#secret="
                .parse::<Channel>()
                .is_err()
        );
    }

    #[test]
    fn secrets_are_redacted_in_names() {
        let w: Channel = "wecom:https://qyapi.example/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
            .parse()
            .unwrap();
        assert_eq!(
            w.to_string(),
            "wecom:https://qyapi.example/cgi-bin/webhook/send?key=…5aaa"
        );
        let d: Channel =
            "dingtalk:https://oapi.example/robot/send?access_token=abcdef123456#secret=SECabc"
                .parse()
                .unwrap();
        assert_eq!(
            d.to_string(),
            "dingtalk:https://oapi.example/robot/send?access_token=…3456#secret=…"
        );
        assert!(!format!("{d:?}").contains("SECabc"));
        assert!(d.is_remote() && !Channel::Outbox.is_remote());
    }

    #[test]
    fn secrets_of_every_kind_are_hidden_in_names_and_refusals() {
        let cases = [
            (
                "webhook:https://nianbao:hook-hunter2@hooks.example/a?token=hook-token-0123&page=1",
                "webhook:https://nianbao:***@hooks.example/a?token=…0123&page=1",
            ),
            (
                "webhook:https://hooks.example/a?sign=sig-0123456789&api_key=ak-0123456789",
                "webhook:https://hooks.example/a?sign=***&api_key=***",
            ),
            (
                "webhook:https://ghp_tokentoken@hooks.example/a",
                "webhook:https://***@hooks.example/a",
            ),
            (
                "dingtalk:https://oapi.example/robot/send?access_token=dt-0123456789#secret=SECabcdef",
                "dingtalk:https://oapi.example/robot/send?access_token=…6789#secret=…",
            ),
        ];
        for (raw, shown) in cases {
            let c: Channel = raw.parse().unwrap();
            assert_eq!(c.to_string(), shown);
            assert_eq!(format!("{c:?}"), format!("Channel({shown})"));
            assert_eq!(shown_channel(raw), shown);
        }
        // A channel that does not parse is refused without its key (start-up errors, logs).
        for raw in [
            "wecom:htps://qyapi.example/send?key=typo-key-0123456789",
            "wcom:https://qyapi.example/send?key=typo-key-0123456789",
            "wecomhttps//qyapi.example/send?key=typo-key-0123456789",
            "dingtalk:ftp://x/robot/send?access_token=typo-key-0123456789#secret=SECx",
        ] {
            let e = raw.parse::<Channel>().unwrap_err();
            assert!(
                !e.contains("typo-key-0123456789") && !e.contains("SECx"),
                "{e}"
            );
            assert!(!shown_channel(raw).contains("typo-key-0123456789"), "{raw}");
        }
    }

    #[test]
    fn error_texts_lose_the_url_secrets() {
        let url = "https://u:pw-0123@robot.example/send?access_token=tok-0123456789&timestamp=1&sign=c2ln%2B";
        let secrets = url_secrets(url);
        for s in ["pw-0123", "tok-0123456789", "c2ln%2B", "c2ln+"] {
            assert!(secrets.iter().any(|x| x == s), "{s} not in {secrets:?}");
        }
        let t = scrub(
            &format!("failed for {url}; token tok-0123456789, sign c2ln+"),
            url,
            &secrets,
        );
        assert!(
            !t.contains("tok-0123456789") && !t.contains("pw-0123") && !t.contains("c2ln"),
            "{t}"
        );
        let long = format!("{}\n{url}", "错".repeat(300));
        let e = answer_excerpt(&long, url);
        assert!(
            !e.contains('\n') && e.ends_with('…') && e.chars().count() == 201,
            "{e}"
        );
    }

    #[test]
    fn smtp_settings_debug_hides_the_password() {
        let s = SmtpSettings {
            host: "mail.example.cn".into(),
            username: "nianbao".into(),
            password: "smtp-hunter2".into(),
            ..SmtpSettings::default()
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("smtp-hunter2") && shown.contains("password: \"***\""),
            "{shown}"
        );
        assert!(format!("{:?}", SmtpSettings::default()).contains("password: \"\""));
    }

    #[test]
    fn dingtalk_signature_matches_the_documented_recipe() {
        // Recomputed independently: HmacSHA256(key = secret, "1700000000000\nSECtest"), Base64, then
        // URL-encoded (+ → %2B, / → %2F, = → %3D).
        let url = dingtalk_signed_url(
            "https://oapi.example/robot/send?access_token=t",
            "SECtest",
            1_700_000_000_000,
        );
        let (base, q) = url.split_once("&timestamp=").unwrap();
        assert_eq!(base, "https://oapi.example/robot/send?access_token=t");
        let (ts, sign) = q.split_once("&sign=").unwrap();
        assert_eq!(ts, "1700000000000");
        let decoded = percent_encoding::percent_decode_str(sign)
            .decode_utf8()
            .unwrap();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"SECtest").unwrap();
        mac.update(b"1700000000000\nSECtest");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(decoded.as_bytes())
            .unwrap();
        assert_eq!(raw, mac.finalize().into_bytes().to_vec());
        assert!(!sign.contains('+') && !sign.contains('/') && !sign.contains('='));
        // The same, computed with Python's hmac/base64/urllib.parse.quote_plus.
        assert_eq!(sign, "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D");
    }

    #[tokio::test]
    async fn robots_get_one_message_per_interval() {
        let dir = std::env::temp_dir().join(format!("nianbao-slots-{}", std::process::id()));
        let store = Store::connect(&format!(
            "sqlite://{}?mode=rwc",
            dir.with_extension("db").display()
        ))
        .await
        .unwrap();
        let (_stop, rx) = watch::channel(false);
        let d = Deliverer::new(
            store,
            dir.join("outbox.jsonl"),
            WebhookSettings {
                timeout: Duration::from_secs(1),
                retries: 0,
                backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(1),
                failing_after: 3,
                robot_interval: Duration::from_millis(150),
            },
            &SmtpSettings::default(),
            rx,
        )
        .unwrap();
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            d.robot_slot("wecom:a").await;
        }
        // The third message waits two intervals; another robot does not wait for them.
        let three = start.elapsed();
        assert!(three >= Duration::from_millis(300), "{three:?}");
        d.robot_slot("wecom:b").await;
        assert!(start.elapsed() - three < Duration::from_millis(100));
        let _ = std::fs::remove_file(dir.with_extension("db"));
    }

    #[test]
    fn long_robot_texts_are_cut_on_a_character() {
        let s = "问题".repeat(3000);
        let t = truncate_bytes(&s, WECOM_MAX);
        assert!(t.len() <= WECOM_MAX);
        assert!(t.ends_with("详见收件箱）"));
        assert_eq!(truncate_bytes("短", 10), "短");
    }
}
