//! A service stopped while its broker is unreachable stops cleanly: no thread panics afterwards.
//! (lapin's connection retries sleep on the Tokio timer from a thread of their own; they used to
//! panic there once the service's runtime had shut down.) Its own test binary: it installs a panic
//! hook, which is process-wide.

use nianbao_bus::BusConfig;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

#[test]
fn stopping_while_the_broker_is_unreachable_panics_no_thread() {
    let panics = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = panics.clone();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(format!("{thread}: {info}"));
    }));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = BusConfig {
        url: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
        ..BusConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (stop, stopped) = nianbao_service::Shutdown::new();
        let connecting = tokio::spawn(async move {
            nianbao_service::connect_bus(&cfg, "nianbao-test", None, stopped)
                .await
                .is_some()
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.fire();
        assert!(!connecting.await.unwrap(), "connected to a closed port");
    });
    drop(rt);
    // A retry thread left behind would wake within its backoff (at most 1 s) on a runtime that is gone.
    std::thread::sleep(Duration::from_millis(2500));
    let _ = std::panic::take_hook();
    let panics = panics.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(panics.is_empty(), "threads panicked: {panics:?}");
}
