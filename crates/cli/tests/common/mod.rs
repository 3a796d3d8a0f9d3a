//! What the CLI's test binaries share: running the `nianbao` binary as a user would.

#![allow(clippy::unwrap_used, dead_code)] // each test binary uses part of it

use std::process::Command;

/// Runs `nianbao ARGS`: exit code, standard output, standard error.
pub fn nianbao_split(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nianbao"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `nianbao ARGS`: exit code, and standard output followed by standard error.
pub fn nianbao(args: &[&str]) -> (i32, String) {
    let (code, out, err) = nianbao_split(args);
    (code, out + &err)
}

/// `../shared/<name>` beside the checkout (the real reports: `seeds`, `real`). Where it is absent
/// the test is skipped with a note, except under CI (`CI` set to `true` or `1`), where a missing
/// folder fails the test instead of letting it pass without checking anything.
pub fn shared_dir(name: &str) -> Option<std::path::PathBuf> {
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    shared_dir_under_ci(name, ci)
}

/// [`shared_dir`], with whether this is CI given.
pub fn shared_dir_under_ci(name: &str, ci: bool) -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        !ci,
        "{} is missing: under CI the real reports must sit beside the checkout (../shared/{name})",
        dir.display()
    );
    eprintln!("note: ../shared/{name} not found; test skipped (it fails under CI=true)");
    None
}
