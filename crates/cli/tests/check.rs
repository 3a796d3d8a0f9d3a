//! `nianbao check` end to end through the binary: the five real seeds, our layout fixtures and one
//! trigger/near-miss pair per rule; JSON Lines shape and exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;
use common::nianbao_split as nianbao;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../extract/tests/fixtures")
}

fn check_json(files: &[PathBuf]) -> (i32, Vec<Value>) {
    let mut args = vec!["check".to_string(), "--json".to_string()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = nianbao(&refs);
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    let recs: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), files.len());
    (code, recs)
}

/// Does `f` satisfy every field the expectation names?
fn matches(f: &Value, want: &Value) -> bool {
    want.as_object()
        .unwrap()
        .iter()
        .all(|(k, v)| k == "severity" || f.get(k) == Some(v))
}

fn serious(f: &Value) -> bool {
    f["severity"] == "error" || f["severity"] == "warning"
}

#[test]
fn seeds_give_exactly_their_expected_findings() {
    let Some(dir) = common::shared_dir("seeds") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 5);
    let (_, recs) = check_json(&files);
    let mut problems = Vec::new();
    for (path, rec) in files.iter().zip(&recs) {
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_extension("truth.json")).unwrap(),
        )
        .unwrap();
        let findings = rec["findings"].as_array().unwrap();
        let expected = truth["expected_findings"].as_array().unwrap();
        for want in expected {
            if !findings.iter().any(|f| matches(f, want)) {
                problems.push(format!("{}: missing {want}", path.display()));
            }
        }
        for f in findings.iter().filter(|f| serious(f)) {
            if !expected.iter().any(|w| matches(f, w)) {
                problems.push(format!("{}: false alarm {f}", path.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn layout_fixtures_report_only_their_blank_cells() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let layouts = expected["layouts"].as_object().unwrap();
    let files: Vec<PathBuf> = layouts
        .keys()
        .map(|k| fixtures().join("layouts").join(k))
        .collect();
    let (_, recs) = check_json(&files);
    let mut problems = Vec::new();
    for ((name, want), rec) in layouts.iter().zip(&recs) {
        let findings = rec["findings"].as_array().unwrap();
        let expected = want["findings"].as_array().unwrap();
        for w in expected {
            if !findings.iter().any(|f| matches(f, w)) {
                problems.push(format!("{name}: missing {w}"));
            }
        }
        for f in findings.iter().filter(|f| serious(f)) {
            if !expected.iter().any(|w| matches(f, w)) {
                problems.push(format!("{name}: unexpected {f}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_rule_fires_on_its_trigger_and_not_on_its_near_miss() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let rules = expected["rules"].as_object().unwrap();
    assert_eq!(rules.len(), 19, "one fixture pair per single-report rule");
    let mut problems = Vec::new();
    let clean = fixtures().join("rules/clean.txt");
    let (code, recs) = check_json(std::slice::from_ref(&clean));
    assert_eq!(code, 0);
    let serious_clean: Vec<&Value> = recs[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| serious(f))
        .collect();
    assert!(serious_clean.is_empty(), "clean fixture: {serious_clean:?}");
    for (rule, want) in rules {
        let trig = fixtures().join(format!("rules/{rule}.trigger.txt"));
        let near = fixtures().join(format!("rules/{rule}.clean.txt"));
        let (_, recs) = check_json(&[trig, near]);
        let fired = recs[0]["findings"].as_array().unwrap();
        if !fired.iter().any(|f| matches(f, want)) {
            problems.push(format!(
                "{rule}: trigger did not give {want}; got {fired:?}"
            ));
        }
        let near_findings = recs[1]["findings"].as_array().unwrap();
        if near_findings.iter().any(|f| f["rule"] == want["rule"]) {
            problems.push(format!("{rule}: near-miss fired: {near_findings:?}"));
        }
        if let Some(f) = near_findings.iter().find(|f| serious(f)) {
            problems.push(format!("{rule}: near-miss has {f}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn exit_codes_and_output_forms() {
    let clean = fixtures().join("rules/clean.txt");
    let broken = fixtures().join("rules/t3-balance.trigger.txt");
    let (code, out, _) = nianbao(&["check", clean.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("未发现问题"), "{out}");
    let (code, out, _) = nianbao(&["check", clean.to_str().unwrap(), broken.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("t3-balance") && out.contains("错误"), "{out}");
    let (code, _, err) = nianbao(&["check", "/nonexistent/report.txt"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"));
    let (code, _, _) = nianbao(&["check"]);
    assert_eq!(code, 2);
    let (code, out, _) = nianbao(&["extract", "--json", clean.to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["schema"], "nianbao.extract/v1");
    assert_eq!(v["table3"]["R01"][6], 39);
    assert_eq!(v["parts"], serde_json::json!([1, 2, 3, 4, 5, 6]));
    let (code, out, _) = nianbao(&["extract", clean.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("青河县自然资源局") && out.contains("表三"));
}

#[test]
fn severity_overrides_come_from_the_config_file() {
    let dir = std::env::temp_dir().join(format!("nianbao-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("rules.toml");
    std::fs::write(&cfg, "[severity]\n\"fee-statement-missing\" = \"error\"\n").unwrap();
    let file = fixtures().join("rules/fee-statement-missing.trigger.txt");
    let (code, _, _) = nianbao(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "a warning alone exits 0");
    let (code, out, _) = nianbao(&[
        "check",
        "--json",
        "--config",
        cfg.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"severity\":\"error\""));
    let _ = std::fs::remove_dir_all(Path::new(&dir));
}

#[test]
fn findings_in_a_pdf_or_web_page_say_where_to_look_in_it() {
    let dir = fixtures().join("formats");
    let name = "0003_cells_楚江省自然资源厅_2024";
    let (_, recs) = check_json(&[
        dir.join(format!("{name}.pdf")),
        dir.join(format!("{name}.gbk.html")),
        dir.join(format!("{name}.txt")),
    ]);
    let t4 = |r: &Value| -> Value {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "t4-total")
            .cloned()
            .unwrap()
    };
    assert_eq!(t4(&recs[0])["location"]["kind"], "page");
    assert_eq!(t4(&recs[1])["location"]["kind"], "table-row");
    assert!(
        t4(&recs[2]).get("location").is_none(),
        "text: the line is enough"
    );
    let (_, text, _) = nianbao(&[
        "check",
        &dir.join(format!("{name}.pdf")).display().to_string(),
    ]);
    assert!(text.contains("页）"), "{text}");
}

#[test]
fn synth_writes_every_format() {
    let tmp = std::env::temp_dir().join(format!("nianbao-synth-formats-{}", std::process::id()));
    for format in ["html", "html-gbk", "docx"] {
        let out = tmp.join(format);
        let (code, _, err) = nianbao(&[
            "synth",
            "--count",
            "2",
            "--out",
            &out.display().to_string(),
            "--format",
            format,
        ]);
        assert_eq!(code, 0, "{err}");
        let ext = if format == "docx" { "docx" } else { "html" };
        let files: Vec<PathBuf> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        assert_eq!(files.len(), 2, "{format}");
        let (_, recs) = check_json(&files);
        assert!(recs.iter().all(|r| r["agency"].is_string()), "{recs:?}");
    }
    let (code, _, err) = nianbao(&["synth", "--count", "1", "--out", "x", "--format", "pdf"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown format"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Without the real reports the seed test is skipped on a developer's machine, but fails under CI.
#[test]
fn a_missing_shared_folder_fails_under_ci_only() {
    assert_eq!(common::shared_dir_under_ci("no-such-folder", false), None);
    let under_ci = std::panic::catch_unwind(|| common::shared_dir_under_ci("no-such-folder", true));
    assert!(under_ci.is_err(), "CI=true must fail on a missing folder");
}

/// `docs/spec/` is a copy of `../shared/spec/` (the original, beside the repository): the two must
/// not drift apart.
#[test]
fn spec_copy_is_the_shared_spec() {
    let Some(shared) = common::shared_dir("spec") else {
        return;
    };
    let copy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/spec");
    for name in ["contract.md", "format-2021.md"] {
        let original = std::fs::read(shared.join(name)).unwrap();
        let ours = std::fs::read(copy.join(name)).unwrap();
        assert!(
            original == ours,
            "docs/spec/{name} differs from ../shared/spec/{name}: copy it again (and update the \
             sha256 in docs/spec/README.md)"
        );
    }
}
