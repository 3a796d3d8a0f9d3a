//! `nianbao credentials issue --directory`: what an operator issues is what the services will
//! know: an office or agency of the directory, an agency stored by its id.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;
use common::nianbao;

const DIRECTORY: &str = r#"
default_office = "city"

[[offices]]
id = "city"
name = "江州市人民政府办公室"
level = "city"

[[offices]]
id = "390121"
name = "清河县人民政府办公室"
level = "county"
parent = "city"

[[offices]]
id = "390122"
name = "安平县人民政府办公室"
level = "county"
parent = "city"

[[agencies]]
name = "城关镇人民政府"
office = "390121"
region = "390121"

[[agencies]]
name = "城关镇人民政府"
office = "390122"
region = "390122"

[[agencies]]
name = "清河县财政局"
office = "390121"
"#;

#[test]
fn issued_subjects_are_checked_against_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("directory.toml");
    std::fs::write(&dir, DIRECTORY).unwrap();
    let creds = tmp.path().join("credentials.toml");
    let (d, c) = (dir.to_str().unwrap(), creds.to_str().unwrap());
    let issue = |extra: &[&str]| {
        let mut args = vec!["credentials", "issue", "--file", c, "--directory", d];
        args.extend_from_slice(extra);
        nianbao(&args)
    };

    // A shared name is not enough: the answer lists the ids to choose from.
    let (code, out) = issue(&["--agency", "城关镇人民政府"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("390121/城关镇人民政府") && out.contains("390122/城关镇人民政府"),
        "{out}"
    );
    let (code, out) = issue(&["--agency", "不存在的局"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("不在机关名录中"), "{out}");
    let (code, out) = issue(&["--office", "390199"]);
    assert_ne!(code, 0, "{out}");

    let (code, out) = issue(&["--agency", "390122/城关镇人民政府"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = issue(&["--agency", "清河县财政局", "--name", "张三"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = issue(&["--office", "390121"]);
    assert_eq!(code, 0, "{out}");
    let stored = std::fs::read_to_string(&creds).unwrap();
    assert!(
        stored.contains("subject = \"390122/城关镇人民政府\""),
        "{stored}"
    );
    assert!(stored.contains("subject = \"清河县财政局\""), "{stored}");
    assert!(!stored.contains("不存在"), "{stored}");
}
