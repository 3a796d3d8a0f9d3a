//! URLs as logs, error messages and `Debug` output may show them: without passwords and tokens.
//!
//! This lives in the bus crate because it is the lowest crate that every service and every service
//! configuration (through [`crate::BusConfig`]) depends on; `nianbao_service::redact` is this
//! function, so that the services have one redaction, tested once.

/// The text that replaces a hidden password or token.
const HIDDEN: &str = "***";

/// `url` with its secrets replaced by `***`, for logs and error messages:
///
/// - the password of the userinfo (`amqp://guest:***@host/`), or the whole userinfo when it has no
///   `:` (`https://***@host/`: a token used as the user name is as secret as a password);
/// - the value of every query or fragment parameter whose name says it is a secret
///   ([`is_secret_param`]: `password=`, `access_token=`, `key=`, `sign=`, …), as in
///   `postgres://host/db?password=…` or a robot's `…/send?key=…`.
///
/// Where the end of the userinfo is ambiguous (an `@` in the path or query too), more is hidden
/// rather than less: a malformed URL must not leak its password. A value that
/// is already redacted (`***`, or a tail such as `…5aaa` that channel names keep) stays as it is,
/// so redacting twice changes nothing. Text without a scheme (a mistyped URL) has only its
/// parameters redacted: without a scheme, an `@` says nothing about a userinfo.
pub fn redact_url(url: &str) -> String {
    let after_scheme = scheme_end(url);
    let (scheme, rest) = url.split_at(after_scheme.unwrap_or(0));
    // The userinfo ends at the last `@`: a password with a raw `@`, `/`, `?` or `#` in it (pasted
    // unescaped, which is also when a connection fails and its URL gets logged) must not leak.
    let at = after_scheme.and_then(|_| rest.rfind('@'));
    let (userinfo, rest) = match at {
        Some(at) => (Some(&rest[..at]), &rest[at..]),
        None => (None, rest),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    if let Some(userinfo) = userinfo {
        match userinfo.split_once(':') {
            Some((user, _password)) => {
                out.push_str(user);
                out.push(':');
                out.push_str(HIDDEN);
            }
            None => out.push_str(HIDDEN),
        }
    }
    // `rest` is `@host…`, or `host…` without userinfo: parameters after `?` and `#`.
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (rest, None),
    };
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&redact_params(query));
        }
        None => out.push_str(before_fragment),
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(&redact_params(fragment));
    }
    out
}

/// Whether a URL parameter of this name carries a secret (compared in ASCII lower case): names
/// containing `password`, `passwd`, `secret` or `token`, and the short names robots, signed URLs and
/// API gateways use (`key`, `sign`, `sig`, `signature`, `apikey`, `auth`, …).
pub fn is_secret_param(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    [
        "password", "passwd", "secret", "token", "apikey", "api_key", "api-key",
    ]
    .iter()
    .any(|w| n.contains(w))
        || matches!(
            n.as_str(),
            "key"
                | "pass"
                | "pwd"
                | "sign"
                | "sig"
                | "signature"
                | "auth"
                | "authorization"
                | "access_key"
                | "accesskey"
                | "credential"
                | "credentials"
        )
}

/// `a=1&key=***&b=2`: the values of secret parameters hidden, everything else kept.
fn redact_params(params: &str) -> String {
    params
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if is_secret_param(k) && !is_redacted(v) => format!("{k}={HIDDEN}"),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A value a redaction already produced: `***`, or a kept tail `…abcd`.
fn is_redacted(v: &str) -> bool {
    v.is_empty() || v == HIDDEN || v.starts_with('…')
}

/// Where what follows the scheme starts: after `scheme://`, or after `scheme:` for the
/// authority-less form (`amqp:user:pw@host`) that URL parsers refuse and then quote back in their
/// error messages.
fn scheme_end(url: &str) -> Option<usize> {
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid {
        return None;
    }
    if url[colon..].starts_with("://") {
        Some(colon + 3)
    } else {
        Some(colon + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_the_userinfo_are_hidden() {
        assert_eq!(
            redact_url("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            redact_url("postgres://nianbao:pa%40ss@db.example:5432/nianbao"),
            "postgres://nianbao:***@db.example:5432/nianbao"
        );
        // A token as the user name.
        assert_eq!(
            redact_url("https://ghp_abcdef@hooks.example/x"),
            "https://***@hooks.example/x"
        );
        // An unescaped `@`, `/` or `?` in the password hides more, never leaks.
        let r = redact_url("postgres://u:p@ss/w?rd@db.example/nb");
        assert!(!r.contains("ss/w") && !r.contains("rd@"), "{r}");
        assert!(r.starts_with("postgres://u:***@db.example"), "{r}");
        let r = redact_url("amqp://u:se?cret@host/");
        assert!(!r.contains("se?cret") && !r.contains("cret"), "{r}");
        // The form without `//` that URL parsers refuse and quote back.
        assert_eq!(redact_url("amqp:guest:hunter2@host"), "amqp:guest:***@host");
    }

    #[test]
    fn secret_parameters_are_hidden() {
        assert_eq!(
            redact_url("postgres://db.example/nianbao?user=nb&password=hunter2&sslmode=require"),
            "postgres://db.example/nianbao?user=nb&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"),
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
        );
        assert_eq!(
            redact_url(
                "https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=1&sign=xyz%3D#secret=SECabc"
            ),
            "https://oapi.dingtalk.com/robot/send?access_token=***&timestamp=1&sign=***#secret=***"
        );
        // A mistyped URL without a scheme still loses its tokens.
        assert_eq!(
            redact_url("qyapi.example/send?key=693a91f6"),
            "qyapi.example/send?key=***"
        );
        assert_eq!(
            redact_url("https://u:p@hook.example/a?Token=t&API_KEY=k&page=2"),
            "https://u:***@hook.example/a?Token=***&API_KEY=***&page=2"
        );
        // An `@` in a parameter: everything before it may be userinfo, so it is hidden.
        assert_eq!(
            redact_url("https://u:p@hook.example/a?to=li@example.cn"),
            "https://u:***@example.cn"
        );
    }

    #[test]
    fn urls_without_secrets_and_redacted_ones_stay() {
        for u in [
            "amqp://127.0.0.1",
            "sqlite:///var/lib/nianbao/v.db?mode=rwc",
            "sqlite://data/validation/validation.db?mode=rwc",
            "https://hook.example/a?b=1",
            "https://qyapi.example/send?key=…5aaa",
            "not a url",
            "li@example.cn",
            "",
        ] {
            assert_eq!(redact_url(u), u);
        }
        let once = redact_url("amqp://guest:secret@h/?token=x");
        assert_eq!(redact_url(&once), once);
    }

    #[test]
    fn secret_parameter_names() {
        for n in [
            "password",
            "sslpassword",
            "PASSWORD",
            "access_token",
            "token",
            "client_secret",
            "key",
            "sign",
            "apikey",
        ] {
            assert!(is_secret_param(n), "{n}");
        }
        for n in ["mode", "sslmode", "timestamp", "user", "page", "keyword"] {
            assert!(!is_secret_param(n), "{n}");
        }
    }
}
