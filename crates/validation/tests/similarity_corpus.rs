//! Measures the duplicate thresholds on the generated corpus: `nianbao_synth::generate` writes many
//! reports from shared phrase banks, which must NOT look like copies, while a report copied with only
//! the agency name and the numbers changed MUST. Run with `--nocapture` to see the distribution.

use nianbao_synth::{SynthOptions, generate};
use nianbao_validation::cross::{ReportRow, Similarity};

fn rows(count: usize, seed: u64) -> Vec<(ReportRow, String, String)> {
    let opts = SynthOptions {
        count,
        seed,
        ..Default::default()
    };
    generate(&opts)
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let x = nianbao_extract::extract_bytes(&r.bytes);
            let row = ReportRow::from_extraction(&format!("r{i}"), &format!("v{i}"), "", 0, &x);
            (row, r.text, r.agency.name.clone())
        })
        .collect()
}

#[test]
fn generated_reports_are_not_duplicates_but_copies_are() {
    let sim = Similarity::default();
    let corpus = rows(300, 11);
    let mut max_j: f64 = 0.0;
    let mut min_h = 64;
    let mut hist = [0usize; 11];
    let mut passed_prefilter = 0usize;
    let mut pairs = 0usize;
    for i in 0..corpus.len() {
        for j in 0..i {
            let (a, b) = (&corpus[i].0, &corpus[j].0);
            if a.agency == b.agency && a.year == b.year {
                continue;
            }
            pairs += 1;
            let jac = a.fingerprint.jaccard(&b.fingerprint);
            hist[(jac * 10.0).floor() as usize] += 1;
            max_j = max_j.max(jac);
            min_h = min_h.min(a.fingerprint.hamming(&b.fingerprint));
            if sim.prefilter(&a.fingerprint, &b.fingerprint) {
                passed_prefilter += 1;
            }
            assert!(
                sim.near_identical(&a.fingerprint, &b.fingerprint).is_none(),
                "generated reports {i} and {j} judged near-identical (jaccard {jac:.3})"
            );
        }
    }
    println!(
        "{pairs} pairs: max jaccard {max_j:.3}, min hamming {min_h}, passed prefilter {passed_prefilter}, histogram by 0.1: {hist:?}"
    );

    // Copies: the same text under another agency name with every number changed.
    let mut min_copy_j: f64 = 1.0;
    let mut max_copy_h = 0;
    for (k, (row, text, name)) in corpus.iter().enumerate().take(100) {
        let other = "青龙满族自治县市场监督管理局";
        // Every figure changes except the reporting year (a copy keeps a plausible year).
        let year = row.year.to_string();
        let copied: String = text
            .replace(name.as_str(), other)
            .replace(&year, "\u{E000}")
            .chars()
            .map(|c| match c.to_digit(10) {
                Some(d) => char::from_digit((d + 3) % 10, 10).unwrap_or(c),
                None => c,
            })
            .collect::<String>()
            .replace('\u{E000}', &year);
        let x = nianbao_extract::extract_text(&copied);
        let copy = ReportRow::from_extraction("c", "c", "", 0, &x);
        if row.fingerprint.shingles < sim.min_shingles {
            continue;
        }
        let jac = row.fingerprint.jaccard(&copy.fingerprint);
        min_copy_j = min_copy_j.min(jac);
        if jac < 0.97 {
            println!(
                "low copy {k} {jac:.3} name={name} extracted={:?} / {:?}",
                row.agency_name, copy.agency_name
            );
        }
        max_copy_h = max_copy_h.max(row.fingerprint.hamming(&copy.fingerprint));
        assert!(
            sim.near_identical(&copy.fingerprint, &row.fingerprint)
                .is_some(),
            "copy of report {k} not flagged (jaccard {jac:.3}, hamming {})",
            row.fingerprint.hamming(&copy.fingerprint)
        );
    }
    println!("copies: min jaccard {min_copy_j:.3}, max hamming {max_copy_h}");
}
