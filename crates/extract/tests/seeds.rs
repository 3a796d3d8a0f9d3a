//! The five real reports of `../shared/seeds`: every cell, agency, year, parts and template must equal
//! `*.truth.json`. Skipped (with a note) where the folder is not beside the checkout; under CI
//! (`CI=true`) its absence fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_model::json::extract_record;
use serde_json::Value;
use std::path::PathBuf;

mod common;

pub fn seeds_dir() -> Option<PathBuf> {
    common::shared_dir("seeds")
}

/// Compares numbers numerically (0 and 0.0 are the same cell value), everything else exactly.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn seeds_extract_to_their_truth() {
    let Some(dir) = seeds_dir() else {
        return;
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_extension("truth.json")).unwrap(),
        )
        .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let x = nianbao_extract::extract_bytes(&bytes);
        let got = extract_record(&path.display().to_string(), &x);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let agency_ok = truth["agency_any"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| *a == got["agency"]);
        if !agency_ok {
            failures.push(format!(
                "{name}: agency {} not in {}",
                got["agency"], truth["agency_any"]
            ));
        }
        for k in ["year", "template", "parts", "table2", "table4"] {
            if !same(&got[k], &truth[k]) {
                failures.push(format!("{name}: {k}: got {} want {}", got[k], truth[k]));
            }
        }
        for (row, want) in truth["table3"].as_object().unwrap() {
            if !same(&got["table3"][row], want) {
                failures.push(format!(
                    "{name}: table3 {row}: got {} want {}",
                    got["table3"][row], want
                ));
            }
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, 5);
}

/// Without the real reports a seed test is skipped on a developer's machine, but fails under CI.
#[test]
fn a_missing_shared_folder_fails_under_ci_only() {
    assert_eq!(common::shared_dir_under_ci("no-such-folder", false), None);
    let under_ci = std::panic::catch_unwind(|| common::shared_dir_under_ci("no-such-folder", true));
    assert!(under_ci.is_err(), "CI=true must fail on a missing folder");
}
