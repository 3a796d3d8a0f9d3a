//! Prints one report: `cargo run -p nianbao-synth --example synth_one -- SEED INDEX [RATE]`.

use nianbao_synth::{SynthOptions, generate_one};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed = args.first().and_then(|s| s.parse().ok()).unwrap_or(0);
    let index = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let opts = SynthOptions {
        defect_rate: args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0.3),
        ..Default::default()
    };
    let r = generate_one(seed, index, &opts);
    println!("{}\n{}", r.name, r.text);
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&r.truth["expected_findings"]).unwrap_or_default()
    );
}
