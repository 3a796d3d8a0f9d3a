//! Properties of a generated corpus that hold whatever the extractor does: determinism, coverage of
//! layouts and defects, clean tables that satisfy the format, the seeds' truth shape, and text that
//! agrees with the tables.

use nianbao_synth::{
    DefectKind, Encoding, Layout, SynthOptions, SynthReport, generate, generate_one,
    provoked_rules, truth_relations_hold, write_corpus,
};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};

fn opts(count: usize, seed: u64, rate: f64) -> SynthOptions {
    SynthOptions {
        count,
        seed,
        defect_rate: rate,
        ..Default::default()
    }
}

#[test]
fn same_seed_gives_identical_bytes_and_truth() {
    let o = opts(60, 1234, 0.5);
    let a = generate(&o);
    let b = generate(&o);
    assert_eq!(a.len(), 60);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.name, y.name);
        assert_eq!(x.bytes, y.bytes);
        assert_eq!(x.truth, y.truth);
    }
    // Streaming one report gives the same as the batch.
    let one = generate_one(1234, 17, &o);
    assert_eq!(one.bytes, a[17].bytes);
    // Another seed gives another corpus.
    let c = generate(&opts(60, 1235, 0.5));
    assert!(a.iter().zip(&c).any(|(x, y)| x.bytes != y.bytes));
}

#[test]
fn a_thousand_reports_cover_every_layout_defect_encoding_and_rule() {
    let corpus = generate(&opts(1000, 2026, 0.3));
    let layouts: HashSet<Layout> = corpus.iter().map(|r| r.layout).collect();
    assert_eq!(layouts.len(), Layout::ALL.len());
    let defects: HashSet<DefectKind> = corpus
        .iter()
        .flat_map(|r| r.defects.iter().copied())
        .collect();
    for k in DefectKind::ALL {
        assert!(defects.contains(&k), "no {k} in 1000 reports");
    }
    let encodings: HashSet<Encoding> = corpus.iter().map(|r| r.encoding).collect();
    assert_eq!(encodings.len(), 4);
    let rules: HashSet<_> = corpus
        .iter()
        .flat_map(|r| r.expected.iter().map(|e| e.rule))
        .collect();
    for r in provoked_rules() {
        assert!(rules.contains(&r), "no expected {r} in 1000 reports");
    }
    let names: HashSet<&str> = corpus.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), corpus.len());
    let with_defects = corpus.iter().filter(|r| !r.defects.is_empty()).count();
    assert!((200..400).contains(&with_defects), "{with_defects}");
    let y2019 = corpus
        .iter()
        .filter(|r| r.truth["template"] == "2019")
        .count();
    assert!(y2019 > 50, "{y2019}");
    let levels: HashSet<_> = corpus
        .iter()
        .map(|r| (r.agency.level, r.agency.kind))
        .collect();
    assert!(levels.len() >= 7, "{levels:?}");
}

#[test]
fn clean_reports_expect_no_finding_and_keep_every_relation() {
    for r in generate(&opts(400, 7, 0.0)) {
        assert!(r.defects.is_empty());
        assert!(r.expected.is_empty(), "{}: {:?}", r.name, r.expected);
        assert!(truth_relations_hold(&r.truth), "{}", r.name);
        assert_eq!(r.truth["parts"], serde_json::json!([1, 2, 3, 4, 5, 6]));
        let old = r.year <= 2020;
        assert_eq!(r.truth["template"] == "2019", old, "{}", r.name);
    }
}

#[test]
fn defective_reports_list_a_finding_for_every_defect() {
    for r in generate(&opts(600, 99, 1.0)) {
        assert!(!r.defects.is_empty(), "{}", r.name);
        let rules: BTreeSet<&str> = r.expected.iter().map(|e| e.rule.as_str()).collect();
        for d in &r.defects {
            let want: &[&str] = match d {
                DefectKind::RowTotal => &["t3-row-total"],
                DefectKind::ResultTotal => &["t3-result-total"],
                DefectKind::Balance => &["t3-balance"],
                DefectKind::T4Total => &["t4-total"],
                DefectKind::MissingPart => &["part-missing"],
                DefectKind::MissingSubitem => &["subitem-missing"],
                DefectKind::MissingTable => &["table-missing"],
                DefectKind::MissingCell => &["cell-missing"],
                DefectKind::NegativeCount | DefectKind::FractionalCount => &["cell-invalid"],
                DefectKind::FeeInYuan => &["t2-fee-scale"],
                DefectKind::RegulationScope => &["t2-regulation-scope"],
                DefectKind::NoApplicationsClaim => &["narrative-table-mismatch"],
                DefectKind::StaleYear => &["year-mismatch"],
                DefectKind::NoRectification => &["rectification-missing"],
                DefectKind::NoFeeStatement => &["fee-statement-missing"],
                DefectKind::OutdatedTemplate => &["template-outdated"],
                DefectKind::LabelTypo => &["label-mismatch"],
                DefectKind::BlankTable => &["table-blank"],
                DefectKind::DecisionScale => &["t2-decision-scale"],
                DefectKind::DecisionText => &["narrative-table-mismatch"],
                DefectKind::FeeNoticeUnreported => &["fee-notice-missing"],
                DefectKind::FeeOverTable => &["fee-amount-mismatch"],
                DefectKind::ThinProblems => &["problems-thin"],
            };
            assert!(
                want.iter().all(|w| rules.contains(w)),
                "{}: {d} but {rules:?}",
                r.name
            );
        }
        // Nothing outside the catalogue of single-report rules, and never the carry-over warning,
        // whose location is not agreed.
        assert!(!rules.contains("t3-carryover-high"), "{}", r.name);
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn truth_has_the_shape_of_the_seeds() {
    // Under CI (`CI=true`) missing seeds fail the test instead of skipping it.
    let Some(seeds) = nianbao_e2e::seeds_dir() else {
        eprintln!("note: ../shared/seeds not found; test skipped (it fails under CI=true)");
        return;
    };
    let mut seed_truths: Vec<Value> = Vec::new();
    for e in std::fs::read_dir(&seeds).unwrap().flatten() {
        let p = e.path();
        if p.to_string_lossy().ends_with(".truth.json") {
            let s = std::fs::read_to_string(&p).unwrap();
            seed_truths.push(serde_json::from_str(&s).unwrap());
        }
    }
    let seed_keys = keys(
        seed_truths
            .first()
            .unwrap_or_else(|| panic!("no .truth.json in {}", seeds.display())),
    );
    for r in generate(&opts(200, 5, 0.5)) {
        let t = &r.truth;
        let ours = keys(t);
        let extra: Vec<_> = ours.difference(&seed_keys).collect();
        assert_eq!(extra, vec!["defects"], "{}", r.name);
        assert!(seed_keys.is_subset(&ours));
        assert_eq!(t["schema"], "nianbao.truth/v1");
        assert_eq!(t["file"], format!("{}.txt", r.name));
        assert!(t["agency_any"][0] == r.agency.name.as_str());
        for (table, n, arr) in [
            ("table2", 10, false),
            ("table3", 25, true),
            ("table4", 15, false),
        ] {
            let v = &t[table];
            if v.is_null() {
                continue;
            }
            assert_eq!(keys(v).len(), n);
            for (_, cell) in v.as_object().unwrap() {
                if arr {
                    assert_eq!(cell.as_array().unwrap().len(), 7);
                    assert!(
                        cell.as_array()
                            .unwrap()
                            .iter()
                            .all(|x| x.is_number() || x.is_null())
                    );
                } else {
                    assert!(cell.is_number() || cell.is_null());
                }
            }
        }
        if !t["table2"].is_null() && t["template"] == "2021" {
            // A float, or null where a missing-cell defect blanked it.
            assert!(t["table2"]["A10"].is_f64() || t["table2"]["A10"].is_null());
        }
        for f in t["expected_findings"].as_array().unwrap() {
            assert!(f["rule"].is_string() && f["severity"].is_string() && f["part"].is_u64());
        }
        for s in &seed_truths {
            for table in ["table2", "table3", "table4"] {
                if !t[table].is_null() {
                    assert_eq!(keys(&s[table]), keys(&t[table]));
                }
            }
        }
    }
}

/// Text with whitespace, NBSP and markdown emphasis removed and ASCII/full-width punctuation folded,
/// so phrases can be found whatever the layout did to them.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != '#')
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '，' => ',',
            '：' => ':',
            other => other,
        })
        .collect()
}

/// Numbers directly after `phrase` and before 件.
fn figures(text: &str, phrase: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(phrase) {
        rest = &rest[i + phrase.len()..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !digits.is_empty() && rest[digits.len()..].starts_with('件') {
            out.extend(digits.parse::<i64>().ok());
        }
    }
    out
}

/// Part 一 of a rendered report: from the last 一、总体情况 heading to 二、…
fn part1(r: &SynthReport) -> String {
    let lines: Vec<String> = r.text.lines().map(squash).collect();
    let start = lines.iter().rposition(|l| l == "一、总体情况");
    let later = [
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "四、政府信息公开行政复议、行政诉讼情况",
        "五、存在的主要问题及改进情况",
        "六、其他需要报告的事项",
    ];
    let end = lines.iter().position(|l| later.contains(&l.as_str()));
    match start {
        Some(s) => lines[s + 1..end.unwrap_or(lines.len()).max(s + 1)].concat(),
        None => String::new(),
    }
}

fn count_figures(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    (1..chars.len())
        .filter(|&i| chars[i] == '件' && chars[i - 1].is_ascii_digit())
        .count()
}

#[test]
fn text_figures_agree_with_the_tables() {
    for r in generate(&opts(500, 31, 0.4)) {
        let t = &r.truth;
        let p1 = part1(&r);
        if p1.is_empty() {
            continue;
        }
        let claim = r.defects.contains(&DefectKind::NoApplicationsClaim);
        let mut known = 0;
        for (phrase, want) in [
            ("共收到政府信息公开申请", t["table3"]["R01"][6].as_i64()),
            ("办结", t["table3"]["R24"][6].as_i64()),
            ("行政复议", t["table4"]["D05"].as_i64()),
            (
                "行政诉讼",
                t["table4"]["D10"]
                    .as_i64()
                    .zip(t["table4"]["D15"].as_i64())
                    .map(|(a, b)| a + b),
            ),
            ("制发行政规范性文件", t["table2"]["A04"].as_i64()),
        ] {
            for v in figures(&p1, phrase) {
                known += 1;
                if !t["table3"].is_null() && !t["table4"].is_null() && !t["table2"].is_null() {
                    assert_eq!(Some(v), want, "{}: {phrase}{v}件", r.name);
                }
            }
        }
        assert_eq!(
            count_figures(&p1),
            known,
            "{}: a figure outside the agreed phrases",
            r.name
        );
        if p1.contains("未收到政府信息公开申请") && !claim && !t["table3"].is_null() {
            assert_eq!(t["table3"]["R01"][6], 0, "{}", r.name);
        }
        let prev = format!("{}年", r.year - 1);
        assert_eq!(
            p1.contains(&prev),
            r.defects.contains(&DefectKind::StaleYear),
            "{}",
            r.name
        );
        if r.layout == Layout::Prose {
            assert!(!r.text.contains('\t'), "{}", r.name);
        }
        // Narrative lines never carry tabs: a tab line is a table row (no sentence end in it).
        for l in r.text.lines().filter(|l| l.contains('\t')) {
            assert!(!l.contains('。'), "{}: {l}", r.name);
        }
    }
}

#[test]
fn write_corpus_writes_text_and_truth_pairs() {
    let dir = std::env::temp_dir().join(format!("nianbao-synth-test-{}", std::process::id()));
    let o = opts(12, 3, 0.5);
    let n = write_corpus(&o, &dir).unwrap();
    assert_eq!(n, 12);
    let reports = generate(&o);
    for r in &reports {
        let bytes = std::fs::read(dir.join(format!("{}.txt", r.name))).unwrap();
        assert_eq!(bytes, r.bytes);
        let s = std::fs::read_to_string(dir.join(format!("{}.truth.json", r.name))).unwrap();
        assert!(s.starts_with("{\n \"schema\": \"nianbao.truth/v1\",\n \"file\": "));
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v, r.truth);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn layouts_parse_from_the_command_line() {
    assert_eq!(
        Layout::parse_list("tab,cells, prose").unwrap(),
        vec![Layout::Tab, Layout::Cells, Layout::Prose]
    );
    assert!("pdf".parse::<Layout>().is_err());
    let only = SynthOptions {
        layouts: vec![Layout::Prose],
        ..opts(20, 1, 0.3)
    };
    assert!(generate(&only).iter().all(|r| r.layout == Layout::Prose));
}
