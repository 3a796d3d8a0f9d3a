//! The harness itself against real servers: a shared and an owned RabbitMQ node, owned and shared
//! PostgreSQL clusters. Needs `rabbitmq-server` and PostgreSQL installed (see the crate docs).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::net::TcpStream;
use std::path::Path;

use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use nianbao_e2e::{
    Broker, Postgres, init_test_tracing, new_database, shared_broker, shared_postgres,
    unique_suffix,
};

/// The port of a `scheme://user@127.0.0.1:PORT/...` URL.
fn port_of(url: &str) -> u16 {
    let after_host = url.split("@127.0.0.1:").nth(1).unwrap();
    after_host.split('/').next().unwrap().parse().unwrap()
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Whether a process runs (a zombie, left by a PID 1 that does not reap, does not count).
fn process_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn queue_names(broker: &Broker) -> Vec<String> {
    broker
        .rabbitmqctl(&["-q", "list_queues", "name", "messages"])
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn shared_broker_answers_rabbitmqctl_status() {
    init_test_tracing();
    let broker = shared_broker();
    assert!(
        broker.amqp_url.starts_with("amqp://guest:guest@127.0.0.1:"),
        "{}",
        broker.amqp_url
    );
    assert!(listening(port_of(&broker.amqp_url)));
    let status = broker.rabbitmqctl(&["-q", "status"]).unwrap();
    assert!(status.contains("RabbitMQ version: 3."), "{status}");
    assert!(status.contains("Node name: nianbao-"), "{status}");
}

#[tokio::test]
async fn lapin_declares_and_deletes_a_queue_on_the_shared_broker() {
    init_test_tracing();
    let broker = shared_broker();
    let conn = Connection::connect(&broker.amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let name = format!("e2e.harness.{}", unique_suffix());

    channel
        .queue_declare(
            name.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert!(queue_names(broker).contains(&name));

    channel
        .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    assert!(!queue_names(broker).contains(&name));
    conn.close(200, "done".into()).await.unwrap();
}

#[test]
fn an_owned_broker_is_stopped_and_removed_when_dropped() {
    init_test_tracing();
    let broker = Broker::start().unwrap();
    let port = port_of(&broker.amqp_url);
    let dir = broker.dir().to_path_buf();
    let pid: u32 = std::fs::read_to_string(dir.join("rabbit.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(listening(port));
    assert!(process_running(pid));
    assert_ne!(broker.amqp_url, shared_broker().amqp_url);

    drop(broker);
    assert!(!process_running(pid), "beam.smp {pid} still runs");
    assert!(!listening(port));
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

#[test]
fn postgres_creates_fresh_databases_and_stops() {
    init_test_tracing();
    let mut pg = Postgres::start().unwrap();
    let port = port_of(&pg.url);
    assert!(
        pg.url.starts_with("postgres://postgres@127.0.0.1:"),
        "{}",
        pg.url
    );
    assert!(listening(port));

    let a = new_database(&pg, "harness").unwrap();
    let b = new_database(&pg, "harness").unwrap();
    assert_ne!(a, b);
    let name_a = a.rsplit('/').next().unwrap();
    assert_eq!(
        pg.psql(&a, "select current_database()").unwrap().trim(),
        name_a
    );
    pg.psql(&b, "create table t (x int); insert into t values (42)")
        .unwrap();
    assert_eq!(pg.psql(&b, "select x from t").unwrap().trim(), "42");

    let dir = pg.dir().to_path_buf();
    pg.try_stop().unwrap();
    pg.try_stop().unwrap(); // idempotent
    assert!(!listening(port));
    assert!(pg.psql("postgres", "select 1").is_err());
    drop(pg);
    assert!(!Path::new(&dir).exists());
}

#[test]
fn shared_postgres_serves_databases() {
    init_test_tracing();
    let pg = shared_postgres();
    let url = new_database(pg, "shared").unwrap();
    assert_eq!(pg.psql(&url, "select 1 + 1").unwrap().trim(), "2");
}

/// A service of a test pipeline that fails is named with its error while the test waits (not after
/// a timeout), and again by the shutdown; a pipeline whose services all stop cleanly shuts down Ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_service_of_a_test_pipeline_is_reported() {
    use nianbao_e2e::pipeline::{Db, Pipeline};
    use std::time::{Duration, Instant};

    let mut p = Pipeline::new(shared_broker(), "harness").await.unwrap();
    let cfg = p.ingest_config(Db::Sqlite).unwrap();
    p.ingest_url = p
        .spawn("ingest", |l, s| {
            nianbao_ingest::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();
    let mut cfg = p.notification_config(Db::Sqlite).unwrap();
    cfg.directory = p.dir.join("no-such-directory.toml").display().to_string();
    p.notify_url = p
        .spawn("notification", |l, s| {
            nianbao_notification::run(cfg, l, s, Default::default())
        })
        .await
        .unwrap();

    let start = Instant::now();
    let err = loop {
        if let Err(e) = p.wait_status(&[], &["notified"], Duration::ZERO).await {
            break e;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no failure seen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let err = format!("{err:#}");
    assert!(err.starts_with("notification failed: "), "{err}");
    assert!(err.contains("no-such-directory.toml"), "{err}");
    assert!(p.notification().await.is_err());

    let err = format!("{:#}", p.shutdown().await.unwrap_err());
    assert!(err.starts_with("notification failed: "), "{err}");
    assert!(!err.contains("ingest"), "ingest stopped cleanly: {err}");

    let p = Pipeline::new(shared_broker(), "harness").await.unwrap();
    p.shutdown().await.unwrap();
}
