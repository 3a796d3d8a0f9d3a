//! Finding the six part headings.

use crate::doc::Line;
use crate::text::is_word;
use nianbao_model::Part;

/// The canonical headings as label keys (punctuation dropped), in part order.
const UNNUMBERED: [&str; 6] = [
    "总体情况",
    "主动公开政府信息情况",
    "收到和处理政府信息公开申请情况",
    "政府信息公开行政复议行政诉讼情况",
    "存在的主要问题及改进情况",
    "其他需要报告的事项",
];

/// Recognises a part heading: `二、主动公开政府信息情况`, `## 四、政府信息公开行政复议、行政诉讼情况`,
/// variants of wording seen in real reports, or the canonical text without its numeral.
pub fn heading_of(norm: &str) -> Option<Part> {
    if norm.contains('\t') {
        return None;
    }
    // Headings are short; most lines of a report are long paragraphs or table rows.
    if norm.len() > 160 {
        return None;
    }
    let s = norm
        .trim_start_matches(['#', '*', ' ', '>'])
        .trim_end_matches(['*', ' ', ':', '。', '.']);
    if s.is_empty() || s.chars().count() > 40 {
        return None;
    }
    let mut chars = s.chars();
    let first = chars.next()?;
    let numbered = crate::text::is_numeral(first);
    let rest = if numbered {
        let r = chars.as_str();
        let r = r
            .strip_prefix('、')
            .or_else(|| r.strip_prefix('.'))
            .or_else(|| r.strip_prefix(','))?;
        r.trim_start_matches([' ', '*'])
    } else {
        s
    };
    if !numbered {
        // Without its numeral only the canonical text itself is a heading.
        if rest.len() > 60 || !(rest.ends_with('况') || rest.ends_with('项')) {
            return None;
        }
        let k: String = rest.chars().filter(|&c| is_word(c)).collect();
        return Part::ALL
            .into_iter()
            .zip(UNNUMBERED)
            .find(|(_, canon)| k == *canon)
            .map(|(p, _)| p);
    }
    let k: String = rest.chars().filter(|&c| is_word(c)).collect();
    let has = |w: &str| k.contains(w);
    let part = if k.starts_with("总体情况") || k == "概述" || k == "总体概述" {
        Part::Overview
    } else if has("主动公开") && !has("申请") {
        Part::Proactive
    } else if (has("收到") && has("申请")) || has("处理政府信息公开申请") || k == "依申请公开情况"
    {
        Part::Requests
    } else if has("复议") && has("诉讼") {
        Part::ReviewLitigation
    } else if has("问题") && (has("改进") || has("整改") || has("措施")) {
        Part::Problems
    } else if has("其他需要报告") || has("其他需报告") || k == "其他事项" {
        Part::Other
    } else {
        return None;
    };
    Some(part)
}

/// Heading lines in document order, keeping the first heading of each part and only headings that
/// advance (a repeated heading, or a sub-heading that looks like an earlier part, is ignored).
pub fn find_headings(lines: &[Line<'_>]) -> Vec<(Part, usize)> {
    let mut out: Vec<(Part, usize)> = Vec::new();
    let mut current = 0u8;
    for (idx, line) in lines.iter().enumerate() {
        if line.norm.is_empty() {
            continue;
        }
        if let Some(p) = heading_of(line.norm)
            && p.number() > current
        {
            out.push((p, idx));
            current = p.number();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_headings_and_variants() {
        assert_eq!(heading_of("一、总体情况"), Some(Part::Overview));
        assert_eq!(
            heading_of("## 二、主动公开政府信息情况"),
            Some(Part::Proactive)
        );
        assert_eq!(
            heading_of("三、收到和处理政府信息公开申请情况"),
            Some(Part::Requests)
        );
        assert_eq!(
            heading_of("四、因政府信息公开工作被申请行政复议和提起行政诉讼情况"),
            Some(Part::ReviewLitigation)
        );
        assert_eq!(
            heading_of("四、政府信息公开行行政复议和行政诉讼情况"),
            Some(Part::ReviewLitigation)
        );
        assert_eq!(
            heading_of("五、政府信息公开工作存在的主要问题及改进情况"),
            Some(Part::Problems)
        );
        assert_eq!(heading_of("六、其他需要报告的事项"), Some(Part::Other));
        assert_eq!(heading_of("**六、其他需要报告的事项**"), Some(Part::Other));
        assert_eq!(heading_of("其他需要报告的事项"), Some(Part::Other));
    }

    #[test]
    fn unnumbered_keys_are_the_canonical_headings() {
        for (p, k) in Part::ALL.iter().zip(UNNUMBERED) {
            let canon: String = p.heading().chars().filter(|&c| is_word(c)).collect();
            assert_eq!(canon, k);
        }
    }

    #[test]
    fn table_labels_are_not_headings() {
        assert_eq!(heading_of("一、本年新收政府信息公开申请数量"), None);
        assert_eq!(heading_of("二、上年结转政府信息公开申请数量"), None);
        assert_eq!(heading_of("三、本年度办理结果"), None);
        assert_eq!(heading_of("四、结转下年度继续办理"), None);
        assert_eq!(heading_of("(一)主动公开情况"), None);
        assert_eq!(heading_of("一是主动公开"), None);
        assert_eq!(heading_of("一、本年新收政府信息公开申请数量\t\t0"), None);
    }
}
