//! The sample directory `deploy/directory/chujiang.toml` against the generator's province
//! (`nianbao_synth::directory`): every agency the generator can write a report for resolves, by its
//! name and by the short and long forms its reports use, to the office the generator says supervises
//! it.
//!
//! The sample is written from the synth directory by `nianbao directory sample --out
//! deploy/directory/chujiang.toml` (`crates/cli/src/directory.rs`; the CLI's tests check that the
//! committed file is that command's output).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_directory::{AgencyKind, Directory, MatchKind};
use nianbao_synth::directory::{Kind, Level, directory};
use std::collections::HashMap;
use std::path::PathBuf;

fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/directory/chujiang.toml")
}

/// The office id of the office named `name` in the generated province.
fn office_ids() -> HashMap<String, String> {
    let d = directory();
    let mut ids = HashMap::new();
    ids.insert(
        "国务院办公厅政府信息与政务公开办公室".to_string(),
        "state-council".to_string(),
    );
    for r in &d.regions {
        let name = match r.level {
            Level::Province => format!("{}人民政府办公厅", r.name),
            _ => format!("{}人民政府办公室", r.name),
        };
        let id = if r.level == Level::Province {
            "province".to_string()
        } else {
            r.code.clone()
        };
        ids.insert(name, id);
    }
    ids
}

#[test]
fn sample_covers_every_generated_agency() {
    let dir = Directory::load(&sample_path()).unwrap();
    let ids = office_ids();
    let mut checked = 0;
    for a in &directory().agencies {
        let want = &ids[&a.supervisor];
        let r = dir.resolve(&a.name);
        assert_eq!(r.how, MatchKind::Name, "{}", a.name);
        let listed = dir.agency(&a.name).unwrap();
        assert_eq!(listed.kind, Some(kind_of(a.kind)), "{}", a.name);
        assert_eq!(listed.kind(), AgencyKind::guess(&a.name), "{}", a.name);
        assert_eq!(&r.office.id, want, "{}", a.name);
        assert_eq!(r.office.name, a.supervisor, "{}", a.name);
        for other in a.acceptable_names() {
            let r = dir.resolve(&other);
            assert_eq!(r.agency, Some(a.name.as_str()), "{other} → {r:?}");
            assert_eq!(&r.office.id, want, "{other}");
        }
        checked += 1;
    }
    assert_eq!(checked, directory().agencies.len());
    assert_eq!(dir.agencies().len(), directory().agencies.len());
    assert_eq!(dir.default_office().id, "province");
}

#[test]
fn forms_seen_in_titles_resolve_too() {
    let dir = Directory::load(&sample_path()).unwrap();
    // The county in front of a 街道 dropped, 办事处 dropped, the city added, spaces and full width.
    for (query, want) in [
        ("河西街道", "清河县河西街道办事处"),
        ("江州市清河县河西街道办事处", "清河县河西街道办事处"),
        ("清河县 人民政府", "清河县人民政府"),
        ("江州市清河县人民政府", "清河县人民政府"),
        ("楚江省 江州市人民政府", "江州市人民政府"),
        ("高桥镇", "南岭县高桥镇人民政府"),
    ] {
        assert_eq!(dir.resolve(query).agency, Some(want), "{query}");
    }
    let r = dir.resolve("北京市朝阳区人民政府");
    assert_eq!(
        (r.office.id.as_str(), r.how),
        ("province", MatchKind::Default)
    );
}

fn kind_of(k: Kind) -> AgencyKind {
    match k {
        Kind::Government => AgencyKind::Government,
        Kind::Department => AgencyKind::Department,
        Kind::Town | Kind::Xiang => AgencyKind::Township,
        Kind::Street => AgencyKind::Street,
    }
}

#[test]
fn sample_deadlines() {
    let dir = Directory::load(&sample_path()).unwrap();
    let d = |n: &str| dir.deadline(dir.agency(n).unwrap(), 2025).to_string();
    assert_eq!(d("清河县财政局"), "2026-01-31");
    assert_eq!(d("清河县人民政府"), "2026-03-31");
    assert_eq!(d("清河县河西街道办事处"), "2026-02-28");
    assert_eq!(d("南岭县高桥镇人民政府"), "2026-02-28");
}
