//! The pipeline end to end: ingest, three extraction workers, validation and notification running
//! in-process against a real RabbitMQ (one private vhost per test on the harness's broker), with
//! SQLite — and once with PostgreSQL. Reports are submitted over gRPC exactly as agencies would.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_e2e::offline::{offline, single_report};
use nianbao_e2e::pipeline::{Db, Pipeline, alerts_by_report, fast_bus, listener};
use nianbao_e2e::shared_broker;
use nianbao_model::{Finding, RuleId, Severity};
use nianbao_service::{Shutdown, Trigger};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::task::JoinHandle;

/// An extraction worker with a stop signal of its own, so that a test can stop or kill it alone.
struct Worker {
    stats: Arc<nianbao_extraction::Stats>,
    stop: Trigger,
    handle: JoinHandle<Result<(), nianbao_extraction::Error>>,
}

/// The shared pipeline (ingest, validation, notification) and this binary's extraction workers.
struct Run {
    p: Pipeline,
    workers: Vec<Worker>,
}

impl Run {
    async fn start(db: Db, workers: usize) -> Run {
        let p = Pipeline::start(shared_broker(), "pipeline", db)
            .await
            .unwrap();
        let mut run = Run {
            p,
            workers: Vec::new(),
        };
        for _ in 0..workers {
            let url = run.p.ingest_url.clone();
            run.add_worker(&url, 8).await;
        }
        run
    }

    async fn add_worker(&mut self, ingest_url: &str, prefetch: u16) {
        let (l, _) = listener().await.unwrap();
        let cfg = self.p.extraction_config(ingest_url, prefetch);
        let stats = Arc::new(nianbao_extraction::Stats::default());
        let (stop, shutdown) = Shutdown::new();
        let handle = tokio::spawn(nianbao_extraction::run(
            cfg,
            l,
            shutdown,
            nianbao_extraction::Deps {
                stats: stats.clone(),
                ..Default::default()
            },
        ));
        self.workers.push(Worker {
            stats,
            stop,
            handle,
        });
    }

    /// Waits until every report is notified (or failed); returns them in the order of `ids`.
    async fn wait_notified(
        &self,
        ids: &[String],
        timeout: Duration,
    ) -> Vec<nianbao_proto::v1::Report> {
        self.p
            .wait_status(ids, &["notified", "failed"], timeout)
            .await
            .unwrap()
    }

    /// Stops the workers, then the pipeline; fails if any of them failed.
    async fn shutdown(self) {
        for w in &self.workers {
            w.stop.fire();
        }
        for w in self.workers {
            let stopped = tokio::time::timeout(Duration::from_secs(20), w.handle).await;
            assert!(
                matches!(stopped, Ok(Ok(Ok(())))),
                "an extraction worker did not stop cleanly: {stopped:?}"
            );
        }
        self.p.shutdown().await.unwrap();
    }
}

fn corpus(generated: usize) -> Vec<(String, Vec<u8>, Option<String>)> {
    let mut out = Vec::new();
    if let Some(dir) = nianbao_e2e::seeds_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        for f in files {
            out.push((
                f.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&f).unwrap(),
                None,
            ));
        }
    }
    let opts = nianbao_synth::SynthOptions {
        count: generated,
        seed: 44,
        ..Default::default()
    };
    for r in nianbao_synth::generate(&opts) {
        out.push((
            format!("{}.txt", r.name),
            r.bytes,
            Some(r.agency.supervisor.clone()),
        ));
    }
    out
}

async fn run_corpus(db: Db, generated: usize) {
    let run = Run::start(db, 3).await;
    let reports = corpus(generated);
    let submissions: Vec<(String, Vec<u8>)> = reports
        .iter()
        .map(|(n, b, _)| (n.clone(), b.clone()))
        .collect();
    let ids = run.p.submit(&submissions).await.unwrap();
    let done = run.wait_notified(&ids, Duration::from_secs(300)).await;

    let mut n = run.p.notification().await.unwrap();
    let alerts_by_report = alerts_by_report(&mut n).await.unwrap();

    let mut problems = Vec::new();
    for (((name, bytes, supervisor), id), r) in reports.iter().zip(&ids).zip(&done) {
        if r.status != "notified" {
            problems.push(format!(
                "{name}: status {} ({})",
                r.status, r.failure_reason
            ));
            continue;
        }
        let findings: Vec<Finding> = r
            .findings
            .iter()
            .map(|f| Finding::try_from(f).unwrap())
            .collect();
        let single = single_report(&findings);
        if single != offline(bytes) {
            problems.push(format!(
                "{name}: pipeline findings {single:?} ≠ offline {:?}",
                offline(bytes)
            ));
        }
        let has_error = findings.iter().any(|f| f.severity == Severity::Error);
        let alerts = alerts_by_report.get(id).map(Vec::as_slice).unwrap_or(&[]);
        if has_error && alerts.len() != 1 {
            problems.push(format!(
                "{name}: {} alerts for a report with errors",
                alerts.len()
            ));
        }
        if let (Some(want), Some(a)) = (supervisor, alerts.first())
            && &a.office_name != want
        {
            problems.push(format!(
                "{name}: alert went to {} not {want}",
                a.office_name
            ));
        }
        if findings.iter().any(|f| f.rule == RuleId::Unreadable) {
            problems.push(format!("{name}: unreadable in the pipeline"));
        }
    }
    let per_worker: Vec<u64> = run
        .workers
        .iter()
        .map(|w| w.stats.processed.load(Ordering::Relaxed))
        .collect();
    // At least once: a redelivery may extract a report twice, never zero times.
    assert!(
        per_worker.iter().sum::<u64>() >= ids.len() as u64,
        "every report extracted: {per_worker:?}"
    );
    assert!(
        per_worker.iter().all(|&n| n > 0),
        "each of the three workers took part: {per_worker:?}"
    );
    run.shutdown().await;
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seeds_and_generated_reports_flow_through_three_workers_sqlite() {
    run_corpus(Db::Sqlite, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_pipeline_on_postgresql() {
    run_corpus(Db::Postgres, 60).await;
}

/// A worker that stops while holding unacknowledged messages loses none of them: the broker
/// redelivers them to the next worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_worker_loses_nothing() {
    stopped_worker(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_worker_loses_nothing_postgresql() {
    stopped_worker(Db::Postgres).await;
}

async fn stopped_worker(db: Db) {
    let mut run = Run::start(db, 0).await;
    // The first worker fetches from an ingest that accepts connections and never answers: it takes
    // its prefetch of messages and holds them, unacknowledged.
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole_url = format!("http://{}", black_hole.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = black_hole.accept().await {
            held.push(s);
        }
    });
    run.add_worker(&hole_url, 10).await;
    let reports = corpus(0)
        .into_iter()
        .chain(corpus(12).into_iter().skip(5))
        .map(|(n, b, _)| (n, b))
        .collect::<Vec<_>>();
    let ids = run.p.submit(&reports).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Kill it abruptly: its connection goes, its deliveries return to the queue.
    let dead = run.workers.remove(0);
    dead.handle.abort();
    let _ = dead.handle.await;
    let url = run.p.ingest_url.clone();
    run.add_worker(&url, 10).await;
    let done = run.wait_notified(&ids, Duration::from_secs(120)).await;
    assert!(
        done.iter().all(|r| r.status == "notified"),
        "{:?}",
        done.iter().map(|r| &r.status).collect::<Vec<_>>()
    );
    // Delivery is at least once: a redelivered message may be extracted a second time.
    assert!(
        run.workers[0].stats.processed.load(Ordering::Relaxed) >= ids.len() as u64,
        "the new worker extracted every report the stopped one held"
    );
    run.shutdown().await;
}

/// A message that is not a valid event ends in the parking lot; the pipeline keeps flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_message_is_parked_and_the_pipeline_flows() {
    invalid_message(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_message_is_parked_and_the_pipeline_flows_postgresql() {
    invalid_message(Db::Postgres).await;
}

async fn invalid_message(db: Db) {
    let run = Run::start(db, 1).await;
    let bus = nianbao_bus::Bus::connect(&fast_bus(&run.p.amqp), "e2e-test")
        .await
        .unwrap();
    // wait for the extraction queue to exist
    for _ in 0..100 {
        if bus.queue_len("nianbao.extraction").await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bus.publish_to_queue("nianbao.extraction", b"\xff\x00 not a protobuf event")
        .await
        .unwrap();
    let reports: Vec<(String, Vec<u8>)> = corpus(3)
        .into_iter()
        .rev()
        .take(3)
        .map(|(n, b, _)| (n, b))
        .collect();
    let ids = run.p.submit(&reports).await.unwrap();
    let done = run.wait_notified(&ids, Duration::from_secs(60)).await;
    assert!(done.iter().all(|r| r.status == "notified"));
    let mut parked = 0;
    for _ in 0..50 {
        parked = bus.queue_len("nianbao.extraction.parked").await.unwrap();
        if parked > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(parked, 1, "the garbage message is parked");
    bus.close().await;
    run.shutdown().await;
}
