//! What `nianbao check` finds offline, as comparable keys: the tests that run reports through the
//! pipeline compare each report's single-report findings with these.

use nianbao_model::Finding;
use nianbao_model::finding::RuleScope;

/// A finding as a key: its rule, severity and place.
pub fn key(f: &Finding) -> String {
    format!(
        "{}|{}|{:?}|{:?}|{:?}|{:?}",
        f.rule, f.severity, f.part, f.cell, f.column, f.line
    )
}

/// The sorted keys of what the default rules find in `bytes` offline.
pub fn offline(bytes: &[u8]) -> Vec<String> {
    let x = nianbao_extract::extract_bytes(bytes);
    let mut v: Vec<String> = nianbao_rules::Checker::default()
        .check(&x)
        .iter()
        .map(key)
        .collect();
    v.sort();
    v
}

/// The sorted keys of the single-report findings among `findings` (what the pipeline reported):
/// those comparable with [`offline`].
pub fn single_report(findings: &[Finding]) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .filter(|f| f.rule.scope() == RuleScope::Single)
        .map(key)
        .collect();
    v.sort();
    v
}
