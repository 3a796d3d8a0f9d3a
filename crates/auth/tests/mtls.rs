//! mTLS end to end: a real TLS server asking for client certificates, with the [`Authenticator`]
//! in front of a service, and real clients. A certificate an operator registered
//! (`nianbao credentials issue --cert`) is the caller's identity; one signed by the same CA but
//! not registered, or revoked, is UNAUTHENTICATED; no certificate at all fails the handshake.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_auth::credentials::{self, Request, Role};
use nianbao_auth::{Authenticator, ClientConfig, ServerTlsConfig};
use std::sync::Arc;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

struct Server {
    url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Health behind the authenticator (in the services health is open; here it stands for any
/// nianbao service), over TLS that requires a client certificate when `require` is set.
async fn serve(dir: &std::path::Path, creds: &std::path::Path, require: bool) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = ServerTlsConfig {
        cert: dir.join("server.pem"),
        key: dir.join("server-key.pem"),
        client_ca: dir.join("ca.pem"),
        require_client_cert: require,
        plaintext: false,
    }
    .server(addr)
    .unwrap()
    .expect("TLS configured");
    let auth = Authenticator::new(Arc::new(credentials::Credentials::load(creds).unwrap()));
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(async move {
        let _keep = reporter;
        tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(InterceptedService::new(health, auth))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Server {
        url: format!("https://127.0.0.1:{}", addr.port()),
        _stop: stop,
    }
}

async fn check(url: &str, client: &ClientConfig) -> Result<i32, String> {
    let channel = client
        .endpoint(url)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let mut health = HealthClient::new(channel);
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        health.check(HealthCheckRequest {
            service: String::new(),
        }),
    )
    .await
    .map_err(|_| "no answer".to_string())?;
    answer
        .map(|r| r.into_inner().status)
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
}

#[tokio::test]
async fn a_registered_client_certificate_is_the_callers_credential() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path();
    nianbao_auth::pki::write_local(pki, &["127.0.0.1".into()]).unwrap();
    let (agency_cert, agency_key) = nianbao_auth::pki::write_client(pki, "agency").unwrap();
    let (other_cert, other_key) = nianbao_auth::pki::write_client(pki, "stranger").unwrap();
    let creds = pki.join("credentials.toml");
    let issued = credentials::issue(
        &creds,
        &Request {
            role: Role::Agency,
            subject: "江州市自然资源局".into(),
            name: "江州市自然资源局".into(),
            cert_pem: Some(std::fs::read_to_string(&agency_cert).unwrap()),
        },
    )
    .unwrap();
    assert!(
        issued.token.is_none(),
        "a certificate credential has no token"
    );

    let server = serve(pki, &creds, true).await;
    let client = |cert: &std::path::Path, key: &std::path::Path| ClientConfig {
        ca: pki.join("ca.pem"),
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        ..Default::default()
    };

    let registered = check(&server.url, &client(&agency_cert, &agency_key)).await;
    assert_eq!(registered, Ok(ServingStatus::Serving as i32));

    let stranger = check(&server.url, &client(&other_cert, &other_key)).await;
    let e = stranger.expect_err("an unregistered certificate was accepted");
    assert!(e.starts_with("Unauthenticated"), "{e}");

    // Without any certificate the server refuses the handshake (require_client_cert).
    let anonymous = ClientConfig {
        ca: pki.join("ca.pem"),
        ..Default::default()
    };
    assert!(check(&server.url, &anonymous).await.is_err());

    // Revoked: the next call (the file is looked at again) is refused.
    credentials::revoke(&creds, &issued.record.id).unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let revoked = check(&server.url, &client(&agency_cert, &agency_key)).await;
    let e = revoked.expect_err("a revoked certificate was accepted");
    assert!(e.starts_with("Unauthenticated"), "{e}");
}
