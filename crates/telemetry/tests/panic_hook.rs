//! Panics go through the log (see `nianbao_telemetry::log_panics`). Its own test binary: the hook is
//! process-wide.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panic_is_logged_as_an_error_record_inside_its_span() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_writer(move || writer.clone())
        .finish();
    nianbao_telemetry::log_panics();
    let caught = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("bus.process", report_id = "r-42");
        let _enter = span.enter();
        std::panic::catch_unwind(|| panic!("broken table in {}", "file.docx"))
    });
    let _ = std::panic::take_hook();
    assert!(caught.is_err());
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let record: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(record["level"], "ERROR");
    assert_eq!(record["fields"]["message"], "panic");
    assert_eq!(
        record["fields"]["panic.message"],
        "broken table in file.docx"
    );
    let location = record["fields"]["panic.location"].as_str().unwrap();
    assert!(location.contains("panic_hook.rs:36:"), "{record}");
    assert_eq!(
        record["fields"]["thread"],
        "a_panic_is_logged_as_an_error_record_inside_its_span"
    );
    assert_eq!(record["span"]["report_id"], "r-42");
}
