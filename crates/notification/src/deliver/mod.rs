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
//!
//! One file per channel (`webhook`, `wecom`, `dingtalk`, `email`, `outbox` with stdout), the group
//! robots' shared pieces in `robot`, the channel names in `channel`, and the sender in `sender`.

mod channel;
mod dingtalk;
mod email;
mod outbox;
mod robot;
mod sender;
mod webhook;
mod wecom;

pub use channel::{Channel, shown_channel};
pub use dingtalk::dingtalk_signed_url;
pub use email::{SmtpSecurity, SmtpSettings, hidden, smtp_security};
pub use sender::{DeliverError, Deliverer, WebhookSettings};
