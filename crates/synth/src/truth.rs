//! The `*.truth.json` record: what a correct extraction yields and what a correct check reports.
//!
//! The shape is the seeds' (`../shared/seeds/*.truth.json`); a typed struct keeps the field order of
//! the seeds when written, which a `serde_json::Value` (sorted keys) would not.

use crate::check::Expected;
use crate::defects::DefectKind;
use crate::values::{Tables, Val};
use nianbao_model::{T2Cell, T3Row, T4Cell};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub const TRUTH_SCHEMA: &str = "nianbao.truth/v1";
pub const NOTE: &str = "every error-severity finding beyond expected_findings is a false alarm; so is any warning not listed";

#[derive(Clone, Debug, Serialize)]
pub struct Truth {
    pub schema: &'static str,
    pub file: String,
    pub agency_any: Vec<String>,
    pub year: i32,
    pub template: &'static str,
    pub parts: Vec<u8>,
    pub table2: Option<BTreeMap<String, Value>>,
    pub table3: Option<BTreeMap<String, Vec<Value>>>,
    pub table4: Option<BTreeMap<String, Value>>,
    pub expected_findings: Vec<Expected>,
    pub note: &'static str,
    pub layout: String,
    pub defects: Vec<DefectKind>,
}

/// A count as the extractor reports it: integer when integral, the number written otherwise.
fn count(v: Val) -> Value {
    match v {
        Val::Blank => Value::Null,
        Val::Num(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Value::from(x as i64),
        Val::Num(x) => Value::from(x),
    }
}

/// The 万元 amount is always a float.
fn amount(v: Val) -> Value {
    match v {
        Val::Blank => Value::Null,
        Val::Num(x) => Value::from(x),
    }
}

pub fn table2(t: &Tables) -> BTreeMap<String, Value> {
    T2Cell::ALL
        .iter()
        .map(|c| {
            let v = if c.is_amount() {
                amount(t.t2(*c))
            } else {
                count(t.t2(*c))
            };
            (c.id().to_string(), v)
        })
        .collect()
}

pub fn table3(t: &Tables) -> BTreeMap<String, Vec<Value>> {
    T3Row::ALL
        .iter()
        .map(|r| {
            (
                r.id().to_string(),
                (0..7).map(|k| count(t.t3(*r, k))).collect(),
            )
        })
        .collect()
}

pub fn table4(t: &Tables) -> BTreeMap<String, Value> {
    T4Cell::ALL
        .iter()
        .map(|c| (c.id().to_string(), count(t.t4(*c))))
        .collect()
}

/// Pretty JSON with the seeds' one-space indentation.
pub fn to_pretty(t: &Truth) -> Result<Vec<u8>, serde_json::Error> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    t.serialize(&mut ser)?;
    Ok(buf)
}
