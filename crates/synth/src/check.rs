//! Our own reading of the single-report rules, applied to the tables as finally written.
//!
//! Defects are injected into tables whose relations then break in ways that cascade (a typo in one
//! cell breaks its row total and its column's （七）总计). Rather than predict those cascades by hand,
//! every report's `expected_findings` for the table rules come from this checker run over the final
//! values, with the semantics agreed with the rules engineer: blanks count 0, a relation is checked
//! only where its total is present, numbers are used as written (a typed -2 counts as -2).

use crate::directory::{AgencySpec, Level};
use crate::values::{Tables, Val};
use nianbao_model::{RuleId, Severity, T2Cell, T3Row, T4Cell, T4Group, Template};
use serde::Serialize;

/// One finding a correct checker must report.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Expected {
    pub rule: RuleId,
    pub severity: Severity,
    pub part: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u8>,
}

impl Expected {
    pub fn new(rule: RuleId, part: u8) -> Expected {
        Expected {
            rule,
            severity: rule.default_severity(),
            part,
            cell: None,
            column: None,
        }
    }

    pub fn at(mut self, cell: &str, column: Option<usize>) -> Expected {
        self.cell = Some(cell.to_string());
        self.column = column.and_then(|c| u8::try_from(c).ok());
        self
    }
}

/// Which parts and tables the document contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presence {
    /// Parts 一–六.
    pub parts: [bool; 6],
    /// 表二, 表三, 表四.
    pub tables: [bool; 3],
}

impl Presence {
    pub const FULL: Presence = Presence {
        parts: [true; 6],
        tables: [true; 3],
    };

    pub fn part(&self, n: u8) -> bool {
        usize::from(n)
            .checked_sub(1)
            .and_then(|i| self.parts.get(i).copied())
            .unwrap_or(false)
    }

    /// 表二/三/四 by part number 2/3/4.
    pub fn table(&self, part: u8) -> bool {
        usize::from(part)
            .checked_sub(2)
            .and_then(|i| self.tables.get(i).copied())
            .unwrap_or(false)
    }
}

/// Above this many 万元 an amount is out of scale for the level (the agreed `t2-fee-scale` bounds).
pub fn fee_limit(level: Level) -> f64 {
    match level {
        Level::Township => 500.0,
        Level::County => 50_000.0,
        Level::City => 500_000.0,
        Level::Province => 5_000_000.0,
    }
}

const EPS: f64 = 1e-6;

fn differs(a: f64, b: f64) -> bool {
    (a - b).abs() > EPS
}

/// A count must be a non-negative integer; the amount only non-negative.
fn invalid(v: Val, amount: bool) -> bool {
    match v {
        Val::Blank => false,
        Val::Num(x) => x < 0.0 || (!amount && x.fract().abs() > EPS),
    }
}

/// Every error and warning finding of the single-report rules this generator can provoke.
pub fn check(t: &Tables, p: &Presence, agency: &AgencySpec, year: i32) -> Vec<Expected> {
    let mut out = Vec::new();
    for n in 1..=6u8 {
        if !p.part(n) {
            out.push(Expected::new(RuleId::PartMissing, n));
        }
    }
    for n in 2..=4u8 {
        if p.part(n) && !p.table(n) {
            out.push(Expected::new(RuleId::TableMissing, n));
        }
    }
    if t.template == Template::V2019 && year >= 2021 && (p.table(2) || p.table(3)) {
        out.push(Expected::new(RuleId::TemplateOutdated, 2));
    }
    if p.table(2) {
        check_t2(t, agency, &mut out);
    }
    if p.table(3) {
        check_t3(t, &mut out);
    }
    if p.table(4) {
        check_t4(t, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// The agreed `t2-decision-scale` defaults (`[thresholds]` township_max_*): A07, A08, A09.
pub const TOWNSHIP_DECISION_LIMITS: [f64; 3] = [1000.0, 3000.0, 500.0];

/// Every cell of a present table blank: one `table-blank` instead of a `cell-missing` per cell.
fn all_blank(mut cells: impl Iterator<Item = Val>) -> bool {
    cells.all(|v| v.is_blank())
}

fn check_t2(t: &Tables, agency: &AgencySpec, out: &mut Vec<Expected>) {
    if all_blank(T2Cell::ALL.iter().map(|&c| t.t2(c))) {
        out.push(Expected::new(RuleId::TableBlank, 2));
        return;
    }
    if crate::defects::grassroots_by_name(agency) {
        for (c, limit) in [T2Cell::A07, T2Cell::A08, T2Cell::A09]
            .into_iter()
            .zip(TOWNSHIP_DECISION_LIMITS)
        {
            if t.t2_exists(c) && t.t2(c).arith() > limit {
                out.push(Expected::new(RuleId::T2DecisionScale, 2).at(c.id(), None));
            }
        }
    }
    for c in T2Cell::ALL {
        if !t.t2_exists(c) {
            continue;
        }
        let v = t.t2(c);
        if v.is_blank() {
            out.push(Expected::new(RuleId::CellMissing, 2).at(c.id(), None));
        } else if invalid(v, c.is_amount()) {
            out.push(Expected::new(RuleId::CellInvalid, 2).at(c.id(), None));
        }
    }
    if t.t2_exists(T2Cell::A10)
        && let Val::Num(fee) = t.t2(T2Cell::A10)
        && fee > fee_limit(agency.level)
    {
        out.push(Expected::new(RuleId::T2FeeScale, 2).at("A10", None));
    }
    let limited = agency.is_grassroots() || agency.level == Level::County;
    let regs = [T2Cell::A01, T2Cell::A02, T2Cell::A03]
        .iter()
        .any(|c| t.t2_exists(*c) && t.t2(*c).arith() > EPS);
    if limited && regs {
        out.push(Expected::new(RuleId::T2RegulationScope, 2));
    }
}

fn check_t3(t: &Tables, out: &mut Vec<Expected>) {
    let cells = T3Row::ALL
        .into_iter()
        .flat_map(|r| (0..7).map(move |k| (r, k)))
        .map(|(r, k)| t.t3(r, k));
    if all_blank(cells) {
        out.push(Expected::new(RuleId::TableBlank, 3));
        return;
    }
    for r in T3Row::ALL {
        if !t.t3_exists(r) {
            continue;
        }
        for k in 0..7 {
            let v = t.t3(r, k);
            if v.is_blank() {
                out.push(Expected::new(RuleId::CellMissing, 3).at(r.id(), Some(k)));
            } else if invalid(v, false) {
                out.push(Expected::new(RuleId::CellInvalid, 3).at(r.id(), Some(k)));
            }
        }
        if let Val::Num(total) = t.t3(r, 6) {
            let sum: f64 = (0..6).map(|k| t.t3(r, k).arith()).sum();
            if differs(sum, total) {
                out.push(Expected::new(RuleId::T3RowTotal, 3).at(r.id(), Some(6)));
            }
        }
    }
    for k in 0..7 {
        if let Val::Num(total) = t.t3(T3Row::R24, k) {
            let sum: f64 = T3Row::results().map(|r| t.t3(r, k).arith()).sum();
            if differs(sum, total) {
                out.push(Expected::new(RuleId::T3ResultTotal, 3).at("R24", Some(k)));
            }
        }
        let r01 = t.t3(T3Row::R01, k);
        let r24 = t.t3(T3Row::R24, k);
        if !r01.is_blank() && !r24.is_blank() {
            let left = r01.arith() + t.t3(T3Row::R02, k).arith();
            let right = r24.arith() + t.t3(T3Row::R25, k).arith();
            if differs(left, right) {
                out.push(Expected::new(RuleId::T3Balance, 3).at("R24", Some(k)));
            }
        }
    }
    if t.t3(T3Row::R25, 6).arith() > t.t3(T3Row::R01, 6).arith() + EPS {
        out.push(Expected::new(RuleId::T3CarryoverHigh, 3).at("R25", Some(6)));
    }
}

fn check_t4(t: &Tables, out: &mut Vec<Expected>) {
    if all_blank(T4Cell::ALL.iter().map(|&c| t.t4(c))) {
        out.push(Expected::new(RuleId::TableBlank, 4));
        return;
    }
    for c in T4Cell::ALL {
        let v = t.t4(c);
        if v.is_blank() {
            out.push(Expected::new(RuleId::CellMissing, 4).at(c.id(), None));
        } else if invalid(v, false) {
            out.push(Expected::new(RuleId::CellInvalid, 4).at(c.id(), None));
        }
    }
    for g in T4Group::ALL {
        let cells = g.cells();
        if let Val::Num(total) = t.t4(g.total()) {
            let sum: f64 = cells[..4].iter().map(|c| t.t4(*c).arith()).sum();
            if differs(sum, total) {
                out.push(Expected::new(RuleId::T4Total, 4).at(g.total().id(), None));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::directory;
    use crate::rng::Dice;
    use crate::values::tables_for;

    #[test]
    fn clean_tables_satisfy_every_relation() {
        let dir = directory();
        let mut d = Dice::new(42, 0);
        for (i, a) in dir.agencies.iter().enumerate() {
            for template in [Template::V2021, Template::V2019] {
                let t = tables_for(&mut d, a, template);
                let year = if template == Template::V2019 {
                    2020
                } else {
                    2021 + (i % 4) as i32
                };
                let f = check(&t, &Presence::FULL, a, year);
                assert!(f.is_empty(), "{} {template:?}: {f:?}", a.name);
            }
        }
    }

    #[test]
    fn a_broken_cell_cascades() {
        let dir = directory();
        let a = &dir.agencies[0];
        let mut d = Dice::new(1, 2);
        let mut t = tables_for(&mut d, a, Template::V2021);
        // A typo in one applicant cell of a result row: its row total and its column's （七）总计 break.
        let v = t.t3(T3Row::R13, 0).arith();
        t.t3[T3Row::R13.index()][0] = Val::Num(v + 1.0);
        let f = check(&t, &Presence::FULL, a, 2024);
        let rules: Vec<_> = f
            .iter()
            .map(|e| (e.rule, e.cell.clone(), e.column))
            .collect();
        assert_eq!(
            rules,
            vec![
                (RuleId::T3RowTotal, Some("R13".into()), Some(6)),
                (RuleId::T3ResultTotal, Some("R24".into()), Some(0)),
            ]
        );
    }
}
