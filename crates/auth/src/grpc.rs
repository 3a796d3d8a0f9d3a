//! Identity on every gRPC call.
//!
//! Servers wrap each nianbao service (not health or reflection, which probes and `grpcurl list`
//! need without a credential) in an [`Authenticator`]: a call carrying a valid bearer token, or
//! made over mTLS with a certificate an operator registered, gets the [`Identity`] in its
//! extensions; any other call is refused with UNAUTHENTICATED before it reaches the service.
//! Handlers then ask [`caller`] who it is and decide with [`require`] and their own jurisdiction
//! rules; nothing a request body says about its sender is trusted.
//!
//! Clients wrap their channel in a [`Bearer`] that adds the token to every call.

use crate::credentials::{Credentials, Identity, Role};
use std::sync::Arc;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// A client channel that sends a credential with every call.
pub type AuthChannel = InterceptedService<Channel, Bearer>;

#[derive(Clone)]
enum Mode {
    Credentials(Arc<Credentials>),
    /// `[auth] disabled` (loopback only): every call is [`Role::Local`].
    Disabled,
}

/// The server-side interceptor: see the module documentation.
#[derive(Clone)]
pub struct Authenticator {
    mode: Mode,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.mode {
            Mode::Credentials(_) => "Authenticator(credentials)",
            Mode::Disabled => "Authenticator(disabled)",
        })
    }
}

/// A service's `[auth]` table.
#[derive(Clone, Debug, Default, serde::Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The credentials file (`nianbao credentials issue` writes it).
    pub credentials: std::path::PathBuf,
    /// Accept calls without credentials (each as [`Role::Local`]): loopback addresses only.
    pub disabled: bool,
}

impl AuthConfig {
    /// The authenticator for a server listening on `addr`.
    pub fn authenticator(
        &self,
        addr: std::net::SocketAddr,
    ) -> Result<Authenticator, crate::AuthError> {
        if self.disabled {
            if !addr.ip().is_loopback() {
                return Err(crate::AuthError::DisabledOffLoopback {
                    addr: addr.to_string(),
                });
            }
            tracing::warn!(%addr, "authentication disabled: every caller may do anything ([auth] disabled = true, loopback only)");
            return Ok(Authenticator::disabled());
        }
        if self.credentials.as_os_str().is_empty() {
            return Err(crate::AuthError::NoCredentials);
        }
        Ok(Authenticator::new(Arc::new(Credentials::load(
            &self.credentials,
        )?)))
    }
}

impl Authenticator {
    pub fn new(credentials: Arc<Credentials>) -> Authenticator {
        Authenticator {
            mode: Mode::Credentials(credentials),
        }
    }

    pub fn disabled() -> Authenticator {
        Authenticator {
            mode: Mode::Disabled,
        }
    }

    fn identify<T>(&self, req: &Request<T>) -> Option<Identity> {
        let creds = match &self.mode {
            Mode::Disabled => return Some(Identity::local()),
            Mode::Credentials(c) => c,
        };
        if let Some(token) = bearer_token(req) {
            return creds.verify_token(token);
        }
        let certs = req.peer_certs()?;
        creds.verify_cert(certs.first()?.as_ref())
    }
}

fn bearer_token<T>(req: &Request<T>) -> Option<&str> {
    let value = req.metadata().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl Interceptor for Authenticator {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        match self.identify(&req) {
            Some(identity) => {
                req.extensions_mut().insert(identity);
                Ok(req)
            }
            None => {
                tracing::info!(peer = ?req.remote_addr(), presented_token = bearer_token(&req).is_some(), "refused a call without valid credentials");
                Err(unauthenticated())
            }
        }
    }
}

pub fn unauthenticated() -> Status {
    Status::unauthenticated(
        "未提供有效的身份凭据，请向运维人员申请凭据 / missing or invalid credentials: ask an operator for one (nianbao credentials issue)",
    )
}

/// PERMISSION_DENIED with the Chinese reason first, then the English.
pub fn denied(zh: &str, en: &str) -> Status {
    Status::permission_denied(format!("无权操作：{zh} / permission denied: {en}"))
}

/// The caller of a request that went through an [`Authenticator`].
pub fn caller<T>(req: &Request<T>) -> Result<Identity, Status> {
    req.extensions()
        .get::<Identity>()
        .cloned()
        .ok_or_else(unauthenticated)
}

/// The caller, if its role is one of `roles`; else PERMISSION_DENIED naming what was asked.
pub fn require<T>(req: &Request<T>, roles: &[Role], what: &str) -> Result<Identity, Status> {
    let id = caller(req)?;
    if roles.contains(&id.role) || id.role == Role::Local {
        return Ok(id);
    }
    let allowed = roles
        .iter()
        .map(|r| r.chinese())
        .collect::<Vec<_>>()
        .join("、");
    let allowed_en = roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Err(denied(
        &format!("{what} 仅限{allowed}（当前身份：{}）", id.role.chinese()),
        &format!("{what} is for {allowed_en} only (caller: {})", id.role),
    ))
}

/// The client-side interceptor: adds `authorization: Bearer <token>` to every call (nothing when
/// there is no token, for servers with authentication disabled or mTLS credentials).
#[derive(Clone, Default)]
pub struct Bearer {
    header: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.header.is_some() {
            "Bearer(***)"
        } else {
            "Bearer(none)"
        })
    }
}

impl Bearer {
    pub fn new(token: Option<&str>) -> Result<Bearer, crate::AuthError> {
        let header = match token {
            None => None,
            Some(t) => Some(
                format!("Bearer {}", t.trim())
                    .parse::<MetadataValue<tonic::metadata::Ascii>>()
                    .map_err(|_| {
                        crate::AuthError::Invalid(
                            "the token holds characters a header cannot".into(),
                        )
                    })?,
            ),
        };
        Ok(Bearer { header })
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(h) = &self.header {
            req.metadata_mut().insert("authorization", h.clone());
        }
        Ok(req)
    }
}

/// A lazily connecting channel to `url` as `cfg` says, with its token: what every nianbao client
/// (the CLI, extraction workers, tests) talks through.
pub fn connect_lazy(
    url: &str,
    cfg: &crate::ClientConfig,
    connect_timeout: std::time::Duration,
    timeout: std::time::Duration,
) -> Result<AuthChannel, crate::AuthError> {
    let endpoint = cfg
        .endpoint(url)?
        .connect_timeout(connect_timeout)
        .timeout(timeout);
    let bearer = Bearer::new(cfg.token()?.as_deref())?;
    Ok(InterceptedService::new(endpoint.connect_lazy(), bearer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Record;

    fn creds() -> (Arc<Credentials>, String) {
        let token = "nbt_test-token";
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
        let c = Credentials::from_records(&[Record {
            id: "k-1".into(),
            role: Role::Office,
            subject: "390102".into(),
            name: "张三".into(),
            token_sha256: hash,
            cert_sha256: String::new(),
            issued_at_ms: 0,
            revoked_at_ms: 0,
        }]);
        (Arc::new(c), token.into())
    }

    #[test]
    fn a_valid_token_becomes_the_callers_identity() {
        let (c, token) = creds();
        let mut auth = Authenticator::new(c);
        let mut bearer = Bearer::new(Some(&token)).unwrap();
        let req = bearer.call(Request::new(())).unwrap();
        let req = auth.call(req).unwrap();
        let id = caller(&req).unwrap();
        assert_eq!(id.office(), Some("390102"));
        assert!(require(&req, &[Role::Office], "ListAlerts").is_ok());
        let err = require(&req, &[Role::Operator], "ListChannels").unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(err.message().contains("无权操作"), "{}", err.message());
        assert!(err.message().contains("permission denied"));
    }

    #[test]
    fn missing_wrong_and_malformed_tokens_are_unauthenticated() {
        let (c, _) = creds();
        let mut auth = Authenticator::new(c);
        let err = auth.call(Request::new(())).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        let mut forged = Bearer::new(Some("nbt_forged")).unwrap();
        let err = auth
            .call(forged.call(Request::new(())).unwrap())
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        let mut req = Request::new(());
        req.metadata_mut()
            .insert("authorization", "Basic abc".parse().unwrap());
        assert!(auth.call(req).is_err());
        assert!(caller(&Request::new(())).is_err());
    }

    #[test]
    fn disabled_authentication_is_an_operator_and_only_on_loopback() {
        let cfg = AuthConfig {
            disabled: true,
            ..Default::default()
        };
        let mut auth = cfg.authenticator("127.0.0.1:1".parse().unwrap()).unwrap();
        let req = auth.call(Request::new(())).unwrap();
        assert_eq!(caller(&req).unwrap().role, Role::Local);
        assert!(require(&req, &[Role::Extraction], "FetchReport").is_ok());
        assert!(cfg.authenticator("0.0.0.0:1".parse().unwrap()).is_err());
        assert!(matches!(
            AuthConfig::default().authenticator("127.0.0.1:1".parse().unwrap()),
            Err(crate::AuthError::NoCredentials)
        ));
    }
}
