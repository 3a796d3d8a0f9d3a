//! TLS for every gRPC server and client, from PEM files named in configuration.
//!
//! Cleartext is a developer's convenience, never a default: a server without a certificate starts
//! only with `plaintext = true` on a loopback address, and a client speaks `http://` only to a
//! loopback host. Everything else is `https://` (rustls, aws-lc-rs), optionally with client
//! certificates (mTLS) against a CA the operator names.

use crate::AuthError;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

fn read(path: &Path) -> Result<Vec<u8>, AuthError> {
    std::fs::read(path).map_err(|source| AuthError::Read {
        path: path.into(),
        source,
    })
}

fn is_set(p: &Path) -> bool {
    !p.as_os_str().is_empty()
}

/// The DER of the first certificate of a PEM text.
pub fn first_cert_der(pem: &[u8]) -> Result<Vec<u8>, AuthError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    match CertificateDer::pem_slice_iter(pem).next() {
        Some(Ok(der)) => Ok(der.to_vec()),
        Some(Err(e)) => Err(AuthError::Tls(format!("not a PEM certificate: {e}"))),
        None => Err(AuthError::Tls("no CERTIFICATE in the PEM file".into())),
    }
}

/// A gRPC server's `[tls]` table.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerTlsConfig {
    /// PEM certificate chain of this server.
    pub cert: PathBuf,
    /// PEM private key of `cert`.
    pub key: PathBuf,
    /// PEM CA certificate(s) whose client certificates are accepted (mTLS); empty: none asked.
    pub client_ca: PathBuf,
    /// With `client_ca`: a client without a valid certificate is refused at the handshake.
    pub require_client_cert: bool,
    /// Serve cleartext gRPC when no certificate is configured: loopback addresses only.
    pub plaintext: bool,
}

impl ServerTlsConfig {
    /// The tonic TLS settings for a server listening on `addr`: `None` for cleartext, which is
    /// allowed only on a loopback address with `plaintext = true`.
    pub fn server(
        &self,
        addr: SocketAddr,
    ) -> Result<Option<tonic::transport::ServerTlsConfig>, AuthError> {
        if !is_set(&self.cert) && !is_set(&self.key) {
            if self.plaintext && addr.ip().is_loopback() {
                tracing::warn!(%addr, "serving cleartext gRPC on a loopback address ([tls] plaintext = true)");
                return Ok(None);
            }
            return Err(AuthError::PlaintextRefused {
                addr: addr.to_string(),
            });
        }
        if !is_set(&self.cert) || !is_set(&self.key) {
            return Err(AuthError::Tls(
                "[tls] needs both cert and key (PEM files)".into(),
            ));
        }
        let cert = read(&self.cert)?;
        let key = read(&self.key)?;
        first_cert_der(&cert)?;
        let mut tls = tonic::transport::ServerTlsConfig::new()
            .identity(Identity::from_pem(cert, key))
            .timeout(Duration::from_secs(10));
        if is_set(&self.client_ca) {
            let ca = read(&self.client_ca)?;
            first_cert_der(&ca)?;
            tls = tls
                .client_ca_root(Certificate::from_pem(ca))
                .client_auth_optional(!self.require_client_cert);
        } else if self.require_client_cert {
            return Err(AuthError::Tls(
                "[tls] require_client_cert needs client_ca".into(),
            ));
        }
        Ok(Some(tls))
    }
}

/// How a client reaches a nianbao service: TLS roots, an optional client certificate, and the
/// credential's token (inline or in a file; never printed by `Debug`).
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// PEM CA certificate(s) that signed the server's certificate; empty: the public web roots.
    pub ca: PathBuf,
    /// PEM client certificate and key, for servers that ask for one (mTLS).
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The credential's token (`nbt_…`); prefer `token_file` outside tests.
    pub token: String,
    /// A file holding the token (a mounted Secret).
    pub token_file: PathBuf,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("token", &if self.token.is_empty() { "" } else { "***" })
            .field("token_file", &self.token_file)
            .finish()
    }
}

fn host_is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl ClientConfig {
    /// The token to send: `token`, else the content of `token_file`, else none.
    pub fn token(&self) -> Result<Option<String>, AuthError> {
        if !self.token.trim().is_empty() {
            return Ok(Some(self.token.trim().to_string()));
        }
        if is_set(&self.token_file) {
            let t =
                std::fs::read_to_string(&self.token_file).map_err(|source| AuthError::Read {
                    path: self.token_file.clone(),
                    source,
                })?;
            let t = t.trim();
            if t.is_empty() {
                return Err(AuthError::Invalid(format!(
                    "{} holds no token",
                    self.token_file.display()
                )));
            }
            return Ok(Some(t.to_string()));
        }
        Ok(None)
    }

    /// An endpoint for `url`: `https://` with this TLS configuration, `http://` only to a
    /// loopback host.
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, AuthError> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| AuthError::Tls(format!("invalid endpoint {url:?}: {e}")))?;
        let uri = endpoint.uri().clone();
        match uri.scheme_str() {
            Some("https") => {
                let mut tls = ClientTlsConfig::new();
                if let Some(host) = uri.host() {
                    tls = tls.domain_name(host.trim_start_matches('[').trim_end_matches(']'));
                }
                if is_set(&self.ca) {
                    let ca = read(&self.ca)?;
                    first_cert_der(&ca)?;
                    tls = tls.ca_certificate(Certificate::from_pem(ca));
                } else {
                    tls = tls.with_webpki_roots();
                }
                if is_set(&self.cert) || is_set(&self.key) {
                    if !is_set(&self.cert) || !is_set(&self.key) {
                        return Err(AuthError::Tls(
                            "a client certificate needs both cert and key".into(),
                        ));
                    }
                    tls = tls.identity(Identity::from_pem(read(&self.cert)?, read(&self.key)?));
                }
                endpoint
                    .tls_config(tls)
                    .map_err(|e| AuthError::Tls(format!("{url}: {e}")))
            }
            Some("http") if uri.host().is_some_and(host_is_loopback) => Ok(endpoint),
            Some("http") => Err(AuthError::Tls(format!(
                "refusing cleartext to {url}: use https:// (cleartext only to a loopback host)"
            ))),
            _ => Err(AuthError::Tls(format!(
                "endpoint {url:?} must start with https:// (or http:// to a loopback host)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cleartext_only_on_loopback_and_only_when_asked() {
        let plain = ServerTlsConfig {
            plaintext: true,
            ..Default::default()
        };
        assert!(plain.server(addr("127.0.0.1:1")).unwrap().is_none());
        assert!(plain.server(addr("[::1]:1")).unwrap().is_none());
        assert!(matches!(
            plain.server(addr("0.0.0.0:1")),
            Err(AuthError::PlaintextRefused { .. })
        ));
        assert!(matches!(
            ServerTlsConfig::default().server(addr("127.0.0.1:1")),
            Err(AuthError::PlaintextRefused { .. })
        ));
        let half = ServerTlsConfig {
            cert: "c.pem".into(),
            ..Default::default()
        };
        assert!(half.server(addr("127.0.0.1:1")).is_err());
    }

    #[test]
    fn clients_speak_cleartext_only_to_loopback() {
        let c = ClientConfig::default();
        assert!(c.endpoint("http://127.0.0.1:50051").is_ok());
        assert!(c.endpoint("http://localhost:50051").is_ok());
        assert!(c.endpoint("http://[::1]:50051").is_ok());
        let e = c.endpoint("http://10.1.2.3:50051").unwrap_err().to_string();
        assert!(e.contains("https://"), "{e}");
        assert!(c.endpoint("ftp://x").is_err());
        assert!(c.endpoint("https://ingest.example:443").is_ok());
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let c = ClientConfig {
            token: "nbt_secret".into(),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("nbt_secret"));
        assert_eq!(c.token().unwrap().as_deref(), Some("nbt_secret"));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t");
        std::fs::write(&f, "nbt_fromfile\n").unwrap();
        let c = ClientConfig {
            token_file: f,
            ..Default::default()
        };
        assert_eq!(c.token().unwrap().as_deref(), Some("nbt_fromfile"));
    }
}
