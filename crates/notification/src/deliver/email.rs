//! `email:<addr>[,<addr>…]`: a plain-text mail through the configured SMTP server (`[smtp]`).

use super::sender::{DeliverError, Deliverer};
use crate::render::Notice;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::fmt;
use std::time::Duration;

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

pub(super) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The SMTP password, kept to clean it out of error texts (a server may echo what it refused).
    password: String,
}

pub(super) fn mailer(s: &SmtpSettings) -> Result<Option<Mailer>, DeliverError> {
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

impl Deliverer {
    pub(super) async fn mail(&self, notice: &Notice, addrs: &[String]) -> Result<(), String> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
