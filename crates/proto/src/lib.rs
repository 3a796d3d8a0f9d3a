//! nianbao.v1: the gRPC services (Ingest, Validation, Notification) and the event messages carried on
//! RabbitMQ, generated from `proto/nianbao/v1/*.proto`, plus conversions from the domain model.

#[allow(clippy::all, clippy::pedantic, missing_docs, rust_2018_idioms)]
pub mod v1 {
    tonic::include_proto!("nianbao.v1");
}

/// The encoded descriptor set of every nianbao.v1 file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/nianbao_descriptor.bin"));

pub use v1::Finding;

use nianbao_model::StoredFinding;

impl From<&v1::Finding> for StoredFinding {
    fn from(f: &v1::Finding) -> Self {
        StoredFinding {
            rule: f.rule.clone(),
            severity: f.severity.clone(),
            message: f.message.clone(),
            part: f.part,
            cell: f.cell.clone(),
            column: f.column,
            expected: f.expected.clone(),
            actual: f.actual.clone(),
            line: f.line,
        }
    }
}

impl From<StoredFinding> for v1::Finding {
    fn from(f: StoredFinding) -> Self {
        v1::Finding {
            rule: f.rule,
            severity: f.severity,
            message: f.message,
            part: f.part,
            cell: f.cell,
            column: f.column,
            expected: f.expected,
            actual: f.actual,
            line: f.line,
        }
    }
}

impl From<&StoredFinding> for v1::Finding {
    fn from(f: &StoredFinding) -> Self {
        v1::Finding::from(f.clone())
    }
}

impl From<&nianbao_model::Finding> for v1::Finding {
    fn from(f: &nianbao_model::Finding) -> Self {
        v1::Finding {
            rule: f.rule.as_str().to_string(),
            severity: f.severity.as_str().to_string(),
            message: f.message.clone(),
            part: f.part.map(u32::from),
            cell: f.cell.clone(),
            column: f.column.map(u32::from),
            expected: f.expected.clone(),
            actual: f.actual.clone(),
            line: f.line,
        }
    }
}

impl TryFrom<&v1::Finding> for nianbao_model::Finding {
    type Error = String;

    fn try_from(f: &v1::Finding) -> Result<Self, Self::Error> {
        Ok(nianbao_model::Finding {
            rule: f.rule.parse()?,
            severity: f.severity.parse()?,
            message: f.message.clone(),
            part: f.part.and_then(|p| u8::try_from(p).ok()),
            cell: f.cell.clone(),
            column: f.column.and_then(|c| u8::try_from(c).ok()),
            expected: f.expected.clone(),
            actual: f.actual.clone(),
            line: f.line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nianbao_model::{Finding as M, RuleId};
    use prost::Message;

    #[test]
    fn findings_round_trip_through_protobuf() {
        let f = M::new(RuleId::T3Balance, "表三 不平衡")
            .part(3)
            .cell("R24")
            .column(0)
            .line(Some(57));
        let p = v1::Finding::from(&f);
        let bytes = p.encode_to_vec();
        let back = v1::Finding::decode(bytes.as_slice()).unwrap();
        assert_eq!(M::try_from(&back).unwrap(), f);
        assert!(!FILE_DESCRIPTOR_SET.is_empty());
    }
}
