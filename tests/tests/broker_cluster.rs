//! The pipeline on a three-node RabbitMQ cluster (private nodes on loopback, as a
//! `RabbitmqCluster` runs them in a province): the services are spread over the nodes, and midway
//! the node that leads the work queues is stopped and started again (#23 point 5, the broker
//! part). The quorum queues elect leaders on the other nodes meanwhile; services connected to the
//! stopped node reconnect when it is back. Afterwards every report is notified with the findings
//! `nianbao check` gives offline, and no report has two alerts of one kind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use nianbao_e2e::BrokerCluster;
use nianbao_e2e::offline::{offline, single_report};
use nianbao_e2e::pipeline::{Db, Pipeline};
use nianbao_model::Finding;
use nianbao_proto::v1::ListAlertsRequest;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The quorum queues of `vhost` and the node leading each, as `node` sees them.
fn leaders(cluster: &BrokerCluster, node: usize, vhost: &str) -> BTreeMap<String, String> {
    cluster.nodes[node]
        .rabbitmqctl(&["-q", "list_queues", "-p", vhost, "name", "type", "leader"])
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (name, kind, leader) = (f.next()?, f.next()?, f.next()?);
            (kind == "quorum").then(|| (name.to_string(), leader.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pipeline_rides_out_a_restart_of_the_node_leading_the_work_queues() {
    let mut cluster = BrokerCluster::start(3).unwrap();
    let mut p = Pipeline::new(&cluster.nodes[0], "cluster").await.unwrap();
    let vhost = p.vhost.name.clone();

    // Spread over the nodes: whichever node stops, some services lose their connection.
    let mut cfg = p.ingest_config(Db::Sqlite).unwrap();
    cfg.bus.url = cluster.url_on(&cfg.bus.url, 1);
    p.ingest_url = p
        .spawn("ingest", |l, s| {
            nianbao_ingest::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
    let mut cfg = p.validation_config(Db::Sqlite).unwrap();
    cfg.bus.url = cluster.url_on(&cfg.bus.url, 2);
    p.spawn("validation", |l, s| {
        nianbao_validation::run(cfg, l, s, Default::default())
    })
    .await
    .unwrap();
    let mut cfg = p.notification_config(Db::Sqlite).unwrap();
    cfg.bus.url = cluster.url_on(&cfg.bus.url, 0);
    p.notify_url = p
        .spawn("notification", |l, s| {
            nianbao_notification::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
    for node in [0, 2] {
        let mut cfg = p.extraction_config(&p.ingest_url, 8);
        cfg.bus.url = cluster.url_on(&cfg.bus.url, node);
        p.spawn("extraction", |l, s| {
            nianbao_extraction::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
    }

    let opts = nianbao_synth::SynthOptions {
        count: 120,
        seed: 23,
        ..Default::default()
    };
    let reports: Vec<(String, Vec<u8>)> = nianbao_synth::generate(&opts)
        .into_iter()
        .map(|r| (format!("{}.txt", r.name), r.bytes))
        .collect();
    let (first, second) = reports.split_at(reports.len() / 2);
    let mut ids = p.submit(first).await.unwrap();
    p.wait_status(&ids, &["notified"], Duration::from_secs(180))
        .await
        .unwrap();

    // Stop the node leading the extraction queue (the declaring node leads them all).
    let before = leaders(&cluster, 0, &vhost);
    let leader = before
        .get("nianbao.extraction")
        .expect("nianbao.extraction is a quorum queue")
        .clone();
    let down = cluster
        .index_of(&leader)
        .expect("the leader is one of ours");
    cluster.nodes[down].try_stop().unwrap();
    let witness = (down + 1) % 3;
    // The queues elect leaders among the nodes that are up.
    let mut moved = BTreeMap::new();
    for _ in 0..60 {
        moved = leaders(&cluster, witness, &vhost);
        if moved
            .get("nianbao.extraction")
            .is_some_and(|l| *l != leader)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_ne!(
        moved.get("nianbao.extraction"),
        Some(&leader),
        "no new leader while {leader} is down: {moved:?}"
    );
    // Reports keep coming while it is down; then it comes back.
    ids.extend(p.submit(second).await.unwrap());
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.nodes[down].restart().unwrap();

    let done = p
        .wait_status(&ids, &["notified"], Duration::from_secs(300))
        .await
        .unwrap();
    let mut problems = Vec::new();
    for ((name, bytes), r) in reports.iter().zip(&done) {
        let findings: Vec<Finding> = r
            .findings
            .iter()
            .map(|f| Finding::try_from(f).unwrap())
            .collect();
        if single_report(&findings) != offline(bytes) {
            problems.push(format!("{name}: findings differ from nianbao check"));
        }
    }
    let alerts = p
        .notification()
        .await
        .unwrap()
        .list_alerts(ListAlertsRequest {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let mut seen = BTreeSet::new();
    for a in &alerts {
        if !seen.insert((a.report_id.clone(), a.kind.clone())) {
            problems.push(format!("two {} alerts for {}", a.kind, a.report_id));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    p.shutdown().await.unwrap();
    drop(cluster);
}
