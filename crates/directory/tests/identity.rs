//! Agencies known by their id, not by the name a report prints (issue #22 point 1): two counties
//! each with a 城关镇人民政府, told apart by the submitter, the region given at submission, or
//! neither (then ambiguous, never the wrong one).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_directory::{Basis, Claims, Conflict, Directory, MatchKind};

const TOML: &str = r#"
default_office = "city"

[[offices]]
id = "city"
name = "江州市人民政府办公室"
level = "city"
region = "390100"

[[offices]]
id = "qinghe"
name = "清河县人民政府办公室"
level = "county"
region = "390121"
parent = "city"

[[offices]]
id = "anping"
name = "安平县人民政府办公室"
level = "county"
region = "390122"
parent = "city"

[[agencies]]
name = "城关镇人民政府"
aliases = ["城关镇"]
office = "qinghe"
region = "390121"

[[agencies]]
name = "城关镇人民政府"
aliases = ["城关镇"]
office = "anping"
region = "390122"

[[agencies]]
id = "11390122MB0000001X"
name = "安平县财政局"
office = "anping"
region = "390122"

[[agencies]]
name = "清河县财政局"
office = "qinghe"
region = "390121"
"#;

fn dir() -> Directory {
    Directory::from_toml(TOML).unwrap()
}

#[test]
fn agencies_sharing_a_name_get_ids_by_region_and_others_keep_theirs() {
    let d = dir();
    let ids: Vec<&str> = d.agencies().iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "390121/城关镇人民政府",
            "390122/城关镇人民政府",
            "11390122MB0000001X",
            "清河县财政局"
        ]
    );
    assert_eq!(
        d.agency_by_id("390122/城关镇人民政府").unwrap().office,
        "anping"
    );
    // The shared name alone names no agency.
    assert!(d.agency("城关镇人民政府").is_none());
    assert_eq!(d.agency("清河县财政局").unwrap().id, "清河县财政局");
}

#[test]
fn a_shared_name_without_regions_or_a_repeated_id_is_refused() {
    let no_region = TOML.replace(
        "region = \"390122\"\n\n[[agencies]]\nid",
        "\n[[agencies]]\nid",
    );
    let both = no_region.replacen("region = \"390121\"\n", "", 2);
    let e = Directory::from_toml(&both).unwrap_err().to_string();
    assert!(e.contains("同名"), "{e}");
    assert!(e.contains("城关镇人民政府"), "{e}");
    let twice = TOML.replace(
        "name = \"清河县财政局\"",
        "id = \"11390122MB0000001X\"\nname = \"清河县财政局\"",
    );
    let e = Directory::from_toml(&twice).unwrap_err().to_string();
    assert!(e.contains("appears twice"), "{e}");
}

#[test]
fn the_printed_name_alone_is_ambiguous_and_goes_up() {
    let d = dir();
    for printed in ["城关镇人民政府", "城关镇"] {
        let r = d.resolve(printed);
        assert_eq!(r.how, MatchKind::Default, "{printed}");
        assert_eq!(r.office.id, "city");
        assert!(r.note.unwrap().contains("多个机关"));
        assert_eq!(r.id, None);
    }
}

#[test]
fn the_region_given_at_submission_picks_the_county() {
    let d = dir();
    for (region, office) in [("390121", "qinghe"), ("390122", "anping")] {
        let r = d.resolve_in("城关镇", Some(region));
        assert_eq!(r.office.id, office);
        assert_eq!(r.id, Some(format!("{region}/城关镇人民政府").as_str()));
    }
    // A city code covers both counties: still ambiguous. The unknown region filters nothing.
    assert_eq!(d.resolve_in("城关镇", Some("390100")).id, None);
    assert_eq!(d.resolve_in("城关镇", Some("000000")).id, None);
}

#[test]
fn the_submitter_decides_and_a_different_printed_agency_is_a_conflict() {
    let d = dir();
    // An agency's credential names its id; the report prints only 城关镇: no conflict.
    let id = d.identify(&Claims {
        named: Some("390122/城关镇人民政府"),
        document: Some("城关镇"),
        ..Claims::default()
    });
    assert_eq!(id.agency.unwrap().id, "390122/城关镇人民政府");
    assert_eq!(id.basis, Basis::Submission);
    assert_eq!(id.route.office.id, "anping");
    assert!(id.conflicts.is_empty(), "{:?}", id.conflicts);

    // The report prints another agency's name: the submitter still decides, the mismatch is said.
    let id = d.identify(&Claims {
        named: Some("11390122MB0000001X"),
        document: Some("清河县财政局"),
        ..Claims::default()
    });
    assert_eq!(id.agency.unwrap().name, "安平县财政局");
    match id.conflicts.as_slice() {
        [c @ Conflict::Document { printed, .. }] => {
            assert_eq!(printed, "清河县财政局");
            let text = c.to_string();
            assert!(
                text.contains("不一致") && text.contains("安平县财政局"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }

    // A region that is not the named agency's is a conflict too.
    let id = d.identify(&Claims {
        named: Some("清河县财政局"),
        region: Some("390122"),
        document: None,
    });
    assert_eq!(id.agency.unwrap().name, "清河县财政局");
    assert!(matches!(id.conflicts.as_slice(), [Conflict::Region { .. }]));
}

#[test]
fn without_a_submitter_the_region_and_the_printed_name_decide() {
    let d = dir();
    let id = d.identify(&Claims {
        named: None,
        region: Some("390121"),
        document: Some("城关镇人民政府"),
    });
    assert_eq!(id.agency.unwrap().id, "390121/城关镇人民政府");
    assert_eq!(id.basis, Basis::Document);
    assert!(id.conflicts.is_empty());

    let id = d.identify(&Claims {
        document: Some("城关镇"),
        ..Claims::default()
    });
    assert!(id.agency.is_none());
    assert_eq!(id.basis, Basis::Unknown);
    assert_eq!(id.route.office.id, "city");

    // An unknown agency named at submission: said, and the printed name decides.
    let id = d.identify(&Claims {
        named: Some("不存在的局"),
        region: None,
        document: Some("清河县财政局"),
    });
    assert_eq!(id.agency.unwrap().name, "清河县财政局");
    assert_eq!(id.basis, Basis::Document);
    assert_eq!(
        id.conflicts,
        [Conflict::UnknownNamed("不存在的局".to_string())]
    );
}

#[test]
fn a_roster_lists_same_name_agencies_by_region_or_id_and_refuses_true_repeats() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/directory/roster-example");
    let tmp = tempfile::tempdir().unwrap();
    for f in ["directory.toml", "offices.csv"] {
        std::fs::copy(example.join(f), tmp.path().join(f)).unwrap();
    }
    let write = |rows: &str| {
        std::fs::write(
            tmp.path().join("agencies.csv"),
            format!("机关名称,上级单位,行政区划代码,机关代码\n{rows}"),
        )
        .unwrap();
        Directory::load(&tmp.path().join("directory.toml"))
    };
    let d = write(
        "城关镇人民政府,390121,390121,\n城关镇人民政府,390122,390122,\n\
         张集镇人民政府,390121,390121,A1\n张集镇人民政府,390121,390121,A2\n",
    )
    .unwrap();
    let id = |name: &str| d.agency_by_id(name).map(|a| a.office.clone());
    assert_eq!(id("390121/城关镇人民政府").as_deref(), Some("390121"));
    assert_eq!(id("390122/城关镇人民政府").as_deref(), Some("390122"));
    assert_eq!(id("A2").as_deref(), Some("390121"));

    let e = write("城关镇人民政府,390121,390121,\n城关镇人民政府,390122,390121,\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("第3行") && e.contains("行政区划代码或机关代码"),
        "{e}"
    );
}
