//! `nianbao submit --backfill` as a person runs it: the real binary against a real ingest (TLS,
//! credentials, a broker from the e2e harness). An operator backfills; an agency may not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_e2e::pipeline::{Db, Pipeline};
use nianbao_proto::v1::GetReportRequest;
use std::process::Command;

const SAMPLE: &str = "0030_web_云阳市自然资源局_2024.txt";
const AGENCY: &str = "云阳市自然资源局";

/// Runs `nianbao ARGS` against `p`'s ingest with `token`: exit code, stdout and stderr together.
async fn nianbao(p: &Pipeline, token: &str, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nianbao"));
    cmd.args(args)
        .env("NIANBAO_INGEST_URL", &p.ingest_url)
        .env("NIANBAO_CA", &p.security.ca)
        .env("NIANBAO_TOKEN", token)
        .env_remove("NIANBAO_TOKEN_FILE");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_backfill_and_agencies_may_not() {
    let mut p = Pipeline::new(nianbao_e2e::shared_broker(), "cli-backfill")
        .await
        .unwrap();
    p.start_ingest_and_validation(Db::Sqlite).await.unwrap();
    let mut ingest = p.ingest().await.unwrap();
    let file = nianbao_e2e::repo_root().join("deploy/samples").join(SAMPLE);
    let file = file.display().to_string();

    let operator = p.security.operator.clone();
    let (code, out) = nianbao(
        &p,
        &operator,
        &["submit", "--backfill", "--agency", AGENCY, &file],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("补录 backfill"), "{out}");
    let id = out.split_whitespace().next().unwrap().to_string();
    let r = ingest
        .get_report(GetReportRequest { report_id: id })
        .await
        .unwrap()
        .into_inner();
    assert!(r.backfill && r.agency_verified, "{r:?}");

    let agency = p.agency_token(AGENCY).unwrap();
    let (code, out) = nianbao(&p, &agency, &["submit", "--backfill", &file]).await;
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("只有运维人员或采集程序可以补录"), "{out}");
    assert!(
        out.contains("backfill is for operators and crawlers only"),
        "{out}"
    );
    // Without --backfill the agency's own submission is taken, and is no backfill: also the same
    // bytes the operator backfilled (its own report, not a duplicate of the copy).
    let other = file.clone();
    let (code, out) = nianbao(&p, &agency, &["submit", &other]).await;
    assert_eq!(code, 0, "{out}");
    let id = out.split_whitespace().next().unwrap().to_string();
    let r = ingest
        .get_report(GetReportRequest { report_id: id })
        .await
        .unwrap()
        .into_inner();
    assert!(!r.backfill && r.agency_verified, "{r:?}");
    p.shutdown().await.unwrap();
}

/// `nianbao status` writes a finding as the alerts do: `第三部分，单元格 …` (never `第3部分`), the
/// rule in brackets after it, and nothing empty for a finding without a location (the
/// cross-report `report-changed` of a second version).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_writes_findings_as_the_alerts_do() {
    const FILE: &str = "0047_prose_临江区财政局_2024.txt";
    let mut p = Pipeline::new(nianbao_e2e::shared_broker(), "cli-status")
        .await
        .unwrap();
    p.start_ingest_and_validation(Db::Sqlite).await.unwrap();
    let cfg = p.extraction_config(&p.ingest_url, 8);
    p.spawn("extraction", |l, s| {
        nianbao_extraction::run(cfg, l, s, Default::default())
    })
    .await
    .unwrap();
    let bytes = std::fs::read(nianbao_e2e::repo_root().join("deploy/samples").join(FILE)).unwrap();
    let mut second = bytes.clone();
    second.extend_from_slice("\n（更正版）\n".as_bytes());
    let ids = p
        .submit_as_agency(
            "临江区财政局",
            &[(FILE.to_string(), bytes), (FILE.to_string(), second)],
        )
        .await
        .unwrap();
    p.wait_status(
        &ids,
        &["validated", "notified"],
        std::time::Duration::from_secs(60),
    )
    .await
    .unwrap();
    let operator = p.security.operator.clone();
    let (code, out) = nianbao(&p, &operator, &["status", &ids[1]]).await;
    assert_eq!(code, 0, "{out}");
    let balance = out
        .lines()
        .find(|l| l.ends_with("[t3-balance]"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        balance.starts_with("  [错误] ") && balance.contains("（第三部分，单元格 R24（"),
        "{balance}"
    );
    let changed = out
        .lines()
        .find(|l| l.ends_with("[report-changed]"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(changed.starts_with("  ["), "{changed}");
    assert!(!out.contains("第3部分") && !out.contains("；）"), "{out}");
    // Errors first.
    let first = out.lines().find(|l| l.starts_with("  [")).unwrap();
    assert!(first.starts_with("  [错误]"), "{out}");
    p.shutdown().await.unwrap();
}
