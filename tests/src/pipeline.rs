//! The services in-process for a cross-service test ([`Pipeline`]), and the small pieces it is made
//! of: a private vhost, a bus configuration with short retries, a database of either engine, a
//! listener on port 0, a stop signal, waiting for a service to report SERVING.

use crate::{Broker, new_database, shared_postgres, unique_suffix};
use anyhow::{Context, Result, bail};
use nianbao_proto::v1::ingest_client::IngestClient;
use nianbao_proto::v1::notification_client::NotificationClient;
use nianbao_proto::v1::{GetReportRequest, Report, SubmitReportRequest};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

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

/// The shutdown signal a service of a [`Pipeline`] gets: resolves when the pipeline shuts down.
pub type StopSignal = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The directory of offices and agencies the bundled samples and generated reports are routed by.
pub fn sample_directory() -> PathBuf {
    crate::repo_root().join("deploy/directory/chujiang.toml")
}

/// Services of one pipeline under test, in-process: a private vhost on the harness's broker, a
/// folder for their data, one stop signal for all of them. A test picks which services run and how
/// ([`spawn`](Pipeline::spawn), or [`start`](Pipeline::start) for the three single-instance ones
/// with the test defaults); [`shutdown`](Pipeline::shutdown) stops them and fails if any of them
/// failed meanwhile, so an error of a service never hides behind a test that timed out or passed.
pub struct Pipeline {
    pub amqp: String,
    pub dir: PathBuf,
    /// Set by [`start`](Pipeline::start), or by the test from what [`spawn`](Pipeline::spawn) returns.
    pub ingest_url: String,
    pub notify_url: String,
    /// The `/metrics` and `/readyz` addresses of services that a test started with an endpoint.
    pub metrics: std::collections::BTreeMap<&'static str, std::net::SocketAddr>,
    stop: watch::Sender<bool>,
    services: Vec<(&'static str, JoinHandle<Result<(), String>>)>,
    /// Errors of services that ended before the shutdown, as they happen: a test waiting for its
    /// reports stops waiting and says which service failed and why.
    failed: Arc<Mutex<Vec<String>>>,
}

impl Pipeline {
    /// A pipeline without services yet: a new vhost on `broker`, a new folder named after `name`.
    pub async fn new(broker: &Broker, name: &str) -> Result<Pipeline> {
        crate::init_test_tracing();
        let amqp = broker.new_vhost_url()?;
        let dir = crate::e2e_tmp_dir()?.join(format!("{name}-{}", unique_suffix()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Pipeline {
            amqp,
            dir,
            ingest_url: String::new(),
            notify_url: String::new(),
            metrics: Default::default(),
            stop: watch::channel(false).0,
            services: Vec::new(),
            failed: Arc::default(),
        })
    }

    /// Ingest, validation and notification with their test configurations (`run`, as the
    /// binaries start them); extraction workers are the test's to add.
    pub async fn start(broker: &Broker, name: &str, db: Db) -> Result<Pipeline> {
        let mut p = Pipeline::new(broker, name).await?;
        p.start_ingest_and_validation(db).await?;
        let cfg = p.notification_config(db)?;
        p.notify_url = p
            .spawn("notification", |l, s| nianbao_notification::run(cfg, l, s))
            .await?;
        Ok(p)
    }

    /// Ingest (its URL in `ingest_url`) and validation, with their test configurations.
    pub async fn start_ingest_and_validation(&mut self, db: Db) -> Result<()> {
        let cfg = self.ingest_config(db)?;
        self.ingest_url = self
            .spawn("ingest", |l, s| nianbao_ingest::run(cfg, l, s))
            .await?;
        let cfg = self.validation_config(db)?;
        self.spawn("validation", |l, s| nianbao_validation::run(cfg, l, s))
            .await?;
        Ok(())
    }

    /// Starts a service on a new local port, with this pipeline's stop signal; returns the
    /// service's URL. `start` gets the listener and the signal and returns the service's future.
    pub async fn spawn<F, Fut, E>(&mut self, service: &'static str, start: F) -> Result<String>
    where
        F: FnOnce(tokio::net::TcpListener, StopSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let (l, url) = listener().await?;
        let run = start(l, Box::pin(stop_on(&self.stop.subscribe())));
        let failed = self.failed.clone();
        let handle = tokio::spawn(async move {
            let result = run.await.map_err(|e| format!("{e:#}"));
            if let Err(e) = &result
                && let Ok(mut failed) = failed.lock()
            {
                failed.push(format!("{service} failed: {e}"));
            }
            result
        });
        self.services.push((service, handle));
        Ok(url)
    }

    /// The defaults, a database of engine `db` in this pipeline, short retries.
    pub fn ingest_config(&self, db: Db) -> Result<nianbao_ingest::Config> {
        Ok(nianbao_ingest::Config {
            data_dir: self.dir.join("ingest"),
            database_url: db_url(db, &self.dir, "ingest")?,
            bus: fast_bus(&self.amqp),
            ..Default::default()
        })
    }

    pub fn validation_config(&self, db: Db) -> Result<nianbao_validation::Config> {
        Ok(nianbao_validation::Config {
            data_dir: self.dir.join("validation"),
            database_url: db_url(db, &self.dir, "validation")?,
            bus: fast_bus(&self.amqp),
            ..Default::default()
        })
    }

    /// Routed by [`sample_directory`].
    pub fn notification_config(&self, db: Db) -> Result<nianbao_notification::Config> {
        Ok(nianbao_notification::Config {
            data_dir: self.dir.join("notification"),
            database_url: db_url(db, &self.dir, "notification")?,
            directory: sample_directory().display().to_string(),
            bus: fast_bus(&self.amqp),
            ..Default::default()
        })
    }

    /// A worker fetching from `ingest_url` with `prefetch` deliveries in flight.
    pub fn extraction_config(&self, ingest_url: &str, prefetch: u16) -> nianbao_extraction::Config {
        let mut bus = fast_bus(&self.amqp);
        bus.prefetch = prefetch;
        nianbao_extraction::Config {
            ingest_url: ingest_url.to_string(),
            bus,
            ..Default::default()
        }
    }

    /// An error naming each service that has failed so far.
    pub fn check_services(&self) -> Result<()> {
        let failed = self.failed.lock().map(|f| f.join("; ")).unwrap_or_default();
        if !failed.is_empty() {
            bail!("{failed}");
        }
        Ok(())
    }

    /// A client of ingest, once it serves (large messages allowed, as the CLI's).
    pub async fn ingest(&self) -> Result<IngestClient<Channel>> {
        self.check_services()?;
        let channel = wait_serving(&self.ingest_url, "", Duration::from_secs(10)).await?;
        Ok(IngestClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20))
    }

    pub async fn notification(&self) -> Result<NotificationClient<Channel>> {
        self.check_services()?;
        let channel = wait_serving(&self.notify_url, "", Duration::from_secs(10)).await?;
        Ok(NotificationClient::new(channel).max_decoding_message_size(64 << 20))
    }

    /// Submits `(file name, bytes)` pairs one after another; returns their report ids.
    pub async fn submit(&self, reports: &[(String, Vec<u8>)]) -> Result<Vec<String>> {
        let mut c = self.ingest().await?;
        let mut ids = Vec::new();
        for (name, bytes) in reports {
            let r = c
                .submit_report(SubmitReportRequest {
                    content: bytes.clone(),
                    file_name: name.clone(),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("submitting {name}"))?;
            ids.push(r.into_inner().report_id);
        }
        Ok(ids)
    }

    /// The reports `ids`, as ingest has them now.
    pub async fn reports(&self, ids: &[String]) -> Result<Vec<Report>> {
        get_reports(&mut self.ingest().await?, ids).await
    }

    /// Polls ingest until every report of `ids` has one of `statuses`; returns them in the order
    /// of `ids`, or an error with the count per status after `timeout`.
    pub async fn wait_status(
        &self,
        ids: &[String],
        statuses: &[&str],
        timeout: Duration,
    ) -> Result<Vec<Report>> {
        let start = Instant::now();
        let mut c = self.ingest().await?;
        loop {
            self.check_services()?;
            let reports = get_reports(&mut c, ids).await?;
            if reports
                .iter()
                .all(|r| statuses.contains(&r.status.as_str()))
            {
                return Ok(reports);
            }
            if start.elapsed() >= timeout {
                let mut by_status = std::collections::BTreeMap::<&str, usize>::new();
                for r in &reports {
                    *by_status.entry(r.status.as_str()).or_default() += 1;
                }
                bail!("after {timeout:?}, not all reports are {statuses:?}: {by_status:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops every service, waits for each (20 s at most) and removes the folder. An error if a
    /// service had failed, panicked or did not stop.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        let mut failures = Vec::new();
        for (service, handle) in self.services {
            match tokio::time::timeout(Duration::from_secs(20), handle).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => failures.push(format!("{service} failed: {e}")),
                Ok(Err(e)) => failures.push(format!("{service} panicked: {e}")),
                Err(_) => failures.push(format!("{service} did not stop within 20 s")),
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if !failures.is_empty() {
            bail!("{}", failures.join("; "));
        }
        Ok(())
    }
}

/// Each report of `ids` through one client, in order.
async fn get_reports(c: &mut IngestClient<Channel>, ids: &[String]) -> Result<Vec<Report>> {
    let mut out = Vec::new();
    for id in ids {
        let r = c
            .get_report(GetReportRequest {
                report_id: id.clone(),
            })
            .await
            .with_context(|| format!("GetReport {id}"))?;
        out.push(r.into_inner());
    }
    Ok(out)
}
