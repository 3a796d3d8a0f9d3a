//! Bad input never panics: empty, binary, huge, truncated and damaged files, and arbitrary bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_extract::{Limits, extract_bytes, extract_bytes_with};
use proptest::prelude::*;
use std::path::PathBuf;

fn clean_report() -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules/clean.txt");
    std::fs::read(p).unwrap()
}

#[test]
fn empty_and_binary_inputs_are_unreadable() {
    for input in [
        &b""[..],
        b"   \n\n",
        &[0u8, 159, 146, 150, 0, 1, 2, 3][..],
        &[0xFFu8; 4096][..],
    ] {
        let x = extract_bytes(input);
        assert!(x.unreadable.is_some(), "{input:?}");
    }
    let png = [&b"\x89PNG\r\n\x1a\n"[..], &[7u8; 100][..]].concat();
    assert!(extract_bytes(&png).unreadable.unwrap().contains("图片"));
}

#[test]
fn a_50_mb_file_is_rejected_by_the_size_limit_without_reading_it() {
    let big: Vec<u8> = clean_report()
        .into_iter()
        .cycle()
        .take(50 * 1024 * 1024)
        .collect();
    let x = extract_bytes(&big);
    assert!(x.unreadable.as_deref().unwrap().contains("文件过大"));
}

#[test]
fn a_50_mb_file_under_a_raised_limit_is_read_to_the_end() {
    // The same report pasted many times: still one report's parts and tables, no panic.
    let big: Vec<u8> = clean_report()
        .into_iter()
        .cycle()
        .take(50 * 1024 * 1024)
        .collect();
    let x = extract_bytes_with(
        &big,
        &Limits {
            max_bytes: 64 * 1024 * 1024,
            ..Default::default()
        },
    );
    assert!(x.unreadable.is_none());
    assert_eq!(x.part_numbers(), vec![1, 2, 3, 4, 5, 6]);
    assert!(x.table3.is_some());
}

#[test]
fn a_truncated_report_keeps_what_is_there() {
    let text = String::from_utf8(clean_report()).unwrap();
    let cut = text.find("四、政府信息公开行政复议").unwrap();
    let x = extract_bytes(&text.as_bytes()[..cut]);
    assert_eq!(x.part_numbers(), vec![1, 2, 3]);
    assert!(x.table2.is_some() && x.table3.is_some() && x.table4.is_none());
    // cut in the middle of a multi-byte character and of a table row
    let mid = text.find("属于国家秘密").unwrap() + 4;
    let x = extract_bytes(&text.as_bytes()[..mid]);
    assert!(x.unreadable.is_none());
    assert_eq!(x.part_numbers(), vec![1, 2, 3]);
}

#[test]
fn invalid_utf8_inside_a_utf8_file_is_read_around() {
    let mut bytes = clean_report();
    for at in [100, 2000, 4000] {
        bytes.insert(at, 0xC3);
        bytes.insert(at + 1, 0x28);
    }
    let x = extract_bytes(&bytes);
    assert!(x.unreadable.is_none());
    assert_eq!(x.part_numbers(), vec![1, 2, 3, 4, 5, 6]);
    assert!(x.table3.is_some());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = extract_bytes(&bytes);
    }

    #[test]
    fn arbitrary_edits_of_a_real_report_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..40)
    ) {
        let mut bytes = clean_report();
        for (idx, b, op) in edits {
            if bytes.is_empty() { break; }
            let i = idx.index(bytes.len());
            match op {
                0 => bytes[i] = b,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, b),
            }
        }
        let _ = extract_bytes(&bytes);
    }

    #[test]
    fn arbitrary_text_lines_never_panic(lines in proptest::collection::vec("[一二三四五六七(（)）、.\\t 0-9a-z总计其他申请公开\u{a0}|—-]{0,40}", 0..80)) {
        let _ = extract_bytes(lines.join("\n").as_bytes());
    }
}
