//! Small string helpers for the text rules.
//!
//! The rules run on every report of a batch and must stay in the microsecond range, so everything here
//! scans `&str` slices in place: no regular expressions, no per-line allocation on the common path.

use nianbao_model::report::format_number;

/// Sentence terminators after normalisation (full-width forms kept in case a producer did not fold).
pub(crate) fn is_sentence_end(c: char) -> bool {
    matches!(c, '。' | '!' | '?' | ';' | '！' | '？' | '；')
}

/// Full-width ASCII folded to half-width, whitespace and decoration (`|`, `*`, `#`) dropped: the form in
/// which table labels are compared, whatever the producer did.
pub(crate) fn fold_compact(s: &str) -> String {
    s.chars()
        .map(fold_char)
        .filter(|c| !c.is_whitespace() && !matches!(c, '|' | '*' | '#'))
        .collect()
}

pub(crate) fn fold_char(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' | '\u{00A0}' => ' ',
        _ => c,
    }
}

/// Reads the ASCII digits at the start of `s`: their value and byte length. Fails on no digits or on an
/// absurdly long run (not a count anyway).
pub(crate) fn leading_number(s: &str) -> Option<(u64, usize)> {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || len > 12 {
        return None;
    }
    s[..len].parse().ok().map(|v| (v, len))
}

/// The last ASCII-digit run ending exactly at the end of `s`, with its value and byte length.
pub(crate) fn trailing_number(s: &str) -> Option<(u64, usize)> {
    let len = s.bytes().rev().take_while(u8::is_ascii_digit).count();
    if len == 0 || len > 12 {
        return None;
    }
    s[s.len() - len..].parse().ok().map(|v| (v, len))
}

/// Skips at most `max` chars accepted by `allowed` at the start of `s`.
pub(crate) fn skip_chars(s: &str, max: usize, allowed: impl Fn(char) -> bool) -> &str {
    let mut end = 0;
    for (n, c) in s.chars().enumerate() {
        if n >= max || !allowed(c) {
            break;
        }
        end += c.len_utf8();
    }
    &s[end..]
}

/// A trigger word found before an anchor: where it starts in the searched prefix and the gap between it
/// and the anchor.
pub(crate) struct Trigger<'a> {
    pub start: usize,
    pub gap: &'a str,
}

/// Looks for one of `triggers` ending at most `max_gap` chars before the end of `pre`, every gap char
/// being accepted by `allowed`. The nearest trigger wins, which is what a reader connects.
pub(crate) fn trigger_before<'a>(
    pre: &'a str,
    triggers: &[&str],
    max_gap: usize,
    allowed: impl Fn(char) -> bool,
) -> Option<Trigger<'a>> {
    let mut end = pre.len();
    for k in 0..=max_gap {
        let head = &pre[..end];
        let last = head.chars().next_back()?;
        // Comparing the last byte first avoids a memcmp per trigger per step: this loop runs for
        // every anchor of every sentence.
        let last_byte = head.as_bytes().last();
        let hit = triggers
            .iter()
            .find(|t| t.as_bytes().last() == last_byte && head.ends_with(**t));
        if let Some(t) = hit {
            return Some(Trigger {
                start: end - t.len(),
                gap: &pre[end..],
            });
        }
        if k == max_gap || !allowed(last) {
            return None;
        }
        end -= last.len_utf8();
    }
    None
}

/// Byte offsets of `word` in `s`. Searches for its first char (a `memchr` on one byte) and compares
/// from there: much cheaper on CJK text than a substring searcher, which is rebuilt per call.
pub(crate) fn find_word<'a>(s: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    let first = word.chars().next().unwrap_or('\0');
    s.match_indices(first)
        .map(|(i, _)| i)
        .filter(move |&i| s[i..].starts_with(word))
}

/// A count written as digits right after `s` (after optional filler chars), followed by one of `units`:
/// returns the count. Approximate or fractional figures ("90余条", "1.5件") are not claims.
pub(crate) fn count_after(
    s: &str,
    max_filler: usize,
    filler: impl Fn(char) -> bool,
    units: &[char],
) -> Option<u64> {
    let rest = skip_chars(s, max_filler, filler);
    let (v, len) = leading_number(rest)?;
    let unit = rest[len..].chars().next()?;
    units.contains(&unit).then_some(v)
}

/// Up to `n` chars of `s` ending at byte `at` (for context windows).
pub(crate) fn chars_before(s: &str, at: usize, n: usize) -> &str {
    let head = &s[..at];
    let start = head
        .char_indices()
        .rev()
        .take(n)
        .last()
        .map_or(at, |(i, _)| i);
    &head[start..]
}

/// Up to `n` chars of `s` starting at byte `at`.
pub(crate) fn chars_after(s: &str, at: usize, n: usize) -> &str {
    let tail = &s[at..];
    let end = tail.char_indices().nth(n).map_or(tail.len(), |(i, _)| i);
    &tail[..end]
}

/// A short excerpt of a sentence around byte `at`, for messages: whole when short, else a window.
pub(crate) fn excerpt(sentence: &str, at: usize) -> String {
    const WIDTH: usize = 36;
    let sentence_trimmed = sentence.trim();
    if sentence_trimmed.chars().count() <= WIDTH {
        return sentence_trimmed.to_string();
    }
    let before = chars_before(sentence, at, 12);
    let start = at - before.len();
    let window = chars_after(sentence, start, WIDTH);
    format!("…{}…", window.trim())
}

/// Numbers in messages are written as the report writes them.
pub(crate) fn num(v: f64) -> String {
    format_number(v)
}

/// Arithmetic on counts read from text: equal up to floating-point noise.
pub(crate) fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// "第一部分" for part 1: how officials name a part.
pub(crate) fn part_name(n: u8) -> String {
    let numeral = ["一", "二", "三", "四", "五", "六"]
        .get(usize::from(n).saturating_sub(1))
        .copied()
        .unwrap_or("?");
    format!("第{numeral}部分")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_windows() {
        assert_eq!(leading_number("23条"), Some((23, 2)));
        assert_eq!(leading_number("条"), None);
        assert_eq!(trailing_number("于2023"), Some((2023, 4)));
        assert_eq!(chars_before("共收到申请", "共收到申请".len(), 2), "申请");
        assert_eq!(chars_after("申请5件", 0, 2), "申请");
        assert_eq!(
            count_after("共计5件", 4, |c| "共计".contains(c), &['件']),
            Some(5)
        );
        assert_eq!(count_after("90余条", 4, |_| false, &['条']), None);
        assert_eq!(fold_compact("（一） 予以公开"), "(一)予以公开");
        assert_eq!(part_name(5), "第五部分");
    }

    #[test]
    fn triggers_respect_gap_and_charset() {
        let pre = "我街道未收到依";
        let t = trigger_before(pre, &["未收到"], 12, |c| c == '依');
        assert!(matches!(t, Some(Trigger { gap: "依", .. })));
        assert!(trigger_before("未收到涉密", &["未收到"], 12, |c| c == '依').is_none());
    }

    #[test]
    fn excerpt_stays_short() {
        let s = "辛店镇在推进政府信息公开工作时,遵循“格式标准、内容详尽、数据精确”的原则,于2023年共公开了23条政府信息";
        let at = s.find("2023").unwrap_or(0);
        let e = excerpt(s, at);
        assert!(e.contains("2023年"));
        assert!(e.chars().count() <= 40);
    }
}
