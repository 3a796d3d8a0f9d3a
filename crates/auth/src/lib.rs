//! Who is calling, and over what.
//!
//! A province runs nianbao on a shared network: a port anyone reaches must not accept a report as
//! any agency, hand out raw reports or let one office acknowledge another's alerts. This crate
//! holds what every service and client needs for that, so that each service states only *what* a
//! caller may do:
//!
//! - [`credentials`]: the credentials an operator issues (`nianbao credentials issue`), stored as
//!   hashes in one file every service reads, and the [`Identity`] each one stands for.
//! - [`grpc`]: the server-side interceptor that turns a request's bearer token (or client
//!   certificate) into an [`Identity`] in the request's extensions, the helpers handlers use to
//!   demand a role, and the client-side interceptor that sends a token.
//! - [`tls`]: server and client TLS from PEM files named in configuration, and the rule that
//!   cleartext is allowed only on a loopback address, by an explicit setting.
//! - [`pki`]: a local certificate authority for a developer's machine and for tests.

pub mod credentials;
pub mod grpc;
pub mod pki;
pub mod tls;

pub use credentials::{Credentials, Identity, Role};
pub use grpc::{AuthChannel, AuthConfig, Authenticator, Bearer};
pub use tls::{ClientConfig, ServerTlsConfig};

/// The settings of a server that talks cleartext and accepts calls without credentials, `(tls,
/// auth)`: both are refused at startup anywhere but on a loopback address, so this serves
/// single-service tests and experiments on one machine only.
pub fn loopback_insecure() -> (ServerTlsConfig, AuthConfig) {
    (
        ServerTlsConfig {
            plaintext: true,
            ..Default::default()
        },
        AuthConfig {
            disabled: true,
            ..Default::default()
        },
    )
}

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AuthError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the credentials file {path} is not valid: {reason}")]
    CredentialsFile { path: PathBuf, reason: String },
    #[error("invalid credential: {0}")]
    Invalid(String),
    #[error("no credential with id {0}")]
    UnknownCredential(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error(
        "refusing cleartext gRPC on {addr}: configure [tls] cert and key, or set [tls] plaintext = true \
         (allowed only on a loopback address such as 127.0.0.1)"
    )]
    PlaintextRefused { addr: String },
    #[error(
        "no credentials file: set [auth] credentials to the file `nianbao credentials issue` writes, \
         or [auth] disabled = true (allowed only on a loopback address such as 127.0.0.1)"
    )]
    NoCredentials,
    #[error("[auth] disabled = true is allowed only on a loopback address, not on {addr}")]
    DisabledOffLoopback { addr: String },
    #[error("certificate generation: {0}")]
    Pki(String),
}
