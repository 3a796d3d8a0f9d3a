//! What a second validation instance on one PostgreSQL database buys, and what the shared
//! decision section costs (deploy/README.md, "Several instances of a service").
//!
//! `cargo bench -p nianbao-e2e --bench validation_instances [-- REPORTS]` (default 4,000 generated
//! reports; starts a private PostgreSQL as the tests do). The reports are extracted first, outside
//! the timing; then each configuration validates all of them into a fresh database, in batches of
//! 16 with two batches in flight per instance (as the service consumes with its prefetch), and
//! prints reports per second. Measured: the rules and the cross-report section, with real
//! PostgreSQL round trips; not the broker.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a bench binary: a failure is a failed run

use nianbao_validation::{Input, Validator};
use std::sync::Arc;
use std::time::Instant;

const BATCH: usize = 16;
const IN_FLIGHT: usize = 2;

struct Report {
    id: String,
    x: nianbao_model::Extraction,
}

async fn validator(url: &str) -> Validator {
    let db = nianbao_db::connect(url).await.unwrap();
    let store = nianbao_validation::store::Store::open(db).await.unwrap();
    let cfg = nianbao_validation::Config::default();
    Validator::new(
        Arc::new(nianbao_rules::Checker::default()),
        cfg.similarity(),
        store,
    )
}

/// Validates every report with `instances` validators on one new database; reports per second.
async fn run(reports: Arc<Vec<Report>>, instances: usize) -> f64 {
    let url = nianbao_e2e::new_database(nianbao_e2e::shared_postgres(), "bench").unwrap();
    let mut validators = Vec::new();
    for _ in 0..instances {
        validators.push(Arc::new(validator(&url).await));
    }
    let batches: Vec<Vec<usize>> = (0..reports.len())
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(<[usize]>::to_vec)
        .collect();
    let batches = Arc::new(batches);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for v in &validators {
        for _ in 0..IN_FLIGHT {
            let (v, reports, batches, next) =
                (v.clone(), reports.clone(), batches.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(batch) = batches.get(i) else {
                        return;
                    };
                    let inputs: Vec<Input<'_>> = batch
                        .iter()
                        .map(|&r| Input {
                            report_id: &reports[r].id,
                            version: "v1",
                            agency_hint: "",
                            named: "",
                            region: "",
                            year_hint: 0,
                            x: &reports[r].x,
                        })
                        .collect();
                    for r in v.validate_batch(&inputs).await {
                        r.unwrap();
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let stored = nianbao_db::query_scalar::<i64>("SELECT COUNT(*) FROM validated")
        .fetch_one(&nianbao_db::connect(&url).await.unwrap())
        .await
        .unwrap();
    assert_eq!(stored, reports.len() as i64, "every report stored once");
    reports.len() as f64 / secs
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(4_000);
    let opts = nianbao_synth::SynthOptions {
        count: n,
        seed: 7,
        ..Default::default()
    };
    let reports: Vec<Report> = nianbao_synth::generate(&opts)
        .into_iter()
        .enumerate()
        .map(|(i, r)| Report {
            id: format!("bench-{i}"),
            x: nianbao_extract::extract_bytes(&r.bytes),
        })
        .collect();
    let reports = Arc::new(reports);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{n} generated reports, batches of {BATCH}, {IN_FLIGHT} in flight per instance, PostgreSQL"
    );
    for instances in [1, 2, 1, 2] {
        let per_sec = rt.block_on(run(reports.clone(), instances));
        println!("validation instances: {instances}  {per_sec:>8.0} reports/s");
    }
}
