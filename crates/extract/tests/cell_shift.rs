//! One-cell-per-line tables (web copies): a stray blank cell between a 表三 row label and its seven
//! values must not push the values one column to the right (seen on a （四）无法提供 row).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_model::json::extract_record;
use serde_json::Value;
use std::path::PathBuf;

fn fixture() -> (String, Value) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let text = std::fs::read_to_string(dir.join("layouts/cells-web.txt")).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    (text, expected["layouts"]["cells-web.txt"]["table3"].clone())
}

fn table3(text: &str) -> Value {
    let x = nianbao_extract::extract_text(text);
    extract_record("cells", &x)["table3"].clone()
}

/// Inserts a blank cell (`\u{a0} `) right after the line that holds `label`.
fn blank_after(text: &str, label: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        out.push_str(line);
        if line.trim().starts_with(label) {
            out.push_str("\n\u{a0} \n");
        }
    }
    out
}

#[test]
fn the_fixture_reads_as_expected() {
    let (text, want) = fixture();
    assert_eq!(table3(&text), want);
}

/// "5.属于三类内部事务信息" already has a blank cell of its own (its third value): a stray blank in
/// front of it leaves that one in place.
/// "5.属于三类内部事务信息" already has a blank cell of its own (its third value): a stray blank in
/// front of its values leaves that one in place.
#[test]
fn a_stray_blank_cell_before_seven_values_does_not_shift_the_row() {
    let (text, want) = fixture();
    for label in [
        "1.本机关不掌握相关政府信息",
        "2.没有现成信息需要另行制作",
        "(一)予以公开",
        "5.属于三类内部事务信息",
    ] {
        let shifted = blank_after(&text, label);
        assert!(shifted.len() > text.len(), "{label} not in the fixture");
        let got = table3(&shifted);
        for (row, w) in want.as_object().unwrap() {
            assert_eq!(&got[row], w, "{label}: row {row}");
        }
    }
}
