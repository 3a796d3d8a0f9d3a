//! Agency and reporting year: from the title, else from the body (统计期限, 现公布…, the first
//! sentence of 总体情况, the signature).
//!
//! Real pages write the title in many ways: split over two lines, in traditional characters, year
//! first, prefixed with the site's name, under a breadcrumb that names the column, without 年度 or
//! without the agency. Each of those is read here; what the title does not say is taken from the
//! body.

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

/// Traditional forms of the characters that make a title recognisable (and of common agency
/// words), with their simplified forms. Each pair maps a 3-byte character to a 3-byte character,
/// so byte offsets found in the folded text are valid in the text as written.
const TRADITIONAL: [(char, char); 40] = [
    ('報', '报'),
    ('開', '开'),
    ('資', '资'),
    ('訊', '讯'),
    ('務', '务'),
    ('況', '况'),
    ('關', '关'),
    ('於', '于'),
    ('當', '当'),
    ('頁', '页'),
    ('網', '网'),
    ('門', '门'),
    ('戶', '户'),
    ('現', '现'),
    ('將', '将'),
    ('佈', '布'),
    ('縣', '县'),
    ('區', '区'),
    ('鎮', '镇'),
    ('鄉', '乡'),
    ('辦', '办'),
    ('處', '处'),
    ('廳', '厅'),
    ('會', '会'),
    ('員', '员'),
    ('財', '财'),
    ('衛', '卫'),
    ('農', '农'),
    ('業', '业'),
    ('發', '发'),
    ('設', '设'),
    ('環', '环'),
    ('與', '与'),
    ('體', '体'),
    ('總', '总'),
    ('統', '统'),
    ('計', '计'),
    ('幹', '干'),
    ('歲', '岁'),
    ('廣', '广'),
];

/// Folds the traditional characters of [`TRADITIONAL`] and writes 资讯 (Taiwan and Hong Kong usage
/// for 信息) as 信息. The result has the same byte length as `s`.
fn fold_traditional(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            TRADITIONAL
                .iter()
                .find(|(t, _)| *t == c)
                .map_or(c, |(_, simple)| *simple)
        })
        .collect();
    if mapped.contains("资讯") {
        mapped.replace("资讯", "信息")
    } else {
        mapped
    }
}

/// Where `part`, a slice of `base`, starts in `base`.
fn offset_in(base: &str, part: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    (start + part.len() <= base.len()).then_some(start)
}

/// Words that stand for the reporting agency without naming it ("我局", "本机关").
fn is_self_reference(s: &str) -> bool {
    s.starts_with('我')
        || matches!(
            s,
            "本机关" | "本单位" | "本部门" | "本局" | "本委" | "本办" | "本院" | "本中心" | "本厅"
        )
}

/// Cleans an agency name cut out of a title: brackets, "关于", trailing "的", stray punctuation, a
/// site name in front ("…门户网站江州市财政局"). Returns a slice of `s`.
fn clean_agency(s: &str) -> Option<&str> {
    let mut s = s.trim_matches(|c: char| !crate::text::is_word(c));
    // A site name glued in front of the agency: keep what follows it.
    for site in ["网站", "政府网", "门户网"] {
        if let Some(at) = s.rfind(site) {
            s = &s[at + site.len()..];
        }
    }
    let s = s
        .trim_matches(|c: char| !crate::text::is_word(c))
        .trim_start_matches("关于")
        .trim_end_matches("关于")
        .trim_end_matches('的');
    let s = s.strip_suffix("年度").unwrap_or(s);
    let s = s.trim_matches(|c: char| !crate::text::is_word(c));
    (s.chars().count() >= 2 && !s.chars().all(|c| c.is_ascii_digit()) && !is_self_reference(s))
        .then_some(s)
}

/// Place names whose government is "…人民政府": a 政府 right after one of these is that government.
const PLACE_ENDINGS: [char; 9] = ['省', '市', '县', '区', '州', '旗', '盟', '镇', '乡'];

/// "上海市政府" is 上海市人民政府: a province's, city's, county's or township's 政府 written without
/// 人民 is named by its full name, so that the same agency has one name. 政府办公室, 政府办 and the
/// like do not end in 政府 and are left alone, as is 特别行政区政府 (its official name).
fn normalize_agency(a: &str) -> String {
    if let Some(stem) = a.strip_suffix("政府")
        && !stem.ends_with("人民")
        && !stem.ends_with("特别行政区")
        && stem.chars().count() >= 2
        && stem
            .chars()
            .next_back()
            .is_some_and(|c| PLACE_ENDINGS.contains(&fold_char(c)))
    {
        return format!("{stem}人民政府");
    }
    a.to_string()
}

fn fold_char(c: char) -> char {
    TRADITIONAL
        .iter()
        .find(|(t, _)| *t == c)
        .map_or(c, |(_, s)| *s)
}

/// Breadcrumb and navigation lines ("当前位置:首页>政务公开>…", "首页 > 政务公开 > 政府信息公开年报").
fn is_breadcrumb(norm: &str) -> bool {
    let t = norm.trim_start_matches(['#', '*', ' ']);
    t.contains(['>', '»', '›'])
        || [
            "当前位置",
            "您的位置",
            "您当前的位置",
            "您现在的位置",
            "所在位置",
            "首页",
        ]
        .iter()
        .any(|w| t.starts_with(w))
}

/// Sentences of the body that mention the report ("现将…年度报告公布如下。") are not its title.
fn is_sentence(t: &str) -> bool {
    t.contains(['。', ',', ';', '!', '?'])
        || [
            "根据",
            "依据",
            "按照",
            "现将",
            "现公布",
            "本报告",
            "特此",
            "为",
        ]
        .iter()
        .any(|w| t.starts_with(w))
}

/// Parses "郑县东城街道办事处2024年政府信息公开工作年度报告" and its relatives
/// ("2024年度郑县财政局政府信息公开工作年度报告", "郑县财政局政府信息公开工作2024年度报告",
/// "关于2022年度政府信息公开情况的报告", "江州市人民政府门户网站-江州市财政局2022年…", traditional
/// characters).
pub fn parse_title(norm: &str) -> Option<(Option<String>, Option<i32>)> {
    let t = norm
        .trim_start_matches(['#', '*', ' '])
        .trim_end_matches(['*', ' ']);
    // Breadcrumbs: keep what follows the last separator.
    let t = t.rsplit(['>', '»', '›']).next().unwrap_or(t).trim();
    let t = t.strip_prefix("标题:").unwrap_or(t);
    let written: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    let folded = fold_traditional(&written);
    // Offsets found in the folded text index the text as written only if the lengths agree (they
    // do by construction of the table); otherwise the folded text is used for both.
    let written = if folded.len() == written.len() {
        written
    } else {
        folded.clone()
    };
    // A site name before or after the title ("门户网站-标题", "标题_门户网站", "网站|标题"): the
    // title is the piece that names the report.
    let seg = folded
        .split(['-', '_', '|', '—', '–', '·'])
        .find(|p| is_title_text(p))?;
    let start = offset_in(&folded, seg)?;
    parse_segment(written.get(start..start + seg.len())?, seg)
}

/// A piece of a line that is a report's title: it names the report, is short and is no sentence.
fn is_title_text(f: &str) -> bool {
    (f.contains("报告") || f.contains("年报"))
        && REPORT_WORDS.iter().any(|w| f.contains(w))
        && f.chars().count() <= 60
        && !is_sentence(f)
}

/// Agency and year of one title, `f` folded and `w` as written (same length).
fn parse_segment(w: &str, f: &str) -> Option<(Option<String>, Option<i32>)> {
    let word_at = REPORT_WORDS.iter().find_map(|x| f.find(x))?;
    // "某市人民政府信息公开…", "上海市政府信息公开…": the 政府 belongs to the agency.
    let before_word = &f[..word_at];
    let gov_in_agency = f[word_at..].starts_with("政府")
        && (before_word.ends_with("人民")
            || before_word
                .chars()
                .next_back()
                .is_some_and(|c| PLACE_ENDINGS.contains(&c)));
    let agency_end = if gov_in_agency {
        word_at + "政府".len()
    } else {
        word_at
    };
    let year_hit = years(f).next();
    let agency = match year_hit {
        Some((i, _)) if i < word_at => {
            let before = &f[..i];
            let between = f[i..agency_end].trim_start_matches(|c: char| c.is_ascii_digit());
            let between = between.trim_start_matches('年').trim_start_matches('度');
            clean_agency(before).or_else(|| clean_agency(between))
        }
        _ => clean_agency(&f[..agency_end]),
    };
    let agency = agency
        .and_then(|a| offset_in(f, a).and_then(|s| w.get(s..s + a.len())))
        .map(normalize_agency);
    Some((agency, year_hit.map(|(_, y)| y)))
}

/// A title line's reading, or `None`: breadcrumbs that name only the column ("首页 > 政务公开 >
/// 政府信息公开年报") say nothing about this report and are skipped.
fn title_candidate(norm: &str) -> Option<(Option<String>, Option<i32>)> {
    let parsed = parse_title(norm)?;
    (parsed.0.is_some() || parsed.1.is_some() || !is_breadcrumb(norm)).then_some(parsed)
}

/// Agency-like names end with one of these.
const AGENCY_SUFFIXES: [&str; 13] = [
    "人民政府",
    "政府",
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
        && !is_self_reference(s)
}

/// A line that may be the first half of a title split over two lines: short, no sentence, no
/// navigation.
fn joinable(norm: &str) -> bool {
    let t = norm.trim_start_matches(['#', '*', ' ']);
    !t.is_empty()
        && t.chars().count() <= 40
        && !is_sentence(t)
        && !is_breadcrumb(t)
        && !t.contains(['\t', ':', '、'])
        && !["网站", "网", "登录", "导航"].iter().any(|w| t.contains(w))
        && crate::parts::heading_of(t).is_none()
}

/// The next non-empty line after `i` before `end`, skipping at most two empty lines.
fn next_nonempty(lines: &[Line<'_>], i: usize, end: usize) -> Option<usize> {
    (i + 1..end.min(i + 4)).find(|&j| lines.get(j).is_some_and(|l| !l.norm.is_empty()))
}

/// Title first (the first title-like line before the first part, or two lines that together are
/// one), then body fallbacks.
pub fn find(lines: &[Line<'_>], first_part: usize) -> TitleInfo {
    let mut info = TitleInfo::default();
    let head = first_part.max(1).min(lines.len());
    // A title that names neither agency nor year ("政府信息公开工作年度报告"): kept in case no better
    // one follows.
    let mut weak: Option<usize> = None;
    let mut i = 0usize;
    while i < head {
        let norm = lines[i].norm;
        if norm.is_empty() {
            i += 1;
            continue;
        }
        let single = title_candidate(norm);
        if let Some((agency, year)) = &single
            && agency.is_some()
            && year.is_some()
        {
            info.line = Some(i);
            info.agency.clone_from(agency);
            info.year = *year;
            break;
        }
        // A title split over two lines ("江州市自然资源局" / "2022年政府信息公开工作年度报告").
        if let Some(j) = next_nonempty(lines, i, head)
            && joinable(norm)
            && !is_breadcrumb(lines[j].norm)
            && title_candidate(lines[j].norm).is_none_or(|(a, y)| a.is_none() || y.is_none())
        {
            let joined = format!("{norm}{}", lines[j].norm);
            if let Some((Some(agency), year)) = title_candidate(&joined)
                && looks_like_agency(&agency)
                && (year.is_some() || single.is_none())
            {
                let year_line = if years(norm).next().is_some() { i } else { j };
                info.line = Some(year_line);
                info.agency = Some(agency);
                info.year = year;
                break;
            }
        }
        if let Some((agency, year)) = single {
            if agency.is_some() || year.is_some() {
                info.line = Some(i);
                info.agency = agency;
                info.year = year;
                if info.agency.is_none() {
                    info.agency = byline_agency(lines, i, head);
                }
                break;
            }
            weak.get_or_insert(i);
        }
        i += 1;
    }
    if info.line.is_none() {
        info.line = weak;
    }
    let body_from = info.line.map_or(0, |l| l + 1);
    if info.year.is_none() {
        info.year = period_year(lines)
            .or_else(|| overview_lead(lines, body_from).map(|(y, _)| y))
            .or_else(|| signature_date(lines).map(|y| y - 1));
    }
    if info.agency.is_none() {
        info.agency = announced_agency(lines)
            .or_else(|| overview_lead(lines, body_from).and_then(|(_, a)| a))
            .or_else(|| signature_agency(lines))
            .map(|a| normalize_agency(&a));
    }
    info
}

/// The agency named on its own line right under a title that does not name it
/// ("关于2022年度政府信息公开情况的报告" / "江州市财政局").
fn byline_agency(lines: &[Line<'_>], title: usize, head: usize) -> Option<String> {
    let j = next_nonempty(lines, title, head)?;
    let s = lines[j].norm.trim();
    (looks_like_agency(s) && !s.chars().any(|c| c.is_ascii_digit()) && joinable(s))
        .then(|| normalize_agency(s))
}

/// 统计期限: "2023年1月1日至12月31日".
fn period_year(lines: &[Line<'_>]) -> Option<i32> {
    lines.iter().take(80).find_map(|l| {
        years(l.norm).find_map(|(i, y)| l.norm[i + 4..].starts_with("年1月1日").then_some(y))
    })
}

/// Words that announce the report in the preamble: "现公布…", "现将…公布如下".
const ANNOUNCE_WORDS: [&str; 4] = ["现公布", "现将", "现予公布", "现发布"];

/// "现公布2023年方城县释之街道办事处信息公开工作年度报告", "现将江州市财政局2022年政府信息公开工作
/// 年度报告公布如下" ("现公布我局2022年…" names no agency).
fn announced_agency(lines: &[Line<'_>]) -> Option<String> {
    lines.iter().take(80).find_map(|l| {
        let folded = fold_traditional(l.norm);
        let written = if folded.len() == l.norm.len() {
            l.norm
        } else {
            folded.as_str()
        };
        ANNOUNCE_WORDS.iter().find_map(|w| {
            let at = folded.find(w)? + w.len();
            let rest = &folded[at..];
            let end = REPORT_WORDS.iter().find_map(|x| rest.find(x))?;
            let seg = &rest[..end];
            let found = match years(seg).next() {
                Some((i, _)) => clean_agency(&seg[..i]).or_else(|| {
                    clean_agency(
                        seg[i + 4..]
                            .trim_start_matches('年')
                            .trim_start_matches('度'),
                    )
                }),
                None => clean_agency(seg),
            }
            .filter(|a| looks_like_agency(a))?;
            let s = offset_in(&folded, found)?;
            written.get(s..s + found.len()).map(str::to_string)
        })
    })
}

/// Verbs and prepositions that end the subject of 总体情况's first sentence ("2023年，江州市财政局
/// 认真贯彻…"): the agency is what comes before the first of them.
const SUBJECT_ENDS: [&str; 44] = [
    "认真",
    "坚持",
    "深入",
    "深化",
    "严格",
    "紧紧",
    "紧扣",
    "紧密",
    "按照",
    "根据",
    "依据",
    "围绕",
    "积极",
    "持续",
    "进一步",
    "始终",
    "高度",
    "不断",
    "切实",
    "聚焦",
    "着力",
    "全面",
    "继续",
    "牢固",
    "秉持",
    "秉承",
    "遵循",
    "贯彻",
    "落实",
    "扎实",
    "立足",
    "依法",
    "强化",
    "加强",
    "结合",
    "主动",
    "大力",
    "坚决",
    "全力",
    "通过",
    "践行",
    "坚定",
    "以",
    "在",
];

/// The first sentence of 总体情况 when it opens with the year: "2023年，江州市财政局认真贯彻…" gives
/// 2023 and 江州市财政局; "2022年，我局…" gives the year only. Looks at the first lines after the
/// title (or the top of the document) that open with a year.
fn overview_lead(lines: &[Line<'_>], from: usize) -> Option<(i32, Option<String>)> {
    lines
        .iter()
        .skip(from)
        .filter(|l| !l.norm.is_empty() && !l.norm.contains('\t'))
        .take(12)
        .find_map(|l| {
            let s = l.norm.trim_start_matches(['#', '*', ' ']);
            let (0, y) = years(s).next()? else {
                return None;
            };
            let rest = s[4..].trim_start_matches('年');
            let rest = rest
                .strip_prefix("度")
                .or_else(|| rest.strip_prefix("以来"))
                .unwrap_or(rest);
            let rest = rest.strip_prefix(',')?;
            Some((y, lead_agency(rest).map(normalize_agency)))
        })
}

/// The agency that opens a sentence: the longest name ending like an agency before the first verb.
fn lead_agency(s: &str) -> Option<&str> {
    let stop = SUBJECT_ENDS
        .iter()
        .filter_map(|w| s.find(w))
        .chain(s.find([',', '。', '、', ';', '(', ':']))
        .min()
        .unwrap_or(s.len());
    let subject = &s[..stop];
    subject
        .char_indices()
        .map(|(i, c)| &subject[..i + c.len_utf8()])
        .rfind(|p| AGENCY_SUFFIXES.iter().any(|x| p.ends_with(x)))
        .filter(|a| looks_like_agency(a))
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
    fn title_variants_of_real_pages() {
        let both = |a: &str, y: i32| Some((Some(a.to_string()), Some(y)));
        // Traditional characters: the agency as written, the keywords folded.
        assert_eq!(
            parse_title("江州市財政局2022年度政府信息公開工作年度報告"),
            both("江州市財政局", 2022)
        );
        assert_eq!(
            parse_title("江州市財政局2022年政府資訊公開工作年度報告"),
            both("江州市財政局", 2022)
        );
        // Year first, the 政府 of 人民政府 not taken for the report's words.
        assert_eq!(
            parse_title("2022年江州市人民政府信息公开工作年度报告"),
            both("江州市人民政府", 2022)
        );
        // Site name with a separator, before or after.
        assert_eq!(
            parse_title("江州市人民政府门户网站-江州市财政局2022年政府信息公开工作年度报告"),
            both("江州市财政局", 2022)
        );
        assert_eq!(
            parse_title("江州市财政局2022年政府信息公开工作年度报告|江州市人民政府"),
            both("江州市财政局", 2022)
        );
        // Without 年度.
        assert_eq!(
            parse_title("江州市财政局2022年政府信息公开工作报告"),
            both("江州市财政局", 2022)
        );
        // Without the agency.
        assert_eq!(
            parse_title("关于2022年度政府信息公开情况的报告"),
            Some((None, Some(2022)))
        );
        assert_eq!(
            parse_title("江州市财政局关于2022年度政府信息公开工作情况的报告"),
            both("江州市财政局", 2022)
        );
        // 上海市政府 is 上海市人民政府; 政府办公室 stays.
        assert_eq!(
            parse_title("上海市政府2022年政府信息公开工作年度报告"),
            both("上海市人民政府", 2022)
        );
        assert_eq!(
            parse_title("上海市政府办公室2022年政府信息公开工作年度报告"),
            both("上海市政府办公室", 2022)
        );
        // Sentences that mention the report are not titles.
        assert_eq!(
            parse_title("现将江州市财政局2022年政府信息公开工作年度报告公布如下。"),
            None
        );
        assert_eq!(
            parse_title("本报告由江州市财政局政府信息公开工作机构编制"),
            None
        );
    }

    #[test]
    fn breadcrumbs_naming_the_column_are_no_title() {
        assert_eq!(title_candidate("首页 > 政务公开 > 政府信息公开年报"), None);
        assert_eq!(title_candidate("当前位置:首页>>信息公开>>年报"), None);
        // A title without agency and year that is no breadcrumb is still a (weak) title.
        assert_eq!(
            title_candidate("政府信息公开工作年度报告"),
            Some((None, None))
        );
    }

    #[test]
    fn agency_names() {
        assert_eq!(normalize_agency("上海市政府"), "上海市人民政府");
        assert_eq!(normalize_agency("江州县政府"), "江州县人民政府");
        assert_eq!(
            normalize_agency("广西壮族自治区政府"),
            "广西壮族自治区人民政府"
        );
        assert_eq!(normalize_agency("江州市人民政府"), "江州市人民政府");
        assert_eq!(normalize_agency("江州市政府办公室"), "江州市政府办公室");
        assert_eq!(normalize_agency("江州市政府办"), "江州市政府办");
        assert_eq!(normalize_agency("香港特别行政区政府"), "香港特别行政区政府");
        assert_eq!(
            lead_agency("江州市财政局认真贯彻落实条例"),
            Some("江州市财政局")
        );
        assert_eq!(
            lead_agency("江州市人民政府办公室坚持以人民为中心"),
            Some("江州市人民政府办公室")
        );
        assert_eq!(lead_agency("我局认真贯彻落实条例"), None);
        assert_eq!(
            lead_agency("东城街道以习近平新时代中国特色社会主义思想为引领"),
            None
        );
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
