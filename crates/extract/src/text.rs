//! Character-level helpers: normalisation of lines, comparison keys for labels, numbers in cells.

/// CJK ideographs and CJK punctuation: the characters next to which a space is layout noise.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F   // CJK symbols and punctuation 、。〃〔〕
        | 0x3400..=0x4DBF // extension A
        | 0x4E00..=0x9FFF // unified ideographs
        | 0xF900..=0xFAFF // compatibility ideographs
        | 0x2018..=0x201F // curly quotes “”‘’ (used in Chinese text)
        | 0xFF01..=0xFF0F | 0xFF1A..=0xFF20) // full-width punctuation (before folding)
}

/// Letters and digits of a label: ideographs and ASCII alphanumerics on a fast path (the standard
/// library's Unicode lookup for ideographs dominated extraction time), anything else by the table.
#[inline]
pub fn is_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else if ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c) {
        true
    } else if matches!(c as u32, 0x2000..=0x206F | 0x3000..=0x303F | 0xFF00..=0xFFEF) {
        false
    } else {
        c.is_alphanumeric()
    }
}

/// Folds one character: full-width ASCII to half-width, exotic spaces to a plain space; `None` drops it.
#[inline]
fn fold(c: char) -> Option<char> {
    let u = c as u32;
    match u {
        0xFF01..=0xFF5E => char::from_u32(u - 0xFEE0),
        0x3000 | 0x00A0 | 0x2000..=0x200A | 0x202F | 0x205F => Some(' '),
        0x200B..=0x200D | 0xFEFF | 0x00AD => None, // zero-width, BOM, soft hyphen
        0x0000..=0x0008 | 0x000B..=0x001F | 0x007F => None, // control characters other than \t, \n
        _ => Some(c),
    }
}

/// Normalises one line of text (no `\n` inside): full-width ASCII folded, spaces around CJK removed,
/// runs of spaces collapsed to one, ends trimmed. Tabs are kept: they separate table cells.
///
/// Runs of characters that need no change are copied as slices: this runs over every line of every
/// report, so it must not push character by character.
pub fn normalize_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    normalize_into(&mut out, s);
    out
}

/// [`normalize_line`], appending to `out`: the whole document is normalised into one buffer.
pub fn normalize_into(out: &mut String, s: &str) {
    let b = s.as_bytes();
    // What the last emitted character was, for the space rule.
    let mut prev_cjk = false;
    let mut prev_tab = false;
    let mut has_prev = false;
    let mut pending_space = false;
    let mut run_start = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        // Fast path, the bulk of a report: printable ASCII other than space, and ideographs
        // U+4000–U+9FFF (lead bytes E4–E9), stay as they are: scan them in a tight loop.
        if !pending_space {
            let scan_start = i;
            let mut last_cjk = prev_cjk;
            while i < b.len() {
                let x = b[i];
                if x.wrapping_sub(0x21) < 0x5E {
                    i += 1;
                    last_cjk = false;
                } else if x.wrapping_sub(0xE4) < 6 && i + 3 <= b.len() {
                    i += 3;
                    last_cjk = true;
                } else {
                    break;
                }
            }
            if i > scan_start {
                prev_cjk = last_cjk;
                prev_tab = false;
                has_prev = true;
            }
            if i >= b.len() {
                break;
            }
        }
        let x = b[i];
        if !pending_space {
            // CJK punctuation U+3001–U+303F (、。〔〕…) and the rest of E3, except U+3000 (a space).
            if x == 0xE3 && i + 3 <= b.len() && !(b[i + 1] == 0x80 && b[i + 2] == 0x80) {
                prev_cjk = b[i + 1] == 0x80;
                prev_tab = false;
                has_prev = true;
                i += 3;
                continue;
            }
        }
        // Full-width ASCII U+FF01–U+FF5E (EF BC 81 – EF BD 9E): folded to the ASCII byte directly.
        if x == 0xEF && i + 3 <= b.len() && (b[i + 1] == 0xBC || b[i + 1] == 0xBD) {
            let cp = 0xFF00 + ((u32::from(b[i + 1]) & 0x3F) << 6 | (u32::from(b[i + 2]) & 0x3F));
            if (0xFF01..=0xFF5E).contains(&cp) {
                let ascii = (cp - 0xFEE0) as u8;
                out.push_str(&s[run_start..i]);
                i += 3;
                run_start = i;
                if ascii == b' ' {
                    pending_space = true;
                    continue;
                }
                if pending_space {
                    if has_prev && !prev_tab && !prev_cjk {
                        out.push(' ');
                    }
                    pending_space = false;
                }
                out.push(char::from(ascii));
                prev_cjk = false;
                prev_tab = false;
                has_prev = true;
                continue;
            }
        }
        let Some(c) = s.get(i..).and_then(|t| t.chars().next()) else {
            break;
        };
        let len = c.len_utf8();
        let folded = fold(c);
        let unchanged = folded == Some(c) && c != ' ';
        if unchanged && !pending_space {
            prev_cjk = is_cjk(c);
            prev_tab = c == '\t';
            has_prev = true;
            i += len;
            continue;
        }
        out.push_str(&s[run_start..i]);
        run_start = i + len;
        i += len;
        let Some(c) = folded else { continue };
        if c == ' ' {
            pending_space = true;
            continue;
        }
        if pending_space {
            if has_prev && !prev_tab && c != '\t' && !prev_cjk && !is_cjk(c) {
                out.push(' ');
            }
            pending_space = false;
        }
        if unchanged {
            // Start a new run at this character instead of pushing it.
            run_start = i - len;
        } else {
            out.push(c);
        }
        prev_cjk = is_cjk(c);
        prev_tab = c == '\t';
        has_prev = true;
    }
    out.push_str(&s[run_start..]);
}

/// Strips a leading list marker: `(一)`, `一、`, `1.`, `1、`, `(1)`, `1)`, `第一,`… and markdown
/// heading/bold marks. Input is a normalised cell or line.
pub fn strip_marker(s: &str) -> &str {
    let s = s.trim_start_matches(['#', '*', ' ', '>']).trim_start();
    let mut rest = s;
    // (一) / (1)
    if let Some(r) = rest.strip_prefix('(') {
        if let Some(end) = r.find(')') {
            let inner = &r[..end];
            if !inner.is_empty() && inner.chars().all(|c| is_numeral(c) || c.is_ascii_digit()) {
                rest = r[end + 1..].trim_start();
                return rest.trim_start_matches(['、', '.', ' ']);
            }
        }
        return s;
    }
    // 一、 / 1. / 1、 / 1) / 十二、
    let digits_end = rest
        .char_indices()
        .find(|&(_, c)| !(is_numeral(c) || c.is_ascii_digit()))
        .map_or(rest.len(), |(i, _)| i);
    if digits_end > 0 && digits_end <= 9 {
        let after = &rest[digits_end..];
        if let Some(r) = after
            .strip_prefix('、')
            .or_else(|| after.strip_prefix('.'))
            .or_else(|| after.strip_prefix(')'))
            .or_else(|| after.strip_prefix(','))
        {
            // "1.5" is a number, not a marker.
            if !r.starts_with(|c: char| c.is_ascii_digit()) {
                rest = r.trim_start();
            }
        }
    }
    rest
}

/// Chinese numerals used in headings and list markers.
pub fn is_numeral(c: char) -> bool {
    matches!(
        c,
        '一' | '二' | '三' | '四' | '五' | '六' | '七' | '八' | '九' | '十'
    )
}

/// The comparison key of a label: marker stripped, then only ideographs, letters and digits kept
/// (so spacing, brackets, quote styles and commas never matter).
pub fn key(s: &str) -> String {
    let body = strip_marker(s);
    let mut k = String::with_capacity(body.len());
    // Copy runs of kept characters as slices rather than pushing character by character.
    let mut run = 0usize;
    for (i, c) in body.char_indices() {
        if !is_word(c) {
            k.push_str(&body[run..i]);
            run = i + c.len_utf8();
        }
    }
    k.push_str(&body[run..]);
    k
}

/// How a written label relates to an official one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// Same text up to spacing, brackets, quotes and markers.
    Exact,
    /// Recognisably the same label, but written differently (a typo, a missing parenthetical).
    Variant,
}

/// Compares label keys. Short labels must match exactly; longer ones tolerate a few edits or a
/// truncated tail such as a dropped parenthetical.
pub fn match_key(written: &str, official: &str) -> Option<Match> {
    if written == official {
        return Some(Match::Exact);
    }
    // Labels are ideographs (3 bytes each): a byte-length gap beyond a few characters rules a
    // match out before counting characters.
    let (wb, ob) = (written.len(), official.len());
    if wb < 9
        || (wb > ob && !written.starts_with(official) && wb - ob > 3 * (ob / 15 + 1) + 2)
        || (ob > wb && !official.starts_with(written) && ob - wb > 3 * (ob / 15 + 1) + 2)
    {
        return None;
    }
    let wl = written.chars().count();
    let ol = official.chars().count();
    if ol < 4 || wl < 3 {
        return None;
    }
    // A label cut short or continued with a parenthetical ("部分公开" for the full R04 label).
    if (official.starts_with(written) && wl * 2 >= ol && wl >= 4)
        || (written.starts_with(official) && ol * 3 >= wl * 2)
    {
        return Some(Match::Variant);
    }
    let budget = (ol / 5).max(1);
    if wl.abs_diff(ol) > budget {
        return None;
    }
    if edit_distance_within(written, official, budget) {
        Some(Match::Variant)
    } else {
        None
    }
}

/// Levenshtein distance over chars, bounded: true when distance ≤ `max`. Labels are short, so the
/// rows live on the stack.
pub fn edit_distance_within(a: &str, b: &str, max: usize) -> bool {
    const CAP: usize = 96;
    let mut ab = ['\0'; CAP];
    let mut bb = ['\0'; CAP];
    let (mut la, mut lb) = (0usize, 0usize);
    for c in a.chars() {
        if la == CAP {
            return a == b;
        }
        ab[la] = c;
        la += 1;
    }
    for c in b.chars() {
        if lb == CAP {
            return a == b;
        }
        bb[lb] = c;
        lb += 1;
    }
    if la.abs_diff(lb) > max {
        return false;
    }
    let mut prev = [0usize; CAP + 1];
    let mut cur = [0usize; CAP + 1];
    for (j, p) in prev.iter_mut().enumerate().take(lb + 1) {
        *p = j;
    }
    for i in 1..=la {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=lb {
            let cost = usize::from(ab[i - 1] != bb[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            row_min = row_min.min(cur[j]);
        }
        if row_min > max {
            return false;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[lb] <= max
}

/// What a table cell holds.
#[derive(Clone, Debug, PartialEq)]
pub enum CellText {
    /// Nothing, or a placeholder dash/slash.
    Blank,
    /// A number (possibly negative or fractional: rules judge that), with the text as written.
    Number(f64),
    /// Text where a number belongs.
    Text,
}

/// Reads a normalised cell: blanks and placeholders, numbers with thousands separators, inner spaces
/// and units (`1 033`, `3,119`, `287件`, `96171.6万元`).
pub fn parse_cell(s: &str) -> CellText {
    let t = s.trim();
    // Fast path: plain digits, by far the most common cell.
    if !t.is_empty() && t.len() < 16 && t.bytes().all(|b| b.is_ascii_digit()) {
        let v = t.bytes().fold(0u64, |a, b| a * 10 + u64::from(b - b'0'));
        return CellText::Number(v as f64);
    }
    if t.is_empty() || matches!(t, "-" | "—" | "——" | "/" | "、" | "－" | "–" | "/ ") {
        return CellText::Blank;
    }
    let mut body = t;
    for unit in ["万元", "元", "件", "个", "条", "项", "次", "起"] {
        if let Some(b) = body.strip_suffix(unit) {
            body = b.trim_end();
            break;
        }
    }
    let mut num = String::with_capacity(body.len());
    let mut seen_digit = false;
    for (i, c) in body.chars().enumerate() {
        match c {
            '0'..='9' => {
                seen_digit = true;
                num.push(c);
            }
            '.' if seen_digit => num.push('.'),
            '-' | '+' if i == 0 => num.push(c),
            ',' | ' ' if seen_digit => {}
            _ => return CellText::Text,
        }
    }
    if !seen_digit || num.ends_with('.') || num.matches('.').count() > 1 {
        return CellText::Text;
    }
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() => CellText::Number(v),
        _ => CellText::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_width_and_spacing() {
        assert_eq!(
            normalize_line("（一）主动公开情况。2024 年，共 90 余条"),
            "(一)主动公开情况。2024年,共90余条"
        );
        assert_eq!(normalize_line("结果 维持\t其他 结果"), "结果维持\t其他结果");
        assert_eq!(normalize_line("0\u{a0} "), "0");
        assert_eq!(
            normalize_line("  stray English and words 在此"),
            "stray English and words在此"
        );
        assert_eq!(normalize_line("\u{feff}标题"), "标题");
    }

    #[test]
    fn strips_markers() {
        assert_eq!(strip_marker("(七)总计"), "总计");
        assert_eq!(strip_marker("3.其他"), "其他");
        assert_eq!(strip_marker("一、本年新收"), "本年新收");
        assert_eq!(strip_marker("#### 五、存在"), "存在");
        assert_eq!(strip_marker("1、属于"), "属于");
        assert_eq!(strip_marker("1.5"), "1.5");
        assert_eq!(strip_marker("三安全一稳定"), "三安全一稳定");
    }

    #[test]
    fn keys_ignore_punctuation_and_quotes() {
        assert_eq!(key("3. 危及“三安全一稳定”"), "危及三安全一稳定");
        assert_eq!(key("3.危及\"三安全一稳定\""), "危及三安全一稳定");
        assert_eq!(
            key("(二)部分公开(区分处理的,只计这一情形,不计其他情形)"),
            "部分公开区分处理的只计这一情形不计其他情形"
        );
    }

    #[test]
    fn matches_labels_fuzzily() {
        assert_eq!(
            match_key("本年度止件数", "本年废止件数"),
            Some(Match::Variant)
        );
        assert_eq!(match_key("其他", "总计"), None);
        assert_eq!(
            match_key("部分公开", "部分公开区分处理的只计这一情形不计其他情形"),
            None
        );
        assert_eq!(match_key("予以公开", "不予公开"), None);
        assert_eq!(
            match_key("结转下年度继续办理", "结转下年度继续办理"),
            Some(Match::Exact)
        );
    }

    #[test]
    fn parses_cells() {
        assert_eq!(parse_cell("1 033"), CellText::Number(1033.0));
        assert_eq!(parse_cell("3,119"), CellText::Number(3119.0));
        assert_eq!(parse_cell("96171.6万元"), CellText::Number(96171.6));
        assert_eq!(parse_cell("-2"), CellText::Number(-2.0));
        assert_eq!(parse_cell("2.5"), CellText::Number(2.5));
        assert_eq!(parse_cell("—"), CellText::Blank);
        assert_eq!(parse_cell(""), CellText::Blank);
        assert_eq!(parse_cell("若干"), CellText::Text);
        assert_eq!(parse_cell("1."), CellText::Text);
        assert_eq!(parse_cell("-4-"), CellText::Text);
    }
}
