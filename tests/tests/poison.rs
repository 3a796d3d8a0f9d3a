//! Oversized and poison output against a real broker (one shared node, a private vhost per test):
//! an extraction too large for an event fails its report at once; a publisher channel the broker
//! closed is reopened; a message the workers kept dying on (`x-delivery-limit`) fails its report;
//! a report row that cannot be published does not hold up the rows behind it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
};
use lapin::types::FieldTable;
use lapin::{ConnectionProperties, ExchangeKind};
use nianbao_bus::{Bus, Envelope, Stage};
use nianbao_e2e::pipeline::{Db, Pipeline, fast_bus};
use nianbao_e2e::shared_broker;
use std::time::{Duration, Instant};

fn sample(name: &str) -> (String, Vec<u8>) {
    let path = nianbao_e2e::repo_root().join("deploy/samples").join(name);
    (name.to_string(), std::fs::read(path).unwrap())
}

const SAMPLE: &str = "0004_tab_安平县城东街道办事处_2023.txt";
const SAMPLE2: &str = "0008_tab_临江区临江街道办事处_2024.txt";
const SAMPLE3: &str = "0014_cells_鼓楼区新华街道办事处_2020.txt";
const SAMPLE4: &str = "0030_web_云阳市自然资源局_2024.txt";

async fn start_ingest(p: &mut Pipeline, cfg: nianbao_ingest::Config) {
    p.ingest_url = p
        .spawn("ingest", |l, s| {
            nianbao_ingest::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
}

async fn raw_channel(url: &str) -> (lapin::Connection, lapin::Channel) {
    let conn = lapin::Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    (conn, ch)
}

/// (a) The limit is checked before publishing: the report fails at once with the reason (no
/// retries: the worker counted none), the received event is parked, the worker stays ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extraction_above_the_event_limit_fails_its_report_at_once() {
    let mut p = Pipeline::new(shared_broker(), "oversized").await.unwrap();
    let cfg = p.ingest_config(Db::Sqlite).unwrap();
    start_ingest(&mut p, cfg).await;
    let mut cfg = p.extraction_config(&p.ingest_url, 4);
    cfg.max_event_bytes = 2048; // a report's extraction is tens of KB
    let stats = std::sync::Arc::new(nianbao_extraction::Stats::default());
    let worker_stats = stats.clone();
    let worker = p
        .spawn("extraction", move |l, s| {
            nianbao_extraction::run(
                cfg,
                l,
                s,
                nianbao_extraction::Deps {
                    stats: worker_stats,
                    ..Default::default()
                },
            )
        })
        .await
        .unwrap();
    let ids = p.submit(&[sample(SAMPLE)]).await.unwrap();
    let reports = p
        .wait_status(&ids, &["failed"], Duration::from_secs(20))
        .await
        .unwrap();
    let reason = &reports[0].failure_reason;
    assert!(reason.contains("max_event_bytes = 2048"), "{reason}");
    assert!(reason.contains("抽取结果过大"), "{reason}");
    assert_eq!(
        stats.retried.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "retried"
    );
    let bus = Bus::connect(&fast_bus(&p.amqp), "test").await.unwrap();
    nianbao_e2e::bus::wait_len(&bus, "nianbao.extraction.parked", 1, 10).await;
    assert_eq!(bus.queue_len("nianbao.extraction").await.unwrap(), 0);
    // Still ready (health SERVING): nothing about one report makes the worker unready.
    let tls = p.security.client(&p.security.operator);
    nianbao_e2e::pipeline::wait_serving_with(&worker, "", Duration::from_secs(5), &tls)
        .await
        .unwrap();
    bus.close().await;
    p.shutdown().await.unwrap();
}

/// (b) A publish to an exchange that is gone makes the broker close the publisher channel
/// (NOT_FOUND); the bus opens a new one, stays ready, and the next publish goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_channel_closed_by_the_broker_is_reopened() {
    let url = shared_broker().new_vhost_url().unwrap();
    let bus = Bus::connect(&fast_bus(&url), "test").await.unwrap();
    let (conn, ch) = raw_channel(&url).await;
    ch.exchange_delete("nianbao.events".into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
    let env = Envelope {
        message_id: "r1:v1:received".into(),
        traceparent: None,
    };
    let err = bus
        .publish(Stage::Received, "110000", b"x", &env)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NOT_FOUND"), "{err}");
    assert!(bus.publisher_reopened() >= 1);
    assert!(bus.is_connected(), "the reopened publisher counts as ready");
    // The exchange back (as an operator would restore it): publishing works again.
    restore_exchange(&ch).await;
    bus.publish(Stage::Received, "110000", b"x", &env)
        .await
        .unwrap();
    assert_eq!(bus.queue_len("nianbao.extraction").await.unwrap(), 1);
    let _ = conn.close(200, "done".into()).await;
    bus.close().await;
}

/// Declares the events exchange again with the binding of `nianbao.extraction`.
async fn restore_exchange(ch: &lapin::Channel) {
    ch.exchange_declare(
        "nianbao.events".into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        "nianbao.extraction".into(),
        "nianbao.events".into(),
        "report.received.*".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
}

/// (c) A worker that dies holding the message, again and again: past the delivery limit the broker
/// dead-letters it, and ingest marks the report failed, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_redelivered_past_the_delivery_limit_fails_its_report() {
    let mut p = Pipeline::new_with(shared_broker(), "poison", |bus| bus.delivery_limit = 2)
        .await
        .unwrap();
    let cfg = p.ingest_config(Db::Sqlite).unwrap();
    start_ingest(&mut p, cfg).await;
    let ids = p.submit(&[sample(SAMPLE)]).await.unwrap();
    // The "worker": takes the message and dies (its channel closes without an ack).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut taken = 0;
    loop {
        let (conn, ch) = raw_channel(&p.amqp).await;
        let got = ch
            .basic_get(
                "nianbao.extraction".into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .unwrap();
        let _ = conn.close(320, "worker died".into()).await;
        match got {
            Some(_) => taken += 1,
            None if taken > 0 => break,
            None => {}
        }
        assert!(
            Instant::now() < deadline,
            "still delivered after {taken} deaths"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(taken >= 2, "dead-lettered after {taken} deliveries");
    let reports = p
        .wait_status(&ids, &["failed"], Duration::from_secs(20))
        .await
        .unwrap();
    let reason = &reports[0].failure_reason;
    assert!(reason.contains("delivery limit (2)"), "{reason}");
    assert!(reason.contains("nianbao.extraction"), "{reason}");
    assert!(reason.contains("多次中断"), "{reason}");
    // The dead letter itself is kept for an operator.
    let mut bus_cfg = fast_bus(&p.amqp);
    bus_cfg.delivery_limit = 2; // as declared
    let bus = Bus::connect(&bus_cfg, "test").await.unwrap();
    nianbao_e2e::bus::wait_len(&bus, "nianbao.dead.parked", 1, 10).await;
    assert_eq!(bus.queue_len("nianbao.dead").await.unwrap(), 0);
    bus.close().await;
    p.shutdown().await.unwrap();
}

/// (d) While the events exchange is gone, four reports wait in the outbox; the oldest row is then
/// damaged in the database. Once the broker takes messages again the two others are
/// published and the damaged one is given up, marked failed — before, the damaged row made every
/// round fail and nothing was published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_outbox_row_does_not_hold_up_the_others() {
    let mut p = Pipeline::new(shared_broker(), "outbox").await.unwrap();
    let mut cfg = p.ingest_config(Db::Sqlite).unwrap();
    cfg.republish_interval_ms = 300;
    let db_url = cfg.database_url();
    start_ingest(&mut p, cfg).await;
    p.ingest().await.unwrap();
    // The exchange gone: every report.received is refused (NOT_FOUND).
    let (conn, ch) = raw_channel(&p.amqp).await;
    ch.exchange_delete("nianbao.events".into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for s in [SAMPLE, SAMPLE2, SAMPLE3, SAMPLE4] {
        ids.extend(p.submit(&[sample(s)]).await.unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let db = nianbao_db::connect(&db_url).await.unwrap();
    let waiting: Vec<String> = nianbao_db::query_scalar(
        "SELECT report_id FROM reports WHERE published = 0 ORDER BY received_at_ms",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(waiting.len(), 4, "{waiting:?}");
    let damaged = waiting[0].clone();
    nianbao_db::query("UPDATE reports SET year = 'corrupt' WHERE report_id = $1")
        .bind(damaged.clone())
        .execute(&db)
        .await
        .unwrap();
    // The exchange back, as an operator would restore it.
    restore_exchange(&ch).await;
    let _ = conn.close(200, "done".into()).await;
    let bus = Bus::connect(&fast_bus(&p.amqp), "test").await.unwrap();
    nianbao_e2e::bus::wait_len(&bus, "nianbao.extraction", 3, 20).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = nianbao_db::query(
            "SELECT report_id, published, status, failure_reason FROM reports ORDER BY received_at_ms",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        let state: Vec<(String, i64, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get("report_id").unwrap(),
                    r.try_get("published").unwrap(),
                    r.try_get("status").unwrap(),
                    r.try_get("failure_reason").unwrap(),
                )
            })
            .collect();
        let corrupt = state.iter().find(|s| s.0 == damaged).unwrap();
        let others_published = state.iter().filter(|s| s.0 != damaged).all(|s| s.1 == 1);
        if corrupt.1 == -1 && others_published {
            assert_eq!(corrupt.2, "failed");
            assert!(corrupt.3.contains("corrupt"), "{}", corrupt.3);
            assert!(corrupt.3.contains("报告记录已损坏"), "{}", corrupt.3);
            break;
        }
        assert!(Instant::now() < deadline, "{state:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(bus.queue_len("nianbao.extraction").await.unwrap(), 3);
    assert_eq!(ids.len(), 4);
    db.close().await;
    bus.close().await;
    p.shutdown().await.unwrap();
}
