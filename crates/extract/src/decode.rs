//! Bytes → text. The encoding is read from the content (BOM, UTF-8 validity, then a statistical guess
//! among the Chinese legacy encodings), never from a file name.

use encoding_rs::{Encoding, GB18030, UTF_8, UTF_16BE, UTF_16LE};
use std::borrow::Cow;
use thiserror::Error;

/// Why a file could not be turned into text. The messages are shown to officials.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("文件为空")]
    Empty,
    #[error("文件过大（{size} 字节，上限 {limit} 字节）")]
    TooLarge { size: usize, limit: usize },
    #[error("文件是 {0}，不是文本；本版本只读取文本格式的报告")]
    Container(&'static str),
    #[error("文件不是文本（二进制内容或无法识别的编码）")]
    Binary,
    #[error("文件中没有可识别的中文内容（编码无法识别或不是年度报告）")]
    NoChinese,
}

/// Decoded text and the name of the encoding it was read with.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// Borrowed from the input when it is valid UTF-8 already (the common case): no copy.
    pub text: Cow<'a, str>,
    pub encoding: &'static str,
}

/// Decodes a report. `limit` bounds the input size in bytes.
pub fn decode(bytes: &[u8], limit: usize) -> Result<Decoded<'_>, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DecodeError::Empty);
    }
    if let Some(kind) = container_kind(bytes) {
        return Err(DecodeError::Container(kind));
    }
    let (text, encoding): (Cow<'_, str>, _) = if let Some((enc, bom_len)) = Encoding::for_bom(bytes)
    {
        let (cow, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        (cow, enc.name())
    } else if let Some(s) = simdutf8::basic::from_utf8(bytes)
        .ok()
        .filter(|s| !s.as_bytes().contains(&0))
    {
        (Cow::Borrowed(s), UTF_8.name())
    } else if let Some((text, enc)) = utf16_without_bom(bytes) {
        (Cow::Owned(text), enc.name())
    } else if let Ok(s) = std::str::from_utf8(bytes) {
        (Cow::Borrowed(s), UTF_8.name())
    } else {
        let (text, enc) = decode_legacy(bytes);
        (Cow::Owned(text), enc)
    };
    judge(text, encoding)
}

/// Recognises the containers of other document formats by their magic numbers, so that they get a
/// clear reason instead of a page of mojibake.
fn container_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF") {
        Some("PDF")
    } else if bytes.starts_with(b"PK\x03\x04") {
        Some("ZIP/DOCX 压缩包")
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Some("旧版 Word/WPS（.doc/.wps）")
    } else if bytes.starts_with(b"\x89PNG") || bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("图片")
    } else {
        None
    }
}

/// UTF-16 without BOM: decoded either way, real text is almost only CJK, ASCII and common
/// punctuation, while a misread byte stream scatters over the whole plane.
fn utf16_without_bom(bytes: &[u8]) -> Option<(String, &'static Encoding)> {
    if bytes.len() < 4 || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let plausible = |c: char| {
        c.is_ascii_graphic()
            || c.is_ascii_whitespace()
            || ('\u{4E00}'..='\u{9FFF}').contains(&c)
            || ('\u{3000}'..='\u{303F}').contains(&c)
            || ('\u{FF00}'..='\u{FFEF}').contains(&c)
            || ('\u{2000}'..='\u{206F}').contains(&c)
    };
    [UTF_16LE, UTF_16BE].into_iter().find_map(|enc| {
        let (text, had_errors) = enc.decode_without_bom_handling(bytes);
        if had_errors {
            return None;
        }
        let total = text.chars().count();
        let good = text.chars().filter(|&c| plausible(c)).count();
        (total > 0 && good * 100 >= total * 97).then(|| (text.into_owned(), enc))
    })
}

/// Not valid UTF-8: either UTF-8 with a few broken bytes (decoded lossily), or a legacy Chinese
/// encoding. GB18030 (the superset of GBK/GB2312, what Chinese Windows writes) is tried directly;
/// only what it cannot decode goes to chardetng's statistical guess, which is far slower.
fn decode_legacy(bytes: &[u8]) -> (String, &'static str) {
    // A real UTF-8 report with a few damaged bytes: stop counting as soon as it is clearly not.
    let limit = 2 + bytes.len() / 1000;
    let mut errors = 0usize;
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(_) => break,
            Err(e) => {
                errors += 1;
                if errors > limit {
                    break;
                }
                let skip =
                    e.valid_up_to() + e.error_len().unwrap_or(rest.len() - e.valid_up_to()).max(1);
                rest = rest.get(skip..).unwrap_or_default();
            }
        }
    }
    if errors <= limit {
        let (utf8, _) = UTF_8.decode_without_bom_handling(bytes);
        return (utf8.into_owned(), "UTF-8 (damaged)");
    }
    let (gb, had_errors) = GB18030.decode_without_bom_handling(bytes);
    if !had_errors && has_report_words(&gb) {
        return (gb.into_owned(), GB18030.name());
    }
    // Heavily damaged UTF-8 still beats a legacy misreading when its words are there.
    let (utf8, _) = UTF_8.decode_without_bom_handling(bytes);
    if has_report_words(&utf8) {
        return (utf8.into_owned(), "UTF-8 (damaged)");
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    det.feed(bytes, true);
    let guess = det.guess(None, chardetng::Utf8Detection::Allow);
    let enc = if guess == encoding_rs::GBK || guess == UTF_8 {
        GB18030
    } else {
        guess
    };
    let (cow, _) = enc.decode_without_bom_handling(bytes);
    (cow.into_owned(), enc.name())
}

/// Words every annual report uses: a decoding that lacks all of them read the bytes wrongly.
fn has_report_words(text: &str) -> bool {
    ["政府", "公开", "信息", "报告", "情况"]
        .iter()
        .any(|w| text.contains(w))
}

const CHAR_START: u8 = 1;
const CJK_LEAD: u8 = 2;
const CONTROL: u8 = 4;

/// Per byte value: starts a character, leads an ideograph U+4000–U+9FFF, is a control character.
const BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let x = i as u8;
        let mut c = 0;
        if x & 0xC0 != 0x80 {
            c |= CHAR_START;
        }
        if x >= 0xE4 && x <= 0xE9 {
            c |= CJK_LEAD;
        }
        if (x < 0x20 && x != b'\n' && x != b'\r' && x != b'\t' && x != 0x0C) || x == 0x7F {
            c |= CONTROL;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Rejects what decoded to garbage: many control or replacement characters, or no Chinese at all.
/// Counts on UTF-8 bytes of a sample (the first 4 KiB), in simple passes the compiler vectorises:
/// characters are the non-continuation bytes, CJK ideographs start with lead bytes E4–E9, U+FFFD is
/// EF BF BD, C1 controls are C2 80–9F.
fn judge<'a>(text: Cow<'a, str>, encoding: &'static str) -> Result<Decoded<'a>, DecodeError> {
    if text.trim().is_empty() {
        return Err(DecodeError::Empty);
    }
    let b = text.as_bytes();
    let sample = &b[..b.len().min(4096)];
    let (mut total, mut cjk, mut controls) = (0u32, 0u32, 0u32);
    for &x in sample {
        let class = BYTE_CLASS[usize::from(x)];
        total += u32::from(class & CHAR_START);
        cjk += u32::from((class & CJK_LEAD) >> 1);
        controls += u32::from((class & CONTROL) >> 2);
    }
    let (total, cjk, controls) = (total as usize, cjk as usize, controls as usize);
    // Replacement characters and C1 controls come from decoding damaged or mis-guessed input; a
    // file that was valid UTF-8 as it stands is not checked for them.
    let (c1, replacement) = if matches!(text, Cow::Borrowed(_)) {
        (0, 0)
    } else {
        let t: &str = &text;
        let c1 = t
            .chars()
            .filter(|c| ('\u{80}'..='\u{9F}').contains(c))
            .count();
        (c1, t.matches('\u{FFFD}').count())
    };
    let bad = controls + c1 + replacement;
    if bad * 20 > total {
        return Err(DecodeError::Binary);
    }
    if cjk < 4 {
        return Err(DecodeError::NoChinese);
    }
    // Mojibake from a wrong legacy guess is dominated by rare ideographs; the common report
    // vocabulary must be present in a real report.
    if !encoding.starts_with("UTF") && !has_report_words(&text) {
        return Err(DecodeError::NoChinese);
    }
    Ok(Decoded { text, encoding })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "郑县东城街道办事处2024年政府信息公开工作年度报告\n一、总体情况\n";

    #[test]
    fn reads_every_supported_encoding() {
        let limit = 1 << 20;
        let utf8 = decode(SAMPLE.as_bytes(), limit).unwrap();
        assert_eq!(utf8.text, SAMPLE);
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(SAMPLE.as_bytes());
        assert_eq!(decode(&bom, limit).unwrap().text, SAMPLE);
        let (gbk, _, _) = GB18030.encode(SAMPLE);
        let d = decode(&gbk, limit).unwrap();
        assert_eq!(d.text, SAMPLE);
        assert_eq!(d.encoding, "gb18030");
        let mut u16le: Vec<u8> = vec![0xFF, 0xFE];
        for u in SAMPLE.encode_utf16() {
            u16le.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode(&u16le, limit).unwrap().text, SAMPLE);
        let no_bom: Vec<u8> = u16le[2..].to_vec();
        assert_eq!(decode(&no_bom, limit).unwrap().text, SAMPLE);
        let mut u16be: Vec<u8> = vec![];
        for u in SAMPLE.encode_utf16() {
            u16be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(decode(&u16be, limit).unwrap().text, SAMPLE);
    }

    #[test]
    fn damaged_utf8_is_read_lossily() {
        let mut b = SAMPLE.repeat(5).into_bytes();
        b.insert(10, 0xFF);
        let d = decode(&b, 1 << 20).unwrap();
        assert!(d.text.contains("总体情况"));
    }

    #[test]
    fn rejects_what_is_not_a_report_text() {
        assert_eq!(decode(b"", 100).unwrap_err(), DecodeError::Empty);
        assert_eq!(decode(b"  \n\t", 100).unwrap_err(), DecodeError::Empty);
        assert!(matches!(
            decode(b"%PDF-1.7 ...", 100),
            Err(DecodeError::Container(_))
        ));
        assert!(matches!(decode(&[0u8; 64], 100), Err(DecodeError::Binary)));
        assert!(matches!(
            decode(b"hello world, plain English", 100),
            Err(DecodeError::NoChinese)
        ));
        assert!(matches!(
            decode(&[1u8; 300], 100),
            Err(DecodeError::TooLarge { .. })
        ));
    }
}
