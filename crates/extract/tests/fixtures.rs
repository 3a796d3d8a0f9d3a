//! Our own fixtures (`fixtures/make_fixtures.py`): one report with non-zero tables in every text
//! layout and encoding, plus a 2019-template report, must extract to exactly the same values.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_model::json::extract_record;
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

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
fn every_layout_and_encoding_extracts_the_same_values() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let layouts = expected["layouts"].as_object().unwrap();
    assert!(layouts.len() >= 13);
    let mut failures = Vec::new();
    for (name, want) in layouts {
        let bytes = std::fs::read(fixtures().join("layouts").join(name)).unwrap();
        let x = nianbao_extract::extract_bytes(&bytes);
        let got = extract_record(name, &x);
        for k in ["agency", "year", "template", "parts", "table2", "table4"] {
            if !same(&got[k], &want[k]) {
                failures.push(format!("{name}: {k}: got {} want {}", got[k], want[k]));
            }
        }
        for (row, w) in want["table3"].as_object().unwrap() {
            if !same(&got["table3"][row], w) {
                failures.push(format!(
                    "{name}: table3 {row}: got {} want {w}",
                    got["table3"][row]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn encodings_are_detected_from_content() {
    for (name, enc) in [
        ("tab.txt", "UTF-8"),
        ("tab-utf8-bom.txt", "UTF-8"),
        ("tab-gb18030.txt", "gb18030"),
        ("tab-utf16le-bom.txt", "UTF-16LE"),
        ("tab-utf16be-bom.txt", "UTF-16BE"),
        ("tab-utf16le-nobom.txt", "UTF-16LE"),
    ] {
        let bytes = std::fs::read(fixtures().join("layouts").join(name)).unwrap();
        let x = nianbao_extract::extract_bytes(&bytes);
        assert_eq!(x.source_kind, format!("text/{enc}"), "{name}");
    }
}
