//! Agency and reporting year: from the title, else from the body (统计期限, 现公布…, signature).

use crate::doc::Line;

/// What the title (or the body, where the title is damaged) says.
#[derive(Debug, Default)]
pub struct TitleInfo {
    pub line: Option<usize>,
    pub agency: Option<String>,
    pub year: Option<i32>,
}

/// A 4-digit year 2000–2099 directly followed by 年 at byte `i`.
fn years(s: &str) -> impl Iterator<Item = (usize, i32)> + '_ {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(3)).filter_map(move |i| {
        let d = &b[i..i + 4];
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        if i > 0 && b[i - 1].is_ascii_digit() {
            return None;
        }
        if !s[i + 4..].starts_with('年') {
            return None;
        }
        let y = std::str::from_utf8(d).ok()?.parse::<i32>().ok()?;
        (2000..2100).contains(&y).then_some((i, y))
    })
}

const REPORT_WORDS: [&str; 3] = ["政府信息公开工作", "政府信息公开", "信息公开工作"];

/// Cleans an agency name cut out of a title: brackets, "关于", trailing "的", stray punctuation.
fn clean_agency(s: &str) -> Option<String> {
    let s = s
        .trim_matches(|c: char| !crate::text::is_word(c))
        .trim_start_matches("关于")
        .trim_end_matches('的');
    let s = s.strip_suffix("年度").unwrap_or(s);
    let s = s.trim_matches(|c: char| !crate::text::is_word(c));
    (s.chars().count() >= 2 && !s.chars().all(|c| c.is_ascii_digit())).then(|| s.to_string())
}

/// Parses "郑县东城街道办事处2024年政府信息公开工作年度报告" and its relatives
/// ("2024年度郑县财政局政府信息公开工作年度报告", "郑县财政局政府信息公开工作2024年度报告").
pub fn parse_title(norm: &str) -> Option<(Option<String>, Option<i32>)> {
    let t = norm
        .trim_start_matches(['#', '*', ' '])
        .trim_end_matches(['*', ' ']);
    // Breadcrumbs: keep what follows the last '>'.
    let t = t.rsplit('>').next().unwrap_or(t).trim();
    let t = t.strip_prefix("标题:").unwrap_or(t);
    let t: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    if !t.contains("年度报告") && !t.contains("年报") {
        return None;
    }
    let word_at = REPORT_WORDS.iter().find_map(|w| t.find(w))?;
    if t.chars().count() > 60 {
        return None;
    }
    let year_hit = years(&t).next();
    let agency = match year_hit {
        Some((i, _)) if i < word_at => {
            let before = &t[..i];
            let between = t[i..word_at].trim_start_matches(|c: char| c.is_ascii_digit());
            let between = between.trim_start_matches('年').trim_start_matches('度');
            clean_agency(before).or_else(|| clean_agency(between))
        }
        _ => clean_agency(&t[..word_at]),
    };
    Some((agency, year_hit.map(|(_, y)| y)))
}

/// Agency-like names end with one of these.
const AGENCY_SUFFIXES: [&str; 12] = [
    "人民政府",
    "办事处",
    "办公室",
    "委员会",
    "管理局",
    "局",
    "厅",
    "委",
    "中心",
    "院",
    "署",
    "办",
];

fn looks_like_agency(s: &str) -> bool {
    let n = s.chars().count();
    (3..=30).contains(&n)
        && AGENCY_SUFFIXES.iter().any(|x| s.ends_with(x))
        && !s.contains(['。', ',', ':', '、', ';'])
}

/// Title first (the first title-like line before the first part), then body fallbacks.
pub fn find(lines: &[Line<'_>], first_part: usize) -> TitleInfo {
    let mut info = TitleInfo::default();
    for (idx, line) in lines
        .iter()
        .enumerate()
        .take(first_part.max(1).min(lines.len()))
    {
        if let Some((agency, year)) = parse_title(line.norm) {
            info.line = Some(idx);
            info.agency = agency;
            info.year = year;
            break;
        }
    }
    if info.year.is_none() {
        info.year = period_year(lines).or_else(|| signature_date(lines).map(|y| y - 1));
    }
    if info.agency.is_none() {
        info.agency = announced_agency(lines).or_else(|| signature_agency(lines));
    }
    info
}

/// 统计期限: "2023年1月1日至12月31日".
fn period_year(lines: &[Line<'_>]) -> Option<i32> {
    lines.iter().take(80).find_map(|l| {
        years(l.norm).find_map(|(i, y)| l.norm[i + 4..].starts_with("年1月1日").then_some(y))
    })
}

/// "现公布2023年方城县释之街道办事处信息公开工作年度报告".
fn announced_agency(lines: &[Line<'_>]) -> Option<String> {
    lines.iter().take(80).find_map(|l| {
        let at = l.norm.find("现公布")?;
        let rest = &l.norm[at + "现公布".len()..];
        let end = REPORT_WORDS.iter().find_map(|w| rest.find(w))?;
        let mut seg = &rest[..end];
        if let Some((i, _)) = years(seg).next() {
            seg = seg[i + 4..]
                .trim_start_matches('年')
                .trim_start_matches('度');
        }
        clean_agency(seg).filter(|a| looks_like_agency(a))
    })
}

/// The signature block at the end: an agency name followed by a date.
fn signature_agency(lines: &[Line<'_>]) -> Option<String> {
    let tail: Vec<&Line<'_>> = lines
        .iter()
        .rev()
        .filter(|l| !l.norm.is_empty())
        .take(12)
        .collect();
    tail.iter()
        .map(|l| l.norm.trim())
        .find(|s| looks_like_agency(s))
        .map(str::to_string)
}

/// Publication date in the signature or page header ("2025年1月22日", "时间:2025-01-22").
fn signature_date(lines: &[Line<'_>]) -> Option<i32> {
    let tail = lines.iter().rev().filter(|l| !l.norm.is_empty()).take(8);
    let head = lines.iter().take(15);
    tail.chain(head).find_map(|l| {
        let s = l.norm.trim();
        if let Some((i, y)) = years(s).next()
            && s.len() < 24
            && s[i + 4..].contains('月')
        {
            return Some(y);
        }
        let at = s.find("时间:").or_else(|| s.find("日期:"))?;
        let d = s[at..].split(':').nth(1)?.trim();
        d.get(..4)?
            .parse::<i32>()
            .ok()
            .filter(|y| (2000..2100).contains(y))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::with_lines;

    #[test]
    fn title_styles() {
        assert_eq!(
            parse_title("郑县东城街道办事处2024年政府信息公开工作年度报告"),
            Some((Some("郑县东城街道办事处".into()), Some(2024)))
        );
        assert_eq!(
            parse_title("# 释之街道办事处2023年政府信息公开工作年度报告"),
            Some((Some("释之街道办事处".into()), Some(2023)))
        );
        assert_eq!(
            parse_title("2024年度郑县财政局政府信息公开工作年度报告"),
            Some((Some("郑县财政局".into()), Some(2024)))
        );
        assert_eq!(
            parse_title("郑县财政局政府信息公开工作2024年度报告"),
            Some((Some("郑县财政局".into()), Some(2024)))
        );
        assert_eq!(parse_title("当前位置:首页 > 政府信息公开 > 公开年报"), None);
        assert_eq!(parse_title("一、总体情况"), None);
    }

    #[test]
    fn damaged_title_falls_back_to_body() {
        let text = "政府信息公开工作年度报告\n本报告统计期限为2023年1月1日至12月31日。现公布2023年方城县释之街道办事处信息公开工作年度报告。\n一、总体情况\n正文\n方城县释之街道办事处\n2024年1月20日\n";
        let info = with_lines(text, |lines| find(lines, 2));
        assert_eq!(info.year, Some(2023));
        assert_eq!(info.agency.as_deref(), Some("方城县释之街道办事处"));
        let text = "报告\n一、总体情况\n正文\n郑县财政局\n2025年1月20日\n";
        let info = with_lines(text, |lines| find(lines, 1));
        assert_eq!(info.year, Some(2024));
        assert_eq!(info.agency.as_deref(), Some("郑县财政局"));
    }
}
