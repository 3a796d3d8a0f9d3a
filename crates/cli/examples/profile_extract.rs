//! Times extract and check separately over the given files, for profiling (`perf record`, callgrind):
//! `ROUNDS=2000 cargo run --release -p nianbao-cli --example profile_extract -- FILE...`.
use std::hint::black_box;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::Instant;

fn main() {
    let files: Vec<Vec<u8>> = std::env::args()
        .skip(1)
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    if files.is_empty() {
        eprintln!("usage: profile_extract FILE...");
        return;
    }
    let checker = nianbao_rules::Checker::default();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let n = (rounds * files.len()) as f64;
    let t = Instant::now();
    for _ in 0..rounds {
        for f in &files {
            black_box(nianbao_extract::extract_bytes(black_box(f)));
        }
    }
    let extract = t.elapsed().as_secs_f64() / n * 1e6;
    let xs: Vec<_> = files
        .iter()
        .map(|f| nianbao_extract::extract_bytes(f))
        .collect();
    let t = Instant::now();
    for _ in 0..rounds {
        for x in &xs {
            black_box(checker.check(black_box(x)));
        }
    }
    let check = t.elapsed().as_secs_f64() / n * 1e6;
    eprintln!(
        "{} reports: extract {extract:.1} µs + check {check:.1} µs = {:.1} µs per report",
        n as u64,
        extract + check
    );
}
