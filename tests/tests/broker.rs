//! The broker side of identity and TLS, against a real RabbitMQ node (one shared node, a private
//! vhost per test): `amqps://` verified against the node's CA, and a broker user per service
//! that may do exactly what its service does (`nianbao_bus::grants`, imported as definitions the
//! way `deploy/local/run.sh` does).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeleteOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, ConnectionProperties};
use nianbao_bus::{Bus, BusError, Envelope, QueueSpec, Stage};
use nianbao_e2e::pipeline::{Vhost, fast_bus};
use nianbao_e2e::shared_broker;

/// A raw lapin connection over TLS trusting the node's CA: to try what the `Bus` would never do.
async fn raw(vhost: &Vhost, url: &str) -> lapin::Connection {
    let tls = lapin::tcp::OwnedTLSConfig {
        cert_chain: Some(std::fs::read_to_string(&vhost.ca_file).unwrap()),
        identity: None,
    };
    lapin::Connection::connect_with_config(
        url,
        ConnectionProperties::default(),
        tls,
        lapin::runtime::default_runtime().unwrap(),
    )
    .await
    .unwrap()
}

/// Publishes with a confirm; `Err` with the broker's reason when the channel is closed on it.
async fn try_publish(conn: &lapin::Connection, exchange: &str, key: &str) -> Result<(), String> {
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let confirm = ch
        .basic_publish(
            ShortString::from(exchange),
            ShortString::from(key),
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    confirm.await.map(|_| ()).map_err(|e| e.to_string())
}

async fn try_consume(conn: &lapin::Connection, queue: &str) -> Result<(), String> {
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.basic_consume(
        ShortString::from(queue),
        ShortString::from("probe"),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

fn refused(r: Result<(), String>, what: &str) {
    let e = r.expect_err(what);
    assert!(
        e.contains("ACCESS_REFUSED") || e.contains("403"),
        "{what}: {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_user_may_do_only_what_its_service_does() {
    let broker = shared_broker();
    let vhost = broker.new_vhost(true).unwrap();
    // The administrator's one-time setup (`nianbao broker setup`).
    Bus::connect(&fast_bus(&vhost.amqp), "setup")
        .await
        .unwrap()
        .close()
        .await;

    // Through the Bus, as the service runs: it connects, finds its queue, publishes its events.
    let cfg = vhost.service_bus("extraction");
    let bus = Bus::connect(&cfg, "extraction").await.unwrap();
    bus.declare(&QueueSpec::new("nianbao.extraction", &[]))
        .await
        .unwrap();
    let env = Envelope::default();
    bus.publish(Stage::Extracted, "390100", b"x", &env)
        .await
        .unwrap();
    bus.publish(Stage::Failed, "390100", b"x", &env)
        .await
        .unwrap();
    // Not someone else's event: the broker refuses it (and the bus stays usable).
    let e = bus
        .publish(Stage::Validated, "390100", b"x", &env)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("ACCESS_REFUSED"), "{e}");
    assert!(!e.to_string().contains(&cfg.url), "no password in {e}");
    bus.publish(Stage::Extracted, "390100", b"x", &env)
        .await
        .unwrap();
    bus.close().await;

    // The raw protocol, as a compromised worker would use it.
    let url = &vhost.services["extraction"];
    let conn = raw(&vhost, url).await;
    try_consume(&conn, "nianbao.extraction").await.unwrap();
    refused(
        try_consume(&conn, "nianbao.notification").await,
        "consume another service's queue",
    );
    refused(
        try_consume(&conn, "nianbao.extraction.parked").await,
        "drain its own parking lot (an operator's job)",
    );
    refused(
        try_publish(&conn, "", "nianbao.notification").await,
        "publish straight to a queue through the default exchange",
    );
    refused(
        try_publish(
            &conn,
            "nianbao.validation.requeue",
            "nianbao.validation.parked",
        )
        .await,
        "publish through another service's requeue exchange",
    );
    try_publish(
        &conn,
        "nianbao.extraction.requeue",
        "nianbao.extraction.parked",
    )
    .await
    .unwrap();
    let ch = conn.create_channel().await.unwrap();
    refused(
        ch.queue_delete(
            ShortString::from("nianbao.validation"),
            QueueDeleteOptions::default(),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string()),
        "delete a queue",
    );
    let _ = conn.close(200, ShortString::from("done")).await;

    // Ingest also consumes the broker's dead letters; notification publishes only `notified`.
    let ingest = raw(&vhost, &vhost.services["ingest"]).await;
    try_consume(&ingest, "nianbao.dead").await.unwrap();
    refused(
        try_publish(&ingest, "nianbao.events", "report.extracted.390100").await,
        "ingest publishing an extraction",
    );
    let _ = ingest.close(200, ShortString::from("done")).await;

    // A service user may not declare the topology: with declare_topology on, connecting fails
    // with the broker's reason rather than half-declaring.
    let declaring = nianbao_bus::BusConfig {
        declare_topology: true,
        ..vhost.service_bus("notification")
    };
    let Err(e) = Bus::connect(&declaring, "notification").await else {
        panic!("a service user declared the topology");
    };
    assert!(e.to_string().contains("ACCESS_REFUSED"), "{e}");
}

/// Before the administrator's setup, a service without the right to declare says what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_user_before_the_setup_is_told_to_run_it() {
    let vhost = shared_broker().new_vhost(true).unwrap();
    let bus = Bus::connect(&vhost.service_bus("validation"), "validation")
        .await
        .unwrap();
    let e = bus
        .declare(&QueueSpec::new("nianbao.validation", &[]))
        .await
        .unwrap_err();
    assert!(matches!(e, BusError::MissingQueue(_)), "{e:?}");
    assert!(e.to_string().contains("nianbao broker setup"), "{e}");
    bus.close().await;
}

/// `amqps://` with the node's CA works end to end; without it the certificate is not trusted; a
/// cleartext URL to a host that is not loopback is refused before connecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_is_verified_against_the_configured_ca() {
    let broker = shared_broker();
    let vhost = broker.new_vhost(false).unwrap();
    let tls_url = broker
        .amqps_url
        .replace("/%2f", &format!("/{}", vhost.name));
    let trusted = nianbao_bus::BusConfig {
        ca_file: vhost.ca_file.display().to_string(),
        ..fast_bus(&tls_url)
    };
    let bus = Bus::connect(&trusted, "tls").await.unwrap();
    let queue = format!("tls-probe-{}", nianbao_e2e::unique_suffix());
    let (mut rx, _stop) =
        nianbao_e2e::bus::collect(&bus, &queue, &[Stage::Received.routing_key("390100")]).await;
    bus.publish(Stage::Received, "390100", b"over tls", &Envelope::default())
        .await
        .unwrap();
    let got = nianbao_e2e::bus::next(&mut rx, 10).await;
    assert_eq!(got.body, b"over tls");
    bus.close().await;

    let untrusted = fast_bus(&tls_url);
    let Err(e) = Bus::connect(&untrusted, "tls").await else {
        panic!("connected without trusting the CA");
    };
    // At once, naming the cause (not lapin's minutes of silent reconnection attempts).
    let text = e.to_string();
    assert!(text.contains("TLS handshake"), "{e}");
    assert!(text.to_lowercase().contains("certificate"), "{e}");
}
