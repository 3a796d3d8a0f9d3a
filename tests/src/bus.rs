//! Bus helpers for tests: a consumer that collects what arrives on a test queue, and waits on
//! queue lengths. Panics are test failures here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nianbao_bus::{Bus, Handler, Message, Outcome, QueueSpec};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Forwards every delivery's body to a channel.
pub struct Collect(pub mpsc::UnboundedSender<Message>);

impl Handler for Collect {
    async fn handle(&self, msg: &Message) -> Outcome {
        let _ = self.0.send(msg.clone());
        Outcome::Done
    }
}

/// Declares `name` bound to `patterns` and collects its messages until the returned sender is
/// dropped or sent to.
pub async fn collect(
    bus: &Bus,
    name: &str,
    patterns: &[String],
) -> (
    mpsc::UnboundedReceiver<Message>,
    tokio::sync::oneshot::Sender<()>,
) {
    let spec = QueueSpec::new(name, patterns);
    bus.declare(&spec).await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let bus = bus.clone();
    tokio::spawn(async move {
        let _ = bus
            .consume(&spec, Arc::new(Collect(tx)), async {
                let _ = stop_rx.await;
            })
            .await;
    });
    (rx, stop_tx)
}

/// The next message within `secs` seconds.
pub async fn next(rx: &mut mpsc::UnboundedReceiver<Message>, secs: u64) -> Message {
    tokio::time::timeout(std::time::Duration::from_secs(secs), rx.recv())
        .await
        .expect("timed out waiting for a message")
        .expect("collector stopped")
}

/// Waits until `queue` holds `n` ready messages (or panics after `secs`).
pub async fn wait_len(bus: &Bus, queue: &str, n: u32, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let len = bus.queue_len(queue).await.unwrap_or(0);
        if len >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{queue} holds {len} messages, expected {n}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
