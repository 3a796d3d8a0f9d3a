//! Round trip over the formats agencies publish: every generated report rendered as a web page
//! (UTF-8 and GBK) and as a Word file extracts to exactly the values of its truth, and the rules
//! report exactly the same findings as for its text version.
//!
//! `NIANBAO_FORMATS_COUNT` (default 120 reports, each in every format) and `NIANBAO_SYNTH_SEED`
//! change the corpus.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_model::json::extract_record;
use nianbao_model::{Finding, SourceLocation};
use nianbao_synth::{OutputFormat, SynthOptions, generate_one};
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

/// Differences between an extract record and the truth.
fn diffs(rec: &Value, truth: &Value) -> Vec<String> {
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
            out.push(format!("{table} present {}", !got.is_null()));
            continue;
        }
        let Some(cells) = want.as_object() else {
            continue;
        };
        for (id, w) in cells {
            match w.as_array() {
                Some(row) => {
                    for (k, wv) in row.iter().enumerate() {
                        if !same_number(&got[id][k], wv) {
                            out.push(format!("{id}[{k}]: {} ≠ {wv}", got[id][k]));
                        }
                    }
                }
                None if !same_number(&got[id], w) => {
                    out.push(format!("{id}: {} ≠ {w}", got[id]));
                }
                None => {}
            }
        }
    }
    out
}

/// What identifies a finding independently of where the text put it.
fn keys(findings: &[Finding]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for f in findings {
        let k = format!(
            "{} {} part {:?} cell {:?} col {:?} {:?}/{:?}",
            f.rule, f.severity, f.part, f.cell, f.column, f.expected, f.actual
        );
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

#[test]
fn every_report_reads_the_same_in_html_gbk_html_and_docx() {
    let count: usize = env_or("NIANBAO_FORMATS_COUNT", 120);
    let seed: u64 = env_or("NIANBAO_SYNTH_SEED", 7_007);
    let opts = SynthOptions {
        count,
        seed,
        defect_rate: 0.3,
        ..Default::default()
    };
    let checker = nianbao_rules::Checker::default();
    let mut failures = Vec::new();
    let mut per_format: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..count {
        let r = generate_one(seed, i, &opts);
        let xt = nianbao_extract::extract_bytes(&r.bytes);
        let ft = keys(&checker.check(&xt));
        for format in [
            OutputFormat::HtmlUtf8,
            OutputFormat::HtmlGbk,
            OutputFormat::Docx,
        ] {
            let bytes = r.render(format).unwrap();
            let x = nianbao_extract::extract_bytes(&bytes);
            *per_format.entry(format.as_str()).or_default() += 1;
            let mut problems = diffs(&extract_record("f", &x), &r.truth);
            if let Some(u) = &x.unreadable {
                problems.push(format!("unreadable: {u}"));
            }
            let ff = keys(&checker.check(&x));
            if ff != ft {
                for (k, n) in &ft {
                    if ff.get(k) != Some(n) {
                        problems.push(format!("text only: {k} ×{n}"));
                    }
                }
                for (k, n) in &ff {
                    if ft.get(k) != Some(n) {
                        problems.push(format!("{} only: {k} ×{n}", format.as_str()));
                    }
                }
            }
            // Provenance: table rows say which table and row they are.
            if let Some(t3) = &x.table3
                && let Some(l) = t3.row_lines.iter().flatten().next()
                && !matches!(x.location_of(*l), SourceLocation::TableRow { .. })
            {
                problems.push(format!("表三 row at {:?}", x.location_of(*l)));
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{} as {}: {}",
                    r.name,
                    format.as_str(),
                    problems.join("; ")
                ));
            }
        }
    }
    eprintln!("{per_format:?}");
    assert!(
        failures.is_empty(),
        "{} of {} renderings differ, e.g.:\n{}",
        failures.len(),
        count * 3,
        failures
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// PDF round trip over a corpus printed by LibreOffice (`crates/synth/tests/make_pdf_corpus.sh DIR
/// N` writes NAME.txt, NAME.pdf and NAME.truth.json): every PDF extracts to its truth and to the
/// findings of its text version. Ignored by default (it needs LibreOffice to build the corpus):
/// `NIANBAO_PDF_DIR=DIR cargo test -p nianbao-synth --test formats -- --ignored`.
#[test]
#[ignore = "needs a corpus printed by LibreOffice (NIANBAO_PDF_DIR)"]
fn pdfs_printed_by_libreoffice_read_like_their_text() {
    let Ok(dir) = std::env::var("NIANBAO_PDF_DIR") else {
        eprintln!("NIANBAO_PDF_DIR not set");
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let checker = nianbao_rules::Checker::default();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().to_string();
            n.strip_suffix(".pdf").map(str::to_string)
        })
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for name in &names {
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.truth.json"))).unwrap(),
        )
        .unwrap();
        let xt = nianbao_extract::extract_bytes(
            &std::fs::read(dir.join(format!("{name}.txt"))).unwrap(),
        );
        let xp = nianbao_extract::extract_bytes(
            &std::fs::read(dir.join(format!("{name}.pdf"))).unwrap(),
        );
        let mut problems = diffs(&extract_record("f", &xp), &truth);
        let (ft, fp) = (keys(&checker.check(&xt)), keys(&checker.check(&xp)));
        for (k, n) in &ft {
            if fp.get(k) != Some(n) {
                problems.push(format!("text only: {k} ×{n}"));
            }
        }
        for (k, n) in &fp {
            if ft.get(k) != Some(n) {
                problems.push(format!("pdf only: {k} ×{n}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}", problems.join("; ")));
        }
    }
    eprintln!("{} PDFs, {} differ", names.len(), failures.len());
    assert!(!names.is_empty());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
