//! What the prose parts must cover: the five topics of 一、总体情况, improvements in 五, fees in 六
//! (`format-2021.md` §1.3).

use crate::Sink;
use nianbao_model::{Extraction, Finding, Part, RuleId, TextLine};

pub(crate) fn check(x: &Extraction, sink: &mut Sink<'_>) {
    if sink.on(RuleId::SubitemMissing) {
        subitems(x, sink);
    }
    if sink.on(RuleId::RectificationMissing) {
        rectification(x, sink);
    }
    if sink.on(RuleId::FeeStatementMissing) {
        fee_statement(x, sink);
    }
}

/// One of the five topics the 2021 notice names for 一、总体情况.
struct Topic {
    /// The official name, for messages.
    name: &'static str,
    /// Looked for anywhere in the text when the part has no sub-headings.
    keyword: &'static str,
    /// Looked for at the start of a sub-heading; a heading is short, so shorter forms are safe there.
    heading: &'static [&'static str],
}

const TOPICS: [Topic; 5] = [
    Topic {
        name: "主动公开",
        keyword: "主动公开",
        heading: &["主动公开"],
    },
    Topic {
        name: "依申请公开",
        keyword: "依申请公开",
        heading: &["依申请"],
    },
    Topic {
        name: "政府信息管理",
        keyword: "政府信息管理",
        heading: &["政府信息管理", "信息管理"],
    },
    Topic {
        name: "政府信息公开平台建设",
        keyword: "平台建设",
        heading: &["平台建设", "平台"],
    },
    Topic {
        name: "监督保障",
        keyword: "监督保障",
        heading: &["监督保障", "监督", "保障"],
    },
];

const NUMERALS: [char; 10] = ['一', '二', '三', '四', '五', '六', '七', '八', '九', '十'];

/// The text after a sub-heading marker — `(一)`, `一是`, `一、`, `1.`, `1、` — at the start of a line
/// (markdown `#`/`*` allowed before it); `None` when the line does not start with one.
pub(crate) fn subheading_rest(line: &str) -> Option<&str> {
    let s = line.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '#' | '*' | '>'));
    if let Some(r) = s.strip_prefix(['(', '（']) {
        let close = r.find([')', '）'])?;
        let inner = &r[..close];
        let ok = !inner.is_empty()
            && inner.chars().count() <= 2
            && inner
                .chars()
                .all(|c| NUMERALS.contains(&c) || c.is_ascii_digit());
        let after = &r[close..];
        let after = after.strip_prefix([')', '）'])?;
        return ok.then_some(after);
    }
    let first = s.chars().next()?;
    if NUMERALS.contains(&first) {
        let end = s
            .char_indices()
            .find(|(_, c)| !NUMERALS.contains(c))
            .map_or(s.len(), |(i, _)| i);
        if s[..end].chars().count() > 2 {
            return None;
        }
        return s[end..].strip_prefix(['是', '、']);
    }
    if first.is_ascii_digit() {
        let len = s.bytes().take_while(u8::is_ascii_digit).count();
        if len > 2 {
            return None;
        }
        return s[len..].strip_prefix(['.', '、', '．']);
    }
    None
}

fn head(s: &str, n: usize) -> &str {
    let s = s.trim_start_matches(|c: char| c.is_whitespace() || c == '*');
    let end = s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    &s[..end]
}

fn subitems(x: &Extraction, sink: &mut Sink<'_>) {
    let Some(span) = x.part(Part::Overview) else {
        return;
    };
    let lines = x.part_lines(Part::Overview);
    let mut by_heading = [false; 5];
    for line in lines {
        if let Some(rest) = subheading_rest(x.text_of(line)) {
            let start = head(rest, 20);
            for (i, t) in TOPICS.iter().enumerate() {
                by_heading[i] |= t.heading.iter().any(|k| start.contains(k));
            }
        }
    }
    // A report that structures 总体情况 by sub-headings must have one per topic; one written as plain
    // paragraphs is judged on its wording alone.
    let covered = if by_heading.iter().any(|&b| b) {
        by_heading
    } else {
        let mut found = [false; 5];
        for line in lines {
            for (i, t) in TOPICS.iter().enumerate() {
                found[i] |= x.text_of(line).contains(t.keyword);
            }
        }
        found
    };
    for (t, ok) in TOPICS.iter().zip(covered) {
        if !ok {
            sink.push(
                Finding::new(
                    RuleId::SubitemMissing,
                    format!(
                        "“一、总体情况”未写“{}”方面的情况（应包括主动公开、依申请公开、政府信息管理、政府信息公开平台建设、监督保障五个方面）",
                        t.name
                    ),
                )
                .part(1)
                .expected(t.name)
                .line(Some(span.heading_line)),
            );
        }
    }
}

/// The lines of a part without its heading line(s).
fn body(x: &Extraction, part: Part) -> &[TextLine] {
    let lines = x.part_lines(part);
    match x.part(part) {
        Some(span) if span.heading_found => lines.get(1..).unwrap_or(&[]),
        _ => lines,
    }
}

const PROBLEM_WORDS: [&str; 5] = ["问题", "不足", "短板", "差距", "薄弱"];
const IMPROVEMENT_WORDS: [&str; 5] = ["改进", "整改", "措施", "下一步", "计划"];

fn rectification(x: &Extraction, sink: &mut Sink<'_>) {
    let Some(span) = x.part(Part::Problems) else {
        return;
    };
    // A repeated heading line (e.g. numbered twice in a web copy) says 改进 without saying anything.
    let lines: Vec<&str> = body(x, Part::Problems)
        .iter()
        .map(|l| x.text_of(l))
        .filter(|t| !(t.contains("主要问题及改进情况") && t.chars().count() < 30))
        .collect();
    let has = |words: &[&str]| lines.iter().any(|l| words.iter().any(|w| l.contains(w)));
    if has(&PROBLEM_WORDS) && !has(&IMPROVEMENT_WORDS) {
        sink.push(
            Finding::new(
                RuleId::RectificationMissing,
                "“五、存在的主要问题及改进情况”只写了存在的问题，未写改进措施和整改情况（含上年度报告所列问题的整改情况）",
            )
            .part(5)
            .line(Some(span.heading_line)),
        );
    }
}

const FEE_WORDS: [&str; 5] = ["信息处理费", "处理费", "收费", "收取费用", "费用"];

fn fee_statement(x: &Extraction, sink: &mut Sink<'_>) {
    let Some(span) = x.part(Part::Other) else {
        return;
    };
    let said = body(x, Part::Other)
        .iter()
        .any(|l| FEE_WORDS.iter().any(|w| x.text_of(l).contains(w)));
    if !said {
        sink.push(
            Finding::new(
                RuleId::FeeStatementMissing,
                "“六、其他需要报告的事项”未说明收取信息处理费的情况（未收取的也应写明“未收取信息处理费”）",
            )
            .part(6)
            .line(Some(span.heading_line)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::subheading_rest;
    use crate::Checker;
    use crate::testutil::{ReportBuilder, only};
    use nianbao_model::{Part, RuleId, Severity};

    #[test]
    fn subheading_markers() {
        assert_eq!(subheading_rest("(一)主动公开情况"), Some("主动公开情况"));
        assert_eq!(
            subheading_rest("  ### （二）依申请公开"),
            Some("依申请公开")
        );
        assert_eq!(subheading_rest("一是强化管理"), Some("强化管理"));
        assert_eq!(subheading_rest("三、政府信息管理"), Some("政府信息管理"));
        assert_eq!(subheading_rest("1.强化信息保密"), Some("强化信息保密"));
        assert_eq!(subheading_rest("2、平台建设"), Some("平台建设"));
        assert_eq!(subheading_rest("2024年,我街道"), None);
        assert_eq!(subheading_rest("一年来,我街道"), None);
        assert_eq!(subheading_rest("(本列数据)"), None);
    }

    #[test]
    fn missing_topic_under_subheadings() {
        let x = ReportBuilder::new()
            .part_text(
                Part::Overview,
                &[
                    "2024年,本机关扎实推进政府信息公开工作。",
                    "(一)主动公开情况。全年主动公开政府信息120条。",
                    "(二)依申请公开情况。依法办理政府信息公开申请。",
                    "(三)政府信息管理情况。严格保密审查,加强监督保障。",
                    "(四)监督保障情况。纳入年度考核。",
                ],
            )
            .build();
        let f = Checker::default().check(&x);
        let s = only(&f, RuleId::SubitemMissing);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].part, Some(1));
        assert_eq!(s[0].severity, Severity::Warning);
        assert_eq!(s[0].expected.as_deref(), Some("政府信息公开平台建设"));
        assert!(s[0].message.contains("平台建设"));
    }

    #[test]
    fn platform_variants_and_no_confusion_between_the_two_disclosures() {
        let x = ReportBuilder::new()
            .part_text(
                Part::Overview,
                &[
                    "(一)依申请公开方面。办理申请。",
                    "(二)政府信息管理方面。",
                    "(三)政府公开平台建设方面。",
                    "(四)监督保障方面。",
                ],
            )
            .build();
        let f = Checker::default().check(&x);
        let s = only(&f, RuleId::SubitemMissing);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].expected.as_deref(), Some("主动公开"));
    }

    #[test]
    fn paragraph_style_falls_back_to_keywords() {
        let covered = ReportBuilder::new()
            .part_text(
                Part::Overview,
                &["本机关坚持主动公开,规范依申请公开,加强政府信息管理,推进平台建设,强化监督保障。"],
            )
            .build();
        assert!(only(&Checker::default().check(&covered), RuleId::SubitemMissing).is_empty());
        let thin = ReportBuilder::new()
            .part_text(Part::Overview, &["本机关坚持主动公开,规范依申请公开。"])
            .build();
        let f = Checker::default().check(&thin);
        let s = only(&f, RuleId::SubitemMissing);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].expected.as_deref(), Some("政府信息管理"));
        assert_eq!(s[2].expected.as_deref(), Some("监督保障"));
    }

    #[test]
    fn no_subitem_finding_without_part_one() {
        let x = ReportBuilder::new().remove_part(Part::Overview).build();
        let f = Checker::default().check(&x);
        assert!(only(&f, RuleId::SubitemMissing).is_empty());
    }

    #[test]
    fn problems_without_improvements() {
        let x = ReportBuilder::new()
            .part_text(
                Part::Problems,
                &["一是公开内容不够全面;二是队伍建设仍有差距。"],
            )
            .build();
        let f = Checker::default().check(&x);
        let r = only(&f, RuleId::RectificationMissing);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].part, Some(5));
        assert_eq!(r[0].severity, Severity::Warning);
        assert_eq!(r[0].line, x.part(Part::Problems).map(|p| p.heading_line));
    }

    #[test]
    fn problems_with_rectification_pass() {
        for text in [
            "存在的问题:公开不够及时。下一步,我们将加强培训。",
            "存在不足:队伍薄弱。针对上年度问题,已完成整改。",
            "问题:更新不及时。改进情况:建立定期更新机制。",
        ] {
            let x = ReportBuilder::new()
                .part_text(Part::Problems, &[text])
                .build();
            let f = Checker::default().check(&x);
            assert!(only(&f, RuleId::RectificationMissing).is_empty(), "{text}");
        }
        // Nothing stated, nothing to rectify: the heading alone mentions 问题 and 改进.
        let empty = ReportBuilder::new().part_text(Part::Problems, &[]).build();
        assert!(
            only(
                &Checker::default().check(&empty),
                RuleId::RectificationMissing
            )
            .is_empty()
        );
    }

    #[test]
    fn fee_statement() {
        for (text, missing) in [
            ("无", true),
            ("无其他需要报告的事项。", true),
            ("2024年未收取信息处理费。", false),
            ("本年度没有产生政府信息公开处理费。", false),
            ("本机关未向申请人收取任何费用。", false),
        ] {
            let x = ReportBuilder::new().part_text(Part::Other, &[text]).build();
            let f = Checker::default().check(&x);
            let m = only(&f, RuleId::FeeStatementMissing);
            assert_eq!(m.len(), usize::from(missing), "{text}");
            if missing {
                assert_eq!(m[0].part, Some(6));
                assert_eq!(m[0].severity, Severity::Warning);
            }
        }
        let x = ReportBuilder::new().remove_part(Part::Other).build();
        assert!(only(&Checker::default().check(&x), RuleId::FeeStatementMissing).is_empty());
    }
}
