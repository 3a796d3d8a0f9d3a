//! The official 2021 format of the 政府信息公开工作年度报告 (国办公开办函〔2021〕30号) as Rust types.
//!
//! # Layout
//! - [`agency`]: what an agency's name says about its kind and level, the one place every crate
//!   (rules, directory) decides it.
//! - [`cells`]: canonical cell ids of 表二 (`A01`–`A10`), 表三 (`R01`–`R25` × 7 columns) and 表四
//!   (`D01`–`D15`), with their official labels. Everything else names cells through these enums, never
//!   through bare indices.
//! - [`report`]: what extraction yields from one document: agency, year, template, the parts found with
//!   their text, and the three tables.
//! - [`finding`]: rule ids of the catalogue, severities, and a finding with its location.
//! - [`json`]: the JSON shapes of `nianbao extract --json` and `nianbao check --json` (`contract.md`).
//!
//! This crate does no I/O: it is shared by the extractor, the rules, the CLI and the services.

pub mod agency;
pub mod cells;
pub mod finding;
pub mod json;
pub mod report;
pub mod stored;

pub use agency::{AgencyKind, AgencyLevel, AgencyProfile};
pub use cells::{T2Cell, T2Row, T3Col, T3Row, T4Cell, T4Group, T4Result};
pub use finding::{Finding, RuleId, Severity};
pub use report::{
    Cell, Extraction, LabelDeviation, Part, PartSpan, SourceLocation, Table2, Table3, Table4,
    Template, TextLine,
};
pub use stored::StoredFinding;
