//! The defects real reports have, injected into a clean report, and the findings they must produce.
//!
//! Table defects change values and leave the arithmetic consequences to [`crate::check`]; text and
//! structure defects record their finding directly. A defect that cannot apply to a report (a 规章
//! defect for a city, a missing cell in a table already removed) is dropped, so `defects` in the truth
//! lists only what is really in the file.

use crate::check::{Expected, Presence, check, fee_limit};
use crate::directory::{AgencySpec, Level};
use crate::narrative::NarrFlags;
use crate::rng::Dice;
use crate::values::{Tables, Val, tables_with_requests};
use nianbao_model::{RuleId, T2Cell, T3Row, T4Cell, Template};
use serde::Serialize;
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// Every kind of defect the generator injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DefectKind {
    /// A 表三 row whose 总计 is not the sum of its six columns.
    RowTotal,
    /// （七）总计 not the sum of the result rows.
    ResultTotal,
    /// 第一项加第二项之和 ≠ 第三项加第四项之和 (上年结转 mistyped).
    Balance,
    /// A 表四 group total that is not the sum of its four results.
    T4Total,
    /// A whole part (heading, text or table) absent.
    MissingPart,
    /// One of the five 总体情况 topics absent.
    MissingSubitem,
    /// A part's heading present but its table absent.
    MissingTable,
    /// A table cell left blank.
    MissingCell,
    /// A negative count.
    NegativeCount,
    /// A fractional count.
    FractionalCount,
    /// 行政事业性收费 entered in 元 in the 万元 column.
    FeeInYuan,
    /// 规章 reported by a body that cannot make them.
    RegulationScope,
    /// 一 says 未收到政府信息公开申请 while 表三 has applications.
    NoApplicationsClaim,
    /// 一 names the previous year as the reporting year.
    StaleYear,
    /// 五 states problems but no rectification.
    NoRectification,
    /// 六 without the 信息处理费 statement.
    NoFeeStatement,
    /// The 2019 trial template used for a 2021-or-later report.
    OutdatedTemplate,
    /// A mistyped official label (本年度止件数, 结转下年继续办理).
    LabelTypo,
    /// 表三 left wholly blank (a copied template): one `table-blank`.
    BlankTable,
    /// A 乡镇/街道 with thousands of 行政许可 (the county's figure copied in).
    DecisionScale,
    /// Part 二's text names a number of 行政许可/处罚/强制 decisions that 表二 does not have.
    DecisionText,
    /// 表三 R22 > 0 (fee notices were issued) while 六 reports no fee notice figure.
    FeeNoticeUnreported,
    /// 六 states more 信息处理费 collected than 表二's 行政事业性收费.
    FeeOverTable,
    /// Part 五 reduced to one word ("无。").
    ThinProblems,
}

impl DefectKind {
    pub const ALL: [DefectKind; 24] = [
        DefectKind::RowTotal,
        DefectKind::ResultTotal,
        DefectKind::Balance,
        DefectKind::T4Total,
        DefectKind::MissingPart,
        DefectKind::MissingSubitem,
        DefectKind::MissingTable,
        DefectKind::MissingCell,
        DefectKind::NegativeCount,
        DefectKind::FractionalCount,
        DefectKind::FeeInYuan,
        DefectKind::RegulationScope,
        DefectKind::NoApplicationsClaim,
        DefectKind::StaleYear,
        DefectKind::NoRectification,
        DefectKind::NoFeeStatement,
        DefectKind::OutdatedTemplate,
        DefectKind::LabelTypo,
        DefectKind::BlankTable,
        DefectKind::DecisionScale,
        DefectKind::DecisionText,
        DefectKind::FeeNoticeUnreported,
        DefectKind::FeeOverTable,
        DefectKind::ThinProblems,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DefectKind::RowTotal => "row-total",
            DefectKind::ResultTotal => "result-total",
            DefectKind::Balance => "balance",
            DefectKind::T4Total => "t4-total",
            DefectKind::MissingPart => "missing-part",
            DefectKind::MissingSubitem => "missing-subitem",
            DefectKind::MissingTable => "missing-table",
            DefectKind::MissingCell => "missing-cell",
            DefectKind::NegativeCount => "negative-count",
            DefectKind::FractionalCount => "fractional-count",
            DefectKind::FeeInYuan => "fee-in-yuan",
            DefectKind::RegulationScope => "regulation-scope",
            DefectKind::NoApplicationsClaim => "no-applications-claim",
            DefectKind::StaleYear => "stale-year",
            DefectKind::NoRectification => "no-rectification",
            DefectKind::NoFeeStatement => "no-fee-statement",
            DefectKind::OutdatedTemplate => "outdated-template",
            DefectKind::LabelTypo => "label-typo",
            DefectKind::BlankTable => "blank-table",
            DefectKind::DecisionScale => "decision-scale",
            DefectKind::DecisionText => "decision-text",
            DefectKind::FeeNoticeUnreported => "fee-notice-unreported",
            DefectKind::FeeOverTable => "fee-over-table",
            DefectKind::ThinProblems => "thin-problems",
        }
    }

    /// Order of application: the template first (it shapes the tables), then anything that
    /// regenerates 表三, then cell edits, then text, then removals (which must not take away what
    /// another defect needs).
    fn order(self) -> u8 {
        match self {
            DefectKind::OutdatedTemplate => 0,
            DefectKind::NoApplicationsClaim => 1,
            DefectKind::FeeInYuan
            | DefectKind::RegulationScope
            | DefectKind::BlankTable
            | DefectKind::DecisionScale
            | DefectKind::FeeNoticeUnreported => 2,
            DefectKind::RowTotal
            | DefectKind::ResultTotal
            | DefectKind::Balance
            | DefectKind::T4Total
            | DefectKind::MissingCell
            | DefectKind::NegativeCount
            | DefectKind::FractionalCount => 3,
            DefectKind::MissingSubitem
            | DefectKind::StaleYear
            | DefectKind::NoRectification
            | DefectKind::NoFeeStatement
            | DefectKind::LabelTypo
            | DefectKind::DecisionText
            | DefectKind::FeeOverTable
            | DefectKind::ThinProblems => 4,
            DefectKind::MissingTable => 5,
            DefectKind::MissingPart => 6,
        }
    }
}

impl fmt::Display for DefectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DefectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DefectKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown defect kind {s:?}"))
    }
}

fn applicable(k: DefectKind, a: &AgencySpec, year: i32) -> bool {
    match k {
        DefectKind::OutdatedTemplate | DefectKind::FeeInYuan => year >= 2021,
        // Only where the name shows the level: 枫桥市财政局 reads as a city body without a roster.
        DefectKind::RegulationScope => {
            a.is_grassroots() || (a.level == Level::County && !a.level_ambiguous_by_name())
        }
        // Read from 表二 and 表三 cells the 2019 template does not have (A10, R22), or a 2021 表三.
        DefectKind::BlankTable | DefectKind::FeeNoticeUnreported | DefectKind::FeeOverTable => {
            year >= 2021
        }
        // Only where every name the report may print reads as a 乡镇/街道 (the rule reads the name).
        DefectKind::DecisionScale => a.is_grassroots() && grassroots_by_name(a),
        _ => true,
    }
}

/// Whether every name the report may print classifies as a 乡镇 or 街道 (what `t2-decision-scale`
/// reads when no directory says).
pub fn grassroots_by_name(a: &AgencySpec) -> bool {
    use nianbao_model::{AgencyKind, AgencyProfile};
    a.acceptable_names().iter().all(|n| {
        matches!(
            AgencyProfile::from_name(n).kind,
            AgencyKind::Township | AgencyKind::Street
        )
    })
}

fn compatible(k: DefectKind, chosen: &[DefectKind]) -> bool {
    use DefectKind as D;
    let clash = |a: DefectKind, b: DefectKind| {
        (k == a && chosen.contains(&b)) || (k == b && chosen.contains(&a))
    };
    // A blank 表三 leaves nothing for the 表三 defects, the claim of no applications or R22.
    let blank_clashes = [
        D::RowTotal,
        D::ResultTotal,
        D::Balance,
        D::NoApplicationsClaim,
        D::FeeNoticeUnreported,
        D::OutdatedTemplate,
    ];
    !chosen.contains(&k)
        && !clash(D::OutdatedTemplate, D::FeeInYuan)
        && !clash(D::OutdatedTemplate, D::FeeOverTable)
        && !clash(D::OutdatedTemplate, D::FeeNoticeUnreported)
        && !clash(D::ThinProblems, D::NoRectification)
        && !clash(D::FeeOverTable, D::NoFeeStatement)
        && !clash(D::FeeOverTable, D::FeeNoticeUnreported)
        && !blank_clashes.iter().any(|&b| clash(D::BlankTable, b))
}

/// Which defects a report gets: none with probability `1 - rate`, else one to three compatible ones.
pub fn choose(d: &mut Dice, rate: f64, a: &AgencySpec, year: i32) -> Vec<DefectKind> {
    if !d.chance(rate) {
        return Vec::new();
    }
    let n = match d.weighted(&[0.7, 0.22, 0.08]) {
        0 => 1,
        1 => 2,
        _ => 3,
    };
    let mut pool: Vec<DefectKind> = DefectKind::ALL
        .into_iter()
        .filter(|k| applicable(*k, a, year))
        .collect();
    d.shuffle(&mut pool);
    let mut out: Vec<DefectKind> = Vec::new();
    for k in pool {
        if out.len() == n {
            break;
        }
        if compatible(k, &out) {
            out.push(k);
        }
    }
    out.sort_by_key(|k| k.order());
    out
}

/// What the injection did, for the text, the layout and the truth.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub applied: Vec<DefectKind>,
    pub presence: Presence,
    pub flags: NarrFlags,
    pub typo_abolished: bool,
    pub typo_carryover: bool,
    /// Findings of text defects (the table rules come from [`check`]).
    pub text_findings: Vec<Expected>,
}

/// A cell of one of the three tables: (part number, index). 表三 cells are `row * 7 + column`.
type CellRef = (u8, usize);

struct Ctx<'a> {
    d: &'a mut Dice,
    a: &'a AgencySpec,
    year: i32,
    touched: HashSet<CellRef>,
    /// Parts another defect relies on, which a removal must leave alone.
    used: [bool; 7],
    no_app_claim: bool,
}

fn get(t: &Tables, c: CellRef) -> Val {
    match c.0 {
        2 => t.t2[c.1],
        3 => t.t3[c.1 / 7][c.1 % 7],
        _ => t.t4[c.1],
    }
}

fn set(t: &mut Tables, c: CellRef, v: Val) {
    match c.0 {
        2 => t.t2[c.1] = v,
        3 => t.t3[c.1 / 7][c.1 % 7] = v,
        _ => t.t4[c.1] = v,
    }
}

fn t3ref(r: T3Row, k: usize) -> CellRef {
    (3, r.index() * 7 + k)
}

impl Ctx<'_> {
    /// Applies `edit` to the tables; keeps it only if it provokes no `t3-carryover-high` (whose
    /// location is not agreed) — otherwise restores the tables and reports failure.
    fn try_edit(
        &mut self,
        t: &mut Tables,
        edit: impl FnOnce(&mut Dice, &mut Tables) -> Vec<CellRef>,
    ) -> bool {
        let before = t.clone();
        let cells = edit(self.d, t);
        if cells.is_empty() {
            *t = before;
            return false;
        }
        let high = check(t, &Presence::FULL, self.a, self.year)
            .iter()
            .any(|e| e.rule == RuleId::T3CarryoverHigh);
        if high || cells.iter().any(|c| self.touched.contains(c)) {
            *t = before;
            return false;
        }
        for c in cells {
            self.used[usize::from(c.0)] = true;
            self.touched.insert(c);
        }
        true
    }

    fn retry(
        &mut self,
        t: &mut Tables,
        f: impl Fn(&mut Dice, &mut Tables, &HashSet<CellRef>, bool) -> Vec<CellRef>,
    ) -> bool {
        for _ in 0..12 {
            let touched = self.touched.clone();
            let nac = self.no_app_claim;
            if self.try_edit(t, |d, t| f(d, t, &touched, nac)) {
                return true;
            }
        }
        false
    }
}

fn small_delta(d: &mut Dice, current: f64) -> f64 {
    let mag = *d.pick(&[1.0, 1.0, 2.0, 3.0, 10.0]);
    if current >= mag && d.chance(0.4) {
        -mag
    } else {
        mag
    }
}

/// Cells that a blank, negative or fractional value may go into.
fn component_cells(t: &Tables, table: u8, touched: &HashSet<CellRef>, nac: bool) -> Vec<CellRef> {
    let mut out = Vec::new();
    match table {
        2 => {
            for c in T2Cell::ALL {
                if t.t2_exists(c) {
                    out.push((2, c.index()));
                }
            }
        }
        3 => {
            for r in T3Row::ALL {
                if !t.t3_exists(r) {
                    continue;
                }
                for k in 0..7 {
                    // 总计 of R01 and R24 feed the text's figures; leave them to the arithmetic defects.
                    if k == 6 && matches!(r, T3Row::R01 | T3Row::R24) {
                        continue;
                    }
                    if nac && r == T3Row::R01 {
                        continue;
                    }
                    out.push(t3ref(r, k));
                }
            }
        }
        _ => out.extend((0..15).map(|i| (4, i))),
    }
    out.retain(|c| !touched.contains(c));
    out
}

fn pick_table(d: &mut Dice, weights: [f64; 3]) -> u8 {
    [2u8, 3, 4][d.weighted(&weights)]
}

fn missing_cell(
    d: &mut Dice,
    t: &mut Tables,
    touched: &HashSet<CellRef>,
    nac: bool,
) -> Vec<CellRef> {
    let table = pick_table(d, [0.2, 0.6, 0.2]);
    let cands = component_cells(t, table, touched, nac);
    // Blank instead of 0 is the common case (format-2021.md §2.4); sometimes a real value is lost.
    let zeros: Vec<CellRef> = cands
        .iter()
        .copied()
        .filter(|c| get(t, *c) == Val::Num(0.0))
        .collect();
    let pool = if !zeros.is_empty() && d.chance(0.75) {
        zeros
    } else {
        cands
    };
    if pool.is_empty() {
        return Vec::new();
    }
    let c = *d.pick(&pool);
    set(t, c, Val::Blank);
    vec![c]
}

/// Count cells only (no 总计 of 表三/表四, no amount): where a typo in a count lands.
fn count_cells(t: &Tables, table: u8, touched: &HashSet<CellRef>, nac: bool) -> Vec<CellRef> {
    component_cells(t, table, touched, nac)
        .into_iter()
        .filter(|c| match c.0 {
            2 => c.1 != T2Cell::A10.index() && c.1 >= T2Cell::A04.index(),
            3 => c.1 % 7 != 6 && !matches!(c.1 / 7, 0 | 23),
            _ => c.1 % 5 != 4,
        })
        .collect()
}

fn negative(d: &mut Dice, t: &mut Tables, touched: &HashSet<CellRef>, nac: bool) -> Vec<CellRef> {
    let table = pick_table(d, [0.35, 0.45, 0.2]);
    let cands = count_cells(t, table, touched, nac);
    if cands.is_empty() {
        return Vec::new();
    }
    let c = *d.pick(&cands);
    let v = get(t, c).arith();
    let neg = if v > 0.0 { -v } else { -(d.range(1, 3) as f64) };
    set(t, c, Val::Num(neg));
    vec![c]
}

fn fractional(d: &mut Dice, t: &mut Tables, touched: &HashSet<CellRef>, nac: bool) -> Vec<CellRef> {
    let table = pick_table(d, [0.4, 0.4, 0.2]);
    let cands = count_cells(t, table, touched, nac);
    if cands.is_empty() {
        return Vec::new();
    }
    let c = *d.pick(&cands);
    let v = get(t, c).arith().max(0.0);
    set(t, c, Val::Num(v + 0.5));
    vec![c]
}

fn row_total(d: &mut Dice, t: &mut Tables, touched: &HashSet<CellRef>, nac: bool) -> Vec<CellRef> {
    let rows: Vec<T3Row> = T3Row::ALL
        .into_iter()
        .filter(|r| t.t3_exists(*r) && !(nac && *r == T3Row::R01))
        // A non-zero R22 总计 obliges 六 to report fee notices (fee-notice-missing): its own defect.
        .filter(|r| *r != T3Row::R22)
        .filter(|r| !touched.contains(&t3ref(*r, 6)))
        .collect();
    let busy: Vec<T3Row> = rows
        .iter()
        .copied()
        .filter(|r| t.t3(*r, 6).arith() > 0.0)
        .collect();
    let pool = if !busy.is_empty() && d.chance(0.7) {
        busy
    } else {
        rows
    };
    if pool.is_empty() {
        return Vec::new();
    }
    let r = *d.pick(&pool);
    let cur = t.t3(r, 6).arith();
    let new = cur + small_delta(d, cur);
    t.t3[r.index()][6] = Val::Num(new.max(0.0));
    if t.t3(r, 6).arith() == cur {
        t.t3[r.index()][6] = Val::Num(cur + 1.0);
    }
    vec![t3ref(r, 6)]
}

fn result_total(
    d: &mut Dice,
    t: &mut Tables,
    _touched: &HashSet<CellRef>,
    _nac: bool,
) -> Vec<CellRef> {
    let k = d.index(6);
    let cur = t.t3(T3Row::R24, k).arith();
    let delta = small_delta(d, cur.min(t.t3(T3Row::R24, 6).arith()));
    for col in [k, 6] {
        let v = t.t3(T3Row::R24, col).arith();
        t.t3[T3Row::R24.index()][col] = Val::Num(v + delta);
    }
    vec![t3ref(T3Row::R24, k), t3ref(T3Row::R24, 6)]
}

fn balance(d: &mut Dice, t: &mut Tables, _touched: &HashSet<CellRef>, _nac: bool) -> Vec<CellRef> {
    let k = if d.chance(0.8) { 0 } else { d.index(6) };
    let cur = t.t3(T3Row::R02, k).arith();
    let delta = small_delta(d, cur);
    for col in [k, 6] {
        let v = t.t3(T3Row::R02, col).arith();
        t.t3[T3Row::R02.index()][col] = Val::Num(v + delta);
    }
    vec![t3ref(T3Row::R02, k), t3ref(T3Row::R02, 6)]
}

fn t4_total(d: &mut Dice, t: &mut Tables, _touched: &HashSet<CellRef>, _nac: bool) -> Vec<CellRef> {
    let g = d.index(3);
    let total = T4Cell::ALL[g * 5 + 4];
    let cur = t.t4(total).arith();
    let new = (cur + small_delta(d, cur)).max(0.0);
    let new = if new == cur { cur + 1.0 } else { new };
    t.t4[total.index()] = Val::Num(new);
    vec![(4, total.index())]
}

/// Injects `kinds` into a clean report. `tables` may be regenerated (a claim of no applications needs
/// some).
pub fn inject(
    d: &mut Dice,
    kinds: &[DefectKind],
    a: &AgencySpec,
    year: i32,
    tables: &mut Tables,
) -> Outcome {
    let mut cx = Ctx {
        d,
        a,
        year,
        touched: HashSet::new(),
        used: [false; 7],
        no_app_claim: kinds.contains(&DefectKind::NoApplicationsClaim),
    };
    let mut out = Outcome {
        applied: Vec::new(),
        presence: Presence::FULL,
        flags: NarrFlags::default(),
        typo_abolished: false,
        typo_carryover: false,
        text_findings: Vec::new(),
    };
    if tables.template == Template::V2019 {
        // 表二 carries the 2019 signature; without it (and 表三) the template could not be told.
        cx.used[2] = true;
    }
    for &k in kinds {
        let ok = match k {
            DefectKind::OutdatedTemplate => {
                // The caller generated the tables in the 2019 layout already.
                cx.used[2] = true;
                cx.used[3] = true;
                tables.template == Template::V2019
            }
            DefectKind::NoApplicationsClaim => {
                if tables.t3(T3Row::R01, 6).arith() <= 0.0 {
                    let new = if a.is_grassroots() {
                        cx.d.range(1, 3)
                    } else {
                        cx.d.range(1, 12)
                    };
                    let regen = tables_with_requests(cx.d, a, tables.template, new);
                    tables.t3 = regen.t3;
                }
                cx.used[1] = true;
                cx.used[3] = true;
                out.flags.no_app_claim = true;
                out.text_findings
                    .push(Expected::new(RuleId::NarrativeTableMismatch, 1));
                true
            }
            DefectKind::FeeInYuan => {
                // Exceed the city bound too when the name does not show the county level.
                let level = if a.level_ambiguous_by_name() {
                    Level::City
                } else {
                    a.level
                };
                let limit = fee_limit(level) / 10_000.0;
                let mut amount = tables.t2(T2Cell::A10).arith();
                if amount <= limit * 1.05 {
                    let (lo, hi) = (limit * 1.1, limit * 60.0);
                    amount = (lo * (hi / lo).powf(cx.d.unit()) * 100.0).round() / 100.0;
                }
                tables.t2[T2Cell::A10.index()] = Val::Num((amount * 10_000.0).round());
                cx.touched.insert((2, T2Cell::A10.index()));
                cx.used[2] = true;
                true
            }
            DefectKind::RegulationScope => {
                // Copying the superior government's 现行有效 规章 into the own table is the usual slip.
                tables.t2[T2Cell::A03.index()] = Val::int(cx.d.range(1, 6));
                cx.touched.insert((2, T2Cell::A03.index()));
                if cx.d.chance(0.3) {
                    tables.t2[T2Cell::A01.index()] = Val::int(1);
                    cx.touched.insert((2, T2Cell::A01.index()));
                }
                cx.used[2] = true;
                true
            }
            DefectKind::BlankTable => {
                if tables.template != Template::V2021 {
                    false
                } else {
                    for r in T3Row::ALL {
                        for k in 0..7 {
                            tables.t3[r.index()][k] = Val::Blank;
                            cx.touched.insert(t3ref(r, k));
                        }
                    }
                    cx.used[3] = true;
                    true
                }
            }
            DefectKind::DecisionScale => {
                // A county's 行政许可 figure copied into a township's table.
                tables.t2[T2Cell::A07.index()] = Val::int(cx.d.range(1500, 9000));
                cx.touched.insert((2, T2Cell::A07.index()));
                cx.used[2] = true;
                true
            }
            DefectKind::FeeNoticeUnreported => {
                // Applicants who did not pay after a fee notice: moved from 予以公开 so that every
                // relation of 表三 still holds, in a column that has some.
                let cols: Vec<usize> = (0..6)
                    .filter(|&k| tables.t3(T3Row::R03, k).arith() >= 1.0)
                    .filter(|&k| {
                        ![T3Row::R03, T3Row::R22]
                            .iter()
                            .any(|r| cx.touched.contains(&t3ref(*r, k)))
                    })
                    .collect();
                if tables.template != Template::V2021 {
                    false
                } else {
                    // Without 予以公开 to move from, one more application that ended unpaid (R01,
                    // R22 and R24 of the 自然人 column and 总计 each one up: every relation holds).
                    let (k, n, moves) = if cols.is_empty() {
                        (
                            0,
                            1,
                            vec![(T3Row::R01, 1), (T3Row::R22, 1), (T3Row::R24, 1)],
                        )
                    } else {
                        let k = *cx.d.pick(&cols);
                        let n =
                            cx.d.range(1, 2)
                                .min(tables.t3(T3Row::R03, k).arith() as i64);
                        (k, n, vec![(T3Row::R03, -1), (T3Row::R22, 1)])
                    };
                    for (r, sign) in moves {
                        for col in [k, 6] {
                            let v = tables.t3(r, col).arith() + (sign * n) as f64;
                            tables.t3[r.index()][col] = Val::Num(v);
                            cx.touched.insert(t3ref(r, col));
                        }
                    }
                    cx.used[3] = true;
                    cx.used[6] = true;
                    out.text_findings
                        .push(Expected::new(RuleId::FeeNoticeMissing, 6).at("R22", Some(6)));
                    true
                }
            }
            DefectKind::DecisionText => {
                let cells = [
                    (T2Cell::A07, "行政许可"),
                    (T2Cell::A08, "行政处罚"),
                    (T2Cell::A09, "行政强制"),
                ];
                let (cell, label) = *cx.d.pick(&cells);
                let v = tables.t2(cell).arith().max(0.0) as i64;
                let stated = v + cx.d.range(1, 40);
                if !tables.t2_exists(cell) || tables.t2(cell).is_blank() {
                    false
                } else {
                    cx.touched.insert((2, cell.index()));
                    cx.used[2] = true;
                    out.flags.decision_claim = Some((label, stated));
                    out.text_findings
                        .push(Expected::new(RuleId::NarrativeTableMismatch, 2).at(cell.id(), None));
                    true
                }
            }
            DefectKind::FeeOverTable => {
                let a10 = tables.t2(T2Cell::A10);
                if tables.template != Template::V2021 || a10.is_blank() {
                    false
                } else {
                    // More 元 than A10 holds in 万元.
                    let yuan =
                        (a10.arith().max(0.0) * 10_000.0).ceil() as i64 + cx.d.range(100, 900);
                    cx.touched.insert((2, T2Cell::A10.index()));
                    cx.used[2] = true;
                    cx.used[6] = true;
                    out.flags.fee_over_table = Some((cx.d.range(1, 5), yuan));
                    out.text_findings
                        .push(Expected::new(RuleId::FeeAmountMismatch, 6).at("A10", None));
                    true
                }
            }
            DefectKind::ThinProblems => {
                out.flags.thin_problems = true;
                cx.used[5] = true;
                out.text_findings
                    .push(Expected::new(RuleId::ProblemsThin, 5));
                true
            }
            DefectKind::RowTotal => cx.retry(tables, row_total),
            DefectKind::ResultTotal => cx.retry(tables, result_total),
            DefectKind::Balance => cx.retry(tables, balance),
            DefectKind::T4Total => cx.retry(tables, t4_total),
            DefectKind::MissingCell => cx.retry(tables, missing_cell),
            DefectKind::NegativeCount => cx.retry(tables, negative),
            DefectKind::FractionalCount => cx.retry(tables, fractional),
            DefectKind::MissingSubitem => {
                // The agency's own name (repeated titles fall inside 一) must not cover the dropped
                // topic: 市场监督管理局 and 人力资源和社会保障局 carry 监督/保障.
                let name_covers_oversight = a.name.contains("监督") || a.name.contains("保障");
                let choices: Vec<usize> = (0..5)
                    .filter(|i| !(cx.no_app_claim && *i == 1))
                    .filter(|i| !(name_covers_oversight && *i == 4))
                    .collect();
                let topic = *cx.d.pick(&choices);
                out.flags.missing_subitem = Some(topic);
                out.text_findings
                    .push(Expected::new(RuleId::SubitemMissing, 1));
                true
            }
            DefectKind::StaleYear => {
                out.flags.stale_year = true;
                out.text_findings
                    .push(Expected::new(RuleId::YearMismatch, 1));
                true
            }
            DefectKind::NoRectification => {
                out.flags.no_rectification = true;
                cx.used[5] = true;
                out.text_findings
                    .push(Expected::new(RuleId::RectificationMissing, 5));
                true
            }
            DefectKind::NoFeeStatement => {
                out.flags.no_fee_statement = true;
                cx.used[6] = true;
                out.text_findings
                    .push(Expected::new(RuleId::FeeStatementMissing, 6));
                true
            }
            DefectKind::LabelTypo => {
                let part = if tables.template == Template::V2021 && cx.d.chance(0.5) {
                    out.typo_abolished = true;
                    2
                } else {
                    out.typo_carryover = true;
                    3
                };
                cx.used[part] = true;
                out.text_findings
                    .push(Expected::new(RuleId::LabelMismatch, part as u8));
                true
            }
            DefectKind::MissingTable => {
                let free: Vec<u8> = [2u8, 3, 4]
                    .into_iter()
                    .filter(|n| !cx.used[usize::from(*n)])
                    .collect();
                if free.is_empty() {
                    false
                } else {
                    let n = *cx.d.pick(&free);
                    out.presence.tables[usize::from(n) - 2] = false;
                    cx.used[usize::from(n)] = true;
                    true
                }
            }
            DefectKind::MissingPart => {
                let free: Vec<u8> = (2u8..=6).filter(|n| !cx.used[usize::from(*n)]).collect();
                if free.is_empty() {
                    false
                } else {
                    let n = *cx.d.pick(&free);
                    out.presence.parts[usize::from(n) - 1] = false;
                    if (2..=4).contains(&n) {
                        out.presence.tables[usize::from(n) - 2] = false;
                    }
                    cx.used[usize::from(n)] = true;
                    true
                }
            }
        };
        if ok {
            out.applied.push(k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_are_ordered() {
        for k in DefectKind::ALL {
            assert_eq!(k.as_str().parse::<DefectKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!(DefectKind::OutdatedTemplate.order() < DefectKind::MissingPart.order());
    }
}
