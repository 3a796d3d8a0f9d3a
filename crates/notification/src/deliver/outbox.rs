//! `outbox`: one JSON line per notice appended to `<data_dir>/outbox.jsonl`; `stdout`: the same
//! line on standard output. Both are written at once (no background task, no retries).

use super::sender::{DeliverError, Deliverer};
use tokio::io::AsyncWriteExt;

impl Deliverer {
    /// Appends whole lines to the outbox file, in one write (one blocking task, not one per
    /// file operation), so that a reader never sees half a line from two writers.
    pub(super) async fn append_outbox(&self, lines: String) -> Result<(), DeliverError> {
        let _guard = self.outbox_lock.lock().await;
        let path = self.outbox.clone();
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write as _;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            f.write_all(lines.as_bytes())?;
            f.flush()
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        written.map_err(|source| DeliverError::Outbox {
            path: self.outbox.display().to_string(),
            source,
        })
    }

    /// Writes whole lines to standard output.
    pub(super) async fn write_stdout(&self, lines: &str) -> Result<(), DeliverError> {
        let mut out = tokio::io::stdout();
        let written = async {
            out.write_all(lines.as_bytes()).await?;
            out.flush().await
        };
        written.await.map_err(DeliverError::Stdout)
    }
}
