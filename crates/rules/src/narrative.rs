//! Figures and claims in the prose that contradict the tables (`format-2021.md` I10, §5 #9).
//!
//! Only clear statements are read: "未收到…申请", "共收到…申请N件", "办结N件", "行政复议N件",
//! "无行政复议", "制发规范性文件N件", "作出行政许可（处罚、强制）决定N件". A statement about a subset ("未收到涉密申请", "自然人申请3件") or
//! with a vague figure ("90余件") is not a claim about the total and is left alone: a warning a person
//! has to dismiss costs more than a contradiction missed.
//!
//! The scanners anchor on a few fixed words and look a bounded number of characters around them, with
//! a restricted set of characters allowed in between; this keeps them linear and allocation-free.

use crate::Sink;
use crate::text::{
    chars_after, chars_before, count_after, excerpt, find_word, fold_compact, is_sentence_end, num,
    part_name, same, trigger_before,
};
use nianbao_model::{
    Extraction, Finding, Part, RuleId, T2Cell, T2Row, T3Col, T3Row, T4Cell, T4Group, T4Result,
};

/// Every label of the three tables (2021 and 2019 wording), folded, longest first: lines made only of
/// these (and numbers) are table rows flattened into text, not prose.
#[derive(Debug, Clone)]
pub(crate) struct TableLabels {
    labels: Vec<String>,
}

impl TableLabels {
    pub(crate) fn new() -> TableLabels {
        let mut raw: Vec<String> = Vec::new();
        for r in T2Row::ALL {
            raw.push(r.label().into());
        }
        for c in [
            T2Cell::A01,
            T2Cell::A02,
            T2Cell::A03,
            T2Cell::A07,
            T2Cell::A10,
        ] {
            raw.push(c.column_label().into());
        }
        for item in ["一", "五", "六", "八", "九"] {
            raw.push(format!("第二十条第（{item}）项"));
        }
        raw.push("信息内容".into());
        for r in T3Row::ALL {
            let l = r.labels();
            raw.push(l.level1.into());
            raw.extend(l.level2.map(String::from));
            raw.extend(l.level3.map(String::from));
        }
        for c in T3Col::ALL {
            raw.push(c.label().into());
        }
        raw.extend(
            [
                "申请人情况",
                "法人或其他组织",
                "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）",
                "行政复议",
                "行政诉讼",
                "未经复议直接起诉",
                "复议后起诉",
                // 2019 trial format.
                "本年新制作数量",
                "本年新公开数量",
                "对外公开总数量",
                "上一年项目数量",
                "本年增/减",
                "处理决定数量",
                "规范性文件",
                "其他对外管理服务事项",
                "政府集中采购",
                "采购项目数量",
                "采购总金额",
                "（六）其他处理",
            ]
            .map(String::from),
        );
        for g in T4Group::ALL {
            raw.push(g.label().into());
        }
        for r in [
            T4Result::Upheld,
            T4Result::Corrected,
            T4Result::Other,
            T4Result::Pending,
            T4Result::Total,
        ] {
            raw.push(r.label().into());
        }
        let mut labels: Vec<String> = raw.iter().map(|l| fold_compact(l)).collect();
        labels.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        labels.dedup();
        TableLabels { labels }
    }

    /// Whether a line is (part of) a table rather than prose: cells separated by tabs, a bare number,
    /// a label or a fragment of one (one cell per line, labels broken over lines), or labels followed
    /// by their numbers.
    pub(crate) fn is_table_line(&self, text: &str) -> bool {
        if text.contains('\t') {
            return true;
        }
        let folded = fold_compact(text);
        let core =
            folded.trim_end_matches(|c: char| c.is_ascii_digit() || matches!(c, '.' | '-' | ','));
        if core.is_empty() {
            return true;
        }
        if self
            .labels
            .iter()
            .any(|l| l.len() >= core.len() && l.contains(core))
        {
            return true;
        }
        let mut rest = core;
        while let Some(l) = self.labels.iter().find(|l| rest.starts_with(l.as_str())) {
            rest = rest[l.len()..]
                .trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, '.' | '-' | ','));
            if rest.is_empty() {
                return true;
            }
        }
        false
    }
}

/// What a statement in the text is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    /// 本年新收申请 (R01 总计; R01+R02 also accepted, many reports count the carried-over ones in).
    Received,
    /// 办结 / 答复 (R24 总计).
    Closed,
    /// 行政复议 (D05).
    Review,
    /// 行政诉讼 (D10 + D15).
    Litigation,
    /// 制发规范性文件 (A04).
    NormIssued,
    /// 废止规范性文件 (A05).
    NormRepealed,
    /// 现行有效规范性文件 (A06).
    NormInForce,
    /// 行政许可 decisions (A07).
    Permits,
    /// 行政处罚 decisions (A08).
    Penalties,
    /// 行政强制 decisions (A09).
    Enforcements,
}

#[derive(Clone, Copy, Debug)]
struct Statement {
    claim: Claim,
    value: u64,
    /// Stated as "none" rather than as a number.
    none: bool,
    /// Byte offset in the sentence, for the excerpt.
    at: usize,
}

/// Characters that may stand between "未收到"/"收到" and "申请" without narrowing what is counted:
/// "未收到任何政务信息公开的申请", "共收到向我单位提出的政府信息公开申请".
/// Kept as a `match` (a compiled decision tree): these sets are consulted for every character of
/// every gap walked, and a linear `str::contains` over them dominated the whole check.
#[rustfmt::skip]
fn application_gap(c: char) -> bool {
    matches!(c,
        '依' | '任' | '何' | '政' | '府' | '务' | '信' | '息' | '公' | '开' | '的' | '相' | '关' | '有' |
        '一' | '件' | '例' | '个' | '发' | '生' | '过' | '到' | '了' | '收' | '接' | '受' | '理' | '提' |
        '出' | '交' | '类' | '项' | '新' | '本' | '年' | '度' | '、' | '和' | '或' | '及' | '此' | '方' |
        '面' | '向' | '我' | '单' | '位' | '机' | '镇' | '街' | '道' | '乡' | '局' | '办' | '委' | '人' |
        '共' | '计' | '累' | '合' | '总' | '书' | '网' | '络' | '上' | '线' | '当' | '在'
    )
}

/// Fillers between a subject and its count: "申请共计5件", "数量为5件", "申请公开事项3件".
#[rustfmt::skip]
fn count_filler(c: char) -> bool {
    matches!(c,
        '共' | '计' | '合' | '总' | '数' | '量' | '为' | ':' | '：' | '达' | '累' | '有' | '是' |
        '公' | '开' | '事' | '项'
    )
}

/// Between 办结/答复 and the count: "已全部按时办结5件", "答复政府信息公开申请5件".
#[rustfmt::skip]
fn closed_filler(c: char) -> bool {
    matches!(c,
        '了' | '全' | '部' | '已' | '共' | '计' | '合' | '总' | '数' | '量' | '为' | ':' | '：' | '达' |
        '累' | '申' | '请' | '政' | '府' | '信' | '息' | '公' | '开' | '的' | '相' | '关' | '均' | '按' |
        '时' | '依' | '法'
    )
}

/// Between 行政复议/行政诉讼 and the count: "行政复议案件共2件".
#[rustfmt::skip]
fn lawsuit_filler(c: char) -> bool {
    matches!(c,
        '案' | '件' | '共' | '计' | '为' | ':' | '：' | '数' | '量' | '总' | '情' | '况' | '有' | '发' |
        '生'
    )
}

/// Between "无/未/没有" and 行政复议/行政诉讼: "未发生因政府信息公开工作被申请行政复议、提起行政诉讼".
#[rustfmt::skip]
fn lawsuit_gap(c: char) -> bool {
    matches!(c,
        '相' | '关' | '发' | '生' | '被' | '申' | '请' | '提' | '起' | '出' | '现' | '收' | '到' | '因' |
        '政' | '府' | '信' | '息' | '公' | '开' | '工' | '作' | '引' | '的' | '有' | '任' | '何' | '和' |
        '及' | '、' | '或' | '行' | '诉' | '讼' | '复' | '议' | '一' | '例' | '件' | '类' | '案' | '此' |
        '方' | '面' | '等' | '接' | '受' | '理' | '也' | '都' | '均' | '本' | '年' | '度' | '机' | '我' |
        '单' | '位'
    )
}

const COUNT_UNITS: [char; 4] = ['件', '个', '份', '条'];
const LAWSUIT_UNITS: [char; 6] = ['件', '起', '个', '次', '宗', '例'];

/// Words just before a trigger that make the count a subset (a channel, a manner, "其中"): "其中当面答复
/// 2件", "网上收到申请3件" say nothing about the total.
const QUALIFIERS: [&str; 19] = [
    "其中", "当面", "书面", "网上", "网络", "在线", "电话", "信函", "传真", "邮寄", "邮件", "口头",
    "线上", "线下", "电子", "延期", "逾期", "延长", "现场",
];

fn qualified(s: &str, at: usize) -> bool {
    let before = chars_before(s, at, 8);
    QUALIFIERS.iter().any(|q| before.contains(q))
}

fn ends_negated(s: &str) -> bool {
    ["未", "没有", "无", "不", "尚未", "待"]
        .iter()
        .any(|n| s.ends_with(n))
}

/// Which anchors a sentence contains, as bits.
const APPLICATIONS: u8 = 1;
const LAWSUITS: u8 = 2;
const NORMS: u8 = 4;
const DECISIONS: u8 = 8;

/// The sentences of a line that contain an anchor, as `(start, end, anchors)` in line order.
///
/// Anchors are rare and prose in 总体情况 runs to thousands of characters, so the anchors are found
/// first with single-character searches (`memchr` on one byte of the character) and only their own
/// sentences are delimited; decoding every character of the prose to split it cost more than all the
/// rules together.
fn anchored_sentences(line: &str, out: &mut Vec<(usize, usize, u8)>) {
    out.clear();
    let mut note = |i: usize, anchor: u8| {
        let start = line[..i]
            .char_indices()
            .rev()
            .find(|&(_, c)| is_sentence_end(c))
            .map_or(0, |(k, c)| k + c.len_utf8());
        match out.iter_mut().find(|s| s.0 == start) {
            Some(s) => s.2 |= anchor,
            None => {
                let end = line[i..]
                    .find(is_sentence_end)
                    .map_or(line.len(), |k| i + k);
                out.push((start, end, anchor));
            }
        }
    };
    for i in find_word(line, "申请") {
        note(i, APPLICATIONS);
    }
    for i in find_word(line, "行政") {
        let rest = &line[i + "行政".len()..];
        if rest.starts_with("复议") || rest.starts_with("诉讼") {
            note(i, LAWSUITS);
        }
        if rest.starts_with("许可") || rest.starts_with("处罚") || rest.starts_with("强制") {
            note(i, DECISIONS);
        }
    }
    for i in find_word(line, "规范性文件") {
        note(i, NORMS);
    }
    out.sort_unstable_by_key(|s| s.0);
}

fn scan_sentence(s: &str, anchors: u8, out: &mut Vec<Statement>) {
    if anchors & APPLICATIONS != 0 {
        scan_applications(s, out);
        scan_closed(s, out);
    }
    if anchors & LAWSUITS != 0 {
        scan_lawsuits(s, out);
    }
    if anchors & NORMS != 0 {
        scan_norms(s, out);
    }
    if anchors & DECISIONS != 0 {
        scan_decisions(s, out);
    }
}

/// Between 行政许可/处罚/强制 and the count: "行政许可决定共120件", "行政处罚案件数量为5件".
#[rustfmt::skip]
fn decision_filler(c: char) -> bool {
    matches!(c,
        '决' | '定' | '案' | '件' | '事' | '项' | '共' | '计' | '为' | ':' | '：' | '数' | '量' | '总' |
        '书' | '处' | '理'
    )
}

/// "作出行政许可决定120件", "办理行政处罚案件5件", "行政强制决定3件": the number of decisions 表二
/// reports (A07–A09). A figure about published items ("公开行政许可信息120条") is not one: 信息 is
/// not a filler and 条 not a unit, and a figure with neither a deciding verb before it nor 决定
/// after it is left alone.
fn scan_decisions(s: &str, out: &mut Vec<Statement>) {
    const VERBS: [&str; 7] = ["作出", "做出", "办理", "实施", "办结", "审批", "下达"];
    for (anchor, claim) in [
        ("行政许可", Claim::Permits),
        ("行政处罚", Claim::Penalties),
        ("行政强制", Claim::Enforcements),
    ] {
        for i in find_word(s, anchor) {
            let after = &s[i + anchor.len()..];
            let decided = after.starts_with("决定") || after.starts_with("处理决定");
            let verb = VERBS.iter().any(|v| chars_before(s, i, 6).contains(v));
            if !(decided || verb) || qualified(s, i) {
                continue;
            }
            if let Some(value) =
                count_after(after, 8, decision_filler, &['件', '个', '起', '宗', '项'])
            {
                out.push(Statement {
                    claim,
                    value,
                    none: false,
                    at: i,
                });
            }
        }
    }
}

fn scan_applications(s: &str, out: &mut Vec<Statement>) {
    for i in find_word(s, "申请") {
        let after = &s[i + "申请".len()..];
        // 申请人 is a person; 申请行政复议 is about the 复议 scanner's subject.
        if after.starts_with('人')
            || after.starts_with("行政复议")
            || after.starts_with("复议")
            || after.starts_with("行政诉讼")
        {
            continue;
        }
        let pre = &s[..i];
        const NONE: [&str; 5] = ["未接收到", "未收到", "未接到", "没有", "无"];
        if let Some(t) = trigger_before(pre, &NONE, 12, application_gap) {
            if !pre[..t.start].ends_with('有') && !qualified(s, t.start) {
                out.push(Statement {
                    claim: Claim::Received,
                    value: 0,
                    none: true,
                    at: t.start,
                });
            }
            continue;
        }
        const GOT: [&str; 5] = ["收到", "受理", "新收", "接收", "接到"];
        let digit_gap = |c: char| application_gap(c) || c.is_ascii_digit();
        let Some(t) = trigger_before(pre, &GOT, 14, digit_gap) else {
            continue;
        };
        if ends_negated(&pre[..t.start]) || qualified(s, t.start) {
            continue;
        }
        // "收到5件政府信息公开申请" or "收到政府信息公开申请5件".
        let value = if t.gap.starts_with(|c: char| c.is_ascii_digit()) {
            let Some(v) = count_after(t.gap, 0, |_| false, &COUNT_UNITS) else {
                continue;
            };
            let digits = t.gap.bytes().take_while(u8::is_ascii_digit).count();
            if t.gap[digits..].contains(|c: char| c.is_ascii_digit()) {
                continue;
            }
            Some(v)
        } else if t.gap.contains(|c: char| c.is_ascii_digit()) {
            None
        } else {
            count_after(after, 6, count_filler, &COUNT_UNITS)
        };
        if let Some(value) = value {
            out.push(Statement {
                claim: Claim::Received,
                value,
                none: false,
                at: t.start,
            });
        }
    }
}

fn scan_closed(s: &str, out: &mut Vec<Statement>) {
    for anchor in ["办结", "答复"] {
        for i in find_word(s, anchor) {
            if ends_negated(&s[..i]) || qualified(s, i) {
                continue;
            }
            if let Some(value) =
                count_after(&s[i + anchor.len()..], 10, closed_filler, &COUNT_UNITS)
            {
                out.push(Statement {
                    claim: Claim::Closed,
                    value,
                    none: false,
                    at: i,
                });
            }
        }
    }
}

/// Whether a sentence counts the cases an agency *handles* (a 司法局 as 复议机关, a 法制 office
/// handling cases for others: "全年共办理行政复议案件120件") rather than the cases brought against
/// its own 政府信息公开 work, which is what 表四 counts. Such a sentence names no 信息公开.
fn general_case_work(s: &str, at: usize) -> bool {
    const HANDLING: [&str; 8] = [
        "办理", "受理", "审理", "审结", "办结", "承办", "代理", "处理",
    ];
    !s.contains("信息公开") && HANDLING.iter().any(|h| s[..at].contains(h))
}

fn scan_lawsuits(s: &str, out: &mut Vec<Statement>) {
    for (anchor, claim) in [("行政复议", Claim::Review), ("行政诉讼", Claim::Litigation)] {
        for i in find_word(s, anchor) {
            let after = &s[i + anchor.len()..];
            if general_case_work(s, i) {
                continue;
            }
            if let Some(value) = count_after(after, 6, lawsuit_filler, &LAWSUIT_UNITS) {
                out.push(Statement {
                    claim,
                    value,
                    none: false,
                    at: i,
                });
                continue;
            }
            let Some(t) = trigger_before(&s[..i], &["没有", "无", "未"], 24, lawsuit_gap)
            else {
                continue;
            };
            // "无一例行政复议被纠错" speaks of outcomes, not of the number of cases.
            let next = chars_after(after, 0, 6);
            let about_outcome = ["被", "纠", "败", "撤", "结果", "决定", "维持"]
                .iter()
                .any(|w| next.contains(w));
            if !about_outcome {
                out.push(Statement {
                    claim,
                    value: 0,
                    none: true,
                    at: t.start,
                });
            }
        }
    }
}

fn scan_norms(s: &str, out: &mut Vec<Statement>) {
    for i in find_word(s, "规范性文件") {
        const VERBS: [&str; 6] = ["制发", "印发", "出台", "制定", "废止", "现行有效"];
        let Some(t) = trigger_before(&s[..i], &VERBS, 4, |c| {
            matches!(c, '了' | '行' | '政' | '的' | '共')
        }) else {
            continue;
        };
        let claim = match &s[t.start..] {
            v if v.starts_with("废止") => Claim::NormRepealed,
            v if v.starts_with("现行有效") => Claim::NormInForce,
            _ => Claim::NormIssued,
        };
        if let Some(value) = count_after(
            &s[i + "规范性文件".len()..],
            4,
            count_filler,
            &['件', '份', '个', '部'],
        ) {
            out.push(Statement {
                claim,
                value,
                none: false,
                at: t.start,
            });
        }
    }
}

/// The table figure a claim is checked against, the cell it lives in and how a message names it.
struct Target {
    value: f64,
    /// Also accepted (R01+R02 for "收到…申请").
    alternative: Option<f64>,
    cell: Option<(&'static str, Option<u8>)>,
    name: &'static str,
}

fn target(x: &Extraction, claim: Claim) -> Option<Target> {
    let total = T3Col::Total;
    let t3 = |r: T3Row| x.table3.as_ref().and_then(|t| t.get(r, total).value);
    let t4 = |c: T4Cell| x.table4.as_ref().and_then(|t| t.get(c).value);
    let t2 = |c: T2Cell| x.table2.as_ref().and_then(|t| t.get(c).value);
    let col = Some(total.index() as u8);
    Some(match claim {
        Claim::Received => {
            let r01 = t3(T3Row::R01)?;
            let r02 = t3(T3Row::R02).unwrap_or(0.0);
            Target {
                value: r01,
                alternative: Some(r01 + r02),
                cell: Some(("R01", col)),
                name: "表三“一、本年新收政府信息公开申请数量”总计",
            }
        }
        Claim::Closed => Target {
            value: t3(T3Row::R24)?,
            alternative: None,
            cell: Some(("R24", col)),
            name: "表三“（七）总计”总计",
        },
        Claim::Review => Target {
            value: t4(T4Cell::D05)?,
            alternative: None,
            cell: Some(("D05", None)),
            name: "表四 行政复议 总计",
        },
        Claim::Litigation => {
            let (d10, d15) = (t4(T4Cell::D10), t4(T4Cell::D15));
            if d10.is_none() && d15.is_none() {
                return None;
            }
            Target {
                value: d10.unwrap_or(0.0) + d15.unwrap_or(0.0),
                alternative: None,
                cell: None,
                name: "表四 行政诉讼 两项总计之和",
            }
        }
        Claim::NormIssued => Target {
            value: t2(T2Cell::A04)?,
            alternative: None,
            cell: Some(("A04", None)),
            name: "表二 行政规范性文件 本年制发件数",
        },
        Claim::NormRepealed => Target {
            value: t2(T2Cell::A05)?,
            alternative: None,
            cell: Some(("A05", None)),
            name: "表二 行政规范性文件 本年废止件数",
        },
        Claim::NormInForce => Target {
            value: t2(T2Cell::A06)?,
            alternative: None,
            cell: Some(("A06", None)),
            name: "表二 行政规范性文件 现行有效件数",
        },
        Claim::Permits => Target {
            value: t2(T2Cell::A07)?,
            alternative: None,
            cell: Some(("A07", None)),
            name: "表二 行政许可 本年处理决定数量",
        },
        Claim::Penalties => Target {
            value: t2(T2Cell::A08)?,
            alternative: None,
            cell: Some(("A08", None)),
            name: "表二 行政处罚 本年处理决定数量",
        },
        Claim::Enforcements => Target {
            value: t2(T2Cell::A09)?,
            alternative: None,
            cell: Some(("A09", None)),
            name: "表二 行政强制 本年处理决定数量",
        },
    })
}

pub(crate) fn check(x: &Extraction, labels: &TableLabels, sink: &mut Sink<'_>) {
    if !sink.on(RuleId::NarrativeTableMismatch) {
        return;
    }
    let mut reported: Vec<(Claim, u64)> = Vec::new();
    let mut found: Vec<Statement> = Vec::new();
    let mut spans: Vec<(usize, usize, u8)> = Vec::new();
    for part in [
        Part::Overview,
        Part::Proactive,
        Part::Requests,
        Part::ReviewLitigation,
    ] {
        for line in x.part_lines(part) {
            let text = x.text_of(line);
            // Every anchor is at least two CJK characters (6 bytes): bare numbers and cells are skipped
            // before any search is set up, which matters for tables flattened one cell per line.
            if text.len() < 6 || text.contains('\t') {
                continue;
            }
            anchored_sentences(text, &mut spans);
            let mut table_line: Option<bool> = None;
            for &(start, end, anchors) in &spans {
                let sentence = &text[start..end];
                found.clear();
                scan_sentence(sentence, anchors, &mut found);
                if found.is_empty() {
                    continue;
                }
                // Only now pay for the label comparison: almost no line gets this far.
                if *table_line.get_or_insert_with(|| labels.is_table_line(text)) {
                    break;
                }
                for st in &found {
                    let Some(t) = target(x, st.claim) else {
                        continue;
                    };
                    let text_value = st.value as f64;
                    let agrees = if st.none {
                        t.value <= 0.0
                    } else {
                        same(text_value, t.value)
                            || t.alternative.is_some_and(|a| same(text_value, a))
                    };
                    if agrees || reported.contains(&(st.claim, st.value)) {
                        continue;
                    }
                    reported.push((st.claim, st.value));
                    let quote = excerpt(sentence, st.at);
                    let said = if st.none {
                        "称没有".to_string()
                    } else {
                        format!("写为{}", st.value)
                    };
                    let mut f = Finding::new(
                        RuleId::NarrativeTableMismatch,
                        format!(
                            "{}正文“{quote}”{said}，与{}({})不一致",
                            part_name(part.number()),
                            t.name,
                            num(t.value)
                        ),
                    )
                    .part(part.number())
                    .expected(num(t.value))
                    .actual(st.value)
                    .line(Some(line.no));
                    if let Some((cell, column)) = t.cell {
                        f = f.cell(cell);
                        if let Some(c) = column {
                            f = f.column(c);
                        }
                    }
                    sink.push(f);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Checker;
    use crate::testutil::{ReportBuilder, line_of, only};
    use nianbao_model::Severity;

    fn claims(s: &str) -> Vec<(Claim, u64, bool)> {
        let mut out = Vec::new();
        let mut spans = Vec::new();
        anchored_sentences(s, &mut spans);
        for (start, end, anchors) in spans {
            scan_sentence(&s[start..end], anchors, &mut out);
        }
        out.iter().map(|st| (st.claim, st.value, st.none)).collect()
    }

    #[test]
    fn statements_recognised() {
        use Claim::*;
        assert_eq!(
            claims("2024年,我街道未收到依申请公开事项,也无相关行政复议和行政诉讼事件。"),
            vec![
                (Received, 0, true),
                (Review, 0, true),
                (Litigation, 0, true)
            ]
        );
        assert_eq!(
            claims("截至目前,本年度我镇未接收到任何政务信息公开的申请。"),
            vec![(Received, 0, true)]
        );
        assert_eq!(
            claims("全年没有发生信息公开申请。"),
            vec![(Received, 0, true)]
        );
        assert_eq!(
            claims("本年度我街道未收到公开政府信息的申请。"),
            vec![(Received, 0, true)]
        );
        assert_eq!(
            claims("西平街道未接到政府信息公开申请。"),
            vec![(Received, 0, true)]
        );
        assert_eq!(
            claims("本年度共收到政府信息公开申请12件。"),
            vec![(Received, 12, false)]
        );
        assert_eq!(
            claims("共收到5件政府信息公开申请。"),
            vec![(Received, 5, false)]
        );
        assert_eq!(
            claims("受理申请共计7件,已全部办结7件。"),
            vec![(Received, 7, false), (Closed, 7, false)]
        );
        assert_eq!(
            claims("收到申请3件,答复3件。"),
            vec![(Received, 3, false), (Closed, 3, false)]
        );
        assert_eq!(
            claims("被申请行政复议1件,行政诉讼2起。"),
            vec![(Review, 1, false), (Litigation, 2, false)]
        );
        assert_eq!(
            claims("未发生因政府信息公开工作被申请行政复议、提起行政诉讼的情况。"),
            vec![(Review, 0, true), (Litigation, 0, true)]
        );
        assert_eq!(
            claims("本年度制发行政规范性文件3件。"),
            vec![(NormIssued, 3, false)]
        );
        assert_eq!(
            claims("共受理依申请公开事项4件。"),
            vec![(Received, 4, false)]
        );
        // Subsets of the answers ("其中", a manner, a delay) are not the total of R24.
        for subset in [
            "收到申请5件,其中办结3件,结转下年度2件。",
            "收到申请5件,其中当面答复2件。",
            "收到申请5件,延期答复1件。",
        ] {
            assert_eq!(claims(subset), vec![(Received, 5, false)], "{subset}");
        }
        assert_eq!(
            claims("现行有效规范性文件共12件。"),
            vec![(NormInForce, 12, false)]
        );
    }

    #[test]
    fn subsets_vague_figures_and_other_subjects_are_not_claims() {
        for s in [
            "未收到涉及国家秘密的申请。",
            "收到自然人申请3件。",
            "办理12345政务服务热线2206余件,办结群众诉求300件。",
            "共收到申请90余件。",
            "尚未办结2件。",
            "无正当理由大量反复申请。",
            "4.无正当理由大量反复申请",
            "没有现成信息需要另行制作的申请。",
            "无一例行政复议被纠错。",
            "未经复议直接起诉",
            "按时办结率100%。",
            "未收到申请人的补正材料。",
            "印发规范性文件管理办法。",
            "通过网格微信群推送信息2600余条。",
            "其中通过网络收到申请3件。",
            "网上未收到申请。",
        ] {
            let c = claims(s);
            assert!(c.is_empty(), "{s}: {c:?}");
        }
        // 复议申请 is about 行政复议, not about information requests.
        assert_eq!(
            claims("未收到行政复议申请。"),
            vec![(Claim::Review, 0, true)]
        );
    }

    #[test]
    fn table_lines_are_recognised() {
        let l = TableLabels::new();
        for s in [
            "规章\t0\t0\t0",
            "0",
            "4.无正当理由大量反复申请",
            "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
            "商业",
            "企业",
            "尚未",
            "(七)总计",
            "一、本年新收政府信息公开申请数量 0 0 0 0 0 0 0",
            "三、本年度办理结果(一)予以公开 0 0 0",
            "第二十条第(一)项",
            "本年收费金额(单位:万元)",
        ] {
            assert!(l.is_table_line(s), "{s}");
        }
        for s in [
            "2024年,我街道未收到依申请公开事项。",
            "(一)主动公开",
            "全年公开信息共12条。",
        ] {
            assert!(!l.is_table_line(s), "{s}");
        }
    }

    #[test]
    fn decisions_in_part_two_checked_against_a07_to_a09() {
        use Claim::*;
        assert_eq!(
            claims("本年度共作出行政许可决定120件,行政处罚决定5件。"),
            vec![(Permits, 120, false), (Penalties, 5, false)]
        );
        assert_eq!(
            claims("办理行政强制案件3起。"),
            vec![(Enforcements, 3, false)]
        );
        // Published items, a subset, a figure without a decision: not claims about A07–A09.
        assert!(claims("公开行政许可信息120条,行政处罚信息5条。").is_empty());
        assert!(claims("其中网上作出行政许可决定12件。").is_empty());
        assert!(claims("行政许可事项清单共45项。").is_empty());

        let x = ReportBuilder::new()
            .t2(T2Cell::A07, 100.0)
            .t2(T2Cell::A08, 5.0)
            .part_line(
                Part::Proactive,
                0,
                "本年度共作出行政许可决定120件,行政处罚决定5件。",
            )
            .build();
        let f = Checker::default().check(&x);
        let n = only(&f, RuleId::NarrativeTableMismatch);
        assert_eq!(n.len(), 1, "{f:?}");
        assert_eq!(n[0].part, Some(2));
        assert_eq!(n[0].cell.as_deref(), Some("A07"));
        assert_eq!(n[0].expected.as_deref(), Some("100"));
        assert_eq!(n[0].actual.as_deref(), Some("120"));
        assert!(n[0].message.contains("第二部分"), "{}", n[0].message);
        assert!(n[0].message.contains("表二 行政许可"), "{}", n[0].message);
        // Near miss: the same sentence with the table agreeing.
        let ok = ReportBuilder::new()
            .t2(T2Cell::A07, 120.0)
            .t2(T2Cell::A08, 5.0)
            .part_line(
                Part::Proactive,
                0,
                "本年度共作出行政许可决定120件,行政处罚决定5件。",
            )
            .build();
        assert!(
            only(
                &Checker::default().check(&ok),
                RuleId::NarrativeTableMismatch
            )
            .is_empty()
        );
    }

    #[test]
    fn general_review_work_is_not_compared_with_table_four() {
        // A 司法局 handles 行政复议 for the whole county: those cases are not 表四's.
        assert!(claims("全年共办理行政复议案件120件,代理行政诉讼案件35件。").is_empty());
        assert!(claims("受理行政复议申请56件,审结50件。").is_empty());
        // Near misses: cases about its own 政府信息公开 work are still read.
        assert_eq!(
            claims("全年共办理政府信息公开行政复议案件2件。"),
            vec![(Claim::Review, 2, false)]
        );
        assert_eq!(
            claims("本机关被申请行政复议1件。"),
            vec![(Claim::Review, 1, false)]
        );
        let x = ReportBuilder::new()
            .agency("郑县司法局")
            .part_line(
                Part::Overview,
                5,
                "(五)监督保障。全年共办理行政复议案件120件,代理行政诉讼案件35件。",
            )
            .build();
        let f = Checker::default().check(&x);
        assert!(only(&f, RuleId::NarrativeTableMismatch).is_empty(), "{f:?}");
    }

    #[test]
    fn no_application_statement_contradicts_table() {
        use T3Row::*;
        let x = ReportBuilder::new()
            .t3_row(R01, [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
            .t3_row(R03, [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
            .t3_row(R24, [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
            .part_line(
                Part::Overview,
                2,
                "(二)依申请公开情况。2024年,我街道未收到依申请公开事项。",
            )
            .build();
        let f = Checker::default().check(&x);
        let n = only(&f, RuleId::NarrativeTableMismatch);
        assert_eq!(n.len(), 1, "{f:?}");
        assert_eq!(n[0].part, Some(1));
        assert_eq!(n[0].severity, Severity::Warning);
        assert_eq!(n[0].expected.as_deref(), Some("2"));
        assert_eq!(n[0].actual.as_deref(), Some("0"));
        assert_eq!(n[0].cell.as_deref(), Some("R01"));
        assert_eq!(n[0].line, line_of(&x, "未收到依申请公开事项"));
        assert!(n[0].message.contains("未收到依申请公开事项"));
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn zero_statements_agree_with_zero_tables() {
        // Seed 000's wording on an all-zero report.
        let x = ReportBuilder::new()
            .part_line(
                Part::Overview,
                2,
                "(二)依申请公开情况。2024年,我街道未收到依申请公开事项,也无相关行政复议和行政诉讼事件。",
            )
            .build();
        assert_eq!(Checker::default().check(&x), vec![]);
    }

    #[test]
    fn counts_checked_against_r01_r24_d05_litigation_and_a04() {
        use T3Row::*;
        let base = || {
            ReportBuilder::new()
                .t3_row(R01, [5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0])
                .t3_row(R02, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
                .t3_row(R03, [6.0, 0.0, 0.0, 0.0, 0.0, 0.0, 6.0])
                .t3_row(R24, [6.0, 0.0, 0.0, 0.0, 0.0, 0.0, 6.0])
                .t4(T4Cell::D01, 1.0)
                .t4(T4Cell::D05, 1.0)
                .t4(T4Cell::D14, 1.0)
                .t4(T4Cell::D15, 1.0)
                .t2(T2Cell::A04, 2.0)
        };
        // Matching text: R01 or R01+R02 accepted.
        for ok in [
            "共收到政府信息公开申请5件,办结6件。",
            "共收到政府信息公开申请6件(含上年结转1件)。",
            "被申请行政复议1件,行政诉讼1件。",
            "本年度制发规范性文件2件。",
        ] {
            let x = base().part_line(Part::Overview, 0, ok).build();
            assert_eq!(Checker::default().check(&x), vec![], "{ok}");
        }
        let cases: [(&str, &str, Option<&str>, &str); 5] = [
            ("共收到政府信息公开申请8件。", "5", Some("R01"), "8"),
            ("收到申请5件,已全部办结4件。", "6", Some("R24"), "4"),
            ("全年发生行政复议3件。", "1", Some("D05"), "3"),
            ("未发生行政诉讼案件。", "1", None, "0"),
            ("本年度制发行政规范性文件7件。", "2", Some("A04"), "7"),
        ];
        for (text, expected, cell, actual) in cases {
            let x = base().part_line(Part::Overview, 0, text).build();
            let f = Checker::default().check(&x);
            assert_eq!(f.len(), 1, "{text}: {f:?}");
            assert_eq!(f[0].rule, RuleId::NarrativeTableMismatch);
            assert_eq!(f[0].expected.as_deref(), Some(expected), "{text}");
            assert_eq!(f[0].actual.as_deref(), Some(actual), "{text}");
            assert_eq!(f[0].cell.as_deref(), cell, "{text}");
        }
    }

    #[test]
    fn one_finding_per_contradiction_and_blank_cells_are_not_judged() {
        use T3Row::*;
        let x = ReportBuilder::new()
            .part_line(Part::Overview, 0, "共收到政府信息公开申请3件。")
            .part_text(Part::Requests, &["本年度共收到政府信息公开申请3件。"])
            .build();
        let f = Checker::default().check(&x);
        assert_eq!(only(&f, RuleId::NarrativeTableMismatch).len(), 1);

        let blank = ReportBuilder::new()
            .blank_t3(R01, T3Col::Total)
            .part_line(Part::Overview, 0, "共收到政府信息公开申请3件。")
            .build();
        let f = Checker::default().check(&blank);
        assert!(only(&f, RuleId::NarrativeTableMismatch).is_empty());
    }

    #[test]
    fn table_rows_written_one_cell_per_line_are_not_prose() {
        let x = ReportBuilder::new()
            .t3_row(T3Row::R19, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
            .t3_row(T3Row::R01, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
            .t3_row(T3Row::R24, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
            .part_text(
                Part::Requests,
                &[
                    "4.无正当理由大量反复申请",
                    "1",
                    "0",
                    "没有现成信息需要另行制作",
                ],
            )
            .build();
        let f = Checker::default().check(&x);
        assert!(only(&f, RuleId::NarrativeTableMismatch).is_empty(), "{f:?}");
    }
}
