//! The pipeline benchmark: pushes generated reports through a running pipeline and measures
//! throughput and submit→validated latency from the `report.validated` events themselves.
//!
//! A developer's tool, not a command of `nianbao`: `deploy/local/run.sh --release --bench 4000`
//! starts a pipeline and runs it, or against a pipeline of your own
//! `cargo run --release -p nianbao-cli --example bench_pipeline -- --count 4000 --amqp URL`
//! (the ingest endpoint, CA and credential from `$NIANBAO_INGEST_URL`, `$NIANBAO_CA`,
//! `$NIANBAO_TOKEN(_FILE)`, as for `nianbao submit`).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties};
use nianbao_proto::v1::ingest_client::IngestClient;
use nianbao_proto::v1::{ReportValidated, SubmitReportRequest};
use prost::Message;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Push generated reports through the running pipeline; print reports/s and latency.
#[derive(Parser)]
#[command(name = "bench_pipeline")]
struct Args {
    #[arg(long, default_value_t = 2000)]
    count: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Submissions in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Ingest gRPC endpoint (default $NIANBAO_INGEST_URL or http://127.0.0.1:50051).
    #[arg(
        long,
        env = "NIANBAO_INGEST_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    endpoint: String,
    /// The broker the pipeline uses.
    #[arg(long, env = "NIANBAO_BUS__URL")]
    amqp: String,
    #[arg(long, default_value = "nianbao.events")]
    exchange: String,
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(run(args, &mut std::io::stdout())));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_pipeline: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// A client of ingest with the caller's credential, configured as the `nianbao` commands are.
async fn ingest(url: &str) -> Result<IngestClient<nianbao_auth::AuthChannel>> {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let cfg = nianbao_auth::ClientConfig {
        ca: var("NIANBAO_CA").into(),
        cert: var("NIANBAO_CLIENT_CERT").into(),
        key: var("NIANBAO_CLIENT_KEY").into(),
        token: var("NIANBAO_TOKEN"),
        token_file: var("NIANBAO_TOKEN_FILE").into(),
    };
    let shown = nianbao_bus::redact_url(url);
    let endpoint = cfg
        .endpoint(url)
        .with_context(|| format!("endpoint {shown}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60));
    let bearer = nianbao_auth::Bearer::new(cfg.token()?.as_deref())?;
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot reach {shown} (is the service running?)"))?;
    Ok(IngestClient::new(
        tonic::service::interceptor::InterceptedService::new(channel, bearer),
    ))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// CPU time of this process so far (user + system), from `/proc/self/stat` (Linux; `None`
/// elsewhere): the generator shares the machine with the pipeline it measures.
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every platform Rust targets there.
    Some(ticks / 100.0)
}

async fn run(a: Args, out: &mut impl Write) -> Result<()> {
    let timeout = Duration::from_secs(a.timeout_secs);
    // Listen first, so no validated event is missed.
    let conn = Connection::connect(&a.amqp, ConnectionProperties::default())
        .await
        .with_context(|| format!("cannot connect to {}", nianbao_bus::redact_url(&a.amqp)))?;
    let ch = conn.create_channel().await?;
    let q = ch
        .queue_declare(
            ShortString::from(""),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    ch.queue_bind(
        q.name().clone(),
        ShortString::from(a.exchange.clone()),
        ShortString::from("report.validated.*"),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut consumer = ch
        .basic_consume(
            q.name().clone(),
            ShortString::from(""),
            // The bench's own exclusive queue: no acks, so that measuring costs the broker little.
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;

    let opts = nianbao_synth::SynthOptions {
        count: a.count,
        seed: a.seed,
        ..Default::default()
    };
    writeln!(out, "generating {} reports (seed {})…", a.count, a.seed)?;
    let reports = nianbao_synth::generate(&opts);
    let client = ingest(&a.endpoint).await?;
    let submitted: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let start = Instant::now();
    let cpu_before = own_cpu_seconds();

    let sub = submitted.clone();
    let submit_all = async move {
        let results = futures_util::stream::iter(reports)
            .map(|r| {
                let mut client = client.clone();
                let sub = sub.clone();
                async move {
                    let t = Instant::now();
                    let resp = client
                        .submit_report(SubmitReportRequest {
                            content: r.bytes,
                            file_name: format!("{}.txt", r.name),
                            agency: None,
                            region: None,
                            source_url: None,
                            published_on: None,
                            ..Default::default()
                        })
                        .await?
                        .into_inner();
                    sub.lock().await.insert(resp.report_id, t);
                    Ok::<_, tonic::Status>(())
                }
            })
            .buffer_unordered(a.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let failed = results.into_iter().filter(|r| r.is_err()).count();
        (failed, start.elapsed().as_secs_f64())
    };

    // When each report was first seen validated. The event may arrive before the submission's
    // answer has been recorded, so the two are joined at the end.
    let mut validated: HashMap<String, Instant> = HashMap::new();
    let collect = async {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => break,
                d = consumer.next() => {
                    let Some(Ok(d)) = d else { break };
                    if let Some(meta) = ReportValidated::decode(d.data.as_slice()).ok().and_then(|ev| ev.meta) {
                        validated.entry(meta.report_id).or_insert_with(Instant::now);
                    }
                    if validated.len() >= a.count {
                        break;
                    }
                }
            }
        }
    };
    let ((failed, submit_secs), ()) = tokio::join!(submit_all, collect);
    let elapsed = start.elapsed().as_secs_f64();
    let submitted = submitted.lock().await;
    let mut l: Vec<f64> = validated
        .iter()
        .filter_map(|(id, at)| {
            let t = submitted.get(id)?;
            Some(at.saturating_duration_since(*t).as_secs_f64() * 1e3)
        })
        .collect();
    l.sort_by(|x, y| x.total_cmp(y));
    writeln!(
        out,
        "{} of {} reports validated in {:.2} s (all submitted after {:.2} s): {:.0} reports/s; submit→validated p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {} submissions failed",
        l.len(),
        a.count,
        elapsed,
        submit_secs,
        l.len() as f64 / elapsed,
        percentile(&l, 0.50),
        percentile(&l, 0.99),
        l.last().copied().unwrap_or(0.0),
        failed
    )?;
    if let (Some(a), Some(b)) = (cpu_before, own_cpu_seconds()) {
        writeln!(
            out,
            "CPU seconds of this load generator during the run: {:.1}",
            b - a
        )?;
    }
    let _ = conn.close(200, ShortString::from("done")).await;
    if l.len() < a.count {
        anyhow::bail!(
            "only {} of {} reports were validated before the timeout",
            l.len(),
            a.count
        );
    }
    Ok(())
}
