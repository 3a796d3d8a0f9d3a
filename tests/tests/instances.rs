//! Two instances of every service on one PostgreSQL database and one broker vhost (#23 point 3):
//! reports submitted through both ingests, extracted by workers of both, validated by both
//! validations at once, decided by one notification at a time. Pairs of near-identical reports
//! submitted at the same moment through different ingests must still see each other (the later
//! one gets `duplicate-peer`), no report gets two alerts, and when the notification instance that
//! holds the worker lease stops, the other takes over and the reports after it are notified too.
//! An alert stream opened on the instance that stands by receives what the other one creates.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_e2e::pipeline::{Db, Pipeline, alerts_by_report, listener};
use nianbao_e2e::shared_broker;
use nianbao_model::{Finding, RuleId};
use nianbao_proto::v1::ingest_client::IngestClient;
use nianbao_proto::v1::notification_client::NotificationClient;
use nianbao_proto::v1::{StreamAlertsRequest, SubmitReportRequest};
use nianbao_service::Shutdown;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A file name and its bytes.
type File = (String, Vec<u8>);

/// `pairs` synthetic reports, each with a copy whose agency names are replaced by a name no
/// directory knows: (original file name and bytes, copy file name and bytes).
fn pairs(n: usize, seed: u64) -> Vec<(File, File)> {
    let opts = nianbao_synth::SynthOptions {
        count: n,
        seed,
        ..Default::default()
    };
    nianbao_synth::generate(&opts)
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let stranger = format!("雷同测试{seed}第{i}号局");
            let mut text = r.text.clone();
            let mut names = vec![r.agency.name.clone()];
            names.extend(r.agency.short_name.clone());
            names.extend(r.agency.long_name.clone());
            // Longest first, so that a short form inside a long one is not replaced alone.
            names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
            for name in names {
                text = text.replace(&name, &stranger);
            }
            (
                (format!("{}.txt", r.name), r.bytes),
                (format!("copy-{}.txt", r.name), text.into_bytes()),
            )
        })
        .collect()
}

async fn submit(c: &mut IngestClient<nianbao_auth::AuthChannel>, r: &File) -> String {
    c.submit_report(SubmitReportRequest {
        content: r.1.clone(),
        file_name: r.0.clone(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .report_id
}

/// Submits each pair's two reports at the same moment, the original through `a` and the copy
/// through `b`; returns the pairs' report ids.
async fn submit_pairs(
    p: &Pipeline,
    a: &str,
    b: &str,
    pairs: &[(File, File)],
) -> Vec<(String, String)> {
    let token = p.security.operator.clone();
    let mut ca = IngestClient::new(p.channel_as(a, &token).await.unwrap());
    let mut cb = IngestClient::new(p.channel_as(b, &token).await.unwrap());
    let mut ids = Vec::new();
    for (orig, copy) in pairs {
        let (x, y) = tokio::join!(submit(&mut ca, orig), submit(&mut cb, copy));
        ids.push((x, y));
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_of_every_service_on_one_postgresql() {
    let mut p = Pipeline::new(shared_broker(), "instances").await.unwrap();
    let ingest = p.ingest_config(Db::Postgres).unwrap();
    let validation = p.validation_config(Db::Postgres).unwrap();
    let mut notification = p.notification_config(Db::Postgres).unwrap();
    // Short claims, so that the test does not wait long for a takeover.
    notification.lease_ttl_ms = 2_000;
    let notification_db = notification.database_url.clone();

    let ingest_a = {
        let c = ingest.clone();
        p.spawn("ingest", |l, s| {
            nianbao_ingest::run(c, l, s, Default::default())
        })
        .await
        .unwrap()
    };
    let ingest_b = {
        let c = ingest.clone();
        p.spawn("ingest", |l, s| {
            nianbao_ingest::run(c, l, s, Default::default())
        })
        .await
        .unwrap()
    };
    p.ingest_url = ingest_b.clone();
    for _ in 0..2 {
        let c = validation.clone();
        p.validation_url = p
            .spawn("validation", |l, s| {
                nianbao_validation::run(c, l, s, Default::default())
            })
            .await
            .unwrap();
    }
    for url in [&ingest_a, &ingest_b] {
        let c = p.extraction_config(url, 4);
        p.spawn("extraction", |l, s| {
            nianbao_extraction::run(c, l, s, Default::default())
        })
        .await
        .unwrap();
    }
    // Notification A first, with a stop of its own (the test stops it midway); then B.
    let (stop_a, shutdown_a) = Shutdown::new();
    let (l, url_a) = listener().await.unwrap();
    let url_a = url_a.replacen("http://", "https://", 1);
    let first = tokio::spawn(nianbao_notification::run(
        notification.clone(),
        l,
        shutdown_a,
        Default::default(),
    ));
    let db = nianbao_db::connect(&notification_db).await.unwrap();
    let mut leader = None;
    for _ in 0..100 {
        leader = nianbao_db::Lease::current(&db, nianbao_notification::leader::WORKER_LEASE)
            .await
            .ok()
            .flatten();
        if leader.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (first_holder, _) = leader.expect("notification A never claimed the worker lease");
    {
        let c = notification.clone();
        p.notify_url = p
            .spawn("notification", |l, s| {
                nianbao_notification::run(c, l, s, Default::default())
            })
            .await
            .unwrap();
    }
    let token = p.security.operator.clone();
    let mut on_b = p.notification().await.unwrap();
    let on_a = NotificationClient::new(p.channel_as(&url_a, &token).await.unwrap());

    // A stream on B, which stands by: it gets the alerts A creates.
    let mut stream = on_b
        .stream_alerts(StreamAlertsRequest {
            office_id: Some("province".into()),
            include_open: false,
        })
        .await
        .unwrap()
        .into_inner();

    // First wave: A decides.
    let wave1 = pairs(12, 71);
    let ids1 = submit_pairs(&p, &ingest_a, &ingest_b, &wave1).await;
    let flat1: Vec<String> = ids1
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    p.wait_status(&flat1, &["notified"], Duration::from_secs(180))
        .await
        .unwrap();
    let streamed = tokio::time::timeout(Duration::from_secs(20), stream.message())
        .await
        .expect("the standby instance's stream got nothing of what A created")
        .unwrap()
        .expect("the stream ended");
    assert_eq!(streamed.office_id, "province");
    drop(on_a);

    // A stops: it gives the lease up and B takes over.
    stop_a.fire();
    let stopped = tokio::time::timeout(Duration::from_secs(30), first).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "notification A did not stop cleanly: {stopped:?}"
    );
    let wave2 = pairs(12, 72);
    let ids2 = submit_pairs(&p, &ingest_b, &ingest_a, &wave2).await;
    let flat2: Vec<String> = ids2
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    p.wait_status(&flat2, &["notified"], Duration::from_secs(180))
        .await
        .unwrap();
    let (holder, _) = nianbao_db::Lease::current(&db, nianbao_notification::leader::WORKER_LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(holder, first_holder, "B never took the worker lease over");

    // Every pair: the later of the two saw the earlier one.
    let all: Vec<(String, String)> = ids1.iter().chain(&ids2).cloned().collect();
    let flat: Vec<String> = all
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    let reports = p.reports(&flat).await.unwrap();
    let by_id: BTreeMap<&str, &nianbao_proto::v1::Report> =
        reports.iter().map(|r| (r.report_id.as_str(), r)).collect();
    let peers = |id: &str| -> bool {
        by_id[id]
            .findings
            .iter()
            .map(|f| Finding::try_from(f).unwrap())
            .any(|f| f.rule == RuleId::DuplicatePeer)
    };
    let missed: Vec<&(String, String)> =
        all.iter().filter(|(a, b)| !peers(a) && !peers(b)).collect();
    assert!(
        missed.is_empty(),
        "pairs validated without seeing each other: {missed:?}"
    );

    // No report has two alerts of one kind; every report with an error has its alert.
    let alerts = alerts_by_report(&mut on_b).await.unwrap();
    for id in &flat {
        let list = alerts.get(id).map(Vec::as_slice).unwrap_or(&[]);
        let kinds: BTreeSet<&str> = list.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(
            kinds.len(),
            list.len(),
            "duplicate alerts for {id}: {list:?}"
        );
        let has_error = by_id[id.as_str()]
            .findings
            .iter()
            .map(|f| Finding::try_from(f).unwrap())
            .any(|f| f.severity == nianbao_model::Severity::Error);
        if has_error {
            assert!(kinds.contains("findings"), "no alert for {id} with errors");
        }
    }
    // Arrival numbers stayed unique across the two validation instances.
    let orders = nianbao_db::query_scalar::<i64>(
        "SELECT COUNT(*) - COUNT(DISTINCT received_order) FROM validated",
    )
    .fetch_one(&nianbao_db::connect(&validation.database_url).await.unwrap())
    .await
    .unwrap();
    assert_eq!(orders, 0, "two reports got one arrival number");
    p.shutdown().await.unwrap();
}
