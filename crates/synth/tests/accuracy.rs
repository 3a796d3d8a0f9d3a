//! Accuracy at scale: the real extractor and rules over a generated corpus, compared with the truth.
//!
//! Runs in the suite over 1,200 reports of every layout (~5 s in a debug build); larger corpora with
//! `NIANBAO_SYNTH_COUNT=100000 cargo test --release -p nianbao-synth --test accuracy`
//! (`NIANBAO_SYNTH_SEED`, `NIANBAO_SYNTH_RATE` change the corpus). Acceptance of the synth issue: every clean report extracts with every cell,
//! agency, year and parts right and no error or warning; every injected defect is reported by its
//! rule at its location; nothing else of error or warning severity is reported.

use nianbao_model::json::extract_record;
use nianbao_model::{Finding, Severity};
use nianbao_synth::{Expected, Layout, SynthOptions, generate_one};
use serde_json::Value;
use std::collections::BTreeMap;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn same_number(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a.is_null() && b.is_null(),
    }
}

/// Differences between the extract record and the truth, one string each.
fn extraction_diffs(rec: &Value, truth: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let names = truth["agency_any"].as_array().cloned().unwrap_or_default();
    if !names.contains(&rec["agency"]) {
        out.push(format!("agency {} not in {:?}", rec["agency"], names));
    }
    for k in ["year", "template", "parts"] {
        if rec[k] != truth[k] {
            out.push(format!("{k}: {} ≠ {}", rec[k], truth[k]));
        }
    }
    for table in ["table2", "table3", "table4"] {
        let (got, want) = (&rec[table], &truth[table]);
        if got.is_null() != want.is_null() {
            out.push(format!(
                "{table}: present {} ≠ {}",
                !got.is_null(),
                !want.is_null()
            ));
            continue;
        }
        let Some(cells) = want.as_object() else {
            continue;
        };
        for (id, w) in cells {
            let g = &got[id];
            match w.as_array() {
                Some(row) => {
                    for (k, wv) in row.iter().enumerate() {
                        if !same_number(&g[k], wv) {
                            out.push(format!("{id}[{k}]: {} ≠ {wv}", g[k]));
                        }
                    }
                }
                None if !same_number(g, w) => out.push(format!("{id}: {g} ≠ {w}")),
                None => {}
            }
        }
    }
    out
}

fn matches(f: &Finding, e: &Expected) -> bool {
    f.rule == e.rule
        && f.part == Some(e.part)
        && (e.cell.is_none() || f.cell == e.cell)
        && (e.column.is_none() || f.column == e.column)
}

#[test]
fn extraction_and_rules_agree_with_the_truth() {
    let count: usize = env_or("NIANBAO_SYNTH_COUNT", 1200);
    let seed: u64 = env_or("NIANBAO_SYNTH_SEED", 20_251);
    let opts = SynthOptions {
        count,
        seed,
        defect_rate: env_or("NIANBAO_SYNTH_RATE", 0.3),
        ..Default::default()
    };
    let checker = nianbao_rules::Checker::default();
    let mut per_layout: BTreeMap<Layout, (usize, usize)> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    for i in 0..count {
        let r = generate_one(seed, i, &opts);
        let x = nianbao_extract::extract_bytes(&r.bytes);
        let rec = extract_record(r.truth["file"].as_str().unwrap_or_default(), &x);
        let mut problems = extraction_diffs(&rec, &r.truth);
        let findings = checker.check(&x);
        let serious = |s: Severity| s >= Severity::Warning;
        // Every injected defect, info ones (mis-typed labels) included, must be reported.
        for e in &r.expected {
            if !findings.iter().any(|f| matches(f, e)) {
                problems.push(format!(
                    "missing {} part {} {:?} {:?}",
                    e.rule, e.part, e.cell, e.column
                ));
            }
        }
        for f in findings.iter().filter(|f| serious(f.severity)) {
            if !r.expected.iter().any(|e| matches(f, e)) {
                problems.push(format!(
                    "unexpected {} part {:?} {:?} {:?}: {}",
                    f.rule, f.part, f.cell, f.column, f.message
                ));
            }
        }
        let entry = per_layout.entry(r.layout).or_default();
        entry.0 += 1;
        if !problems.is_empty() {
            entry.1 += 1;
            failures.push(format!(
                "{} {:?}: {}",
                r.name,
                r.defects,
                problems.join("; ")
            ));
        }
    }
    for (layout, (n, bad)) in &per_layout {
        eprintln!("{layout}: {n} reports, {bad} with a difference");
    }
    if opts.layouts.len() == 5 && count >= 100 {
        assert_eq!(
            per_layout.len(),
            5,
            "every layout is exercised: {per_layout:?}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {count} reports differ, e.g.:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
