//! The fault test at volume (#23 point 5), run by `deploy/faults.sh [REPORTS]` (ignored by plain
//! `cargo test`: it needs the service binaries built, and at 10,000 reports it runs for minutes).
//!
//! On loopback: a three-node RabbitMQ cluster, one PostgreSQL, and the real service binaries as
//! processes, configured the way `deploy/local/run.sh` configures them (environment variables):
//! 2 ingest, 3 extraction, 2 validation and 2 notification instances, spread over the broker
//! nodes. REPORTS generated reports (`NIANBAO_FAULT_REPORTS`, default 1,000) are submitted through
//! both ingests; while they flow, one instance of every service is killed with SIGKILL and started
//! again, and the broker node leading the work queues is stopped and started again. Then every
//! report must be notified (none lost), no report may have two alerts of one kind, and each
//! report's single-report findings must equal what `nianbao check` gives offline.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_e2e::offline::{offline, single_report};
use nianbao_e2e::pipeline::{Pipeline, alerts_by_report, wait_serving_with};
use nianbao_e2e::{BrokerCluster, new_database, shared_postgres, target_dir};
use nianbao_model::Finding;
use nianbao_proto::v1::SubmitReportRequest;
use nianbao_proto::v1::ingest_client::IngestClient;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Submissions in flight at once.
const IN_FLIGHT: usize = 8;

/// One service process: how to start it again after a kill.
struct Proc {
    label: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(&self.binary)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info")
            .env("NIANBAO_LOG__FORMAT", "human")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.binary.display()));
        self.child = Some(child);
    }

    /// SIGKILL: no graceful stop, whatever it held is the broker's and the database's to recover.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        eprintln!("faults: killed {}", self.label);
    }

    /// SIGTERM and a wait: the graceful stop at the end of the test.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if c.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Submits `report` through the first ingest that accepts it (an ingest may be down for a moment).
async fn submit(
    clients: &mut [IngestClient<nianbao_auth::AuthChannel>],
    first: usize,
    report: &(String, Vec<u8>),
) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut i = first;
    loop {
        let c = &mut clients[i % clients.len()];
        match c
            .submit_report(SubmitReportRequest {
                content: report.1.clone(),
                file_name: report.0.clone(),
                ..Default::default()
            })
            .await
        {
            Ok(r) => return r.into_inner().report_id,
            Err(e) if Instant::now() < deadline => {
                eprintln!(
                    "faults: submitting {} failed ({e}); trying the other ingest",
                    report.0
                );
                i += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{} could not be submitted: {e}", report.0),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the service binaries: run deploy/faults.sh [REPORTS]"]
async fn every_report_is_notified_once_through_killed_services_and_a_restarted_broker_node() {
    let n: usize = std::env::var("NIANBAO_FAULT_REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let bin = target_dir().join("debug");
    for b in [
        "nianbao-ingest",
        "nianbao-extraction",
        "nianbao-validation",
        "nianbao-notification",
    ] {
        assert!(
            bin.join(b).is_file(),
            "{} is missing: run this test through deploy/faults.sh, which builds the services",
            bin.join(b).display()
        );
    }
    let mut cluster = BrokerCluster::start(3).unwrap();
    // The topology with the services' default retry settings: the processes run with them.
    let mut p = Pipeline::new_with(&cluster.nodes[0], "faults", |b| {
        let d = nianbao_bus::BusConfig::default();
        b.retry_delays_ms = d.retry_delays_ms;
        b.max_attempts = d.max_attempts;
    })
    .await
    .unwrap();
    let pg = shared_postgres();
    let databases = [
        ("ingest", new_database(pg, "ingest").unwrap()),
        ("validation", new_database(pg, "validation").unwrap()),
        ("notification", new_database(pg, "notification").unwrap()),
    ];
    let database = |s: &str| {
        databases
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, u)| u.clone())
            .unwrap_or_default()
    };
    let directory = nianbao_e2e::pipeline::sample_directory()
        .display()
        .to_string();
    let tokens = p.dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    std::fs::write(tokens.join("extraction"), &p.security.extraction).unwrap();

    // The environment of one instance of `service` on broker node `node`.
    let env_of = |service: &str, node: usize, port: u16, extra: Vec<(String, String)>| {
        let url = cluster.url_on(&p.vhost.services[service], node);
        let mut env: Vec<(String, String)> = vec![
            ("NIANBAO_LISTEN".into(), format!("127.0.0.1:{port}")),
            (
                "NIANBAO_DATA_DIR".into(),
                p.dir
                    .join(format!("{service}-{port}"))
                    .display()
                    .to_string(),
            ),
            (
                "NIANBAO_TLS__CERT".into(),
                p.security.cert.display().to_string(),
            ),
            (
                "NIANBAO_TLS__KEY".into(),
                p.security.key.display().to_string(),
            ),
            (
                "NIANBAO_AUTH__CREDENTIALS".into(),
                p.security.credentials.display().to_string(),
            ),
            ("NIANBAO_BUS__URL".into(), url),
            (
                "NIANBAO_BUS__CA_FILE".into(),
                p.vhost.ca_file.display().to_string(),
            ),
            ("NIANBAO_BUS__DECLARE_TOPOLOGY".into(), "false".into()),
        ];
        if service != "extraction" {
            env.push(("NIANBAO_DATABASE_URL".into(), database(service)));
            env.push(("NIANBAO_DIRECTORY".into(), directory.clone()));
        }
        env.extend(extra);
        env
    };
    let mut procs: Vec<Proc> = Vec::new();
    let mut add =
        |label: &str, service: &str, node: usize, extra: Vec<(String, String)>| -> String {
            let port = free_port();
            let mut proc = Proc {
                label: format!("{label} (broker node {node})"),
                binary: bin.join(format!("nianbao-{service}")),
                env: env_of(service, node, port, extra),
                log: p.dir.join(format!("{label}.log")),
                child: None,
            };
            proc.start();
            procs.push(proc);
            format!("https://127.0.0.1:{port}")
        };
    let ingest_a = add("ingest-a", "ingest", 1, vec![]);
    let ingest_b = add("ingest-b", "ingest", 2, vec![]);
    for (i, (node, ingest)) in [(0, &ingest_a), (1, &ingest_b), (2, &ingest_a)]
        .into_iter()
        .enumerate()
    {
        add(
            &format!("extraction-{i}"),
            "extraction",
            node,
            vec![
                ("NIANBAO_INGEST_URL".into(), ingest.clone()),
                (
                    "NIANBAO_INGEST_CLIENT__CA".into(),
                    p.security.ca.display().to_string(),
                ),
                (
                    "NIANBAO_INGEST_CLIENT__TOKEN_FILE".into(),
                    tokens.join("extraction").display().to_string(),
                ),
            ],
        );
    }
    add("validation-a", "validation", 0, vec![]);
    add("validation-b", "validation", 2, vec![]);
    let lease = [("NIANBAO_LEASE_TTL_MS".to_string(), "3000".to_string())];
    let notify_a = add("notification-a", "notification", 1, lease.to_vec());
    let notify_b = add("notification-b", "notification", 0, lease.to_vec());
    let find = |procs: &mut Vec<Proc>, label: &str| {
        procs
            .iter()
            .position(|p| p.label.starts_with(label))
            .unwrap()
    };

    let tls = p.security.client(&p.security.operator);
    for url in [&ingest_a, &ingest_b, &notify_a] {
        wait_serving_with(url, "", Duration::from_secs(120), &tls)
            .await
            .unwrap_or_else(|e| panic!("{e}; logs in {}", p.dir.display()));
    }
    let clients = vec![
        IngestClient::new(p.channel_as(&ingest_a, &p.security.operator).await.unwrap()),
        IngestClient::new(p.channel_as(&ingest_b, &p.security.operator).await.unwrap()),
    ];

    let opts = nianbao_synth::SynthOptions {
        count: n,
        seed: 2023,
        ..Default::default()
    };
    let reports: Vec<(String, Vec<u8>)> = nianbao_synth::generate(&opts)
        .into_iter()
        .map(|r| (format!("{}.txt", r.name), r.bytes))
        .collect();
    let started = Instant::now();
    let mut ids = Vec::with_capacity(n);
    // Eight submissions in flight at a time; the faults happen as the count passes each mark.
    let mut next = 0;
    while next < n {
        let end = (next + IN_FLIGHT).min(n);
        let batch = (next..end).map(|k| {
            let mut clients = clients.clone();
            let r = &reports[k];
            async move { submit(&mut clients, k, r).await }
        });
        ids.extend(futures_util::future::join_all(batch).await);
        let passed = |mark: usize| (next..end).contains(&mark);
        // While they flow: kill and restart one instance of each service, and the queue leader.
        if passed(n / 5) {
            for label in ["extraction-0", "validation-a"] {
                let k = find(&mut procs, label);
                procs[k].kill();
                procs[k].start();
            }
        }
        if passed(2 * n / 5) {
            let vhost = p.vhost.name.clone();
            let leader = cluster.nodes[0]
                .rabbitmqctl(&["-q", "list_queues", "-p", &vhost, "name", "leader"])
                .unwrap()
                .lines()
                .find_map(|l| {
                    let mut f = l.split_whitespace();
                    (f.next() == Some("nianbao.extraction"))
                        .then(|| f.next().unwrap_or_default().to_string())
                })
                .unwrap();
            let down = cluster.index_of(&leader).unwrap();
            eprintln!(
                "faults: stopping broker node {down} ({leader}), leader of nianbao.extraction"
            );
            cluster.nodes[down].try_stop().unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            cluster.nodes[down].restart().unwrap();
            eprintln!("faults: broker node {down} is back");
        }
        if passed(3 * n / 5) {
            // The notification instance holding the worker lease, and an ingest.
            let db = nianbao_db::connect(&database("notification"))
                .await
                .unwrap();
            let (holder, _) =
                nianbao_db::Lease::current(&db, nianbao_notification::leader::WORKER_LEASE)
                    .await
                    .unwrap()
                    .unwrap();
            eprintln!("faults: the worker lease is held by {holder}");
            for label in ["notification-a", "notification-b", "ingest-a"] {
                let k = find(&mut procs, label);
                let pid = procs[k].child.as_ref().map(Child::id).unwrap_or_default();
                if label.starts_with("ingest") || holder.contains(&format!(":{pid}:")) {
                    procs[k].kill();
                    procs[k].start();
                }
            }
        }
        next = end;
    }
    eprintln!("faults: {n} reports submitted in {:?}", started.elapsed());
    // Through the ingest that was never killed.
    p.ingest_url = ingest_b.clone();
    let done = p
        .wait_status(
            &ids,
            &["notified"],
            Duration::from_secs(120 + (n as u64) / 10),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}; logs in {}", p.dir.display()));
    eprintln!(
        "faults: every report notified after {:?}",
        started.elapsed()
    );

    let mut problems = Vec::new();
    for ((name, bytes), r) in reports.iter().zip(&done) {
        let findings: Vec<Finding> = r
            .findings
            .iter()
            .map(|f| Finding::try_from(f).unwrap())
            .collect();
        if single_report(&findings) != offline(bytes) {
            problems.push(format!("{name}: findings differ from nianbao check"));
        }
    }
    let mut notification = nianbao_proto::v1::notification_client::NotificationClient::new(
        p.channel_as(&notify_b, &p.security.operator).await.unwrap(),
    );
    let mut seen = BTreeSet::new();
    for a in alerts_by_report(&mut notification)
        .await
        .unwrap()
        .into_values()
        .flatten()
    {
        if !seen.insert((a.report_id.clone(), a.kind.clone())) {
            problems.push(format!("two {} alerts for {}", a.kind, a.report_id));
        }
    }
    for proc in &mut procs {
        proc.stop();
    }
    assert!(
        problems.is_empty(),
        "{} problems (logs in {}):\n{}",
        problems.len(),
        p.dir.display(),
        problems.join("\n")
    );
    eprintln!(
        "faults: {n} reports, {} alerts, 0 lost, 0 duplicate alerts, findings equal offline, in {:?}",
        seen.len(),
        started.elapsed()
    );
    p.shutdown().await.unwrap();
    drop(cluster);
}
