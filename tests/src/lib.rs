//! Harness for the cross-service tests (filled in with the pipeline).
