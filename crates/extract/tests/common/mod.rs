//! What the extractor's test binaries share: the real documents beside the checkout.

use std::path::PathBuf;

/// `../shared/<name>` beside the checkout (the real reports: `seeds`, `real`). Where it is absent
/// the test is skipped with a note, except under CI (`CI` set to `true` or `1`), where a missing
/// folder fails the test instead of letting it pass without checking anything.
pub fn shared_dir(name: &str) -> Option<PathBuf> {
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    shared_dir_under_ci(name, ci)
}

/// [`shared_dir`], with whether this is CI given.
pub fn shared_dir_under_ci(name: &str, ci: bool) -> Option<PathBuf> {
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
