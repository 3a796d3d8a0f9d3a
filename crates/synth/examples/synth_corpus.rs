//! Writes a corpus: `cargo run -p nianbao-synth --example synth_corpus -- DIR [COUNT] [SEED] [RATE]`.
//! The CLI subcommand does the same; this exists so the generator can be inspected without the CLI.

use nianbao_synth::{SynthOptions, write_corpus};
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().map_or("synth-out", String::as_str));
    let mut opts = SynthOptions::default();
    if let Some(n) = args.get(1).and_then(|s| s.parse().ok()) {
        opts.count = n;
    }
    if let Some(s) = args.get(2).and_then(|s| s.parse().ok()) {
        opts.seed = s;
    }
    if let Some(r) = args.get(3).and_then(|s| s.parse().ok()) {
        opts.defect_rate = r;
    }
    let n = write_corpus(&opts, &dir)?;
    println!("{n} reports in {}", dir.display());
    Ok(())
}
