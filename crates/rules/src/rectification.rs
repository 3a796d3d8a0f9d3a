//! 上年度问题整改 (`format-2021.md` §1.3, §5 #15): whether this year's part 五 reports what became of
//! the problems last year's report named. A single report cannot be judged on this (it does not
//! know last year's problems, and "下一步" says nothing about them), so the validation service, which
//! holds last year's report, calls these functions for `previous-problems-unaddressed`.
//!
//! Pure text functions: [`listed_problems`] reads the problems a part 五 names (stored with each
//! report), [`unaddressed`] tells which of them this year's part 五 leaves unanswered.

use crate::sections::subheading_rest;
use crate::text::is_sentence_end;
use nianbao_model::{Extraction, Part};

/// Words that open the improvement half of part 五: a sub-heading or sentence starting here ends the
/// list of problems.
const IMPROVEMENT_OPENERS: [&str; 8] = [
    "改进",
    "整改",
    "措施",
    "下一步",
    "针对",
    "为切实",
    "为此",
    "今后",
];

/// The part's body lines (without its heading), as text.
fn part_text(x: &Extraction, part: Part) -> Vec<&str> {
    let lines = x.part_lines(part);
    let body = match x.part(part) {
        Some(span) if span.heading_found => lines.get(1..).unwrap_or(&[]),
        _ => lines,
    };
    body.iter()
        .map(|l| x.text_of(l))
        .filter(|t| !(t.contains("主要问题及改进情况") && t.chars().count() < 30))
        .collect()
}

/// The text of part 五 without its heading, one line per line: what [`unaddressed`] reads.
pub fn problems_text(x: &Extraction) -> String {
    part_text(x, Part::Problems).join("\n")
}

/// Lines put back into paragraphs: a PDF or a web copy wraps a paragraph over several lines, and an
/// item cut at a wrap would be read as a clause of its first line only. A line continues the one
/// before unless that one ends a sentence (or a list lead-in, `：`) or this one starts a numbered item.
/// Each paragraph keeps the number of its first line.
pub(crate) fn paragraphs<'a>(
    lines: impl IntoIterator<Item = (u32, &'a str)>,
) -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = Vec::new();
    for (no, line) in lines {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let continues = out.last().is_some_and(|(_, p)| {
            !p.ends_with(|c: char| is_sentence_end(c) || matches!(c, '：' | ':'))
                && subheading_rest(t).is_none()
                && subheading_rest(p).is_none_or(|r| r.chars().count() >= 24)
        });
        match out.last_mut() {
            Some((_, p)) if continues => p.push_str(t),
            _ => out.push((no, t.to_string())),
        }
    }
    out
}

/// The first clause of an item: "公开内容精准度欠佳。部分公开…" → "公开内容精准度欠佳".
fn first_clause(s: &str) -> Option<String> {
    let end = s
        .find(|c: char| is_sentence_end(c) || matches!(c, '，' | ',' | '；' | ';' | '：' | ':'))
        .unwrap_or(s.len());
    let clause = s[..end].trim();
    let n = clause.chars().count();
    let cjk = clause
        .chars()
        .filter(|c| ('\u{4E00}'..='\u{9FFF}').contains(c))
        .count();
    // A sub-heading of the list itself ("存在的主要问题") is not a problem.
    let heading = clause.contains("存在")
        && ["问题", "不足", "短板", "差距"]
            .iter()
            .any(|w| clause.trim_end_matches(['。', '.']).ends_with(w));
    (cjk >= 4 && n <= 40 && !heading).then(|| clause.to_string())
}

/// Splits "…：一是A；二是B。" into its items.
fn ordinal_items(line: &str) -> Vec<&str> {
    const ORDINALS: [&str; 10] = [
        "一是", "二是", "三是", "四是", "五是", "六是", "七是", "八是", "九是", "十是",
    ];
    let mut starts: Vec<usize> = ORDINALS
        .iter()
        .filter_map(|o| line.find(o).map(|i| i + o.len()))
        .collect();
    starts.sort_unstable();
    starts
        .iter()
        .map(|&s| {
            let rest = &line[s..];
            let end = ORDINALS
                .iter()
                .filter_map(|o| rest.find(o))
                .min()
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

/// The problems a report's part 五 names, as short phrases in their order: the first clause of each
/// numbered item (`1.`, `（一）`, `一是`) before the improvement half of the part begins. Empty when
/// the part is absent or names none in a form that can be read.
pub fn listed_problems(x: &Extraction) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let lines = part_text(x, Part::Problems);
    for (_, line) in paragraphs(lines.iter().map(|l| (0, *l))) {
        let t = line.trim();
        let rest = subheading_rest(t);
        let opens = |s: &str| {
            IMPROVEMENT_OPENERS
                .iter()
                .any(|w| s.trim_start().starts_with(w))
        };
        // A short sub-heading naming 改进/整改 ("（二）改进措施", "（二）对2023年存在的问题如何整改的").
        let improvement_heading = rest.is_some_and(|r| {
            r.chars().count() < 30 && (r.contains("改进") || r.contains("整改") || opens(r))
        });
        if improvement_heading || opens(t) {
            break;
        }
        let items = ordinal_items(t);
        if !items.is_empty() {
            out.extend(items.into_iter().filter_map(first_clause));
        } else if let Some(rest) = rest {
            out.extend(first_clause(rest));
        }
        if t.split(is_sentence_end).any(|s| {
            IMPROVEMENT_OPENERS[3..]
                .iter()
                .any(|w| s.trim_start().starts_with(w))
        }) {
            break;
        }
    }
    out.dedup();
    out
}

/// Whether the text reports, in so many words, on last year's problems: a sentence that names the
/// previous year (上年度, 上一年度, 去年, or `year - 1`年) together with 问题 or 整改.
pub fn reports_previous_rectification(text: &str, year: Option<i32>) -> bool {
    let last = year.map(|y| format!("{}年", y - 1));
    text.split(|c: char| is_sentence_end(c) || c == '\n')
        .any(|s| {
            let names_last = ["上年", "上一年", "去年", "上一年度"]
                .iter()
                .any(|w| s.contains(w))
                || last.as_deref().is_some_and(|l| s.contains(l));
            names_last && (s.contains("整改") || s.contains("问题"))
        })
}

/// CJK character pairs of a phrase: what [`unaddressed`] looks for in this year's text.
fn pairs(s: &str) -> Vec<(char, char)> {
    let cjk: Vec<char> = s
        .chars()
        .filter(|c| ('\u{4E00}'..='\u{9FFF}').contains(c))
        .collect();
    cjk.windows(2).map(|w| (w[0], w[1])).collect()
}

const RECTIFIED: [&str; 8] = ["整改", "已", "完成", "解决", "改进", "落实", "加强", "提升"];

/// Last year's problems (`previous`, from [`listed_problems`]) that this year's part 五 (`text`, from
/// [`problems_text`]) leaves unanswered. Nothing is unanswered when the text reports on last year's
/// problems as such ([`reports_previous_rectification`]); otherwise a problem is answered by a
/// sentence that takes it up again (at least 60 % of its character pairs) and says what was done
/// about it (整改, 已, 完成, 解决, 改进, 落实, 加强, 提升).
pub fn unaddressed(previous: &[String], text: &str, year: Option<i32>) -> Vec<String> {
    if previous.is_empty() || reports_previous_rectification(text, year) {
        return Vec::new();
    }
    let sentences: Vec<&str> = text
        .split(|c: char| is_sentence_end(c) || matches!(c, '\n' | '；' | ';'))
        .filter(|s| RECTIFIED.iter().any(|w| s.contains(w)))
        .collect();
    previous
        .iter()
        .filter(|p| {
            let want = pairs(p);
            if want.is_empty() {
                return false;
            }
            !sentences.iter().any(|s| {
                let have = pairs(s);
                let hit = want.iter().filter(|w| have.contains(w)).count();
                hit * 10 >= want.len() * 6
            })
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::ReportBuilder;

    fn five(lines: &[&str]) -> Extraction {
        ReportBuilder::new()
            .part_text(Part::Problems, lines)
            .build()
    }

    #[test]
    fn problems_are_read_from_numbered_and_ordinal_lists() {
        // Seed 001's shape: numbered items, then an improvement sub-heading.
        let x = five(&[
            "1.信息公开工作力度还需进一步加强。公开内容和范围还待进一步厘清。",
            "2.人员队伍建设还需进一步增加。队伍建设还存在薄弱的环节。",
            "(二)改进措施",
            "1.深化认识。要充分认识做好政务公开工作的重要性。",
        ]);
        assert_eq!(
            listed_problems(&x),
            vec![
                "信息公开工作力度还需进一步加强",
                "人员队伍建设还需进一步增加"
            ]
        );
        // Seed 004's shape: 一是…；二是… in one paragraph, then the rectification heading.
        let x = five(&[
            "(一)2024年政务公开工作中存在的问题。",
            "2024年我镇政府信息公开工作取得了一定进展，但也存在一些问题和不足。一是主动公开信息还不够全面,政策解读更新较少；二是信息公开的范围和内容有待拓展。",
            "(二)对2023年存在的问题如何整改的",
            "1. 优化专栏内容，提高信息更新频率。",
        ]);
        assert_eq!(
            listed_problems(&x),
            vec!["主动公开信息还不够全面", "信息公开的范围和内容有待拓展"]
        );
        assert!(listed_problems(&five(&["无。"])).is_empty());
        // 淮安市 2024 as its PDF prints it: a paragraph wrapped over lines, its first line short and
        // naming 改进 without being a heading.
        let x = five(&[
            "对照上级新要求和公众新期待,还有一些需要加强和改进的",
            "地方。主要表现在:一是政策解读质量仍需提升,个别单位政策",
            "解读内容简单、形式单一;二是政务公开队伍建设还需进一步加",
            "强,个别单位存在人员配备不足、兼职多、流动性过快的问题。",
            "针对存在问题,下一步,我市将着力加强政策解读质效,重",
        ]);
        assert_eq!(
            listed_problems(&x),
            vec!["政策解读质量仍需提升", "政务公开队伍建设还需进一步加强"]
        );
    }

    #[test]
    fn last_years_problems_must_be_answered() {
        let previous = vec![
            "政策解读质量仍需提升".to_string(),
            "政务公开队伍建设还需进一步加强".to_string(),
        ];
        // Trigger: this year's part 五 speaks only of this year and of 下一步.
        let text = "一是信息发布不够及时；二是公开形式单一。下一步，我们将加强培训，完善制度。";
        assert_eq!(unaddressed(&previous, text, Some(2024)), previous);
        // One of the two taken up again with what was done: only the other is unanswered.
        let text2 =
            "一是信息发布不够及时。针对政策解读质量问题，已建立解读审核机制，解读质量明显提升。";
        assert_eq!(
            unaddressed(&previous, text2, Some(2024)),
            vec!["政务公开队伍建设还需进一步加强".to_string()]
        );
        // Near misses: a passage on last year's problems as such (seed 000 and 004 wording).
        for text in [
            "针对2023年存在的问题，我们进行了整改，整改措施如下：一是完善工作制度。",
            "（二）对上年度存在问题的整改情况。已全部完成。",
        ] {
            assert!(
                unaddressed(&previous, text, Some(2024)).is_empty(),
                "{text}"
            );
        }
        // Nothing named last year, nothing to answer.
        assert!(unaddressed(&[], text, Some(2024)).is_empty());
    }
}
