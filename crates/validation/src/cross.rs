//! The cross-report rules of the catalogue (`contract.md` §4, scope `CrossReport`), as pure functions
//! over stored rows: the store supplies the rows, these functions decide. No I/O here, so every rule
//! is unit-tested without a database or a broker.
//!
//! Agency identity is the extracted agency name, normalised ([`normalize_agency`]); the year is the
//! extracted reporting year. A report without either takes part in no agency- or year-based rule.
//!
//! Decisions where the catalogue is silent:
//! - `carryover-continuity` reports **one finding per differing column** (the six applicant columns
//!   and 总计), like the single-report arithmetic rules, so that the message names the column to fix.
//!   Only columns where both cells hold a value are compared (a blank is already `cell-missing`).
//! - `t2-stock-flow` is checked per document kind (规章 A01–A03, 行政规范性文件 A04–A06) where both
//!   years' 现行有效 cells hold a value; a blank 制发/废止 counts as 0, as in the single-report
//!   arithmetic.
//! - The previous year's report is the latest version (highest `received_order`) of the same agency
//!   for year Y−1.
//! - `duplicate-peer` and `report-changed` look only at reports stored *before* this one (lower
//!   `received_order`): the later report is the copy or the replacement, and a re-delivered event
//!   gets exactly the findings it got the first time.
//! - `duplicate-peer` gives one finding, naming the most similar peer and how many others match.
//! - `duplicate-previous-year` also compares part 五 on its own: a part 五 of which at least
//!   `[thresholds] duplicate_problems_percent` (default 50 %) was already in last year's part 五 is a
//!   copy, even when part 一 was rewritten. One finding per report; the whole-narrative one wins.
//! - `previous-problems-unaddressed` reads the problems last year's part 五 named (stored with last
//!   year's row) and this year's part 五 (held only for the report being validated); see
//!   `nianbao_rules::rectification`.
//! - `previous-findings-recurring` compares the findings published for last year's report (stored
//!   with its row) with this year's single-report findings: a single-report rule (not `unreadable`)
//!   found at warning or error in both years. Cross-report and roster rules (`report-changed`,
//!   `duplicate-*`, `report-late`, …) are about other reports and timing, not the report's content,
//!   and an info finding never alerts. The severities are the ones published each year. One finding
//!   per report.

use crate::fingerprint::{Fingerprint, normalize_agency};
use nianbao_model::finding::RuleScope;
use nianbao_model::report::format_number;
use nianbao_model::{
    Extraction, Finding, Part, RuleId, Severity, StoredFinding, T2Cell, T3Col, T3Row,
};
use nianbao_rules::{RuleConfig, rectification};

/// What the cross-report rules need of one validated report: the `validated` table's row.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReportRow {
    pub report_id: String,
    pub version: String,
    /// Normalised agency name (identity); empty when unknown.
    pub agency: String,
    /// The agency as written, for messages.
    pub agency_name: String,
    /// Reporting year; 0 when unknown.
    pub year: i32,
    /// Arrival order in the store (ascending).
    pub received_order: i64,
    /// 表三 R02 (上年结转), seven columns; `None` without a 表三.
    pub r02: Option<[Option<f64>; 7]>,
    /// 表三 R25 (结转下年度继续办理).
    pub r25: Option<[Option<f64>; 7]>,
    /// 表二 A01–A06 (规章 and 行政规范性文件: 制发, 废止, 现行有效).
    pub a: [Option<f64>; 6],
    pub fingerprint: Fingerprint,
    /// The problems part 五 names (stored: next year's report must answer them).
    pub problems: Vec<String>,
    /// Part 五's text without its heading; only for the report being validated (not stored, empty
    /// for rows read back from the store).
    pub problems_text: String,
    /// Fingerprint of part 五 alone (stored; default for rows validated before it was kept).
    pub problems_fingerprint: Fingerprint,
    /// The rules this report's published findings name, with the severity published: read back
    /// from the stored findings for last year's report, and set to this report's single-report
    /// findings before the cross-report decision (`previous-findings-recurring` compares the two).
    /// Not kept in the validator's index (only the previous year's row needs it).
    pub found: Vec<(RuleId, Severity)>,
}

/// The narrative the duplicate rules compare: parts 一 and 五.
pub fn narrative(x: &Extraction) -> String {
    let mut s = String::new();
    for part in [Part::Overview, Part::Problems] {
        for line in x.part_lines(part) {
            s.push_str(x.text_of(line));
            s.push('\n');
        }
    }
    s
}

impl ReportRow {
    /// The row for an extraction; `agency_fallback` (the event's agency) is used when the document
    /// names none.
    pub fn from_extraction(
        report_id: &str,
        version: &str,
        agency_fallback: &str,
        year_fallback: i32,
        x: &Extraction,
    ) -> ReportRow {
        let agency_name = x
            .agency
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .unwrap_or(agency_fallback.trim())
            .to_string();
        let row3 = |r: T3Row| {
            x.table3.as_ref().map(|t| {
                let mut v = [None; 7];
                for c in T3Col::ALL {
                    v[c.index()] = t.get(r, c).value;
                }
                v
            })
        };
        let mut a = [None; 6];
        if let Some(t2) = &x.table2 {
            for (i, c) in T2Cell::ALL.iter().take(6).enumerate() {
                a[i] = t2.get(*c).value;
            }
        }
        let mut names: Vec<&str> = vec![agency_name.as_str()];
        if let Some(n) = x.agency.as_deref() {
            names.push(n);
        }
        if !agency_fallback.is_empty() {
            names.push(agency_fallback);
        }
        let fingerprint = Fingerprint::of_text(&narrative(x), &names);
        let problems_text = rectification::problems_text(x);
        let problems_fingerprint = Fingerprint::of_text(&problems_text, &names);
        ReportRow {
            problems: rectification::listed_problems(x),
            problems_text,
            problems_fingerprint,
            report_id: report_id.to_string(),
            version: version.to_string(),
            agency: normalize_agency(&agency_name),
            agency_name,
            year: x.year.unwrap_or(year_fallback),
            received_order: 0,
            r02: row3(T3Row::R02),
            r25: row3(T3Row::R25),
            a,
            fingerprint,
            found: Vec::new(),
        }
    }

    /// [`ReportRow::found`] from findings as stored (`findings_json`): findings of rules this build
    /// does not know, or with a severity it does not know, are left out.
    pub fn found_from_stored(findings: &[StoredFinding]) -> Vec<(RuleId, Severity)> {
        findings
            .iter()
            .filter_map(|f| Some((f.rule.parse().ok()?, f.severity.parse().ok()?)))
            .collect()
    }

    fn has_identity(&self) -> bool {
        !self.agency.is_empty() && self.year > 0
    }
}

/// Thresholds of the duplicate rules (configuration `[similarity]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity {
    /// Estimated Jaccard similarity (character 4-gram shingles) at or above which two narratives are
    /// near-identical.
    pub threshold: f64,
    /// Prefilter: rows whose simhash differs in more bits are not compared further.
    pub max_hamming: u32,
    /// Narratives with fewer distinct shingles are too short to call copied.
    pub min_shingles: u32,
}

impl Default for Similarity {
    fn default() -> Self {
        Similarity {
            threshold: 0.9,
            max_hamming: 16,
            min_shingles: 50,
        }
    }
}

impl Similarity {
    /// Cheap test on the columns loaded for every row of a year: simhash distance and size ratio (a
    /// Jaccard of J needs the smaller set to hold at least J of the larger).
    pub fn prefilter(&self, cur: &Fingerprint, other: &Fingerprint) -> bool {
        self.prefilter_parts(cur.simhash, cur.shingles, other.simhash, other.shingles)
    }

    /// [`Similarity::prefilter`] on the two numbers it reads of each fingerprint. The Hamming
    /// distance is tested first: one XOR and a popcount reject nearly every row of a year.
    pub fn prefilter_parts(
        &self,
        simhash: u64,
        shingles: u32,
        o_simhash: u64,
        o_shingles: u32,
    ) -> bool {
        if (simhash ^ o_simhash).count_ones() > self.max_hamming
            || shingles < self.min_shingles
            || o_shingles < self.min_shingles
        {
            return false;
        }
        let (lo, hi) = if shingles < o_shingles {
            (shingles, o_shingles)
        } else {
            (o_shingles, shingles)
        };
        f64::from(lo) >= self.threshold * f64::from(hi)
    }

    /// The decision on full fingerprints: `Some(jaccard)` when near-identical.
    pub fn near_identical(&self, cur: &Fingerprint, other: &Fingerprint) -> Option<f64> {
        self.near_identical_parts(cur, other.simhash, other.shingles, &other.sketch)
    }

    /// [`Similarity::near_identical`] on the parts of the other fingerprint, held apart.
    pub fn near_identical_parts(
        &self,
        cur: &Fingerprint,
        simhash: u64,
        shingles: u32,
        sketch: &[u64],
    ) -> Option<f64> {
        if !self.prefilter_parts(cur.simhash, cur.shingles, simhash, shingles) {
            return None;
        }
        let j = cur.jaccard_with(shingles, sketch);
        (j >= self.threshold).then_some(j)
    }
}

fn percent(j: f64) -> String {
    format!("{:.0}%", (j * 100.0).floor())
}

fn short(version: &str) -> &str {
    version.get(..12).unwrap_or(version)
}

/// I5: R02 of year Y equals R25 of the same agency's year Y−1 report, per column.
pub fn carryover_continuity(cur: &ReportRow, prev: &ReportRow) -> Vec<Finding> {
    let (Some(r02), Some(r25)) = (&cur.r02, &prev.r25) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for col in T3Col::ALL {
        let k = col.index();
        let (Some(now), Some(before)) = (r02[k], r25[k]) else {
            continue;
        };
        if now != before {
            let msg = format!(
                "表三 {} 列：上年结转政府信息公开申请数量({})与本机关{}年度报告的结转下年度继续办理数量({})不一致，相差{}",
                col.label(),
                format_number(now),
                prev.year,
                format_number(before),
                format_number((now - before).abs()),
            );
            let column = u8::try_from(k).unwrap_or(u8::MAX);
            out.push(
                Finding::new(RuleId::CarryoverContinuity, msg)
                    .part(3)
                    .cell(T3Row::R02.id())
                    .column(column)
                    .expected(format_number(before))
                    .actual(format_number(now)),
            );
        }
    }
    out
}

/// I8: 现行有效(Y) = 现行有效(Y−1) + 制发(Y) − 废止(Y), per document kind.
pub fn t2_stock_flow(cur: &ReportRow, prev: &ReportRow) -> Vec<Finding> {
    let mut out = Vec::new();
    for (kind, base, cell) in [("规章", 0, T2Cell::A03), ("行政规范性文件", 3, T2Cell::A06)]
    {
        let (Some(stock), Some(prev_stock)) = (cur.a[base + 2], prev.a[base + 2]) else {
            continue;
        };
        let made = cur.a[base].unwrap_or(0.0);
        let repealed = cur.a[base + 1].unwrap_or(0.0);
        let expected = prev_stock + made - repealed;
        if (stock - expected).abs() > 1e-9 {
            let msg = format!(
                "表二 {kind} 现行有效件数({})不等于本机关{}年度报告的现行有效件数({})加本年制发件数({})减本年废止件数({})之和({})，相差{}",
                format_number(stock),
                prev.year,
                format_number(prev_stock),
                format_number(made),
                format_number(repealed),
                format_number(expected),
                format_number((stock - expected).abs()),
            );
            out.push(
                Finding::new(RuleId::T2StockFlow, msg)
                    .part(2)
                    .cell(cell.id())
                    .expected(format_number(expected))
                    .actual(format_number(stock)),
            );
        }
    }
    out
}

/// Part 五 texts with fewer distinct shingles are too short to call copied ("无。").
const MIN_PROBLEM_SHINGLES: u32 = 20;

/// I14: the narrative is near-identical to the same agency's previous report, or part 五 alone
/// repeats at least `problems_percent` % of last year's part 五 (the 重复率 > 50 % that provinces
/// deduct for). The score is in the message and in `actual`.
pub fn duplicate_previous_year(
    cur: &ReportRow,
    prev: &ReportRow,
    sim: &Similarity,
    problems_percent: u32,
) -> Option<Finding> {
    let Some(j) = sim.near_identical(&cur.fingerprint, &prev.fingerprint) else {
        let (a, b) = (&cur.problems_fingerprint, &prev.problems_fingerprint);
        if a.shingles < MIN_PROBLEM_SHINGLES || b.shingles < MIN_PROBLEM_SHINGLES {
            return None;
        }
        let c = a.containment_in(b);
        let limit = f64::from(problems_percent) / 100.0;
        if c < limit {
            return None;
        }
        let msg = format!(
            "第五部分（存在的主要问题及改进情况）与本机关{}年度报告的第五部分重复率为{}（去除数字和机关名称后，本年度文字中已见于上年度的比例；不应超过{}），请核实是否照抄上年度的问题和措施",
            prev.year,
            percent(c),
            percent(limit)
        );
        return Some(
            Finding::new(RuleId::DuplicatePreviousYear, msg)
                .part(5)
                .expected(format!("< {}", percent(limit)))
                .actual(percent(c)),
        );
    };
    let msg = format!(
        "第一部分（总体情况）和第五部分（存在的主要问题及改进情况）的正文与本机关{}年度报告高度雷同（去除数字和机关名称后相似度{}），请核实是否照抄上年度报告",
        prev.year,
        percent(j)
    );
    Some(
        Finding::new(RuleId::DuplicatePreviousYear, msg)
            .expected(format!("< {}", percent(sim.threshold)))
            .actual(percent(j)),
    )
}

/// §5 #15 (上年度问题整改): last year's part 五 named problems that this year's part 五 neither
/// reports on as last year's problems nor takes up again with what was done. One finding naming them;
/// the message says exactly that (see [`rectification::unaddressed`]), nothing about whether the
/// problems are really solved (`previous-findings-recurring` is nianbao's own evidence of that).
pub fn previous_problems_unaddressed(cur: &ReportRow, prev: &ReportRow) -> Option<Finding> {
    // Without this year's part 五 text (a row read back from the store) there is nothing to judge,
    // and without a part 五 at all, part-missing says it.
    if cur.problems_text.trim().is_empty() {
        return None;
    }
    let open = rectification::unaddressed(&prev.problems, &cur.problems_text, Some(cur.year));
    if open.is_empty() {
        return None;
    }
    let named: Vec<String> = open.iter().take(3).map(|p| format!("“{p}”")).collect();
    let more = if open.len() > 3 {
        format!("等{}项", open.len())
    } else {
        String::new()
    };
    let msg = format!(
        "本机关{}年度报告第五部分所列问题{}{more}，本年度报告第五部分既未说明上年度问题的整改情况，也未再提及这些问题及其整改（已整改、完成、解决、落实等）",
        prev.year,
        named.join("、")
    );
    Some(
        Finding::new(RuleId::PreviousProblemsUnaddressed, msg)
            .part(5)
            .expected("上年度问题的整改情况")
            .actual(open.join("；")),
    )
}

/// How many recurring rules a `previous-findings-recurring` message names; the rest are counted.
const RECURRING_NAMED: usize = 5;

/// Whether a finding of `rule` at `severity` is a problem of the report that can recur: a
/// single-report rule (the cross-report and roster rules are about other reports, versions and
/// timing, and `unreadable` about the file) found at warning or error, the severities that alert.
fn recurrable(rule: RuleId, severity: Severity) -> bool {
    rule.scope() == RuleScope::Single && rule != RuleId::Unreadable && severity >= Severity::Warning
}

/// The rules found (at warning or error) in last year's report `prev` that are found again in this
/// year's `cur`, in catalogue order, each once.
pub fn recurring_rules(cur: &[(RuleId, Severity)], prev: &[(RuleId, Severity)]) -> Vec<RuleId> {
    let mut out: Vec<RuleId> = prev
        .iter()
        .filter(|(r, s)| recurrable(*r, *s))
        .filter(|(r, _)| cur.iter().any(|(c, s)| c == r && recurrable(*c, *s)))
        .map(|(r, _)| *r)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Issue #25.3 (上年度问题整改, as nianbao itself saw them): the rules whose warnings or errors
/// nianbao published for the agency's report of last year are broken again by this year's report.
/// One finding naming them (at most [`RECURRING_NAMED`], the rest counted); `actual` lists every id.
pub fn previous_findings_recurring(cur: &ReportRow, prev: &ReportRow) -> Option<Finding> {
    let again = recurring_rules(&cur.found, &prev.found);
    if again.is_empty() {
        return None;
    }
    let named: Vec<String> = again
        .iter()
        .take(RECURRING_NAMED)
        .map(|r| format!("{}（{}）", r.title(), r.as_str()))
        .collect();
    let more = if again.len() > RECURRING_NAMED {
        format!("等{}项", again.len())
    } else {
        String::new()
    };
    let msg = format!(
        "本机关{}年度报告经检查发现的问题在本年度报告中再次出现：{}{more}，请核实上年度检查发现的问题是否已整改",
        prev.year,
        named.join("、")
    );
    let ids: Vec<&str> = again.iter().map(|r| r.as_str()).collect();
    Some(
        Finding::new(RuleId::PreviousFindingsRecurring, msg)
            .expected("上年度检查发现的问题不再出现")
            .actual(ids.join("、")),
    )
}

/// §5 #3: the narrative is near-identical to another agency's report of the same year. `peers` are
/// the same year's earlier reports with full fingerprints (the caller may pass more; other agencies
/// and other years are skipped here).
pub fn duplicate_peer(cur: &ReportRow, peers: &[ReportRow], sim: &Similarity) -> Option<Finding> {
    if !cur.has_identity() {
        return None;
    }
    let mut matches: Vec<(f64, &ReportRow)> = peers
        .iter()
        .filter(|p| p.year == cur.year && !p.agency.is_empty() && p.agency != cur.agency)
        .filter_map(|p| {
            sim.near_identical(&cur.fingerprint, &p.fingerprint)
                .map(|j| (j, p))
        })
        .collect();
    matches.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.received_order.cmp(&b.1.received_order))
    });
    let (j, best) = matches.first()?;
    let others = if matches.len() > 1 {
        format!("；另有{}份同年度报告同样雷同", matches.len() - 1)
    } else {
        String::new()
    };
    let msg = format!(
        "第一部分（总体情况）和第五部分（存在的主要问题及改进情况）的正文与{}的{}年度报告高度雷同（去除数字和机关名称后相似度{}）{others}，请核实是否套用他人报告",
        best.agency_name,
        best.year,
        percent(*j)
    );
    Some(
        Finding::new(RuleId::DuplicatePeer, msg)
            .expected(format!("< {}", percent(sim.threshold)))
            .actual(percent(*j)),
    )
}

/// §5 #5: the same agency and year was already validated with a different version. `earlier` are the
/// rows stored before this one (any agency and year; others are skipped here).
pub fn report_changed(cur: &ReportRow, earlier: &[ReportRow]) -> Option<Finding> {
    if !cur.has_identity() {
        return None;
    }
    let last = earlier
        .iter()
        .filter(|r| r.agency == cur.agency && r.year == cur.year && r.version != cur.version)
        .max_by_key(|r| r.received_order)?;
    let msg = format!(
        "本机关{}年度报告此前已收到另一版本（版本 {}），现被替换为不同内容的新版本（版本 {}），请核实发布后修改的原因",
        cur.year,
        short(&last.version),
        short(&cur.version)
    );
    Some(
        Finding::new(RuleId::ReportChanged, msg)
            .expected(last.version.clone())
            .actual(cur.version.clone()),
    )
}

/// Everything the cross-report rules need from the store for one report.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The same agency's latest report of year Y−1.
    pub previous_year: Option<ReportRow>,
    /// Same-year reports stored before this one, with full fingerprints: at least every one that is
    /// near-identical, all `duplicate-peer` reads (the validator passes only those).
    pub peers: Vec<ReportRow>,
    /// Same agency and year, stored before this one (fingerprints not needed): at least the latest
    /// one with another version, all `report-changed` reads.
    pub same_agency_year: Vec<ReportRow>,
}

/// All cross-report findings for `cur`, with the deployment's severities, in a fixed order.
pub fn evaluate(
    cur: &ReportRow,
    ctx: &Context,
    sim: &Similarity,
    rules: &RuleConfig,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if cur.has_identity() {
        if let Some(prev) = ctx
            .previous_year
            .as_ref()
            .filter(|p| p.agency == cur.agency && p.year == cur.year - 1)
        {
            out.extend(carryover_continuity(cur, prev));
            out.extend(t2_stock_flow(cur, prev));
            let th = rules.thresholds();
            out.extend(duplicate_previous_year(
                cur,
                prev,
                sim,
                th.duplicate_problems_percent,
            ));
            out.extend(previous_problems_unaddressed(cur, prev));
            out.extend(previous_findings_recurring(cur, prev));
        }
        out.extend(duplicate_peer(cur, &ctx.peers, sim));
        out.extend(report_changed(cur, &ctx.same_agency_year));
    }
    out.into_iter()
        .filter(|f| rules.is_enabled(f.rule))
        .map(|mut f| {
            f.severity = rules.severity(f.rule);
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nianbao_model::Severity;

    fn row(agency: &str, year: i32, order: i64) -> ReportRow {
        ReportRow {
            report_id: format!("{agency}-{year}-{order}"),
            version: format!("v{order}"),
            agency: normalize_agency(agency),
            agency_name: agency.to_string(),
            year,
            received_order: order,
            ..Default::default()
        }
    }

    const TEXT: &str = "一、总体情况。本机关坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻落实政府信息公开条例，围绕中心工作主动公开政府信息，依法办理依申请公开，加强政府信息管理和平台建设，完善监督保障机制。五、存在的主要问题及改进情况。主动公开的深度和广度还需拓展，解读形式较为单一。下一步将加强业务培训，丰富解读形式，提升公开质量。";
    const OTHER: &str = "一、总体情况。全年围绕优化营商环境推进重点领域信息公开，财政预决算、重大建设项目、公共资源配置等信息及时发布，政务新媒体矩阵持续完善，回应关切更加及时。五、存在的主要问题及改进情况。个别科室对公开工作重视不够，栏目更新不及时。明年将建立定期检查通报制度，压实工作责任。";

    fn with_text(mut r: ReportRow, text: &str) -> ReportRow {
        r.fingerprint = Fingerprint::of_text(text, &[&r.agency_name]);
        r
    }

    /// A row whose part 五 (only) is `five`; parts 一 differ between any two rows built here.
    fn with_five(mut r: ReportRow, five: &str) -> ReportRow {
        r.fingerprint = Fingerprint::of_text(&format!("{}{five}", r.year), &[]);
        r.problems_text = five.to_string();
        r.problems_fingerprint = Fingerprint::of_text(five, &[&r.agency_name]);
        r
    }

    const FIVE_2023: &str = "一是政策解读质量仍需提升，个别单位政策解读内容简单、形式单一；二是政务公开队伍建设还需进一步加强，个别单位存在人员配备不足、兼职多、流动性过快的问题。下一步，将着力加强政策解读质效，建立健全传帮带机制，定期组织业务培训。";

    #[test]
    fn part_five_copied_from_last_year_is_a_duplicate_with_its_score() {
        let sim = Similarity::default();
        let prev = with_five(row("清河县财政局", 2023, 1), FIVE_2023);
        // This year's part 五: last year's, one sentence added. Part 一 differs (not near-identical).
        let cur = with_five(
            row("清河县财政局", 2024, 2),
            &format!("{FIVE_2023}同时，部分栏目更新不够及时。"),
        );
        assert!(
            sim.near_identical(&cur.fingerprint, &prev.fingerprint)
                .is_none()
        );
        let f = duplicate_previous_year(&cur, &prev, &sim, 50).expect("part 五 copied");
        assert_eq!(f.rule, RuleId::DuplicatePreviousYear);
        assert_eq!(f.part, Some(5));
        assert!(f.message.contains("第五部分"), "{}", f.message);
        assert!(f.message.contains("重复率"), "{}", f.message);
        let score = f.actual.clone().unwrap_or_default();
        assert!(score.ends_with('%') && score != "0%", "{score}");
        assert_eq!(f.expected.as_deref(), Some("< 50%"));
        // The threshold is the deployment's: at 99 % the same part 五 passes.
        assert!(duplicate_previous_year(&cur, &prev, &sim, 99).is_none());
        // Near miss: a part 五 written anew.
        let fresh = with_five(
            row("清河县财政局", 2024, 2),
            "一是信息发布审核机制有待完善，部分栏目更新不够及时；二是公开内容与群众需求还有差距。针对上述问题，将建立信息发布三级审核制度，按月开展栏目巡查。",
        );
        assert!(duplicate_previous_year(&fresh, &prev, &sim, 50).is_none());
    }

    #[test]
    fn last_years_problems_must_be_answered_this_year() {
        let mut prev = with_five(row("清河县财政局", 2023, 1), FIVE_2023);
        prev.problems = vec![
            "政策解读质量仍需提升".to_string(),
            "政务公开队伍建设还需进一步加强".to_string(),
        ];
        let cur = with_five(
            row("清河县财政局", 2024, 2),
            "一是信息发布不够及时；二是公开形式单一。下一步，我们将完善制度。",
        );
        let f = previous_problems_unaddressed(&cur, &prev).expect("unanswered");
        assert_eq!(f.rule, RuleId::PreviousProblemsUnaddressed);
        assert_eq!(f.part, Some(5));
        assert!(
            f.message
                .contains("2023年度报告第五部分所列问题“政策解读质量仍需提升”"),
            "{}",
            f.message
        );
        assert_eq!(f.severity, Severity::Warning);
        // Near miss: this year's part 五 reports on last year's problems.
        let answered = with_five(
            row("清河县财政局", 2024, 2),
            "一是信息发布不够及时。针对2023年存在的问题，已逐项落实整改。下一步，我们将完善制度。",
        );
        assert!(previous_problems_unaddressed(&answered, &prev).is_none());
        // Through evaluate, with identity and the previous year in the context.
        let ctx = Context {
            previous_year: Some(prev.clone()),
            ..Default::default()
        };
        let all = evaluate(&cur, &ctx, &Similarity::default(), &RuleConfig::default());
        assert!(
            all.iter()
                .any(|f| f.rule == RuleId::PreviousProblemsUnaddressed)
        );
        let off = RuleConfig::default().disable(RuleId::PreviousProblemsUnaddressed);
        let none = evaluate(&cur, &ctx, &Similarity::default(), &off);
        assert!(
            !none
                .iter()
                .any(|f| f.rule == RuleId::PreviousProblemsUnaddressed)
        );
    }

    #[test]
    fn last_years_findings_recurring_is_one_warning_naming_them() {
        use Severity::{Error, Info, Warning};
        let prev_found = vec![
            (RuleId::T3Balance, Error),
            (RuleId::T3Balance, Error),
            (RuleId::FeeStatementMissing, Warning),
            (RuleId::LabelMismatch, Info),
            (RuleId::ReportChanged, Warning),
            (RuleId::DuplicatePreviousYear, Warning),
            (RuleId::Unreadable, Error),
            (RuleId::CellMissing, Error),
        ];
        // The pure decision: single-report rules at warning or error in both years, each once, in
        // catalogue order (t3-balance before fee-statement-missing).
        let cur_found = vec![
            (RuleId::FeeStatementMissing, Warning),
            (RuleId::T3Balance, Error),
            (RuleId::LabelMismatch, Info),
            (RuleId::ReportChanged, Warning),
            (RuleId::DuplicatePreviousYear, Warning),
            (RuleId::Unreadable, Error),
            (RuleId::T4Total, Error),
        ];
        assert_eq!(
            recurring_rules(&cur_found, &prev_found),
            vec![RuleId::T3Balance, RuleId::FeeStatementMissing]
        );
        // A rule found only at info in one of the years does not recur.
        assert!(recurring_rules(&[(RuleId::T3Balance, Info)], &prev_found).is_empty());
        assert!(
            recurring_rules(&[(RuleId::LabelMismatch, Warning)], &prev_found).is_empty(),
            "label-mismatch was info last year"
        );
        let mut prev = row("清河县财政局", 2023, 1);
        prev.found = prev_found;
        let mut cur = row("清河县财政局", 2024, 2);
        cur.found = cur_found;
        let f = previous_findings_recurring(&cur, &prev).expect("recurring");
        assert_eq!(f.rule, RuleId::PreviousFindingsRecurring);
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.message,
            "本机关2023年度报告经检查发现的问题在本年度报告中再次出现：表三勾稽关系不平衡（t3-balance）、未说明信息处理费收取情况（fee-statement-missing），请核实上年度检查发现的问题是否已整改"
        );
        assert_eq!(
            f.actual.as_deref(),
            Some("t3-balance、fee-statement-missing")
        );
        // Near miss: last year's problems are gone (only another rule, and the meta ones, remain).
        let mut fixed = row("清河县财政局", 2024, 2);
        fixed.found = vec![
            (RuleId::T4Total, Error),
            (RuleId::ReportChanged, Warning),
            (RuleId::DuplicatePreviousYear, Warning),
        ];
        assert!(previous_findings_recurring(&fixed, &prev).is_none());
        // Many: five named, all counted, all ids in `actual`.
        let many = [
            RuleId::PartMissing,
            RuleId::TableMissing,
            RuleId::CellMissing,
            RuleId::CellInvalid,
            RuleId::T3RowTotal,
            RuleId::T3Balance,
            RuleId::T4Total,
        ];
        prev.found = many.iter().map(|r| (*r, Error)).collect();
        cur.found = many.iter().rev().map(|r| (*r, Error)).collect();
        let f = previous_findings_recurring(&cur, &prev).expect("recurring");
        assert!(
            f.message
                .contains("表三行总计不等于各列之和（t3-row-total）等7项"),
            "{}",
            f.message
        );
        assert!(!f.message.contains("t3-balance"), "{}", f.message);
        assert_eq!(f.actual.unwrap_or_default().split('、').count(), 7);
        // Through evaluate: only with the same agency's report of Y−1, and switchable.
        let ctx = Context {
            previous_year: Some(prev.clone()),
            ..Default::default()
        };
        let sim = Similarity::default();
        let got = evaluate(&cur, &ctx, &sim, &RuleConfig::default());
        assert_eq!(
            got.iter()
                .filter(|f| f.rule == RuleId::PreviousFindingsRecurring)
                .count(),
            1
        );
        for other in [row("洛水县财政局", 2023, 1), row("清河县财政局", 2022, 1)] {
            let ctx = Context {
                previous_year: Some(ReportRow {
                    found: prev.found.clone(),
                    ..other
                }),
                ..Default::default()
            };
            assert!(evaluate(&cur, &ctx, &sim, &RuleConfig::default()).is_empty());
        }
        let off = RuleConfig::default().disable(RuleId::PreviousFindingsRecurring);
        assert!(
            !evaluate(&cur, &ctx, &sim, &off)
                .iter()
                .any(|f| f.rule == RuleId::PreviousFindingsRecurring)
        );
    }

    #[test]
    fn found_rules_are_read_from_stored_findings() {
        let stored: Vec<StoredFinding> = serde_json::from_str(
            r#"[{"rule":"t3-balance","severity":"error","message":"x"},
                {"rule":"rule-of-a-newer-build","severity":"warning","message":"y"},
                {"rule":"fee-statement-missing","severity":"critical","message":"z"}]"#,
        )
        .unwrap_or_default();
        assert_eq!(
            ReportRow::found_from_stored(&stored),
            vec![(RuleId::T3Balance, Severity::Error)]
        );
    }

    #[test]
    fn carryover_continuity_flags_each_differing_column() {
        let mut prev = row("清河县财政局", 2023, 1);
        prev.r25 = Some([
            Some(1.0),
            Some(0.0),
            None,
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(2.0),
        ]);
        let mut cur = row("清河县财政局", 2024, 2);
        cur.r02 = Some([
            Some(1.0),
            Some(1.0),
            Some(5.0),
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(2.0),
        ]);
        let f = carryover_continuity(&cur, &prev);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, RuleId::CarryoverContinuity);
        assert_eq!(f[0].cell.as_deref(), Some("R02"));
        assert_eq!(f[0].column, Some(1));
        assert_eq!(f[0].part, Some(3));
        assert_eq!(f[0].expected.as_deref(), Some("0"));
        assert_eq!(f[0].actual.as_deref(), Some("1"));
        // Equal columns, blank cells, or no 表三: nothing.
        cur.r02 = prev.r25;
        assert!(carryover_continuity(&cur, &prev).is_empty());
        cur.r02 = None;
        assert!(carryover_continuity(&cur, &prev).is_empty());
    }

    #[test]
    fn t2_stock_flow_per_kind() {
        let mut prev = row("清河县财政局", 2023, 1);
        prev.a = [None, None, Some(0.0), None, None, Some(10.0)];
        let mut cur = row("清河县财政局", 2024, 2);
        cur.a = [
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(3.0),
            Some(1.0),
            Some(12.0),
        ];
        assert!(t2_stock_flow(&cur, &prev).is_empty());
        cur.a[5] = Some(15.0);
        let f = t2_stock_flow(&cur, &prev);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].cell.as_deref(), Some("A06"));
        assert_eq!(f[0].part, Some(2));
        assert_eq!(f[0].expected.as_deref(), Some("12"));
        assert_eq!(f[0].actual.as_deref(), Some("15"));
        assert_eq!(f[0].severity, Severity::Info);
        // A blank previous stock: not checked.
        prev.a[5] = None;
        assert!(t2_stock_flow(&cur, &prev).is_empty());
        // 规章 too.
        prev.a[2] = Some(4.0);
        cur.a[2] = Some(1.0);
        let f = t2_stock_flow(&cur, &prev);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].cell.as_deref(), Some("A03"));
    }

    #[test]
    fn duplicate_previous_year_needs_near_identical_text() {
        let sim = Similarity::default();
        let prev = with_text(
            row("清河县财政局", 2023, 1),
            &TEXT.replace("本机关", "清河县财政局2023年"),
        );
        let copy = with_text(
            row("清河县财政局", 2024, 2),
            &TEXT.replace("本机关", "清河县财政局2024年"),
        );
        let f = duplicate_previous_year(&copy, &prev, &sim, 50).expect("a copy is flagged");
        assert_eq!(f.rule, RuleId::DuplicatePreviousYear);
        assert_eq!(f.actual.as_deref(), Some("100%"));
        let fresh = with_text(row("清河县财政局", 2024, 2), OTHER);
        assert!(duplicate_previous_year(&fresh, &prev, &sim, 50).is_none());
        // Too short to judge.
        let a = with_text(row("清河县财政局", 2024, 2), "一、总体情况");
        let b = with_text(row("清河县财政局", 2023, 1), "一、总体情况");
        assert!(duplicate_previous_year(&a, &b, &sim, 50).is_none());
    }

    #[test]
    fn duplicate_peer_other_agency_same_year() {
        let sim = Similarity::default();
        let a = with_text(
            row("清河县财政局", 2024, 1),
            &TEXT.replace("本机关", "清河县财政局"),
        );
        let b = with_text(
            row("洛水县财政局", 2024, 2),
            &TEXT.replace("本机关", "洛水县财政局"),
        );
        let c = with_text(row("青山县财政局", 2024, 3), OTHER);
        let f = duplicate_peer(&b, &[a.clone(), c.clone()], &sim).expect("copied from a peer");
        assert_eq!(f.rule, RuleId::DuplicatePeer);
        assert!(f.message.contains("清河县财政局"), "{}", f.message);
        assert!(duplicate_peer(&c, &[a.clone(), b.clone()], &sim).is_none());
        // The same agency is not a peer; another year is not a peer.
        let same = with_text(row("洛水县财政局", 2024, 0), TEXT);
        assert!(duplicate_peer(&b, &[same], &sim).is_none());
        let mut old = a.clone();
        old.year = 2023;
        assert!(duplicate_peer(&b, &[old], &sim).is_none());
    }

    #[test]
    fn report_changed_only_for_another_version() {
        let first = row("清河县财政局", 2024, 1);
        let mut second = row("清河县财政局", 2024, 2);
        let f = report_changed(&second, std::slice::from_ref(&first)).expect("replaced");
        assert_eq!(f.expected.as_deref(), Some("v1"));
        assert_eq!(f.actual.as_deref(), Some("v2"));
        // The same version (a re-delivery, or the same bytes under another id) is no change.
        second.version = "v1".into();
        assert!(report_changed(&second, std::slice::from_ref(&first)).is_none());
        // Another year or agency: no change.
        let other = row("清河县财政局", 2023, 1);
        assert!(report_changed(&row("清河县财政局", 2024, 2), &[other]).is_none());
        assert!(report_changed(&row("洛水县财政局", 2024, 2), &[first]).is_none());
    }

    #[test]
    fn evaluate_applies_config_and_needs_identity() {
        let mut prev = row("清河县财政局", 2023, 1);
        prev.r25 = Some([Some(1.0); 7]);
        let mut cur = row("清河县财政局", 2024, 2);
        cur.r02 = Some([Some(2.0); 7]);
        let ctx = Context {
            previous_year: Some(prev),
            ..Default::default()
        };
        let sim = Similarity::default();
        let all = evaluate(&cur, &ctx, &sim, &RuleConfig::default());
        assert_eq!(all.len(), 7);
        let cfg = RuleConfig::default().with_severity(RuleId::CarryoverContinuity, Severity::Error);
        assert!(
            evaluate(&cur, &ctx, &sim, &cfg)
                .iter()
                .all(|f| f.severity == Severity::Error)
        );
        let off = RuleConfig::default().disable(RuleId::CarryoverContinuity);
        assert!(evaluate(&cur, &ctx, &sim, &off).is_empty());
        cur.year = 0;
        assert!(evaluate(&cur, &ctx, &sim, &RuleConfig::default()).is_empty());
    }
}
