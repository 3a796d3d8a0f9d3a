//! Small pieces every in-process pipeline test needs: a private vhost, a bus configuration with
//! short retries, a database of either engine, a listener on port 0, a stop signal, waiting for a
//! service to report SERVING.

use crate::{Broker, new_database, shared_postgres, unique_suffix};
use anyhow::{Context, Result};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::watch;

impl Broker {
    /// A private vhost on this broker (guest may use it), so that tests running side by side never
    /// see each other's events (queue names are fixed by the design). Returns its AMQP URL.
    pub fn new_vhost_url(&self) -> Result<String> {
        let vhost = format!("t{}", unique_suffix());
        self.rabbitmqctl(&["-q", "add_vhost", &vhost])?;
        self.rabbitmqctl(&[
            "-q",
            "set_permissions",
            "-p",
            &vhost,
            "guest",
            ".*",
            ".*",
            ".*",
        ])?;
        let base = self
            .amqp_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .context("broker URL without a vhost")?;
        Ok(format!("{base}/{vhost}"))
    }
}

/// The bus settings of the tests: the defaults with short retry delays and three attempts, so that
/// a parked message takes a second, not minutes.
pub fn fast_bus(url: &str) -> nianbao_bus::BusConfig {
    nianbao_bus::BusConfig {
        url: url.to_string(),
        retry_delays_ms: vec![200, 500],
        max_attempts: 3,
        ..Default::default()
    }
}

/// Which database engine a service of the test uses.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A fresh database of engine `db`: a SQLite file under `dir`, or a new database on the shared
/// PostgreSQL cluster.
pub fn db_url(db: Db, dir: &Path, name: &str) -> Result<String> {
    match db {
        Db::Sqlite => Ok(format!("sqlite://{}/{name}.sqlite?mode=rwc", dir.display())),
        Db::Postgres => new_database(shared_postgres(), name),
    }
}

/// A listener on a free local port, and its `http://` URL for gRPC clients.
pub async fn listener() -> Result<(tokio::net::TcpListener, String)> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", l.local_addr()?);
    Ok((l, url))
}

/// A future that resolves once `rx` turns true: the shutdown signal handed to each service.
pub fn stop_on(
    rx: &watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// Connects to the gRPC server at `url` and waits until its health service reports `service`
/// (`""`: the whole server) SERVING, retrying the connection and the check every 100 ms; an error
/// after `within`. Returns the channel, for the service's own client.
pub async fn wait_serving(
    url: &str,
    service: &str,
    within: Duration,
) -> Result<tonic::transport::Channel> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(5));
    let deadline = Instant::now() + within;
    loop {
        if let Ok(channel) = endpoint.connect().await {
            let serving = HealthClient::new(channel.clone())
                .check(HealthCheckRequest {
                    service: service.to_string(),
                })
                .await
                .is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32);
            if serving {
                return Ok(channel);
            }
        }
        if Instant::now() >= deadline {
            anyhow::bail!("{url} ({service:?}) never became SERVING within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
