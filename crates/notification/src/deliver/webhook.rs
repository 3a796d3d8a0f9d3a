//! `webhook:<url>`: the notice JSON POSTed to the URL (header `Idempotency-Key`); and the helpers
//! that keep the URL's secrets out of the error texts of every HTTP channel.

use super::channel::redact_url;
use super::sender::Deliverer;
use crate::render::Notice;

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
pub(super) fn http_error(e: reqwest::Error, url: &str) -> String {
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
pub(super) fn answer_excerpt(text: &str, url: &str) -> String {
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

impl Deliverer {
    /// One POST of the notice's JSON: HTTP 2xx is success.
    pub(super) async fn post_webhook(&self, notice: &Notice, url: &str) -> Result<(), String> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
