//! `nianbao bench-pipeline`: pushes generated reports through the running pipeline and measures
//! throughput and submit→validated latency from the `report.validated` events themselves.

use anyhow::{Context, Result};
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Connection, ConnectionProperties};
use nianbao_proto::v1::{ReportValidated, SubmitReportRequest};
use prost::Message;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

pub struct BenchArgs {
    pub count: usize,
    pub seed: u64,
    pub concurrency: usize,
    pub ingest_url: String,
    pub amqp_url: String,
    pub exchange: String,
    pub timeout: Duration,
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

pub async fn run(a: BenchArgs, out: &mut impl Write) -> Result<()> {
    // Listen first, so no validated event is missed.
    let conn = Connection::connect(&a.amqp_url, ConnectionProperties::default())
        .await
        .with_context(|| format!("cannot connect to {}", nianbao_bus::redact_url(&a.amqp_url)))?;
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
    let client = crate::client::ingest(&a.ingest_url).await?;
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
        let deadline = tokio::time::sleep(a.timeout);
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
