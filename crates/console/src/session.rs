//! Server-side sessions: a random id in an HttpOnly, SameSite=Strict cookie (`Secure` over TLS),
//! the clerk's token and identity kept here, a CSRF token for every form, an idle and an absolute
//! expiry. The credential is checked again on every request, so a revoked credential ends its
//! sessions at once.

use nianbao_auth::{Credentials, Identity, Role};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie's name.
pub const COOKIE: &str = "nb_console";

/// One logged-in clerk.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    /// The credential's token, forwarded to the services on every call.
    pub token: String,
    pub identity: Identity,
    /// Must come back with every POST.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

impl Session {
    /// The office the clerk works for.
    pub fn office(&self) -> &str {
        &self.identity.subject
    }
}

/// Why a login was refused (shown to the clerk in Chinese).
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("凭证无效或已吊销，请向管理员索取新的凭证")]
    Invalid,
    #[error("该凭证不是政务公开办凭证（{0}），控制台仅供政务公开办工作人员使用")]
    NotOffice(&'static str),
    #[error("凭证所属办公室 {0} 不在名录中")]
    UnknownOffice(String),
    #[error("凭证文件无法读取：{0}")]
    Credentials(String),
}

pub struct Sessions {
    path: PathBuf,
    credentials: Mutex<Option<std::sync::Arc<Credentials>>>,
    live: Mutex<HashMap<String, Session>>,
    idle: Duration,
    max: Duration,
}

/// 32 random bytes, hex.
pub fn random_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

impl Sessions {
    pub fn new(path: PathBuf, idle: Duration, max: Duration) -> Sessions {
        Sessions {
            path,
            credentials: Mutex::new(None),
            live: Mutex::new(HashMap::new()),
            idle,
            max,
        }
    }

    fn credentials(&self) -> Result<std::sync::Arc<Credentials>, LoginError> {
        let mut c = self
            .credentials
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = c.as_ref() {
            return Ok(c.clone());
        }
        let loaded = std::sync::Arc::new(
            Credentials::load(&self.path).map_err(|e| LoginError::Credentials(e.to_string()))?,
        );
        *c = Some(loaded.clone());
        Ok(loaded)
    }

    /// Checks `token` and opens a session for it: an office credential of an office the directory
    /// knows.
    pub fn login(
        &self,
        token: &str,
        directory: &nianbao_directory::Directory,
    ) -> Result<Session, LoginError> {
        let token = token.trim();
        let identity = self
            .credentials()?
            .verify_token(token)
            .ok_or(LoginError::Invalid)?;
        if identity.role != Role::Office {
            return Err(LoginError::NotOffice(identity.role.chinese()));
        }
        if directory.office(&identity.subject).is_none() {
            return Err(LoginError::UnknownOffice(identity.subject));
        }
        let now = Instant::now();
        let s = Session {
            id: random_id(),
            token: token.to_string(),
            identity,
            csrf: random_id(),
            created: now,
            last_seen: now,
        };
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        live.retain(|_, v| !self.expired(v, now));
        live.insert(s.id.clone(), s.clone());
        tracing::info!(clerk = %s.identity.describe(), "console login");
        Ok(s)
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) > self.idle || now.duration_since(s.created) > self.max
    }

    /// The live session of `id`, its idle clock restarted; `None` when unknown, expired or its
    /// credential no longer valid.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = live.get_mut(id)?;
        let still_valid = self
            .credentials()
            .ok()
            .and_then(|c| c.verify_token(&s.token))
            .is_some_and(|i| i == s.identity);
        if self.expired(s, now) || !still_valid {
            live.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    pub fn logout(&self, id: &str) {
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        live.remove(id);
    }
}

/// The session id in a `Cookie` header.
pub fn cookie_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value for a session (empty id: delete the cookie).
pub fn set_cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    if id.is_empty() {
        format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
    } else {
        format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}")
    }
}

/// Compares two tokens in constant time.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies() {
        let mut h = axum::http::HeaderMap::new();
        let id = random_id();
        h.insert(
            axum::http::header::COOKIE,
            format!("a=b; {COOKIE}={id}")
                .parse()
                .unwrap_or_else(|_| axum::http::HeaderValue::from_static("")),
        );
        assert_eq!(cookie_id(&h), Some(id.clone()));
        assert!(set_cookie(&id, true).contains("HttpOnly; SameSite=Strict; Secure"));
        assert!(!set_cookie(&id, false).contains("Secure"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("ab", "abc"));
    }
}
