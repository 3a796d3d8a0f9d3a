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
