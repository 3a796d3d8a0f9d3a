//! `nianbao directory check` as an official runs it on the roster they saved from Excel: what would
//! be loaded, every bad row with its row number, exit 0 if the directory loads and 2 if not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;
use common::nianbao;
use std::path::{Path, PathBuf};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

#[test]
fn a_gbk_roster_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("roster.csv");
    std::fs::write(
        &csv,
        gbk("机关名称,上级单位,行政区划代码,类型,网址（专栏）,别名\r\n\
             清河县财政局,390121,390121,部门,https://www.qinghe.example.gov.cn/czj/,县财政局\r\n\
             清河县河西街道办事处,清河县人民政府办公室,390121,街道,,河西街道办事处\r\n\
             清河县人民政府,390100,390121,,,\r\n"),
    )
    .unwrap();
    let offices = repo("crates/directory/tests/fixtures/offices.toml");
    let (code, out) = nianbao(&[
        "directory",
        "check",
        offices.to_str().unwrap(),
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("办公室 3 个，机关 3 个（3 offices, 3 agencies）"),
        "{out}"
    );
    assert!(
        out.contains("390121         清河县人民政府办公室  2"),
        "{out}"
    );
    assert!(
        out.contains("390100         江州市人民政府办公室  1"),
        "{out}"
    );
    assert!(out.contains("人民政府（government）  1"), "{out}");
    assert!(out.contains("街道（street）  1"), "{out}");
    assert!(out.contains("结果：可以加载（loads）"), "{out}");
}

#[test]
fn bad_rows_are_listed_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("roster.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let s = wb.add_worksheet().set_name("机关").unwrap();
    let rows: [[&str; 4]; 5] = [
        ["机关名称", "主管办公室", "类型", "网址"],
        ["清河县财政局", "390121", "部门", ""],
        ["清河县林业局", "林业办", "部门", ""],
        ["", "390121", "部门", ""],
        ["清河县财政局", "390121", "部局", "qinghe.gov.cn"],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                s.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
    }
    wb.save(&book).unwrap();
    let offices = repo("crates/directory/tests/fixtures/offices.toml");
    let (code, out) = nianbao(&[
        "directory",
        "check",
        offices.to_str().unwrap(),
        book.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("错误 5 处（5 errors）"), "{out}");
    for want in [
        "〔机关〕 第3行：上级单位「林业办」不是名录中的办公室（unknown supervising office）",
        "〔机关〕 第4行：机关名称为空（empty name）",
        "〔机关〕 第5行：类型「部局」无法识别",
        "〔机关〕 第5行：网址「qinghe.gov.cn」不是以 http:// 或 https:// 开头的完整网址（bad URL）",
        "〔机关〕 第5行：「清河县财政局」在同一办公室下重复",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
    assert!(out.contains("结果：无法加载（does not load）"), "{out}");

    // A file that is not there: said, and exit 2.
    let (code, out) = nianbao(&["directory", "check", "/nonexistent/roster.xlsx"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot read the directory"), "{out}");
}

#[test]
fn the_shipped_directories_load() {
    let (code, out) = nianbao(&[
        "directory",
        "check",
        repo("deploy/directory/roster-example/directory.toml")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("办公室 4 个，机关 8 个（4 offices, 8 agencies）"),
        "{out}"
    );
    assert!(out.contains("忽略列 「备注」"), "{out}");
    let (code, out) = nianbao(&[
        "directory",
        "check",
        repo("deploy/directory/chujiang.toml").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
}

/// `deploy/directory/chujiang.toml` is exactly what `nianbao directory sample` writes from the
/// generator's province (and the k8s overlay's copy is the same file): regenerate it with
/// `nianbao directory sample --out deploy/directory/chujiang.toml` after changing the generator.
#[test]
fn the_committed_sample_directory_is_the_commands_output() {
    let (code, out) = nianbao(&["directory", "sample"]);
    assert_eq!(code, 0, "{out}");
    for committed in [
        "deploy/directory/chujiang.toml",
        "deploy/k8s/overlays/chujiang/directory.toml",
    ] {
        let text = std::fs::read_to_string(repo(committed)).unwrap();
        assert!(
            text == out,
            "{committed} is not the output of `nianbao directory sample`: regenerate it"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chujiang.toml");
    let (code, msg) = nianbao(&["directory", "sample", "--out", &file.display().to_string()]);
    assert_eq!(code, 0, "{msg}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), out);
    // And it loads, as `directory check` sees it.
    let (code, msg) = nianbao(&["directory", "check", &file.display().to_string()]);
    assert_eq!(code, 0, "{msg}");
    assert!(msg.contains("结果：可以加载（loads）"), "{msg}");
}
