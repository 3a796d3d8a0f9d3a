//! The channel names of directory files and configuration: parsing, and printing with secrets hidden.

use lettre::message::Mailbox;
use std::fmt;
use std::str::FromStr;

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
pub(super) fn redact_url(url: &str) -> String {
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
}
