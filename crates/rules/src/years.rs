//! Years that contradict the reporting year (`format-2021.md` I11): a 统计期限 for another year, or
//! last year's number used as this year's in the body — the trace of a report copied from the previous
//! one with only the title changed (§5 #3).
//!
//! Naming last year is normal when comparing ("较2023年增长") or when 五 reports how last year's
//! problems were rectified, so only the reporting year's own statements in 一 to 四 are read, and
//! comparison contexts, titles in 《》 and document numbers in 〔〕 are skipped.

use crate::Sink;
use crate::narrative::TableLabels;
use crate::text::{
    chars_after, chars_before, excerpt, find_word, is_sentence_end, part_name, trailing_number,
};
use nianbao_model::{Extraction, Finding, Part, RuleId};

/// A contradiction found in one line.
struct Hit {
    found: i32,
    at: usize,
    period: bool,
}

pub(crate) fn check(x: &Extraction, labels: &TableLabels, sink: &mut Sink<'_>) {
    let Some(year) = x.year else { return };
    if !sink.on(RuleId::YearMismatch) {
        return;
    }
    let stale = format!("{}年", year - 1);

    // Title and preamble: the 统计期限 only (the title is where the reporting year comes from).
    let title = x.title.iter();
    let preamble = x.preamble_lines().iter();
    for line in title.chain(preamble) {
        if let Some(hit) = period_mismatch(x.text_of(line), year) {
            sink.push(finding(None, year, x.text_of(line), line.no, &hit));
            break;
        }
    }

    for part in [
        Part::Overview,
        Part::Proactive,
        Part::Requests,
        Part::ReviewLitigation,
    ] {
        for line in x.part_lines(part) {
            let text = x.text_of(line);
            // "2023年" is 7 bytes; most table lines are shorter or have no 年 at all.
            if text.len() < 7 || !text.contains('年') || text.contains('\t') {
                continue;
            }
            let hit = if part == Part::Overview {
                period_mismatch(text, year)
            } else {
                None
            };
            let hit = hit.or_else(|| stale_year(text, &stale, year - 1));
            if let Some(hit) = hit {
                if labels.is_table_line(text) {
                    continue;
                }
                sink.push(finding(Some(part), year, text, line.no, &hit));
                break; // the first mismatch per part is enough to send a person to the text
            }
        }
    }
}

fn finding(part: Option<Part>, year: i32, text: &str, line: u32, hit: &Hit) -> Finding {
    let sentence_start = text[..hit.at].rfind(is_sentence_end).map_or(0, |i| {
        i + text[i..].chars().next().map_or(1, char::len_utf8)
    });
    let sentence_end = text[hit.at..]
        .find(is_sentence_end)
        .map_or(text.len(), |i| hit.at + i);
    let sentence = &text[sentence_start..sentence_end];
    let quote = excerpt(sentence, hit.at - sentence_start);
    let place = part.map_or("标题或导语".to_string(), |p| {
        format!("{}正文", part_name(p.number()))
    });
    let what = if hit.period { "统计期限" } else { "年份" };
    let mut f = Finding::new(
        RuleId::YearMismatch,
        format!(
            "{place}“{quote}”中的{what}{}年与报告年度{year}年不一致，请核实是否沿用了其他年度报告的内容",
            hit.found
        ),
    )
    .expected(year)
    .actual(hit.found)
    .line(Some(line));
    if let Some(p) = part {
        f = f.part(p.number());
    }
    f
}

/// A 统计期限 "YYYY年1月1日(起)至(YYYY年)12月31日" naming another year than `year`.
fn period_mismatch(text: &str, year: i32) -> Option<Hit> {
    for (i, m) in text.match_indices('年') {
        let Some((y1, len)) = trailing_number(&text[..i]) else {
            continue;
        };
        if len != 4 {
            continue;
        }
        let Some(rest) = ["1月1日", "01月01日", "1月01日", "01月1日"]
            .iter()
            .find_map(|p| text[i + m.len()..].strip_prefix(p))
        else {
            continue;
        };
        let rest = rest.trim_start();
        let rest = rest.strip_prefix('起').unwrap_or(rest).trim_start();
        let Some(rest) = ["至", "到", "-", "—", "–", "~", "～"]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
        else {
            continue;
        };
        let rest = rest.trim_start();
        let (y2, rest) = match crate::text::leading_number(rest) {
            Some((v, 4)) => match rest[4..].strip_prefix('年') {
                Some(r) => (Some(v), r),
                None => continue,
            },
            _ => (None, rest),
        };
        if !rest.starts_with("12月31日") {
            continue;
        }
        let y1 = y1 as i64;
        let other = [Some(y1), y2.map(|v| v as i64)]
            .into_iter()
            .flatten()
            .find(|&y| y != i64::from(year));
        if let Some(found) = other {
            return Some(Hit {
                found: i32::try_from(found).unwrap_or(0),
                at: i - len,
                period: true,
            });
        }
    }
    None
}

/// Contexts that mark last year as last year: comparisons and references before it …
const BEFORE: [&str; 7] = ["较", "比", "与", "对", "上年", "去年", "上一年"];
/// … and after it.
const AFTER: [&str; 7] = ["相比", "比较", "同期", "以前", "之前", "底", "以来"];

/// The first "Y-1年" in `text` that reads as the reporting year's own.
fn stale_year(text: &str, stale: &str, stale_year: i32) -> Option<Hit> {
    for i in find_word(text, stale) {
        if text[..i].ends_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        if inside_brackets(&text[..i]) {
            continue;
        }
        let before = chars_before(text, i, 6);
        let before = before.rfind(is_sentence_end).map_or(before, |k| {
            &before[k + before[k..].chars().next().map_or(1, char::len_utf8)..]
        });
        if BEFORE.iter().any(|w| before.contains(w)) {
            continue;
        }
        let after = chars_after(text, i + stale.len(), 4);
        if AFTER.iter().any(|w| after.contains(w)) {
            continue;
        }
        return Some(Hit {
            found: stale_year,
            at: i,
            period: false,
        });
    }
    None
}

/// Whether a position is inside 《…》, 〈…〉, <…> or 〔…〕 (document titles and numbers).
fn inside_brackets(head: &str) -> bool {
    let depth = |open: char, close: char| {
        let mut d: i32 = 0;
        for c in head.chars() {
            if c == open {
                d += 1;
            } else if c == close {
                d = (d - 1).max(0);
            }
        }
        d > 0
    };
    depth('《', '》') || depth('〈', '〉') || depth('<', '>') || depth('〔', '〕')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Checker;
    use crate::testutil::{ReportBuilder, line_of, only};
    use nianbao_model::Severity;

    #[test]
    fn periods() {
        let p = |s: &str| period_mismatch(s, 2024).map(|h| h.found);
        assert_eq!(p("统计期限为2024年1月1日至12月31日。"), None);
        assert_eq!(p("统计期限为2024年1月1日至2024年12月31日。"), None);
        assert_eq!(p("统计期限为2023年1月1日至12月31日。"), Some(2023));
        assert_eq!(p("自2024年1月1日起至2023年12月31日止"), Some(2023));
        assert_eq!(p("2023年1月1日-12月31日"), Some(2023));
        assert_eq!(p("2023年1月1日,新条例施行"), None);
    }

    #[test]
    fn stale_years_and_their_excuses() {
        let s = |t: &str| stale_year(t, "2023年", 2023).is_some();
        assert!(s("辛店镇遵循原则,于2023年共公开了23条政府信息。"));
        assert!(s("2023年,我街道高度重视政府信息公开工作。"));
        assert!(!s("较2023年增长10%。"));
        assert!(!s("与2023年相比有所提高。"));
        assert!(!s("同比2023年增加5条。"));
        assert!(!s("针对2023年存在的问题进行了整改。"));
        assert!(!s("截至2023年底,现行有效文件12件。"));
        assert!(!s("上年度(2023年)的问题已整改。"));
        assert!(!s("印发《2023年政务公开工作要点》。"));
        assert!(!s("按照<2023年度工作安排>执行。"));
        assert!(!s("自2023年以来持续推进。"));
        assert!(!s("12023年"));
    }

    #[test]
    fn last_year_used_as_this_year_in_part_one() {
        let x = ReportBuilder::new()
            .year(2024)
            .part_line(
                Part::Overview,
                1,
                "(一)主动公开方面。辛店镇遵循“格式标准、内容详尽、数据精确”的原则,于2023年共公开了23条政府信息。2023年,继续推进。",
            )
            .build();
        let f = Checker::default().check(&x);
        let y = only(&f, RuleId::YearMismatch);
        assert_eq!(y.len(), 1, "{f:?}");
        assert_eq!(y[0].part, Some(1));
        assert_eq!(y[0].severity, Severity::Warning);
        assert_eq!(y[0].expected.as_deref(), Some("2024"));
        assert_eq!(y[0].actual.as_deref(), Some("2023"));
        assert_eq!(y[0].line, line_of(&x, "于2023年共公开"));
        assert!(y[0].message.contains("于2023年共公开了23条"));
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn previous_year_in_part_five_and_next_year_plans_are_fine() {
        let x = ReportBuilder::new()
            .year(2024)
            .part_text(
                Part::Problems,
                &[
                    "(一)2024年政务公开工作中存在的问题。公开不够全面。",
                    "(二)对2023年存在的问题如何整改的。2023年报告所列问题已全部整改。",
                    "2025年我们将加强培训。",
                ],
            )
            .part_text(Part::Other, &["2023年未收取信息处理费。"])
            .build();
        assert_eq!(Checker::default().check(&x), vec![]);
    }

    #[test]
    fn period_in_part_one_or_preamble() {
        let x = ReportBuilder::new()
            .year(2024)
            .part_line(
                Part::Overview,
                0,
                "本报告统计期限为2023年1月1日至12月31日。",
            )
            .build();
        let f = Checker::default().check(&x);
        let y = only(&f, RuleId::YearMismatch);
        assert_eq!(y.len(), 1);
        assert_eq!(y[0].part, Some(1));
        assert!(y[0].message.contains("统计期限"));

        let x = ReportBuilder::new()
            .year(2024)
            .preamble(&["本报告数据统计期限为2022年1月1日至2022年12月31日。"])
            .build();
        let f = Checker::default().check(&x);
        let y = only(&f, RuleId::YearMismatch);
        assert_eq!(y.len(), 1);
        assert_eq!(y[0].part, None);
        assert_eq!(y[0].actual.as_deref(), Some("2022"));

        let ok = ReportBuilder::new()
            .year(2023)
            .part_line(
                Part::Overview,
                0,
                "现公布2023年工作年度报告。内容涵盖2023年1月1日至12月31日期间的信息公开工作情况。",
            )
            .build();
        assert_eq!(Checker::default().check(&ok), vec![]);
    }

    #[test]
    fn one_finding_per_part_and_none_without_a_year() {
        let x = ReportBuilder::new()
            .year(2024)
            .part_line(
                Part::Overview,
                0,
                "2023年,我们做了很多。于2023年共公开20条。",
            )
            .part_line(Part::Overview, 1, "(一)主动公开。2023年全年公开信息30条。")
            .part_text(Part::Requests, &["2023年共收到申请0件。"])
            .build();
        let f = Checker::default().check(&x);
        let y = only(&f, RuleId::YearMismatch);
        assert_eq!(y.len(), 2);
        assert_eq!(y[0].part, Some(1));
        assert_eq!(y[1].part, Some(3));

        let mut x = x;
        x.year = None;
        assert!(only(&Checker::default().check(&x), RuleId::YearMismatch).is_empty());
    }
}
