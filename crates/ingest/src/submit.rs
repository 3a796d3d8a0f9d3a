//! Group commit for `SubmitReport`.
//!
//! Storing a report costs two inserts, a publish with its confirm and the outbox mark. Done per
//! request, the cost is dominated by round trips (commits, the broker's confirms), not by
//! work. Requests therefore go through one writer task that takes whatever submissions are waiting,
//! stores them with one multi-row insert per table, publishes their `report.received` events
//! concurrently, marks the confirmed ones with one update, and only then answers each request: the
//! same guarantees as one at a time (stored before the answer, published or left to the outbox
//! loop), with a few round trips per batch instead of per report.

use crate::outbox::publish_unmarked;
use crate::store::{ReportRow, Store, StoreError};
use nianbao_bus::Bus;
use tokio::sync::{mpsc, oneshot};

/// Submissions stored in one batch, at most.
const MAX_BATCH: usize = 64;
/// Bytes of content stored in one batch, at most (a batch always takes at least one submission).
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// What the writer answers: whether the row was new (else a re-submission of a stored report).
pub type Stored = Result<bool, StoreError>;

struct Submission {
    row: ReportRow,
    content: Vec<u8>,
    reply: oneshot::Sender<Stored>,
}

/// The handle request handlers use; cheap to clone.
#[derive(Clone)]
pub struct Submitter {
    tx: mpsc::Sender<Submission>,
}

/// Why a submission was not stored by the writer.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the ingest writer has stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Submitter {
    /// Starts the writer task; it ends when every `Submitter` clone is dropped.
    pub fn start(store: Store, bus: Bus) -> Submitter {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(store, bus, rx));
        Submitter { tx }
    }

    /// Stores `row` with its bytes and publishes its `report.received`; `Ok(false)` for a report id
    /// already stored (nothing is published again here).
    pub async fn submit(&self, row: ReportRow, content: Vec<u8>) -> Result<bool, SubmitError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Submission {
                row,
                content,
                reply,
            })
            .await
            .map_err(|_| SubmitError::Stopped)?;
        match answer.await {
            Ok(stored) => Ok(stored?),
            Err(_) => Err(SubmitError::Stopped),
        }
    }
}

async fn writer(store: Store, bus: Bus, mut rx: mpsc::Receiver<Submission>) {
    while let Some(first) = rx.recv().await {
        let mut bytes = first.content.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(s) => {
                    bytes += s.content.len();
                    batch.push(s);
                }
                Err(_) => break,
            }
        }
        write_batch(&store, &bus, batch).await;
    }
}

async fn write_batch(store: &Store, bus: &Bus, batch: Vec<Submission>) {
    let items: Vec<(&ReportRow, &[u8])> = batch
        .iter()
        .map(|s| (&s.row, s.content.as_slice()))
        .collect();
    let inserted = match store.insert_many(&items).await {
        Ok(ids) => ids,
        Err(e) => {
            let reason = e.to_string();
            tracing::error!(error = %reason, reports = batch.len(), "could not store submitted reports");
            for s in batch {
                let _ = s.reply.send(Err(StoreError::Batch(reason.clone())));
            }
            return;
        }
    };
    let mut seen = std::collections::HashSet::new();
    let new_rows: Vec<&ReportRow> = batch
        .iter()
        .map(|s| &s.row)
        .filter(|r| inserted.contains(&r.report_id) && seen.insert(r.report_id.as_str()))
        .collect();
    let confirmed = publish_unmarked(bus, &new_rows).await;
    if !confirmed.is_empty()
        && let Err(e) = store.mark_published_many(&confirmed).await
    {
        // Published but not marked: the outbox loop publishes them once more, which consumers
        // tolerate (the message id is the idempotency key).
        tracing::warn!(error = %e, "could not mark reports as published");
    }
    // The same bytes for the same agency twice in one batch: only the first is new.
    let mut answered = std::collections::HashSet::new();
    for s in batch {
        let new = inserted.contains(&s.row.report_id) && answered.insert(s.row.report_id.clone());
        if new {
            tracing::debug!(report_id = %s.row.report_id, region = %s.row.region, "report received");
        }
        let _ = s.reply.send(Ok(new));
    }
}
