//! The JSON Lines records of `nianbao extract --json` and `nianbao check --json` (`contract.md` §2–3).

use crate::cells::{T2Cell, T3Row, T4Cell};
use crate::finding::Finding;
use crate::report::{Cell, Extraction};
use serde_json::{Map, Value, json};

pub const EXTRACT_SCHEMA: &str = "nianbao.extract/v1";
pub const CHECK_SCHEMA: &str = "nianbao.check/v1";

/// A count as a JSON integer when it is one, else as the number written (so that a fractional or
/// negative count stays visible); blank or unreadable → `null`.
fn count_value(c: &Cell) -> Value {
    match c.value {
        Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Value::from(v as i64),
        Some(v) => json!(v),
        None => Value::Null,
    }
}

/// An amount (万元) is always a JSON float.
fn amount_value(c: &Cell) -> Value {
    match c.value {
        Some(v) => json!(v),
        None => Value::Null,
    }
}

/// The `extract` record for one file.
pub fn extract_record(file: &str, x: &Extraction) -> Value {
    let table2 = x.table2.as_ref().map(|t| {
        let mut m = Map::new();
        for c in T2Cell::ALL {
            let v = if c.is_amount() {
                amount_value(t.get(c))
            } else {
                count_value(t.get(c))
            };
            m.insert(c.id().to_string(), v);
        }
        Value::Object(m)
    });
    let table3 = x.table3.as_ref().map(|t| {
        let mut m = Map::new();
        for r in T3Row::ALL {
            let row: Vec<Value> = t.row(r).iter().map(count_value).collect();
            m.insert(r.id().to_string(), Value::Array(row));
        }
        Value::Object(m)
    });
    let table4 = x.table4.as_ref().map(|t| {
        let mut m = Map::new();
        for c in T4Cell::ALL {
            m.insert(c.id().to_string(), count_value(t.get(c)));
        }
        Value::Object(m)
    });
    let mut rec = json!({
        "schema": EXTRACT_SCHEMA,
        "file": file,
        "agency": x.agency,
        "year": x.year,
        "template": x.template.as_str(),
        "parts": x.part_numbers(),
        "table2": table2,
        "table3": table3,
        "table4": table4,
        "source": x.source_kind,
    });
    if let (Some(reason), Some(m)) = (&x.unreadable, rec.as_object_mut()) {
        m.insert("unreadable".into(), Value::from(reason.clone()));
    }
    rec
}

/// The `check` record for one file. For HTML, DOCX and PDF every finding with a line also gets its
/// `location` in the original (`{"kind": "page", "page": 4}`, `{"kind": "table-row", …}`): the line
/// numbers of the flattened text mean nothing to the reader of the PDF.
pub fn check_record(file: &str, x: &Extraction, findings: &[Finding]) -> Value {
    let mut list = serde_json::to_value(findings).unwrap_or(Value::Array(Vec::new()));
    if let Value::Array(items) = &mut list {
        for (item, f) in items.iter_mut().zip(findings) {
            if let (Value::Object(m), Some(loc)) = (item, x.location_of_finding(f)) {
                m.insert(
                    "location".into(),
                    serde_json::to_value(loc).unwrap_or(Value::Null),
                );
            }
        }
    }
    json!({
        "schema": CHECK_SCHEMA,
        "file": file,
        "agency": x.agency,
        "year": x.year,
        "findings": list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Table2, Table3};
    use crate::{RuleId, T3Col};

    #[test]
    fn blank_is_null_and_integers_stay_integers() {
        let mut t3 = Table3::default();
        *t3.get_mut(T3Row::R01, T3Col::Total) = Cell::number(5.0, Some(3));
        let mut t2 = Table2::default();
        *t2.get_mut(T2Cell::A10) = Cell::number(96171.6, None);
        let x = Extraction {
            table2: Some(t2),
            table3: Some(t3),
            ..Default::default()
        };
        let v = extract_record("a.txt", &x);
        assert_eq!(v["schema"], EXTRACT_SCHEMA);
        assert_eq!(v["table3"]["R01"][6], 5);
        assert!(v["table3"]["R01"][0].is_null());
        assert_eq!(v["table2"]["A10"], 96171.6);
        assert!(v["table4"].is_null());
        assert!(v["agency"].is_null());
        let c = check_record("a.txt", &x, &[Finding::new(RuleId::T3Balance, "m")]);
        assert_eq!(c["findings"][0]["rule"], "t3-balance");
        assert!(c["findings"][0].get("location").is_none());
        let mut pdf = x.clone();
        pdf.locations = vec![crate::SourceLocation::Page { page: 3 }; 4];
        let f = Finding::new(RuleId::T3Balance, "m").line(Some(2));
        let c = check_record("a.pdf", &pdf, &[f]);
        assert_eq!(c["findings"][0]["location"]["kind"], "page");
        assert_eq!(c["findings"][0]["location"]["page"], 3);
    }
}
