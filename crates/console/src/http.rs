//! The console's listener: HTTPS with the configured certificate (rustls), or plain HTTP on a
//! loopback address when `[tls] plaintext = true`, like the gRPC services.

use crate::ConsoleError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The rustls configuration of the listener, `None` for plain HTTP (loopback and asked for only).
pub fn server_tls(
    cfg: &nianbao_auth::ServerTlsConfig,
    addr: SocketAddr,
) -> Result<Option<Arc<rustls::ServerConfig>>, ConsoleError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let set = |p: &std::path::Path| !p.as_os_str().is_empty();
    if !set(&cfg.cert) && !set(&cfg.key) {
        if cfg.plaintext && addr.ip().is_loopback() {
            tracing::warn!(%addr, "serving plain HTTP on a loopback address ([tls] plaintext = true)");
            return Ok(None);
        }
        return Err(nianbao_auth::AuthError::PlaintextRefused {
            addr: addr.to_string(),
        }
        .into());
    }
    if !set(&cfg.cert) || !set(&cfg.key) {
        return Err(ConsoleError::Tls(
            "[tls] needs both cert and key (PEM files)".into(),
        ));
    }
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| ConsoleError::Tls(format!("{}: {e}", p.display())))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(&cfg.cert)?)
        .collect::<Result<_, _>>()
        .map_err(|e| ConsoleError::Tls(format!("{}: {e}", cfg.cert.display())))?;
    if certs.is_empty() {
        return Err(ConsoleError::Tls(format!(
            "{}: no certificate",
            cfg.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&cfg.key)?)
        .map_err(|e| ConsoleError::Tls(format!("{}: {e}", cfg.key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConsoleError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ConsoleError::Tls(e.to_string()))?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Arc::new(tls)))
}

/// Accepts connections until `shutdown`, each served by `router` (over TLS when `tls` is set);
/// then waits up to 10 s for the connections in progress.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: axum::Router,
    shutdown: nianbao_service::Shutdown,
) -> Result<(), ConsoleError> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.wait() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let acceptor = acceptor.clone();
        let stopped = shutdown.waiter();
        tasks.spawn(async move {
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    let mut router = router.clone();
                    async move {
                        use tower::Service as _;
                        router.call(req.map(axum::body::Body::new)).await
                    }
                },
            );
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let result = match acceptor {
                Some(acceptor) => {
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                            .await
                    else {
                        return;
                    };
                    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(tls), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        r = conn.as_mut() => r,
                        () = stopped => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    }
                }
                None => {
                    let conn =
                        builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        r = conn.as_mut() => r,
                        () = stopped => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}
