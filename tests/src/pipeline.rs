//! The services in-process for a cross-service test ([`Pipeline`]), and the small pieces it is made
//! of: a private vhost, a bus configuration with short retries, a database of either engine, a
//! listener on port 0, a stop signal, waiting for a service to report SERVING.

use crate::{Broker, new_database, shared_postgres, unique_suffix};
use anyhow::{Context, Result, bail};
use nianbao_auth::{AuthChannel, Role};
use nianbao_proto::v1::ingest_client::IngestClient;
use nianbao_proto::v1::notification_client::NotificationClient;
use nianbao_proto::v1::{GetReportRequest, Report, SubmitReportRequest};
use nianbao_service::Shutdown;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

impl Broker {
    /// A private vhost on this broker (guest may use it), so that tests running side by side never
    /// see each other's events (queue names are fixed by the design). Returns its AMQP URL.
    pub fn new_vhost_url(&self) -> Result<String> {
        Ok(self.new_vhost(false)?.amqp)
    }

    /// A private vhost, and with `users` one broker user per service limited to what that service
    /// may do there (`nianbao_bus::grants`, users named `nianbao-<service>-<vhost>`), all made by
    /// one `rabbitmqctl import_definitions`: the way `deploy/local/run.sh` and a deployment set
    /// the broker up.
    pub fn new_vhost(&self, users: bool) -> Result<Vhost> {
        let name = format!("t{}", unique_suffix());
        let service_users: Vec<nianbao_bus::grants::ServiceUser> = if users {
            nianbao_bus::grants::service_names()
                .into_iter()
                .map(|service| nianbao_bus::grants::ServiceUser {
                    service: service.to_string(),
                    user: format!("{}-{name}", nianbao_bus::grants::user_name(service)),
                    password: format!("{}{}", unique_suffix(), unique_suffix()),
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut doc = nianbao_bus::grants::definitions(
            &nianbao_bus::BusConfig::default(),
            &name,
            &service_users,
        );
        if let Some(perms) = doc["permissions"].as_array_mut() {
            perms.push(serde_json::json!({
                "user": "guest", "vhost": name, "configure": ".*", "write": ".*", "read": ".*",
            }));
        }
        let file = self.dir().join(format!("definitions-{name}.json"));
        std::fs::write(&file, doc.to_string())
            .with_context(|| format!("writing {}", file.display()))?;
        let imported = self.rabbitmqctl(&["-q", "import_definitions", &file.display().to_string()]);
        let _ = std::fs::remove_file(&file);
        imported?;
        let base = self
            .amqp_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .context("broker URL without a vhost")?;
        let tls_base = self
            .amqps_url
            .rsplit_once('@')
            .and_then(|(_, host)| host.rsplit_once('/'))
            .map(|(host, _)| host)
            .context("broker AMQPS URL without a host")?;
        let services = service_users
            .into_iter()
            .map(|u| {
                let url = format!("amqps://{}:{}@{tls_base}/{name}", u.user, u.password);
                (u.service, url)
            })
            .collect();
        Ok(Vhost {
            amqp: format!("{base}/{name}"),
            name,
            services,
            ca_file: self.ca_file(),
            base: fast_bus(""),
        })
    }
}

/// A vhost of [`Broker::new_vhost`].
pub struct Vhost {
    pub name: String,
    /// As guest, over cleartext: may do anything (tests' own checks, topology setup).
    pub amqp: String,
    /// Each service's own `amqps://` URL (user and password in it), by service name.
    pub services: std::collections::BTreeMap<String, String>,
    /// The CA of the broker's TLS certificate.
    pub ca_file: PathBuf,
    /// The settings every service's bus starts from ([`fast_bus`] unless a test changes them).
    pub base: nianbao_bus::BusConfig,
}

impl Vhost {
    /// The test bus settings for `service`: over TLS as its own user, declaring nothing (the
    /// topology is set up by [`Pipeline::new`]); guest's when the vhost has no service users.
    pub fn service_bus(&self, service: &str) -> nianbao_bus::BusConfig {
        match self.services.get(service) {
            Some(url) => nianbao_bus::BusConfig {
                url: url.clone(),
                ca_file: self.ca_file.display().to_string(),
                declare_topology: false,
                ..self.base.clone()
            },
            None => nianbao_bus::BusConfig {
                url: self.amqp.clone(),
                ..self.base.clone()
            },
        }
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

/// Every alert notification holds, page by page, by report id.
pub async fn alerts_by_report(
    n: &mut NotificationClient<AuthChannel>,
) -> Result<std::collections::BTreeMap<String, Vec<nianbao_proto::v1::Alert>>> {
    let mut out: std::collections::BTreeMap<String, Vec<nianbao_proto::v1::Alert>> =
        std::collections::BTreeMap::new();
    let mut offset = 0;
    loop {
        let page = n
            .list_alerts(nianbao_proto::v1::ListAlertsRequest {
                limit: 1000,
                offset,
                ..Default::default()
            })
            .await?
            .into_inner();
        let got = u32::try_from(page.alerts.len())?;
        for a in page.alerts {
            out.entry(a.report_id.clone()).or_default().push(a);
        }
        offset += got;
        if got == 0 || u64::from(offset) >= page.total {
            return Ok(out);
        }
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
    wait_serving_with(url, service, within, &nianbao_auth::ClientConfig::default()).await
}

/// [`wait_serving`] over TLS as `tls` says (its token is not used: health needs none).
pub async fn wait_serving_with(
    url: &str,
    service: &str,
    within: Duration,
    tls: &nianbao_auth::ClientConfig,
) -> Result<tonic::transport::Channel> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let endpoint = tls.endpoint(url)?.connect_timeout(Duration::from_secs(5));
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

/// What a [`Pipeline`]'s services trust: a CA made for the test, a server certificate for
/// 127.0.0.1, and a credentials file with an operator's and the extraction workers' tokens. The
/// services of a pipeline speak TLS and check every caller, as in a deployment.
#[derive(Debug, Clone)]
pub struct Security {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub credentials: PathBuf,
    /// An operator's token (the pipeline's own clients use it).
    pub operator: String,
    /// The extraction workers' token (FetchReport).
    pub extraction: String,
}

impl Security {
    pub fn new(dir: &Path) -> Result<Security> {
        let files = nianbao_auth::pki::write_local(&dir.join("pki"), &["127.0.0.1".to_string()])?;
        let credentials = dir.join("credentials.toml");
        let mut s = Security {
            ca: files.ca,
            cert: files.server_cert,
            key: files.server_key,
            credentials,
            operator: String::new(),
            extraction: String::new(),
        };
        s.operator = s.issue(Role::Operator, "", "测试运维")?;
        s.extraction = s.issue(Role::Extraction, "", "extraction")?;
        Ok(s)
    }

    /// A new token for `role` (`subject`: the agency or office id), added to the credentials file.
    pub fn issue(&self, role: Role, subject: &str, name: &str) -> Result<String> {
        let issued = nianbao_auth::credentials::issue(
            &self.credentials,
            &nianbao_auth::credentials::Request {
                role,
                subject: subject.to_string(),
                name: name.to_string(),
                cert_pem: None,
            },
        )?;
        issued.token.context("a token credential has a token")
    }

    pub fn server_tls(&self) -> nianbao_auth::ServerTlsConfig {
        nianbao_auth::ServerTlsConfig {
            cert: self.cert.clone(),
            key: self.key.clone(),
            ..Default::default()
        }
    }

    pub fn auth(&self) -> nianbao_auth::AuthConfig {
        nianbao_auth::AuthConfig {
            credentials: self.credentials.clone(),
            disabled: false,
        }
    }

    /// A client trusting this CA, carrying `token`.
    pub fn client(&self, token: &str) -> nianbao_auth::ClientConfig {
        nianbao_auth::ClientConfig {
            ca: self.ca.clone(),
            token: token.to_string(),
            ..Default::default()
        }
    }
}

/// The settings of a single-service test that talks cleartext on loopback without credentials
/// (explicitly allowed there only): `(tls, auth)`.
pub use nianbao_auth::loopback_insecure;

/// A channel to `url` as `client` says (TLS roots, token), connected now.
pub async fn connect(url: &str, client: &nianbao_auth::ClientConfig) -> Result<AuthChannel> {
    let endpoint = client
        .endpoint(url)?
        .connect_timeout(Duration::from_secs(5));
    let channel = endpoint.connect().await?;
    Ok(tonic::service::interceptor::InterceptedService::new(
        channel,
        nianbao_auth::Bearer::new(client.token()?.as_deref())?,
    ))
}

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
    /// The vhost's URL as guest (cleartext, may do anything): for the test's own checks.
    pub amqp: String,
    /// The vhost, with a broker user per service: the services connect over TLS as their own.
    pub vhost: Vhost,
    pub dir: PathBuf,
    /// Set by [`start`](Pipeline::start), or by the test from what [`spawn`](Pipeline::spawn) returns.
    pub ingest_url: String,
    pub notify_url: String,
    pub validation_url: String,
    /// The `/metrics` and `/readyz` addresses of services that a test started with an endpoint.
    pub metrics: std::collections::BTreeMap<&'static str, std::net::SocketAddr>,
    /// The CA, certificates and credentials every service of this pipeline uses.
    pub security: Security,
    /// Agency credentials issued by [`submit_as_agency`](Pipeline::submit_as_agency), by agency.
    agency_tokens: Mutex<std::collections::HashMap<String, String>>,
    stop: nianbao_service::Trigger,
    shutdown: Shutdown,
    services: Vec<(&'static str, JoinHandle<Result<(), String>>)>,
    /// Errors of services that ended before the shutdown, as they happen: a test waiting for its
    /// reports stops waiting and says which service failed and why.
    failed: Arc<Mutex<Vec<String>>>,
}

impl Pipeline {
    /// A pipeline without services yet: a new vhost on `broker`, a new folder named after `name`.
    pub async fn new(broker: &Broker, name: &str) -> Result<Pipeline> {
        Pipeline::new_with(broker, name, |_| {}).await
    }

    /// [`Pipeline::new`] with the services' bus settings (retry steps, delivery limit…) changed by
    /// `tweak`; the topology is declared with them.
    pub async fn new_with(
        broker: &Broker,
        name: &str,
        tweak: impl FnOnce(&mut nianbao_bus::BusConfig),
    ) -> Result<Pipeline> {
        crate::init_test_tracing();
        let mut vhost = broker.new_vhost(true)?;
        tweak(&mut vhost.base);
        let amqp = vhost.amqp.clone();
        // What an administrator does once (`nianbao broker setup`): the services' users may not
        // declare anything.
        let setup = nianbao_bus::BusConfig {
            url: amqp.clone(),
            declare_topology: true,
            ..vhost.base.clone()
        };
        let admin = nianbao_bus::Bus::connect(&setup, "e2e-setup").await?;
        admin.close().await;
        let dir = crate::e2e_tmp_dir()?.join(format!("{name}-{}", unique_suffix()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let security = Security::new(&dir)?;
        let (stop, shutdown) = Shutdown::new();
        Ok(Pipeline {
            amqp,
            vhost,
            dir,
            ingest_url: String::new(),
            notify_url: String::new(),
            validation_url: String::new(),
            metrics: Default::default(),
            security,
            agency_tokens: Mutex::default(),
            stop,
            shutdown,
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
            .spawn("notification", |l, s| {
                nianbao_notification::run(cfg, l, s, Default::default())
            })
            .await?;
        Ok(p)
    }

    /// Ingest (its URL in `ingest_url`) and validation, with their test configurations.
    pub async fn start_ingest_and_validation(&mut self, db: Db) -> Result<()> {
        let cfg = self.ingest_config(db)?;
        self.ingest_url = self
            .spawn("ingest", |l, s| {
                nianbao_ingest::run(cfg, l, s, Default::default())
            })
            .await?;
        let cfg = self.validation_config(db)?;
        self.validation_url = self
            .spawn("validation", |l, s| {
                nianbao_validation::run(cfg, l, s, Default::default())
            })
            .await?;
        Ok(())
    }

    /// Starts a service on a new local port, with this pipeline's stop signal; returns the
    /// service's URL. `start` gets the listener and the signal and returns the service's future.
    pub async fn spawn<F, Fut, E>(&mut self, service: &'static str, start: F) -> Result<String>
    where
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let (l, url) = listener().await?;
        let url = url.replacen("http://", "https://", 1);
        let run = start(l, self.shutdown.clone());
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
            directory: sample_directory().display().to_string(),
            tls: self.security.server_tls(),
            auth: self.security.auth(),
            bus: self.vhost.service_bus("ingest"),
            ..Default::default()
        })
    }

    pub fn validation_config(&self, db: Db) -> Result<nianbao_validation::Config> {
        Ok(nianbao_validation::Config {
            data_dir: self.dir.join("validation"),
            database_url: db_url(db, &self.dir, "validation")?,
            directory: sample_directory().display().to_string(),
            tls: self.security.server_tls(),
            auth: self.security.auth(),
            bus: self.vhost.service_bus("validation"),
            ..Default::default()
        })
    }

    /// Routed by [`sample_directory`].
    pub fn notification_config(&self, db: Db) -> Result<nianbao_notification::Config> {
        Ok(nianbao_notification::Config {
            data_dir: self.dir.join("notification"),
            database_url: db_url(db, &self.dir, "notification")?,
            directory: sample_directory().display().to_string(),
            tls: self.security.server_tls(),
            auth: self.security.auth(),
            bus: self.vhost.service_bus("notification"),
            ..Default::default()
        })
    }

    /// A worker fetching from `ingest_url` with `prefetch` deliveries in flight.
    pub fn extraction_config(&self, ingest_url: &str, prefetch: u16) -> nianbao_extraction::Config {
        let mut bus = self.vhost.service_bus("extraction");
        bus.prefetch = prefetch;
        nianbao_extraction::Config {
            ingest_url: ingest_url.to_string(),
            ingest_client: self.security.client(&self.security.extraction),
            tls: self.security.server_tls(),
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

    /// Waits until the service at `url` serves, then a channel to it carrying `token`.
    pub async fn channel_as(&self, url: &str, token: &str) -> Result<AuthChannel> {
        self.check_services()?;
        let client = self.security.client(token);
        wait_serving_with(url, "", Duration::from_secs(10), &client).await?;
        connect(url, &client).await
    }

    /// A client of ingest as the pipeline's operator, once it serves (large messages allowed, as
    /// the CLI's).
    pub async fn ingest(&self) -> Result<IngestClient<AuthChannel>> {
        let token = self.security.operator.clone();
        self.ingest_as(&token).await
    }

    /// A client of ingest carrying `token`.
    pub async fn ingest_as(&self, token: &str) -> Result<IngestClient<AuthChannel>> {
        Ok(
            IngestClient::new(self.channel_as(&self.ingest_url, token).await?)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20),
        )
    }

    /// A client of notification as the pipeline's operator.
    pub async fn notification(&self) -> Result<NotificationClient<AuthChannel>> {
        let token = self.security.operator.clone();
        self.notification_as(&token).await
    }

    /// A client of notification carrying `token`.
    pub async fn notification_as(&self, token: &str) -> Result<NotificationClient<AuthChannel>> {
        Ok(
            NotificationClient::new(self.channel_as(&self.notify_url, token).await?)
                .max_decoding_message_size(64 << 20),
        )
    }

    /// The token of `agency`'s credential (issued at the first call).
    pub fn agency_token(&self, agency: &str) -> Result<String> {
        let mut tokens = self
            .agency_tokens
            .lock()
            .map_err(|_| anyhow::anyhow!("agency tokens poisoned"))?;
        if let Some(t) = tokens.get(agency) {
            return Ok(t.clone());
        }
        let t = self.security.issue(Role::Agency, agency, agency)?;
        tokens.insert(agency.to_string(), t.clone());
        Ok(t)
    }

    /// Submits reports as `agency` itself (its own credential): verified, as an agency's
    /// submission is in a deployment.
    pub async fn submit_as_agency(
        &self,
        agency: &str,
        reports: &[(String, Vec<u8>)],
    ) -> Result<Vec<String>> {
        let token = self.agency_token(agency)?;
        submit_with(&mut self.ingest_as(&token).await?, reports).await
    }

    /// Submits `(file name, bytes)` pairs one after another as the pipeline's operator, naming no
    /// agency (the report's agency is then what the document prints, unverified); returns their
    /// report ids.
    pub async fn submit(&self, reports: &[(String, Vec<u8>)]) -> Result<Vec<String>> {
        submit_with(&mut self.ingest().await?, reports).await
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
        self.stop.fire();
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

/// Submits `(file name, bytes)` pairs one after another through `c`; returns their report ids.
pub async fn submit_with(
    c: &mut IngestClient<AuthChannel>,
    reports: &[(String, Vec<u8>)],
) -> Result<Vec<String>> {
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

/// Each report of `ids` through one client, in order.
async fn get_reports(c: &mut IngestClient<AuthChannel>, ids: &[String]) -> Result<Vec<Report>> {
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
